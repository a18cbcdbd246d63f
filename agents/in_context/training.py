"""The base optimizer: Adam (or gradient descent) trains the attention weights, through the one loop.

K copies, each with its own seed and its own stream of fresh tasks, are trained as one
batched computation on flat parameters [K, P] by :func:`agents.training.train`. Every step
t each copy draws ``batch`` fresh tasks of its training distribution and the loop records

    L(t) = (1/2B) sum_b (y_hat_b - w_b . x_q,b)^2        the designer's query loss on that batch

and the true objectives of the base optimizer: G = |grad L|^2 and G1 (the loop's), with
Adam its own fixed-point quantity ``G_adam`` = |m_hat / (sqrt(v_hat) + eps)|^2, and the squared
update size U = |theta_{t+1} - theta_t|^2 (``agents.training``). The optimizer, as in the
paper's code: ``chain(clip_by_global_norm(clip), adam(lr, b1, b2))``; the second choice is
plain gradient descent ``sgd(lr)`` (clipped too when ``clip`` is given).

Seeding: copy k uses ``copy_seeds[k]`` (default ``children(seed, K)[k]``): its start from
``generator(child(copy_seed, 0))``, its tasks from ``torch_generator(child(copy_seed, 1))``,
so copy k does not depend on K, and two copies given one seed start alike and see the same
inputs and weight vectors (paired populations with different task distributions).
"""

from __future__ import annotations

from typing import Optional

import attrs
import numpy as np
import torch

from hierarchy.errors import ParameterError
from hierarchy.seeding import as_seed, child, children
from hierarchy.trajectory import Trajectory

from agents.in_context.attention import ENGINES, LinearSelfAttention
from agents.in_context.attention_kernel import attention_engine, attention_kernel_available
from agents.in_context.tasks import TaskDistribution, Tasks, count, number, sample_tasks
from agents.threads import torch_threads
from agents.torch_random import torch_generator
from agents.training import adam, chain, clip_by_global_norm, sgd, train

__all__ = ["InContextTraining", "stack_tasks", "OPTIMIZERS"]

#: The base optimizers offered.
OPTIMIZERS = ("adam", "sgd")


def stack_tasks(parts) -> Tasks:
    """Per-copy task batches stacked on a leading copy axis [K, B, ...].

    Parameters
    ----------
    parts : sequence of Tasks
        One batch per copy, equal shapes.

    Returns
    -------
    Tasks

    Examples
    --------
    >>> g = torch_generator(0)
    >>> t = stack_tasks([sample_tasks(TaskDistribution(d=2, N=3), g, 4) for _ in range(3)])
    >>> tuple(t.X.shape)
    (3, 4, 3, 2)
    """
    parts = list(parts)
    return Tasks(*(torch.stack([getattr(p, f) for p in parts]) for f in ("X", "y", "xq", "yq", "w")),
                 parts[0].clean, parts[0].noise)


