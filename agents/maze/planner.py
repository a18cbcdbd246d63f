"""The learned mesa-optimizer of the maze: a planner that maximizes a learned reward (seed 002).

The base optimizer (gradient descent; agents.maze.planner_training) trains a reward
network r_theta (agents.maze.reward_network) so that a planner built on it imitates a
shortest-path expert. The planner is an optimizer: at deployment it searches, by value
iteration over the maze graph, for the path that maximizes its mesa-objective

    J(s_0, s_1, ...) = sum_{t >= 0} gamma^t r_theta(f(s_t))        (the last state repeats)

Deployment: the optimal values V(s) = r(s) + gamma max_a V(next(s, a)) (computed exactly by
agents.maze.planning.optimal_values, or with a planning budget of H moves by
finite_horizon_values), then greedy moves from the entrance with seeded random
tie-breaking, for a budget of 2 x the number of cells; reaching the exit ends the episode.

This module holds the planner's settings (:class:`PlannerSpec`, :class:`StopRule`), one
planner (:class:`Planner`, a maze policy), a trained population (:class:`PlannerPopulation`)
and what its deployment yields (:class:`Deployment`).
"""

from __future__ import annotations

from typing import Optional, Sequence

import attrs
import numpy as np

from hierarchy.errors import ParameterError
from hierarchy.objective import Objective
from hierarchy.trajectory import Trajectory
from hierarchy.validators import non_negative_int, positive_int

from agents.maze.grid import Maze, MazeDistribution, stack_mazes
from agents.maze.objectives import mesa_objective
from agents.maze.planning import (action_values, check_gamma, discounted_return, finite_horizon_values, greedy_paths,
                                  optimal_values)
from agents.maze.reward_network import reward_of
from agents.maze.env import default_budget
from agents.maze.rollout import PopulationRollout
from hierarchy.seeding import as_seed, child, SeedLike

__all__ = ["PROBES", "StopRule", "PlannerSpec", "Planner", "Deployment", "PlannerPopulation", "deploy_planners"]

PROBES = {
    "plain": (0.0, 0.0, 0.0, 1.0),
    "green": (1.0, 0.0, 0.0, 1.0),
    "right_of_green": (0.0, 1.0, 0.0, 1.0),
    "exit": (0.0, 0.0, 1.0, 1.0),
    "exit_right_of_green": (0.0, 1.0, 1.0, 1.0),
}
"""Canonical cell feature vectors at which the learned reward is probed."""



@attrs.frozen
class StopRule:
    """When training stops: after ``max_steps`` Adam steps, or for each copy as soon as its
    training success (share of its training mazes whose exit the deployed planner reaches)
    first reaches ``success_at_least``, checked at steps ``min_steps``, ``min_steps +
    check_every``, ... (step 0 is the untrained network, which may already pass).

    Example:
        >>> StopRule(max_steps=40).describe()
        'stop after 40 steps'
        >>> StopRule(max_steps=40, success_at_least=0.75).describe()
        'stop each copy when its training success first reaches 0.75 (checked every 1 steps from step 0), at most 40 steps'
    """

    max_steps: int = attrs.field(default=40, validator=non_negative_int)
    success_at_least: Optional[float] = attrs.field(default=None)
    check_every: int = attrs.field(default=1, validator=positive_int)
    min_steps: int = attrs.field(default=0, validator=non_negative_int)

    @success_at_least.validator
    def _check_success(self, attribute, value):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0):
            raise ParameterError(f"success_at_least={value!r} must be None or a share in [0, 1]")

    def checks_at(self, t: int) -> bool:
        """Whether training success is checked after step ``t``'s evaluation (never without ``success_at_least``).

        Example:
            >>> [StopRule(success_at_least=0.5, check_every=2, min_steps=1).checks_at(t) for t in range(5)]
            [False, True, False, True, False]
        """
        return (self.success_at_least is not None and t >= self.min_steps
                and (t - self.min_steps) % self.check_every == 0)

    def __call__(self, t: int, loss, records) -> np.ndarray:
        """The rule as the training loop's ``stop`` (agents.training.train): at a check step, the copies
        whose ``records["train_success"]`` has reached ``success_at_least`` (NaN never has).

        Example:
            >>> StopRule(success_at_least=0.75)(0, None, {"train_success": np.array([0.5, 0.75, np.nan])}).tolist()
            [False, True, False]
        """
        success = np.asarray(records["train_success"], dtype=np.float64)
        if not self.checks_at(t):
            return np.zeros(success.shape, dtype=bool)
        with np.errstate(invalid="ignore"):
            return success >= self.success_at_least

    def describe(self) -> str:
        """The rule in words, for reports."""
        if self.success_at_least is None:
            return f"stop after {self.max_steps} steps"
        return (f"stop each copy when its training success first reaches {self.success_at_least:g} "
                f"(checked every {self.check_every} steps from step {self.min_steps}), at most {self.max_steps} steps")


