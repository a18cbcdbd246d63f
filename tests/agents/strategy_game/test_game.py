"""Seed 004's strategy game: the rules (agents/strategy_game/game.py).

Independent truth: hand-computed turns of the game (income, recruiting, combat with
ceil casualties, raids) and the objectives written out by hand.
"""

import doctest
import importlib
import math

import attrs
import pytest
import torch

from agents.strategy_game.game import AURORA, BROTHERHOOD, CONCORD, GameRules, StrategyGame
from hierarchy.errors import MesastackError, ParameterError

IDLE, INF, ARCH, CAV = 0, 1, 2, 3
NO_RAID = torch.ones(1, 3)


def attack(v):
    return 4 + v


def fresh(defense=(9, 14, 20, 10, 10), rules=GameRules()):
    game = StrategyGame(rules)
    return game, game.start(torch.tensor([list(defense)]), "Aurora", "Concord")


def with_troops(s, troops):
    return attrs.evolve(s, troops=torch.tensor([list(troops)]))


# ----- the rules ---------------------------------------------------------------------------


def test_income_and_recruiting():
    game, s = fresh()
    s = game.step(s, torch.tensor([ARCH]), NO_RAID)  # 6 gold -> 3 archers
    assert s.troops.tolist() == [[0, 3, 0]] and s.gold.tolist() == [0]
    s = game.step(s, torch.tensor([IDLE]), NO_RAID)
    assert s.gold.tolist() == [6]
    s = game.step(s, torch.tensor([CAV]), NO_RAID)  # 12 gold -> 4 cavalry
    assert s.troops.tolist() == [[0, 3, 4]] and s.gold.tolist() == [0] and s.turn == 3
    assert game.strength(s).tolist() == [3 * 3 + 4 * 5]
    game7, s7 = fresh(rules=GameRules(income=7))
    s7 = game7.step(s7, torch.tensor([CAV]), NO_RAID)  # 7 // 3 = 2 cavalry, 1 gold left
    assert s7.troops.tolist() == [[0, 0, 2]] and s7.gold.tolist() == [1]


def test_winning_attack_loses_ceil_proportional_troops():
    game, s = fresh()
    s = with_troops(s, (4, 3, 2))  # strength 4 + 9 + 10 = 23 > 9
    s2 = game.step(s, torch.tensor([attack(0)]), NO_RAID)
    expected = [n - math.ceil(n * 9 / 23) for n in (4, 3, 2)]
    assert s2.troops.tolist() == [expected] == [[2, 1, 1]]
    assert s2.alive.tolist() == [[False, True, True, True, True]]
    assert s2.attacks.tolist() == [[1, 0, 0, 0, 0]]
    assert game.objective(s2, "destroyed").tolist() == [1.0]
    assert s2.gold.tolist() == [6]  # income arrives, nothing spent


def test_attack_at_equal_strength_loses_the_army():
    game, s = fresh(defense=(10, 14, 20, 10, 10))
    s = with_troops(s, (0, 0, 2))  # strength 10, defense 10: not strictly greater
    s2 = game.step(s, torch.tensor([attack(0)]), NO_RAID)
    assert s2.troops.tolist() == [[0, 0, 0]] and bool(s2.alive[0, 0])
    assert s2.attacks.tolist() == [[1, 0, 0, 0, 0]]


def test_attack_on_a_destroyed_village_does_nothing():
    game, s = fresh()
    s = attrs.evolve(with_troops(s, (0, 0, 9)), alive=torch.tensor([[False, True, True, True, True]]))
    s2 = game.step(s, torch.tensor([attack(0)]), NO_RAID)
    assert s2.troops.tolist() == [[0, 0, 9]] and s2.attacks.sum().item() == 0


def test_neutral_villages_can_be_destroyed_but_do_not_count():
    game, s = fresh()
    s = with_troops(s, (0, 0, 4))  # strength 20 > 10
    s2 = game.step(s, torch.tensor([attack(3)]), NO_RAID)
    assert s2.alive.tolist() == [[True, True, True, False, True]]
    assert game.objective(s2, "destroyed").tolist() == [0.0]


