"""Annealing: gradient descent plus loss-scaled, decaying random jumps."""

import numpy as np
import pytest
import torch

from agents.language_model.annealing import Annealing
from agents.language_model.gradient_descent import GradientDescent
from agents.language_model.markov import MarkovChain
from agents.language_model.mlp import split_parameters
from agents.language_model.schedules import Constant, Decay
from hierarchy.errors import ParameterError
from hierarchy.objective import Objective
from hierarchy.protocol import check_leaf


@pytest.fixture(scope="module")
def data():
    return MarkovChain.random(4, 2, 0.4, seed=3).sample(40, seed=4)


def loss_and_grad(theta, data, sizes):
    """Reference: one model with torch autograd."""
    th = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    h = torch.from_numpy(data.inputs())
    layers = split_parameters(th[None], sizes)
    for i, (W, b) in enumerate(layers):
        h = h @ W[0] + b[0]
        if i < len(layers) - 1:
            h = torch.tanh(h)
    L = torch.nn.functional.cross_entropy(h, torch.from_numpy(data.targets))
    (g,) = torch.autograd.grad(L, th)
    return L.item(), g.numpy()


def test_zero_jump_is_gradient_descent_number_for_number(data):
    kw = dict(hidden=(5,), population=3, schedule=Decay(0.9, 50.0), lr_scale=[1.0, 0.5, 2.0])
    gd = GradientDescent(data, **kw).run(40, 7)
    an = Annealing(data, jump=0.0, **kw).run(40, 7)
    for name in ("L", "G", "G1"):
        assert np.array_equal(an[name], gd[name])
    assert np.array_equal(an.copy_meta["final_parameters"], gd.copy_meta["final_parameters"])
    assert np.array_equal(an["J"], an["G"])  # no jump term


def test_one_step_follows_the_documented_rule(data):
    an = Annealing(data, hidden=(3,), population=2, schedule=Constant(0.4), jump=0.05, jump_tau=10.0)
    seed = np.random.SeedSequence(12)
    tr = an.run(1, seed)
    P = an.parameter_count()
    for k in range(2):
        theta0 = tr.copy_meta["initial_parameters"][k]
        L0, g0 = loss_and_grad(theta0, data, an.sizes)
        # copy k's noise: the stream of child 0 of child k of the seed
        xi = np.random.default_rng(np.random.SeedSequence(12, spawn_key=(k, 0))).standard_normal(P)
        expected = theta0 - 0.4 * g0 + 0.05 * np.sqrt(L0) * xi
        np.testing.assert_allclose(tr.copy_meta["final_parameters"][k], expected, rtol=1e-12, atol=1e-14)
        assert tr["L"][k, 0] == pytest.approx(L0, rel=1e-12)


def test_jumps_are_reproducible_and_copies_independent_of_K(data):
    kw = dict(hidden=(4,), jump=0.02, jump_tau=30.0, schedule=Decay(1.0, 30.0))
    big = Annealing(data, population=4, **kw).run(120, np.random.SeedSequence(5))
    again = Annealing(data, population=4, **kw).run(120, np.random.SeedSequence(5))
    small = Annealing(data, population=1, **kw).run(120, np.random.SeedSequence(5))
    other = Annealing(data, population=4, **kw).run(120, np.random.SeedSequence(6))
    for name in ("L", "G", "G1", "J"):
        assert np.array_equal(big[name], again[name])  # same machine, same K: bit for bit
        np.testing.assert_allclose(big[name][:1], small[name], rtol=1e-12, atol=1e-15)  # other K: to rounding
    assert not np.allclose(big["L"], other["L"])
    plain = GradientDescent(data, population=4, hidden=(4,), schedule=Decay(1.0, 30.0)).run(120, np.random.SeedSequence(5))
    assert not np.allclose(big["L"], plain["L"])  # the jumps do move the parameters


