"""The fallback engine: the K copies one after another, with plain autograd.

For a module ``torch.func.vmap`` cannot batch (a BatchNorm in training mode writing its
running statistics, a forward that calls ``.item()`` or branches on a value), copy k's

    L_k = mean_n l(f_{theta_k}(x_n), y_n),    grad_k = dL_k / dtheta_k

is computed by ``torch.autograd.grad`` on its own row, k = 0 .. K-1: the same numbers as
:class:`~agents.torch_training.batched.BatchedEngine` to float rounding, K times the
Python overhead. Buffers are the template's own (a BatchNorm's running statistics are
updated in place by each copy in turn; in training mode they do not change the outputs).
"""

from __future__ import annotations

from typing import Callable

import torch

from agents.torch_training.batched import forward_function
from agents.torch_training.flat import Layout

__all__ = ["LoopEngine"]


class LoopEngine:
    """Each copy's L_k and gradient by autograd, one copy at a time (module docstring).

    Parameters
    ----------
    module : torch.nn.Module
        The template module (on the run's device and dtype).
    layout : Layout
    loss : callable
        Per-example loss ``(outputs [n, ...], targets [n]) -> [n]``.
    x, y : torch.Tensor
        Training inputs and targets: [n, ...] shared, or [K, n, ...] per copy.
    per_copy : bool
        Whether ``x`` and ``y`` carry a leading copy axis.

    Examples
    --------
    >>> m = torch.nn.Linear(1, 1, bias=False).double()
    >>> mse = lambda z, t: (z[:, 0] - t) ** 2
    >>> x, y = torch.tensor([[1.0], [2.0]], dtype=torch.float64), torch.tensor([0.0, 0.0], dtype=torch.float64)
    >>> L, g, out = LoopEngine(m, Layout.of(m), mse, x, y).loss_and_grad(torch.tensor([[1.0], [2.0]], dtype=torch.float64))
    >>> L.tolist(), g.tolist()
    ([2.5, 10.0], [[5.0], [10.0]])
    """

    name = "loop"

    def __init__(self, module, layout: Layout, loss: Callable, x: torch.Tensor, y: torch.Tensor, per_copy: bool = False):
        self.forward = forward_function(module, layout, dict(module.named_buffers()))
        self.loss, self.x, self.y, self.per_copy = loss, x, y, per_copy

    def loss_and_grad(self, theta: torch.Tensor) -> tuple:
        """(L [K], grad [K, P], training outputs [K, n, ...]) at ``theta`` [K, P], copy by copy.

        Parameters
        ----------
        theta : torch.Tensor

        Returns
        -------
        tuple

        Examples
        --------
        >>> m = torch.nn.Linear(1, 1).double()
        >>> e = LoopEngine(m, Layout.of(m), lambda z, t: z[:, 0] * 0 + 1, torch.ones(3, 1, dtype=torch.float64), torch.ones(3))
        >>> e.loss_and_grad(torch.zeros(2, 2, dtype=torch.float64))[1].tolist()
        [[0.0, 0.0], [0.0, 0.0]]
        """
        losses, grads, outs = [], [], []
        for k in range(theta.shape[0]):
            x = self.x[k] if self.per_copy else self.x
            y = self.y[k] if self.per_copy else self.y
            row = theta[k].detach().clone().requires_grad_(True)
            with torch.enable_grad():
                out = self.forward(row, x)
                L = self.loss(out, y).mean()
                (g,) = torch.autograd.grad(L, row)
            losses.append(L.detach())
            grads.append(g)
            outs.append(out.detach())
        return torch.stack(losses), torch.stack(grads), torch.stack(outs)

    def outputs(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Every copy's outputs on shared inputs ``x``: [K, m, ...], copy by copy (no gradient).

        Parameters
        ----------
        theta : torch.Tensor
            [K, P].
        x : torch.Tensor

        Returns
        -------
        torch.Tensor

        Examples
        --------
        >>> m = torch.nn.Linear(1, 1).double()
        >>> e = LoopEngine(m, Layout.of(m), None, None, None)
        >>> e.outputs(torch.tensor([[2.0, 0.0]], dtype=torch.float64), torch.ones(1, 1, dtype=torch.float64)).tolist()
        [[[2.0]]]
        """
        with torch.no_grad():
            return torch.stack([self.forward(theta[k], x) for k in range(theta.shape[0])])
