"""The planner's reward network r_theta and the imitation loss gradient descent trains it on.

An MLP over the cell features ``[green, right_of_green, exit_visible, 1]`` (agents.maze.grid
FEATURES), 4 -> H -> 1 with tanh hidden units and no output bias, one per copy: parameters
``W1 [K, 4, H]``, ``b1 [K, H]``, ``W2 [K, H, 1]``. A constant added to every cell's reward
changes neither the soft nor the hard policy, so an output bias would have a gradient of
rounding noise only, which Adam (dividing by the gradient's own size) would turn into
steps of size ``lr``.

The base objective L_b (seed 002's base optimizer, gradient descent, sees only this):

    V(s)       <- r(s) + logsumexp_{a valid at s} gamma V(next(s, a))   (``soft_iterations`` sweeps from V = 0)
    pi(a | s)   = softmax_{a valid at s} gamma V(next(s, a))
    L_b(theta)  = mean over expert pairs (s, a*) of -log pi(a* | s)  +  (weight_decay / 2) |theta|^2

over the shortest-path expert's moves plus one final ``stay`` at the exit.

The network runs in two forms: :func:`reward_of` (numpy, what the deployed planners plan on)
and :func:`reward_torch` (torch, differentiable, what training steps); they agree to float
rounding (about 1e-15), not bit for bit, so each keeps its role.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from agents.maze.grid import FEATURES, Maze, stack_mazes
from agents.maze.planning import soft_action_values, soft_value_iteration

__all__ = ["init_params", "reward_of", "reward_torch", "imitation_batch", "imitation_loss", "squared_norm"]


def init_params(seeds: Sequence[np.random.SeedSequence], hidden: int, scale: float) -> dict:
    """Initial parameters of K = len(seeds) networks (torch float64): copy k draws W1, W2 from
    ``torch.Generator`` seeded by ``seeds[k]``, W ~ N(0, scale^2 / fan_in); b1 = 0.

    Example:
        >>> p = init_params([np.random.SeedSequence(0)] * 2, hidden=3, scale=1.0)
        >>> [tuple(v.shape) for v in p.values()], bool((p["W1"][0] == p["W1"][1]).all())
        ([(2, 4, 3), (2, 3), (2, 3, 1)], True)
    """
    F = len(FEATURES)
    W1, W2 = [], []
    for ss in seeds:
        g = torch.Generator().manual_seed(int(ss.generate_state(1)[0]))
        W1.append(torch.randn(F, hidden, generator=g, dtype=torch.float64) * scale / np.sqrt(F))
        W2.append(torch.randn(hidden, 1, generator=g, dtype=torch.float64) * scale / np.sqrt(hidden))
    return {"W1": torch.stack(W1), "b1": torch.zeros(len(W1), hidden, dtype=torch.float64), "W2": torch.stack(W2)}


def reward_of(params: dict, features, per_copy: bool = False) -> np.ndarray:
    """The learned reward r_k(f) = tanh(f W1_k + b1_k) W2_k of every copy k (numpy).

    ``features [..., 4]`` shared by all copies -> ``[K, ...]``; with ``per_copy``,
    ``features [K, ..., 4]`` (copy k on ``features[k]``) -> ``[K, ...]``.

    Example:
        >>> p = {"W1": np.zeros((2, 4, 3)), "b1": np.array([[0.0] * 3, [1.0] * 3]), "W2": np.ones((2, 3, 1))}
        >>> np.round(reward_of(p, np.zeros((2, 4))), 4).tolist()
        [[0.0, 0.0], [2.2848, 2.2848]]
    """
    W1, b1, W2 = (np.asarray(params[k], dtype=np.float64) for k in ("W1", "b1", "W2"))
    f = np.asarray(features, dtype=np.float64)
    if not per_copy:
        f = np.broadcast_to(f, (W1.shape[0],) + f.shape)
    h = np.tanh(np.einsum("k...f,kfh->k...h", f, W1) + b1.reshape(b1.shape[0], *([1] * (f.ndim - 2)), -1))
    return np.einsum("k...h,kh->k...", h, W2[..., 0])


def reward_torch(params: dict, feats: torch.Tensor) -> torch.Tensor:
    """The same network in torch (differentiable): ``feats [K, ..., F]`` -> ``[K, ...]``, copy k on feats[k]."""
    K = feats.shape[0]
    flat = feats.reshape(K, -1, feats.shape[-1])
    h = torch.tanh(torch.baddbmm(params["b1"][:, None, :], flat, params["W1"]))
    return torch.bmm(h, params["W2"]).reshape(feats.shape[:-1])


def imitation_batch(mazes_per_copy: Sequence[Sequence[Maze]]) -> tuple:
    """The expert demonstrations of K copies' training mazes as padded tensors:
    ``(features [K, M, N, F], successors, valid [K, M, N, 5], states, actions, mask [K, M, P])``."""
    feats, succ, valid, states, actions, mask = [], [], [], [], [], []
    P = max(len(m.expert_moves()[0]) for ms in mazes_per_copy for m in ms)
    for ms in mazes_per_copy:
        f, s, v = stack_mazes(ms)
        feats.append(f), succ.append(s), valid.append(v)
        st = np.zeros((len(ms), P), np.int64)
        ac = np.zeros((len(ms), P), np.int64)
        mk = np.zeros((len(ms), P), bool)
        for j, m in enumerate(ms):
            a, b = m.expert_moves()
            st[j, : len(a)], ac[j, : len(a)], mk[j, : len(a)] = a, b, True
        states.append(st), actions.append(ac), mask.append(mk)
    return (torch.as_tensor(np.stack(feats)), torch.as_tensor(np.stack(succ)), torch.as_tensor(np.stack(valid)),
            torch.as_tensor(np.stack(states)), torch.as_tensor(np.stack(actions)), torch.as_tensor(np.stack(mask)))


def squared_norm(tensors) -> torch.Tensor:
    """Per copy, the sum of squares of a list of ``[K, ...]`` tensors -> ``[K]``."""
    return sum((p ** 2).reshape(p.shape[0], -1).sum(1) for p in tensors)


def imitation_loss(params: dict, batch: tuple, gamma: float, soft_iterations: int, weight_decay: float) -> tuple:
    """``(L_b [K], nll [K])``: the soft planner's NLL of the expert moves plus (weight_decay / 2) |theta|^2."""
    feats, succ, valid, states, actions, mask = batch
    r = reward_torch(params, feats)
    V = soft_value_iteration(r, succ, valid, gamma, soft_iterations)
    logp = torch.log_softmax(soft_action_values(V, succ, valid, gamma), dim=-1)
    K, M, N, _ = logp.shape
    lp = torch.gather(logp.reshape(K, M, N * 5), 2, states * 5 + actions)
    nll = -(lp * mask).sum((1, 2)) / mask.sum((1, 2))
    return nll + 0.5 * weight_decay * squared_norm(params.values()), nll