@attrs.frozen
class PlannerSpec:
    """How the planners are built and trained (the base optimizer's settings).

    ``hidden`` units of the reward MLP; discount ``gamma``; ``soft_iterations`` unrolled
    soft value-iteration sweeps; Adam with learning rate ``lr`` and L2 ``weight_decay``
    (added to the loss, so G is the gradient of the recorded L); ``n_mazes`` training
    mazes per copy (``shared_mazes``: all copies train on the same ones); ``stop`` rule;
    ``threads``: torch threads during training (restored after; None leaves them).

    Example:
        >>> PlannerSpec().stop.describe()
        'stop after 40 steps'
    """

    hidden: int = attrs.field(default=16, validator=positive_int)
    gamma: float = attrs.field(default=0.95)
    soft_iterations: int = attrs.field(default=35, validator=positive_int)
    lr: float = attrs.field(default=0.05)
    weight_decay: float = attrs.field(default=1e-2)
    n_mazes: int = attrs.field(default=8, validator=positive_int)
    shared_mazes: bool = attrs.field(default=False)
    init_scale: float = attrs.field(default=1.0)
    stop: StopRule = attrs.field(factory=StopRule)
    threads: Optional[int] = attrs.field(default=1)

    @gamma.validator
    def _g(self, attribute, value):
        check_gamma(value)

    @lr.validator
    def _lr(self, attribute, value):
        if not float(value) > 0:
            raise ParameterError(f"learning rate lr={value!r} must be positive; use e.g. 0.05")

    @weight_decay.validator
    def _wd(self, attribute, value):
        if not float(value) >= 0:
            raise ParameterError(f"weight_decay={value!r} must be >= 0; use e.g. 1e-2")

    @init_scale.validator
    def _init(self, attribute, value):
        if not float(value) > 0:
            raise ParameterError(f"init_scale={value!r} must be positive; use e.g. 1.0")


def deploy_planners(params_np: dict, mazes_per_copy: Sequence[Sequence[Maze]], gamma: float, rngs: Sequence,
                   budget: Optional[int] = None, horizon: Optional[int] = None,
                   values: Optional[np.ndarray] = None) -> dict:
    """The planners' search and walk: K copies, copy k on its own list of M mazes (all of one size).

    Copy k's learned reward r_k on every cell, its values V (exact value iteration,
    ``horizon`` None, or a planning budget of ``horizon`` moves), then greedy moves for
    ``budget`` moves (default 2 x cells), ties broken by ``rngs[k]``. ``values``: the exact
    values ``[K, M, N]`` of these planners on these mazes when already computed (an earlier
    deployment's ``optimal``), used instead of planning again (exact planning only). Returns a
    dict of ``reward``, ``values [K, M, N]``, ``path [K, M, budget + 1]``, ``success``,
    ``lengths [K, M]``.
    """
    K = len(mazes_per_copy)
    M = len(mazes_per_copy[0])
    stacked = [stack_mazes(ms) for ms in mazes_per_copy]
    feats = np.stack([s[0] for s in stacked])  # [K, M, N, F]
    succ = np.stack([s[1] for s in stacked]).reshape(K * M, -1, 5)
    valid = np.stack([s[2] for s in stacked]).reshape(K * M, -1, 5)
    r = reward_of(params_np, feats, per_copy=True)  # [K, M, N]
    r = r.reshape(K * M, -1)
    if values is not None:
        if horizon is not None:
            raise ParameterError("precomputed values are exact optimal values; pass horizon=None with them")
        V = np.asarray(values, dtype=np.float64).reshape(r.shape)
    else:
        V = optimal_values(r, succ, gamma) if horizon is None else finite_horizon_values(r, succ, gamma, horizon)
    q = action_values(r, V, succ, valid, gamma)
    ms = [m for mlist in mazes_per_copy for m in mlist]
    starts = np.array([m.index(m.entrance) for m in ms])
    exits = np.array([m.index(m.exit) for m in ms])
    b = default_budget(ms[0]) if budget is None else int(budget)
    path, success, lengths = greedy_paths(q, succ, starts, exits, b, list(rngs))
    return {"reward": r.reshape(K, M, -1), "values": V.reshape(K, M, -1), "path": path.reshape(K, M, -1),
            "success": success.reshape(K, M), "lengths": lengths.reshape(K, M)}


