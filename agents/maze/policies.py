"""Maze policies: what a maze agent provides, the chance baseline and the shortest-path oracle.

A policy's ``start(maze, rng)`` is called once per maze (a planner plans there) and returns
``act(position) -> action``, called once per step with the agent's ``(row, col)``. All
randomness comes from ``rng``. The trained systems (agents.maze.planner.Planner,
agents.maze.reactive.ReactivePolicy) follow the same protocol.
"""

from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import attrs
import numpy as np

from agents.maze.grid import Maze

__all__ = ["MazePolicy", "RandomWalk", "ShortestPath"]


@runtime_checkable
class MazePolicy(Protocol):
    """What a maze agent provides: ``start(maze, rng)`` returns ``act(position) -> action``."""

    def start(self, maze: Maze, rng: np.random.Generator) -> Callable[[tuple], int]: ...


@attrs.frozen
class RandomWalk:
    """The chance baseline: a uniformly random open move each step (stay excluded when a move is open).

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> from agents.maze.rollout import rollout
        >>> rollout(RandomWalk(), MazeDistribution(size=3).sample(4, seed=0), seed=0).positions.shape
        (4, 19, 2)
    """

    def start(self, maze: Maze, rng: np.random.Generator):
        def act(position):
            options = maze.valid_actions(position)[1:] or (0,)
            return int(options[int(rng.integers(len(options)))])
        return act


@attrs.frozen
class ShortestPath:
    """The oracle: follow a shortest path to the exit, then stay (the expert of the planner's training,
    and the base-objective optimizer the examples compare with).

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> from agents.maze.rollout import rollout
        >>> rollout(ShortestPath(), MazeDistribution(size=5).sample(3, seed=0)).success.tolist()
        [True, True, True]
    """

    def start(self, maze: Maze, rng: np.random.Generator):
        dist = maze.distances().reshape(-1)

        def act(position):
            s = maze.index(position)
            for a in range(1, 5):
                if maze.valid[s, a] and dist[maze.successors[s, a]] == dist[s] - 1:
                    return a
            return 0
        return act
