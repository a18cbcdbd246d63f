"""The MLP language model of seed 000, for a population of K copies at once.

One-hot context x -> hidden layers h_l = tanh(h_{l-1} W_l + b_l) -> logits
z = h_L W_out + b_out -> softmax over the vocabulary. The base objective of each copy
is the mean cross-entropy over the whole training set (full batch):

    L(theta) = (1/N) * sum_n [ logsumexp(z_n) - z_n[y_n] ]

K copies keep their parameters in one flat tensor ``theta`` [K, P]; the forward and
backward passes are written by hand with batched matrix products over the leading K
axis (no autograd, no Python loop over copies), so a population costs one computation.

Flat parameter layout (per copy, ``P = sum_l (n_{l-1} + 1) * n_l`` numbers), layer by
layer from the input: ``W_l`` as an [n_{l-1}, n_l] row-major block (so that
``h_l = h_{l-1} @ W_l``), then ``b_l`` [n_l]. :func:`parameter_layout` lists the blocks.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from hierarchy.errors import ParameterError

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def torch_dtype(dtype) -> torch.dtype:
    """The torch dtype named ``"float64"`` or ``"float32"`` (a torch dtype passes through).

    Example:
        >>> torch_dtype("float32")
        torch.float32
    """
    if isinstance(dtype, torch.dtype) and dtype in _DTYPES.values():
        return dtype
    try:
        return _DTYPES[str(dtype)]
    except KeyError:
        raise ParameterError(f"dtype={dtype!r} is not supported; use 'float64' or 'float32'") from None


def layer_sizes(inputs: int, hidden: Sequence[int], outputs: int) -> tuple:
    """Widths (n_0, n_1, ..., n_L, n_out): input, hidden layers, output.

    Example:
        >>> layer_sizes(16, (3,), 8)
        (16, 3, 8)
    """
    try:
        hidden = tuple(int(h) for h in hidden)
    except TypeError:
        raise ParameterError(f"hidden={hidden!r} is not a tuple of widths; give e.g. hidden=(3,) or (8, 8)") from None
    if len(hidden) == 0:
        raise ParameterError("hidden=() has no hidden layer; give at least one width, e.g. hidden=(3,)")
    sizes = (int(inputs), *hidden, int(outputs))
    if min(sizes) < 1:
        raise ParameterError(f"layer widths {sizes} include a non-positive width; every width must be >= 1")
    return sizes


def parameter_layout(sizes: Sequence[int]) -> tuple:
    """The flat layout: (name, shape, offset) for W_1, b_1, ..., W_out, b_out.

    Example:
        >>> parameter_layout((4, 3, 2))
        (('W1', (4, 3), 0), ('b1', (3,), 12), ('W2', (3, 2), 15), ('b2', (2,), 21))
    """
    out, off = [], 0
    for l in range(1, len(sizes)):
        n_in, n_out = sizes[l - 1], sizes[l]
        out.append((f"W{l}", (n_in, n_out), off))
        off += n_in * n_out
        out.append((f"b{l}", (n_out,), off))
        off += n_out
    return tuple(out)


def parameter_count(sizes: Sequence[int]) -> int:
    """P = sum_l (n_{l-1} + 1) * n_l.

    Example:
        >>> parameter_count((16, 3, 8))
        83
    """
    return int(sum((sizes[l - 1] + 1) * sizes[l] for l in range(1, len(sizes))))


def split_parameters(flat, sizes: Sequence[int]) -> list:
    """Views (W_l [K, n_{l-1}, n_l], b_l [K, n_l]) into a flat [K, P] array or tensor.

    Example:
        >>> W, b = split_parameters(np.arange(2 * 8.0).reshape(2, 8), (2, 2, 1))[1]
        >>> W.shape, b.tolist()
        ((2, 2, 1), [[7.0], [15.0]])
    """
    K = flat.shape[0]
    views = []
    for name, shape, off in parameter_layout(sizes):
        n = int(np.prod(shape))
        block = flat[:, off : off + n]
        if name.startswith("W"):
            views.append([block.reshape(K, *shape)])
        else:
            views[-1].append(block)
    return [tuple(v) for v in views]


def init_parameters(sizes: Sequence[int], seeds: Sequence[np.random.SeedSequence], init_scale: float = 1.0) -> np.ndarray:
    """Random initial parameters [K, P], one row per seed.

    Rule: every weight of layer l ~ N(0, init_scale**2 / n_{l-1}) (variance scaled by
    the fan-in, so pre-activations have variance about init_scale**2 whatever the
    width); every bias = 0. Row k depends on ``seeds[k]`` only.

    Example:
        >>> th = init_parameters((16, 3, 8), np.random.SeedSequence(0).spawn(2))
        >>> th.shape, float(np.abs(th[:, 48:51]).max())  # b1 is zero
        ((2, 83), 0.0)
    """
    if not np.isfinite(init_scale) or init_scale < 0:
        raise ParameterError(f"init_scale={init_scale!r}; give a non-negative finite number such as 1.0")
    P = parameter_count(sizes)
    theta = np.zeros((len(seeds), P))
    for k, s in enumerate(seeds):  # initialisation, once per run: not on the step path
        rng = np.random.default_rng(s)
        for name, shape, off in parameter_layout(sizes):
            if name.startswith("W"):
                n = shape[0] * shape[1]
                theta[k, off : off + n] = rng.standard_normal(n) * (init_scale / np.sqrt(shape[0]))
    return theta


class PopulationMLP:
    """Forward and backward for K copies on one full batch, in preallocated buffers.

    ``inputs`` is shared [N, D] or per copy [K, N, D]; ``targets`` shared [N] or per
    copy [K, N] (token ids). ``theta`` and ``grad`` are the engine's own [K, P]
    tensors; :meth:`loss_and_gradient` writes dL/dtheta into ``grad`` and returns L [K].

    Backward (per copy; delta_out = softmax(z) - onehot(y), the 1/N folded in):
        dW_out = h_L^T delta_out / N,   db_out = sum_n delta_out / N
        delta_l = (delta_{l+1} W_{l+1}^T) * (1 - h_l^2)
        dW_l = h_{l-1}^T delta_l,       db_l = sum_n delta_l

    Example:
        >>> x = torch.eye(4, dtype=torch.float64)
        >>> net = PopulationMLP((4, 3, 4), x, torch.tensor([1, 2, 3, 0]), population=2)
        >>> net.theta.zero_().shape
        torch.Size([2, 31])
        >>> torch.allclose(net.loss_and_gradient(), torch.full((2,), float(np.log(4))))
        True
    """

    def __init__(self, sizes, inputs: torch.Tensor, targets: torch.Tensor, population: int, dtype="float64"):
        dt = torch_dtype(dtype)
        self.sizes = tuple(int(s) for s in sizes)
        K = self.K = int(population)
        self.P = parameter_count(self.sizes)
        inputs = torch.as_tensor(inputs).to(dt)
        targets = torch.as_tensor(targets).to(torch.int64)
        D, V = self.sizes[0], self.sizes[-1]
        if inputs.dim() == 2:
            N = inputs.shape[0]
            self._x = inputs.contiguous().expand(K, N, D)  # a stride-0 view: one copy of the data
        elif inputs.dim() == 3 and inputs.shape[0] == K:
            N = inputs.shape[1]
            self._x = inputs.contiguous()
        else:
            raise ParameterError(f"inputs of shape {tuple(inputs.shape)}; give [N, D] (shared) or [K={K}, N, D] (per copy)")
        if self._x.shape[2] != D:
            raise ParameterError(f"inputs have {self._x.shape[2]} features but the first layer expects {D}")
        self.N = N
        if targets.dim() == 1:
            targets = targets.unsqueeze(0)  # shared: [1, N]
        if targets.dim() != 2 or targets.shape[1] != N or targets.shape[0] not in (1, K):
            raise ParameterError(f"targets of shape {tuple(targets.shape)}; give [N={N}] (shared) or [K={K}, N={N}]")
        if targets.min() < 0 or targets.max() >= V:
            raise ParameterError(f"targets must be token ids in [0, {V}); re-encode them or widen the output layer")
        targets = targets.contiguous()
        self._y = targets.unsqueeze(2).expand(K, N, 1)  # gather index
        onehot = torch.zeros(targets.shape[0], N, V, dtype=dt)
        onehot.scatter_(2, targets.unsqueeze(2), 1.0)
        self._onehot = onehot  # [K or 1, N, V], broadcast in the subtraction

        self.theta = torch.zeros(K, self.P, dtype=dt)
        self.grad = torch.zeros(K, self.P, dtype=dt)
        self._layers = split_parameters(self.theta, self.sizes)
        self._glayers = split_parameters(self.grad, self.sizes)
        # activations h_1..h_L, then the logits / log-probabilities; deltas of hidden layers
        self._h = [torch.empty(K, N, n, dtype=dt) for n in self.sizes[1:-1]]
        self._logits = torch.empty(K, N, V, dtype=dt)
        self._logp = torch.empty(K, N, V, dtype=dt)
        self._delta_out = torch.empty(K, N, V, dtype=dt)
        self._delta = [torch.empty(K, N, n, dtype=dt) for n in self.sizes[1:-1]]
        self._picked = torch.empty(K, N, 1, dtype=dt)
        self._loss = torch.empty(K, dtype=dt)

    @torch.no_grad()
    def loss_and_gradient(self, loss_out: torch.Tensor | None = None) -> torch.Tensor:
        """L(theta) [K] (written into ``loss_out`` when given) and dL/dtheta into ``self.grad``."""
        L = self._loss if loss_out is None else loss_out
        n_hidden = len(self._h)
        h = self._x
        for l in range(n_hidden):
            W, b = self._layers[l]
            z = torch.baddbmm(b.unsqueeze(1), h, W, out=self._h[l])
            h = torch.tanh(z, out=z)
        W, b = self._layers[-1]
        torch.baddbmm(b.unsqueeze(1), h, W, out=self._logits)
        logp = torch.log_softmax(self._logits, 2, out=self._logp)
        torch.gather(logp, 2, self._y, out=self._picked)
        torch.sum(self._picked.view(self.K, self.N), 1, out=L)
        L.mul_(-1.0 / self.N)

        d = torch.exp(logp, out=self._delta_out)
        d.sub_(self._onehot)  # softmax - onehot, unscaled: 1/N enters below
        a = 1.0 / self.N
        for l in range(n_hidden, -1, -1):
            W, _ = self._layers[l]
            gW, gb = self._glayers[l]
            h_prev = self._x if l == 0 else self._h[l - 1]
            torch.baddbmm(gW, h_prev.transpose(1, 2), d, beta=0.0, alpha=a, out=gW)
            torch.sum(d, 1, out=gb)
            if a != 1.0:
                gb.mul_(a)
            if l > 0:
                dh = torch.baddbmm(self._delta[l - 1], d, W.transpose(1, 2), beta=0.0, alpha=a, out=self._delta[l - 1])
                torch.ops.aten.tanh_backward.grad_input(dh, self._h[l - 1], grad_input=dh)
                d = dh
                a = 1.0
        return L
