"""Leaves that deploy trained maze systems on fixed mazes, and the replicator's limit search.

:class:`PlannerEpisodes` and :class:`ReplicatorEpisodes` follow the leaf protocol
(hierarchy.protocol.Leaf): ``run`` deploys the population and returns the episode states
with the objectives they record, so a delegation graph evaluates every ancestor's
objective on the episodes.
"""

from __future__ import annotations

from typing import Optional

import attrs
import numpy as np

from agents.maze.grid import MazeDistribution
from agents.maze.planner import PlannerPopulation
from agents.maze.replicator import Replicator
from hierarchy.errors import ParameterError
from hierarchy.trajectory import Trajectory

from agents.maze.objectives import (
    exit_distance_objective,
    exit_share_objective,
    mesa_objective,
    mesa_share_objective,
    replicate_share_objective,
    replicator_exit_objective,
)
from hierarchy.seeding import as_seed, child

EPISODE_OBJECTIVES = {
    "exit_share": lambda dep, mazes: exit_share_objective(mazes),
    "mesa_share": lambda dep, mazes: mesa_share_objective(dep.reward, mazes),
    "exit_distance": lambda dep, mazes: exit_distance_objective(mazes),
    "mesa": lambda dep, mazes: mesa_objective(dep.reward, mazes),
}
"""Objectives a :class:`PlannerEpisodes` leaf can record: name -> (deployment, mazes) -> Objective."""


@attrs.frozen(eq=False)
class PlannerEpisodes:
    """A leaf (hierarchy.protocol.Leaf): trained planners deployed once on fixed mazes.

    One step is one move of every copy in every maze; ``run(steps, seed)`` deploys with a
    budget of ``steps`` moves (ties broken from ``seed``) and returns the trajectory of the
    objectives in ``records`` (:data:`EPISODE_OBJECTIVES`) with the states ``[K, T, M, 2]``.
    ``horizon``: the planners' planning budget in moves looked ahead (None: exact planning;
    agents.maze.planner.finite_horizon_values).

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> from agents.maze.planner import PlannerSpec, StopRule
        >>> from agents.maze.planner_training import train_planners
        >>> from hierarchy.protocol import check_leaf
        >>> flat = PlannerSpec(init_scale=1e-12, stop=StopRule(max_steps=0))   # every move ties: the seed decides
        >>> pop = train_planners(MazeDistribution(size=4), K=2, seed=0, spec=flat)
        >>> leaf = PlannerEpisodes(pop, MazeDistribution(size=4).sample(3, seed=1))
        >>> check_leaf(leaf, steps=5).values["exit_share"].shape
        (2, 6)
    """

    population: PlannerPopulation
    mazes: tuple = attrs.field(converter=tuple)
    records: tuple = ("exit_share", "mesa_share", "exit_distance")
    horizon: object = None
    step_unit: str = "move"
    _last: dict = attrs.field(factory=dict, init=False, repr=False)

    def __attrs_post_init__(self):
        unknown = [r for r in self.records if r not in EPISODE_OBJECTIVES]
        if unknown:
            raise ParameterError(f"PlannerEpisodes cannot record {unknown}; choose from {sorted(EPISODE_OBJECTIVES)}")

    def deploy(self, steps: int, seed):
        """The deployment (agents.maze.planner.Deployment) with a budget of ``steps`` moves.

        Deterministic in (steps, seed); the leaf keeps its last deployment, so reading the
        episodes of a graph's run (the same steps and seed) does not deploy a second time.
        """
        ss = as_seed(seed)
        key = (int(steps), ss.entropy, tuple(ss.spawn_key))
        if self._last.get("key") != key:
            self._last.clear()
            self._last.update(key=key, deployment=self.population.deploy(self.mazes, ss, budget=int(steps),
                                                                         horizon=self.horizon))
        return self._last["deployment"]

    def trajectory(self, deployment) -> Trajectory:
        """The recorded objectives of ``deployment`` on its states ``[K, T, M, 2]``."""
        states = deployment.states
        return Trajectory({r: EPISODE_OBJECTIVES[r](deployment, self.mazes)(states) for r in self.records},
                          states=states)

    def run(self, steps: int, seed, progress=None) -> Trajectory:
        tr = self.trajectory(self.deploy(steps, seed))
        if progress is not None:
            progress(int(steps))
        return tr


@attrs.frozen(eq=False)
class ReplicatorDeployment:
    """K replicators (limits ``[K]``) run once on the same M mazes: ``occupied [K, T, M, n, n]``,
    ``success [K, M]``, ``counts [K, T, M]``."""

    mazes: tuple
    limits: tuple
    occupied: np.ndarray
    success: np.ndarray
    counts: np.ndarray

    def attained(self) -> np.ndarray:
        """``[K, M]``: replicated up to its limit (or every cell), or stopped with a copy at the exit."""
        cells = self.mazes[0].n_cells
        cap = np.minimum(np.asarray(self.limits)[:, None], cells)
        return (self.counts[:, -1] >= cap) | self.success


