"""Gradient descent trains the planners: the base optimizer's run, which produces the mesa-optimizers.

Adam on the imitation loss L_b of agents.maze.reward_network, K copies as one batched
computation through the one training loop (:func:`agents.training.train`): the copies'
parameters are one flat ``[K, P]`` tensor (``W1``, ``b1``, ``W2`` are views of it), one
backward pass per step, Adam per element so copies stay independent, and the planner's
:class:`~agents.maze.planner.StopRule` as the loop's ``stop``, so a copy that meets it is
frozen by the loop's per-copy active mask (its Adam step count stops too). Each step records
L_b, the true objectives G = |grad L_b|^2 and G1 = |grad L_b|_1 (definitions.md, "The true
objective of gradient descent"), ``nll`` and, with a success rule, ``train_success``; index 0
is the initial parameters.

Adam runs with ``rate_in_numerator=True`` (agents.training.adam): the order of arithmetic of
the planner's former hand-written Adam, so that its runs keep their numbers bit for bit.

:class:`PlannerTraining` is this run as a leaf of a delegation graph; its trajectory carries
the trained population as its product (``Trajectory.product``), from which a node whose leaf
is ``hierarchy.product.Produced`` builds the deployed planners.
"""

from __future__ import annotations

import time

import attrs
import numpy as np
import torch

from hierarchy.errors import ParameterError
from hierarchy.trajectory import Trajectory

from agents.maze.grid import MazeDistribution
from agents.maze.planner import PlannerPopulation, PlannerSpec, StopRule, deploy_planners
from agents.maze.reward_network import imitation_batch, imitation_loss, init_params
from agents.threads import torch_threads
from agents.training import adam, train
from hierarchy.seeding import as_seed, child, SeedLike

__all__ = ["train_planners", "PlannerTraining", "StopRule", "planner_optimizer"]


def planner_optimizer(spec: PlannerSpec):
    """The base optimizer's update rule: Adam with learning rate ``spec.lr`` (b1 = 0.9, b2 = 0.999,
    eps = 1e-8), step theta - ((m_hat * lr) / (sqrt(v_hat) + eps)).

    Example:
        >>> str(planner_optimizer(PlannerSpec()))
        'adam_rate_in_numerator(b1=0.9, b2=0.999, eps=1e-08)'
    """
    return adam(spec.lr, rate_in_numerator=True)


def _views(flat: torch.Tensor, shapes: dict) -> dict:
    """Views ``{name: [K, *shape]}`` of flat per-copy parameters ``[K, P]`` (in ``shapes``' order)."""
    out, i = {}, 0
    for name, shape in shapes.items():
        n = int(np.prod(shape))
        out[name] = flat[:, i: i + n].reshape((flat.shape[0],) + shape)
        i += n
    return out


def _numpy(flat: torch.Tensor, shapes: dict) -> dict:
    return {k: v.detach().numpy().copy() for k, v in _views(flat, shapes).items()}


