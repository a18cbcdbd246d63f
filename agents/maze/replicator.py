"""The non-optimizing self-replicator of seed 002, Example 5.

It searches for nothing: every step, each copy divides, and the new copies spread into
the neighbouring open cells that no copy occupies yet, until the number of copies
reaches its ``limit``. When more cells are free than copies are left to make, a seeded
random choice decides which cells get one. It succeeds if a copy reaches the exit.

In a maze with no more cells than its limit it fills the maze and so reaches the exit;
in a larger maze its limit stops it, and what it does looks like "replicate" rather
than "exit the maze": its behavioral objective is the number of copies.

Rule, per step t -> t + 1 (occupied set O_t, |O_0| = 1 at the entrance):

    F_t     = { s' not in O_t : s' = next(s, a) for some s in O_t and open move a }
    O_{t+1} = O_t  united with  (all of F_t if |O_t| + |F_t| <= limit,
                                 else a uniformly random subset of limit - |O_t| cells of F_t)

O_t stays connected and contains the entrance, so reaching the exit needs at least
(distance from entrance to exit) + 1 copies.
"""

from __future__ import annotations

from typing import Optional, Sequence

import attrs
import numpy as np

from hierarchy.errors import ParameterError
from hierarchy.objective import Objective
from hierarchy.trajectory import Trajectory

from agents.maze.grid import Maze, stack_mazes
from agents.maze.env import default_budget
from agents.maze.objectives import nearest_copy_distance
from hierarchy.seeding import as_seed, child, SeedLike


@attrs.frozen(eq=False)
class ReplicatorRun:
    """The replicator run once in each of K mazes (one size).

    ``occupied [K, T, n, n]`` bool (T = steps + 1; index 0 is the single copy at the
    entrance; after the exit is reached the state repeats), ``counts [K, T]`` copies,
    ``success [K]``, ``reached_at [K]`` (step the exit was first occupied, -1 if never).
    """

    mazes: tuple
    limit: int
    occupied: np.ndarray
    counts: np.ndarray
    success: np.ndarray
    reached_at: np.ndarray

    @property
    def states(self) -> np.ndarray:
        """Leaf states ``[K, T, n, n]`` (the occupied cells) for objectives."""
        return self.occupied

    def exit_distance(self) -> np.ndarray:
        """``[K, T]``: breadth-first distance from the exit to its nearest copy (0 once reached)."""
        out = np.zeros(self.counts.shape)
        for k, m in enumerate(self.mazes):
            d = m.distances().astype(np.float64)
            out[k] = nearest_copy_distance(self.occupied[k], d)
        return out

    def trajectory(self) -> Trajectory:
        """A leaf trajectory (lower is better): ``replicate`` = -copies (its behavioral objective),
        ``exit`` = -1 once a copy is at the exit (the base objective), ``exit_distance``; states included."""
        reached = np.stack([self.occupied[k, :, m.exit[0], m.exit[1]] for k, m in enumerate(self.mazes)])
        return Trajectory({"replicate": -self.counts.astype(np.float64), "exit": -reached.astype(np.float64),
                           "exit_distance": self.exit_distance()}, states=self.occupied, meta={"limit": self.limit})


def replicate_objective(name: str = "replicate") -> Objective:
    """The replicator's behavioral objective on states ``[K, T, n, n]``: minus the number of copies.

    Example:
        >>> replicate_objective()(np.ones((1, 2, 3, 3), bool)).tolist()
        [[-9.0, -9.0]]
    """
    return Objective(name, "minus the number of copies", evaluate=lambda s: -np.asarray(s).sum(axis=(-2, -1)).astype(float))


@attrs.frozen
class Replicator:
    """A self-replicator with at most ``limit`` copies.

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> small = MazeDistribution(size=4).sample(3, seed=0)
        >>> Replicator(limit=16).run(small).success.tolist()
        [True, True, True]
    """

    limit: int = attrs.field()

    @limit.validator
    def _check(self, attribute, value):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ParameterError(f"limit={value!r} must be a positive number of copies")

    def run(self, mazes: Sequence[Maze], seed: SeedLike = 0, steps: Optional[int] = None) -> ReplicatorRun:
        """Run in each maze for ``steps`` steps (default 2 x cells); maze k draws its choices from
        ``default_rng(child(seed, k))``."""
        mazes = tuple(mazes)
        if not mazes:
            raise ParameterError("the replicator needs at least one maze")
        _, succ, valid = stack_mazes(mazes)
        K, N = succ.shape[:2]
        n = mazes[0].size
        T = (default_budget(mazes[0]) if steps is None else int(steps)) + 1
        ss = as_seed(seed)
        rngs = [np.random.default_rng(child(ss, k)) for k in range(K)]
        occ = np.zeros((K, N), dtype=bool)
        occ[np.arange(K), [m.index(m.entrance) for m in mazes]] = True
        exits = np.array([m.index(m.exit) for m in mazes])
        occupied = np.zeros((K, T, N), dtype=bool)
        occupied[:, 0] = occ
        done = occ[np.arange(K), exits]
        reached = np.where(done, 0, -1)
        flat = succ.reshape(K, N * 5)
        for t in range(1, T):
            near = (np.take_along_axis(occ, flat, axis=1).reshape(K, N, 5) & valid)[..., 1:].any(-1)
            frontier = near & ~occ & ~done[:, None]
            room = self.limit - occ.sum(1)
            if not (frontier.any(1) & (room > 0)).any():  # nothing can change any more
                occupied[:, t:] = occ[:, None]
                break
            draws = np.stack([g.random(N) for g in rngs])  # every maze draws every step: streams stay aligned
            crowded = frontier.sum(1) > room
            if crowded.any():
                keys = np.where(frontier[crowded], draws[crowded], np.inf)
                rank = np.argsort(np.argsort(keys, axis=1), axis=1)
                frontier[crowded] &= rank < room[crowded, None]
            occ = occ | frontier
            now = occ[np.arange(K), exits]
            reached = np.where(now & ~done, t, reached)
            done = done | now
            occupied[:, t] = occ
        counts = occupied.sum(-1)
        return ReplicatorRun(mazes, int(self.limit), occupied.reshape(K, T, n, n), counts, done, reached)
