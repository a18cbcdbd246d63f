"""Perturbations of a gradient-descent setup, and running a family of them as batched populations.

definitions.md, "Robustness and generalization": a perturbation changes one part of an
optimizer's setup. For a :class:`~agents.language_model.gradient_descent.GradientDescent` (or
:class:`~agents.language_model.annealing.Annealing`) spec:

* dataset: :class:`Resample` (a fresh sample of the same Markov chain), :class:`Shift`
  (the chain's transition matrix moved towards a fresh one by a given amount; by default
  the same examples relabelled by a maximal coupling, so a slight shift is a slight change);
* initialization: :class:`InitNoise` (a seeded random direction of given norm added to
  each copy's start), :class:`InitScale` (the start rescaled);
* learning-rate schedule: :class:`ScaleLR`, :class:`ReplaceSchedule`;
* capacity: :class:`Capacity` (hidden widths and depth; any explicit start is dropped,
  since the shapes change);
* objective: :class:`ChangeObjective` (Brier score or label-smoothed cross-entropy in
  place of the cross-entropy: a generalization, Definition 4).

Each is a frozen value with ``name``, ``kind``, ``describe()`` and ``apply(spec)``
(``hierarchy.perturbation``), and composes with ``+``.

Batching. :func:`plan_batches` groups perturbed specs that differ only in what a
population can hold per copy (its datasets of equal size, its starts, its learning-rate
multipliers) into ONE population; anything else (width, depth, schedule, objective,
jump size) runs separately. :func:`run_family` applies a family to a base spec, runs the
batches and splits the trajectories back per perturbation. Every trial starts from the
same starts as the unperturbed optimizer (drawn once from the run's seed), so a
perturbation that changes nothing reproduces the baseline.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional, Sequence

import attrs
import numpy as np

from hierarchy.errors import ParameterError
from hierarchy.perturbation import Composable, Family, Identity, check_perturbation, evolve_spec
from hierarchy.trajectory import Trajectory

from agents.language_model.markov import MarkovChain, TokenDataset, context_index
from agents.language_model.mlp import check_loss, describe_loss
from agents.language_model.schedules import Constant, Decay, describe
from hierarchy.seeding import as_seed

#: Fields a population holds per copy: specs differing only in these run as one population.
PER_COPY_FIELDS = ("data", "init", "lr_scale", "population", "init_scale")


def _label(value) -> Optional[str]:
    return None if value is None else str(value)


def _seed_text(seed) -> str:
    if isinstance(seed, np.random.SeedSequence):
        return f"{seed.entropy}{list(seed.spawn_key)}"
    return str(seed)


def _n_examples(spec, n) -> int:
    return int(n) if n is not None else spec.datasets[0].N


def _check_chain(chain) -> MarkovChain:
    if not isinstance(chain, MarkovChain):
        raise ParameterError(f"chain={type(chain).__name__}; a dataset perturbation needs the MarkovChain the data came from")
    return chain


def materialize(spec, seed):
    """``spec`` with its starting parameters made explicit: ``init = spec.initial_parameters(seed)``.

    A spec that already has ``init`` is returned as is. Perturbations of the start
    (:class:`InitNoise`) need an explicit start.

    Example:
        >>> from agents.language_model.gradient_descent import GradientDescent
        >>> data = MarkovChain.random(4, 1, 0.5, seed=0).sample(16, seed=1)
        >>> materialize(GradientDescent(data, population=2), 0).init.shape
        (2, 31)
    """
    if getattr(spec, "init", None) is not None:
        return spec
    return evolve_spec(spec, init=spec.initial_parameters(as_seed(seed)))


@attrs.frozen(eq=False)
class Resample(Composable):
    """Dataset: ``n_examples`` fresh examples from the same Markov chain, drawn with ``seed``.

    ``n_examples`` None keeps the spec's number of examples. Every copy gets the new data.

    Example:
        >>> from agents.language_model.gradient_descent import GradientDescent
        >>> chain = MarkovChain.random(4, 1, 0.5, seed=0)
        >>> spec = GradientDescent(chain.sample(16, seed=1))
        >>> p = Resample(chain, seed=2)
        >>> p.name, p.apply(spec).data.N, bool(np.array_equal(p.apply(spec).data.targets, chain.sample(16, 2).targets))
        ('resample 2', 16, True)
    """

    chain: MarkovChain = attrs.field(converter=_check_chain)
    seed: Any = 0
    n_examples: Optional[int] = None
    label: Optional[str] = attrs.field(default=None, converter=_label)
    kind: str = "dataset"

    @property
    def name(self) -> str:
        return self.label or f"resample {_seed_text(self.seed)}"

    def describe(self) -> str:
        n = "the same number of" if self.n_examples is None else str(self.n_examples)
        return f"dataset resampled: {n} examples from the same Markov chain (seed {_seed_text(self.seed)})"

    def apply(self, spec):
        return evolve_spec(spec, data=self.chain.sample(_n_examples(spec, self.n_examples), self.seed))


def coupled_relabel(data: TokenDataset, chain: MarkovChain, shifted: MarkovChain, seed) -> TokenDataset:
    """The examples relabelled to follow ``shifted``, changing as few targets as possible.

    Rule (a maximal coupling, per example n with context c and target y drawn from
    P(. | c)): keep y with probability min(1, P'(y | c) / P(y | c)); otherwise draw a new
    target from the residual (P'(. | c) - P(. | c))_+ normalized. Then the new target
    follows P'(. | c) exactly, and it differs from y with probability TV(P(. | c), P'(. | c)),
    the least any coupling allows. Contexts are kept: only the conditional distribution
    of the next token moves. P' = P keeps every target.

    Example:
        >>> chain = MarkovChain.random(4, 1, 0.5, seed=0)
        >>> data = chain.sample(64, seed=1)
        >>> same = coupled_relabel(data, chain, chain, seed=2)
        >>> bool(np.array_equal(same.targets, data.targets))
        True
    """
    V = chain.vocab
    ctx = context_index(data.contexts, V)
    P, Q = chain.transition[ctx], shifted.transition[ctx]  # rows [N, V]
    y = data.targets
    n = np.arange(data.N)
    p, q = P[n, y], Q[n, y]
    ratio = np.where(p > 0, q / np.where(p > 0, p, 1.0), np.where(q > 0, 1.0, 0.0))
    rng = np.random.default_rng(seed)
    u = rng.random(data.N)
    keep = u < np.minimum(1.0, ratio)
    residual = np.maximum(Q - P, 0.0)
    mass = residual.sum(axis=1, keepdims=True)
    residual = np.where(mass > 0, residual / np.where(mass > 0, mass, 1.0), Q)  # mass 0 only where P' = P (kept)
    cum = np.cumsum(residual, axis=1)
    cum[:, -1] = np.inf
    fresh = (rng.random(data.N)[:, None] >= cum).sum(axis=1)
    return TokenDataset(data.contexts, np.where(keep, y, fresh), V)


@attrs.frozen(eq=False)
class Shift(Composable):
    """Dataset: moved towards the shifted chain (1 - amount) * P + amount * Q (``MarkovChain.shift``).

    ``shift_seed`` draws the fresh rows Q. With ``coupled`` (the default) the spec's own
    examples keep their contexts and their targets are relabelled by
    :func:`coupled_relabel` (seeded by ``seed``): a slight shift changes few targets,
    ``amount = 0`` changes none. With ``coupled=False`` the data is a fresh sample of
    ``n_examples`` from the shifted chain drawn with ``seed`` (a shift plus a resample).

    Example:
        >>> from agents.language_model.gradient_descent import GradientDescent
        >>> chain = MarkovChain.random(4, 1, 0.5, seed=0)
        >>> spec = GradientDescent(chain.sample(64, seed=1))
        >>> same = Shift(chain, 0.0, shift_seed=5).apply(spec).data
        >>> moved = Shift(chain, 0.2, shift_seed=5).apply(spec).data
        >>> bool(np.array_equal(same.targets, spec.data.targets)), 0 < int((moved.targets != spec.data.targets).sum()) < 64
        (True, True)
    """

    chain: MarkovChain = attrs.field(converter=_check_chain)
    amount: float = attrs.field(converter=float)
    shift_seed: Any = 0
    seed: Any = 0
    coupled: bool = True
    n_examples: Optional[int] = None
    label: Optional[str] = attrs.field(default=None, converter=_label)
    kind: str = "dataset"

    def __attrs_post_init__(self):
        if not (math.isfinite(self.amount) and 0.0 <= self.amount <= 1.0):
            raise ParameterError(f"shift amount={self.amount!r}; give a number between 0 (no change) and 1 (a fresh chain)")
        if self.coupled and self.n_examples is not None:
            raise ParameterError("a coupled shift relabels the spec's own examples; drop n_examples or set coupled=False")

    @property
    def name(self) -> str:
        return self.label or f"shift {self.amount:g}"

    def describe(self) -> str:
        how = (f"same contexts, targets relabelled by a maximal coupling (seed {_seed_text(self.seed)})" if self.coupled
               else f"examples drawn afresh from the shifted chain (seed {_seed_text(self.seed)})")
        return (f"dataset shifted: transition (1 - {self.amount:g}) P + {self.amount:g} Q, Q fresh Dirichlet rows "
                f"(seed {_seed_text(self.shift_seed)}); {how}")

    def apply(self, spec):
        shifted = self.chain.shift(self.amount, self.shift_seed)
        if not self.coupled:
            return evolve_spec(spec, data=shifted.sample(_n_examples(spec, self.n_examples), self.seed))
        if isinstance(spec.data, tuple):
            data = tuple(coupled_relabel(d, self.chain, shifted, self.seed) for d in spec.data)
        else:
            data = coupled_relabel(spec.data, self.chain, shifted, self.seed)
        return evolve_spec(spec, data=data)


def _direction(seed, K: int, P: int, norm: float) -> np.ndarray:
    d = np.random.default_rng(seed).standard_normal((K, P))
    return d * (norm / np.linalg.norm(d, axis=1, keepdims=True))


def _positive_finite(name):
    def check(instance, attribute, value):
        if not (math.isfinite(value) and value > 0):
            raise ParameterError(f"{type(instance).__name__}: {name}={value!r}; give a positive finite number")

    return check


def _needs_init(spec, who: str) -> np.ndarray:
    init = getattr(spec, "init", None)
    if init is None:
        raise ParameterError(f"{who} perturbs the start, but the spec has no explicit init; "
                             f"make it explicit first with agents.language_model.perturbations.materialize(spec, seed)")
    return init


@attrs.frozen(eq=False)
class InitNoise(Composable):
    """Initialization: theta_0 + d_k for copy k, d_k a random direction of norm ``norm`` (seeded).

    d_k = norm * z_k / |z_k|, z ~ N(0, I) drawn as [K, P] from ``default_rng(seed)``.
    Needs an explicit start (:func:`materialize`).

    Example:
        >>> from agents.language_model.gradient_descent import GradientDescent
        >>> data = MarkovChain.random(4, 1, 0.5, seed=0).sample(16, seed=1)
        >>> spec = materialize(GradientDescent(data, population=3), 0)
        >>> moved = InitNoise(0.3, seed=1).apply(spec)
        >>> np.linalg.norm(moved.init - spec.init, axis=1).round(12).tolist()
        [0.3, 0.3, 0.3]
    """

    norm: float = attrs.field(converter=float, validator=_positive_finite("norm"))
    seed: Any = 0
    label: Optional[str] = attrs.field(default=None, converter=_label)
    kind: str = "initialization"

    @property
    def name(self) -> str:
        return self.label or f"init +{self.norm:g}"

    def describe(self) -> str:
        return f"start moved by a random direction of norm {self.norm:g} (seed {_seed_text(self.seed)})"

    def apply(self, spec):
        init = _needs_init(spec, "InitNoise")
        return evolve_spec(spec, init=init + _direction(self.seed, *init.shape, self.norm))


@attrs.frozen
class InitScale(Composable):
    """Initialization: the start multiplied by ``factor`` (and ``init_scale`` with it).

    With the default random start (weights ~ N(0, s^2 / fan_in), biases 0) this equals
    drawing the same normals with init_scale s * factor.

    Example:
        >>> from agents.language_model.gradient_descent import GradientDescent
        >>> data = MarkovChain.random(4, 1, 0.5, seed=0).sample(16, seed=1)
        >>> spec = materialize(GradientDescent(data), 0)
        >>> bool(np.allclose(InitScale(2.0).apply(spec).init, 2 * spec.init)), InitScale(2.0).apply(spec).init_scale
        (True, 2.0)
    """

    factor: float = attrs.field(converter=float, validator=_positive_finite("factor"))
    label: Optional[str] = attrs.field(default=None, converter=_label)
    kind: str = "initialization"

    @property
    def name(self) -> str:
        return self.label or f"init x{self.factor:g}"

    def describe(self) -> str:
        return f"start rescaled by {self.factor:g}"

    def apply(self, spec):
        changes = {"init_scale": spec.init_scale * self.factor}
        if getattr(spec, "init", None) is not None:
            changes["init"] = spec.init * self.factor
        return evolve_spec(spec, **changes)


@attrs.frozen
class ScaleLR(Composable):
    """Learning-rate schedule: eps_t -> factor * eps_t for every copy (through ``lr_scale``).

    Example:
        >>> from agents.language_model.gradient_descent import GradientDescent
        >>> data = MarkovChain.random(4, 1, 0.5, seed=0).sample(16, seed=1)
        >>> ScaleLR(2.0).apply(GradientDescent(data, population=2)).lr_scale.tolist()
        [2.0, 2.0]
    """

    factor: float = attrs.field(converter=float, validator=_positive_finite("factor"))
    label: Optional[str] = attrs.field(default=None, converter=_label)
    kind: str = "schedule"

    @property
    def name(self) -> str:
        return self.label or f"lr x{self.factor:g}"

    def describe(self) -> str:
        return f"learning rate multiplied by {self.factor:g} at every step"

    def apply(self, spec):
        base = np.ones(spec.population) if spec.lr_scale is None else spec.lr_scale
        return evolve_spec(spec, lr_scale=base * self.factor)


def _schedule_name(schedule) -> str:
    if isinstance(schedule, Constant):
        return f"constant lr {schedule.lr:g}"
    if isinstance(schedule, Decay):
        return f"decay lr {schedule.lr0:g} tau {schedule.tau:g}"
    return "schedule " + describe(schedule).replace("/", "÷").replace("@", "at")


@attrs.frozen(eq=False)
class ReplaceSchedule(Composable):
    """Learning-rate schedule: replaced by ``schedule`` (e.g. Constant(2.0): optimizer C's).

    Example:
        >>> from agents.language_model.gradient_descent import GradientDescent
        >>> data = MarkovChain.random(4, 1, 0.5, seed=0).sample(16, seed=1)
        >>> p = ReplaceSchedule(Constant(2.0))
        >>> p.name, p.apply(GradientDescent(data)).schedule
        ('constant lr 2', Constant(lr=2.0))
    """

    schedule: Any
    label: Optional[str] = attrs.field(default=None, converter=_label)
    kind: str = "schedule"

    @property
    def name(self) -> str:
        return self.label or _schedule_name(self.schedule)

    def describe(self) -> str:
        return f"learning-rate schedule replaced by {describe(self.schedule)}"

    def apply(self, spec):
        return evolve_spec(spec, schedule=self.schedule)


def _hidden(value) -> tuple:
    if isinstance(value, (int, np.integer)):
        value = (value,)
    h = tuple(int(v) for v in value)
    if not h or min(h) < 1:
        raise ParameterError(f"hidden={value!r}; give positive layer widths such as (6,) or (3, 3)")
    return h


@attrs.frozen
class Capacity(Composable):
    """Capacity: the hidden widths (and so the depth) replaced by ``hidden``.

    The parameter shapes change, so an explicit start is dropped: the perturbed optimizer
    draws its own start (:func:`run_family` draws it from the same seed as the baseline).

    Example:
        >>> from agents.language_model.gradient_descent import GradientDescent
        >>> data = MarkovChain.random(4, 1, 0.5, seed=0).sample(16, seed=1)
        >>> p = Capacity((3, 3))
        >>> p.name, p.apply(materialize(GradientDescent(data), 0)).init is None
        ('hidden 3x3', True)
    """

    hidden: tuple = attrs.field(converter=_hidden)
    label: Optional[str] = attrs.field(default=None, converter=_label)
    kind: str = "capacity"

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        if len(self.hidden) == 1:
            return f"width {self.hidden[0]}"
        return "hidden " + "x".join(map(str, self.hidden))

    def describe(self) -> str:
        return f"hidden layers {self.hidden} (a fresh start of the new shape)"

    def apply(self, spec):
        return evolve_spec(spec, hidden=self.hidden, init=None)


@attrs.frozen
class ChangeObjective(Composable):
    """Objective: train on ``loss`` with ``label_smoothing`` in place of the cross-entropy.

    A change of objective: A' = A with objective L' (Definition 4, generalization). The
    engine records the new objective as L, and G, G1 as its gradient sizes.
    ``objective_name`` is a short name for L' ("L_brier", "L_ls0.1").

    Example:
        >>> from agents.language_model.gradient_descent import GradientDescent
        >>> data = MarkovChain.random(4, 1, 0.5, seed=0).sample(16, seed=1)
        >>> p = ChangeObjective("brier")
        >>> p.name, p.kind, p.objective_name, p.apply(GradientDescent(data)).loss
        ('objective brier', 'objective', 'L_brier', 'brier')
    """

    loss: str = "cross_entropy"
    label_smoothing: float = attrs.field(default=0.0, converter=float)
    label: Optional[str] = attrs.field(default=None, converter=_label)
    kind: str = "objective"

    def __attrs_post_init__(self):
        check_loss(self.loss, self.label_smoothing)
        if self.loss == "cross_entropy" and self.label_smoothing == 0:
            raise ParameterError("ChangeObjective('cross_entropy', 0) changes nothing; pick loss='brier' or a label_smoothing > 0")

    @property
    def objective_name(self) -> str:
        parts = ["L"] + (["brier"] if self.loss == "brier" else []) + \
                ([f"ls{self.label_smoothing:g}"] if self.label_smoothing > 0 else [])
        return "_".join(parts)

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        parts = (["brier"] if self.loss == "brier" else []) + \
                ([f"smoothing {self.label_smoothing:g}"] if self.label_smoothing > 0 else [])
        return "objective " + " ".join(parts)

    def describe(self) -> str:
        return f"objective replaced by {describe_loss(self.loss, self.label_smoothing)}"

    def apply(self, spec):
        return evolve_spec(spec, loss=self.loss, label_smoothing=self.label_smoothing)


# -- batching ------------------------------------------------------------------------------
def _same(a, b) -> bool:
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and bool(np.array_equal(a, b))
    try:
        return bool(a == b)
    except Exception:  # values without a usable ==: only identity counts
        return False


def _shape_key(spec) -> tuple:
    d = spec.datasets[0]
    return (type(spec), d.N, d.vocab, d.order)


def batchable(a, b) -> bool:
    """True when specs ``a`` and ``b`` can run in one population.

    Rule: same class, equal datasets' (N, vocab, order), and equal values of every field
    except the per-copy ones (data, init, lr_scale, population, init_scale).

    Example:
        >>> from agents.language_model.gradient_descent import GradientDescent
        >>> data = MarkovChain.random(4, 1, 0.5, seed=0).sample(16, seed=1)
        >>> base = GradientDescent(data)
        >>> batchable(base, ScaleLR(2.0).apply(base)), batchable(base, Capacity(6).apply(base))
        (True, False)
    """
    if _shape_key(a) != _shape_key(b):
        return False
    for f in attrs.fields(type(a)):
        if f.name not in PER_COPY_FIELDS and not _same(getattr(a, f.name), getattr(b, f.name)):
            return False
    return True


@attrs.frozen(eq=False)
class Batch:
    """One population run holding several trials: ``spec`` (the merged population) and
    ``members``: (trial index, first copy, end copy) for each trial it holds."""

    spec: Any
    members: tuple

    @property
    def population(self) -> int:
        return int(self.spec.population)


def merge(specs: Sequence) -> Any:
    """One population spec holding every copy of ``specs`` (all batchable, all with explicit init).

    Copies keep their order: spec 0's copies first. Datasets are shared when every spec
    shares one dataset object, else given per copy; lr_scale is per copy (1 where unset).

    Example:
        >>> from agents.language_model.gradient_descent import GradientDescent
        >>> chain = MarkovChain.random(4, 1, 0.5, seed=0)
        >>> a = materialize(GradientDescent(chain.sample(16, seed=1), population=2), 0)
        >>> m = merge([a, ScaleLR(2.0).apply(a), Resample(chain, 3).apply(a)])
        >>> m.population, m.lr_scale.tolist(), len(m.datasets)
        (6, [1.0, 1.0, 2.0, 2.0, 1.0, 1.0], 6)
    """
    specs = list(specs)
    if not specs:
        raise ParameterError("nothing to merge; give at least one spec")
    for s in specs:
        _needs_init(s, "merge")
        if not batchable(specs[0], s):
            raise ParameterError("these specs differ in more than per-copy fields (data, init, lr_scale); run them separately")
    if len(specs) == 1:
        return specs[0]
    if all(isinstance(s.data, TokenDataset) and s.data is specs[0].data for s in specs):
        data = specs[0].data
    else:
        data = tuple(d for s in specs for d in (s.data if isinstance(s.data, tuple) else (s.data,) * s.population))
    lr_scale = None
    if any(s.lr_scale is not None for s in specs):
        lr_scale = np.concatenate([np.ones(s.population) if s.lr_scale is None else s.lr_scale for s in specs])
    return evolve_spec(specs[0], data=data, init=np.concatenate([s.init for s in specs]), lr_scale=lr_scale,
                       population=int(sum(s.population for s in specs)))


def plan_batches(specs: Sequence, seed=None) -> tuple:
    """Group trial specs into as few population runs as the shapes allow.

    Each spec without an explicit start first gets one from ``seed`` (:func:`materialize`;
    the same seed for every trial, so trials of equal shape start alike). Specs are
    grouped greedily in order: each joins the first group it is :func:`batchable` with.
    Returns a tuple of :class:`Batch`.

    Example:
        >>> from agents.language_model.gradient_descent import GradientDescent
        >>> data = MarkovChain.random(4, 1, 0.5, seed=0).sample(16, seed=1)
        >>> base = materialize(GradientDescent(data, population=2), 0)
        >>> specs = [base, ScaleLR(0.5).apply(base), Capacity(6).apply(base), InitNoise(0.1).apply(base)]
        >>> [b.members for b in plan_batches(specs, seed=0)]
        [((0, 0, 2), (1, 2, 4), (3, 4, 6)), ((2, 0, 2),)]
    """
    ready = []
    for i, s in enumerate(specs):
        if getattr(s, "init", None) is None:
            if seed is None:
                raise ParameterError(f"trial {i} has no explicit start; pass seed= to draw one (or materialize it)")
            s = materialize(s, seed)
        ready.append(s)
    groups: list = []
    for i, s in enumerate(ready):
        for g in groups:
            if batchable(ready[g[0]], s):
                g.append(i)
                break
        else:
            groups.append([i])
    batches = []
    for g in groups:
        members, start = [], 0
        for i in g:
            members.append((i, start, start + ready[i].population))
            start += ready[i].population
        batches.append(Batch(merge([ready[i] for i in g]), tuple(members)))
    return tuple(batches)


def _split(tr: Trajectory, start: int, stop: int, name: str, batch: int) -> Trajectory:
    sub = tr.select(slice(start, stop))
    K = tr.K
    meta = dict(tr.meta)
    for key in ("lr_scale", "optimum", "conditional_entropy"):  # per-copy parameters: copy_meta, sliced by select
        v = meta.get(key)
        if isinstance(v, np.ndarray) and v.shape[:1] == (K,):
            meta[key] = v[start:stop].copy()
    meta.update(population=stop - start, perturbation=name, batch=batch, batch_population=K)
    return attrs.evolve(sub, meta=meta)


@attrs.frozen(eq=False)
class FamilyRun:
    """A family run: per trial (baseline first) its name, perturbation, spec and trajectory,
    and the batches they ran in (``batch_of[i]``: the batch index of trial i)."""

    names: tuple
    perturbations: tuple
    specs: tuple
    trajectories: tuple
    batches: tuple
    batch_of: tuple

    def __getitem__(self, name: str) -> Trajectory:
        try:
            return self.trajectories[self.names.index(name)]
        except ValueError:
            raise KeyError(f"no trial named {name!r}; the family run holds {', '.join(self.names)}") from None

    def spec(self, name: str):
        """The (unmerged) spec of the trial called ``name``."""
        return self.specs[self.names.index(name)]


Runner = Callable[[int, Batch, int, np.random.SeedSequence], Trajectory]


def run_family(base, family, steps: int, seed, runner: Optional[Runner] = None, baseline: str = "baseline") -> FamilyRun:
    """Run the unperturbed ``base`` and every member of ``family`` as few batched populations.

    1. base's start is drawn from ``seed`` (:func:`materialize`);
    2. every member is applied to that base (trial 0 is the baseline, named ``baseline``);
    3. :func:`plan_batches` groups the trials (starts of changed shapes from ``seed``);
    4. each batch runs for ``steps`` steps with ``seed`` (``runner(batch index, batch,
       steps, seed)``, default ``batch.spec.run(steps, seed)``: a hook for progress bars);
    5. each batch's trajectory is split back per trial (its copies, in order).

    Batched and separate runs give the same numbers up to float rounding (annealing's
    jumps excepted: a copy's noise stream follows its place in the population).

    Example:
        >>> from agents.language_model.gradient_descent import GradientDescent
        >>> chain = MarkovChain.random(4, 1, 0.5, seed=0)
        >>> base = GradientDescent(chain.sample(32, seed=1), population=2)
        >>> fam = Family("f", [ScaleLR(0.5), Resample(chain, 2), Capacity(4)])
        >>> run = run_family(base, fam, 20, seed=0)
        >>> run.names, run.batch_of, run["lr x0.5"]["L"].shape
        (('baseline', 'lr x0.5', 'resample 2', 'width 4'), (0, 0, 0, 1), (2, 21))
    """
    seed = as_seed(seed)
    if not isinstance(family, Family):
        family = Family("family", family)
    if baseline in family.names:
        raise ParameterError(f"a member of the family is named {baseline!r}, the baseline's name; rename it")
    perturbations = (Identity(baseline),) + tuple(check_perturbation(p) for p in family)
    start = materialize(base, seed)
    specs = tuple(materialize(p.apply(start), seed) for p in perturbations)
    batches = plan_batches(specs)
    trajectories = [None] * len(perturbations)
    batch_of = [None] * len(perturbations)
    run = runner or (lambda i, b, n, s: b.spec.run(n, s))
    names = tuple(p.name for p in perturbations)
    for j, batch in enumerate(batches):
        tr = run(j, batch, int(steps), seed)
        for i, a, b in batch.members:
            trajectories[i] = _split(tr, a, b, names[i], j)
            batch_of[i] = j
    return FamilyRun(names, perturbations, specs, tuple(trajectories), batches, tuple(batch_of))
