"""Objectives evaluated on maze episode states, and how alike two maze objectives are.

States are agent cells ``[K, T, M, 2]`` (K copies, T steps, M mazes) or, for the
self-replicator, occupied cells ``[K, T, M, n, n]``. Each objective is lower-is-better and
expressed as the share of the way to its optimum still to go (a positive affine map of
the raw objective per copy: definitions.md leaves the scale open), so alignments between
them read "share of the way to the exit per share of the way to its own optimum"; the raw
forms (moves to the exit, minus the learned reward) are the same functions with
``share=False``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from typing import Callable, Optional

from agents.maze.irl import designer_features
from agents.maze.grid import Maze, stack_mazes
from agents.maze.planning import optimal_values
from hierarchy.errors import ParameterError
from hierarchy.objective import Objective

__all__ = ["cell_objective", "exit_distance_objective", "exit_share_objective", "proxy_objective", "mesa_objective",
           "mesa_share_objective", "nearest_copy_distance", "replicator_exit_objective", "replicate_share_objective",
           "centered_cosine", "objective_similarity", "weight_cosine", "mesa_optimum_attained"]


def cell_objective(name: str, mazes: Sequence[Maze], cost: Callable[[Maze], np.ndarray], description: str = "") -> Objective:
    """An objective that charges ``cost(maze)[row, col]`` for the agent's cell (lower is better).

    States are positions ``[K, T, 2]`` with one maze per copy (``len(mazes) == K``), or
    ``[K, T, M, 2]`` with M mazes per copy (``len(mazes) == M``), where the value is the
    mean over the M mazes. A reward R enters as cost = -R.

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> from agents.maze.policies import ShortestPath
        >>> from agents.maze.rollout import rollout
        >>> mazes = MazeDistribution(size=4).sample(2, seed=0)
        >>> D = exit_distance_objective(mazes)
        >>> r = rollout(ShortestPath(), mazes)
        >>> D(r.positions)[:, 0].tolist() == [m.distances()[m.entrance] for m in mazes], D(r.positions)[:, -1].tolist()
        (True, [0.0, 0.0])
    """
    mazes = tuple(mazes)
    tables = [np.asarray(cost(m), dtype=np.float64) for m in mazes]
    for m, t in zip(mazes, tables):
        if t.shape != (m.size, m.size):
            raise ParameterError(f"cost for objective {name!r} has shape {t.shape}; return one value per cell, shape {(m.size, m.size)}")

    def evaluate(states):
        s = np.asarray(states).astype(np.int64)
        if s.ndim == 3 and s.shape[0] == len(tables):
            return np.stack([t[p[:, 0], p[:, 1]] for t, p in zip(tables, s)])
        if s.ndim == 4 and s.shape[2] == len(tables):
            return np.mean([t[s[:, :, j, 0], s[:, :, j, 1]] for j, t in enumerate(tables)], axis=0)
        raise ParameterError(
            f"objective {name!r} got states of shape {s.shape} for {len(tables)} mazes; "
            f"pass positions [K={len(tables)}, T, 2] or [K, T, M={len(tables)}, 2]"
        )

    return Objective(name, description, evaluate=evaluate)


def exit_distance_objective(mazes: Sequence[Maze], name: str = "exit_distance", description: Optional[str] = None,
                            share: bool = False) -> Objective:
    """The base objective on agent cells: D(t) = mean_j d_j(s_{t,j}), d_j the breadth-first distance
    to maze j's exit (moves), or with ``share`` the share of the way still to go,
    E(t) = sum_j d_j(s_{t,j}) / sum_j d_j(entrance_j) (1 at the entrances, 0 once every exit is
    reached). States: positions ``[K, T, M, 2]`` (M mazes per copy) or ``[K, T, 2]`` (one maze
    per copy, K = M); see :func:`cell_objective`.

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> from agents.maze.policies import ShortestPath
        >>> from agents.maze.rollout import rollout
        >>> mazes = MazeDistribution(size=4).sample(3, seed=0)
        >>> E = exit_distance_objective(mazes, share=True)
        >>> states = rollout(ShortestPath(), mazes).positions.transpose(1, 0, 2)[None]  # [1, T, M, 2]
        >>> float(E(states)[0, 0]), float(E(states)[0, -1])
        (1.0, 0.0)
    """
    mazes = tuple(mazes)
    if not share:
        return cell_objective(name, mazes, lambda m: m.distances(), "moves from the agent's cell to the exit "
                              "(base objective)" if description is None else description)
    scale = float(np.mean([m.distances()[m.entrance] for m in mazes]))
    return cell_objective(name, mazes, lambda m: m.distances() / scale,
                          "share of the way to the exit still to go: summed exit distance / the entrances' (base "
                          "objective)" if description is None else description)


def exit_share_objective(mazes: Sequence[Maze], name: str = "exit_share") -> Objective:
    """The base objective as a share of the way to the exit: :func:`exit_distance_objective` with ``share``."""
    return exit_distance_objective(mazes, name, share=True)


def proxy_objective(mazes: Sequence[Maze], name: str = "right_of_green") -> Objective:
    """The green-cell proxy on states: -1 on a cell just right of a green cell, else 0.

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> mazes = MazeDistribution(size=4).sample(1, seed=0)
        >>> float(proxy_objective(mazes)(np.array([[mazes[0].exit]]))[0, 0])
        -1.0
    """
    return cell_objective(name, mazes, lambda m: -m.right_of_green().astype(float), "-1 just right of a green cell (proxy)")


def mesa_objective(reward: np.ndarray, mazes: Sequence[Maze], name: str = "mesa", share: bool = False) -> Objective:
    """The planners' mesa-objective on agent cells ``[K, T, M, 2]``, lower is better, per copy k:

        raw:    M_k(t) = -mean_j r_kj(s_{t,j})
        share:  M_k(t) = sum_j [ max r_kj - r_kj(s_{t,j}) ] / sum_j [ max r_kj - r_kj(entrance_j) ]

    with r_kj the copy's learned reward on maze j (``reward [K, M, N]``) and the max over the
    maze's cells. The share is 1 at the entrances and 0 when every copy stands on a best
    cell: a positive affine map of the raw form. A copy whose reward is flat over the
    entrances' shortfall (denominator <= 1e-12 x scale) keeps the raw shortfall (then it
    makes no progress, and its alpha is undefined).

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> m = MazeDistribution(size=3).sample(1, seed=0)[0]
        >>> r = np.zeros((1, 1, 9)); r[0, 0, m.index(m.exit)] = 2.0
        >>> states = np.array([[[m.entrance], [m.exit]]])
        >>> mesa_objective(r, [m], share=True)(states).tolist(), mesa_objective(r, [m])(states).tolist()
        ([[1.0, 0.0]], [[-0.0, -2.0]])
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
        return (best[:, None, :] - vals).sum(-1) / scale[:, None] if share else -vals.mean(-1)

    what = ("share of the way to the best cell of its learned reward still to go (mesa-objective)" if share else
            "minus the planner's learned reward of its cell, mean over mazes")
    return Objective(name, what, evaluate=evaluate)


