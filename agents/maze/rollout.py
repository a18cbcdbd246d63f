"""Rollouts: episodes of a policy in any environment that follows the protocol of agents.maze.env.

:func:`run_episode` plays one episode of any environment that passes
agents.maze.env_checker.check_env; :func:`rollout` runs a maze policy once in each of K
mazes, through :class:`~agents.maze.env.MazeEnv` or any environment built by ``env(maze,
budget, seen_reward)`` whose ``info`` carries the agent's ``position``. A rollout records
positions ``[K, T, 2]`` (one row per maze, T = budget + 1, index 0 the entrance), padded
after the episode ends by repeating the last position, so that objectives evaluate on
states (hierarchy/objective.py). :class:`PopulationRollout` is K systems on the same M mazes.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import attrs
import numpy as np

from hierarchy.errors import ParameterError
from agents.maze.errors import EnvironmentProtocolError
from hierarchy.objective import Objective
from hierarchy.trajectory import Trajectory

from agents.maze.env import MazeEnv, SeenReward, default_budget
from agents.maze.env_checker import check_env
from agents.maze.grid import Maze
from agents.maze.objectives import exit_distance_objective
from agents.maze.policies import MazePolicy
from hierarchy.seeding import as_seed, child, SeedLike

__all__ = ["Episode", "run_episode", "OUTCOMES", "outcome_of", "Rollout", "rollout", "PopulationRollout",
           "default_budget"]


@attrs.frozen(eq=False)
class Episode:
    """One episode of an environment: ``infos`` (the reset's, then one per step), the seen
    ``rewards [n]`` and the designer's ``performance [n]`` per step, and how it ended."""

    infos: tuple
    rewards: np.ndarray
    performance: np.ndarray
    terminated: bool
    truncated: bool

    @property
    def length(self) -> int:
        """Steps taken."""
        return len(self.rewards)


def run_episode(env, act: Callable[[np.ndarray, dict], int], seed: Optional[SeedLike] = None,
                options: Optional[dict] = None, max_steps: Optional[int] = None) -> Episode:
    """Play one episode: ``reset(seed=seed, options=options)``, then ``step(act(observation, info))``
    until ``terminated`` or ``truncated`` (or ``max_steps`` steps).

    ``env`` is any environment that passes :func:`~agents.maze.env_checker.check_env`.

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> m = MazeDistribution(size=3).sample(1, seed=0)[0]
        >>> from agents.maze.policies import ShortestPath
        >>> go = ShortestPath().start(m, None)
        >>> e = run_episode(MazeEnv(m), lambda obs, info: go(info["position"]))
        >>> e.terminated, e.length == int(m.distances()[m.entrance]), float(e.performance.sum())
        (True, True, 1.0)
    """
    obs, info = env.reset(seed=seed, options=options)
    infos, rewards, performance = [info], [], []
    terminated = truncated = False
    while not (terminated or truncated) and (max_steps is None or len(rewards) < max_steps):
        obs, reward, terminated, truncated, info = env.step(act(obs, info))
        infos.append(info)
        rewards.append(float(reward))
        performance.append(float(info["performance"]))
    return Episode(tuple(infos), np.asarray(rewards, dtype=np.float64), np.asarray(performance, dtype=np.float64),
                   bool(terminated), bool(truncated))


OUTCOMES = ("exit", "decoy", "elsewhere")


def outcome_of(maze: Maze, final, success: bool) -> str:
    """Where an episode ended: ``"exit"`` if the exit was reached, ``"decoy"`` if the agent ended
    on a decoy green cell or the cell just right of one, else ``"elsewhere"``.

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> m = MazeDistribution(size=5, extra_green=1, green_by_exit="never").sample(1, seed=0)[0]
        >>> outcome_of(m, m.decoys[0], False), outcome_of(m, m.exit, True)
        ('decoy', 'exit')
    """
    if success:
        return "exit"
    r, c = (int(v) for v in final)
    for gr, gc in maze.decoys:
        if (r, c) in ((gr, gc), (gr, gc + 1)):
            return "decoy"
    return "elsewhere"


@attrs.frozen(eq=False)
class Rollout:
    """Episodes of one policy over K mazes.

    ``positions [K, T, 2]`` (T = the largest budget + 1; after the episode ends the last
    position repeats), ``success [K]`` (the exit was reached), ``lengths [K]`` (steps taken
    until the episode ended), ``performance [K]`` (the designer's return) and
    ``seen_return [K]`` (the return of the reward the agent saw).
    """

    mazes: tuple
    positions: np.ndarray
    success: np.ndarray
    lengths: np.ndarray
    performance: np.ndarray
    seen_return: np.ndarray

    @property
    def K(self) -> int:
        return len(self.mazes)

    def outcomes(self) -> np.ndarray:
        """Per maze: ``"exit"``, ``"decoy"`` or ``"elsewhere"`` (see :func:`outcome_of`)."""
        return np.array([outcome_of(m, p[-1], s) for m, p, s in zip(self.mazes, self.positions, self.success)])

    def rates(self) -> dict:
        """Fraction of mazes per outcome, e.g. ``{"exit": 0.8, "decoy": 0.2, "elsewhere": 0.0}``."""
        o = self.outcomes()
        return {k: float(np.mean(o == k)) for k in OUTCOMES}


def rollout(policy: MazePolicy, mazes: Sequence[Maze], seed: SeedLike = 0, budget: Optional[int] = None,
            seen_reward: Optional[SeenReward] = None, env: Callable = MazeEnv) -> Rollout:
    """Run ``policy`` once in each maze; maze i uses ``default_rng(child(seed, i))``.

    ``env(maze, budget=..., seen_reward=...)`` builds the environment of a maze (default
    :class:`~agents.maze.env.MazeEnv`); the first one built is checked with
    :func:`~agents.maze.env_checker.check_env` (nothing random: a fixed maze), and its
    ``info`` must carry the agent's ``position``.

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> from agents.maze.policies import ShortestPath
        >>> r = rollout(ShortestPath(), MazeDistribution(size=4).sample(2, seed=1))
        >>> bool(r.success.all()), r.lengths.tolist() == [m.distances()[m.entrance] for m in r.mazes]
        (True, True)
    """
    if not callable(getattr(policy, "start", None)):
        raise ParameterError(
            f"policy {type(policy).__name__} has no start(maze, rng) method; give it one returning act(position) -> action"
        )
    mazes = tuple(mazes)
    if not mazes or not all(isinstance(m, Maze) for m in mazes):
        raise ParameterError("rollout needs a non-empty list of Maze objects; build them with MazeDistribution.sample")
    ss = as_seed(seed)
    rngs = [np.random.default_rng(child(ss, i)) for i in range(len(mazes))]
    budgets = [default_budget(m) if budget is None else int(budget) for m in mazes]
    T = max(budgets) + 1
    positions = np.zeros((len(mazes), T, 2), dtype=np.int64)
    success = np.zeros(len(mazes), dtype=bool)
    lengths = np.zeros(len(mazes), dtype=np.int64)
    perf = np.zeros(len(mazes))
    seen = np.zeros(len(mazes))
    for k, (m, rng) in enumerate(zip(mazes, rngs)):
        e = env(m, budget=budgets[k], seen_reward=seen_reward)
        if k == 0:
            check_env(e, random=False)
        act = policy.start(m, rng)
        ep = run_episode(e, lambda obs, info: act(tuple(info["position"])))
        if "position" not in ep.infos[-1]:
            raise EnvironmentProtocolError(f"{type(e).__name__}'s info has no 'position'; a maze rollout reads the agent's "
                                    f"(row, col) from info['position']")
        t = ep.length
        positions[k, : t + 1] = [info["position"] for info in ep.infos]
        positions[k, t + 1:] = positions[k, t]
        success[k] = tuple(ep.infos[-1]["position"]) == m.exit
        lengths[k] = t
        seen[k] = ep.rewards.sum()
        perf[k] = ep.performance.sum()
    return Rollout(mazes, positions, success, lengths, perf, seen)


@attrs.frozen(eq=False)
class PopulationRollout:
    """K systems (e.g. the copies of a trained population) each run once on the same M mazes.

    ``positions [K, M, T, 2]`` (T = budget + 1; after the episode ends the position
    repeats), ``success [K, M]``, ``lengths [K, M]`` (steps until the episode ended),
    ``outcomes [K, M]`` (``"exit"``, ``"decoy"``, ``"elsewhere"``; see :func:`outcome_of`).
    """

    mazes: tuple
    positions: np.ndarray
    success: np.ndarray
    lengths: np.ndarray
    outcomes: np.ndarray

    @classmethod
    def from_paths(cls, mazes: Sequence[Maze], paths: np.ndarray, success: np.ndarray, lengths: np.ndarray, **extra):
        """Build from cell indices ``paths [K, M, T]`` (``row * n + col``), classifying the outcomes.

        Example:
            >>> from agents.maze.grid import MazeDistribution
            >>> m = MazeDistribution(size=3).sample(1, seed=0)[0]
            >>> e = m.index(m.entrance)
            >>> r = PopulationRollout.from_paths([m], np.array([[[e, e]]]), np.array([[False]]), np.array([[1]]))
            >>> r.outcomes.tolist(), r.positions.shape
            ([['elsewhere']], (1, 1, 2, 2))
        """
        mazes = tuple(mazes)
        n = mazes[0].size
        paths = np.asarray(paths)
        positions = np.stack([paths // n, paths % n], axis=-1)
        outcomes = np.array([[outcome_of(m, positions[k, j, -1], success[k, j]) for j, m in enumerate(mazes)]
                             for k in range(paths.shape[0])])
        return cls(mazes, positions, np.asarray(success, dtype=bool), np.asarray(lengths), outcomes, **extra)

    @property
    def K(self) -> int:
        return self.positions.shape[0]

    def rates(self) -> dict:
        """Per system, the share of mazes per outcome: ``{"exit": [K], "decoy": [K], "elsewhere": [K]}``."""
        return {k: (self.outcomes == k).mean(1) for k in OUTCOMES}

    @property
    def states(self) -> np.ndarray:
        """Positions as leaf states ``[K, T, M, 2]`` for objectives (hierarchy/objective.py)."""
        return self.positions.transpose(0, 2, 1, 3)

    def trajectory(self, objectives: Sequence[Objective] = ()) -> Trajectory:
        """A leaf trajectory: states ``[K, T, M, 2]``, ``exit_distance`` (the base objective on
        states, mean over mazes) and each of ``objectives`` evaluated on the states."""
        states = self.states
        values = {"exit_distance": exit_distance_objective(self.mazes)(states)}
        for obj in objectives:
            values[obj.name] = obj(states)
        return Trajectory(values, states=states)
