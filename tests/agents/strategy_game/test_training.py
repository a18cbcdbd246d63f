"""Training the policy (agents/strategy_game/training.py).

Independent truth: an explicit-loop REINFORCE loss, determinism, and the troop count falling.
"""

import math

import numpy as np
import pytest
import torch

from agents.strategy_game.cases import classify
from agents.strategy_game.evaluation import evaluate
from agents.strategy_game.plans import plan_search
from agents.strategy_game.policy import StrategyPolicy
from agents.strategy_game.training import StrategyTrainer, case_seeds, reinforce_loss, train_policy
from hierarchy.errors import ParameterError
from hierarchy.protocol import check_leaf


def test_reinforce_loss_matches_an_explicit_loop():
    gen = torch.Generator().manual_seed(0)
    T, K, B = 3, 2, 4
    values = torch.rand(T + 1, K * B, generator=gen)
    logp = -torch.rand(T, K * B, generator=gen)
    ent = torch.rand(T, K * B, generator=gen)
    got = reinforce_loss(values, logp, ent, K, 0.1)
    for k in range(K):
        cols = range(k * B, (k + 1) * B)
        togo = [[float(values[T, c] - values[t, c]) for c in cols] for t in range(T)]
        total = 0.0
        for t in range(T):
            m = sum(togo[t]) / B
            sd = math.sqrt(sum((x - m) ** 2 for x in togo[t]) / (B - 1))
            total += sum((togo[t][i] - m) / (sd + 1e-6) * float(logp[t, c]) for i, c in enumerate(cols))
        expected = -total / B - 0.1 * float(ent[:, k * B:(k + 1) * B].mean())
        assert float(got[k]) == pytest.approx(expected, rel=1e-5)


def test_training_is_deterministic_and_copies_do_not_depend_on_population():
    ss = np.random.SeedSequence(5)
    p1, t1 = train_policy("destroyed", ("Aurora",), steps=3, seed=ss, population=2, episodes=16)
    p2, t2 = train_policy("destroyed", ("Aurora",), steps=3, seed=ss, population=2, episodes=16)
    assert np.array_equal(t1["L"], t2["L"]) and np.array_equal(t1["G"], t2["G"])
    assert all(torch.equal(p1.params[n], p2.params[n]) for n in p1.params)
    p3, t3 = train_policy("destroyed", ("Aurora",), steps=3, seed=6, population=2, episodes=16)
    assert not np.array_equal(t1["L"], t3["L"])
    a, _ = train_policy("troops", ("Aurora",), steps=0, seed=9, population=1, episodes=4)
    b, _ = train_policy("troops", ("Aurora",), steps=0, seed=9, population=3, episodes=4)
    assert all(torch.equal(a.params[n][0], b.params[n][0]) for n in a.params)


def test_a_trained_copy_is_the_same_whatever_the_population():
    """Copy k draws its games and sampling noise from its own seed: training it with 1, 2 or 4
    copies gives it the same L, G and final parameters, bit for bit."""
    runs = {K: train_policy("destroyed", ("Aurora", "Brotherhood"), steps=4, seed=3, population=K, episodes=16)
            for K in (1, 2, 4)}
    pol4, tr4 = runs[4]
    for K in (1, 2):
        pol, tr = runs[K]
        assert np.array_equal(tr["L"], tr4["L"][:K]) and np.array_equal(tr["G"], tr4["G"][:K])
        assert all(torch.equal(pol.params[n], pol4.params[n][:K]) for n in pol.params)
    assert len({tuple(row) for row in tr4["L"]}) == 4  # and the copies play different games


def test_trajectory_records_L_and_G():
    pol, tr = train_policy("troops", ("Aurora",), steps=30, seed=0, population=2, episodes=32)
    assert tr["L"].shape == tr["G"].shape == (2, 31)
    assert np.all(np.isfinite(tr["G"]))
    assert np.all(tr["L"][:, -1] < tr["L"][:, 0])  # L = -troops falls
    assert check_leaf(StrategyTrainer("troops", ("Aurora",), population=2, episodes=8), steps=2).K == 2


def test_bad_arguments_raise_named_errors():
    with pytest.raises(ParameterError):
        train_policy("glory", ("Aurora",))
    with pytest.raises(ParameterError):
        train_policy("troops", ("Empire",), steps=1)
    with pytest.raises(ParameterError):
        train_policy("troops", ("Aurora",), population=0)
    with pytest.raises(ParameterError):
        train_policy("troops", ("Aurora",), seed=-1)
    ev = evaluate(train_policy("troops", ("Aurora",), steps=0, episodes=4)[0], "Aurora", 8)
    with pytest.raises(ParameterError):
        classify(ev, plan_search("troops", "Brotherhood", 8), plan_search("intended", "Brotherhood", 8))
    with pytest.raises(ParameterError):
        classify(ev, plan_search("destroyed", "Aurora", 8), plan_search("intended", "Aurora", 8))


def test_the_trainer_leaf_trains_from_the_first_case_seed_and_returns_its_policy():
    leaf = StrategyTrainer("troops", ("Aurora",), population=2, episodes=8)
    tr = leaf.run(2, np.random.SeedSequence(3))
    pol, direct = train_policy("troops", ("Aurora",), 2, case_seeds(np.random.SeedSequence(3))[0], 2, 8)
    assert np.array_equal(tr["L"], direct["L"]) and np.array_equal(tr["G"], direct["G"])
    assert isinstance(tr.product, StrategyPolicy) and all(torch.equal(tr.product.params[n], pol.params[n]) for n in pol.params)
    assert leaf.step_unit == "gradient step"
