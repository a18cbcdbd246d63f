"""The true objectives of momentum, Nesterov and Adam (agents/training/true_objectives.py).

Checked on quadratics L = 1/2 sum_i a_i theta_i^2 against recursions written out here in
numpy, and by the defining property: each recorded true objective is zero exactly when the
optimizer's step leaves its whole state where it is.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from agents.training import adam, adamw, add_decayed_weights, chain, momentum, sgd, train
from agents.training.transform import StepInfo, as_updates, materialize

A = np.array([1.0, 3.0, 0.5])


def quadratic(p, t):
    a = torch.from_numpy(A).to(p.dtype)
    return 0.5 * (a * p * p).sum(1), a * p


def run(opt, steps, theta0=None, **kw):
    theta0 = np.array([[1.0, -2.0, 0.5], [0.3, 0.1, -1.0]]) if theta0 is None else theta0
    return train(quadratic, theta0, opt, steps, record_update=True, **kw)


def heavy_ball_reference(theta0, lr, beta, steps, nesterov=False):
    """(G_momentum [T], U [T]) by the recursion v' = beta v + g, theta' = theta - lr v' (or g + beta v')."""
    theta, v = theta0.astype(float).copy(), np.zeros_like(theta0, dtype=float)
    true, upd = [], []
    for _ in range(steps + 1):
        g = A * theta
        v = beta * v + g
        step = lr * (g + beta * v) if nesterov else lr * v
        true.append(np.sum(g * g) + (1 - beta) ** 2 * np.sum(v * v))
        upd.append(np.sum(step * step))
        theta = theta - step
    return np.array(true), np.array(upd)


def adam_reference(theta0, lr, b1, b2, eps, steps, wd=0.0):
    theta, m, v = theta0.astype(float).copy(), np.zeros(theta0.shape), np.zeros(theta0.shape)
    true, upd = [], []
    for n in range(1, steps + 2):
        g = A * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        d = (m / (1 - b1 ** n)) / (np.sqrt(v / (1 - b2 ** n)) + eps) + wd * theta
        true.append(np.sum(d * d))
        upd.append(np.sum((lr * d) ** 2))
        theta = theta - lr * d
    return np.array(true), np.array(upd)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_records_its_true_objective_as_the_recursion_gives_it(nesterov):
    r = run(momentum(0.05, 0.8, nesterov=nesterov), 60)
    name = "G_nesterov" if nesterov else "G_momentum"
    for k, theta0 in enumerate(np.array([[1.0, -2.0, 0.5], [0.3, 0.1, -1.0]])):
        true, upd = heavy_ball_reference(theta0, 0.05, 0.8, 60, nesterov)
        np.testing.assert_allclose(r.values[name][k], true, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(r.values["U"][k], upd, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adam_records_its_true_objective_as_the_recursion_gives_it(wd):
    opt = adam(0.02, 0.9, 0.99, 1e-8) if wd == 0 else adamw(0.02, wd, 0.9, 0.99, 1e-8)
    r = run(opt, 80)
    name = "G_adam" if wd == 0 else "G_adamw"
    for k, theta0 in enumerate(np.array([[1.0, -2.0, 0.5], [0.3, 0.1, -1.0]])):
        true, upd = adam_reference(theta0, 0.02, 0.9, 0.99, 1e-8, 80, wd)
        np.testing.assert_allclose(r.values[name][k], true, rtol=1e-10)
        np.testing.assert_allclose(r.values["U"][k], upd, rtol=1e-10)


@pytest.mark.parametrize("make", [lambda: momentum(0.1, 0.9), lambda: momentum(0.1, 0.9, nesterov=True),
                                  lambda: adam(0.05), lambda: adamw(0.05, 0.01), lambda: sgd(0.1)])
def test_at_the_fixed_point_every_true_objective_is_exactly_zero_and_nothing_moves(make):
    opt = make()
    r = run(opt, 20, theta0=np.zeros((1, 3)))
    assert np.all(r.params == 0)
    names = ["G", "U"] + ([opt.true_objective.name] if opt.true_objective is not None else [])
    for n in names:
        assert np.all(r.values[n] == 0), n


@pytest.mark.parametrize("make", [lambda: momentum(0.1, 0.9), lambda: momentum(0.1, 0.9, nesterov=True),
                                  lambda: adam(0.05, 0.9, 0.999)])
def test_each_true_objective_goes_to_zero_as_the_optimizer_settles(make):
    opt = make()
    r = run(opt, 1000)
    v = r.values[opt.true_objective.name]
    assert np.all(v[:, -1] < 1e-12 * v[:, 0])
    assert np.all(r.values["U"][:, -1] < 1e-12 * r.values["U"][:, 0])


def test_adams_true_objective_moves_with_its_step_and_not_with_the_gradient():
    """U = lr^2 G_adam at a constant rate, whether Adam settles or not (b2 = 0.99 keeps it hovering on
    this quadratic: its direction stays of order 0.1 while the gradient is small)."""
    for b2 in (0.99, 0.999):
        r = run(adam(0.05, 0.9, b2), 2000)
        np.testing.assert_allclose(r.values["U"], 0.05 ** 2 * r.values["G_adam"], rtol=1e-12)
    hovering = run(adam(0.05, 0.9, 0.99), 2000).values
    assert np.all(hovering["G_adam"][:, -1] > 1e-4) and np.all(hovering["G"][:, -1] < 1e-3 * hovering["G"][:, 0])


def test_recorded_update_size_is_the_parameters_actual_change():
    """U(t) against the difference of the final parameters of runs of t and t + 1 steps."""
    for opt_fn in (lambda: momentum(0.05, 0.8), lambda: adam(0.03)):
        long = run(opt_fn(), 12)
        for t in (3, 7, 11):
            a, b = run(opt_fn(), t).params, run(opt_fn(), t + 1).params
            np.testing.assert_allclose(long.values["U"][:, t], ((b - a) ** 2).sum(1), rtol=1e-9)


entries = st.sampled_from([0.0, 0.0, 1.0, -0.5, 2.0])


@settings(max_examples=60, deadline=None)
@given(g=st.lists(entries, min_size=3, max_size=3), v=st.lists(entries, min_size=3, max_size=3),
       nesterov=st.booleans())
def test_momentum_objective_is_zero_exactly_when_one_step_leaves_theta_and_v_put(g, v, nesterov):
    """Definition of a fixed point of the state (theta, v): theta_{t+1} = theta_t and v_{t+1} = v_t."""
    opt = momentum(0.1, 0.5, nesterov=nesterov)
    p = torch.zeros(1, 3, dtype=torch.float64)
    state = opt.init(p)
    state[0]["v"].copy_(torch.tensor([v], dtype=torch.float64))
    v_before = state[0]["v"].clone()
    grad = torch.tensor([g], dtype=torch.float64)
    updates, state = opt.update(as_updates(grad), state, p, StepInfo(0, torch.zeros(1)))
    value = float(opt.true_objective.value(state, grad, p)[0])
    moved = bool(materialize(updates).abs().sum() > 0) or not torch.equal(state[0]["v"], v_before)
    assert (value == 0.0) == (not moved)


def test_gradient_size_is_not_momentums_true_objective():
    """At the minimum with a velocity left, G = 0 while heavy-ball keeps moving; G_momentum says so."""
    opt = momentum(0.1, 0.9)
    p = torch.zeros(1, 3, dtype=torch.float64)
    state = opt.init(p)
    state[0]["v"].fill_(1.0)
    grad = torch.zeros(1, 3, dtype=torch.float64)
    updates, state = opt.update(as_updates(grad), state, p, StepInfo(0, torch.zeros(1)))
    assert float(materialize(updates).abs().sum()) > 0
    assert float(opt.true_objective.value(state, grad, p)[0]) > 0


def test_sgd_and_a_chain_without_a_stateful_part_record_no_extra_true_objective():
    r = run(chain(sgd(0.1)), 5)
    assert sorted(r.values) == ["G", "G1", "L", "U"]
    r = train(quadratic, np.ones((1, 3)), adam(0.1), 5)
    assert "G_adam" in r.values and "U" not in r.values
    r = train(quadratic, np.ones((1, 3)), adam(0.1), 5, record_true=False)
    assert sorted(r.values) == ["L"]


def test_per_copy_weight_decay_equals_separate_runs_with_each_decay():
    decays = [0.0, 0.05, 0.3]
    theta0 = np.tile([[1.0, -2.0, 0.5]], (3, 1))
    together = run(chain(add_decayed_weights(decays), sgd(0.1)), 30, theta0=theta0)
    joint_w = run(adamw(0.02, decays), 30, theta0=theta0)
    for k, w in enumerate(decays):
        alone = run(chain(add_decayed_weights(w), sgd(0.1)), 30, theta0=theta0[k:k + 1])
        np.testing.assert_allclose(together.values["L"][k], alone.values["L"][0], rtol=1e-13)
        aw = run(adamw(0.02, w), 30, theta0=theta0[k:k + 1])
        np.testing.assert_allclose(joint_w.values["G_adamw"][k], aw.values["G_adamw"][0], rtol=1e-12)


def test_diverged_copies_have_nan_true_objectives_from_their_divergence_on():
    r = run(momentum(10.0, 0.9), 40)
    assert np.all(r.diverged_at >= 0)
    for k, d in enumerate(r.diverged_at):
        assert np.all(np.isnan(r.values["G_momentum"][k, d:]))
        assert np.all(np.isfinite(r.values["G_momentum"][k, :d]))
