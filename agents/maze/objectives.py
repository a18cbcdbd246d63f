"""Objectives evaluated on maze episode states, and how alike two maze objectives are.

States are agent cells ``[K, T, M, 2]`` (K copies, T steps, M mazes) or, for the
self-replicator, occupied cells ``[K, T, M, n, n]``. Each objective is lower-is-better and
expressed as the share of the way to its optimum still to go (a positive affine map of
the raw objective per copy: definitions.md leaves the scale open), so alignments between
them read "share of the way to the exit per share of the way to its own optimum".
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from agents.maze.irl import designer_features
from agents.maze.grid import Maze, stack_mazes
from agents.maze.env import cell_objective
from agents.maze.planner import optimal_values
from hierarchy.errors import ParameterError
from hierarchy.objective import Objective


def exit_share_objective(mazes: Sequence[Maze], name: str = "exit_share") -> Objective:
    """The base objective as a share: E(t) = sum_j d_j(s_{t,j}) / sum_j d_j(entrance_j).

    d_j is the breadth-first distance to maze j's exit; states are positions ``[K, T, M, 2]``
    (M mazes per copy) or ``[K, T, 2]`` (one maze per copy, K = M). E = 1 at the entrances
    and 0 once every exit is reached: a positive affine map of the mean exit distance.

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> from agents.maze.planner import PlannerSpec, StopRule, train_planners
        >>> from agents.maze.env import ShortestPath, rollout
        >>> mazes = MazeDistribution(size=4).sample(3, seed=0)
        >>> E = exit_share_objective(mazes)
        >>> states = rollout(ShortestPath(), mazes).positions.transpose(1, 0, 2)[None]  # [1, T, M, 2]
        >>> float(E(states)[0, 0]), float(E(states)[0, -1])
        (1.0, 0.0)
    """
    mazes = tuple(mazes)
    scale = float(np.mean([m.distances()[m.entrance] for m in mazes]))
    return cell_objective(name, mazes, lambda m: m.distances() / scale,
                          "share of the way to the exit still to go: summed exit distance / the entrances' (base objective)")


def mesa_share_objective(reward: np.ndarray, mazes: Sequence[Maze], name: str = "mesa_share") -> Objective:
    """The planners' mesa-objective as a share, per copy k:

        M_k(t) = sum_j [ max r_kj - r_kj(s_{t,j}) ] / sum_j [ max r_kj - r_kj(entrance_j) ]

    with r_kj the copy's learned reward on maze j (``reward [K, M, N]``) and the max over
    the maze's cells. M = 1 at the entrances and 0 when every copy stands on a best cell;
    a positive affine map of minus the mean learned reward. A copy whose reward is flat
    over the entrances' shortfall (denominator <= 1e-12 x scale) keeps the raw shortfall
    (then it makes no progress, and its alpha is undefined). States ``[K, T, M, 2]``.

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> from agents.maze.planner import PlannerSpec, StopRule, train_planners
        >>> m = MazeDistribution(size=3).sample(1, seed=0)[0]
        >>> r = np.zeros((1, 1, 9)); r[0, 0, m.index(m.exit)] = 2.0
        >>> M = mesa_share_objective(r, [m])
        >>> M(np.array([[[m.entrance], [m.exit]]])).tolist()
        [[1.0, 0.0]]
    """
    mazes = tuple(mazes)
    reward = np.asarray(reward, dtype=np.float64)
    K, M, N = reward.shape
    if M != len(mazes):
        raise ParameterError(f"reward maps for {M} mazes but {len(mazes)} mazes given; pass one map per maze")
    n = mazes[0].size
    best = reward.max(-1)
    ent = np.array([m.index(m.entrance) for m in mazes])
    gap = (best - reward[:, np.arange(M), ent]).sum(-1)
    flat = ~(gap > 1e-12 * (1.0 + np.abs(best).max(-1)))
    scale = np.where(flat, 1.0, gap)

    def evaluate(states):
        s = np.asarray(states).astype(np.int64)
        if s.ndim != 4 or s.shape[0] != K or s.shape[2] != M:
            raise ParameterError(f"objective {name!r} got states {s.shape}; pass positions [K={K}, T, M={M}, 2]")
        idx = s[..., 0] * n + s[..., 1]
        vals = np.take_along_axis(reward[:, None, :, :], idx[..., None], axis=-1)[..., 0]  # [K, T, M]
        return (best[:, None, :] - vals).sum(-1) / scale[:, None]

    return Objective(name, "share of the way to the best cell of its learned reward still to go (mesa-objective)",
                     evaluate=evaluate)


def replicator_exit_objective(mazes: Sequence[Maze], name: str = "exit_share", share: bool = True) -> Objective:
    """The base objective on the replicator's states ``[K, T, M, n, n]`` (occupied cells): the
    distance from each exit to its nearest copy, summed over mazes, over the entrances'
    distances (``share``) or averaged (raw moves).

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> from agents.maze.planner import PlannerSpec, StopRule, train_planners
        >>> m = MazeDistribution(size=3).sample(1, seed=0)[0]
        >>> occ = np.zeros((1, 2, 1, 3, 3), bool); occ[0, 0, 0][m.entrance] = True; occ[0, 1, 0][m.exit] = True
        >>> replicator_exit_objective([m])(occ).tolist()
        [[1.0, 0.0]]
    """
    mazes = tuple(mazes)
    dist = np.stack([m.distances().astype(np.float64) for m in mazes])  # [M, n, n]
    scale = float(np.mean([m.distances()[m.entrance] for m in mazes])) if share else 1.0

    def evaluate(states):
        s = np.asarray(states, dtype=bool)
        if s.ndim != 5 or s.shape[2] != len(mazes):
            raise ParameterError(f"objective {name!r} got states {s.shape}; pass occupied cells [K, T, M={len(mazes)}, n, n]")
        out = np.zeros(s.shape[:2])
        for j in range(len(mazes)):
            out += np.where(s[:, :, j], dist[j], np.inf).min(axis=(-2, -1))
        return out / len(mazes) / scale

    what = "share of the way to the exit still to go (nearest copy)" if share else "moves from the exit to its nearest copy"
    return Objective(name, what + " (base objective)", evaluate=evaluate)


def replicate_share_objective(limits: Sequence[int], name: str = "replicate_share") -> Objective:
    """The replicator's behavioral objective as a share, per copy k with limit l_k:
    R_k(t) = mean_j (l_k - copies_kj(t)) / (l_k - 1) on states ``[K, T, M, n, n]`` (1 with a
    single copy, 0 at the limit; a limit of 1 keeps the raw count: no progress possible).

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> from agents.maze.planner import PlannerSpec, StopRule, train_planners
        >>> occ = np.zeros((1, 2, 1, 2, 2), bool); occ[0, 0, 0, 0, 0] = True; occ[0, 1, 0] = True
        >>> replicate_share_objective([4])(occ).tolist()
        [[1.0, 0.0]]
    """
    limits = np.asarray(limits, dtype=np.float64)
    scale = np.where(limits > 1, limits - 1.0, 1.0)

    def evaluate(states):
        s = np.asarray(states, dtype=bool)
        if s.ndim != 5 or s.shape[0] != len(limits):
            raise ParameterError(f"objective {name!r} got states {s.shape}; pass occupied cells [K={len(limits)}, T, M, n, n]")
        copies = s.sum(axis=(-2, -1)).mean(-1)  # [K, T]
        return (limits[:, None] - copies) / scale[:, None]

    return Objective(name, "share of the copies still missing to the limit (its behavioral objective)", evaluate=evaluate)


# --- comparing objectives on a distribution -------------------------------------------------------------


def centered_cosine(a, b) -> np.ndarray:
    """Cosine of two families of per-maze cell values, each maze's mean removed first.

        sim(a, b) = sum_j <a_j - mean(a_j), b_j - mean(b_j)> / sqrt( sum_j |a_j - mean(a_j)|^2 * sum_j |b_j - mean(b_j)|^2 )

    ``a [..., M, N]`` and ``b`` (broadcast to it): M mazes of N cells. A constant per maze
    changes no behaviour, so it is removed; a positive scale does not change the cosine.
    0 where either side is constant on every maze.

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> from agents.maze.planner import PlannerSpec, StopRule, train_planners
        >>> a = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
        >>> float(centered_cosine(a, 3 * a + 1)), float(centered_cosine(a, -a))
        (1.0, -1.0)
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.broadcast_to(np.asarray(b, dtype=np.float64), a.shape)
    a = a - a.mean(-1, keepdims=True)
    b = b - b.mean(-1, keepdims=True)
    num = (a * b).sum((-2, -1))
    den = np.sqrt((a * a).sum((-2, -1)) * (b * b).sum((-2, -1)))
    return np.divide(num, den, out=np.zeros(np.shape(num)), where=den > 0)


