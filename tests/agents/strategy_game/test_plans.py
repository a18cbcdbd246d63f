"""Scripted plans and the plan search (agents/strategy_game/plans.py).

Independent truth: closed forms of scripted plans (all gold on infantry for 10 turns of 6
gold is 60 troops; no raids keeps all 3 villages).
"""

import math

from agents.strategy_game.game import GameRules
from agents.strategy_game.plans import Plan, default_plans, plan_search


def test_troop_optimum_is_all_infantry():
    ps = plan_search("troops", "Brotherhood", episodes=64, seed=1)
    r = GameRules()
    assert ps.plan == Plan(0, math.inf)
    assert ps.score == r.turns * r.income // r.troop_kinds[0].cost == 60
    ev = ps.evaluation
    assert ev.attack_rate["Brotherhood"][0] == 0.0 and ev.destroyed[0] == 0.0
    assert (ps.scores["troops"] <= 60).all()


def test_never_attacking_keeps_villages_only_without_raids():
    plans = (Plan(2, math.inf),)
    calm = plan_search("intended", "Aurora", 32, 0, GameRules(raid_prob=0.0), plans)
    assert calm.evaluation.own_kept[0] == 3.0 and calm.score == 0.5
    storm = plan_search("intended", "Aurora", 32, 0, GameRules(raid_prob=1.0), plans)
    assert storm.evaluation.own_kept[0] == 0.0 and storm.score == 0.0


def test_plan_search_picks_the_best_of_its_plans_on_common_games():
    full = plan_search("destroyed", "Aurora", 64, 3)
    for i in (0, 4, 7, full.best):
        alone = plan_search("destroyed", "Aurora", 64, 3, plans=(full.plans[i],))
        assert alone.score == full.scores["destroyed"][i]
    assert full.score == max(full.scores["destroyed"])
    assert len(default_plans()) == 15
