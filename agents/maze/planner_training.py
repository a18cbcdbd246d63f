"""Gradient descent trains the planners: the base optimizer's run, which produces the mesa-optimizers.

Adam on the imitation loss L_b of agents.maze.reward_network, K copies as one batched
computation (stacked ``[K, ...]`` parameters, one backward pass, Adam applied per element so
copies stay independent; a copy that meets the stop rule is frozen by a per-copy active
mask). Each step records L_b and the squared gradient norm G = |grad L_b|^2 (definitions.md,
"The true objective of gradient descent"), index 0 being the initial parameters.

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
from agents.maze.reward_network import imitation_batch, imitation_loss, init_params, squared_norm
from agents.threads import torch_threads
from hierarchy.seeding import as_seed, child, SeedLike

__all__ = ["train_planners", "PlannerTraining", "StopRule"]


def _numpy(params: dict) -> dict:
    return {k: v.detach().numpy().copy() for k, v in params.items()}


def _adam_step(params, grads, state, active, lr, t, betas=(0.9, 0.999), eps=1e-8):
    """One Adam step per element, applied only to active copies; ``t [K]`` counts each copy's steps."""
    b1, b2 = betas
    for name, p in params.items():
        g = grads[name]
        shape = (-1,) + (1,) * (p.dim() - 1)
        act = active.reshape(shape)
        m = state["m"][name]
        v = state["v"][name]
        m_new = b1 * m + (1 - b1) * g
        v_new = b2 * v + (1 - b2) * g * g
        tt = t.reshape(shape).to(p.dtype)
        step = lr * (m_new / (1 - b1 ** tt)) / (torch.sqrt(v_new / (1 - b2 ** tt)) + eps)
        state["m"][name] = torch.where(act, m_new, m)
        state["v"][name] = torch.where(act, v_new, v)
        params[name] = torch.where(act, p - step, p).detach().requires_grad_(True)


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
        for p in params.values():
            p.requires_grad_(True)
        batch = imitation_batch(mazes)
        state = {"m": {k: torch.zeros_like(v) for k, v in params.items()},
                 "v": {k: torch.zeros_like(v) for k, v in params.items()}}
        active = torch.ones(K, dtype=torch.bool)
        t_count = torch.zeros(K, dtype=torch.int64)
        L = np.zeros((K, steps + 1))
        G = np.zeros((K, steps + 1))
        NLL = np.zeros((K, steps + 1))
        SUCC = np.full((K, steps + 1), np.nan)
        stopped_at = np.full(K, steps, dtype=np.int64)

        def success_now():
            return deploy_planners(_numpy(params), mazes, spec.gamma, rngs)["success"].mean(1)

        for t in range(steps + 1):
            loss, nll = imitation_loss(params, batch, spec.gamma, spec.soft_iterations, spec.weight_decay)
            grads = torch.autograd.grad(loss.sum(), list(params.values()))
            grads = dict(zip(params.keys(), grads))
            g2 = squared_norm(grads.values())
            L[:, t] = loss.detach().numpy()
            G[:, t] = g2.detach().numpy()
            NLL[:, t] = nll.detach().numpy()
            if checks:
                was = active.numpy().copy()
                if t >= rule.min_steps and (t - rule.min_steps) % rule.check_every == 0:
                    SUCC[:, t] = np.where(was, success_now(), SUCC[:, t - 1] if t else np.nan)
                    newly = was & (SUCC[:, t] >= rule.success_at_least)
                    stopped_at[newly] = t
                    active = active & ~torch.as_tensor(newly)
                else:
                    SUCC[:, t] = SUCC[:, t - 1] if t else np.nan
            if t == steps or not bool(active.any()):
                for arr in (L, G, NLL, SUCC):  # every copy is frozen: its values stay to the end of the record
                    arr[:, t + 1:] = arr[:, t: t + 1]
                break
            t_count = t_count + active.to(torch.int64)
            _adam_step(params, grads, state, active, spec.lr, t_count)
            if progress is not None:
                progress(t + 1)
        final = _numpy(params)
        train_success = SUCC[:, -1] if checks and not np.isnan(SUCC[:, -1]).any() else success_now()
    values = {"L": L, "G": G, "nll": NLL}
    if checks:
        values["train_success"] = SUCC
    meta = {"stop_rule": rule.describe(), "spec": attrs.asdict(spec, recurse=True), "distribution": attrs.asdict(distribution)}
    training = Trajectory(values, meta=meta)
    return PlannerPopulation(final, spec, distribution, training, stopped_at, np.asarray(train_success, dtype=np.float64),
                             tuple(mazes), time.perf_counter() - start_time)


@attrs.frozen
class PlannerTraining:
    """The base optimizer as a leaf (hierarchy/protocol.py): Adam training K planners, recording L and G.

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