def train_planners(distribution: MazeDistribution, K: int = 8, seed: SeedLike = 0,
                   spec: PlannerSpec = PlannerSpec(), progress=None) -> PlannerPopulation:
    """Train K planners (one seed each) by Adam on the base objective L_b (agents.maze.reward_network).

    Copy k draws its initial parameters from ``child(seed, k, 0)`` and its training
    mazes from ``child(seed, k, 1)`` (``shared_mazes``: all from ``child(seed, 0, 1)``);
    training-success checks break ties with ``child(seed, k, 2)``. Same seed, same numbers.

    Example:
        >>> pop = train_planners(MazeDistribution(size=5, exit_visible=0.5), K=2, seed=0,
        ...                      spec=PlannerSpec(stop=StopRule(max_steps=5)))
        >>> pop.training["L"].shape, bool((pop.training["L"][:, -1] < pop.training["L"][:, 0]).all())
        ((2, 6), True)
    """
    if not isinstance(distribution, MazeDistribution):
        raise ParameterError(f"train_planners needs a MazeDistribution, got {type(distribution).__name__}")
    if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 1:
        raise ParameterError(f"K={K!r} copies is not a positive integer; pass e.g. K=8")
    ss = as_seed(seed)
    start_time = time.perf_counter()
    if spec.shared_mazes:
        shared = tuple(distribution.sample(spec.n_mazes, child(ss, 0, 1)))
        mazes = [shared] * K
    else:
        mazes = [tuple(distribution.sample(spec.n_mazes, child(ss, k, 1))) for k in range(K)]
    rngs = [np.random.default_rng(child(ss, k, 2)) for k in range(K)]
    rule = spec.stop
    steps = rule.max_steps
    checks = rule.success_at_least is not None
    with torch_threads(spec.threads):
        params = init_params([child(ss, k, 0) for k in range(K)], spec.hidden, spec.init_scale)
        shapes = {k: tuple(v.shape[1:]) for k, v in params.items()}
        theta = torch.cat([v.reshape(K, -1) for v in params.values()], 1)
        batch = imitation_batch(mazes)
        # a copy's last checked training success, kept between checks; a copy has stopped
        # exactly when it reached the rule's share at a check (the loop then freezes it)
        success = np.full(K, np.nan)
        frozen = []  # the step's numbers once every copy has stopped (its parameters no longer move)

        def success_now(flat):
            return deploy_planners(_numpy(flat, shapes), mazes, spec.gamma, rngs)["success"].mean(1)

        def step(flat, t):
            if frozen:
                return frozen[0]
            with torch.enable_grad():
                x = flat.detach().requires_grad_(True)
                p = {k: v.contiguous() for k, v in _views(x, shapes).items()}
                loss, nll = imitation_loss(p, batch, spec.gamma, spec.soft_iterations, spec.weight_decay)
                (grad,) = torch.autograd.grad(loss.sum(), x)
            records = {"nll": nll.detach()}
            if checks:
                if rule.checks_at(t):
                    with np.errstate(invalid="ignore"):
                        done = success >= rule.success_at_least
                    success[:] = np.where(done, success, success_now(flat))
                records["train_success"] = success.copy()
                with np.errstate(invalid="ignore"):
                    if (success >= rule.success_at_least).all():
                        frozen.append((loss.detach(), grad, records))
            return loss.detach(), grad, records

        if steps:
            run = train(step, theta, planner_optimizer(spec), steps, stop=rule if checks else None,
                        progress=progress, progress_every=1)
            values, final_flat = run.values, torch.from_numpy(run.params)
            stopped_at = np.where(run.stopped_at >= 0, run.stopped_at, steps).astype(np.int64)
        else:  # no step: the untrained planners and their record at step 0
            loss, grad, rec = step(theta, 0)
            values = {"L": loss.numpy()[:, None], "G": np.square(torch.linalg.vector_norm(grad, 2, dim=1).numpy())[:, None],
                      **{n: np.asarray(v, dtype=np.float64)[:, None] for n, v in rec.items()}}
            final_flat, stopped_at = theta, np.zeros(K, dtype=np.int64)
        final = _numpy(final_flat, shapes)
        last = values["train_success"][:, -1] if checks else None
        train_success = last if checks and not np.isnan(last).any() else success_now(final_flat)
    keep = ("L", "G", "nll") + (("train_success",) if checks else ())
    meta = {"stop_rule": rule.describe(), "spec": attrs.asdict(spec, recurse=True), "distribution": attrs.asdict(distribution)}
    training = Trajectory({k: values[k] for k in keep}, meta=meta)
    return PlannerPopulation(final, spec, distribution, training, stopped_at, np.asarray(train_success, dtype=np.float64),
                             tuple(mazes), time.perf_counter() - start_time)


@attrs.frozen
class PlannerTraining:
    """The base optimizer as a leaf (hierarchy/protocol.py): Adam training K planners through
    the one training loop (agents.training.train), recording L and G.

    One step is one gradient step. ``run(steps, seed)`` trains with ``max_steps = steps``
    (the stop rule's other settings kept) and returns the training trajectory of
    ``records`` with the trained :class:`~agents.maze.planner.PlannerPopulation` as its
    product; ``train(steps, seed)`` returns the population itself.

    Example:
        >>> from hierarchy.protocol import check_leaf
        >>> from hierarchy.objective import Objective
        >>> leaf = PlannerTraining(MazeDistribution(size=4), K=2)
        >>> tr = check_leaf(leaf, [Objective("L"), Objective("G")], steps=2)
        >>> tr.T, tr.product.K
        (3, 2)
    """

    distribution: MazeDistribution
    K: int = 8
    spec: PlannerSpec = attrs.field(factory=PlannerSpec)
    records: tuple = ("L", "G", "nll")
    step_unit: str = "gradient step"

    def train(self, steps: int, seed: SeedLike, progress=None) -> PlannerPopulation:
        """The trained population after at most ``steps`` Adam steps."""
        spec = attrs.evolve(self.spec, stop=attrs.evolve(self.spec.stop, max_steps=int(steps)))
        return train_planners(self.distribution, self.K, seed, spec, progress)

    def run(self, steps: int, seed: SeedLike, progress=None) -> Trajectory:
        pop = self.train(steps, seed, progress)
        tr = pop.training
        return Trajectory({k: tr.values[k] for k in self.records}, meta=tr.meta, product=pop)
