"""The MLP language model of seed 000, for a population of K copies at once.

One-hot context x -> hidden layers h_l = tanh(h_{l-1} W_l + b_l) -> logits
z = h_L W_out + b_out -> softmax over the vocabulary. The base objective of each copy
is the mean cross-entropy over the whole training set (full batch):

    L(theta) = (1/N) * sum_n [ logsumexp(z_n) - z_n[y_n] ]

Other objectives (``loss``, see :func:`check_loss`; a change of objective is a
perturbation, definitions.md "Robustness and generalization"), with p_n = softmax(z_n)
and the target distribution q_n = (1 - s) * onehot(y_n) + s / V (label smoothing s):

    cross_entropy:  L = -(1/N) * sum_n sum_v q_nv * log p_nv       dL/dz_n = (p_n - q_n) / N
    brier:          L =  (1/N) * sum_n sum_v (p_nv - q_nv)^2       dL/dz_n = (2/N) * p_n * (r_n - <p_n, r_n>),
                                                                   r_n = p_n - q_n

K copies keep their parameters in one flat tensor ``theta`` [K, P]; the forward and
backward passes are written by hand with batched matrix products over the leading K
axis (no autograd, no Python loop over copies), so a population costs one computation.
Examples that share an input can be merged into one row with target counts (the loss
depends on the data only through them), which :class:`PopulationMLP` accepts.

Flat parameter layout (per copy, ``P = sum_l (n_{l-1} + 1) * n_l`` numbers), layer by
layer from the input: ``W_l`` as an [n_{l-1}, n_l] row-major block (so that
``h_l = h_{l-1} @ W_l``), then ``b_l`` [n_l]. :func:`parameter_layout` lists the blocks.
"""

from __future__ import annotations

from typing import Sequence

import attrs
import numpy as np
import torch

from agents.language_model.fused_loss import bound_fused_loss, choose_loss_pass
from agents.language_model.one_hot import bound_gather, bound_scatter, choose_first_layer
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


#: The objectives the engine can train on (and differentiate by hand).
LOSSES = ("cross_entropy", "brier")


def check_loss(loss: str, label_smoothing: float = 0.0) -> tuple:
    """Validate an objective choice: ``loss`` in LOSSES, 0 <= ``label_smoothing`` < 1.

    Example:
        >>> check_loss("brier", 0.1)
        ('brier', 0.1)
    """
    if loss not in LOSSES:
        raise ParameterError(f"loss={loss!r} is not offered; choose one of {', '.join(LOSSES)}")
    try:
        s = float(label_smoothing)
    except (TypeError, ValueError):
        s = float("nan")
    if not (0.0 <= s < 1.0):
        raise ParameterError(f"label_smoothing={label_smoothing!r}; give a number in [0, 1) such as 0.1 (0: one-hot targets)")
    return loss, s


def describe_loss(loss: str = "cross_entropy", label_smoothing: float = 0.0) -> str:
    """A one-line description of an objective choice, for reports.

    Example:
        >>> describe_loss(), describe_loss("brier", 0.1)
        ('mean cross-entropy', 'Brier score (squared error of softmax vs target), label smoothing 0.1')
    """
    loss, s = check_loss(loss, label_smoothing)
    text = "mean cross-entropy" if loss == "cross_entropy" else "Brier score (squared error of softmax vs target)"
    return text + (f", label smoothing {s:g}" if s > 0 else "")


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
        >>> W, b = split_parameters(np.arange(2 * 9.0).reshape(2, 9), (2, 2, 1))[1]
        >>> W.shape, b.tolist()
        ((2, 2, 1), [[8.0], [17.0]])
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


