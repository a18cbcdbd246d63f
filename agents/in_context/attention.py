"""Linear self-attention over flat per-copy parameters [K, P]: forward, query loss, gradient.

Tokens z_i = [x_i, y_i] (i = 1..N, the context) and z_q = [x_q, 0], D = d + 1. One head,
no softmax, no layer norm, no MLP, no bias. One application of a layer with weights
(W_Q, W_K, W_V, P) updates every token z (context and queries alike) by

    z <- z + lambda * P W_V S W_K^T W_Q z,      S = (1/N) sum_i z_i z_i^T

(the keys and values come from the **context tokens only**, so a query never attends to
itself or to another query; the 1/N sits inside the attention; lambda = 1 when trained,
the damping of repeated application otherwise; ``y_only`` updates only the y slot, the
last coordinate). The prediction is read from the query token's y slot with a minus sign:

    y_hat = -z_q[D - 1]

(so the constructed weights of :mod:`agents.in_context.reference` compute one step of
gradient descent on L_ctx). ``layers`` applications, with one weight set per layer or one
shared set (``shared``). Layout of one copy's P = n_sets * 4 * D^2 parameters: per set
W_Q, W_K, W_V, P, each D x D row-major.
"""

from __future__ import annotations

from typing import Optional

import attrs
import numpy as np
import torch

from hierarchy.errors import ParameterError
from hierarchy.seeding import generator

from agents.in_context.attention_kernel import attention_kernel_available, fits, kernel_products
from agents.in_context.tasks import Tasks, count

__all__ = ["LinearSelfAttention", "context_tokens", "ENGINES"]

MATRICES = ("W_Q", "W_K", "W_V", "P")
#: How :meth:`LinearSelfAttention.loss_and_gradient` computes a one-layer model: "auto" (the C++ kernel where it
#: builds and takes the inputs, torch otherwise), "kernel" (an error where it cannot) or "torch".
ENGINES = ("auto", "kernel", "torch")


def context_tokens(tasks: Tasks, K: int) -> torch.Tensor:
    """The context tokens [K, B, N, D] = [x_i, y_i] (tasks without a copy axis are shared by the K copies).

    Parameters
    ----------
    tasks : Tasks
    K : int

    Returns
    -------
    torch.Tensor

    Examples
    --------
    >>> from agents.in_context.tasks import TaskDistribution, sample_tasks
    >>> from agents.torch_random import torch_generator
    >>> t = sample_tasks(TaskDistribution(d=2, N=3), torch_generator(0), 4)
    >>> tuple(context_tokens(t, 2).shape)
    (2, 4, 3, 3)
    """
    z = torch.cat([tasks.X, tasks.y.unsqueeze(-1)], dim=-1)
    if z.dim() == 3:
        z = z.unsqueeze(0).expand(K, *z.shape)
    return z