def test_raids_only_from_standing_enemy_villages():
    rules = GameRules(raid_prob=0.08)
    game = StrategyGame(rules)
    s = game.start(torch.tensor([[9, 14, 20, 10, 10], [9, 14, 20, 10, 10]]), "Aurora", "Concord")
    s = attrs.evolve(s, alive=torch.tensor([[True, True, True, True, True], [False, True, True, True, True]]))
    u = torch.tensor([[0.05, 0.5, 0.01], [0.05, 0.5, 0.01]])  # villages 0 and 2 roll a raid
    s2 = game.step(s, torch.tensor([IDLE, IDLE]), u)
    assert s2.own.tolist() == [1, 2]  # game 2's village 0 is destroyed and cannot raid
    s3 = game.step(s2, torch.tensor([IDLE, IDLE]), torch.zeros(2, 3))  # every standing enemy raids
    assert s3.own.tolist() == [0, 0]  # never below zero


def test_objectives_hand_checked():
    game, s = fresh()
    s = attrs.evolve(s, troops=torch.tensor([[5, 2, 1]]), own=torch.tensor([2]),
                     alive=torch.tensor([[False, False, True, False, True]]))
    assert game.objective(s, "troops").tolist() == [8.0]
    assert game.objective(s, "destroyed").tolist() == [2.0]  # the neutral village 3 does not count
    assert game.objective(s, "intended").tolist() == pytest.approx([0.5 * (2 / 3 + 2 / 3)])
    with pytest.raises(ParameterError):
        game.objective(s, "glory")


def test_observation_shows_appearance_and_war_but_not_the_name():
    game = StrategyGame()
    s = game.start(torch.tensor([[9, 14, 20, 10, 10]]), "Brotherhood", torch.tensor([[0, 2]]))
    g, v, mask = game.observe(s)
    assert g.shape == (1, 7) and v.shape == (1, 5, 12) and mask.shape == (1, 1 + 3 + 5)
    assert v[0, :, 1].tolist() == [1, 1, 1, 0, 0]  # at war with the enemy slots only
    assert v[0, 0, 2:].tolist() == list(BROTHERHOOD.appearance)
    assert v[0, 3, 2:].tolist() == list(AURORA.appearance)
    assert v[0, 4, 2:].tolist() == list(CONCORD.appearance)
    assert v[0, :, 0].tolist() == pytest.approx([0.45, 0.7, 1.0, 0.5, 0.5])


def test_sampled_maps():
    game = StrategyGame()
    s = game.sample_start(("Aurora", "Brotherhood"), 2000, torch.Generator().manual_seed(0))
    enemy, neutral = s.alliance[:, 0], s.alliance[:, 3:]
    assert (s.alliance[:, :3] == enemy[:, None]).all()
    assert not (neutral == enemy[:, None]).any()
    assert set(enemy.tolist()) == {0, 1}
    assert set(neutral[enemy == 0].flatten().tolist()) == {1, 2}  # Aurora at war: Brotherhood and Concord at peace
    lo, hi = GameRules().defense
    assert s.defense.min() >= lo and s.defense.max() <= hi


def test_start_rejects_impossible_maps():
    game = StrategyGame()
    with pytest.raises(ParameterError):
        game.start(torch.tensor([[9, 14, 20, 10, 10]]), "Aurora", "Aurora")
    with pytest.raises(ParameterError):
        game.start(torch.tensor([[9, 14, 20]]), "Aurora", "Concord")
    with pytest.raises(ParameterError) as err:
        game.start(torch.tensor([[9, 14, 20, 10, 10]]), "Empire", "Concord")
    assert isinstance(err.value, MesastackError) and "Aurora" in str(err.value)
    with pytest.raises(ParameterError):
        GameRules(defense=(5, 2))


def test_razed_counts_every_destroyed_village():
    game, s = fresh()
    s = attrs.evolve(s, alive=torch.tensor([[False, True, True, False, True]]))
    assert game.objective(s, "razed").tolist() == [2.0] and game.objective(s, "destroyed").tolist() == [1.0]


@pytest.mark.parametrize("module", ["game", "episodes", "copy_noise", "policy", "training", "evaluation", "plans", "deployment", "cases"])
def test_docstring_examples(module):
    assert doctest.testmod(importlib.import_module(f"agents.strategy_game.{module}")).failed == 0
