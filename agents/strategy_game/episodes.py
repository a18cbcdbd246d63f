"""Playing the strategy game: actors and batched episodes, K copies of an actor at once."""

from __future__ import annotations

from typing import Callable, Sequence

import attrs
import torch

from agents.threads import torch_threads
from agents.strategy_game.game import OBJECTIVES, GameState, StrategyGame

__all__ = ["Actor", "one_thread", "tile_state", "Episodes", "play"]

Actor = Callable[[GameState, torch.Tensor], tuple]


def one_thread():
    """Run torch on one thread inside the block (the game's models are tiny; see agents.threads)."""
    return torch_threads(1)


def tile_state(s: GameState, copies: int) -> GameState:
    """``copies`` copies of the games of ``s``, copy-major (row k * n + i is copy k's game i)."""
    if copies == 1:
        return s
    rep = lambda t: t.repeat(copies, *([1] * (t.ndim - 1)))  # noqa: E731
    return GameState(rep(s.gold), rep(s.troops), rep(s.own), rep(s.alive), rep(s.defense), rep(s.alliance), rep(s.attacks), s.turn)


@attrs.frozen(eq=False)
class Episodes:
    """A played batch: the final state, per-turn log-probabilities and entropies [T, N]
    (zeros for scripted actors), and per-turn values of every objective [T + 1, N]."""

    final: GameState
    logp: torch.Tensor
    entropy: torch.Tensor
    values: dict


def play(game: StrategyGame, start: GameState, act: Actor, world: torch.Generator, actor: torch.Generator, copies: int = 1,
         record: Sequence[str] = OBJECTIVES) -> Episodes:
    """Play the n games of ``start`` to the end, each by ``copies`` copies of the actor.

    Rows are copy-major (row k * n + i is copy k's game i). Each turn draws raid noise
    [n, E] from ``world`` (shared by the copies: every copy faces the same games) and the
    actor's sampling noise u [copies * n] from ``actor``; ``act(state, u)`` returns
    (action, log-probability, entropy), each [copies * n]. ``record``: the quantities
    (:data:`~agents.strategy_game.game.MEASURES`) whose values are kept every turn.

    Example:
        >>> import torch
        >>> game = StrategyGame()
        >>> idle = lambda s, u: (torch.zeros_like(s.gold), torch.zeros(len(u)), torch.zeros(len(u)))
        >>> start = game.sample_start(("Aurora",), 4, torch.Generator().manual_seed(0))
        >>> ep = play(game, start, idle, torch.Generator().manual_seed(1), torch.Generator().manual_seed(2), copies=2)
        >>> ep.values["troops"].shape, ep.final.gold.tolist()          # 10 turns of 6 gold, never spent
        (torch.Size([11, 8]), [60, 60, 60, 60, 60, 60, 60, 60])
    """
    n = len(start.gold)
    s = tile_state(start, copies)
    logps, ents = [], []
    values = {o: [game.objective(s, o)] for o in record}
    for _ in range(game.rules.turns):
        raid_u = torch.rand(n, game.rules.enemy_villages, generator=world).repeat(copies, 1)
        u = torch.rand(copies * n, generator=actor)
        a, logp, ent = act(s, u)
        s = game.step(s, a, raid_u)
        logps.append(logp)
        ents.append(ent)
        for o in record:
            values[o].append(game.objective(s, o))
    return Episodes(s, torch.stack(logps), torch.stack(ents), {o: torch.stack(v) for o, v in values.items()})
