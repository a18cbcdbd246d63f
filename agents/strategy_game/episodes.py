"""Playing the strategy game: actors and batched episodes, K copies of an actor at once."""

from __future__ import annotations

from typing import Callable, Sequence

import attrs
import torch

from hierarchy.errors import ParameterError
from agents.threads import torch_threads
from agents.strategy_game.game import OBJECTIVES, GameState, StrategyGame

__all__ = ["Actor", "one_thread", "tile_state", "Episodes", "play", "play_drawn"]

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
    E = game.rules.enemy_villages

    def noise():  # drawn turn by turn, raids before the actor's noise (the generators' order)
        for _ in range(game.rules.turns):
            raid_u = torch.rand(n, E, generator=world).repeat(copies, 1)
            yield raid_u, torch.rand(copies * n, generator=actor)

    return _play(game, tile_state(start, copies), act, noise(), record)


def play_drawn(game: StrategyGame, start: GameState, act: Actor, raid_u: torch.Tensor, u: torch.Tensor,
               record: Sequence[str] = OBJECTIVES) -> Episodes:
    """Play the N games of ``start`` to the end with noise drawn beforehand: turn t uses raid
    noise ``raid_u[t]`` [N, E] and actor noise ``u[t]`` [N] (what :func:`play` draws turn by turn).

    Raises
    ------
    ParameterError
        If the noise is not [T, N, E] and [T, N] for the rules' T turns and E enemy villages.

    Example:
        >>> import torch
        >>> game = StrategyGame()
        >>> idle = lambda s, u: (torch.zeros_like(s.gold), torch.zeros(len(u)), torch.zeros(len(u)))
        >>> start = game.start(torch.full((2, 5), 9), "Aurora", "Concord")
        >>> ep = play_drawn(game, start, idle, torch.zeros(10, 2, 3), torch.rand(10, 2))   # every village raids
        >>> ep.final.own.tolist()                                   # 3 raids in turn 1 leave no own village
        [0, 0]
    """
    T, E, N = game.rules.turns, game.rules.enemy_villages, len(start.gold)
    if tuple(raid_u.shape) != (T, N, E) or tuple(u.shape) != (T, N):
        raise ParameterError(f"noise of shapes {tuple(raid_u.shape)} and {tuple(u.shape)}; give raid noise "
                             f"[{T}, {N}, {E}] and actor noise [{T}, {N}] (turns, games, enemy villages)")
    return _play(game, start, act, zip(raid_u, u), record)


def _play(game: StrategyGame, s: GameState, act: Actor, noise, record: Sequence[str]) -> Episodes:
    """The turns of :func:`play` and :func:`play_drawn`: ``noise`` yields (raid_u, u) once per turn."""
    logps, ents = [], []
    values = {o: [game.objective(s, o)] for o in record}
    for raid_u, u in noise:
        a, logp, ent = act(s, u)
        s = game.step(s, a, raid_u)
        logps.append(logp)
        ents.append(ent)
        for o in record:
            values[o].append(game.objective(s, o))
    return Episodes(s, torch.stack(logps), torch.stack(ents), {o: torch.stack(v) for o, v in values.items()})
