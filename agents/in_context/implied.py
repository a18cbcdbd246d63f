"""The implied weight vector of a linear self-attention model: w = d y_hat / d x_q, exactly.

The keys and values come from the context tokens only, so every application maps the
query token z_q = [x_q, s] linearly (z_q <- z_q + lambda A z_q with A built from the context
alone, :mod:`agents.in_context.attention`), starting from s = 0. The prediction is therefore
linear in x_q with no offset,

    y_hat(x_q) = w . x_q,      w_j = y_hat(e_j)

so the sensitivity d y_hat / d x_q is read exactly by running the d basis queries e_1..e_d
beside the real one (queries never attend to each other). After k damped applications the
same read-out gives the mesa-optimizer's state w_k (:mod:`agents.in_context.inner_run`).
"""

from __future__ import annotations

from typing import Optional

import torch

from agents.in_context.tasks import Tasks

__all__ = ["implied_weights"]


def implied_weights(model, params: torch.Tensor, tasks: Tasks, applications: Optional[int] = None,
                    damping: float = 1.0, y_only: bool = False, every: bool = False) -> torch.Tensor:
    """w = d y_hat / d x_q per copy and task, [K, B, d] (with ``every``: [K, B, d, applications + 1]).

    w_j = -(y slot of the basis query e_j after the applications) (module docstring).

    Parameters
    ----------
    model : LinearSelfAttention
    params : torch.Tensor
        [K, P].
    tasks : Tasks
    applications, damping, y_only, every
        As :meth:`agents.in_context.attention.LinearSelfAttention.run_queries`.

    Returns
    -------
    torch.Tensor

    Examples
    --------
    The constructed layer's implied weights are the GD step's weight vector:

    >>> from agents.in_context.attention import LinearSelfAttention
    >>> from agents.in_context.reference import constructed_parameters, gd_weights
    >>> from agents.in_context.tasks import TaskDistribution, sample_tasks
    >>> from agents.torch_random import torch_generator
    >>> t = sample_tasks(TaskDistribution(d=3, N=5), torch_generator(0), 6)
    >>> m = LinearSelfAttention(d=3)
    >>> w = implied_weights(m, torch.from_numpy(constructed_parameters(m, 0.8)), t)
    >>> bool(torch.allclose(w[0], gd_weights(t, 0.8, 1)[..., 1], atol=1e-12))
    True
    """
    d = model.d
    B = tasks.B
    basis = torch.eye(d, dtype=tasks.X.dtype).expand(1, B, d, d)
    return -model.run_queries(params, tasks, basis, applications, damping, y_only, every)