@attrs.frozen
class LinearSelfAttention:
    """The model's shape: input dimension ``d``, ``layers`` applications, ``shared`` weights or not.

    Parameters
    ----------
    d : int
        Input dimension (tokens have D = d + 1 coordinates).
    layers : int
        Applications in the forward pass (trained depth).
    shared : bool
        One weight set applied ``layers`` times (True) or one per layer.

    Raises
    ------
    ParameterError
        When d or layers is not a positive integer.

    Examples
    --------
    >>> m = LinearSelfAttention(d=10)
    >>> m.D, m.parameter_count()
    (11, 484)
    >>> LinearSelfAttention(d=2, layers=3).parameter_count(), LinearSelfAttention(d=2, layers=3, shared=True).parameter_count()
    (108, 36)
    """

    d: int = attrs.field(default=10, validator=count("d"))
    layers: int = attrs.field(default=1, validator=count("layers"))
    shared: bool = False

    @property
    def D(self) -> int:
        """Token size d + 1."""
        return self.d + 1

    @property
    def sets(self) -> int:
        """Number of distinct weight sets (1 when shared, else ``layers``)."""
        return 1 if self.shared else self.layers

    def parameter_count(self) -> int:
        """P = sets * 4 * D^2.

        Returns
        -------
        int

        Examples
        --------
        >>> LinearSelfAttention(d=1).parameter_count()
        16
        """
        return self.sets * 4 * self.D ** 2

    def unpack(self, params: torch.Tensor) -> list:
        """Per weight set, the views (W_Q, W_K, W_V, P), each [K, D, D], of flat ``params`` [K, P].

        Parameters
        ----------
        params : torch.Tensor
            [K, P].

        Returns
        -------
        list of tuple of torch.Tensor

        Raises
        ------
        ParameterError
            When ``params`` is not [K, P] for this model.

        Examples
        --------
        >>> m = LinearSelfAttention(d=1)
        >>> Wq, Wk, Wv, P = m.unpack(torch.arange(16.0).reshape(1, 16))[0]
        >>> Wk.tolist()
        [[[4.0, 5.0], [6.0, 7.0]]]
        """
        P = self.parameter_count()
        if params.dim() != 2 or params.shape[1] != P:
            raise ParameterError(f"parameters of shape {tuple(params.shape)}; this model needs [K, {P}] "
                                 f"(d={self.d}, layers={self.layers}, shared={self.shared})", parameter="params")
        D = self.D
        w = params.reshape(params.shape[0], self.sets, 4, D, D)
        return [tuple(w[:, s, j] for j in range(4)) for s in range(self.sets)]

    def init_parameters(self, seeds, std: float) -> np.ndarray:
        """Starting parameters [K, P]: copy k's entries i.i.d. N(0, std^2) from ``generator(seeds[k])``.

        Parameters
        ----------
        seeds : sequence of SeedSequence or int
            One per copy (``hierarchy.seeding.children(seed, K)``: copy k does not depend on K).
        std : float
            Standard deviation of every entry (the paper: small, e.g. sqrt(0.002 / D)).

        Returns
        -------
        numpy.ndarray

        Examples
        --------
        >>> from hierarchy.seeding import children
        >>> m = LinearSelfAttention(d=2)
        >>> a, b = m.init_parameters(children(0, 3), 0.1), m.init_parameters(children(0, 1), 0.1)
        >>> a.shape, bool(np.array_equal(a[:1], b))
        ((3, 36), True)
        """
        if not (isinstance(std, (int, float)) and np.isfinite(std) and std >= 0):
            raise ParameterError(f"std={std!r}; give a finite standard deviation >= 0", parameter="init_std")
        P = self.parameter_count()
        return np.stack([generator(s).normal(0.0, std, size=P) for s in seeds]) if len(seeds) else np.zeros((0, P))

    def operators(self, weights: tuple, ctx: torch.Tensor) -> torch.Tensor:
        """A = P W_V S W_K^T W_Q [K, B, D, D], S = (1/N) sum_i z_i z_i^T of the context tokens ``ctx`` [K, B, N, D].

        One application maps every token z to z + lambda * A z (module docstring).

        Parameters
        ----------
        weights : tuple of torch.Tensor
            (W_Q, W_K, W_V, P), each [K, D, D].
        ctx : torch.Tensor
            [K, B, N, D].

        Returns
        -------
        torch.Tensor

        Examples
        --------
        >>> m = LinearSelfAttention(d=1)
        >>> I = torch.eye(2).expand(1, 2, 2)
        >>> ctx = torch.tensor([[[[1.0, 2.0]]]])              # one token [x=1, y=2]
        >>> m.operators((I, I, I, I), ctx)[0, 0].tolist()    # S = z z^T
        [[1.0, 2.0], [2.0, 4.0]]
        """
        Wq, Wk, Wv, P = weights
        S = torch.einsum("kbni,kbnj->kbij", ctx, ctx) / ctx.shape[-2]
        left = torch.matmul(P, Wv).unsqueeze(1)              # [K, 1, D, D]
        right = torch.matmul(Wk.transpose(-1, -2), Wq).unsqueeze(1)
        return torch.matmul(torch.matmul(left, S), right)

    def operator_row(self, weights: tuple, ctx: torch.Tensor) -> torch.Tensor:
        """The last row of :meth:`operators`, a = (P W_V)[D-1, :] S W_K^T W_Q, [K, B, D]: the y-slot update is a . z.

        O(N D + D^2) per task instead of O(D^3).

        Parameters
        ----------
        weights : tuple of torch.Tensor
        ctx : torch.Tensor
            [K, B, N, D].

        Returns
        -------
        torch.Tensor

        Examples
        --------
        >>> m = LinearSelfAttention(d=2)
        >>> from agents.torch_random import torch_generator
        >>> g = torch_generator(0)
        >>> ws = tuple(torch.randn(1, 3, 3, generator=g) for _ in range(4)); ctx = torch.randn(1, 2, 4, 3, generator=g)
        >>> bool(torch.allclose(m.operator_row(ws, ctx), m.operators(ws, ctx)[..., -1, :], atol=1e-6))
        True
        """
        Wq, Wk, Wv, P = weights
        u = torch.matmul(P[:, -1:, :], Wv)[:, 0, :]                          # [K, D]
        uS = torch.einsum("kbn,kbnj->kbj", torch.einsum("kbni,ki->kbn", ctx, u), ctx) / ctx.shape[-2]
        return torch.einsum("kbj,kjl->kbl", uS, torch.matmul(Wk.transpose(-1, -2), Wq))

    def run_queries(self, params: torch.Tensor, tasks: Tasks, queries: torch.Tensor, applications: Optional[int] = None,
                    damping: float = 1.0, y_only: bool = False, every: bool = False):
        """The y slots of query tokens [x, 0] after ``applications`` applications (default: ``layers``).

        Weight set ``a mod sets`` makes application a (a shared set is reapplied; a
        non-shared model applied more often than its depth cycles through its layers).

        Parameters
        ----------
        params : torch.Tensor
            [K, P].
        tasks : Tasks
            Their context (shared by the copies or per copy [K, B, ...]).
        queries : torch.Tensor
            [K or 1, B, Q, d] query inputs (several per task; they never attend to each other).
        applications : int, optional
        damping : float
            lambda of the update.
        y_only : bool
            Update only the y slots (the repeated application of :mod:`agents.in_context.inner_run`).
        every : bool
            Return the y slots after every application, [K, B, Q, applications + 1] (index 0: 0).

        Returns
        -------
        torch.Tensor
            [K, B, Q] (or [K, B, Q, applications + 1] with ``every``).

        Examples
        --------
        >>> from agents.in_context.tasks import TaskDistribution, sample_tasks
        >>> m = LinearSelfAttention(d=2)
        >>> from agents.torch_random import torch_generator
        >>> t = sample_tasks(TaskDistribution(d=2, N=3), torch_generator(0), 4)
        >>> p = torch.zeros(1, m.parameter_count(), dtype=torch.float64)
        >>> m.run_queries(p, t, t.xq.unsqueeze(-2).unsqueeze(0)).abs().max().item()   # zero weights: no update
        0.0
        """
        K = params.shape[0]
        apps = self.layers if applications is None else int(applications)
        sets = self.unpack(params)
        ctx = context_tokens(tasks, K)
        cx, cy = ctx[..., :-1], ctx[..., -1]
        qx = queries.expand(K, *queries.shape[1:]) if queries.shape[0] == 1 else queries
        qy = torch.zeros(qx.shape[:-1], dtype=qx.dtype)
        out = [qy] if every else None
        for a in range(apps):
            last = a == apps - 1
            ws = sets[a % len(sets)]
            if y_only or last:  # only y slots change (or only the queries' y slots are read): the last row of A
                row = self.operator_row(ws, torch.cat([cx, cy.unsqueeze(-1)], dim=-1))
                rx, ry = row[..., :-1], row[..., -1:]
                qy = qy + damping * (torch.einsum("kbj,kbqj->kbq", rx, qx) + ry * qy)
                if not last:
                    cy = cy + damping * (torch.einsum("kbj,kbnj->kbn", rx, cx) + ry * cy)
            else:
                ctx = torch.cat([cx, cy.unsqueeze(-1)], dim=-1)
                zq = torch.cat([qx, qy.unsqueeze(-1)], dim=-1)
                A = self.operators(ws, ctx)
                zq = zq + damping * torch.einsum("kbij,kbqj->kbqi", A, zq)
                ctx = ctx + damping * torch.einsum("kbij,kbnj->kbni", A, ctx)
                qx, qy, cx, cy = zq[..., :-1], zq[..., -1], ctx[..., :-1], ctx[..., -1]
            if every:
                out.append(qy)
        return torch.stack(out, dim=-1) if every else qy

    def predict(self, params: torch.Tensor, tasks: Tasks, damping: float = 1.0, y_only: bool = False,
                applications: Optional[int] = None) -> torch.Tensor:
        """y_hat = -z_q[D - 1] after the forward pass, [K, B].

        Parameters
        ----------
        params : torch.Tensor
            [K, P].
        tasks : Tasks
        damping, y_only, applications
            As :meth:`run_queries`.

        Returns
        -------
        torch.Tensor

        Examples
        --------
        >>> from agents.in_context.reference import constructed_parameters, gd_weights
        >>> from agents.in_context.tasks import TaskDistribution, sample_tasks
        >>> from agents.torch_random import torch_generator
        >>> t = sample_tasks(TaskDistribution(d=3, N=5), torch_generator(0), 6)
        >>> m = LinearSelfAttention(d=3)
        >>> y = m.predict(torch.from_numpy(constructed_parameters(m, 0.5)), t)[0]
        >>> w1 = gd_weights(t, 0.5, 1)[..., 1]                # one GD step on L_ctx from 0
        >>> bool(torch.allclose(y, (w1 * t.xq).sum(-1), atol=1e-12))
        True
        """
        if self.layers == 1 and (applications in (None, 1)):
            return self._predict_one(params, tasks, damping)
        xq = tasks.xq.unsqueeze(-2)
        if xq.dim() == 3:
            xq = xq.unsqueeze(0)
        return -self.run_queries(params, tasks, xq, applications, damping, y_only)[..., 0]

    def _predict_one(self, params: torch.Tensor, tasks: Tasks, damping: float) -> torch.Tensor:
        """One application, the query's y slot only: y_hat = -(lambda/N) sum_i (u . z_i)(z_i . R x_q) with
        u = (P W_V)[D - 1, :] and R = (W_K^T W_Q)[:, :d]: the same number as :meth:`run_queries`, in
        O(N D) per task instead of O(D^3)."""
        K = params.shape[0]
        (Wq, Wk, Wv, P), = self.unpack(params)[:1]
        z = context_tokens(tasks, K)
        u = torch.matmul(P, Wv)[:, -1, :]
        R = torch.matmul(Wk.transpose(-1, -2), Wq)[:, :, :-1]
        xq = tasks.xq if tasks.xq.dim() == 3 else tasks.xq.unsqueeze(0).expand(K, *tasks.xq.shape)
        a = torch.einsum("kbnd,kd->kbn", z, u)
        c = torch.einsum("kbne,kbe->kbn", z, torch.einsum("ked,kbd->kbe", R, xq))
        return -damping * (a * c).mean(-1)

    def query_loss(self, params: torch.Tensor, tasks: Tasks) -> torch.Tensor:
        """The designer's base objective per copy: 0.5 * mean over tasks of (y_hat - w . x_q)^2, [K].

        Parameters
        ----------
        params : torch.Tensor
            [K, P].
        tasks : Tasks

        Returns
        -------
        torch.Tensor

        Examples
        --------
        >>> from agents.in_context.tasks import TaskDistribution, sample_tasks
        >>> from agents.torch_random import torch_generator
        >>> t = sample_tasks(TaskDistribution(d=2, N=3), torch_generator(0), 4)
        >>> m = LinearSelfAttention(d=2)
        >>> loss = m.query_loss(torch.zeros(1, m.parameter_count(), dtype=torch.float64), t)
        >>> bool(torch.isclose(loss[0], 0.5 * (t.yq ** 2).mean()))        # the zero predictor
        True
        """
        return 0.5 * (self.predict(params, tasks) - tasks.yq).square().mean(-1)

    def _loss_and_gradient_one(self, params: torch.Tensor, tasks: Tasks, kernel: bool = False) -> tuple:
        """One layer, by hand: with a_n = u . z_n, b = R x_q, c_n = z_n . b, y_hat = -(1/N) sum_n a_n c_n and
        e = (y_hat - y_q) / B, the gradients are dL/du = -(1/N) sum_b e_b Z_b^T c_b,
        dL/dR = -(1/N) sum_b e_b (Z_b^T a_b) x_q^T (in torch operations, or in the C++ kernel when
        ``kernel``: :func:`agents.in_context.attention_kernel.kernel_products`), then through
        u = (P W_V)[D-1, :] and R = (W_K^T W_Q)[:, :d] to the four matrices (the same numbers as
        autograd, tested)."""
        K, D, d = params.shape[0], self.D, self.d
        (Wq, Wk, Wv, P), = self.unpack(params)
        p_row = P[:, -1, :]                                            # [K, D]
        if kernel:
            loss, du, dR = kernel_products(Wq, Wk, Wv, p_row, tasks)
        else:
            z = context_tokens(tasks, K)
            N = z.shape[-2]
            xq = tasks.xq if tasks.xq.dim() == 3 else tasks.xq.unsqueeze(0).expand(K, *tasks.xq.shape)
            u = torch.einsum("ki,kij->kj", p_row, Wv)
            R = torch.matmul(Wk.transpose(-1, -2), Wq[:, :, :d])       # [K, D, d]
            a = torch.einsum("kbnd,kd->kbn", z, u)
            b = torch.einsum("ked,kbd->kbe", R, xq)
            c = torch.einsum("kbne,kbe->kbn", z, b)
            y = -(a * c).mean(-1)
            r = y - tasks.yq
            loss = 0.5 * r.square().mean(-1)
            e = r / r.shape[-1]                                        # [K, B]
            du = -torch.einsum("kbn,kbnd->kd", c * e.unsqueeze(-1), z) / N
            v = torch.einsum("kbn,kbnd->kbd", a, z) * e.unsqueeze(-1)
            dR = -torch.einsum("kbd,kbl->kdl", v, xq) / N               # [K, D, d]
        grad = torch.zeros_like(params)
        g = grad.view(K, 4, D, D)
        g[:, 3, -1, :] = torch.einsum("kij,kj->ki", Wv, du)            # dP[D-1, :]
        g[:, 2] = torch.einsum("ki,kj->kij", p_row, du)                # dW_V
        g[:, 1] = torch.matmul(Wq[:, :, :d], dR.transpose(-1, -2))     # dW_K
        g[:, 0, :, :d] = torch.matmul(Wk, dR)                          # dW_Q (its y column does not act)
        return loss, grad

    def loss_and_gradient(self, params: torch.Tensor, tasks: Tasks, engine: str = "auto") -> tuple:
        """(query loss [K], its gradient [K, P]); the copies are independent, so the gradient of
        the summed loss is each copy's own. One layer: by hand, in the C++ kernel of
        :mod:`agents.in_context.attention_kernel` (``engine="auto"`` where it builds and takes
        the inputs, or ``"kernel"``) or in torch operations (``"torch"``); more layers: autograd.

        Parameters
        ----------
        params : torch.Tensor
            [K, P] (not modified).
        tasks : Tasks
        engine : str
            One of :data:`ENGINES`.

        Returns
        -------
        tuple of torch.Tensor

        Examples
        --------
        >>> from agents.in_context.tasks import TaskDistribution, sample_tasks
        >>> from agents.torch_random import torch_generator
        >>> t = sample_tasks(TaskDistribution(d=2, N=3), torch_generator(0), 4)
        >>> m = LinearSelfAttention(d=2)
        >>> loss, g = m.loss_and_gradient(torch.full((2, 36), 0.1, dtype=torch.float64), t)
        >>> tuple(loss.shape), tuple(g.shape), bool(torch.equal(g[0], g[1]))
        ((2,), (2, 36), True)
        """
        if engine not in ENGINES:
            raise ParameterError(f"engine={engine!r}; choose one of {', '.join(ENGINES)}", parameter="engine")
        if self.layers == 1:
            why = fits(self, params, tasks)
            if engine == "kernel" and why is not None:
                raise ParameterError(f"engine='kernel' cannot take {why}; use engine='auto'", parameter="engine")
            kernel = engine == "kernel" or (engine == "auto" and why is None and attention_kernel_available())
            return self._loss_and_gradient_one(params, tasks, kernel)
        with torch.enable_grad():
            p = params.detach().clone().requires_grad_(True)
            loss = self.query_loss(p, tasks)
            (grad,) = torch.autograd.grad(loss.sum(), p)
        return loss.detach(), grad