def target_counts(targets, vocab: int) -> torch.Tensor:
    """Token ids [..., N] -> counts [..., N, vocab]: one example per row, a 1 at its target.

    Example:
        >>> target_counts(torch.tensor([2, 0]), 3).tolist()
        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    targets = torch.as_tensor(targets).to(torch.int64)
    if targets.numel() and (targets.min() < 0 or targets.max() >= vocab):
        raise ParameterError(f"targets must be token ids in [0, {vocab}); re-encode them or widen the output layer")
    out = torch.zeros(*targets.shape, vocab, dtype=torch.float64)
    return out.scatter_(-1, targets.unsqueeze(-1), 1.0)


def _augmented(n: int) -> int:
    """Rows of a layer input with its bias row: n + 1, rounded up to a multiple of 8 past 32."""
    return n + 1 if n + 1 <= 32 else -(-(n + 1) // 8) * 8


@attrs.frozen(eq=False)
class StepData:
    """What a :class:`PopulationMLP` trains on, in its feature-major layout, for another engine
    of the same step (:class:`~agents.language_model.compiled.CompiledSteps`).

    Parameters
    ----------
    x : torch.Tensor
        The inputs without the engine's ones and padding rows: [D, M] shared, [K, D, M] per copy.
    n : torch.Tensor
        [Kq, 1, M] examples per row (Kq = 1 for shared targets, else K).
    q : torch.Tensor
        [Kq, V, M] the summed targets Q_m (label smoothing applied).
    shared : bool
        Whether every copy has the same inputs (``x`` is [D, M]).
    brier_constant : float
        N c of the Brier loss (c = |q|^2 of one example).
    """

    x: torch.Tensor
    n: torch.Tensor
    q: torch.Tensor
    shared: bool
    brier_constant: float


class PopulationMLP:
    """Forward and backward for K copies on one full batch, in preallocated buffers.

    ``inputs`` is shared [M, D] or per copy [K, M, D]. ``targets`` is shared or per copy:
    token ids [M] / [K, M] (one example per input row), or target counts [M, V] /
    [K, M, V] (float: row m holds how many examples with input m have each next token;
    merging examples with the same input this way gives the same L and gradient with
    less work). N = the total count (the number of examples), equal for every copy.
    ``theta`` and ``grad`` are the engine's own [K, P] tensors; :meth:`loss_and_gradient`
    writes dL/dtheta into ``grad`` and returns L [K]. ``device``: where the buffers live and
    the passes run ("cpu", "cuda", "cuda:N"; inputs and targets are checked on the CPU first).
    ``first_layer``: "auto" (default), "gather" or "product": shared one-hot inputs (each row
    the same number of ones, zeros elsewhere) of at least 32 features on the CPU run the first
    layer as gathers of W_1's rows and its weight gradient as scatters
    (:mod:`agents.language_model.one_hot`, the hidden tanh taken in the same pass), the same
    numbers to float rounding; other inputs, or "product", the matrix product below.
    ``self.first_layer`` says which runs. ``loss_pass``: "auto" (default), "fused" or "torch":
    the cross-entropy on the CPU with a vocabulary of at least 32 tokens runs its softmax, L and
    delta in one pass of a C++ kernel (:mod:`agents.language_model.fused_loss`), the same numbers
    to float rounding; the Brier score, smaller vocabularies, other devices, or "torch", torch's
    passes below. ``self.loss_pass`` says which runs.

    Layout: activations are kept feature-major, [K, width, M], so the softmax reduces
    over a short middle axis. Each layer input carries a row of ones, and [W_l; b_l] is one
    [n_{l-1} + 1, n_l] block of theta, so a layer is one product [W_l; b_l]^T @ [h_{l-1}; 1]
    on a view of theta, and its gradient one product [h_{l-1}; 1] @ delta_l^T copied into
    grad's block (dW_l and db_l at once); with shared inputs the first layer of all K copies
    is a single matrix product [K * n_1, D + 1] @ [D + 1, M]. tanh is computed as 2 sigmoid(2 z) - 1 (two
    to three times faster on this CPU, equal within rounding). With n_m = the count of
    row m and
    Q_m = (1 - s) * counts_m + s * n_m / V (label smoothing s), per copy:

        cross_entropy: L = (1/N) sum_m [ n_m * logsumexp(z_m) - <Q_m, z_m> ]
                       delta_m = n_m * softmax(z_m) - Q_m
        brier:         L = (1/N) sum_m [ n_m * (|p_m|^2 + c) - 2 <p_m, Q_m> ],  c = |q|^2 of one example
                       delta_m = 2 p_m * (r_m - <p_m, r_m>),  r_m = n_m p_m - Q_m

    Backward (1/N folded into the first products; delta = delta_out of the loss):
        dW_out = h_L delta^T / N,  db_out = sum_m delta / N
        delta_l = (W_{l+1} delta_{l+1}) * (1 - h_l^2)
        dW_l = h_{l-1} delta_l^T,  db_l = sum_m delta_l

    Example:
        >>> x = torch.eye(4, dtype=torch.float64)
        >>> net = PopulationMLP((4, 3, 4), x, torch.tensor([1, 2, 3, 0]), population=2)
        >>> net.theta.zero_().shape
        torch.Size([2, 31])
        >>> torch.allclose(net.loss_and_gradient(), torch.full((2,), np.log(4), dtype=torch.float64))
        True
    """

    def __init__(self, sizes, inputs: torch.Tensor, targets: torch.Tensor, population: int, dtype="float64",
                 loss: str = "cross_entropy", label_smoothing: float = 0.0, device: str = "cpu",
                 first_layer: str = "auto", loss_pass: str = "auto"):
        dt = torch_dtype(dtype)
        self.device = torch.device(device)
        self.loss, self.label_smoothing = check_loss(loss, label_smoothing)
        self.sizes = tuple(int(s) for s in sizes)
        K = self.K = int(population)
        if K < 1:
            raise ParameterError(f"population={population!r}; give a positive number of copies")
        self.P = parameter_count(self.sizes)
        D, V = self.sizes[0], self.sizes[-1]
        inputs = torch.as_tensor(inputs).cpu()  # checked on the CPU, moved with the buffers below
        if inputs.dim() == 2:
            M = inputs.shape[0]
            self._shared = True
        elif inputs.dim() == 3 and inputs.shape[0] == K:
            M = inputs.shape[1]
            self._shared = False
        else:
            raise ParameterError(f"inputs of shape {tuple(inputs.shape)}; give [M, D] (shared) or [K={K}, M, D] (per copy)")
        if inputs.shape[-1] != D:
            raise ParameterError(f"inputs have {inputs.shape[-1]} features but the first layer expects {D}")
        self.M = M

        targets = torch.as_tensor(targets).cpu()
        counts = target_counts(targets, V) if not targets.is_floating_point() else targets.to(torch.float64)
        if counts.dim() == 2:
            counts = counts.unsqueeze(0)
        if counts.dim() != 3 or counts.shape[1:] != (M, V) or counts.shape[0] not in (1, K):
            raise ParameterError(
                f"targets of shape {tuple(targets.shape)}; give ids [M={M}] or [K={K}, M], or counts [M, V={V}] or [K, M, V]"
            )
        if not torch.all(torch.isfinite(counts) & (counts >= 0)):
            raise ParameterError("target counts must be finite and non-negative; give how many examples have each next token")
        totals = counts.sum(dim=(1, 2))
        if totals.min() <= 0 or not torch.allclose(totals, totals[0].expand_as(totals)):
            raise ParameterError(f"copies have {totals.tolist()} examples; give every copy the same positive number of examples")
        self.N = float(totals[0])
        n = counts.sum(2, keepdim=True)  # [Kq, M, 1] examples per row
        s = self.label_smoothing
        q = (1.0 - s) * counts + (s / V) * n  # summed targets Q_m
        self._n = n.transpose(1, 2).contiguous().to(self.device, dt)  # [Kq, 1, M]
        self._q = q.transpose(1, 2).contiguous().to(self.device, dt)  # [Kq, V, M]
        self._q_sq = (1.0 - s + s / V) ** 2 + (V - 1) * (s / V) ** 2  # |q|^2 of one example
        self._n_total = float(n.sum()) / n.shape[0]

        self._idx = choose_first_layer(first_layer, inputs if self._shared else None, self.device)
        self.first_layer = "product" if self._idx is None else "gather"
        with self.device:  # every buffer below on the run's device
            self.theta = torch.zeros(K, self.P, dtype=dt)
            self.grad = torch.zeros(K, self.P, dtype=dt)
            self._layers = split_parameters(self.theta, self.sizes)
            self._glayers = split_parameters(self.grad, self.sizes)
            # inputs of every layer, feature-major, with a row of ones after the features that
            # multiplies the bias: [aug(D), M] shared (then zero rows up to _augmented(D): the
            # shared product runs markedly faster on multiples of 8 than on 129) or [K, D + 1, M]
            # per copy, then [K, n_l + 1, M] for the hidden layers
            xt = inputs.to(dt).transpose(-1, -2)
            a0 = torch.zeros(*xt.shape[:-2], _augmented(D) if self._shared else D + 1, M, dtype=dt)
            a0[..., :D, :] = xt
            a0[..., D, :] = 1.0
            self._a0 = a0
            self._a = [a0]
            for w in self.sizes[1:-1]:
                a = torch.zeros(K, w + 1, M, dtype=dt)
                a[:, w].fill_(1.0)
                self._a.append(a)
            # pre-activations z_l (reused as delta_l going back), logits, and the shared first
            # layer's augmented weights [W_1^T | b_1 | 0] [K, n_1, aug(D)] with their gradient,
            # transposed: [aug(D), K n_1]
            self._z = [torch.empty(K, w, M, dtype=dt) for w in self.sizes[1:]]
            product = self._shared and self._idx is None  # one-hot inputs (gather) need neither
            self._wb = torch.zeros(K, self.sizes[1], _augmented(D), dtype=dt) if product else None
            self._gwb = torch.empty(_augmented(D), K * self.sizes[1], dtype=dt) if product else None
            self._e = torch.empty(K, V, M, dtype=dt)
            self._col = [torch.empty(K, 1, M, dtype=dt) for _ in range(4)]
            self._r = torch.empty(K, V, M, dtype=dt) if self.loss == "brier" else None
            self._parts = torch.empty(2, K, dtype=dt)
            self._loss = torch.empty(K, dtype=dt)
            # scalars as 0-dim tensors of the run's dtype (a Python float is wrapped into a new
            # tensor, and cast for float32, on every call: the same numbers, several us dearer)
            self._one = torch.ones((), dtype=dt)
            self._two = torch.full((), 2.0, dtype=dt)
            self._inv_n = torch.full((), 1.0 / self.N, dtype=dt)
            self._q_const = torch.full((), self._q_sq * self._n_total, dtype=dt)
        self.loss_pass = "fused" if choose_loss_pass(loss_pass, self.loss, V, self.device) else "torch"
        self._plan()

    def step_data(self) -> StepData:
        """The engine's data (contiguous copies of its buffers' views) for another engine of the same step.

        Returns
        -------
        StepData

        Examples
        --------
        >>> net = PopulationMLP((4, 2, 4), torch.eye(4, dtype=torch.float64), torch.tensor([1, 2, 3, 0]), 3)
        >>> d = net.step_data()
        >>> tuple(d.x.shape), tuple(d.n.shape), tuple(d.q.shape), d.shared
        ((4, 4), (1, 1, 4), (1, 4, 4), True)
        """
        D = self.sizes[0]
        return StepData(self._a0[..., :D, :].contiguous(), self._n.contiguous(), self._q.contiguous(),
                        self._shared, self._q_sq * self._n_total)

    def _plan(self) -> None:
        """Every view the passes use, made once (a view costs about as much to make as a tiny product).

        The buffers are never reallocated and ``theta`` / ``grad`` are updated in place, so
        the views stay valid for the engine's life.
        """
        K, M = self.K, self.M
        n_layers = len(self.sizes) - 1
        self._fwd, self._bwd = [], []
        offsets = [off for name, _, off in parameter_layout(self.sizes) if name.startswith("W")]
        self._delta = self._e if self.loss == "cross_entropy" else self._r  # the loss's delta, written in place
        for l in range(n_layers):
            n_in, n_out = self.sizes[l], self.sizes[l + 1]
            W, b = self._layers[l]
            z = self._z[l]
            hidden = l < n_layers - 1
            h = self._a[l + 1][:, :n_out] if hidden else None
            scale = 2.0 if hidden else 1.0
            # delta_{l-1} = (W_l delta_l) (1 - h^2); the one-hot scatter takes the (1 - h^2) itself (l = 1)
            scatter_takes_tanh = l == 1 and self._shared and self._idx is not None
            back = (self._z[l - 1], W, None if scatter_takes_tanh else self._a[l][:, :n_in]) if l > 0 else None
            rows = slice(offsets[l], offsets[l] + (n_in + 1) * n_out)  # [W_l; b_l] in theta and grad
            gblock = self.grad[:, rows].view(K, n_in + 1, n_out)
            # the first layer's delta is the one back-propagated from layer 1, z_0
            if l == 0 and self._shared and self._idx is not None:  # one-hot: the bound gather and scatter below
                self._fwd.append(("shared", None, scale, h))
                self._bwd.append(("shared", None, back))
                continue
            if l == 0 and self._shared:  # all copies in one product on flat views [K n_1, M], [K n_1, aug(D)]
                wb, gwb = self._wb, self._gwb
                self._fwd.append(("shared", (wb[:, :, :n_in], W.transpose(1, 2), wb[:, :, n_in], b,
                                             z.view(-1, M), wb.view(-1, wb.shape[2])), scale, h))
                # its gradient [aug(D), K n_1] = [x; 1; 0] @ delta_flat^T (1.2x to 1.7x faster than
                # delta_flat @ [x; 1; 0]^T here), copied into grad's [W_1; b_1] blocks
                self._bwd.append(("shared", (gwb, z.view(-1, M).T, gblock, gwb[: n_in + 1].view(n_in + 1, K, n_out).transpose(0, 1)),
                                  back))
                continue
            # [W_l; b_l] is one [n_in + 1, n_out] block of theta (and of grad): z_l = block^T @ [h; 1]
            # (no copy of the weights) and the gradient's block = [h; 1] @ delta^T (this product order
            # runs 1.3x faster than delta @ [h; 1]^T on this CPU) into a contiguous buffer, then one copy
            # into grad (a product written straight into grad's strided block runs 3x slower on small layers)
            a_prev = self._a[l][:, : n_in + 1]  # [K, n_in + 1, M]: per-copy inputs or a hidden layer
            block = self.theta[:, rows].view(K, n_in + 1, n_out)
            self._fwd.append(("block", (z, block.transpose(1, 2), a_prev), scale, h))
            d = self._delta if l == n_layers - 1 else self._z[l]  # delta_l (z_l's buffer below the output)
            self._bwd.append(("block", (torch.empty(K, n_in + 1, n_out, dtype=self.grad.dtype, device=self.device),
                                        gblock, a_prev, d.transpose(1, 2)), back))
        if self._idx is not None:  # the one-hot first layer's two kernel calls, bound once to the buffers
            (W, b), (gW, gb) = self._layers[0], self._glayers[0]
            hidden = n_layers > 1
            self._gather = bound_gather(self._idx, W, b, 1.0, self._a[1][:, : self.sizes[1]] if hidden else self._z[0],
                                        tanh=hidden)
            # with a hidden layer, the tanh's derivative is taken in the scatter's pass (see the backward)
            self._scatter = bound_scatter(self._idx, self._z[0] if hidden else self._delta, 1.0 if hidden else 1.0 / self.N,
                                          gW, gb, self._a[1][:, : self.sizes[1]] if hidden else None)
        # the cross-entropy's one-pass kernel, bound once: L into self._loss, delta into self._e
        self._fused = (bound_fused_loss(self._z[-1], self._q, self._n, 1.0 / self.N, self._e, self._loss)
                       if self.loss_pass == "fused" else None)

    def _rowdot(self, a: torch.Tensor, b: torch.Tensor, out: torch.Tensor, scratch: torch.Tensor) -> torch.Tensor:
        """out[k] = <a[k], b[k]> over all other axes (b may be shared: leading axis 1).

        An elementwise product and a per-row sum, so that copy k's value is summed in
        the same order whatever K is (a matrix-vector product would block by K).
        """
        torch.mul(a, b, out=scratch)
        return torch.sum(scratch.view(self.K, -1), 1, out=out)

    def _torch_loss(self, L: torch.Tensor) -> None:
        """L [K] and the loss's delta (into ``self._delta``) from the logits, as torch's passes (class docstring)."""
        z = self._z[-1]
        mx, ssum, tmp, col = self._col
        if self.loss == "cross_entropy":
            self._rowdot(z, self._q, self._parts[1], self._e)  # sum <Q_m, z_m>
        torch.amax(z, 1, keepdim=True, out=mx)
        e = torch.sub(z, mx, out=self._e)
        e.exp_()
        torch.sum(e, 1, keepdim=True, out=ssum)
        if self.loss == "cross_entropy":
            lse = torch.log(ssum, out=tmp).add_(mx)
            self._rowdot(lse, self._n, self._parts[0], col)  # sum n_m lse_m
            torch.sub(self._parts[0], self._parts[1], out=L).mul_(self._inv_n)
            e.mul_(torch.div(self._n, ssum, out=tmp))  # n_m softmax
            e.sub_(self._q)
        else:  # brier
            p = e.div_(ssum)
            r = torch.mul(p, self._n, out=self._r).sub_(self._q)  # r = n p - Q
            self._rowdot(p, r, self._parts[0], z)  # sum n p^2 - <p, Q>
            self._rowdot(p, self._q, self._parts[1], z)
            torch.sub(self._parts[0], self._parts[1], out=L).add_(self._q_const).mul_(self._inv_n)
            pr = torch.sum(torch.mul(p, r, out=z), 1, keepdim=True, out=tmp)
            r.sub_(pr).mul_(p).mul_(self._two)

    def loss_and_gradient(self, loss_out: torch.Tensor | None = None) -> torch.Tensor:
        """L(theta) [K] (written into ``loss_out`` when given) and dL/dtheta into ``self.grad``.

        Formulas in the class docstring (the base objective of definitions.md). Runs without
        autograd (entering ``torch.no_grad`` only when the caller has not: the training loop
        already has, and the context manager costs about 2 us a call).

        Example:
            >>> net = PopulationMLP((2, 1, 2), torch.eye(2, dtype=torch.float64), torch.tensor([0, 0]), 1)
            >>> net.theta.zero_()[0, -2] = 1.0  # b_out = (1, 0): p(token 0) = e / (e + 1)
            >>> bool(np.isclose(float(net.loss_and_gradient()[0]), np.log1p(np.exp(-1.0)), rtol=1e-15))
            True
        """
        if torch.is_grad_enabled():
            with torch.no_grad():
                return self._loss_and_gradient(loss_out)
        return self._loss_and_gradient(loss_out)

    def _loss_and_gradient(self, loss_out: torch.Tensor | None) -> torch.Tensor:
        L = self._loss if loss_out is None else loss_out
        # forward: z_l = [W_l; b_l]^T @ [h_{l-1}; 1]; hidden ones doubled: tanh(z) = 2 sigmoid(2 z) - 1,
        # two to three times faster than torch.tanh on this CPU and equal to it within rounding
        for kind, views, scale, h in self._fwd:
            if kind == "shared":
                if self._idx is not None:  # one-hot inputs: rows of W_1 gathered, no product; h = tanh(z) at once
                    self._gather(torch.get_num_threads())
                    continue
                wbW, Wt, wbb, b, zp, wb = views
                wbW.copy_(Wt)
                wbb.copy_(b)
                torch.addmm(zp, wb, self._a0, beta=0.0, alpha=scale, out=zp)
                z = self._z[0]
            else:
                z, blockT, a_prev = views
                torch.baddbmm(z, blockT, a_prev, beta=0.0, alpha=scale, out=z)
            if h is not None:
                torch.sigmoid(z, out=h)
                h.mul_(self._two).sub_(self._one)  # tanh = 2 sigmoid(2 z) - 1
        if self._fused is not None:  # softmax, L and delta in one pass over the logits
            self._fused(torch.get_num_threads())
            if loss_out is not None:
                loss_out.copy_(self._loss)
        else:
            self._torch_loss(L)
        # backward: [dW_l; db_l] = [h_{l-1}; 1] @ delta_l^T, delta_{l-1} = (W_l delta_l) (1 - h^2)
        d = self._delta
        a = 1.0 / self.N
        for kind, views, back in reversed(self._bwd):
            if kind == "shared":
                if self._idx is not None:  # one-hot inputs: delta columns added into the rows of dW_1
                    self._scatter(torch.get_num_threads())
                else:
                    gwbT, d_flatT, gblock, gwbT_blocks = views
                    torch.addmm(gwbT, self._a0, d_flatT, beta=0.0, alpha=a, out=gwbT)
                    gblock.copy_(gwbT_blocks)
            else:
                gbuf, gblock, a_prev, dT = views
                torch.baddbmm(gbuf, a_prev, dT, beta=0.0, alpha=a, out=gbuf)
                gblock.copy_(gbuf)
            if back is not None:
                dh, W, h_prev = back
                torch.baddbmm(dh, W, d, beta=0.0, alpha=a, out=dh)
                if h_prev is not None:
                    torch.ops.aten.tanh_backward.grad_input(dh, h_prev, grad_input=dh)
                d = dh
                a = 1.0
        return L
