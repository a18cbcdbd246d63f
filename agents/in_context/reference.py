"""The reference optimizer: explicit gradient descent on the in-context loss, and its weights.

The in-context loss of a task and its gradient (definitions.md, "A mesa-optimizer found by
gradient descent"):

    L_ctx(w') = (1/2N) sum_i (w' . x_i - y_i)^2,    grad = (1/N) X^T (X w' - y)

Gradient descent from w_0 = 0 with step eta: w_{k+1} = w_k - eta * grad L_ctx(w_k); one step
gives w_1 = (eta/N) X^T y and the prediction y_hat = w_1 . x_q. The step eta* is found by a
line search on the training distribution: the query loss of one step,
E[(1/2)(eta s - y_q)^2] with s = (1/N) sum_i y_i x_i . x_q, is a quadratic in eta, so the
search is exact: eta* = E[s y_q] / E[s^2] over the sampled tasks.

The constructed layer (von Oswald et al. 2023): W_K = W_Q = [[I, 0], [0, 0]],
W_V = [[0, 0], [w_0^T, -1]] (w_0 = 0), P = eta I (the 1/N is inside the attention). One
application puts -(w_1 . x) in every token's y slot minus its label: it is the step above,
and k damped applications (damping lambda) are k steps at eta * lambda.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from hierarchy.errors import ParameterError

from agents.in_context.tasks import TaskDistribution, Tasks, sample_tasks

__all__ = ["in_context_loss", "query_loss_at", "gd_weights", "one_step_statistic", "eta_star", "constructed_parameters"]


def in_context_loss(w: torch.Tensor, tasks: Tasks) -> torch.Tensor:
    """L_ctx(w) = (1/2N) sum_i (w . x_i - y_i)^2 per task; ``w`` [..., B, d] -> [..., B].

    Parameters
    ----------
    w : torch.Tensor
    tasks : Tasks

    Returns
    -------
    torch.Tensor

    Examples
    --------
    >>> from agents.in_context.tasks import TaskDistribution, sample_tasks
    >>> from agents.torch_random import torch_generator
    >>> t = sample_tasks(TaskDistribution(d=2, N=4), torch_generator(0), 3)
    >>> in_context_loss(t.w, t).abs().max().item() <= 1e-24     # the true w fits noiseless labels
    True
    """
    r = torch.einsum("...bnd,...bd->...bn", tasks.X, w) - tasks.y
    return 0.5 * r.square().mean(-1)


def query_loss_at(w: torch.Tensor, tasks: Tasks) -> torch.Tensor:
    """The designer's objective on a weight vector: (1/2)(w . x_q - y_q)^2 per task, [..., B].

    Parameters
    ----------
    w : torch.Tensor
        [..., B, d].
    tasks : Tasks

    Returns
    -------
    torch.Tensor

    Examples
    --------
    >>> from agents.in_context.tasks import TaskDistribution, sample_tasks
    >>> from agents.torch_random import torch_generator
    >>> t = sample_tasks(TaskDistribution(d=2, N=4), torch_generator(0), 3)
    >>> bool(torch.equal(query_loss_at(torch.zeros(3, 2, dtype=torch.float64), t), 0.5 * t.yq ** 2))
    True
    """
    return 0.5 * (torch.einsum("...bd,...bd->...b", w, tasks.xq) - tasks.yq).square()


def gd_weights(tasks: Tasks, eta: float, steps: int) -> torch.Tensor:
    """w_0 = 0, ..., w_steps of gradient descent on each task's L_ctx, [..., B, d, steps + 1].

    w_{k+1} = w_k - eta * (1/N) X^T (X w_k - y).

    Parameters
    ----------
    tasks : Tasks
    eta : float
        Step size.
    steps : int
        Number of steps (>= 0).

    Returns
    -------
    torch.Tensor

    Raises
    ------
    ParameterError
        When steps is negative or eta not finite.

    Examples
    --------
    >>> from agents.in_context.tasks import TaskDistribution, sample_tasks
    >>> from agents.torch_random import torch_generator
    >>> t = sample_tasks(TaskDistribution(d=2, N=4), torch_generator(0), 3)
    >>> w = gd_weights(t, 0.5, 1)
    >>> bool(torch.allclose(w[..., 1], 0.5 / 4 * torch.einsum("bnd,bn->bd", t.X, t.y)))
    True
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ParameterError(f"steps={steps!r}; give a number of gradient steps >= 0", parameter="steps")
    if not math.isfinite(eta):
        raise ParameterError(f"eta={eta!r}; give a finite step size", parameter="eta")
    N = tasks.X.shape[-2]
    w = torch.zeros(tasks.xq.shape, dtype=tasks.X.dtype)
    out = [w]
    for _ in range(int(steps)):
        r = torch.einsum("...bnd,...bd->...bn", tasks.X, w) - tasks.y
        w = w - (eta / N) * torch.einsum("...bnd,...bn->...bd", tasks.X, r)
        out.append(w)
    return torch.stack(out, dim=-1)