@attrs.frozen(eq=False)
class Planner:
    """One trained planner (copy ``k`` of a population): a mesa-optimizer over the maze graph.

    Implements the maze-policy protocol (``start(maze, rng) -> act``): plans once per maze
    by value iteration on its learned reward and moves greedily, breaking ties with ``rng``.

    Example:
        >>> from agents.maze.planner_training import train_planners
        >>> from agents.maze.rollout import rollout
        >>> pop = train_planners(MazeDistribution(size=4), K=1, seed=0, spec=PlannerSpec(stop=StopRule(max_steps=2)))
        >>> rollout(pop.copy(0), MazeDistribution(size=4).sample(2, seed=9)).positions.shape
        (2, 33, 2)
    """

    params: dict
    gamma: float = 0.95

    def reward(self, features) -> np.ndarray:
        """Learned reward r(f) at ``features [..., 4]`` -> ``[...]``."""
        return reward_of(self.params, features)[0]

    def reward_map(self, maze: Maze) -> np.ndarray:
        """The learned reward of every cell of ``maze``, ``[n, n]``."""
        return self.reward(maze.features())

    def start(self, maze: Maze, rng: np.random.Generator):
        r = self.reward_map(maze).reshape(-1)
        V = optimal_values(r, maze.successors, self.gamma)
        q = action_values(r, V, maze.successors, maze.valid, self.gamma)

        def act(position):
            qs = q[maze.index(position)]
            best = qs.max()
            tied = np.flatnonzero(qs >= best - 1e-9 * (1.0 + abs(best)))
            return int(tied[int(rng.integers(len(tied)))]) if len(tied) > 1 else int(tied[0])
        return act


@attrs.frozen(eq=False)
class Deployment(PopulationRollout):
    """K planners deployed on the same M mazes: a :class:`~agents.maze.env.PopulationRollout`
    (positions, success, lengths, outcomes) plus the planners' own objective.

    ``mesa_return [K, M]``: J of the path under the copy's learned reward;
    ``oracle_mesa_return [K, M]``: J of the shortest route to the exit, then staying, under
    the same learned reward; ``reward [K, M, N]``: the learned reward maps; ``gamma``;
    ``optimal [K, M, N]``: the exact optimal values of the learned rewards when the planners
    planned exactly (None under a planning budget), so that what reads them (the optimum a
    path attains, another deployment on the same mazes) need not compute them again.
    """

    mesa_return: np.ndarray
    oracle_mesa_return: np.ndarray
    reward: np.ndarray
    gamma: float
    optimal: Optional[np.ndarray] = None

    def trajectory(self, objectives: Sequence[Objective] = ()) -> Trajectory:
        """The deployment as a leaf trajectory: states ``[K, T, M, 2]`` and, per copy, the mean over
        mazes of ``exit_distance`` (the base objective on states), ``mesa`` (minus the learned
        reward) and any further ``objectives``."""
        return PopulationRollout.trajectory(self, (self.mesa_objective(),) + tuple(objectives))

    def mesa_objective(self) -> Objective:
        """The planners' own objective on :attr:`states` (agents.maze.objectives.mesa_objective):
        minus the copy's learned reward of its cell, mean over mazes."""
        return mesa_objective(self.reward, self.mazes)


