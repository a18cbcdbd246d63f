"""A leaf for any torch model: K copies of a user's ``nn.Module`` trained through the one loop.

    theta^k_{t+1} = theta^k_t + s_k * (u^k_t - w_k * theta^k_t),   k = 0 .. K-1

with u_t the optimizer's update (an ``agents.training`` value, or a ``torch.optim`` class
run on the flat [K, P] tensor), s_k the per-copy learning-rate multiplier (``lr_scale``)
and w_k the per-copy decoupled weight decay (``weight_decay``, a fraction of theta per
step; to match ``adamw(lr, w)`` at a constant rate give lr * w). The base objective is
the mean per-example loss L = (1/N) sum_n l(f_theta(x_n), y_n)
(:mod:`agents.torch_training.losses`); every step records L and the true objectives of
gradient descent (definitions.md, "The true objective of gradient descent")

    G(t) = sum_i (dL/dtheta_i)^2,    G1(t) = sum_i |dL/dtheta_i|,

the optimizer's own true objective when it has one (momentum's ``G_momentum``, Adam's
``G_adam``: :mod:`agents.training.true_objectives`), the squared update size
U(t) = |theta_{t+1} - theta_t|^2 (``record_update``), and every objective asked for on the
same states (held-out loss, 0-1 error, accuracy: index t is the parameters after t
updates). Divergence and runaway are the loop's (:func:`agents.training.loop.divergence_rule`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Callable, Optional

import attrs
import numpy as np
import torch

from hierarchy.errors import LeafError, MesastackError, ParameterError
from hierarchy.memory import check_memory
from hierarchy.protocol import Progress
from hierarchy.seeding import as_seed, children, named_seed
from hierarchy.trajectory import Trajectory

from agents.devices import check_device
from agents.language_model.mlp import torch_dtype
from agents.threads import torch_threads
from agents.torch_training.batched import BatchedEngine
from agents.torch_training.factory import build
from agents.torch_training.fallback import LoopEngine
from agents.torch_training.flat import Layout
from agents.torch_training.losses import (BUILTIN_OBJECTIVES, HELDOUT_OBJECTIVES, check_loss, describe_loss,
                                          loss_function, zero_one_error)
from agents.torch_training.torch_optim import check_torch_optimizer, from_torch_optim
from agents.training import (GradientTransformation, add_decayed_weights, chain, scale, scale_per_copy, sgd, train)
from agents.training.true_objectives import describe as describe_true

__all__ = ["TorchLeaf", "ENGINES", "RESERVED"]

#: The engines a leaf can run on ("auto": batched, else the per-copy loop with a warning).
ENGINES = ("auto", "vmap", "loop")

#: Record names the loop keeps (an objective may not take one).
RESERVED = ("L", "G", "G1", "U")


def _pair(value, what: str) -> tuple:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ParameterError(f"{what} is {type(value).__name__}; give a pair (x, y) of torch tensors or numpy arrays",
                             parameter=what)
    out = []
    for v in value:
        if isinstance(v, torch.Tensor):
            out.append(v.detach())
        else:
            try:
                out.append(torch.as_tensor(np.asarray(v)))
            except (TypeError, ValueError, RuntimeError):
                raise ParameterError(f"{what} holds {type(v).__name__}; give torch tensors or numpy arrays", parameter=what) from None
    x, y = out
    if x.dim() < 1 or y.dim() < 1 or x.shape[0] != y.shape[0] or x.shape[0] < 1:
        raise ParameterError(f"{what} has inputs of shape {tuple(x.shape)} and targets of shape {tuple(y.shape)}; give as "
                             f"many targets as inputs (first axis: examples, at least one)", parameter=what)
    return x, y


def _as_data(value) -> tuple:
    if isinstance(value, (tuple, list)) and value and all(isinstance(v, (tuple, list)) for v in value):
        return tuple(_pair(v, "data") for v in value)
    return _pair(value, "data")


def _as_heldout(value):
    return None if value is None else _pair(value, "heldout")


def _as_objectives(value) -> tuple:
    if value is None:
        return ()
    if isinstance(value, str):
        value = (value,)
    if isinstance(value, Mapping):
        value = tuple(value.items())
    out = []
    for item in value:
        if isinstance(item, str):
            out.append((item, None))
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            out.append((item[0], item[1]))
        else:
            raise ParameterError(f"objectives holds {item!r}; give names such as 'E_test' or a mapping name -> "
                                 f"function(outputs, targets) -> scalar", parameter="objectives")
    return tuple(out)


def _as_hidden(value):
    if value is None:
        return None
    if isinstance(value, (int, np.integer)):
        value = (value,)
    try:
        h = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ParameterError(f"hidden={value!r}; give a tuple of layer widths such as (32,), or None", parameter="hidden") from None
    if not h or min(h) < 1:
        raise ParameterError(f"hidden={value!r}; give positive layer widths such as (32,) or (8, 8)", parameter="hidden")
    return h


def _optional_array(value):
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.array(value, dtype=np.float64)


def _scalar_or_array(value):
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value)
    return _optional_array(value)


def _per_copy(name: str, value, K: int, positive: bool) -> None:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 1 and arr.shape != (K,):
        raise ParameterError(f"{name} has shape {arr.shape}; give one number per copy, shape ({K},), or one number",
                             parameter=name)
    if arr.ndim > 1:
        raise ParameterError(f"{name} has shape {arr.shape}; give one number per copy, shape ({K},), or one number",
                             parameter=name)
    ok = np.isfinite(arr) & ((arr > 0) if positive else (arr >= 0))
    if not np.all(ok):
        want = "positive" if positive else "non-negative"
        raise ParameterError(f"{name} has an entry that is not a {want} finite number; every {name} must be {want} and finite",
                             parameter=name)


def _is_float(t: torch.Tensor) -> bool:
    return t.is_floating_point()


def _every_copy(fn):
    """``fn(outputs, targets) -> scalar`` of one copy, evaluated for every copy: ``outputs`` [K, m, ...] -> [K].

    Batched by ``torch.func.vmap`` when ``fn`` allows it (decided on the first call); a function
    vmap cannot trace (``float()``, ``.item()``, numpy) is called copy by copy.
    """
    batched = torch.func.vmap(lambda out, y: torch.as_tensor(fn(out, y), dtype=out.dtype), in_dims=(0, None))
    mode = []

    def every_copy(outputs, targets):
        if not mode:
            try:
                value = batched(outputs, targets)
                if tuple(value.shape) == (outputs.shape[0],):
                    mode.append("vmap")
                    return value.to(torch.float64)
            except Exception:  # vmap cannot trace it: one call per copy
                pass
            mode.append("loop")
        if mode[0] == "vmap":
            return batched(outputs, targets).to(torch.float64)
        return torch.tensor([float(fn(outputs[k], targets)) for k in range(outputs.shape[0])], dtype=torch.float64)

    return every_copy


@attrs.frozen(eq=False)
class TorchLeaf:
    """K copies of a user's torch model, trained as one batched run (module docstring).

    Parameters
    ----------
    model : callable
        Factory returning a fresh ``torch.nn.Module``: called ``model()``, or ``model(hidden=hidden)``
        when ``hidden`` is not None. Copy k's start is the factory's own initialization drawn
        from child k of the run's seed (:mod:`agents.torch_training.factory`), times ``init_scale[k]``.
    data : pair or tuple of K pairs
        ``(x_train, y_train)`` (torch tensors or numpy arrays; first axis: examples) shared by
        every copy, or one pair per copy (equal shapes).
    loss : str or callable
        "cross_entropy" (integer targets), "mse", "brier", or ``loss(outputs [n, ...], targets [n]) -> [n]``.
    heldout : pair, optional
        ``(x_test, y_test)`` for the held-out objectives.
    objectives : sequence of str, or mapping name -> callable
        Evaluated on the states every step and recorded under their names: "L_test",
        "E_test", "A_test", "E_train" (:mod:`agents.torch_training.losses`), or
        ``name -> fn(outputs [m, ...], targets [m]) -> scalar`` on the held-out data, per copy.
    optimizer : GradientTransformation, type or functools.partial
        ``sgd(0.1)`` (default), ``momentum(...)``, ``adam(...)``, ``adamw(...)``, ``chain(...)``,
        or an elementwise torch.optim class (:mod:`agents.torch_training.torch_optim`).
    population : int
        K.
    hidden : tuple of int, optional
        The factory's ``hidden=`` (the Capacity perturbation sets it).
    init : array-like, optional
        An explicit start [K, P] in the layout of :class:`~agents.torch_training.flat.Layout`.
    init_scale : float or array-like
        Multiplier of each copy's factory start (one number or K).
    lr_scale : array-like, optional
        Per-copy multipliers s_k > 0 of the whole step (``scale_per_copy``: exact per-copy
        learning rates for sgd, momentum, Adam and the accepted torch optimizers, whose step
        is proportional to the rate).
    weight_decay : float or array-like, optional
        Per-copy decoupled weight decay w_k >= 0 per step (module docstring). The decayed
        optimizer stops where its update u - w theta vanishes, not where its own true
        objective (``G_adam``, ``G_momentum``) does, so that one is not recorded then: U is.
    label_smoothing : float
        s in [0, 1) for cross_entropy and brier.
    dtype : str
        "float64" (default: a dead ReLU network's G ~ 1e-33 stays visible) or "float32".
    device : str
        "cpu", or "cuda" / "cuda:N" when a GPU is there: the passes, the parameters, the
        optimizer's state and the records all stay there (the one loop keeps its buffers on the
        parameters' device); the trajectory comes back to the CPU.
    threads : int or None
        Torch threads for the run, set and restored (``agents.threads.torch_threads``).
        Default 1, by measurement (``benchmarks/torch_leaf.py``, 64 -> 32 -> 2 MLP, 253
        examples, float64, 2-core machines): under load (load average 2.5) two threads were
        slower at every K = 1, 16, 64, 256, by 2.2 to 3.7 times on the batched engine and 3.9
        to 15 times on the loop; on a quiet machine (load average 1) they were 1.5 to 1.7
        times faster on the batched engine from K = 16 up and no faster at K = 1. One thread
        is the choice that never loses badly; give ``threads=2`` (or None: torch's setting)
        for large K on an idle machine.
    record_update : bool
        Record U = |theta_{t+1} - theta_t|^2 (``train(record_update=True)``).
    engine : str
        "auto" (batched by ``torch.func.vmap``, falling back to the per-copy loop with one
        warning saying why; one copy runs on the loop, plain autograd, which measured about
        twice as fast as vmap at K = 1: ``benchmarks/torch_leaf.py``), "vmap" or "loop".

    Raises
    ------
    ParameterError
        From ``__attrs_post_init__``, in one line, for every malformed argument.

    Examples
    --------
    >>> from torch import nn
    >>> x = torch.linspace(-1, 1, 20, dtype=torch.float64).unsqueeze(1); y = (x[:, 0] > 0).long()
    >>> leaf = TorchLeaf(lambda: nn.Linear(1, 2), (x, y), population=3, objectives=("E_train",))
    >>> tr = leaf.run(30, 0)
    >>> leaf.records, tr["L"].shape, bool((tr["L"][:, -1] < tr["L"][:, 0]).all())
    (('L', 'G', 'G1', 'U', 'E_train'), (3, 31), True)
    """

    model: Callable
    data: tuple = attrs.field(converter=_as_data)
    loss: Any = "cross_entropy"
    heldout: Optional[tuple] = attrs.field(default=None, converter=_as_heldout)
    objectives: tuple = attrs.field(default=(), converter=_as_objectives)
    optimizer: Any = attrs.field(factory=lambda: sgd(0.1))
    population: int = 1
    hidden: Optional[tuple] = attrs.field(default=None, converter=_as_hidden)
    init: Optional[np.ndarray] = attrs.field(default=None, converter=_optional_array)
    init_scale: Any = attrs.field(default=1.0, converter=_scalar_or_array)
    lr_scale: Optional[np.ndarray] = attrs.field(default=None, converter=_optional_array)
    weight_decay: Any = attrs.field(default=None, converter=lambda v: None if v is None else _scalar_or_array(v))
    label_smoothing: float = 0.0
    dtype: str = "float64"
    device: str = "cpu"
    threads: Optional[int] = 1
    record_update: bool = True
    engine: str = "auto"
    _template: Any = attrs.field(init=False, repr=False, default=None)
    _layout: Any = attrs.field(init=False, repr=False, default=None)
    _out_size: int = attrs.field(init=False, repr=False, default=1)

    # -- validation ----------------------------------------------------------------------
    def __attrs_post_init__(self):
        K = self.population
        if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 1:
            raise ParameterError(f"population={K!r}; give a positive integer number of copies", parameter="population")
        if not callable(self.model):
            raise ParameterError(f"model={self.model!r}; give a factory (a callable returning a fresh torch.nn.Module), "
                                 f"e.g. lambda: nn.Linear(4, 2)", parameter="model")
        if self.per_copy_data:
            if len(self.data) != K:
                raise ParameterError(f"{len(self.data)} datasets for population={K}; give one (x, y) pair per copy "
                                     f"(or set population={len(self.data)})", parameter="data")
            first = self.data[0]
            for x, y in self.data[1:]:
                if (x.shape, y.shape, x.dtype, y.dtype) != (first[0].shape, first[1].shape, first[0].dtype, first[1].dtype):
                    raise ParameterError(f"per-copy datasets differ in shape or dtype: {tuple(first[0].shape)} vs "
                                         f"{tuple(x.shape)}; give every copy as many examples of the same shape",
                                         parameter="data")
        x, y = self.train_pair
        if self.heldout is not None and self.heldout[0].shape[1:] != x.shape[1:]:
            raise ParameterError(f"heldout inputs have shape {tuple(self.heldout[0].shape)}, the training inputs "
                                 f"{tuple(x.shape)}; give held-out examples of the same shape", parameter="heldout")
        check_loss(self.loss, self.label_smoothing)
        if self.loss in ("cross_entropy", "brier") and (y.is_floating_point() or y.is_complex()):
            raise ParameterError(f"loss={self.loss!r} needs integer class targets, the training targets are {y.dtype}; "
                                 f"give y as class indices (e.g. y.long())", parameter="data")
        self._check_objectives(y)
        if not isinstance(self.optimizer, GradientTransformation):
            check_torch_optimizer(self.optimizer)
        torch_dtype(self.dtype)
        self._check_device()
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, (int, np.integer))
                                         or self.threads < 1):
            raise ParameterError(f"threads={self.threads!r}; give a positive number of torch threads, or None for torch's "
                                 f"setting", parameter="threads")
        if self.engine not in ENGINES:
            raise ParameterError(f"engine={self.engine!r}; choose one of {', '.join(ENGINES)}", parameter="engine")
        if not isinstance(self.record_update, bool):
            raise ParameterError(f"record_update={self.record_update!r}; give True or False", parameter="record_update")
        _per_copy("init_scale", self.init_scale, K, positive=False)
        if self.lr_scale is not None:
            _per_copy("lr_scale", self.lr_scale, K, positive=True)
            if self.lr_scale.ndim == 0:
                raise ParameterError(f"lr_scale={float(self.lr_scale)!r}; give one multiplier per copy, shape ({K},)",
                                     parameter="lr_scale")
        if self.weight_decay is not None:
            _per_copy("weight_decay", self.weight_decay, K, positive=False)
        template = build(self.model, self.hidden, named_seed(0, "torch-leaf template"))
        layout = Layout.of(template)
        object.__setattr__(self, "_template", template)
        object.__setattr__(self, "_layout", layout)
        P = layout.P
        if self.init is not None:
            if self.init.shape != (K, P):
                raise ParameterError(f"init has shape {self.init.shape}; this model needs [population, parameters] = "
                                     f"[{K}, {P}] (named_parameters() order, each flattened)", parameter="init")
            if not np.all(np.isfinite(self.init)):
                raise ParameterError("init holds NaN or inf; give finite starting parameters", parameter="init")
        self._probe()
        self.check_memory(0)

    def _check_objectives(self, y: torch.Tensor) -> None:
        names = [n for n, _ in self.objectives]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ParameterError(f"objective {dup[0]!r} is asked for twice; name each objective once", parameter="objectives")
        for name, fn in self.objectives:
            if name in RESERVED:
                raise ParameterError(f"objective name {name!r} is a record the loop keeps; name it something else",
                                     parameter="objectives")
            if fn is None:
                if name not in BUILTIN_OBJECTIVES:
                    raise ParameterError(f"objective {name!r} is not built in; choose one of {', '.join(BUILTIN_OBJECTIVES)}, "
                                         f"or give a mapping name -> function(outputs, targets)", parameter="objectives")
                if name in HELDOUT_OBJECTIVES and self.heldout is None:
                    raise ParameterError(f"objective {name!r} needs held-out data; give heldout=(x_test, y_test)",
                                         parameter="heldout")
                targets = y if name == "E_train" else (self.heldout[1] if self.heldout is not None else y)
                if name != "L_test" and (targets.is_floating_point() or targets.is_complex()):
                    raise ParameterError(f"objective {name!r} counts misclassified examples and needs integer class "
                                         f"targets, not {targets.dtype}; give class indices", parameter="objectives")
            else:
                if not callable(fn):
                    raise ParameterError(f"objective {name!r} is {fn!r}; give a function (outputs, targets) -> scalar",
                                         parameter="objectives")
                if self.heldout is None:
                    raise ParameterError(f"objective {name!r} is evaluated on held-out data; give heldout=(x_test, y_test)",
                                         parameter="heldout")

    def _check_device(self) -> None:
        check_device(self.device)

    def _probe(self) -> None:
        """One forward of the template on a few training examples (its buffers untouched), refusing a misfit in one line."""
        x, y = self._prepared(self.train_pair)
        module = self._template_on_device()
        fwd_buffers = {n: b.clone() for n, b in module.named_buffers()}
        try:
            with torch.no_grad():
                out = torch.func.functional_call(module, ({**dict(module.named_parameters()), **fwd_buffers}),
                                                 (x[: min(len(x), 8)],))
                per = loss_function(self.loss, self.label_smoothing)(out, y[: min(len(x), 8)])
        except MesastackError:
            raise
        except Exception as exc:  # a user's model or loss not fitting the data, in one line
            raise ParameterError(f"the model does not run on the training data: {type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0] if str(exc) else ''}; fix the model, the data's shapes or the "
                                 f"loss", parameter="model") from None
        object.__setattr__(self, "_out_size", int(np.prod(out.shape[1:], dtype=np.int64)) if isinstance(out, torch.Tensor) else 1)
        if not isinstance(per, torch.Tensor) or tuple(per.shape) != (min(len(x), 8),):
            raise ParameterError(f"the loss returned shape {tuple(getattr(per, 'shape', ()))} for "
                                 f"{min(len(x), 8)} examples; a loss must return one value per example", parameter="loss")

    # -- shapes --------------------------------------------------------------------------
    @property
    def per_copy_data(self) -> bool:
        """Whether ``data`` holds one (x, y) pair per copy.

        Returns
        -------
        bool

        Examples
        --------
        >>> leaf = TorchLeaf(lambda: torch.nn.Linear(1, 2), (torch.zeros(4, 1), torch.zeros(4, dtype=torch.long)))
        >>> leaf.per_copy_data
        False
        """
        return isinstance(self.data[0], tuple)

    @property
    def train_pair(self) -> tuple:
        """The first (x, y) training pair (the shared one, or copy 0's).

        Returns
        -------
        tuple

        Examples
        --------
        >>> leaf = TorchLeaf(lambda: torch.nn.Linear(1, 2), (torch.zeros(4, 1), torch.zeros(4, dtype=torch.long)))
        >>> tuple(leaf.train_pair[0].shape)
        (4, 1)
        """
        return self.data[0] if self.per_copy_data else self.data

    @property
    def layout(self) -> Layout:
        """The flat layout of one copy's parameters (``named_parameters()`` order).

        Returns
        -------
        Layout

        Examples
        --------
        >>> TorchLeaf(lambda: torch.nn.Linear(1, 2), (torch.zeros(4, 1), torch.zeros(4, dtype=torch.long))).layout.names
        ('weight', 'bias')
        """
        return self._layout

    @property
    def deterministic(self) -> bool:
        """True when the start is explicit (``init``): nothing is then drawn, every seed gives the same run.

        Returns
        -------
        bool

        Examples
        --------
        >>> TorchLeaf(lambda: torch.nn.Linear(1, 2), (torch.zeros(4, 1), torch.zeros(4, dtype=torch.long))).deterministic
        False
        """
        return self.init is not None

    @property
    def records(self) -> tuple:
        """The recorded names, known before any run: L, G, G1, the optimizer's true objective, U, the objectives.

        Returns
        -------
        tuple of str

        Examples
        --------
        >>> from agents.training import adam
        >>> d = (torch.zeros(4, 1), torch.zeros(4, dtype=torch.long))
        >>> TorchLeaf(lambda: torch.nn.Linear(1, 2), d, optimizer=adam(1e-2), objectives=("E_train",)).records
        ('L', 'G', 'G1', 'G_adam', 'U', 'E_train')
        """
        true = getattr(self._optimizer(), "true_objective", None)
        return (("L", "G", "G1") + ((true.name,) if true is not None else ()) + (("U",) if self.record_update else ())
                + tuple(n for n, _ in self.objectives))

    def parameter_count(self) -> int:
        """P: the numbers in one copy's flat row (sum of the named parameters' numels).

        Returns
        -------
        int

        Examples
        --------
        >>> TorchLeaf(lambda: torch.nn.Linear(3, 2), (torch.zeros(4, 3), torch.zeros(4, dtype=torch.long))).parameter_count()
        8
        """
        return self._layout.P

    # -- memory ----------------------------------------------------------------------------
    def memory(self, steps: int = 0) -> float:
        """Estimated bytes a run of ``steps`` steps holds at once (a lower bound, as a float).

        Parameters [K, P] (start, trained copy, gradient, |g| scratch, optimizer state and
        buffers, final copy: 10 x 8 bytes each), the data (per copy when given so), the
        outputs on the training and held-out data [K, n + m, out] (x 3: forward, backward,
        records), and the records: [K, steps + 1] per recorded name, in the run's dtype,
        in float64 and as the trajectory's arrays (x 3).

        Parameters
        ----------
        steps : int
            The run's steps (0: what building the leaf alone needs).

        Returns
        -------
        float

        Examples
        --------
        >>> leaf = TorchLeaf(lambda: torch.nn.Linear(3, 2), (torch.zeros(4, 3), torch.zeros(4, dtype=torch.long)))
        >>> leaf.memory(10) > leaf.memory(0) > 0
        True
        """
        K, P = float(self.population), float(self.parameter_count())
        pairs = self.data if self.per_copy_data else (self.data,)
        data = sum(float(x.numel() * x.element_size() + y.numel() * y.element_size()) for x, y in pairs)
        x, y = self.train_pair
        m = 0.0 if self.heldout is None else float(self.heldout[0].shape[0])
        outputs = 3 * 8 * K * (float(x.shape[0]) + m) * float(self._out_size)
        records = 3 * 8 * K * (steps + 1.0) * (len(self.objectives) + 5)
        return 10 * 8 * K * P + data + outputs + records

    def check_memory(self, steps: int = 0) -> None:
        """Refuse, in one line, a population (``steps`` 0) or a run that cannot fit in memory (:meth:`memory`).

        Parameters
        ----------
        steps : int

        Returns
        -------
        None

        Raises
        ------
        ParameterError
            Saying how much it needs, how much there is, and what to shrink.

        Examples
        --------
        >>> TorchLeaf(lambda: torch.nn.Linear(3, 2), (torch.zeros(4, 3), torch.zeros(4, dtype=torch.long))).check_memory(100)
        """
        K, P = self.population, self.parameter_count()
        if steps:
            what, fix = f"a run of {steps} steps of {K} copies ({P} parameters each)", "run fewer steps, or fewer or smaller copies"
        else:
            what, fix = f"{K} copies of a model of {P} parameters on {self.train_pair[0].shape[0]} examples", \
                "use fewer copies, a smaller model or fewer examples"
        check_memory(self.memory(steps), what, fix, parameter="steps" if steps else "population")

    # -- parameters ------------------------------------------------------------------------
    def initial_parameters(self, seed) -> np.ndarray:
        """The start [K, P]: ``init`` if given, else copy k = init_scale[k] * the factory's start from child k of ``seed``.

        Child k is ``children(seed, K)[k]``, so copy k's start does not depend on K.

        Parameters
        ----------
        seed : int or numpy.random.SeedSequence

        Returns
        -------
        numpy.ndarray
            float64 [K, P].

        Examples
        --------
        >>> d = (torch.zeros(4, 3), torch.zeros(4, dtype=torch.long))
        >>> a = TorchLeaf(lambda: torch.nn.Linear(3, 2), d, population=3).initial_parameters(5)
        >>> b = TorchLeaf(lambda: torch.nn.Linear(3, 2), d, population=1).initial_parameters(5)
        >>> a.shape, bool(np.array_equal(a[:1], b))
        ((3, 8), True)
        """
        if self.init is not None:
            return self.init.copy()
        K = self.population
        rows = np.stack([self._layout.flatten(build(self.model, self.hidden, c)) for c in children(as_seed(seed), K)])
        scale_k = np.broadcast_to(np.asarray(self.init_scale, dtype=np.float64), (K,))
        return rows * scale_k[:, None]

    def module(self, params_row) -> torch.nn.Module:
        """A fresh module (from the factory, on the CPU, in the leaf's dtype) holding one copy's parameters.

        Parameters
        ----------
        params_row : array-like
            [P], e.g. ``tr.copy_meta["final_parameters"][k]``.

        Returns
        -------
        torch.nn.Module

        Raises
        ------
        ParameterError
            When the row does not hold P numbers.

        Examples
        --------
        >>> leaf = TorchLeaf(lambda: torch.nn.Linear(1, 2), (torch.zeros(4, 1), torch.zeros(4, dtype=torch.long)))
        >>> leaf.module([1.0, 2.0, 3.0, 4.0]).bias.tolist()
        [3.0, 4.0]
        """
        m = build(self.model, self.hidden, 0).to(torch_dtype(self.dtype))
        return self._layout.load(m, params_row)

    # -- running -----------------------------------------------------------------------------
    def _template_on_device(self) -> torch.nn.Module:
        return self._template.to(device=self.device, dtype=torch_dtype(self.dtype))

    def _prepared(self, pair) -> tuple:
        dt = torch_dtype(self.dtype)
        x, y = pair
        x = x.to(self.device, dt) if _is_float(x) else x.to(self.device)
        if y.is_floating_point() or self.loss == "mse":
            y = y.to(self.device, dt)
        else:
            y = y.to(self.device)
        return x, y

    def _optimizer(self) -> GradientTransformation:
        """The update rule: the optimizer (a torch.optim class adapted), then the decay, then s_k (module docstring)."""
        opt = self.optimizer if isinstance(self.optimizer, GradientTransformation) else from_torch_optim(self.optimizer)
        parts = [opt]
        if self.weight_decay is not None:
            w = self.weight_decay if isinstance(self.weight_decay, float) else np.broadcast_to(
                self.weight_decay, (self.population,)).copy()
            parts += [scale(-1.0), add_decayed_weights(w), scale(-1.0)]  # u - w theta
        if self.lr_scale is not None:
            parts.append(scale_per_copy(self.lr_scale))
        if len(parts) == 1:
            return opt
        out = chain(*parts)
        # with a decay the fixed points are those of u - w theta: the optimizer's own quantity is not its true objective
        return attrs.evolve(out, true_objective=None) if self.weight_decay is not None else out

    def _engines(self):
        module = self._template_on_device()
        loss = loss_function(self.loss, self.label_smoothing)
        if self.per_copy_data:
            prepared = [self._prepared(p) for p in self.data]
            x, y = torch.stack([p[0] for p in prepared]), torch.stack([p[1] for p in prepared])
        else:
            x, y = self._prepared(self.data)
        return module, loss, x, y

    def _choose_engine(self, module, loss, x, y, theta0: torch.Tensor):
        """The engine to run: vmap unless it cannot batch this module (then the loop, with one warning); one copy: the loop."""
        layout, per_copy = self._layout, self.per_copy_data
        if self.engine == "vmap" or (self.engine == "auto" and self.population > 1):
            engine = BatchedEngine(module, layout, loss, x, y, per_copy)
            try:
                engine.loss_and_grad(theta0)
                if self.heldout is not None:
                    engine.outputs(theta0, self._prepared(self.heldout)[0])
                return engine
            except Exception as exc:  # vmap refused: try the loop before blaming the model
                why = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                if self.engine == "vmap":
                    raise LeafError(f"engine='vmap' cannot batch this model ({why}); use engine='auto' or 'loop'") from None
        engine = LoopEngine(module, layout, loss, x, y, per_copy)
        try:
            engine.loss_and_grad(theta0)
        except Exception as exc:  # a user's model failing, in one line
            raise LeafError(f"the model failed on the training data: {type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}; fix the model or the data") from None
        if self.engine == "auto" and self.population > 1:
            warnings.warn(f"TorchLeaf: torch.func.vmap cannot batch this model ({why}); training its copies one by one "
                          f"(engine='loop'), the same numbers, slower", stacklevel=3)
        return engine

    def _step_function(self, engine, x_test, y_test):
        loss = loss_function(self.loss, self.label_smoothing)
        objectives = self.objectives
        want_test = any(n in HELDOUT_OBJECTIVES or fn is not None for n, fn in objectives)
        y_train = engine.y
        custom = {name: _every_copy(fn) for name, fn in objectives if fn is not None}
        flat_y = None  # held-out targets repeated for the K copies, made once

        def step(params, t):
            nonlocal flat_y
            theta = params  # on the run's device: the loop keeps parameters, state and records there
            L, grad, out = engine.loss_and_grad(theta)
            records = {}
            if objectives:
                test = engine.outputs(theta, x_test) if want_test else None
                for name, fn in objectives:
                    if name == "E_train":
                        records[name] = zero_one_error(out, y_train)
                    elif name == "L_test":
                        K, m = test.shape[:2]
                        if flat_y is None:
                            flat_y = y_test.repeat(K, *([1] * (y_test.dim() - 1)))
                        records[name] = loss(test.reshape(K * m, *test.shape[2:]), flat_y).reshape(K, m).mean(1)
                    elif name in ("E_test", "A_test"):
                        e = zero_one_error(test, y_test)
                        records[name] = e if name == "E_test" else 1.0 - e
                    else:
                        records[name] = custom[name](test, y_test)
                records = {n: v.detach().to(torch.float64) for n, v in records.items()}
            return L.detach(), grad, records

        return step

    def run(self, steps: int, seed, progress: Progress = None) -> Trajectory:
        """Train the K copies for ``steps`` steps from ``seed``: values [K, steps + 1] of every name in ``records``.

        Index t holds the values at the parameters after t updates. Meta: loss, optimizer,
        true_objectives (each recorded one's formula), objectives, dtype, device, threads,
        engine (the one used), divergence (the rule), seed, population, hidden, layout,
        init_scale, lr_scale, weight_decay. copy_meta: initial_parameters, final_parameters [K, P].

        Parameters
        ----------
        steps : int
        seed : int or numpy.random.SeedSequence
        progress : callable, optional
            Called with the steps done, as the loop does (:data:`agents.training.PROGRESS_EVERY`).

        Returns
        -------
        Trajectory

        Raises
        ------
        ParameterError
            When ``steps`` is not a positive integer or the run cannot fit in memory.
        LeafError
            When the model fails on the data (``engine='vmap'``: when vmap cannot batch it).

        Examples
        --------
        >>> x = torch.tensor([[1.0], [2.0]], dtype=torch.float64); y = torch.tensor([2.0, 4.0], dtype=torch.float64)
        >>> leaf = TorchLeaf(lambda: torch.nn.Linear(1, 1, bias=False), (x, y), loss="mse", init=[[0.0]])
        >>> tr = leaf.run(50, 0)
        >>> round(float(tr.copy_meta["final_parameters"][0, 0]), 6), tr.meta["engine"]  # L = mean (w x - y)^2: w* = 2
        (2.0, 'loop')
        """
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ParameterError(f"steps={steps!r}; give a positive integer number of steps", parameter="steps")
        steps = int(steps)
        self.check_memory(steps)
        seed = as_seed(seed)
        theta0 = self.initial_parameters(seed)
        dt = torch_dtype(self.dtype)
        optimizer = self._optimizer()
        with torch_threads(self.threads):
            module, _, x, y = self._engines()
            theta = torch.from_numpy(theta0.copy()).to(self.device, dt)
            engine = self._choose_engine(module, loss_function(self.loss, self.label_smoothing), x, y, theta)
            x_test, y_test = self._prepared(self.heldout) if self.heldout is not None else (None, None)
            step = self._step_function(engine, x_test, y_test)
            result = train(step, theta, optimizer, steps, progress=progress, record_update=self.record_update)
        recorded = [n for n in result.values if n not in ("L",) and n not in [o for o, _ in self.objectives]]
        meta = {
            "loss": describe_loss(self.loss, self.label_smoothing),
            "optimizer": str(optimizer),
            "true_objectives": {n: describe_true(n) for n in recorded},
            "objectives": {n: BUILTIN_OBJECTIVES.get(n, "a user's objective on the held-out data") if fn is None
                           else "a user's objective on the held-out data" for n, fn in self.objectives},
            "dtype": self.dtype,
            "device": self.device,
            "threads": self.threads,
            "engine": engine.name,
            "seed": (seed.entropy, tuple(seed.spawn_key)),
            "population": self.population,
            "hidden": self.hidden,
            "layout": tuple(zip(self._layout.names, self._layout.shapes)),
            "init_scale": self.init_scale,
            "lr_scale": None if self.lr_scale is None else self.lr_scale.copy(),
            "weight_decay": self.weight_decay,
        }
        return result.trajectory(meta, {"initial_parameters": theta0})

