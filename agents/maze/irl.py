"""Maximum-entropy inverse reinforcement learning: the behavioral objective from trajectories.

The behavioral objective of a system is what it appears to optimize: the objective
that inverse reinforcement learning recovers from its behaviour (seed 001). Here the
recovered objective is a reward linear in cell features, R_w(s) = w . phi(s), fitted by
maximum entropy IRL (Ziebart et al. 2008) over a distribution of mazes:

    P_w(path) = exp( sum_{t=0}^{H} w . phi(s_t) ) / Z_w(s_0)

over all paths s_0, ..., s_H of H moves (stay or an open move) from the entrance. The
partition function comes from soft value iteration backwards in time,

    V_H(s) = w . phi(s),     V_t(s) = w . phi(s) + logsumexp_{a valid} V_{t+1}(next(s, a)),
    log Z_w(s_0) = V_0(s_0),

and the gradient of the mean log-likelihood of the demonstrations (minus (l2 / 2) |w|^2) is

    grad = (expert feature counts) - (expected feature counts under P_w) - l2 * w,

the expected counts coming from a forward pass of state-visitation frequencies under
the soft policy pi_t(a | s) = exp(V_{t+1}(next(s, a)) - logsumexp_a' V_{t+1}(next(s, a'))).
The objective is concave in w; BFGS climbs it from w = 0.

Default features are the designer's view without the constant (a constant adds the
same amount to every path and is not identifiable): ``[green, right_of_green, exit]``.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import attrs
import numpy as np
import torch

from hierarchy.errors import ParameterError

from agents.maze.grid import Maze, stack_mazes
from agents.maze.planning import soft_value_iteration
from agents.threads import torch_threads

IRL_FEATURES = ("green", "right_of_green", "exit")


def designer_features(maze: Maze) -> np.ndarray:
    """``[n, n, 3]``: green, right of green, exit (marked whether or not the agent sees it).

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> m = MazeDistribution(size=4, exit_visible=0.0).sample(1, seed=0)[0]
        >>> designer_features(m)[m.exit].tolist()
        [0.0, 1.0, 1.0]
    """
    return maze.features("designer")[..., :3]


def _features(mazes: Sequence[Maze], features: Callable[[Maze], np.ndarray]) -> np.ndarray:
    phi = np.stack([np.asarray(features(m), dtype=np.float64).reshape(m.n_cells, -1) for m in mazes])
    if not np.all(np.isfinite(phi)):
        raise ParameterError("IRL features contain non-finite values; return finite numbers from the feature function")
    return phi


def soft_backward(reward: np.ndarray, successors: np.ndarray, valid: np.ndarray, horizon: int) -> tuple:
    """Finite-horizon soft value iteration: ``(V_0 [B, N], values [H + 1, B, N])``.

    V_H = r, V_t = r + logsumexp_{a valid} V_{t+1}(next(s, a)); ``values[t] = V_t``
    (agents.maze.planning.soft_value_iteration, gamma = 1, from V = r).
    ``V_0(s)`` is log Z, the log of the sum over all H-move paths from s of exp(total
    reward). The soft policy is pi_t(a|s) = exp(V_{t+1}(next(s, a)) + r(s) - V_t(s)).

    Example:
        >>> succ = np.array([[[0, 0, 0, 0, 1], [1, 1, 1, 0, 1]]])   # two cells, one passage
        >>> valid = np.array([[[1, 0, 0, 0, 1], [1, 0, 0, 1, 0]]], bool)
        >>> V0, _ = soft_backward(np.zeros((1, 2)), succ, valid, 2)
        >>> np.round(np.exp(V0), 6).tolist()    # 4 paths of 2 moves from each cell
        [[4.0, 4.0]]
    """
    r = torch.as_tensor(np.asarray(reward, dtype=np.float64))
    trace = soft_value_iteration(r, torch.as_tensor(successors), torch.as_tensor(valid), 1.0, int(horizon),
                                 initial=r, trace=True)
    values = torch.stack(trace[::-1]).numpy()  # values[t] = V_t: t sweeps before the horizon's end
    return values[0], values


def _reverse_index(successors: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """For each (maze, cell s'): the flat indices (s * 5 + a) of the valid moves that arrive in s',
    padded with N * 5 (a zero slot); ``[B, N * 5]`` (a grid cell has at most 5 moves into it)."""
    B, N, _ = successors.shape
    b, s, a = np.nonzero(valid)
    dest = successors[b, s, a]
    order = np.lexsort((s * 5 + a, dest, b))
    b, dest, src = b[order], dest[order], (s * 5 + a)[order]
    group = b * N + dest
    start = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    rank = np.arange(len(group)) - np.repeat(start, np.diff(np.r_[start, len(group)]))
    if rank.max(initial=0) >= 5:
        raise ParameterError("a cell has more than 5 moves into it; mazes are grids with at most 4 neighbours")
    rev = np.full((B, N, 5), N * 5, dtype=np.int64)
    rev[b, dest, rank] = src
    return rev.reshape(B, N * 5)


def expected_feature_counts(phi: np.ndarray, reward: np.ndarray, values: np.ndarray, successors: np.ndarray,
                            valid: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """E_w[ sum_{t=0}^{H} phi(s_t) ] per maze, ``[B, F]``, by forward state-visitation frequencies.

    D_0 = one-hot(start), D_{t+1}(s') = sum_{s, a: next(s, a) = s'} D_t(s) pi_t(a|s), with
    pi_t from :func:`soft_backward`'s ``values``.

    Example:
        >>> succ = np.array([[[0, 0, 0, 0, 1], [1, 1, 1, 0, 1]]])
        >>> valid = np.array([[[1, 0, 0, 0, 1], [1, 0, 0, 1, 0]]], bool)
        >>> phi = np.array([[[1.0], [0.0]]])           # feature: "in cell 0"
        >>> _, values = soft_backward(np.zeros((1, 2)), succ, valid, 1)
        >>> expected_feature_counts(phi, np.zeros((1, 2)), values, succ, valid, np.array([0])).tolist()
        [[1.5]]
    """
    H = values.shape[0] - 1
    B, N = reward.shape
    flat = successors.reshape(B, N * 5)
    rev = _reverse_index(successors, valid)
    D = np.zeros((B, N))
    D[np.arange(B), starts] = 1.0
    counts = np.einsum("bn,bnf->bf", D, phi)
    mass = np.zeros((B, N * 5 + 1))
    for t in range(H):
        nxt = np.take_along_axis(values[t + 1], flat, axis=1).reshape(B, N, 5)
        pi = np.exp(nxt + (reward - values[t])[..., None]) * valid
        mass[:, :-1] = (D[..., None] * pi).reshape(B, N * 5)
        D = np.take_along_axis(mass, rev, axis=1).reshape(B, N, 5).sum(-1)
        counts += np.einsum("bn,bnf->bf", D, phi)
    return counts


def irl_dynamics(mazes: Sequence[Maze], absorbing_exit: bool = True) -> tuple:
    """Stacked ``(successors [M, N, 5], valid [M, N, 5])`` of the mazes as IRL models them.

    With ``absorbing_exit`` the exit allows only ``stay``: reaching it ends the episode, so
    the stays that pad a rollout after the exit carry no choice and no evidence.

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> m = MazeDistribution(size=4).sample(1, seed=0)[0]
        >>> succ, valid = irl_dynamics([m])
        >>> valid[0, m.index(m.exit)].tolist()
        [True, False, False, False, False]
    """
    _, succ, valid = stack_mazes(mazes)
    succ, valid = succ.copy(), valid.copy()
    if absorbing_exit:
        for j, m in enumerate(mazes):
            e = m.index(m.exit)
            valid[j, e, 1:] = False
            succ[j, e, :] = e
    return succ, valid


def _paths(mazes: Sequence[Maze], positions, succ: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Cell indices [..., M, T] of positions [..., M, T, 2], checking each move is allowed by (succ, valid)."""
    pos = np.asarray(positions)
    if pos.ndim < 3 or pos.shape[-1] != 2 or pos.shape[-3] != len(mazes) or pos.shape[-2] < 2:
        raise ParameterError(
            f"positions of shape {pos.shape} do not fit {len(mazes)} mazes; pass [M, T, 2] or [S, M, T, 2] with M = {len(mazes)}, T >= 2"
        )
    n = mazes[0].size
    idx = pos[..., 0].astype(np.int64) * n + pos[..., 1].astype(np.int64)
    flat = idx.reshape(-1, len(mazes), idx.shape[-1])
    for j, m in enumerate(mazes):
        s, t = flat[:, j, :-1], flat[:, j, 1:]
        ok = ((succ[j][s] == t[..., None]) & valid[j][s]).any(-1)
        if not ok.all():
            raise ParameterError(
                f"the demonstration in maze {j} makes a move the model forbids (an illegal move, or leaving the "
                f"absorbing exit); pass positions from a rollout"
            )
        if (flat[:, j, 0] != m.index(m.entrance)).any():
            raise ParameterError(f"the demonstration in maze {j} does not start at the entrance; pass positions from a rollout")
    return idx


@attrs.frozen(eq=False)
class IRLResult:
    """A recovered behavioral objective R_w(s) = w . phi(s).

    ``weights [S, F]`` (one row per system), ``feature_names``, ``log_likelihood [S]`` (mean
    per demonstration at the end), ``grad_norm [S]`` (of the regularized objective at the
    end: near 0 when converged), ``history [S, steps + 1]`` of the mean log-likelihood.
    """

    weights: np.ndarray
    feature_names: tuple
    log_likelihood: np.ndarray
    grad_norm: np.ndarray
    history: np.ndarray
    features: Callable = attrs.field(repr=False)

    def direction(self) -> np.ndarray:
        """Unit-length weights ``w / |w|`` per system (zero rows stay zero)."""
        norm = np.linalg.norm(self.weights, axis=-1, keepdims=True)
        return np.divide(self.weights, norm, out=np.zeros_like(self.weights), where=norm > 0)

    def reward_map(self, maze: Maze) -> np.ndarray:
        """``[S, n, n]``: the recovered reward of every cell of ``maze``."""
        return np.einsum("rcf,sf->src", np.asarray(self.features(maze), dtype=np.float64), self.weights)

    def as_dict(self) -> list:
        """Per system, ``{feature name: weight}``."""
        return [dict(zip(self.feature_names, map(float, w))) for w in self.weights]


def maxent_irl(mazes: Sequence[Maze], positions, features: Callable[[Maze], np.ndarray] = designer_features,
               feature_names: Optional[Sequence[str]] = None, steps: int = 200, lr: float = 0.01,
               l2: float = 1e-2, tol: float = 1e-4, absorbing_exit: bool = True, horizon: Optional[int] = None,
               threads: Optional[int] = 1) -> IRLResult:
    """Recover the behavioral objective of S systems from their trajectories on the same M mazes.

    ``positions``: ``[M, T, 2]`` (one system) or ``[S, M, T, 2]``, each starting at the
    entrance and moving legally (a rollout's positions, padded after the episode ends;
    H = T - 1). Maximizes mean log P_w(demo) - (l2 / 2) |w|^2 from w = 0 by BFGS ascent with
    Armijo backtracking, one independent problem per system (first step ``lr`` times the
    gradient), until every gradient norm is below ``tol`` or after ``steps`` steps. The
    gradient is expert minus expected feature counts (:func:`expected_feature_counts`), the
    expected counts from autograd through the soft value iteration (torch, ``threads``
    threads during the fit). ``l2 > 0`` keeps w finite when
    the demonstrations are deterministic. A system's numbers do not depend on the other
    systems fitted with it (bit for bit on one machine: every sum is taken over one system's
    own rows). See the module docstring for the formulas.

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> from agents.maze.policies import ShortestPath
        >>> from agents.maze.rollout import rollout
        >>> mazes = MazeDistribution(size=4, extra_green=1).sample(6, seed=0)
        >>> res = maxent_irl(mazes, rollout(ShortestPath(), mazes).positions, steps=100)
        >>> res.feature_names[int(np.argmax(res.weights[0]))]
        'exit'
    """
    mazes = list(mazes)
    if not mazes:
        raise ParameterError("maxent_irl needs at least one maze with its demonstration")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ParameterError(f"steps={steps!r} must be an integer >= 0")
    if not lr > 0 or not l2 >= 0:
        raise ParameterError(f"lr={lr!r} must be > 0 and l2={l2!r} >= 0")
    succ, valid = irl_dynamics(mazes, absorbing_exit)
    idx = _paths(mazes, positions, succ, valid)
    if horizon is not None:
        if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or not 1 <= horizon < idx.shape[-1]:
            raise ParameterError(f"horizon={horizon!r} must be an integer in 1..{idx.shape[-1] - 1} (the demonstrations' length)")
        idx = idx[..., : int(horizon) + 1]
    idx = idx.reshape(-1, len(mazes), idx.shape[-1])  # [S, M, T]
    # systems with identical demonstrations have identical answers: fit each distinct one once
    all_idx = idx
    idx, inverse = np.unique(all_idx.reshape(all_idx.shape[0], -1), axis=0, return_inverse=True)
    idx = idx.reshape(-1, *all_idx.shape[1:])
    inverse = np.asarray(inverse).reshape(-1)
    S, M, T = idx.shape
    H = T - 1
    phi = _features(mazes, features)  # [M, N, F]
    F = phi.shape[-1]
    names = tuple(feature_names) if feature_names is not None else (IRL_FEATURES if features is designer_features
                                                                    else tuple(f"f{i}" for i in range(F)))
    if len(names) != F:
        raise ParameterError(f"{len(names)} feature names for {F} features; give one name per feature")
    N = succ.shape[1]
    expert_paths = np.stack([phi[np.arange(M)[:, None], idx[s]].sum(1) for s in range(S)])  # [S, M, F]
    expert_mean = np.stack([expert_paths[s].mean(0) for s in range(S)])  # [S, F], system by system
    phi_rows = phi.reshape(M * N, F).T.copy()  # [F, M N]
    phi_t = torch.as_tensor(phi)
    succ_t = torch.as_tensor(np.tile(succ, (S, 1, 1)))
    valid_t = torch.as_tensor(np.tile(valid, (S, 1, 1)))
    starts_t = torch.as_tensor(np.tile(np.array([m.index(m.entrance) for m in mazes]), S))[:, None]

    def evaluate(w, rows=None):
        """(ll [S], grad [S, F]) at w [S, F]; with ``rows`` (bool [S]) only those systems (the others 0).

        Each system's numbers are computed on its own rows by reductions along its own axes only
        (no matrix product, whose rounding depends on the batch's shape), so a system gets the
        same numbers bit for bit whichever others are there. The gradient is expert minus
        expected counts minus l2 w, the expected counts (1 / M) sum_{m, c} (d log Z_m / d r[m, c]) phi[m, c]
        with d log Z / d r from autograd through the soft value iteration.
        """
        sel = np.arange(S) if rows is None else np.flatnonzero(rows)
        n = len(sel)
        ll_out, g_out = np.zeros(S), np.zeros((S, F))
        if not n:
            return ll_out, g_out
        ws = w[sel]
        wt = torch.as_tensor(ws)
        r = (phi_t[None] * wt[:, None, None, :]).sum(-1).reshape(n * M, N).requires_grad_(True)
        V = soft_value_iteration(r, succ_t[: n * M], valid_t[: n * M], 1.0, H, initial=r)
        logZ = torch.gather(V, 1, starts_t[: n * M])  # [n M, 1]: log Z_w(s_0) of each system's mazes
        (dr,) = torch.autograd.grad(logZ.sum(), r)  # d log Z / d r, row by row
        expected = np.add.reduce(dr.numpy().reshape(n, 1, M * N) * phi_rows[None], axis=-1) / M  # [n, F]
        demo = np.add.reduce(expert_paths[sel] * ws[:, None, :], axis=-1)  # [n, M]: w . (expert counts)
        ll_out[sel] = (demo - logZ.detach().numpy().reshape(n, M)).mean(1) - 0.5 * l2 * np.add.reduce(ws * ws, axis=-1)
        g_out[sel] = expert_mean[sel] - expected - l2 * ws
        return ll_out, g_out

    w = np.zeros((S, F))
    with torch_threads(threads):
        res = _ascend(evaluate, w, steps, lr, tol, names, features)
    return attrs.evolve(res, weights=res.weights[inverse], log_likelihood=res.log_likelihood[inverse],
                        grad_norm=res.grad_norm[inverse], history=res.history[inverse])


def _ascend(evaluate, w, steps, lr, tol, names, features) -> "IRLResult":
    """Batched BFGS ascent of a concave objective, one independent 3x3-ish problem per system.

    Direction d = Hinv g; Armijo backtracking (halving, at most 30 times) per system;
    the inverse-Hessian estimate Hinv starts at ``lr * I``, is rescaled by s.y / y.y after
    the first step and updated by BFGS whenever s.y > 0.
    """
    S, F = w.shape
    ll, grad = evaluate(w)
    history = [ll]
    Hinv = np.tile(np.eye(F) * float(lr), (S, 1, 1))
    first = np.ones(S, dtype=bool)
    it = 0
    while it < int(steps) and np.linalg.norm(grad, axis=-1).max() > tol:
        active = np.linalg.norm(grad, axis=-1) > tol
        d = np.matmul(Hinv, grad[:, :, None])[:, :, 0] * active[:, None]
        slope = (grad * d).sum(-1)
        alpha = np.ones(S)
        accepted = ~active
        w_new, ll_new, grad_new = w.copy(), ll.copy(), grad.copy()
        for _ in range(30):
            trial = np.where(accepted[:, None], w_new, w + alpha[:, None] * d)
            ll_t, g_t = evaluate(trial, ~accepted)  # the systems still searching (the others' values are unused)
            ok = ~accepted & (ll_t >= ll + 1e-4 * alpha * slope)
            w_new = np.where(ok[:, None], trial, w_new)
            ll_new = np.where(ok, ll_t, ll_new)
            grad_new = np.where(ok[:, None], g_t, grad_new)
            accepted = accepted | ok
            if accepted.all():
                break
            alpha = np.where(accepted, alpha, alpha / 2)
        s_, y_ = w_new - w, grad - grad_new
        sy = (s_ * y_).sum(-1)
        upd = accepted & active & (sy > 1e-12 * np.linalg.norm(s_, axis=-1) * np.linalg.norm(y_, axis=-1))
        scale = np.where(first & upd, sy / np.maximum((y_ * y_).sum(-1), 1e-300), 1.0)
        Hinv = np.where((first & upd)[:, None, None], np.eye(F) * scale[:, None, None], Hinv)
        rho = np.where(upd, 1.0 / np.where(upd, sy, 1.0), 0.0)
        I = np.eye(F)
        A = I - rho[:, None, None] * (s_[:, :, None] * y_[:, None, :])
        new_H = np.matmul(np.matmul(A, Hinv), A.transpose(0, 2, 1)) + rho[:, None, None] * (s_[:, :, None] * s_[:, None, :])
        Hinv = np.where(upd[:, None, None], new_H, Hinv)
        first = first & ~upd
        stuck = active & ~accepted
        w, ll, grad = w_new, ll_new, grad_new
        history.append(ll)
        it += 1
        if stuck.all():
            break
    history = np.stack(history, axis=1)
    return IRLResult(w, names, ll, np.linalg.norm(grad, axis=-1), history, features)


def sample_paths(mazes: Sequence[Maze], weights, horizon: int, rng: np.random.Generator,
                 features: Callable[[Maze], np.ndarray] = designer_features, absorbing_exit: bool = True) -> np.ndarray:
    """Draw one path per maze from the maximum-entropy distribution P_w (a Boltzmann-rational expert).

    Forward sampling with the soft policy pi_t of :func:`soft_backward` under
    :func:`irl_dynamics`; returns positions ``[M, horizon + 1, 2]`` starting at the entrances.

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> mazes = MazeDistribution(size=4).sample(2, seed=0)
        >>> sample_paths(mazes, [0.0, 0.0, 5.0], 10, np.random.default_rng(0)).shape
        (2, 11, 2)
    """
    mazes = list(mazes)
    w = np.asarray(weights, dtype=np.float64)
    phi = _features(mazes, features)
    if w.shape != (phi.shape[-1],):
        raise ParameterError(f"weights of shape {w.shape} do not match {phi.shape[-1]} features; pass one weight per feature")
    succ, valid = irl_dynamics(mazes, absorbing_exit)
    M, N = succ.shape[:2]
    r = phi @ w
    _, values = soft_backward(r, succ, valid, horizon)
    s = np.array([m.index(m.entrance) for m in mazes])
    path = np.zeros((M, int(horizon) + 1), dtype=np.int64)
    path[:, 0] = s
    for t in range(int(horizon)):
        rows = np.arange(M)
        p = np.exp(values[t + 1][rows[:, None], succ[rows, s]] + (r[rows, s] - values[t][rows, s])[:, None]) * valid[rows, s]
        u = rng.random(M)[:, None]
        a = np.minimum((np.cumsum(p, -1) < u * p.sum(-1, keepdims=True)).sum(-1), 4)
        s = succ[rows, s, a]
        path[:, t + 1] = s
    n = mazes[0].size
    return np.stack([path // n, path % n], axis=-1)


def behavioral_objective(rollout, **kwargs) -> IRLResult:
    """The behavioral objective of each system in a population rollout (``PopulationRollout`` or a
    planner ``Deployment``, positions ``[K, M, T, 2]``), or of one system in a ``Rollout``
    (``[M, T, 2]``): :func:`maxent_irl` over its mazes and positions; ``kwargs`` go to it.

    Example:
        >>> from agents.maze.grid import MazeDistribution
        >>> from agents.maze.policies import ShortestPath
        >>> from agents.maze.rollout import rollout
        >>> r = rollout(ShortestPath(), MazeDistribution(size=4, extra_green=1).sample(6, seed=0))
        >>> behavioral_objective(r, steps=100).as_dict()[0]["exit"] > 0
        True
    """
    return maxent_irl(rollout.mazes, rollout.positions, **kwargs)
