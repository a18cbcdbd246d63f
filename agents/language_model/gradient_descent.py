"""Full-batch gradient descent on the MLP language model: the leaf of seed 000.

    theta_{t+1} = theta_t - eps_t * s_k * grad L(theta_t)

for every copy k of a population at once (``s_k`` a per-copy multiplier of the
schedule eps_t). Each step records the base objective L (mean cross-entropy) and the
two offered true objectives of gradient descent (definitions.md, "The true objective of
gradient descent"):

    G(t)  = sum_i (dL/dtheta_i (theta_t))^2     squared gradient norm (the default)
    G1(t) = sum_i |dL/dtheta_i (theta_t)|       L1 sum of the gradient
"""

from __future__ import annotations

from typing import Optional, Union

import attrs
import numpy as np
import torch

from hierarchy.errors import ParameterError
from hierarchy.memory import check_memory, total_memory
from hierarchy.protocol import Progress
from hierarchy.trajectory import Trajectory

from agents.language_model.markov import TokenDataset, context_index
from agents.language_model.fused_loss import LOSS_PASSES
from agents.language_model.one_hot import FIRST_LAYERS
from agents.language_model.mlp import (PopulationMLP, check_loss, describe_loss, init_parameters, layer_sizes, parameter_count,
                  parameter_layout, torch_dtype)
from agents.language_model.schedules import Decay, Schedule, describe, schedule_values
from agents.devices import check_device
from agents.language_model.compiled import BLOCK, CompiledSteps
from agents.language_model.kernel import KERNEL_BLOCK, KernelSteps
from agents.language_model.lane_kernel import LaneSteps, refuse_loss
from agents.training import GradientTransformation, sgd, train
from agents.training.loop import PROGRESS_EVERY, divergence_rule, train_blocks
from hierarchy.seeding import as_seed, children

__all__ = ["GradientDescent", "descend", "PROGRESS_EVERY", "CHUNK_MEMORY_FRACTION", "ENGINES"]

#: The engines a run can use (:class:`GradientDescent` ``engine``).
ENGINES = ("eager", "compiled", "kernel", "lanes")

#: The engines that run blocks of steps in one call, with their steps per call by default.
BLOCK_ENGINES = {"compiled": BLOCK, "kernel": KERNEL_BLOCK, "lanes": KERNEL_BLOCK}

#: The share of this machine's memory (:func:`hierarchy.memory.total_memory`) a run's
#: per-copy working memory may take at once; a population needing more runs in chunks of
#: copies (:meth:`GradientDescent.chunk_size`).
CHUNK_MEMORY_FRACTION = 0.5

#: The eager engine on the CPU runs at most this many bytes of copies' working memory at once (the
#: copies' activations, :meth:`GradientDescent.copy_memory` in the run's dtype): a larger population
#: runs in chunks of that many copies, one after the other. Each chunk's passes then stay in the
#: processor's caches instead of streaming every activation through memory: the mid-size model of
#: ``benchmarks/peers.py`` (hidden 128, 2048 rows, float32, 4.7 MB a copy) at K = 256 ran 1.42x faster
#: on one thread in chunks of 4 copies and 1.27x on two in chunks of 8 (2 to 16 all faster than one
#: population; docs/performance.md). Small models (the scenarios') fit whole.
CACHE_CHUNK_BYTES = 32 * 2**20