@attrs.frozen(eq=False)
class InContextTraining:
    """A population of linear self-attention models trained on fresh tasks (module docstring).

    Parameters
    ----------
    model : LinearSelfAttention
    distributions : tuple of TaskDistribution
        One training distribution per copy (K = its length).
    batch : int
        Fresh tasks per copy and step.
    optimizer : str
        "adam" or "sgd".
    lr : float
        Learning rate.
    b1, b2 : float
        Adam's averaging constants (the paper: 0.9, 0.98).
    clip : float or None
        Global-norm clip of each copy's gradient (the paper: 1e-3), None for none.
    init_std : float
        Entries of the start ~ N(0, init_std^2).
    copy_seeds : tuple, optional
        Per-copy seeds (default ``children(seed, K)``).
    snapshot_every : int
        Keep the parameters every this many steps (for the match over training), 0: never.
    record_update : bool
        Record U = |theta_{t+1} - theta_t|^2 too.
    threads : int or None
        Torch threads for the run (``agents.threads.torch_threads``).
    dtype : str
        "float64" or "float32".
    base : str
        The name the query loss is recorded under.
    engine : str
        How a one-layer model's loss and gradient are computed
        (:data:`agents.in_context.attention.ENGINES`: "auto", the C++ kernel where it builds,
        or "torch"); the trajectory's meta names the one that ran ("loss and gradient").

    Raises
    ------
    ParameterError
        On an empty population, a bad optimizer name or a non-positive number.

    Examples
    --------
    >>> tr = InContextTraining(LinearSelfAttention(d=2), (TaskDistribution(d=2, N=4),) * 2, batch=8)
    >>> run = tr.run(20, 0)
    >>> run["L"].shape, run.product["params"].shape, "G" in run.values
    ((2, 21), (2, 36), True)
    """

    model: LinearSelfAttention
    distributions: tuple = attrs.field(converter=tuple)
    batch: int = attrs.field(default=256, validator=count("batch"))
    optimizer: str = "adam"
    lr: float = attrs.field(default=1e-3, validator=number("lr", positive=True))
    b1: float = 0.9
    b2: float = 0.98
    clip: Optional[float] = 1e-3
    init_std: float = attrs.field(default=float(np.sqrt(0.002 / 11)), validator=number("init_std", positive=True))
    copy_seeds: Optional[tuple] = None
    snapshot_every: int = 0
    record_update: bool = True
    threads: Optional[int] = 1
    dtype: str = "float64"
    base: str = "L"
    engine: str = "auto"

    step_unit = "training step"

    @property
    def records(self) -> tuple:
        """What the run records for sure: the base objective's name, G and G1 (Adam adds G_adam; U with record_update)."""
        return (self.base, "G", "G1")

    def __attrs_post_init__(self):
        if not self.distributions or not all(isinstance(d, TaskDistribution) for d in self.distributions):
            raise ParameterError("distributions must be a non-empty tuple of TaskDistribution, one per copy",
                                 parameter="distributions")
        if any(d.d != self.model.d for d in self.distributions):
            raise ParameterError(f"a training distribution has d != the model's d={self.model.d}; give equal dimensions",
                                 parameter="distributions")
        if self.optimizer not in OPTIMIZERS:
            raise ParameterError(f"optimizer={self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}",
                                 parameter="optimizer")
        if self.clip is not None:
            number("clip", positive=True)(self, attrs.fields(type(self)).clip, self.clip)
        if self.copy_seeds is not None and len(self.copy_seeds) != len(self.distributions):
            raise ParameterError(f"{len(self.copy_seeds)} copy seeds for {len(self.distributions)} copies; give one per copy",
                                 parameter="copy_seeds")
        if self.dtype not in ("float64", "float32"):
            raise ParameterError(f"dtype={self.dtype!r}; choose float64 or float32", parameter="dtype")
        if self.engine not in ENGINES:
            raise ParameterError(f"engine={self.engine!r}; choose one of {', '.join(ENGINES)}", parameter="engine")

    @property
    def K(self) -> int:
        """The number of copies."""
        return len(self.distributions)

    def transformation(self):
        """The optimizer value: clip then Adam (or SGD).

        Returns
        -------
        GradientTransformation

        Examples
        --------
        >>> str(InContextTraining(LinearSelfAttention(d=1), (TaskDistribution(d=1),)).transformation())[:5]
        'chain'
        """
        base = adam(self.lr, self.b1, self.b2) if self.optimizer == "adam" else sgd(self.lr)
        return base if self.clip is None else chain(clip_by_global_norm(self.clip), base)

    def engine_used(self) -> str:
        """The engine that computes the loss and gradient of this training, in words (for reports).

        Examples
        --------
        >>> InContextTraining(LinearSelfAttention(d=1, layers=2), (TaskDistribution(d=1),)).engine_used()
        'autograd (2 layers)'
        """
        if self.model.layers != 1:
            return f"autograd ({self.model.layers} layers)"
        if self.engine == "kernel" or (self.engine == "auto" and attention_kernel_available()):
            return attention_engine()
        return "torch operations"

    def describe(self) -> str:
        """The base optimizer in words.

        Returns
        -------
        str

        Examples
        --------
        >>> InContextTraining(LinearSelfAttention(d=1), (TaskDistribution(d=1),)).describe()
        'Adam lr 0.001 betas (0.9, 0.98), gradient clipped to global norm 0.001, 256 fresh tasks per step'
        """
        opt = f"Adam lr {self.lr:g} betas ({self.b1:g}, {self.b2:g})" if self.optimizer == "adam" \
            else f"gradient descent lr {self.lr:g}"
        clip = f", gradient clipped to global norm {self.clip:g}" if self.clip is not None else ""
        return f"{opt}{clip}, {self.batch} fresh tasks per step"

    def run(self, steps: int, seed, progress=None) -> Trajectory:
        """Train every copy ``steps`` steps; values [K, steps + 1]; product: the trained parameters.

        Parameters
        ----------
        steps : int
        seed : int or SeedSequence
        progress : callable, optional

        Returns
        -------
        Trajectory
            ``product`` = {"model", "params" [K, P], "initial" [K, P], "snapshots" [S, K, P],
            "snapshot_steps" [S]}.
        """
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ParameterError(f"steps={steps!r}; give a positive number of training steps", parameter="steps")
        steps = int(steps)
        seeds = list(self.copy_seeds) if self.copy_seeds is not None else children(as_seed(seed), self.K)
        seeds = [as_seed(s) for s in seeds]
        dt = torch.float64 if self.dtype == "float64" else torch.float32
        theta0 = self.model.init_parameters([child(s, 0) for s in seeds], self.init_std)
        gens = [torch_generator(child(s, 1)) for s in seeds]
        snaps, snap_steps = [], []
        theta = torch.from_numpy(theta0.copy()).to(dt)
        model, dists, B = self.model, self.distributions, self.batch

        def step(params, t):
            if self.snapshot_every and t % self.snapshot_every == 0:
                snaps.append(params.to(torch.float64).numpy().copy())
                snap_steps.append(t)
            tasks = stack_tasks(sample_tasks(dd, g, B, dt) for dd, g in zip(dists, gens))
            return model.loss_and_gradient(params, tasks, self.engine)

        with torch_threads(self.threads):
            result = train(step, theta, self.transformation(), steps, record_update=self.record_update,
                           progress=progress, base=self.base)
        meta = {"model": f"linear self-attention d={model.d}, layers={model.layers}, shared={model.shared}",
                "optimizer": self.describe(), "distributions": tuple(d.describe() for d in dists),
                "batch": B, "dtype": self.dtype, "loss and gradient": self.engine_used()}
        product = {"model": model, "params": result.params, "initial": theta0,
                   "snapshots": np.asarray(snaps), "snapshot_steps": np.asarray(snap_steps, dtype=np.int64)}
        tr = result.trajectory(meta, {"initial_parameters": theta0})
        return attrs.evolve(tr, product=product)