def objective_similarity(weights, mazes: Sequence[Maze], reference=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Similarity of recovered linear rewards R_w(s) = w . phi(s) to a reference reward on a distribution.

    phi are the designer's features [green, right_of_green, exit] (agents.maze.irl); the
    reference defaults to the base objective, reward 1 on the exit. Returns
    :func:`centered_cosine` of the reward maps over the mazes' cells, one value per row of
    ``weights [S, 3]``: 1 when R_w equals the reference up to a positive scale and a
    constant per maze on every cell that occurs, whatever the weights of features that
    never separate from the exit there.

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> from agents.maze.planner import PlannerSpec, StopRule, train_planners
        >>> mazes = MazeDistribution(size=5, extra_green=0).sample(4, seed=0)   # green always by the exit
        >>> np.round(objective_similarity([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], mazes), 6).tolist()
        [1.0, 1.0]
        >>> decoys = MazeDistribution(size=5, extra_green=2, green_by_exit="never").sample(4, seed=0)
        >>> float(np.round(objective_similarity([[0.0, 1.0, 0.0]], decoys)[0], 3)) < 0.0
        True
    """
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    phi = np.stack([designer_features(m).reshape(m.n_cells, -1) for m in mazes])  # [M, N, F]
    ref = phi @ np.asarray(reference, dtype=np.float64)
    maps = np.einsum("mnf,sf->smn", phi, w)
    return centered_cosine(maps, ref[None])


def weight_cosine(weights, reference=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Plain cosine of weight vectors ``[S, F]`` with ``reference`` (0 for a zero vector).

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> from agents.maze.planner import PlannerSpec, StopRule, train_planners
        >>> weight_cosine([[0.0, 1.0, 1.0]]).round(4).tolist()
        [0.7071]
    """
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    r = np.asarray(reference, dtype=np.float64)
    n = np.linalg.norm(w, axis=-1) * np.linalg.norm(r)
    return np.divide(w @ r, n, out=np.zeros(len(w)), where=n > 0)


def mesa_optimum_attained(deployment, tol: float = 1e-6) -> np.ndarray:
    """``[K, M]``: whether each planner's path attains the optimum of its own mesa-objective.

    Rule: J(path) >= V(entrance) - tol * (1 + |V(entrance)|), with J the discounted learned
    reward of the path (the last state repeating) and V the optimal values of that reward
    (agents.maze.planner.optimal_values). Reaching the exit ends an episode, so a path that
    passes the exit on its way to a better cell does not attain it.

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> from agents.maze.planner import PlannerSpec, StopRule, train_planners
        >>> from agents.maze.planner import train_planners
        >>> pop = train_planners(MazeDistribution(size=4), K=1, seed=0, spec=PlannerSpec(stop=StopRule(max_steps=3)))
        >>> mesa_optimum_attained(pop.deploy(MazeDistribution(size=4).sample(3, seed=1))).shape
        (1, 3)
    """
    reward = np.asarray(deployment.reward)
    K, M, N = reward.shape
    _, succ, _ = stack_mazes(deployment.mazes)
    succ = np.ascontiguousarray(np.broadcast_to(succ, (K, M, N, 5))).reshape(K * M, N, 5)
    V = optimal_values(reward.reshape(K * M, N), succ, deployment.gamma).reshape(K, M, N)
    ent = np.array([m.index(m.entrance) for m in deployment.mazes])
    best = V[:, np.arange(M), ent]
    return deployment.mesa_return >= best - tol * (1.0 + np.abs(best))