@attrs.frozen(eq=False)
class ReplicatorEpisodes:
    """A leaf: K replicators (one limit each) run once on fixed mazes; one step is one division.

    ``run(steps, seed)`` records ``exit_share`` (:func:`replicator_exit_objective`),
    ``replicate_share`` (:func:`replicate_share_objective`) and ``exit_distance`` (raw
    moves) on the states ``[K, T, M, n, n]``. Copies that share a limit run as one batch;
    copy k in maze j draws from ``child(seed, limit, i)`` with i its index in that batch.
    ``own_steps``: the divisions a graph run gives it (its own time axis, e.g. 2 x cells of
    its mazes; ``hierarchy.run.leaf_steps``), or None for the graph run's steps.

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> from hierarchy.protocol import check_leaf
        >>> leaf = ReplicatorEpisodes((3, 16), MazeDistribution(size=4).sample(2, seed=1))
        >>> check_leaf(leaf, steps=4).values["replicate_share"][:, 0].tolist()
        [1.0, 1.0]
    """

    limits: tuple = attrs.field(converter=lambda v: tuple(int(x) for x in v))
    mazes: tuple = attrs.field(converter=tuple)
    own_steps: Optional[int] = None
    records: tuple = ("exit_share", "replicate_share", "exit_distance")
    step_unit: str = "division"
    _last: dict = attrs.field(factory=dict, init=False, repr=False)

    def deploy(self, steps: int, seed) -> ReplicatorDeployment:
        """Run every copy on every maze for ``steps`` divisions (deterministic in (steps, seed); the
        leaf keeps its last deployment, as :meth:`PlannerEpisodes.deploy` does)."""
        ss = as_seed(seed)
        key = (int(steps), ss.entropy, tuple(ss.spawn_key))
        if self._last.get("key") != key:
            self._last.clear()
            self._last.update(key=key, deployment=self._deploy(int(steps), ss))
        return self._last["deployment"]

    def _deploy(self, steps: int, ss) -> ReplicatorDeployment:
        K, M = len(self.limits), len(self.mazes)
        n = self.mazes[0].size
        T = int(steps) + 1
        occupied = np.zeros((K, T, M, n, n), dtype=bool)
        success = np.zeros((K, M), dtype=bool)
        limits = np.asarray(self.limits)
        for limit in np.unique(limits):
            idx = np.flatnonzero(limits == limit)
            run = Replicator(int(limit)).run(self.mazes * len(idx), child(ss, int(limit)), steps=int(steps))
            occ = run.occupied.reshape(len(idx), M, T, n, n).transpose(0, 2, 1, 3, 4)
            occupied[idx] = occ
            success[idx] = run.success.reshape(len(idx), M)
        counts = occupied.sum(axis=(-2, -1))
        return ReplicatorDeployment(self.mazes, self.limits, occupied, success, counts)

    def trajectory(self, deployment: ReplicatorDeployment) -> Trajectory:
        objs = {"exit_share": replicator_exit_objective(self.mazes),
                "replicate_share": replicate_share_objective(self.limits),
                "exit_distance": replicator_exit_objective(self.mazes, "exit_distance", share=False)}
        s = deployment.occupied
        return Trajectory({r: objs[r](s) for r in self.records}, states=s)

    def run(self, steps: int, seed, progress=None) -> Trajectory:
        tr = self.trajectory(self.deploy(steps, seed))
        if progress is not None:
            progress(int(steps))
        return tr


@attrs.frozen(eq=False)
class LimitSearch:
    """The replicator's training: per copy the smallest limit that reaches the exit in all of
    its training mazes. ``limits [K]``, ``train_success [K]`` (on its training mazes at that
    limit), ``failure [K, L]`` (share of training mazes failed at limit 1..L, NaN after the
    copy's limit was found), ``mazes`` per copy."""

    limits: np.ndarray
    train_success: np.ndarray
    failure: np.ndarray
    mazes: tuple


def select_limits(distribution: MazeDistribution, K: int, n_mazes: int, seed, max_limit: int) -> LimitSearch:
    """Train K self-replicators: copy k's limit is the smallest l in 1..``max_limit`` whose
    replicator reaches the exit in every one of its ``n_mazes`` training mazes (drawn from
    ``child(seed, k, 0)``); all copies try each candidate limit in one batch, maze i of
    the batch drawing its choices from ``child(seed, 1, i)``. A copy that never
    succeeds keeps ``max_limit``.

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> s = select_limits(MazeDistribution(size=3, green_by_exit="never"), K=2, n_mazes=3, seed=0, max_limit=9)
        >>> bool((s.limits <= 9).all()), s.train_success.tolist()
        (True, [1.0, 1.0])
    """
    ss = as_seed(seed)
    mazes = [tuple(distribution.sample(n_mazes, child(ss, k, 0))) for k in range(K)]
    flat = [m for ms in mazes for m in ms]
    limits = np.full(K, int(max_limit))
    success = np.zeros(K)
    found = np.zeros(K, dtype=bool)
    failure = np.full((K, int(max_limit)), np.nan)
    for limit in range(1, int(max_limit) + 1):
        ok = Replicator(limit).run(flat, child(ss, 1)).success.reshape(K, n_mazes).mean(1)
        failure[~found, limit - 1] = 1.0 - ok[~found]
        newly = ~found & (ok >= 1.0)
        limits[newly] = limit
        success[newly] = ok[newly]
        found |= newly
        if found.all():
            break
    success[~found] = ok[~found]
    return LimitSearch(limits, success, failure, tuple(mazes))