def cache_chunk(copy_memory: float, dtype="float64") -> int:
    """The most copies the eager engine runs at once on the CPU: max(1, floor(B / (copy_memory x itemsize / 8))).

    B = :data:`CACHE_CHUNK_BYTES`; ``copy_memory`` is a copy's working memory counted in float64
    (:meth:`GradientDescent.copy_memory`), itemsize the bytes of a number of ``dtype``.

    Examples
    --------
    >>> cache_chunk(9.4e6, "float32"), cache_chunk(9.4e6, "float64"), cache_chunk(1e9)
    (7, 3, 1)
    """
    itemsize = torch.empty((), dtype=torch_dtype(dtype)).element_size()
    return int(max(1.0, CACHE_CHUNK_BYTES // (float(copy_memory) * itemsize / 8)))


#: Per-copy datasets run on the union of their contexts as shared inputs (one product for
#: the first layer of every copy, each copy's counts zero on the contexts it lacks: the
#: same L and gradient) when the union has at most this many times the rows of the largest
#: dataset; otherwise each copy keeps its own rows (a batched product per layer).
SHARED_CONTEXTS = 1.25


def _as_data(value):
    if isinstance(value, TokenDataset):
        return value
    if isinstance(value, (list, tuple)):
        return tuple(value)
    raise ParameterError(f"data={type(value).__name__}; give a TokenDataset or a tuple of K TokenDatasets (one per copy)")


def _as_hidden(value) -> tuple:
    if isinstance(value, (int, np.integer)):
        value = (value,)
    try:
        return tuple(int(h) for h in value)
    except (TypeError, ValueError):
        raise ParameterError(f"hidden={value!r}; give a tuple of layer widths such as (3,) or (8, 8)") from None


def _optional_array(value):
    return None if value is None else np.array(value, dtype=np.float64)


@attrs.frozen(eq=False)
class GradientDescent:
    """A population of K copies of full-batch gradient descent on the MLP language model.

    Fields:
        data: a TokenDataset shared by all copies, or a tuple of K TokenDatasets (equal
            N and vocab and order: a family of dataset perturbations run as one population).
        hidden: hidden-layer widths (tanh units).
        schedule: learning-rate schedule eps_t (``agents.language_model.schedules``).
        population: K, the number of copies.
        init_scale: weights of layer l ~ N(0, init_scale**2 / fan_in), biases 0.
        init: optional [K, P] flat parameters replacing the random start (layout:
            ``agents.language_model.mlp.parameter_layout``: W_1 row-major [n_0, n_1], b_1, W_2, b_2, ...).
        lr_scale: optional per-copy multipliers s_k [K] of the schedule (positive).
        dtype: "float64" or "float32".
        record_true: record the true objectives G and G1 (False: only L).
        loss: the objective trained on and recorded as L: "cross_entropy" (default) or
            "brier" (``agents.language_model.mlp``); G and G1 are then the gradient sizes of that L.
        label_smoothing: s in [0, 1): targets (1 - s) * onehot + s / V (0: plain one-hot).
        threads: torch intra-op threads for the run (set at its start, restored at its
            end; torch's setting is process-wide); None leaves torch's setting. Default
            1: the per-step work of these models is small, and on a busy 2-core machine
            two threads made the default workload 10 to 30 times slower. Give 2 (or
            None) for wide models on an idle machine.
        engine: "eager" (default): the hand-written engine through the one loop, a few tensor
            operations a step; "compiled": blocks of ``block`` steps compiled into one program
            by ``torch.compile`` (:mod:`agents.language_model.compiled`; needs a C++ compiler;
            the first run of a shape compiles for 10 to 60 s), which removes the per-step fixed
            cost and pays for long runs of small models; the same numbers to float rounding.
            "kernel": blocks of ``block`` steps in a hand-written C++ kernel, every copy's steps
            start to end on one thread (:mod:`agents.language_model.kernel`; needs a C++
            compiler, about 3 s to build once per machine; CPU only), the fastest for small
            models and few copies (the BLAS wins on wide ones); the same numbers to float
            rounding. "lanes": the same in a C++ kernel that runs 16 copies at once (8 in
            float64), one copy a vector lane (:mod:`agents.language_model.lane_kernel`; CPU,
            cross-entropy, copies sharing their data), the fastest from 16 copies of small
            models; the same numbers to float rounding. The block engines run plain gradient
            descent only (a subclass with its own :meth:`optimizer` runs eager).
        block: steps per call with engine="compiled", "kernel" or "lanes"; None (default): the
            engine's own (8 compiled, 128 kernel and lanes).
        first_layer: how the eager engine computes the first layer of the one-hot contexts:
            "auto" (default): gathers and scatters of W_1's rows in a C++ kernel
            (:mod:`agents.language_model.one_hot`) for inputs of at least 32 features (vocab x
            order) shared by the copies on the CPU, else the matrix product; "gather"; "product".
            The same numbers to float rounding; ``meta["first_layer"]`` says which ran.
        loss_pass: how the eager engine computes the softmax, L and the loss's delta: "auto"
            (default): the cross-entropy in one pass of a C++ kernel
            (:mod:`agents.language_model.fused_loss`) on the CPU for vocabularies of at least 32
            tokens, else torch's passes; "fused"; "torch". The same numbers to float rounding;
            ``meta["loss_pass"]`` says which ran.
        device: where the copies train: "cpu" (default), "cuda" or "cuda:N" (the engine's
            buffers, the parameters, the optimizer's state and the records all stay on it; the
            trajectory comes back to the CPU). A GPU pays for wide models and large K; the
            numbers equal the CPU's to float rounding.

    Examples sharing a context are merged before the run (``TokenDataset.context_counts``):
    the same L and gradient, with up to N / M times less work for M distinct contexts.

    Divergence: a copy whose L or G (L alone when ``record_true`` is False) turns
    non-finite at step t, or whose L runs away without overflowing (the log-sum-exp is
    stable and tanh bounded, so a too-large learning rate makes L grow to 1e300 and beyond
    with every value finite): L(t) > L(0) + 1e4 * max(|L(0)|, 1) (the one loop's rule,
    ``agents.training.loop``), stops moving (its update is masked; no other copy is
    touched), ``diverged_at[k] = t``, and all its values from t on are NaN. The rule in
    words is the trajectory's ``meta["divergence"]``.

    Example:
        >>> from agents.language_model.markov import MarkovChain
        >>> data = MarkovChain.random(8, 2, 0.3, seed=0).sample(64, seed=1)
        >>> gd = GradientDescent(data, hidden=(3,), population=2)
        >>> tr = gd.run(50, np.random.SeedSequence(0))
        >>> tr["L"].shape, bool(np.all(tr["L"][:, -1] < tr["L"][:, 0])), gd.records
        ((2, 51), True, ('L', 'G', 'G1'))
    """

    data: Union[TokenDataset, tuple] = attrs.field(converter=_as_data)
    hidden: tuple = attrs.field(default=(3,), converter=_as_hidden)
    schedule: Schedule = attrs.field(default=Decay(1.0, 2000.0))
    population: int = 1
    init_scale: float = 1.0
    init: Optional[np.ndarray] = attrs.field(default=None, converter=_optional_array)
    lr_scale: Optional[np.ndarray] = attrs.field(default=None, converter=_optional_array)
    dtype: str = "float64"
    record_true: bool = True
    loss: str = "cross_entropy"
    label_smoothing: float = 0.0
    threads: Optional[int] = 1
    engine: str = "eager"
    block: Optional[int] = None
    device: str = "cpu"
    first_layer: str = "auto"
    loss_pass: str = "auto"

    def __attrs_post_init__(self):
        check_loss(self.loss, self.label_smoothing)
        if self.first_layer not in FIRST_LAYERS:
            raise ParameterError(f"first_layer={self.first_layer!r}; choose one of {', '.join(FIRST_LAYERS)}",
                                 parameter="first_layer")
        if self.first_layer == "gather" and self.device != "cpu":
            raise ParameterError(f"first_layer='gather' runs on the CPU, not on {self.device}; use first_layer='auto' "
                                 f"(the product there)", parameter="first_layer")
        if self.loss_pass not in LOSS_PASSES:
            raise ParameterError(f"loss_pass={self.loss_pass!r}; choose one of {', '.join(LOSS_PASSES)}",
                                 parameter="loss_pass")
        if self.loss_pass == "fused" and (self.device != "cpu" or self.loss != "cross_entropy"):
            raise ParameterError(f"loss_pass='fused' computes the cross-entropy on the CPU, but this run is the "
                                 f"{self.loss} on {self.device}; use loss_pass='auto' (torch's passes there)", parameter="loss_pass")
        check_device(self.device)
        if self.engine not in ENGINES:
            raise ParameterError(f"engine={self.engine!r}; choose one of {', '.join(ENGINES)}", parameter="engine")
        if self.engine in BLOCK_ENGINES and not self.chunkable():
            raise ParameterError(f"engine={self.engine!r} runs plain gradient descent, but {type(self).__name__} has its own "
                                 f"optimizer; use engine='eager'", parameter="engine")
        if self.engine == "lanes":
            refuse_loss(self.loss)
        if self.engine in ("kernel", "lanes") and self.device != "cpu":
            raise ParameterError(f"engine={self.engine!r} runs on the CPU, not on {self.device}; use engine='eager' on a GPU",
                                 parameter="engine")
        if self.block is not None and (isinstance(self.block, bool) or not isinstance(self.block, (int, np.integer))
                                       or self.block < 1):
            raise ParameterError(f"block={self.block!r}; give a positive number of steps per call, such as "
                                 f"{BLOCK_ENGINES.get(self.engine, BLOCK)} (or None for the engine's own)", parameter="block")
        if self.threads is not None and (not isinstance(self.threads, (int, np.integer)) or self.threads < 1):
            raise ParameterError(f"threads={self.threads!r}; give a positive number of torch threads, or None for torch's setting")
        K = self.population
        if not isinstance(K, (int, np.integer)) or K < 1:
            raise ParameterError(f"population={K!r}; give a positive integer number of copies")
        if isinstance(self.data, tuple):
            if len(self.data) != K:
                raise ParameterError(
                    f"{len(self.data)} datasets for population={K}; give one dataset per copy (set population={len(self.data)})"
                )
            if not all(isinstance(d, TokenDataset) for d in self.data):
                raise ParameterError("data holds something other than TokenDatasets; give a tuple of TokenDataset")
            first = self.data[0]
            for d in self.data[1:]:
                if (d.N, d.vocab, d.order) != (first.N, first.vocab, first.order):
                    raise ParameterError(
                        f"datasets differ in (N, vocab, order): {(first.N, first.vocab, first.order)} vs {(d.N, d.vocab, d.order)}; "
                        f"a population needs equal N, vocab and order (sample the same number of examples from each)"
                    )
        layer_sizes(1, self.hidden, 1)  # validates the widths
        torch_dtype(self.dtype)
        if not np.isfinite(self.init_scale) or self.init_scale < 0:
            raise ParameterError(f"init_scale={self.init_scale!r}; give a non-negative finite number such as 1.0")
        P = self.parameter_count()
        if self.init is not None and self.init.shape != (K, P):
            raise ParameterError(
                f"init has shape {self.init.shape}; this model needs [population, parameters] = [{K}, {P}] (see parameter_layout)"
            )
        if self.init is not None and not np.all(np.isfinite(self.init)):
            raise ParameterError("init holds NaN or inf; give finite starting parameters")
        if self.lr_scale is not None:
            if self.lr_scale.shape != (K,):
                raise ParameterError(f"lr_scale has shape {self.lr_scale.shape}; give one multiplier per copy, shape ({K},)")
            if not np.all(np.isfinite(self.lr_scale) & (self.lr_scale > 0)):
                raise ParameterError("lr_scale has a non-positive or non-finite entry; every learning-rate multiplier must be > 0")
        if not callable(self.schedule):
            raise ParameterError(f"schedule={self.schedule!r}; give Constant(lr), Decay(lr0, tau) or a function of the step")
        self.check_memory(0)

    # -- memory ------------------------------------------------------------------------
    def memory(self, steps: int = 0, chunk: Optional[int] = None) -> float:
        """Estimated bytes a run of ``steps`` steps holds at once (a lower bound; float, so huge sizes do not overflow).

        Parameters [K, P] (start, trained copy, gradient, |g| scratch, final copy: 6 x 8
        bytes each), the merged data (at most min(N, vocab^order) distinct contexts per
        dataset, inputs and counts), the layer activations and their gradients [C, M, width]
        (x 3) of the C copies that run at once (:meth:`copy_memory` each; C = the chunk),
        and the records: [K, steps + 1] per recorded objective in the run's dtype, in
        float64 and as the trajectory's arrays (x 3), and the learning rates.

        Parameters
        ----------
        steps : int
            The run's steps (0: what building the population alone needs).
        chunk : int, optional
            Copies run at once (default :meth:`chunk_size`).

        Returns
        -------
        float

        Examples
        --------
        >>> from agents.language_model.markov import TokenDataset
        >>> d = TokenDataset(np.array([[0, 1]]), np.array([1]), vocab=8)
        >>> gd = GradientDescent(d, hidden=(3,), population=2)
        >>> gd.memory(10) > gd.memory(0) > 0
        True
        """
        C = float(min(self.population, self.chunk_size(steps) if chunk is None else chunk))
        return self._fixed_memory(steps) + C * self.copy_memory()

    def _fixed_memory(self, steps: int) -> float:
        """The part of :meth:`memory` that does not shrink with the chunk (parameters, data, records)."""
        K, P = float(self.population), float(self.parameter_count())
        d = self.datasets[0]
        M = float(min(d.N, d.vocab ** d.order))
        D, V = float(d.order * d.vocab), float(d.vocab)
        params = 6 * 8 * K * P
        data = 2 * 8 * len(self.datasets) * M * (D + V)
        records = 3 * 8 * K * (steps + 1.0) * len(self.records) + 2 * 8 * (steps + 1.0)
        return params + data + records

    def copy_memory(self) -> float:
        """Working bytes one copy needs while it runs: its activations and their gradients, 3 x 8 M (sum hidden + V).

        M = min(N, vocab^order), the most distinct contexts of a dataset.

        Returns
        -------
        float

        Examples
        --------
        >>> from agents.language_model.markov import TokenDataset
        >>> d = TokenDataset(np.array([[0, 1]]), np.array([1]), vocab=8)
        >>> GradientDescent(d, hidden=(3,)).copy_memory()  # 3 * 8 * 1 * (3 + 8)
        264.0
        """
        d = self.datasets[0]
        M = float(min(d.N, d.vocab ** d.order))
        return 3 * 8 * M * (sum(float(h) for h in self.hidden) + float(d.vocab))

    def chunk_size(self, steps: int = 0) -> int:
        """Copies that run at once by default: K, or fewer when K copies' working memory would not fit
        in memory, or (the eager engine on the CPU) in the caches.

        C = min(K, max(1, floor((f * total - fixed) / copy))) with f = :data:`CHUNK_MEMORY_FRACTION`,
        total this machine's memory (:func:`hierarchy.memory.total_memory`), fixed the memory
        that does not shrink with the chunk (parameters, data, records of ``steps`` steps) and
        copy = :meth:`copy_memory`; for the eager engine on the CPU also at most
        max(1, floor(:data:`CACHE_CHUNK_BYTES` / (copy x itemsize / 8))), the copies whose
        activations in the run's dtype fit that budget. K when the memory is unknown, and K for a subclass with
        its own :meth:`optimizer` (its update may couple copies or draw per-copy noise from
        the whole population's seeds, so it cannot be cut into chunks here).

        Parameters
        ----------
        steps : int
            The run's steps.

        Returns
        -------
        int

        Examples
        --------
        >>> from agents.language_model.markov import TokenDataset
        >>> d = TokenDataset(np.array([[0, 1]]), np.array([1]), vocab=8)
        >>> GradientDescent(d, population=3).chunk_size(10)  # three tiny copies fit at once
        3
        """
        K = int(self.population)
        if not self.chunkable():
            return K
        fits = float(cache_chunk(self.copy_memory(), self.dtype)) if self.engine == "eager" and self.device == "cpu" else K
        total = total_memory()
        if total is not None:
            room = CHUNK_MEMORY_FRACTION * total - self._fixed_memory(steps)
            fits = min(fits, max(1.0, room // self.copy_memory()))
        return int(min(K, fits))

    def chunkable(self) -> bool:
        """Whether a run may be cut into chunks of copies: True unless a subclass replaces :meth:`optimizer`.

        Returns
        -------
        bool

        Examples
        --------
        >>> from agents.language_model.markov import TokenDataset
        >>> GradientDescent(TokenDataset(np.array([[0]]), np.array([1]), 2)).chunkable()
        True
        """
        return type(self).optimizer is GradientDescent.optimizer

    def check_memory(self, steps: int = 0, chunk: Optional[int] = None) -> None:
        """Refuse, in one line, a population (``steps`` 0) or a run that cannot fit in memory (:meth:`memory`).

        ``chunk``: the copies that run at once (default :meth:`chunk_size`).

        Raises
        ------
        ParameterError
            Saying how much the run needs and how much there is, and what to shrink.

        Examples
        --------
        >>> from agents.language_model.markov import TokenDataset
        >>> d = TokenDataset(np.array([[0, 1]]), np.array([1]), vocab=8)
        >>> GradientDescent(d).check_memory(100)
        """
        K, P = self.population, self.parameter_count()
        if steps:
            what = f"a run of {steps} steps of {K} copies ({P} parameters each)"
            fix = "run fewer steps, or fewer or smaller copies"
        else:
            what = f"{K} copies of an MLP of {P} parameters (hidden {self.hidden}) on {self.datasets[0].N} examples"
            fix = "use fewer copies, narrower layers or fewer examples"
        check_memory(self.memory(steps, chunk), what, fix, parameter="steps" if steps else None)

    # -- shape of the model ------------------------------------------------------------
    @property
    def datasets(self) -> tuple:
        """The dataset of each copy's task as a tuple (one shared dataset: a 1-tuple)."""
        return self.data if isinstance(self.data, tuple) else (self.data,)

    @property
    def sizes(self) -> tuple:
        """Layer widths (order * vocab, *hidden, vocab)."""
        d = self.datasets[0]
        return layer_sizes(d.order * d.vocab, self.hidden, d.vocab)

    @property
    def records(self) -> tuple:
        """Objectives this leaf records: ("L", "G", "G1"), or ("L",) with record_true=False."""
        return ("L", "G", "G1") if self.record_true else ("L",)

    def parameter_count(self) -> int:
        """P = sum_l (n_{l-1} + 1) n_l, the parameters of one copy (``agents.language_model.mlp.parameter_count``).

        Example:
            >>> from agents.language_model.markov import TokenDataset
            >>> d = TokenDataset(np.array([[0, 1]]), np.array([1]), vocab=8)
            >>> GradientDescent(d, hidden=(3,)).parameter_count()  # (16 + 1) * 3 + (3 + 1) * 8
            83
        """
        return parameter_count(self.sizes)

    def initial_parameters(self, seed) -> np.ndarray:
        """Starting parameters [K, P]: ``init`` if given, else copy k drawn from child k of ``seed``.

        Child k is ``children(seed, K)[k]`` (= a fresh ``seed.spawn(K)[k]``), so copy
        k's start does not depend on K. Rule: ``agents.language_model.mlp.init_parameters``.

        Example:
            >>> from agents.language_model.markov import MarkovChain
            >>> data = MarkovChain.random(8, 2, 0.3, seed=0).sample(64, seed=1)
            >>> a = GradientDescent(data, population=3).initial_parameters(5)
            >>> b = GradientDescent(data, population=1).initial_parameters(5)
            >>> a.shape, bool(np.array_equal(a[:1], b))
            ((3, 83), True)
        """
        if self.init is not None:
            return self.init.copy()
        return init_parameters(self.sizes, children(seed, self.population), self.init_scale)

    # -- running -----------------------------------------------------------------------
    def _network(self, lo: int = 0, hi: Optional[int] = None) -> PopulationMLP:
        """The engine of copies lo .. hi - 1 (default all) on each copy's distinct contexts with their next-token counts.

        Examples sharing a context are merged (``TokenDataset.context_counts``): the same
        L and gradient as the example-by-example sum, with up to N / M times less work.
        Per-copy datasets run on the union of all K datasets' contexts as shared inputs, each
        copy's counts zero on the contexts it lacks (a row with no example adds nothing to L
        or to the gradient), when the union has at most :data:`SHARED_CONTEXTS` times the rows
        of the largest dataset: the first layer of all copies is then one matrix product,
        3 to 4 times cheaper than K small batched ones (seed 000's 16 x 8 x ... datasets of
        vocabulary 8 and order 2 share almost all 64 contexts). Otherwise they are padded to
        a common number of rows with zero counts. Either way the rows are taken over all K
        datasets, so a chunk's rows are the full run's.
        """
        hi = self.population if hi is None else hi
        ds = self.datasets
        V = ds[0].vocab
        parts = [d.context_counts() for d in ds]
        M = max(c.shape[0] for c, _ in parts)
        if len(ds) > 1:  # per-copy datasets: on the contexts they share, when there are few more of them
            all_ctx = np.concatenate([c for c, _ in parts])
            union, first, inverse = np.unique(context_index(all_ctx, V), return_index=True, return_inverse=True)
            if union.size <= SHARED_CONTEXTS * M:
                x = TokenDataset(all_ctx[first], np.zeros(union.size, dtype=np.int64), V).inputs(np.float64)
                counts = np.zeros((hi - lo, union.size, V))
                ends = np.cumsum([c.shape[0] for c, _ in parts])
                for i in range(lo, hi):  # once per run, not on the step path
                    counts[i - lo, inverse.reshape(-1)[ends[i] - parts[i][0].shape[0]:ends[i]]] = parts[i][1]
                return PopulationMLP(self.sizes, torch.from_numpy(x), torch.from_numpy(counts), hi - lo, self.dtype,
                                     self.loss, self.label_smoothing, self.device, self.first_layer, self.loss_pass)
        shared = len(ds) == 1  # per-copy data stays per copy in a chunk of one
        if not shared:
            ds, parts = ds[lo:hi], parts[lo:hi]
        xs = np.zeros((len(ds), M, ds[0].order * V))
        counts = np.zeros((len(ds), M, V))
        for i, (ctx, cnt) in enumerate(parts):  # once per run, not on the step path
            m = ctx.shape[0]
            xs[i, :m] = TokenDataset(ctx, np.zeros(m, dtype=np.int64), V).inputs(np.float64)
            counts[i, :m] = cnt
        if shared:
            x, c = torch.from_numpy(xs[0]), torch.from_numpy(counts[0])
        else:
            x, c = torch.from_numpy(xs), torch.from_numpy(counts)
        return PopulationMLP(self.sizes, x, c, hi - lo, self.dtype, self.loss, self.label_smoothing, self.device,
                             self.first_layer, self.loss_pass)

    def optimizer(self, seed: np.random.SeedSequence, steps: int, lrs: np.ndarray) -> GradientTransformation:
        """The update rule: ``sgd(lrs, lr_scale)``, theta <- theta - eps_t * s_k * grad L.

        A variant of gradient descent is another optimizer value (annealing chains its
        jumps after this one: :class:`~agents.language_model.annealing.Annealing`).

        Parameters
        ----------
        seed : numpy.random.SeedSequence
            The run's seed (unused here: plain gradient descent draws nothing after its start).
        steps : int
            The run's number of steps.
        lrs : numpy.ndarray
            eps_0 .. eps_{steps - 1}.

        Returns
        -------
        GradientTransformation

        Examples
        --------
        >>> from agents.language_model.markov import TokenDataset
        >>> d = TokenDataset(np.array([[0]]), np.array([1]), 2)
        >>> str(GradientDescent(d).optimizer(np.random.SeedSequence(0), 3, np.ones(3)))
        'sgd'
        """
        return sgd(lrs, self.lr_scale)

    def run(self, steps: int, seed, progress: Progress = None, chunk: Optional[int] = None) -> Trajectory:
        """Run ``steps`` steps of every copy; values [K, steps + 1] of L (and G, G1).

        ``chunk``: the most copies that run at once (None: :meth:`chunk_size`, all K unless
        their working memory would not fit). Chunks run one after the other, each its own
        engine of copies lo .. hi - 1 with their own starts, datasets and lr_scale, so every
        copy computes what it computes in one population; a batched product may round a
        copy's numbers differently in the last bits with the number of copies beside it
        (agreement within 1e-12 relative in float64; bitwise for reruns with the same chunk). With the
        number of copies fixed, a copy's numbers do not depend on the other copies' values, bit for
        bit on one machine: every sum is over the copy's own entries, and a diverged copy is masked.
        ``progress`` counts the steps of all chunks, K_chunk / K of a step per step of a chunk.

        Index t holds the objectives at the parameters after t updates (index 0: the
        start; the last index needs one more forward and backward pass). Per-copy
        metadata (``copy_meta``, sliced by ``select``): initial_parameters and
        final_parameters [K, P]. Meta (the run's): schedule (its description),
        learning_rates (eps_0 .. eps_steps), hidden, layout, population, lr_scale,
        init_scale, dtype, device, engine, first_layer and loss_pass (the eager engine's: "gather" or
        "product", "fused" or "torch";
        None for a block engine), loss, conditional_entropy (per dataset) and optimum (the
        same: the lowest L any model of the context can reach, when L is the plain
        cross-entropy; None otherwise), seed.

        Example:
            >>> from agents.language_model.markov import MarkovChain
            >>> data = MarkovChain.random(8, 2, 0.3, seed=0).sample(64, seed=1)
            >>> tr = GradientDescent(data).run(3, np.random.SeedSequence(0))
            >>> sorted(tr.values), tr.T, tr.copy_meta["final_parameters"].shape
            (['G', 'G1', 'L'], 4, (1, 83))
        """
        if not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ParameterError(f"steps={steps!r}; give a positive integer number of steps")
        steps = int(steps)
        K = self.population
        if chunk is None:
            chunk = self.chunk_size(steps)
        elif isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
            raise ParameterError(f"chunk={chunk!r}; give a positive number of copies to run at once, or None (automatic)",
                                 parameter="chunk")
        elif chunk < K and not self.chunkable():
            raise ParameterError(f"chunk={chunk} < population={K}, but {type(self).__name__} has its own optimizer, which "
                                 f"sees the whole population; run it unchunked (chunk=None)", parameter="chunk")
        chunk = int(min(chunk, K))
        self.check_memory(steps, chunk)
        seed = as_seed(seed)
        lrs = schedule_values(self.schedule, steps + 1)  # eps_T too: jump rules may compare with it
        theta0 = self.initial_parameters(seed)
        before = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(int(self.threads))
        try:
            if chunk == K:
                net = self._network()
                passes = (net.first_layer, net.loss_pass)
                values, diverged_at, theta_final = descend(
                    net, theta0, lrs[:steps], self.lr_scale, steps, self.record_true, progress,
                    self.optimizer(seed, steps, lrs), self._block())
                del net
            else:
                values, diverged_at, theta_final, passes = self._run_chunks(steps, lrs, theta0, chunk, progress)
        finally:
            if self.threads is not None:
                torch.set_num_threads(before)
        entropy = np.array([d.conditional_entropy() for d in self.datasets])
        meta = {
            "schedule": describe(self.schedule),
            "learning_rates": lrs,
            "hidden": self.hidden,
            "layout": parameter_layout(self.sizes),
            "population": self.population,
            "lr_scale": None if self.lr_scale is None else self.lr_scale.copy(),
            "init_scale": self.init_scale,
            "dtype": self.dtype,
            "device": self.device,
            "engine": self.engine,
            "first_layer": passes[0] if self.engine == "eager" else None,
            "loss_pass": passes[1] if self.engine == "eager" else None,
            "loss": describe_loss(self.loss, self.label_smoothing),
            "conditional_entropy": entropy,
            "optimum": entropy if (self.loss == "cross_entropy" and self.label_smoothing == 0) else None,
            "seed": (seed.entropy, tuple(seed.spawn_key)),
            "divergence": divergence_rule(record_true=self.record_true),
        }
        copy_meta = {"initial_parameters": theta0, "final_parameters": theta_final}
        return Trajectory(values, diverged_at=diverged_at, meta=meta, copy_meta=copy_meta)

    def _block(self) -> Optional[tuple]:
        """(engine, steps per call) of a block engine ("compiled", "kernel", "lanes"), None for the eager engine."""
        if self.engine not in BLOCK_ENGINES:
            return None
        return self.engine, int(self.block) if self.block is not None else BLOCK_ENGINES[self.engine]

    def _run_chunks(self, steps: int, lrs: np.ndarray, theta0: np.ndarray, chunk: int, progress: Progress):
        """Copies lo .. hi - 1, ``chunk`` at a time, each chunk an engine and an ``sgd`` of its own; results joined."""
        K = self.population
        parts, passes = [], None
        for lo in range(0, K, chunk):
            hi = min(K, lo + chunk)
            scale = None if self.lr_scale is None else self.lr_scale[lo:hi]
            report = None
            if progress is not None:
                def report(t, lo=lo, hi=hi):  # cumulative, in whole steps of the full population
                    progress(int((lo * steps + (hi - lo) * t) // K))
            net = self._network(lo, hi)
            passes = passes or (net.first_layer, net.loss_pass)
            parts.append(descend(net, theta0[lo:hi], lrs[:steps], scale, steps, self.record_true, report,
                                 sgd(lrs, scale), self._block()))
            del net  # free this chunk's buffers before the next one is built
        values = {n: np.concatenate([p[0][n] for p in parts]) for n in parts[0][0]}
        return values, np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts]), passes


def descend(
    net: PopulationMLP,
    theta0: np.ndarray,
    lrs: np.ndarray,
    lr_scale: Optional[np.ndarray],
    steps: int,
    record_true: bool = True,
    progress: Progress = None,
    optimizer: Optional[GradientTransformation] = None,
    block: Optional[tuple] = None,
):
    """Train the engine's K copies through the one loop (:func:`agents.training.train`).

    The step function is the engine's hand-written batched forward and backward
    (``net.loss_and_gradient``); the optimizer is ``sgd(lrs, lr_scale)``,
    theta_{t+1} = theta_t - lrs[t] * lr_scale * grad L(theta_t), unless ``optimizer`` is given.

    Parameters
    ----------
    net : PopulationMLP
        The engine; its ``theta`` is set to ``theta0`` and trained in place.
    theta0 : numpy.ndarray
        Starting parameters [K, P].
    lrs : numpy.ndarray
        eps_0 .. eps_{steps - 1} (used by the default optimizer).
    lr_scale : numpy.ndarray or None
        Per-copy multipliers s_k [K] of the default optimizer (None: ones).
    steps : int
        Number of updates.
    record_true : bool
        Record G = |grad|_2^2 and G1 = |grad|_1 next to L.
    progress : callable, optional
        Called with the number of steps done, every ``PROGRESS_EVERY`` steps and after the last.
    optimizer : GradientTransformation, optional
        Replaces ``sgd(lrs, lr_scale)`` (e.g. with annealing's jumps chained after it).
    block : tuple, optional
        (engine, S): run ``sgd(lrs, lr_scale)`` in blocks of S steps a call, ``"compiled"``
        (:class:`~agents.language_model.compiled.CompiledSteps`), ``"kernel"``
        (:class:`~agents.language_model.kernel.KernelSteps`) or ``"lanes"``
        (:class:`~agents.language_model.lane_kernel.LaneSteps`), through
        :func:`agents.training.loop.train_blocks` (``optimizer`` is then not used: it must be
        that same sgd). None: the eager engine, step by step.

    Returns
    -------
    tuple
        (values {name: [K, steps + 1] float64}, diverged_at [K] int64, final theta [K, P]).
        A copy whose L or G (L alone without ``record_true``) is not finite stops moving;
        its values from that step on are NaN (:func:`agents.training.train`).

    Raises
    ------
    ParameterError
        When ``theta0`` is not [K, P] for this engine.

    Examples
    --------
    >>> net = PopulationMLP((4, 2, 4), torch.eye(4, dtype=torch.float64), torch.tensor([1, 2, 3, 0]), 1)
    >>> theta0 = init_parameters((4, 2, 4), [np.random.SeedSequence(0)])
    >>> values, dead, theta = descend(net, theta0, np.full(5, 0.5), None, 5)
    >>> values["L"].shape, dead.tolist(), bool(values["L"][0, -1] < values["L"][0, 0])
    ((1, 6), [-1], True)
    """
    K, P = net.K, net.P
    theta0 = np.asarray(theta0, dtype=np.float64)
    if theta0.shape != (K, P):
        raise ParameterError(f"starting parameters have shape {theta0.shape}; the engine needs [{K}, {P}]")
    if block is not None:
        engine, S = block
        steps_fn = {"compiled": CompiledSteps, "kernel": KernelSteps, "lanes": LaneSteps}[engine](net, S, record_true)
        result = train_blocks(steps_fn, torch.from_numpy(theta0).to(net.device, net.theta.dtype),
                              lrs, steps, scale=lr_scale, record_true=record_true, progress=progress)
        return result.values, result.diverged_at, result.params
    net.theta.copy_(torch.from_numpy(theta0))
    grad = net.grad

    def step(params, t, loss_out):  # the hand-written batched forward and backward, L written into the loop's record
        return net.loss_and_gradient(loss_out), grad

    opt = sgd(lrs, lr_scale) if optimizer is None else optimizer
    result = train(step, net.theta, opt, steps, record_true=record_true, progress=progress,
                   donate_grad=True, loss_buffer=True)
    return result.values, result.diverged_at, result.params
