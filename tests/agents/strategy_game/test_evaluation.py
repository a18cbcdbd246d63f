"""Evaluating a policy over common games (agents/strategy_game/evaluation.py)."""

import numpy as np

from agents.strategy_game.game import OBJECTIVES
from agents.strategy_game.evaluation import evaluate
from agents.strategy_game.policy import StrategyPolicy
from agents.strategy_game.training import train_policy


def test_evaluation_uses_common_games_for_every_copy():
    pol, _ = train_policy("destroyed", ("Aurora",), steps=5, seed=2, population=1, episodes=16)
    twin = StrategyPolicy({n: p.repeat(2, *[1] * (p.ndim - 1)) for n, p in pol.params.items()}, pol.rules, pol.objective)
    ev = evaluate(twin, "Aurora", episodes=64, seed=4, greedy=True)
    for o in OBJECTIVES:
        assert ev.score[o][0] == ev.score[o][1]
    assert ev.attack_rate["Concord"][0] == ev.attack_rate["Concord"][1]
    again = evaluate(twin, "Aurora", episodes=64, seed=4, greedy=True)
    assert np.array_equal(again.troops, ev.troops)
