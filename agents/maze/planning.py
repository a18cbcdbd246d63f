"""Planning over the maze graph: exact, bounded and soft value iteration, greedy paths, returns.

Pure functions over arrays (numpy; the soft value iteration also in torch, so gradient
descent and IRL can differentiate through it). A maze of N cells is given by its
``successors [..., N, 5]`` (the cell each action leads to; a walled move leads back to the
cell itself) and ``valid [..., N, 5]`` (which actions move; ``stay`` is always valid).

* :func:`value_iteration`, :func:`optimal_values`: V(s) = r(s) + gamma max_a V(next(s, a)),
  the values of the planner's mesa-objective J = sum_t gamma^t r(s_t);
* :func:`finite_horizon_values`: a planner with a planning budget of H moves looked ahead;
* :func:`soft_value_iteration`: V(s) = r(s) + logsumexp_a gamma V(next(s, a)), the soft
  planner gradient descent trains and the partition function of max-ent IRL;
* :func:`action_values`, :func:`greedy_paths`, :func:`discounted_return`.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from hierarchy.errors import ParameterError

from agents.maze.soft_kernel import fits, kernel_sweeps, kernel_sweeps_backward, soft_kernel_available, \
    soft_kernel_library
from agents.maze.planning_kernel import kernel_greedy_steps, kernel_optimal_values, planning_kernel_available

__all__ = ["value_iteration", "optimal_values", "finite_horizon_values", "soft_value_iteration",
           "soft_action_values", "action_values", "greedy_paths", "discounted_return", "check_gamma", "SOFT_ENGINES",
           "VALUE_ENGINES"]

#: How :func:`soft_value_iteration` runs its sweeps: "auto" (the C++ kernel where it builds and takes the
#: inputs, torch otherwise), "kernel" (:mod:`agents.maze.soft_kernel`; an error where it cannot) or "torch".
SOFT_ENGINES = ("auto", "kernel", "torch")
#: How :func:`optimal_values` and :func:`greedy_paths` run: "auto" (the C++ kernel where it builds, numpy
#: otherwise), "kernel" (:mod:`agents.maze.planning_kernel`; an error where it cannot) or "numpy". The numbers
#: are the same.
VALUE_ENGINES = ("auto", "kernel", "numpy")


def value_iteration(reward: np.ndarray, successors: np.ndarray, valid: np.ndarray, gamma: float,
                    tol: float = 1e-11, max_iter: int = 20000) -> np.ndarray:
    """Optimal values of the planner's mesa-objective by value iteration.

    V(s) = r(s) + gamma * max_{a valid at s} V(next(s, a)), iterated from V = r until the
    largest change is below ``tol * (1 + max|V|)``. Arrays are batched: reward ``[..., N]``,
    successors and valid ``[..., N, 5]``. V(s) is the best J over all paths from s.

    Example:
        >>> succ = np.array([[0, 0, 0, 0, 1], [1, 1, 1, 0, 1]])       # two cells side by side
        >>> valid = np.array([[1, 0, 0, 0, 1], [1, 0, 0, 1, 0]], bool)
        >>> np.round(value_iteration(np.array([0.0, 1.0]), succ, valid, 0.5), 6).tolist()
        [1.0, 2.0]
    """
    check_gamma(gamma)
    r = np.asarray(reward, dtype=np.float64)
    V = r.copy()
    for _ in range(int(max_iter)):
        nxt = np.take_along_axis(V[..., None, :], successors.reshape(*successors.shape[:-2], 1, -1), axis=-1)
        nxt = nxt.reshape(successors.shape)
        new = r + gamma * np.where(valid, nxt, -np.inf).max(-1)
        change = np.abs(new - V).max() if new.size else 0.0
        V = new
        if change <= tol * (1.0 + np.abs(V).max()):
            return V
    raise ParameterError(f"value iteration did not converge in {max_iter} iterations; use gamma < 1 or a larger max_iter")


def optimal_values(reward: np.ndarray, successors: np.ndarray, gamma: float, max_rounds: int = 10000,
                   engine: str = "auto") -> np.ndarray:
    """The fixed point of V(s) = r(s) + gamma * max_a V(next(s, a)), the values value iteration converges to.

    Computed exactly (to float rounding) and fast by policy iteration: evaluate the current
    greedy policy pi by pointer doubling (after j doublings, acc(s) = sum_{t < 2^j} gamma^t
    r(pi^t(s)); stop once gamma^(2^j) < 1e-18), then switch each state to a better action
    (the first maximal one) when it beats the current by more than 1e-12 * (1 + |V|); stop
    when none does. Walled moves lead back to the cell itself, the same as ``stay``, so no
    mask is needed. Shapes: reward ``[..., N]``, successors ``[..., N, 5]`` -> ``[..., N]``.

    Each maze (a block of N states) is its own problem: a block in which no state switches
    keeps its policy, hence its values, so it leaves with the values of that round and later
    rounds evaluate only the blocks still switching. The numbers are those of evaluating every
    block every round (:func:`_optimal_values_plain`, used when a reward is not finite): each
    value comes from the same elementwise operations on its own block.

    ``engine``: "auto" (the default) runs the C++ kernel of :mod:`agents.maze.planning_kernel`,
    block by block with the same operations (the same numbers bit for bit, 3x to 5x faster),
    where it builds, and numpy otherwise; "kernel" or "numpy" chooses one (:data:`VALUE_ENGINES`).

    Example:
        >>> succ = np.array([[0, 0, 0, 0, 1], [1, 1, 1, 0, 1]])
        >>> np.round(optimal_values(np.array([0.0, 1.0]), succ, 0.5), 12).tolist()
        [1.0, 2.0]
    """
    check_gamma(gamma)
    if engine not in VALUE_ENGINES:
        raise ParameterError(f"engine={engine!r}; choose one of {', '.join(VALUE_ENGINES)}", parameter="engine")
    r = np.asarray(reward, dtype=np.float64)
    shape = r.shape
    N = shape[-1]
    if r.size == 0 or not (np.isfinite(r).all() and np.abs(r).max() < 1e300):
        return _optimal_values_plain(r, successors, gamma, max_rounds)
    doublings = int(np.ceil(np.log2(np.log(1e-18) / np.log(gamma)))) + 1
    if engine == "kernel" or (engine == "auto" and planning_kernel_available()):
        return kernel_optimal_values(r.reshape(-1, N), np.asarray(successors).reshape(-1, N, 5), gamma, doublings,
                                     max_rounds).reshape(shape)
    local = np.asarray(successors, dtype=np.int64).reshape(-1, N, 5).transpose(2, 0, 1)  # [5, B, N], in-block
    B = local.shape[1]
    rb = r.reshape(B, N)
    out = np.empty((B, N))
    blocks = np.arange(B)  # the blocks still switching
    off = np.repeat(np.arange(B) * N, N)  # flat index of each state's block start
    nxt = local[0].reshape(-1) + off  # the cell each state's action leads to: start from "stay everywhere"
    succ = None
    for _ in range(int(max_rounds)):
        if succ is None:  # the flat arrays of the remaining blocks
            rf = rb[blocks].reshape(-1)
            succ = local[:, blocks].reshape(5, -1) + off
            tmp, hop = np.empty_like(rf), np.empty_like(nxt)
        acc, jump, disc = rf.copy(), nxt.copy(), gamma
        for _ in range(doublings):  # acc <- acc + disc * acc[jump]; jump <- jump[jump]
            np.take(acc, jump, out=tmp)
            tmp *= disc
            acc += tmp
            np.take(jump, jump, out=hop)
            jump, hop = hop, jump
            disc = disc * disc
        V = acc
        top, best = V.take(succ[0]), succ[0].copy()  # the first maximal Q(s, a) = V(next(s, a)), its cell
        for a in range(1, 5):
            qa = V.take(succ[a])
            g = qa > top
            top = np.where(g, qa, top)
            best = np.where(g, succ[a], best)
        better = top > V.take(nxt) + 1e-12 * (1.0 + np.abs(V))
        switching = better.reshape(-1, N).any(1)
        if not switching.all():
            settled = ~switching
            out[blocks[settled]] = V.reshape(-1, N)[settled]
            if not switching.any():
                return out.reshape(shape)
            keep = np.repeat(switching, N)
            new_off = np.repeat(np.arange(int(switching.sum())) * N, N)
            nxt, best, better = nxt[keep] - off[keep] + new_off, best[keep] - off[keep] + new_off, better[keep]
            blocks, off, succ = blocks[switching], new_off, None
        nxt = np.where(better, best, nxt)
    raise ParameterError(f"policy iteration did not settle in {max_rounds} rounds; check the rewards are finite")


def _optimal_values_plain(r: np.ndarray, successors: np.ndarray, gamma: float, max_rounds: int) -> np.ndarray:
    """:func:`optimal_values` evaluating every block every round (any rewards, NaN and inf included)."""
    shape = r.shape
    N = shape[-1]
    rf = r.reshape(-1)
    offsets = (np.arange(rf.size) // N * N)[:, None]
    succ = successors.reshape(-1, 5) + offsets  # flat successor indices
    doublings = int(np.ceil(np.log2(np.log(1e-18) / np.log(gamma)))) + 1
    pi = np.zeros(rf.size, dtype=np.int64)  # start from "stay everywhere"
    rows = np.arange(rf.size)
    for _ in range(int(max_rounds)):
        acc, jump, disc = rf.copy(), succ[rows, pi], gamma
        for _ in range(doublings):
            acc = acc + disc * acc[jump]
            jump = jump[jump]
            disc = disc * disc
        V = acc
        q = V[succ]
        best = q.argmax(-1)
        better = q[rows, best] > q[rows, pi] + 1e-12 * (1.0 + np.abs(V))
        if not better.any():
            return V.reshape(shape)
        pi = np.where(better, best, pi)
    raise ParameterError(f"policy iteration did not settle in {max_rounds} rounds; check the rewards are finite")


def finite_horizon_values(reward: np.ndarray, successors: np.ndarray, gamma: float, horizon: int) -> np.ndarray:
    """The values of a planner that looks ``horizon`` moves ahead: H sweeps of value iteration from V = 0.

    V_0 = 0, V_{h+1}(s) = r(s) + gamma * max_a V_h(next(s, a)); V_H(s) is the best
    discounted sum of the first H rewards of a path from s. A reward more than H - 1 moves
    away does not enter V_H: the planner's search is bounded (its *planning budget*), and
    a greedy walk on V_H pursues only what lies within reach of its search. As H grows V_H
    tends to :func:`optimal_values` (the error is at most gamma^H max|r| / (1 - gamma)).
    Walled moves lead back to the cell itself, as in :func:`optimal_values`. Shapes:
    reward ``[..., N]``, successors ``[..., N, 5]`` -> ``[..., N]``.

    Example:
        >>> succ = np.array([[0, 0, 0, 0, 1], [1, 1, 1, 0, 2], [2, 2, 2, 1, 2]])  # three cells in a row
        >>> r = np.array([0.0, 0.0, 1.0])
        >>> finite_horizon_values(r, succ, 0.5, 2).tolist()   # cell 0 does not see the reward two moves away
        [0.0, 0.5, 1.5]
    """
    check_gamma(gamma)
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ParameterError(f"planning horizon={horizon!r} must be a positive number of moves; use e.g. 49, or None "
                             f"for exact planning")
    r = np.asarray(reward, dtype=np.float64)
    shape = r.shape
    N = shape[-1]
    rf = r.reshape(-1)
    offsets = (np.arange(rf.size) // N * N)[:, None]
    succ = successors.reshape(-1, 5) + offsets
    V = np.zeros_like(rf)
    for _ in range(int(horizon)):
        V = rf + gamma * V[succ].max(-1)
    return V.reshape(shape)


def soft_action_values(values: torch.Tensor, successors: torch.Tensor, valid: torch.Tensor,
                       gamma: float) -> torch.Tensor:
    """Q(s, a) = gamma V(next(s, a)) for valid a, -inf for walled moves: ``[..., N, 5]``.

    ``values [..., N]``; ``successors`` (int64) and ``valid`` (bool) ``[..., N, 5]``.
    """
    idx = successors.reshape(*successors.shape[:-2], -1)
    nxt = torch.gather(values, -1, idx).reshape(successors.shape)
    return torch.where(valid, gamma * nxt, _neg_inf(values.dtype))


def _neg_inf(dtype) -> torch.Tensor:
    """A 0-dim -inf of ``dtype`` (made once per dtype)."""
    t = _NEG_INF.get(dtype)
    if t is None:
        t = _NEG_INF[dtype] = torch.tensor(-torch.inf, dtype=dtype)
    return t


_NEG_INF = {}


def soft_value_iteration(reward: torch.Tensor, successors: torch.Tensor, valid: torch.Tensor, gamma: float,
                         iterations: int, initial: Optional[torch.Tensor] = None, trace: bool = False,
                         engine: str = "auto"):
    """Soft value iteration: V_{i+1}(s) = r(s) + logsumexp_{a valid at s} gamma V_i(next(s, a)).

    From V_0 = ``initial`` (default 0), ``iterations`` sweeps; torch, so gradients flow
    through it. With gamma = 1 and V_0 = r, V_H(s) is the log of the sum over all H-move
    paths from s of exp(total reward) (max-ent IRL's log Z); with gamma < 1 and V_0 = 0 it
    is the soft planner that gradient descent trains. Shapes: ``reward [..., N]``,
    ``successors``/``valid [..., N, 5]``. Returns V (``[..., N]``), or with ``trace`` the
    list [V_0, V_1, ..., V_H].

    With V_0 = 0 or V_0 = r and no trace, the sweeps run as one autograd node whose backward
    is written out: with ``engine="torch"`` (:class:`_SoftSweeps`) the same operations, in the
    same order, as autograd applies to the sweeps one by one (so the same numbers, bit for
    bit), without recording a graph of 5 nodes per sweep; with the C++ kernel
    (:mod:`agents.maze.soft_kernel`, ``engine="auto"`` where it builds and the rewards are
    float64 on the CPU, or ``engine="kernel"``) the same formulas row by row, 2x to 6x
    faster, equal to float rounding. Any other start or a trace runs torch's operations.

    Raises ``ParameterError`` for an unknown ``engine``, or ``engine="kernel"`` where the
    kernel cannot run (no compiler, inputs it does not take, a trace or another start).

    Example:
        >>> succ = torch.tensor([[0, 0, 0, 0, 1], [1, 1, 1, 0, 1]])   # two cells, one passage
        >>> valid = torch.tensor([[1, 0, 0, 0, 1], [1, 0, 0, 1, 0]], dtype=torch.bool)
        >>> r = torch.zeros(2, dtype=torch.float64)
        >>> torch.exp(soft_value_iteration(r, succ, valid, 1.0, 2, initial=r)).tolist()  # 4 paths of 2 moves
        [4.0, 4.0]
    """
    from_reward = initial is reward
    if engine not in SOFT_ENGINES:
        raise ParameterError(f"engine={engine!r}; choose one of {', '.join(SOFT_ENGINES)}", parameter="engine")
    if not trace and (initial is None or from_reward):
        kernel = _use_kernel(engine, reward, successors, valid)
        if torch.is_grad_enabled() and reward.requires_grad:
            node = _KernelSweeps if kernel else _SoftSweeps
            return node.apply(reward, successors, valid, float(gamma), int(iterations), from_reward)
        with torch.no_grad():
            if kernel:
                return kernel_sweeps(reward, successors, valid, float(gamma), int(iterations), from_reward)
            return _soft_sweeps(reward, successors, valid, float(gamma), int(iterations), from_reward)[0]
    if engine == "kernel":
        raise ParameterError("engine='kernel' runs the sweeps from V_0 = 0 or V_0 = r without a trace; use "
                             "engine='torch' (or 'auto') for another start or a trace", parameter="engine")
    V = torch.zeros_like(reward) if initial is None else initial
    out = [V]
    for _ in range(int(iterations)):
        V = reward + torch.logsumexp(soft_action_values(V, successors, valid, gamma), dim=-1)
        out.append(V)
    return out if trace else V


def _soft_sweeps(reward: torch.Tensor, successors: torch.Tensor, valid: torch.Tensor, gamma: float,
                 iterations: int, from_reward: bool, keep: bool = False) -> tuple:
    """The sweeps of :func:`soft_value_iteration` from V_0 = r (``from_reward``) or 0: ``(V_H, X, L)``
    with, when ``keep``, the lists of each sweep's masked action values X_i and L_i = logsumexp X_i.

    gamma * V is skipped for gamma = 1 (multiplying by 1 is exact)."""
    V = reward if from_reward else torch.zeros_like(reward)
    idx = successors.reshape(*successors.shape[:-2], -1)
    neg = _neg_inf(reward.dtype)
    xs, ls = [], []
    for _ in range(iterations):
        nxt = torch.gather(V, -1, idx).reshape(successors.shape)
        X = torch.where(valid, nxt if gamma == 1.0 else gamma * nxt, neg)
        L = torch.logsumexp(X, dim=-1)
        V = reward + L
        if keep:
            xs.append(X)
            ls.append(L)
    return V, xs, ls


class _SoftSweeps(torch.autograd.Function):
    """Soft value iteration as one autograd node (:func:`soft_value_iteration`).

    Backward, sweep i from the last: V_{i+1} = r + L_i passes dV_{i+1} to r and to L_i;
    logsumexp's backward dX = dL * exp(X_i - L_i); the mask's where(valid, dX, 0); gamma's
    product; the gather's backward, a scatter-add into zeros, gives dV_i. r's gradient sums
    dV_H, dV_{H-1}, ..., dV_1 (and dV_0 when V_0 = r) in that order, the order in which autograd
    accumulates them when the sweeps are recorded one by one.
    """

    @staticmethod
    def forward(ctx, reward, successors, valid, gamma, iterations, from_reward):
        V, xs, ls = _soft_sweeps(reward, successors, valid, gamma, iterations, from_reward, keep=True)
        ctx.save_for_backward(successors, valid, *xs, *ls)
        ctx.gamma, ctx.from_reward, ctx.n, ctx.shape = gamma, from_reward, iterations, reward.shape
        return V

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        successors, valid, *saved = ctx.saved_tensors
        xs, ls = saved[:ctx.n], saved[ctx.n:]
        idx = successors.reshape(*successors.shape[:-2], -1)
        dr, dV = None, grad
        for i in reversed(range(ctx.n)):
            dr = dV if dr is None else dr + dV
            dX = dV.unsqueeze(-1) * (xs[i] - ls[i].unsqueeze(-1)).exp()
            dX = torch.where(valid, dX, 0)
            if ctx.gamma != 1.0:
                dX = dX * ctx.gamma
            dV = grad.new_zeros(ctx.shape).scatter_add_(-1, idx, dX.reshape(idx.shape))
        if ctx.from_reward:
            dr = dV if dr is None else dr + dV
        elif dr is None:
            dr = torch.zeros_like(grad)
        return dr, None, None, None, None, None


def _use_kernel(engine: str, reward: torch.Tensor, successors: torch.Tensor, valid: torch.Tensor) -> bool:
    """Whether the sweeps run in the C++ kernel (``engine`` of :func:`soft_value_iteration`)."""
    if engine == "torch":
        return False
    why = fits(reward, successors, valid)
    if engine == "kernel":
        if why is not None:
            raise ParameterError(f"engine='kernel' cannot take {why}; use engine='torch' (or 'auto')", parameter="engine")
        soft_kernel_library()  # a one-line error where it cannot be built
        return True
    return why is None and soft_kernel_available()


class _KernelSweeps(torch.autograd.Function):
    """Soft value iteration as one autograd node, forward and backward in the C++ kernel
    (:mod:`agents.maze.soft_kernel`; the formulas of :class:`_SoftSweeps`; the backward pass runs each row's
    sweeps again for their action probabilities rather than keeping them all from the forward pass)."""

    @staticmethod
    def forward(ctx, reward, successors, valid, gamma, iterations, from_reward):
        V = kernel_sweeps(reward, successors, valid, gamma, iterations, from_reward)
        ctx.save_for_backward(reward, successors, valid)
        ctx.gamma, ctx.from_reward, ctx.n = gamma, from_reward, iterations
        return V

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        reward, successors, valid = ctx.saved_tensors
        return (kernel_sweeps_backward(reward, grad, successors, valid, ctx.gamma, ctx.n, ctx.from_reward),
                None, None, None, None, None)


def action_values(reward: np.ndarray, values: np.ndarray, successors: np.ndarray, valid: np.ndarray,
                  gamma: float) -> np.ndarray:
    """Q(s, a) = r(s) + gamma V(next(s, a)) for valid a, -inf for walled moves; shape ``[..., N, 5]``."""
    nxt = np.take_along_axis(values[..., None, :], successors.reshape(*successors.shape[:-2], 1, -1), axis=-1)
    nxt = nxt.reshape(successors.shape)
    return np.where(valid, np.asarray(reward)[..., None] + gamma * nxt, -np.inf)


def greedy_paths(q: np.ndarray, successors: np.ndarray, starts: np.ndarray, exits: Optional[np.ndarray],
                 budget: int, rng, rtol: float = 1e-9, engine: str = "auto") -> tuple:
    """Greedy moves under action values ``q [B, N, 5]`` from ``starts [B]`` for ``budget`` steps.

    Rule: at each step take an action whose Q is within ``rtol * (1 + |max Q|)`` of the best,
    choosing among tied actions uniformly with ``rng``: one Generator, or a list of G
    Generators, one per consecutive block of B / G rows (so that blocks, e.g. copies,
    draw independent streams). A path that reaches its exit
    (``exits [B]``, or None for no exit) stops there and repeats it. Returns
    ``(path [B, budget + 1] cell indices, success [B], lengths [B])``. ``engine``: "auto" walks
    in the C++ kernel of :mod:`agents.maze.planning_kernel` where it builds (the same numbers bit
    for bit: the uniforms are drawn beforehand in the same order), "numpy" step by step here.

    Example:
        >>> q = np.array([[[0.0, -np.inf, -np.inf, -np.inf, 1.0], [2.0, -np.inf, -np.inf, 0.0, -np.inf]]])
        >>> succ = np.array([[[0, 0, 0, 0, 1], [1, 1, 1, 0, 1]]])
        >>> path, ok, n = greedy_paths(q, succ, np.array([0]), None, 3, np.random.default_rng(0))
        >>> path.tolist(), ok.tolist(), n.tolist()
        ([[0, 1, 1, 1]], [False], [3])
    """
    B = q.shape[0]
    path = np.zeros((B, int(budget) + 1), dtype=np.int64)
    s = np.asarray(starts, dtype=np.int64).copy()
    path[:, 0] = s
    done = np.zeros(B, dtype=bool) if exits is None else s == exits
    lengths = np.zeros(B, dtype=np.int64)
    rows = np.arange(B)
    gens = list(rng) if isinstance(rng, (list, tuple)) else [rng]
    if B % len(gens):
        raise ParameterError(f"{len(gens)} generators cannot split {B} paths into equal blocks; pass one per block")
    block = (B // len(gens), 5)
    if engine not in VALUE_ENGINES:
        raise ParameterError(f"engine={engine!r}; choose one of {', '.join(VALUE_ENGINES)}", parameter="engine")
    if engine == "kernel" or (engine == "auto" and planning_kernel_available() and B and int(budget) > 0):
        q64 = np.ascontiguousarray(q, dtype=np.float64)
        succ = np.ascontiguousarray(successors, dtype=np.int64)
        chunk = max(1, (1 << 21) // max(1, B * 5))  # steps of uniforms drawn at once (at most 16 MB)
        for t0 in range(1, int(budget) + 1, chunk):
            T = min(chunk, int(budget) + 1 - t0)
            # each generator's T draws of its block at once: the same stream as T draws one step at a time
            parts = [g.random((T,) + block) for g in gens]
            draws = parts[0] if len(gens) == 1 else np.concatenate(parts, axis=1)
            kernel_greedy_steps(q64, succ, s, done, lengths, exits, np.ascontiguousarray(draws), rtol, path, t0)
        success = np.zeros(B, dtype=bool) if exits is None else done
        return path, success, lengths
    for t in range(1, int(budget) + 1):
        qs = q[rows, s]
        best = qs.max(-1, keepdims=True)
        tied = qs >= best - rtol * (1.0 + np.abs(best))
        draws = gens[0].random(block) if len(gens) == 1 else np.concatenate([g.random(block) for g in gens])
        u = np.where(tied, draws, -1.0)
        a = u.argmax(-1)
        nxt = successors[rows, s, a]
        s = np.where(done, s, nxt)
        lengths += ~done
        if exits is not None:
            done = done | (s == exits)
        path[:, t] = s
    success = np.zeros(B, dtype=bool) if exits is None else done
    return path, success, lengths


def discounted_return(reward: np.ndarray, path: np.ndarray, gamma: float) -> np.ndarray:
    """The mesa-objective of a path: J = sum_{t>=0} gamma^t r(s_t), the last state repeating forever.

    ``reward [B, N]``, ``path [B, T]`` -> ``[B]``; equals
    sum_{t<T} gamma^t r(s_t) + gamma^T / (1 - gamma) r(s_{T-1}).

    Example:
        >>> float(discounted_return(np.array([[1.0, 0.0]]), np.array([[1, 0]]), 0.5)[0])
        1.0
    """
    check_gamma(gamma)
    r = np.take_along_axis(np.asarray(reward, dtype=np.float64), path, axis=-1)
    T = r.shape[-1]
    w = gamma ** np.arange(T)
    return (r * w).sum(-1) + gamma ** T / (1.0 - gamma) * r[..., -1]


def check_gamma(gamma) -> None:
    """Raise ParameterError unless 0 < gamma < 1."""
    if not 0.0 < float(gamma) < 1.0:
        raise ParameterError(f"discount gamma={gamma!r} must lie strictly between 0 and 1; use e.g. 0.95")
