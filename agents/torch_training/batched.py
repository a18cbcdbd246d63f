"""The batched engine: every copy's loss and gradient at once with ``torch.func``.

For K copies theta_k (rows of one [K, P] tensor, cut into the module's parameters by
:class:`~agents.torch_training.flat.Layout` views), the module runs as a pure function
``functional_call(module, views(theta_k), x)``, and

    (grad_k, L_k) = grad_and_value(theta -> mean_n l(f_theta(x_n), y_n))(theta_k)

is vectorized over k with ``vmap`` (one batched computation, no Python loop over copies;
per-copy datasets ride along through ``in_dims``). Measured against a hand-written
``baddbmm`` engine on the 64 -> 32 -> 2 MLP (253 examples, float64, 1 thread): the
hand-written one was faster only at K = 1 (0.49 against 1.0 ms per step) and slower from
K = 64 on (75 against 51 ms at K = 256), so this generic engine is the only batched one
(``benchmarks/torch_leaf.py`` measures it against the per-copy loop).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch.func import functional_call, grad_and_value, vmap

from agents.torch_training.flat import Layout

__all__ = ["forward_function", "BatchedEngine"]


def forward_function(module: torch.nn.Module, layout: Layout, buffers: dict) -> Callable:
    """``(row [P], x) -> module's output`` with the parameters cut from ``row`` (views) and ``buffers`` as they are.

    Parameters
    ----------
    module : torch.nn.Module
        The template: its structure (and buffers) are used, not its parameters.
    layout : Layout
    buffers : dict
        name -> tensor, the module's buffers.

    Returns
    -------
    callable

    Examples
    --------
    >>> m = torch.nn.Linear(1, 1)
    >>> f = forward_function(m, Layout.of(m), {})
    >>> f(torch.tensor([2.0, 1.0]), torch.tensor([[3.0]])).item()  # 2 * 3 + 1
    7.0
    """
    def forward(row, x):
        return functional_call(module, ({**layout.views(row), **buffers}), (x,))

    return forward


class BatchedEngine:
    """All K copies' L_k and gradient in one ``vmap(grad_and_value(...))`` (module docstring).

    Parameters
    ----------
    module : torch.nn.Module
        The template module (on the run's device and dtype).
    layout : Layout
    loss : callable
        Per-example loss ``(outputs [n, ...], targets [n]) -> [n]``.
    x, y : torch.Tensor
        Training inputs and targets: [n, ...] shared by every copy, or [K, n, ...] per copy.
    per_copy : bool
        Whether ``x`` and ``y`` carry a leading copy axis.

    Examples
    --------
    >>> m = torch.nn.Linear(1, 1, bias=False).double()
    >>> mse = lambda z, t: (z[:, 0] - t) ** 2
    >>> x, y = torch.tensor([[1.0], [2.0]], dtype=torch.float64), torch.tensor([0.0, 0.0], dtype=torch.float64)
    >>> L, g, out = BatchedEngine(m, Layout.of(m), mse, x, y).loss_and_grad(torch.tensor([[1.0], [2.0]], dtype=torch.float64))
    >>> L.tolist(), g.tolist()  # L = w^2 (1 + 4) / 2, dL/dw = 5 w
    ([2.5, 10.0], [[5.0], [10.0]])
    """

    name = "vmap"

    def __init__(self, module, layout: Layout, loss: Callable, x: torch.Tensor, y: torch.Tensor, per_copy: bool = False):
        self.forward = forward_function(module, layout, dict(module.named_buffers()))
        self.x, self.y = x, y
        forward = self.forward

        def one(row, xb, yb):
            out = forward(row, xb)
            return loss(out, yb).mean(), out

        d = 0 if per_copy else None
        self._grad = vmap(grad_and_value(one, has_aux=True), in_dims=(0, d, d))
        self._out = vmap(forward, in_dims=(0, None))

    def loss_and_grad(self, theta: torch.Tensor) -> tuple:
        """(L [K], grad [K, P], training outputs [K, n, ...]) at ``theta`` [K, P].

        Parameters
        ----------
        theta : torch.Tensor

        Returns
        -------
        tuple

        Examples
        --------
        >>> m = torch.nn.Linear(1, 1).double()
        >>> e = BatchedEngine(m, Layout.of(m), lambda z, t: z[:, 0] * 0 + 1, torch.ones(3, 1, dtype=torch.float64), torch.ones(3))
        >>> e.loss_and_grad(torch.zeros(2, 2, dtype=torch.float64))[0].tolist()
        [1.0, 1.0]
        """
        grad, (L, out) = self._grad(theta, self.x, self.y)
        return L, grad, out

    def outputs(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Every copy's outputs on shared inputs ``x`` [m, ...]: [K, m, ...] (no gradient).

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
        >>> e = BatchedEngine(m, Layout.of(m), None, None, None)
        >>> e.outputs(torch.tensor([[2.0, 0.0], [1.0, 1.0]], dtype=torch.float64), torch.ones(1, 1, dtype=torch.float64)).tolist()
        [[[2.0]], [[2.0]]]
        """
        return self._out(theta, x)
