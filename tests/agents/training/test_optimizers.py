"""Each optimizer against a hand-unrolled numpy computation on a quadratic (independent truth).

L_k(theta) = 1/2 sum_i a_i (theta_i - c_i)^2 per copy, gradient a * (theta - c); the
numpy loops below re-derive each update rule from its formula, never calling agents.training.
"""

import numpy as np
import pytest
import torch

from agents.training import (StepInfo, adam, adamw, annealing_jumps, apply_updates, as_updates, chain, clip,
                             clip_by_global_norm, identity, momentum, scale, scale_per_copy, sgd, train)
from hierarchy.errors import LeafError, ParameterError

K, P, STEPS = 3, 4, 25
A = np.array([1.0, 0.5, 2.0, 0.1])
C = np.array([0.3, -1.0, 2.0, 0.0])
THETA0 = np.random.default_rng(0).normal(size=(K, P))
LRS = 0.2 / (1.0 + np.arange(STEPS) / 10.0)
SCALE = np.array([1.0, 0.5, 1.5])


def quadratic(p, t):
    d = p - torch.from_numpy(C)
    return 0.5 * (torch.from_numpy(A) * d * d).sum(1), torch.from_numpy(A) * d


def np_grad(theta):
    return A * (theta - C)


def run(opt, steps=STEPS, **kw):
    return train(quadratic, THETA0, opt, steps, **kw)


def unroll(rule, steps=STEPS):
    """Parameters after each step of a hand-written numpy update rule(theta, g, t, mem) -> theta."""
    theta, mem, out = THETA0.copy(), {}, [THETA0.copy()]
    for t in range(steps):
        theta = rule(theta, np_grad(theta), t, mem)
        out.append(theta.copy())
    return out


def losses(thetas):
    return np.stack([0.5 * (A * (th - C) ** 2).sum(1) for th in thetas], axis=1)