def one_step_statistic(tasks: Tasks) -> torch.Tensor:
    """s = (1/N) sum_i y_i x_i . x_q per task: one GD step's prediction is eta * s.

    Parameters
    ----------
    tasks : Tasks

    Returns
    -------
    torch.Tensor

    Examples
    --------
    >>> from agents.in_context.tasks import TaskDistribution, sample_tasks
    >>> from agents.torch_random import torch_generator
    >>> t = sample_tasks(TaskDistribution(d=2, N=4), torch_generator(0), 3)
    >>> bool(torch.allclose(0.7 * one_step_statistic(t), (gd_weights(t, 0.7, 1)[..., 1] * t.xq).sum(-1)))
    True
    """
    return torch.einsum("...bnd,...bn,...bd->...b", tasks.X, tasks.y, tasks.xq) / tasks.X.shape[-2]


def eta_star(dist: TaskDistribution, gen: torch.Generator, n: int = 20000, tasks: Tasks = None) -> float:
    """The line-searched step of one GD step on ``dist``: eta* = sum s y_q / sum s^2 over ``n`` tasks.

    The exact minimizer of the sampled one-step query loss (1/2n) sum (eta s - y_q)^2,
    a quadratic in eta (module docstring). For x ~ U(-1, 1), d = N = 10 it is about 1.5
    (findings: 1.50 measured, 1.515 in theory).

    Parameters
    ----------
    dist : TaskDistribution
    gen : torch.Generator
    n : int
        Tasks sampled (ignored when ``tasks`` is given).
    tasks : Tasks, optional
        Use these tasks instead of sampling.

    Returns
    -------
    float

    Raises
    ------
    ParameterError
        When every sampled s is 0 (no step is defined).

    Examples
    --------
    >>> from agents.torch_random import torch_generator
    >>> round(eta_star(TaskDistribution(), torch_generator(0), 20000), 1)
    1.5
    """
    t = sample_tasks(dist, gen, n) if tasks is None else tasks
    s = one_step_statistic(t)
    den = float((s * s).sum())
    if not den > 0:
        raise ParameterError("every task's one-step statistic is 0; sample more tasks or a non-degenerate distribution",
                             parameter="tasks")
    return float((s * t.yq).sum()) / den


def constructed_parameters(model, eta: float) -> np.ndarray:
    """The paper's constructed weights, [1, P], every weight set alike (module docstring).

    Parameters
    ----------
    model : LinearSelfAttention
    eta : float
        The step; P = eta I.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> from agents.in_context.attention import LinearSelfAttention
    >>> p = constructed_parameters(LinearSelfAttention(d=1), 2.0)
    >>> p.reshape(4, 2, 2)[2].tolist(), p.reshape(4, 2, 2)[3].tolist()   # W_V, P
    ([[0.0, 0.0], [0.0, -1.0]], [[2.0, 0.0], [0.0, 2.0]])
    """
    d, D = model.d, model.D
    key = np.zeros((D, D))
    key[:d, :d] = np.eye(d)
    value = np.zeros((D, D))
    value[d, d] = -1.0
    one = np.concatenate([key.ravel(), key.ravel(), value.ravel(), (eta * np.eye(D)).ravel()])
    return np.tile(one, model.sets)[None, :]