def mesa_share_objective(reward: np.ndarray, mazes: Sequence[Maze], name: str = "mesa_share") -> Objective:
    """The mesa-objective as a share of the way to its optimum: :func:`mesa_objective` with ``share``."""
    return mesa_objective(reward, mazes, name, share=True)


def nearest_copy_distance(occupied: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """The distance from the exit to its nearest copy: min over occupied cells of ``distances [n, n]``;
    ``occupied [..., n, n]`` -> ``[...]`` (inf where nothing is occupied)."""
    return np.where(occupied, distances, np.inf).min(axis=(-2, -1))


def replicator_exit_objective(mazes: Sequence[Maze], name: str = "exit_share", share: bool = True) -> Objective:
    """The base objective on the replicator's states ``[K, T, M, n, n]`` (occupied cells): the
    distance from each exit to its nearest copy, summed over mazes, over the entrances'
    distances (``share``) or averaged (raw moves).

    Example:
        >>> from agents.maze.grid import MazeDistribution
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
            out += nearest_copy_distance(s[:, :, j], dist[j])
        return out / len(mazes) / scale

    what = "share of the way to the exit still to go (nearest copy)" if share else "moves from the exit to its nearest copy"
    return Objective(name, what + " (base objective)", evaluate=evaluate)


def replicate_share_objective(limits: Sequence[int], name: str = "replicate_share") -> Objective:
    """The replicator's behavioral objective as a share, per copy k with limit l_k:
    R_k(t) = mean_j (l_k - copies_kj(t)) / (l_k - 1) on states ``[K, T, M, n, n]`` (1 with a
    single copy, 0 at the limit; a limit of 1 keeps the raw count: no progress possible).

    Example:
        >>> from agents.maze.grid import MazeDistribution
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
        >>> weight_cosine([[0.0, 1.0, 1.0]]).round(4).tolist()
        [0.7071]
    """
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    r = np.asarray(reference, dtype=np.float64)
    n = np.linalg.norm(w, axis=-1) * np.linalg.norm(r)
    return np.divide(w @ r, n, out=np.zeros(len(w)), where=n > 0)


def mesa_optimum_attained(deployment, tol: float = 1e-6, values: Optional[np.ndarray] = None) -> np.ndarray:
    """``[K, M]``: whether each planner's path attains the optimum of its own mesa-objective.

    Rule: J(path) >= V(entrance) - tol * (1 + |V(entrance)|), with J the discounted learned
    reward of the path (the last state repeating) and V the optimal values of that reward
    (agents.maze.planning.optimal_values). Reaching the exit ends an episode, so a path that
    passes the exit on its way to a better cell does not attain it. V is taken from
    ``values`` (``[K, M, N]``, e.g. an exact deployment's ``optimal`` on the same mazes), else
    from ``deployment.optimal`` when it planned exactly, else computed.

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> from agents.maze.planner import PlannerSpec, StopRule
        >>> from agents.maze.planner_training import train_planners
        >>> pop = train_planners(MazeDistribution(size=4), K=1, seed=0, spec=PlannerSpec(stop=StopRule(max_steps=3)))
        >>> mesa_optimum_attained(pop.deploy(MazeDistribution(size=4).sample(3, seed=1))).shape
        (1, 3)
    """
    reward = np.asarray(deployment.reward)
    K, M, N = reward.shape
    if values is None:
        values = getattr(deployment, "optimal", None)
    if values is not None:
        V = np.asarray(values, dtype=np.float64)
        if V.shape != (K, M, N):
            raise ParameterError(f"values of shape {V.shape} do not fit the deployment's rewards {(K, M, N)}; pass the "
                                 f"optimal values of the same copies on the same mazes")
    else:
        _, succ, _ = stack_mazes(deployment.mazes)
        succ = np.ascontiguousarray(np.broadcast_to(succ, (K, M, N, 5))).reshape(K * M, N, 5)
        V = optimal_values(reward.reshape(K * M, N), succ, deployment.gamma).reshape(K, M, N)
    ent = np.array([m.index(m.entrance) for m in deployment.mazes])
    best = V[:, np.arange(M), ent]
    return deployment.mesa_return >= best - tol * (1.0 + np.abs(best))