def test_sgd_with_schedule_and_per_copy_scale_matches_numpy():
    r = run(sgd(LRS, SCALE))
    ref = unroll(lambda th, g, t, m: th - LRS[t] * SCALE[:, None] * g)
    np.testing.assert_allclose(r.params, ref[-1], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(r.values["L"], losses(ref), rtol=1e-12, atol=1e-15)


def test_loop_records_G_and_G1_of_the_gradient():
    r = run(sgd(0.1))
    ref = unroll(lambda th, g, t, m: th - 0.1 * g)
    g = [np_grad(th) for th in ref]
    np.testing.assert_allclose(r.values["G"], np.stack([(x ** 2).sum(1) for x in g], 1), rtol=1e-12)
    np.testing.assert_allclose(r.values["G1"], np.stack([np.abs(x).sum(1) for x in g], 1), rtol=1e-12)
    assert r.values["L"].shape == (K, STEPS + 1) and list(r.diverged_at) == [-1] * K


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_matches_numpy(nesterov):
    beta = 0.8

    def rule(th, g, t, m):
        v = beta * m.get("v", np.zeros_like(th)) + g
        m["v"] = v
        return th - 0.05 * ((g + beta * v) if nesterov else v)

    r = run(momentum(0.05, beta, nesterov=nesterov))
    np.testing.assert_allclose(r.params, unroll(rule)[-1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_adam_and_adamw_match_numpy(weight_decay):
    b1, b2, eps, lr = 0.9, 0.99, 1e-8, 0.03

    def rule(th, g, t, m):
        m["m"] = b1 * m.get("m", 0.0) + (1 - b1) * g
        m["v"] = b2 * m.get("v", 0.0) + (1 - b2) * g * g
        n = t + 1
        u = (m["m"] / (1 - b1 ** n)) / (np.sqrt(m["v"] / (1 - b2 ** n)) + eps)
        return th - lr * SCALE[:, None] * (u + weight_decay * th)

    opt = adamw(lr, weight_decay, b1, b2, eps, scale_k=SCALE) if weight_decay else adam(lr, b1, b2, eps, scale_k=SCALE)
    r = run(opt)
    np.testing.assert_allclose(r.params, unroll(rule)[-1], rtol=1e-12, atol=1e-14)


def torch_adam_unrolled(rate_in_numerator, b1, b2, eps, scale, steps, active_until=None):
    """Adam written out in torch in the two documented orders (the reference, not agents.training):
    default theta - (lr * s_k) * ((m / bc1) / (sqrt(v / bc2) + eps)); rate_in_numerator
    theta - (((m / bc1) * lr) * s_k) / (sqrt(v / bc2) + eps). ``active_until[k]``: copy k takes
    updates t < active_until[k] only (its moments and step count stay put after)."""
    theta = torch.from_numpy(THETA0.copy())
    m, v = torch.zeros_like(theta), torch.zeros_like(theta)
    n = torch.zeros(K, 1, dtype=torch.float64)
    s = torch.from_numpy(np.asarray(scale, dtype=np.float64)).unsqueeze(1)
    until = np.full(K, steps) if active_until is None else np.asarray(active_until)
    for t in range(steps):
        on = torch.from_numpy(t < until).unsqueeze(1)
        g = torch.from_numpy(A) * (theta - torch.from_numpy(C))
        m = torch.where(on, b1 * m + (1 - b1) * g, m)
        v = torch.where(on, b2 * v + (1 - b2) * g * g, v)
        n = n + on.to(n.dtype)
        m_hat, den = m / (1 - torch.pow(b1, n)), torch.sqrt(v / (1 - torch.pow(b2, n))) + eps
        if rate_in_numerator:
            new = theta - (m_hat * LRS[t]) * s / den
        else:
            new = theta + (m_hat / den) * (-LRS[t] * s)
        theta = torch.where(on, new, theta)
    return theta.numpy()


def test_adam_in_both_orders_matches_torch_unrolled_bit_for_bit_and_numpy():
    b1, b2, eps = 0.9, 0.99, 1e-8
    default = run(adam(LRS, b1, b2, eps, scale_k=SCALE))
    numerator = run(adam(LRS, b1, b2, eps, scale_k=SCALE, rate_in_numerator=True))
    # the default order goes through sgd's fused addcmul, whose rounding is torch's own: equal to rounding
    np.testing.assert_allclose(default.params, torch_adam_unrolled(False, b1, b2, eps, SCALE, STEPS), rtol=1e-14, atol=1e-16)
    np.testing.assert_array_equal(numerator.params, torch_adam_unrolled(True, b1, b2, eps, SCALE, STEPS))
    assert not np.array_equal(default.params, numerator.params)  # the orders differ in the last bits ...

    def rule(th, g, t, m):
        m["m"] = b1 * m.get("m", 0.0) + (1 - b1) * g
        m["v"] = b2 * m.get("v", 0.0) + (1 - b2) * g * g
        n = t + 1
        return th - LRS[t] * SCALE[:, None] * (m["m"] / (1 - b1 ** n)) / (np.sqrt(m["v"] / (1 - b2 ** n)) + eps)

    np.testing.assert_allclose(numerator.params, unroll(rule)[-1], rtol=1e-12, atol=1e-14)  # ... not in the formula
    np.testing.assert_allclose(numerator.params, default.params, rtol=1e-13, atol=1e-15)


def test_adam_rate_in_numerator_under_a_stop_rule_keeps_frozen_copies_and_counts():
    b1, b2, eps = 0.9, 0.999, 1e-8
    stop = lambda t, L, rec: np.array([t >= 3, False, t >= 10])
    r = run(adam(LRS, b1, b2, eps, scale_k=SCALE, rate_in_numerator=True), stop=stop)
    assert r.stopped_at.tolist() == [3, -1, 10]
    np.testing.assert_array_equal(r.params, torch_adam_unrolled(True, b1, b2, eps, SCALE, STEPS, [3, STEPS, 10]))
    plain = run(adam(0.05, rate_in_numerator=True), steps=4)
    np.testing.assert_allclose(plain.params, run(adam(0.05), steps=4).params, rtol=1e-13, atol=1e-15)
    with pytest.raises(ParameterError, match="scale_k"):
        run(adam(0.1, scale_k=[1.0, 2.0], rate_in_numerator=True))


def test_clip_by_global_norm_is_per_copy_and_clip_is_per_entry():
    bound = 0.3

    def rule(th, g, t, m):
        norm = np.linalg.norm(g, axis=1, keepdims=True)
        return th - 0.5 * g * np.minimum(1.0, bound / norm)

    r = run(chain(clip_by_global_norm(bound), sgd(0.5)))
    np.testing.assert_allclose(r.params, unroll(rule)[-1], rtol=1e-12, atol=1e-14)
    r = run(chain(clip(0.1), sgd(0.5)))
    np.testing.assert_allclose(r.params, unroll(lambda th, g, t, m: th - 0.5 * np.clip(g, -0.1, 0.1))[-1], rtol=1e-12, atol=1e-14)


def test_chain_equals_the_manual_composition():
    parts = (clip_by_global_norm(0.4), scale_per_copy(SCALE), scale(2.0), sgd(LRS))
    p = torch.from_numpy(THETA0.copy())
    opt = chain(*parts)
    state, states = opt.init(p), [t.init(p) for t in parts]
    q = p.clone()
    for t in range(5):
        _, g = quadratic(p, t)
        u, state = opt.update(as_updates(g), state, p, StepInfo(t, None))
        apply_updates(p, u)
        _, g2 = quadratic(q, t)
        v = as_updates(g2)
        for i, part in enumerate(parts):
            v, states[i] = part.update(v, states[i], q, StepInfo(t, None))
        apply_updates(q, v)
    assert torch.equal(p, q)
    np.testing.assert_array_equal(run(chain(identity(), sgd(0.1)), 5).params, run(sgd(0.1), 5).params)


def test_named_chain_refuses_duplicate_names():
    with pytest.raises(ParameterError, match="two parts named 'a'"):
        chain(("a", sgd(0.1)), ("a", scale(2.0)))
    with pytest.raises(ParameterError, match="mixes named"):
        chain(("a", sgd(0.1)), scale(2.0))
    assert set(chain(("clip", clip(1.0)), ("sgd", sgd(0.1))).init(torch.zeros(2, 2))) == {"clip", "sgd"}


@pytest.mark.parametrize("make", [lambda: sgd(0.1), lambda: momentum(0.1, 0.9), lambda: adam(0.05)])
def test_active_mask_freezes_only_the_masked_copies(make):
    active = np.array([True, False, True])
    masked = run(make(), active=active)
    free = run(make())
    np.testing.assert_array_equal(masked.params[1], THETA0[1])
    np.testing.assert_array_equal(masked.params[[0, 2]], free.params[[0, 2]])
    assert not np.array_equal(free.params[1], THETA0[1])


def test_a_diverging_copy_stops_and_the_others_are_untouched():
    def step(p, t):
        loss, g = quadratic(p, t)
        if t >= 3:
            loss = loss.clone()
            loss[1] = float("inf")
        return loss, g

    r = train(step, THETA0, momentum(0.05, 0.5), STEPS)
    free = run(momentum(0.05, 0.5))
    assert r.diverged_at.tolist() == [-1, 3, -1]
    assert np.isnan(r.values["L"][1, 3:]).all() and np.isfinite(r.values["L"][1, :3]).all()
    np.testing.assert_array_equal(r.params[[0, 2]], free.params[[0, 2]])
    early = run(momentum(0.05, 0.5), steps=3)
    np.testing.assert_array_equal(r.params[1], early.params[1])  # copy 1 stopped where it was at step 3


def test_stop_rule_halts_copies_and_keeps_their_values():
    r = run(sgd(0.2), stop=lambda t, L, rec: (L < 0.5).numpy())
    halted = r.stopped_at >= 0
    assert halted.any()
    for k in np.flatnonzero(halted):
        t = r.stopped_at[k]
        assert np.all(r.values["L"][k, t:] == r.values["L"][k, t]) and r.values["L"][k, t] < 0.5
    assert r.diverged_at.tolist() == [-1] * K


def test_annealing_jumps_with_zero_jump_equal_plain_sgd_bit_for_bit():
    seeds = np.random.SeedSequence(3).spawn(K)
    a = run(chain(sgd(LRS, SCALE), annealing_jumps(0.0, 100.0, seeds, STEPS)))
    b = run(sgd(LRS, SCALE))
    for name in ("L", "G", "G1"):
        np.testing.assert_array_equal(a.values[name], b.values[name])
    np.testing.assert_array_equal(a.params, b.params)


def test_annealing_jumps_match_numpy():
    seeds = np.random.SeedSequence(3).spawn(K)
    jump, tau = 0.05, 5.0
    r = run(chain(sgd(0.1), annealing_jumps(jump, tau, seeds, STEPS, noise_chunk=2 * K * P)))  # chunk of 2 steps
    rngs = [np.random.default_rng(s.spawn(1)[0]) for s in np.random.SeedSequence(3).spawn(K)]
    noise = np.stack([g.standard_normal((STEPS, P)) for g in rngs], axis=1)

    def rule(th, g, t, m):
        L = 0.5 * (A * (th - C) ** 2).sum(1)
        return th - 0.1 * g + jump / (1 + t / tau) * np.sqrt(L)[:, None] * noise[t]

    np.testing.assert_allclose(r.params, unroll(rule)[-1], rtol=1e-12, atol=1e-14)


def test_step_function_records_and_errors():
    def step(p, t):
        loss, g = quadratic(p, t)
        return loss, g, {"norm": p.norm(dim=1)}

    r = run(sgd(0.1), steps=3, record_true=False)
    assert sorted(r.values) == ["L"]
    r = train(step, THETA0, sgd(0.1), 3)
    assert r.values["norm"].shape == (K, 4)
    np.testing.assert_allclose(r.values["norm"][:, 0], np.linalg.norm(THETA0, axis=1))
    with pytest.raises(LeafError, match="gradient has shape"):
        train(lambda p, t: (p.sum(1), p[:, :1]), THETA0, sgd(0.1), 2)
    with pytest.raises(LeafError, match="a name the loop keeps"):
        train(lambda p, t: (*quadratic(p, t), {"G": p.sum(1)}), THETA0, sgd(0.1), 2)
    with pytest.raises(ParameterError, match="steps=0"):
        run(sgd(0.1), steps=0)
    with pytest.raises(ParameterError, match="GradientTransformation"):
        train(quadratic, THETA0, "sgd", 2)
    with pytest.raises(ParameterError, match="learning_rate"):
        sgd(-1.0)
    with pytest.raises(ParameterError, match="scale_k"):
        run(sgd(0.1, [1.0, 2.0]))


@pytest.mark.parametrize("make", [lambda: sgd(LRS, SCALE), lambda: momentum(0.05, 0.5, nesterov=True), lambda: adamw(0.02, 0.1)])
def test_a_donated_gradient_and_a_loss_buffer_give_the_same_numbers(make):
    def step(p, t):  # a fresh gradient each call, reused buffer for the loss, a stop rule halting copy 0
        loss, g = quadratic(p, t)
        if t >= 4:
            loss[1] = float("nan")
        return loss, g

    stop = lambda t, L, rec: np.array([t == 6, False, False])
    a = train(step, THETA0, make(), STEPS, stop=stop)
    b = train(step, THETA0, make(), STEPS, stop=stop, donate_grad=True)
    c = train(lambda p, t, out: (out.copy_(step(p, t)[0]), step(p, t)[1]), THETA0, make(), STEPS, stop=stop, loss_buffer=True)
    np.testing.assert_array_equal(a.values["L"], c.values["L"])
    for name in ("L", "G", "G1"):
        np.testing.assert_array_equal(a.values[name], b.values[name])
    np.testing.assert_array_equal(a.params, b.params)
    assert a.stopped_at.tolist() == [6, -1, -1] and a.diverged_at.tolist() == [-1, 4, -1]
    assert np.isfinite(a.values["G1"][0]).all() and np.all(a.values["G1"][0, 6:] == a.values["G1"][0, 6])