@attrs.frozen(eq=False)
class PlannerPopulation:
    """K trained planners and the record of their training.

    ``params``: numpy arrays ``W1 [K, 4, H]``, ``b1 [K, H]``, ``W2 [K, H, 1]`` (no output bias, see
    agents.maze.reward_network);
    ``training``: a :class:`~hierarchy.trajectory.Trajectory` with ``L`` (the base objective,
    NLL + weight decay), ``G`` (its squared gradient norm), ``nll`` and, when the stop
    rule checks it, ``train_success``, each ``[K, max_steps + 1]`` (a stopped copy's values
    stay constant after ``stopped_at``); ``stopped_at [K]``; ``train_success [K]`` at the end;
    ``training_mazes``: per copy, its tuple of mazes; ``seconds``: wall time of training.
    """

    params: dict
    spec: PlannerSpec
    distribution: MazeDistribution
    training: Trajectory
    stopped_at: np.ndarray
    train_success: np.ndarray
    training_mazes: tuple
    seconds: float

    @property
    def K(self) -> int:
        return self.params["W1"].shape[0]

    def reward(self, features) -> np.ndarray:
        """Learned reward of every copy at ``features [..., 4]`` -> ``[K, ...]``."""
        return reward_of(self.params, features)

    def reward_probe(self) -> dict:
        """The learned reward at the canonical feature vectors ``PROBES``: name -> ``[K]``.

        The evidence for what was learned: a proxy learner rates ``right_of_green`` above
        ``exit``; an exit learner the other way round.
        """
        names = list(PROBES)
        r = self.reward(np.array([PROBES[k] for k in names]))
        return {k: r[:, i] for i, k in enumerate(names)}

    def copy(self, k: int) -> Planner:
        """Copy ``k`` as a single :class:`Planner` (a maze policy)."""
        return Planner({name: v[k: k + 1] for name, v in self.params.items()}, self.spec.gamma)

    def deploy(self, mazes: Sequence[Maze], seed: SeedLike = 0, budget: Optional[int] = None,
               horizon: Optional[int] = None, values: Optional[np.ndarray] = None) -> Deployment:
        """Deploy every copy on the same ``mazes`` (one size): value iteration, greedy moves; copy k breaks
        ties with ``default_rng(child(seed, k))``. ``budget``: moves (default 2 x cells);
        ``horizon``: the planning budget, moves looked ahead (agents.maze.planning.finite_horizon_values;
        None: exact planning, optimal_values). ``values``: these copies' exact optimal values on these
        mazes ``[K, M, N]`` when known (another exact deployment's ``optimal``), not computed again.

        Example:
            >>> from agents.maze.planner_training import train_planners
            >>> pop = train_planners(MazeDistribution(size=4), K=2, seed=0, spec=PlannerSpec(stop=StopRule(max_steps=3)))
            >>> d = pop.deploy(MazeDistribution(size=4).sample(5, seed=1), seed=0)
            >>> d.positions.shape, d.success.shape
            ((2, 5, 33, 2), (2, 5))
        """
        mazes = tuple(mazes)
        if not mazes:
            raise ParameterError("deploy needs at least one maze; pass MazeDistribution(...).sample(n, seed)")
        ss = as_seed(seed)
        rngs = [np.random.default_rng(child(ss, k)) for k in range(self.K)]
        out = deploy_planners(self.params, [mazes] * self.K, self.spec.gamma, rngs, budget, horizon, values)
        oracle = np.zeros_like(out["success"], dtype=np.float64)
        for j, m in enumerate(mazes):
            route = np.array([m.index(c) for c in m.shortest_path()])
            oracle[:, j] = discounted_return(out["reward"][:, j], np.broadcast_to(route, (self.K, len(route))), self.spec.gamma)
        path = out["path"]
        mesa = discounted_return(out["reward"].reshape(self.K * len(mazes), -1), path.reshape(self.K * len(mazes), -1),
                                 self.spec.gamma).reshape(self.K, len(mazes))
        return Deployment.from_paths(mazes, path, out["success"], out["lengths"], mesa_return=mesa,
                                     oracle_mesa_return=oracle, reward=out["reward"], gamma=self.spec.gamma,
                                     optimal=out["values"] if horizon is None else None)

    def select(self, index) -> "PlannerPopulation":
        """The sub-population ``index`` (int, slice or index array)."""
        idx = np.atleast_1d(np.arange(self.K)[index])
        return attrs.evolve(
            self, params={k: v[idx] for k, v in self.params.items()}, training=self.training.select(idx),
            stopped_at=self.stopped_at[idx], train_success=self.train_success[idx],
            training_mazes=tuple(self.training_mazes[i] for i in idx))


