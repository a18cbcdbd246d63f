"""How claims are decided: margins against their resolution, conjunctions, replication over seeds,
the normalized alignment's invariance, and figures' intervals."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hierarchy import Estimator, alignment, capability
from hierarchy.alignment import Normalization, normalized_alignment
from hierarchy.decision import SeedCount, decide, pooled_verdict, wilson_interval
from hierarchy.errors import ParameterError
from hierarchy.figures import Spread, bootstrap_median
from hierarchy.report import Claim


def noisy_tail(level, slope_noise, T, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(T, dtype=float)
    return level + 2.0 * np.exp(-t / 50.0) + slope_noise * rng.standard_normal(T)


def test_a_margin_below_its_error_is_undecided():
    # two orbits whose levels differ by 0.001 under noise 0.05: the capabilities' errors
    # (batch means) exceed the margin, so "C_1 > C_2" is undecided
    a = noisy_tail(1.000, 0.05, 4000, 1)[None, :]
    b = noisy_tail(1.001, 0.05, 4000, 2)[None, :]
    est = Estimator()
    ea, eb = capability(a, est), capability(b, est)
    fa, fb = Spread.of(ea.value, ea.error), Spread.of(eb.value, eb.error)
    claim = Claim.compare("C_a > C_b", {"C_a": fa.median, "C_b": fb.median}, fa.median - fb.median,
                          math.hypot(fa.standard_error, fb.standard_error))
    assert claim.verdict == "undecided" and claim.holds is None
    assert abs(claim.margin) < claim.resolution


def test_clear_margins_hold_and_fail():
    est = Estimator()
    lo = capability(noisy_tail(1.0, 0.01, 4000, 3)[None, :], est)
    hi = capability(noisy_tail(1.5, 0.01, 4000, 4)[None, :], est)
    se = math.hypot(lo.error[0], hi.error[0])
    # starting 3.0 / 3.5 above the levels: both capabilities are 2.0 + noise; shift one level down
    assert Claim.compare("x", {}, (hi.value[0] + 0.5) - lo.value[0], se).verdict == "holds"
    assert Claim.compare("x", {}, lo.value[0] - (hi.value[0] + 0.5), se).verdict == "fails"


def test_decide_is_antisymmetric_and_scale_free():
    for m, s in [(1.0, 0.1), (0.15, 0.1), (-3.0, 1.0), (0.0, 0.0)]:
        v, r = decide(m, s)
        w, r2 = decide(-m, s)
        assert r == r2 == 2 * s
        assert {v, w} in ({"holds", "fails"}, {"undecided"})
        assert decide(10 * m, 10 * s)[0] == v


def test_undefined_numbers_give_undecided_undefined():
    c = Claim.compare("alpha_B < alpha_A", {"alpha_A": 1.0, "alpha_B": float("nan")}, float("nan"), 0.1)
    assert c.verdict == "undecided" and c.undefined and c.label == "undecided (undefined)"
    d = c.to_dict()
    assert d["holds"] is None and d["verdict"] == "undecided" and d["margin"] is None


def test_bad_decision_inputs_are_refused():
    with pytest.raises(ParameterError, match="standard error"):
        decide(1.0, -1.0)
    with pytest.raises(ParameterError, match="z="):
        decide(1.0, 1.0, z=0)


def test_a_conjunction_fails_if_any_part_fails_and_holds_only_if_all_hold():
    h = Claim.compare("h", {"a": 1.0}, 1.0, 0.1)
    f = Claim.compare("f", {"b": 2.0}, -1.0, 0.1)
    u = Claim.compare("u", {"c": 3.0}, 0.01, 0.1)
    assert Claim.all_of("x", [h, h]).verdict == "holds"
    assert Claim.all_of("x", [h, f, u]).verdict == "fails"
    both = Claim.all_of("x", [h, u])
    assert both.verdict == "undecided" and both.margin == 0.01  # the least decided part decides
    assert set(both.numbers) == {"a", "c"}


def test_wilson_interval_known_values():
    # Wilson 95% for 9/16, by hand: centre (p + z^2/2n) / (1 + z^2/n) = 0.5504, half-width 0.2186
    lo, hi = wilson_interval(9, 16)
    assert lo == pytest.approx(0.3318, abs=5e-4) and hi == pytest.approx(0.7690, abs=5e-4)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0


def test_replication_counts_and_pools():
    per = ([Claim.compare("c", {"m": 1.0}, 1.0, 0.1)] * 14 + [Claim.compare("c", {"m": -1.0}, -1.0, 0.1)] * 2)
    r = Claim.replicated("c", per)
    assert (r.seeds.holds, r.seeds.fails, r.seeds.undecided, r.seeds.n) == (14, 2, 0, 16)
    assert r.verdict == "holds" and r.numbers["m (median over seeds)"] == 1.0
    d = r.to_dict()["seeds"]
    assert d["n"] == 16 and d["rate_interval"][0] > 0.5
    mixed = Claim.replicated("c", [Claim.compare("c", {}, 1.0, 0.1)] * 9 + [Claim.compare("c", {}, 0.0, 0.1)] * 5
                             + [Claim.compare("c", {}, -1.0, 0.1)] * 2)
    assert mixed.verdict == "undecided" and mixed.seeds.describe() == "holds on 9 of 16 seeds, undecided on 5, fails on 2"
    assert pooled_verdict(SeedCount.of(["fails"] * 12 + ["holds"] * 4))[0] == "fails"


@settings(max_examples=60, deadline=None)
@given(k=st.floats(0.01, 100.0), c=st.floats(-50.0, 50.0), seed=st.integers(0, 2 ** 16))
def test_normalized_alignment_keeps_orderings_and_is_invariant_under_affine_maps(k, c, seed):
    # three optimizers sharing a true objective G; G -> k G + c applied to all of them
    rng = np.random.default_rng(seed)
    t = np.arange(400, dtype=float)
    runs = []
    for i in range(3):
        a, b = rng.uniform(0.5, 2.0, 2)
        L = 1.0 + a * np.exp(-t / rng.uniform(20, 80))
        G = b * np.exp(-t / rng.uniform(20, 80))
        runs.append((L[None, :], G[None, :]))
    est = Estimator("finite")
    raw = [alignment(L, G, est).value[0] for L, G in runs]
    ref = Normalization.of("0", *runs[0])
    ref_k = Normalization.of("0", runs[0][0], k * runs[0][1] + c)
    norm = [normalized_alignment(L, G, ref, est).value[0] for L, G in runs]
    norm_k = [normalized_alignment(L, k * G + c, ref_k, est).value[0] for L, G in runs]
    np.testing.assert_allclose(norm_k, norm, rtol=1e-9)
    assert np.argsort(raw).tolist() == np.argsort(norm).tolist()
    # the raw alpha itself changes by 1/k (seed 003: only defined up to that factor)
    np.testing.assert_allclose([alignment(L, k * G + c, est).value[0] for L, G in runs], np.asarray(raw) / k,
                               rtol=1e-9)


def test_normalization_needs_an_improving_reference():
    with pytest.raises(ParameterError, match="reference"):
        Normalization.of("flat", [[1.0, 1.0, 1.0]], [[2.0, 1.0, 0.5]])


def test_bootstrap_interval_of_the_median_covers_it():
    rng = np.random.default_rng(0)
    hits = 0
    for r in range(100):
        x = rng.standard_normal(31)
        se, lo, hi = bootstrap_median(x)
        hits += lo <= 0.0 <= hi
    assert hits >= 85  # a 95% interval covers the true median 0 in most of 100 samples
    s = Spread.of([1.0, 2.0, 3.0], errors=[0.1, 0.2, 0.3])
    assert s.estimator_error == 0.2 and s.standard_error >= 0.2 and s.ci_low <= 2.0 <= s.ci_high
    assert Spread.of([5.0], errors=[0.5]).standard_error == 0.5  # one copy: the estimator's error alone
