"""Each training copy's own randomness: copy k's games and sampling noise come from copy k's generator only.

Every training step, each copy's numpy Generator gives one block of D uniforms in [0, 1)
(one ``Generator.random(D)`` call per copy: the only loop over the copies, drawing only;
everything after it is batched), laid out, for B games per copy, V target villages
(E enemy, M neutral) and T turns, as

    defense [B, V] | enemy [B] | neutral [B, M] | raid noise [T, B, E] | actor noise [T, B]

so D = B (V + 1 + M + T E + T), fixed by the rules and B. The block's layout does not
depend on what the policy does, so copy k's games are a function of copy k's seed and the
step alone, whatever the number of copies K. Integers come by inversion, floor(u n) for n
values (n <= a few dozen: a bias below n 2^-53); the raid and actor noise become float32 on
torch's 24-bit grid, floor(u 2^24) 2^-24 (exact in float32, in [0, 1), never 1).
"""

from __future__ import annotations

from typing import Sequence

import attrs
import numpy as np
import torch

from hierarchy.errors import ParameterError
from hierarchy.seeding import SeedLike, child, generator
from agents.strategy_game.game import GameRules, GameState, StrategyGame

__all__ = ["block_size", "draw_blocks", "to_grid24", "games_from_uniforms", "StepNoise", "step_noise", "actor_noise"]


def block_size(rules: GameRules, episodes: int) -> int:
    """D = B (V + 1 + M + T E + T): the uniforms one copy draws per training step for B = ``episodes`` games.

    Parameters
    ----------
    rules : GameRules
    episodes : int
        Games per copy per step (B).

    Returns
    -------
    int

    Examples
    --------
    >>> block_size(GameRules(), 2)         # 2 * (5 + 1 + 2 + 10 * 3 + 10)
    96
    """
    r = rules
    return episodes * (r.targets + 1 + r.neutral_villages + r.turns * r.enemy_villages + r.turns)


def draw_blocks(generators: Sequence[np.random.Generator], size: int) -> np.ndarray:
    """Uniforms [K, size] in [0, 1): row k is ``generators[k].random(size)``, one call per copy.

    Parameters
    ----------
    generators : sequence of numpy.random.Generator
        One per copy (from ``hierarchy.seeding.generator``).
    size : int

    Returns
    -------
    numpy.ndarray
        float64 [K, size].

    Examples
    --------
    >>> from hierarchy.seeding import generator
    >>> draw_blocks([generator(0), generator(1)], 3).shape
    (2, 3)
    """
    return np.stack([g.random(size) for g in generators])


def to_grid24(u: np.ndarray) -> torch.Tensor:
    """float32 uniforms on torch's 24-bit grid: floor(u 2^24) 2^-24 (exact in float32, in [0, 1)).

    Parameters
    ----------
    u : numpy.ndarray
        float64 uniforms in [0, 1).

    Returns
    -------
    torch.Tensor
        float32, the same shape.

    Examples
    --------
    >>> to_grid24(np.array([0.0, 0.5, 1 - 2.0 ** -40])).tolist() == [0.0, 0.5, 1 - 2.0 ** -24]
    True
    """
    # truncation is floor for u >= 0 (and much faster than np.floor); k < 2^24 and k 2^-24 are exact in float32
    return torch.from_numpy((u * 2.0 ** 24).astype(np.int32).astype(np.float32) * np.float32(2.0 ** -24))


