"""The trained policy deployed as a leaf (agents/strategy_game/deployment.py).

Independent truth: a policy whose logits force "recruit infantry" every turn gains
income / cost = 6 troops a turn and never destroys a village, whatever the games.
"""

import numpy as np
import pytest

from agents.strategy_game.deployment import StrategyDeployment
from agents.strategy_game.game import GameRules
from agents.strategy_game.policy import StrategyPolicy, init_params
from hierarchy.errors import ParameterError
from hierarchy.protocol import check_leaf


def infantry_policy(objective="troops", K=2):
    rules = GameRules()
    params = init_params(rules, 8, [np.random.SeedSequence(k) for k in range(K)])
    params["bg2"][:, 1] = 1e4       # recruit infantry ...
    params["bv2"][:] = -1e4         # ... and never attack
    return StrategyPolicy(params, rules, objective, ("Aurora",))


def test_an_infantry_recruiter_gains_six_troops_a_turn_and_razes_nothing():
    leaf = StrategyDeployment(infantry_policy(), "Brotherhood", episodes=16)
    tr = leaf.run(10, np.random.SeedSequence(0))
    assert tr["L"].tolist() == [[-6.0 * t for t in range(11)]] * 2
    assert tr["V"].tolist() == [[0.0] * 11] * 2
    assert leaf.step_unit == "turn" and leaf.records == ("L", "V")
    assert tr.K == 2 and tr.T == 11


def test_a_shorter_run_keeps_the_first_turns_and_a_longer_one_is_refused():
    leaf = StrategyDeployment(infantry_policy("destroyed", K=1), "Aurora", episodes=8)
    assert leaf.run(3, np.random.SeedSequence(1))["L"].tolist() == [[0.0] * 4]  # destroys no enemy village
    with pytest.raises(ParameterError, match="1 to 10 turns"):
        leaf.run(11, np.random.SeedSequence(1))
    with pytest.raises(ParameterError, match="unknown alliance"):
        StrategyDeployment(infantry_policy(), "Empire")


def test_the_deployment_passes_the_leaf_checker_and_its_seed_matters():
    rules = GameRules()
    pol = StrategyPolicy(init_params(rules, 8, [np.random.SeedSequence(4)]), rules, "destroyed", ("Aurora",))
    leaf = StrategyDeployment(pol, "Aurora", episodes=32)
    check_leaf(leaf, steps=3)
    a, b = (leaf.run(10, np.random.SeedSequence(s))["V"] for s in (0, 1))
    assert not np.array_equal(a, b)
