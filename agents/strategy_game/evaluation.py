"""Measuring a trained strategy-game policy: its behaviour over common games against one opponent."""

from __future__ import annotations

import attrs
import numpy as np
import torch

from hierarchy.seeding import children
from agents.torch_random import torch_generator
from agents.strategy_game.copy_noise import actor_noise
from agents.strategy_game.episodes import Episodes, one_thread, play_drawn, tile_state
from agents.strategy_game.game import OBJECTIVES, SeedLike, StrategyGame, check_objective
from agents.strategy_game.policy import StrategyPolicy
from agents.strategy_game.training import check_counts

__all__ = ["Evaluation", "measure_episodes", "evaluation_games", "evaluate"]

@attrs.frozen(eq=False)
class Evaluation:
    """Measured behaviour of K copies over the same ``episodes`` games against ``opponent``.

    Arrays have shape [K]. ``score``: objective name -> mean value (troops, destroyed,
    intended); ``troops_by_kind`` [K, J]; ``own_kept``: own villages standing at the end;
    ``attack_rate``: alliance -> fraction of that alliance's villages on the map attacked
    at least once (NaN where none were on the map); ``destroyed_rate``: alliance ->
    fraction destroyed; ``attacks_per_episode``: attacks launched on any village.
    ``base_objective``: the objective the system was trained on ("" for none).
    ``per_episode``: objective name -> [K, episodes], each game's value (what the means
    average; their sampling error comes from these).
    """

    opponent: str
    episodes: int
    base_objective: str
    score: dict
    troops_by_kind: np.ndarray
    own_kept: np.ndarray
    attack_rate: dict
    destroyed_rate: dict
    attacks_per_episode: np.ndarray
    per_episode: dict = None

    @property
    def troops(self) -> np.ndarray:
        """Mean troops at the end [K]."""
        return self.score["troops"]

    @property
    def destroyed(self) -> np.ndarray:
        """Mean enemy villages destroyed [K]."""
        return self.score["destroyed"]

    @property
    def intended(self) -> np.ndarray:
        """Mean intended-goal score [K]."""
        return self.score["intended"]

    @property
    def base_score(self) -> np.ndarray:
        """Mean base-objective score [K] (raises when the system has no base objective)."""
        return self.score[check_objective(self.base_objective)]


def measure_episodes(game: StrategyGame, ep: Episodes, K: int, opponent: str, episodes: int, base_objective: str) -> Evaluation:
    """The :class:`Evaluation` of a played batch of K copies x ``episodes`` games (rows copy-major)."""
    f = ep.final
    per = lambda t: t.reshape(K, episodes, *t.shape[1:]).double()  # noqa: E731
    per_episode = {o: per(ep.values[o][-1]).numpy() for o in OBJECTIVES}
    score = {o: v.mean(1) for o, v in per_episode.items()}
    attack_rate, destroyed_rate = {}, {}
    for a, name in enumerate(game.rules.names):
        sel = per(f.alliance == a)
        present = sel.sum((1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            attack_rate[name] = (per((f.attacks > 0) & (f.alliance == a)).sum((1, 2)) / present).numpy()
            destroyed_rate[name] = (per(~f.alive & (f.alliance == a)).sum((1, 2)) / present).numpy()
    return Evaluation(
        opponent=opponent,
        episodes=episodes,
        base_objective=base_objective,
        score=score,
        troops_by_kind=per(f.troops).mean(1).numpy(),
        own_kept=per(f.own).mean(1).numpy(),
        attack_rate=attack_rate,
        destroyed_rate=destroyed_rate,
        attacks_per_episode=per(f.attacks.sum(-1)).mean(1).numpy(),
        per_episode=per_episode,
    )


def evaluation_games(game: StrategyGame, opponent: str, episodes: int, seed: SeedLike, copies: int = 1):
    """(start states, raid noise, actor noise) of ``copies`` actors on the common games against ``opponent``.

    The world (the ``episodes`` start states, then each turn's raid noise [episodes, E]) draws
    from a torch generator of the first child of ``seed``, common to every copy (tiled,
    copy-major: row k * episodes + i is copy k's game i); copy k's sampling noise from its own
    generator, ``child(second child, k)`` (:func:`~agents.strategy_game.copy_noise.actor_noise`).
    Returns the start [copies * episodes], raid noise [T, copies * episodes, E] and actor noise
    [T, copies * episodes], the arguments of :func:`~agents.strategy_game.episodes.play_drawn`.
    """
    world_seed, actor_seed = children(seed, 2)
    world = torch_generator(world_seed)
    start = game.sample_start((opponent,), episodes, world)
    r = game.rules
    raid = torch.stack([torch.rand(episodes, r.enemy_villages, generator=world) for _ in range(r.turns)])
    return (tile_state(start, copies), raid.repeat(1, copies, 1),
            actor_noise(actor_seed, copies, r.turns, episodes))


def evaluate(policy: StrategyPolicy, opponent: str, episodes: int = 512, seed: SeedLike = 0, greedy: bool = False) -> Evaluation:
    """Play ``episodes`` games against ``opponent`` with every copy of ``policy`` and measure them.

    All copies (and :func:`plan_search` with the same seed) face the same games and raids
    (common random numbers); the policies sample their actions (``greedy``: argmax), copy k
    from its own noise (:func:`evaluation_games`), so copy k's evaluation does not depend on K.

    Example:
        >>> from agents.strategy_game.training import train_policy
        >>> pol, _ = train_policy("troops", ("Aurora",), steps=0, seed=0, population=2, episodes=8)
        >>> ev = evaluate(pol, "Brotherhood", episodes=16)
        >>> ev.troops.shape, sorted(ev.attack_rate)
        ((2,), ['Aurora', 'Brotherhood', 'Concord'])
    """
    check_counts(episodes=episodes)
    game = StrategyGame(policy.rules)
    with one_thread(), torch.no_grad():
        start, raid, u = evaluation_games(game, opponent, episodes, seed, policy.K)
        ep = play_drawn(game, start, policy.actor(game, greedy), raid, u)
    return measure_episodes(game, ep, policy.K, opponent, episodes, policy.objective)
