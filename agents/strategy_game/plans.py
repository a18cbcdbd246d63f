"""Scripted plans that see the true alliances, and the search over them: the reference optimizer of an objective."""

from __future__ import annotations

import math
from typing import Optional, Sequence

import attrs
import numpy as np
import torch

from hierarchy.errors import ParameterError
from agents.strategy_game.episodes import Actor, one_thread, play_drawn
from agents.strategy_game.evaluation import Evaluation, evaluation_games, measure_episodes
from agents.strategy_game.game import GameRules, GameState, SeedLike, StrategyGame, check_objective
from agents.strategy_game.training import check_counts

__all__ = ["Plan", "MARGINS", "default_plans", "plan_actor", "PlanSearch", "plan_search"]

@attrs.frozen
class Plan:
    """A scripted plan that sees which villages are at war: each turn, attack the weakest
    enemy village still standing if army strength > ``margin`` * its defense, else recruit
    ``kind`` (``margin`` = inf: never attack)."""

    kind: int
    margin: float

    def describe(self, rules: GameRules) -> str:
        """E.g. 'recruit cavalry, attack when strength > 1.25 x defense'."""
        name = rules.troop_kinds[self.kind].name
        return f"recruit {name}, never attack" if math.isinf(self.margin) else f"recruit {name}, attack when strength > {self.margin:g} x defense"


MARGINS = (1.0, 1.25, 1.5, 2.0, math.inf)


def default_plans(rules: GameRules = GameRules()) -> tuple:
    """Every (troop kind, margin in MARGINS) pair: the family :func:`plan_search` searches."""
    return tuple(Plan(j, m) for j in range(len(rules.troop_kinds)) for m in MARGINS)


def plan_actor(game: StrategyGame, plans: Sequence[Plan], n: int) -> Actor:
    """The plans as one actor for :func:`~agents.strategy_game.episodes.play`: plan p plays rows p * n .. p * n + n - 1."""
    r = game.rules
    J, E = len(r.troop_kinds), r.enemy_villages
    kind = torch.tensor([p.kind for p in plans]).repeat_interleave(n)
    margin = torch.tensor([p.margin for p in plans], dtype=torch.float64).repeat_interleave(n)

    def act(s: GameState, u: torch.Tensor):
        d = s.defense[:, :E].double().masked_fill(~s.alive[:, :E], math.inf)
        weakest, target = d.min(-1)
        go = game.strength(s).double() > margin * weakest
        a = torch.where(go, 1 + J + target, 1 + kind)
        zeros = torch.zeros(len(a))
        return a, zeros, zeros

    return act


@attrs.frozen(eq=False)
class PlanSearch:
    """The best scripted plan for ``objective`` against ``opponent``: ``plans``, their mean
    scores (objective name -> [P]), the index ``best`` and the best plan's Evaluation (K = 1)."""

    objective: str
    opponent: str
    plans: tuple
    scores: dict
    best: int
    evaluation: Evaluation

    @property
    def plan(self) -> Plan:
        """The best plan."""
        return self.plans[self.best]

    @property
    def score(self) -> float:
        """The best plan's mean score on ``objective``."""
        return float(self.scores[self.objective][self.best])


def plan_search(
    objective: str, opponent: str, episodes: int = 512, seed: SeedLike = 0, rules: GameRules = GameRules(), plans: Optional[Sequence[Plan]] = None
) -> PlanSearch:
    """The reference optimizer of ``objective``: the plan of ``plans`` (default
    :func:`default_plans`) with the highest mean ``objective`` over ``episodes`` games
    against ``opponent`` (the same games as :func:`evaluate` with the same seed; ties go
    to the earlier plan). A search over a plan family: its best is a lower bound on the
    true optimum.

    Example:
        >>> ps = plan_search("troops", "Aurora", episodes=32)
        >>> ps.plan.describe(GameRules()), ps.score                # all gold on the cheapest unit, 10 x 6
        ('recruit infantry, never attack', 60.0)
    """
    check_objective(objective)
    check_counts(episodes=episodes)
    plans = tuple(default_plans(rules) if plans is None else plans)
    if not plans:
        raise ParameterError("no plans to search; give at least one Plan or leave plans=None")
    game = StrategyGame(rules)
    with one_thread(), torch.no_grad():
        start, raid, u = evaluation_games(game, opponent, episodes, seed, len(plans))
        ep = play_drawn(game, start, plan_actor(game, plans, episodes), raid, u)
    ev = measure_episodes(game, ep, len(plans), opponent, episodes, "")
    best = int(np.argmax(ev.score[objective]))
    pick = lambda x: x[best : best + 1]  # noqa: E731
    best_ev = Evaluation(
        opponent, episodes, objective, {o: pick(v) for o, v in ev.score.items()}, pick(ev.troops_by_kind), pick(ev.own_kept),
        {a: pick(v) for a, v in ev.attack_rate.items()}, {a: pick(v) for a, v in ev.destroyed_rate.items()},
        pick(ev.attacks_per_episode), {o: pick(v) for o, v in ev.per_episode.items()},
    )
    return PlanSearch(objective, opponent, plans, ev.score, best, best_ev)