def games_from_uniforms(game: StrategyGame, opponents: Sequence[str], u: np.ndarray) -> GameState:
    """N start states from uniforms u [N, V + 1 + M] in [0, 1), by inversion.

    defense_v = lo + floor(u_v (hi - lo + 1)) for the V targets; the enemy is
    opponents[floor(u_V * len(opponents))]; each neutral village's alliance is
    floor(u * (A - 1)) over the A - 1 alliances other than the enemy (the enemy's index
    skipped), as :meth:`StrategyGame.sample_start` draws them from a torch generator.

    Parameters
    ----------
    game : StrategyGame
    opponents : sequence of str
        The alliances an episode can be at war with (at least one).
    u : numpy.ndarray
        float64 [N, V + 1 + M].

    Returns
    -------
    GameState

    Raises
    ------
    ParameterError
        If ``opponents`` is empty or ``u`` has the wrong width.

    Examples
    --------
    >>> s = games_from_uniforms(StrategyGame(), ("Aurora",), np.zeros((1, 8)))
    >>> s.defense.tolist(), s.alliance.tolist()       # lowest defenses; Aurora at war, neutrals Brotherhood
    ([[8, 8, 8, 8, 8]], [[0, 0, 0, 1, 1]])
    """
    r = game.rules
    V, M, A = r.targets, r.neutral_villages, len(r.alliances)
    if not opponents:
        raise ParameterError("no opponents given; name at least one alliance to be at war with, e.g. ('Aurora',)")
    u = np.asarray(u, dtype=np.float64)
    if u.ndim != 2 or u.shape[1] != V + 1 + M:
        raise ParameterError(f"uniforms of shape {u.shape}; give [N, {V + 1 + M}] (defenses, enemy, neutrals)")
    idx = torch.tensor([r.alliance_index(o) for o in opponents], dtype=torch.int64)
    lo, hi = r.defense
    # floor(u n) by truncation (u >= 0)
    defense = lo + torch.from_numpy((u[:, :V] * (hi - lo + 1)).astype(np.int64))
    enemy = idx[torch.from_numpy((u[:, V] * len(opponents)).astype(np.int64))]
    other = torch.from_numpy((u[:, V + 1:] * max(A - 1, 1)).astype(np.int64))
    neutral = other + (other >= enemy[:, None]).long()
    return game.start(defense, enemy, neutral)


@attrs.frozen(eq=False)
class StepNoise:
    """One training step's randomness for K copies of B games, rows copy-major (row k B + i is
    copy k's game i): the start states, raid noise [T, K B, E] and actor noise [T, K B] (float32)."""

    start: GameState
    raid_u: torch.Tensor
    u: torch.Tensor


def step_noise(game: StrategyGame, opponents: Sequence[str], generators: Sequence[np.random.Generator],
               episodes: int) -> StepNoise:
    """One training step's games and sampling noise, copy k's from ``generators[k]`` alone.

    One block of :func:`block_size` uniforms per copy (:func:`draw_blocks`), split as the
    module docstring lays it out: :func:`games_from_uniforms` of the first B (V + 1 + M),
    then the raid noise and the actor noise on the 24-bit grid (:func:`to_grid24`).

    Parameters
    ----------
    game : StrategyGame
    opponents : sequence of str
    generators : sequence of numpy.random.Generator
        One per copy; each advances by one block.
    episodes : int
        Games per copy (B).

    Returns
    -------
    StepNoise

    Examples
    --------
    >>> from hierarchy.seeding import generator
    >>> n = step_noise(StrategyGame(), ("Aurora",), [generator(0), generator(1)], 4)
    >>> tuple(n.start.defense.shape), tuple(n.raid_u.shape), tuple(n.u.shape)
    ((8, 5), (10, 8, 3), (10, 8))
    """
    r = game.rules
    K, B, T, E = len(generators), episodes, r.turns, r.enemy_villages
    w = r.targets + 1 + r.neutral_villages
    blocks = draw_blocks(generators, block_size(r, B))
    start = games_from_uniforms(game, opponents, blocks[:, : B * w].reshape(K * B, w))
    raid = blocks[:, B * w: B * w + T * B * E].reshape(K, T, B, E).transpose(1, 0, 2, 3).reshape(T, K * B, E)
    actor = blocks[:, B * w + T * B * E:].reshape(K, T, B).transpose(1, 0, 2).reshape(T, K * B)
    return StepNoise(start, to_grid24(np.ascontiguousarray(raid)), to_grid24(np.ascontiguousarray(actor)))


def actor_noise(seed: SeedLike, copies: int, turns: int, n: int) -> torch.Tensor:
    """Sampling noise u [turns, copies n] of ``copies`` actors on n common games: copy k's from
    ``generator(child(seed, k))`` alone (one block of turns n uniforms, laid out [turn, game],
    on the 24-bit grid), rows copy-major; so copy k's actions do not depend on ``copies``.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence
    copies, turns, n : int

    Returns
    -------
    torch.Tensor
        float32 [turns, copies n].

    Examples
    --------
    >>> u = actor_noise(0, 3, 10, 4)
    >>> tuple(u.shape), bool(torch.equal(u[:, 4:8], actor_noise(0, 2, 10, 4)[:, 4:8]))
    ((10, 12), True)
    """
    blocks = draw_blocks([generator(child(seed, k)) for k in range(copies)], turns * n)
    per_turn = blocks.reshape(copies, turns, n).transpose(1, 0, 2).reshape(turns, copies * n)
    return to_grid24(np.ascontiguousarray(per_turn))
