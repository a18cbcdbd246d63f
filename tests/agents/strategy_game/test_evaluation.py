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


def test_a_copy_is_evaluated_the_same_alone_and_in_a_population():
    """Copy k samples its actions from its own noise: evaluating it alone gives its numbers in the batch."""
    from agents.strategy_game.deployment import StrategyDeployment
    pol, _ = train_policy("destroyed", ("Aurora",), steps=3, seed=2, population=3, episodes=16)
    ev = evaluate(pol, "Brotherhood", episodes=64, seed=4)
    dep = StrategyDeployment(pol, "Brotherhood", episodes=32).run(10, np.random.SeedSequence(4))
    for K in (1, 2):
        first = StrategyPolicy({n: p[:K] for n, p in pol.params.items()}, pol.rules, pol.objective)
        alone = evaluate(first, "Brotherhood", episodes=64, seed=4)
        for o in OBJECTIVES:
            assert np.array_equal(alone.per_episode[o], ev.per_episode[o][:K])
        assert np.array_equal(alone.attack_rate["Aurora"], ev.attack_rate["Aurora"][:K])
        short = StrategyDeployment(first, "Brotherhood", episodes=32).run(10, np.random.SeedSequence(4))
        assert np.array_equal(short["L"], dep["L"][:K]) and np.array_equal(short["V"], dep["V"][:K])
    assert len({tuple(x) for x in ev.per_episode["destroyed"]}) > 1  # the copies differ