def test_jump_grows_with_the_loss_and_shrinks_over_time(data):
    an = Annealing(data, hidden=(3,), population=2, schedule=Constant(1e-12), jump=0.1, jump_tau=5.0)
    sizes = an.jump_sizes(20)
    assert sizes[0] == 0.1 and sizes[5] == pytest.approx(0.05) and np.all(np.diff(sizes) < 0)
    # with a negligible gradient step, the jump of copy k at step 0 has norm sigma_0 sqrt(L_k) |xi_k|
    init = an.initial_parameters(0)
    init[1] *= 4.0  # a larger start: a different loss
    tr = Annealing(data, hidden=(3,), population=2, schedule=Constant(1e-12), jump=0.1, jump_tau=5.0, init=init).run(1, 0)
    P = an.parameter_count()
    moved = np.linalg.norm(tr.copy_meta["final_parameters"] - init, axis=1)
    xi = [np.linalg.norm(np.random.default_rng(np.random.SeedSequence(0, spawn_key=(k, 0))).standard_normal(P)) for k in range(2)]
    np.testing.assert_allclose(moved, 0.1 * np.sqrt(tr["L"][:, 0]) * np.array(xi), rtol=1e-9)


def test_recorded_true_objective_with_the_annealing_term(data):
    sched = Decay(0.5, 40.0)
    an = Annealing(data, hidden=(3,), population=2, schedule=sched, jump=0.01, jump_tau=40.0, lr_scale=[1.0, 2.0])
    tr = an.run(30, 1)
    P = an.parameter_count()
    t = np.arange(31)
    ratio = (0.01 / (1 + t / 40.0)) / (sched.values(31) * np.array([[1.0], [2.0]]))
    np.testing.assert_allclose(tr["J"], tr["G"] + ratio**2 * P * tr["L"], rtol=1e-12)
    assert np.allclose(ratio[:, 0:1], ratio)  # equal decay times: a constant multiple of L
    assert np.all(tr["J"] > tr["G"])
    assert an.records == ("L", "G", "G1", "J")
    check_leaf(an, [Objective("L"), Objective("G"), Objective("J")])


def test_light_recording_and_errors(data):
    an = Annealing(data, hidden=(3,), record_true=False, jump=0.01)
    assert an.records == ("L",) and set(an.run(5, 0).values) == {"L"}
    for bad in (dict(jump=-0.1), dict(jump=float("inf")), dict(jump_tau=0.0), dict(jump_tau=-5.0)):
        with pytest.raises(ParameterError) as err:
            Annealing(data, **bad)
        assert "\n" not in str(err.value) and ";" in str(err.value)


def test_annealing_is_gradient_descent_with_jumps_chained_after_it(data):
    """The optimizer is chain(sgd, annealing_jumps); on the engine, zero jumps equal sgd bit for bit (same K)."""
    from agents.language_model.gradient_descent import descend
    from agents.training import annealing_jumps, chain, sgd

    an = Annealing(data, hidden=(4,), population=3, jump=0.03, jump_tau=20.0, lr_scale=[1.0, 2.0, 0.5])
    seed = np.random.SeedSequence(2)
    lrs = np.full(31, 0.5)
    assert str(an.optimizer(seed, 30, lrs)) == "chain(sgd, annealing_jumps(jump=0.03, jump_tau=20))"
    theta0 = an.initial_parameters(seed)
    plain = descend(an._network(), theta0, lrs[:30], an.lr_scale, 30)
    zero = descend(an._network(), theta0, lrs[:30], None, 30,
                   optimizer=chain(sgd(lrs, an.lr_scale), annealing_jumps(0.0, 20.0, seed.spawn(3), 30)))
    for name in ("L", "G", "G1"):
        assert np.array_equal(plain[0][name], zero[0][name])
    assert np.array_equal(plain[2], zero[2])
    jumped = an.run(30, seed)
    assert not np.array_equal(jumped.copy_meta["final_parameters"], plain[2])
