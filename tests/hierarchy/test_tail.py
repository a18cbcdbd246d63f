"""The limit estimator's error (hierarchy.tail) against independent truth: AR(1) closed forms,
power laws with a known limit, constants and orbits."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hierarchy import Estimator, capability
from hierarchy.tail import batch_means_error, limit_error, remaining_change


def ar1(phi, n, reps, seed):
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((reps, n))
    x = np.empty((reps, n))
    x[:, 0] = e[:, 0] / np.sqrt(1 - phi ** 2)
    for i in range(1, n):
        x[:, i] = phi * x[:, i - 1] + e[:, i]
    return x


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.8])
def test_batch_means_error_matches_the_ar1_standard_error(phi):
    # closed form: the long-run variance of AR(1) with unit innovations is 1 / (1 - phi)^2,
    # so the standard error of the mean of n values is 1 / ((1 - phi) sqrt(n)).
    n, reps = 4096, 300
    x = ar1(phi, n, reps, seed=1)
    truth = 1.0 / ((1 - phi) * np.sqrt(n))
    se = batch_means_error(x)
    # the median estimate is within 15% of the truth (batch means with 64 batches: the
    # estimate's own relative sd is about 1/sqrt(2 * 63) = 9%, plus a small bias at phi = 0.8)
    assert np.median(se) == pytest.approx(truth, rel=0.15)
    # and the estimate is calibrated: the sample means' own spread over replicates agrees
    assert np.std(x.mean(axis=1)) == pytest.approx(truth, rel=0.15)


def test_a_constant_tail_has_zero_error_and_is_converged():
    L = np.concatenate([np.linspace(3.0, 1.0, 50), np.ones(950)])[None, :]
    err, se, rem, lim = limit_error(L, 0.25)
    assert err.tolist() == [0.0] and se.tolist() == [0.0] and rem.tolist() == [0.0]
    est = capability(L, Estimator())
    assert est.value.tolist() == [2.0] and est.converged.tolist() == [True] and est.error.tolist() == [0.0]


@pytest.mark.parametrize("b", [0.5, 1.0, 2.0])
def test_the_extrapolated_limit_of_a_power_law_converges_to_the_truth(b):
    # L(t) = 1.4 + 0.5 (t + 1)^-b: the limit is 1.4 exactly
    gaps = []
    for T in (2000, 8000, 32000):
        t = np.arange(T, dtype=float)
        L = 1.4 + 0.5 * (t + 1.0) ** -b
        rem, lim = remaining_change(L)
        gaps.append(abs(float(lim) - 1.4))
        # the estimator's error covers the distance of the tail mean from the true limit
        err = float(limit_error(L, 0.25)[0])
        tail_mean = L[-T // 4:].mean()
        assert tail_mean - 1.4 <= err
        assert err < 4 * (tail_mean - 1.4) + 1e-12  # and is not absurdly wide
    assert gaps[-1] < gaps[0] and gaps[-1] < 1e-3


def test_an_exponential_approach_is_covered_too():
    t = np.arange(6000, dtype=float)
    L = 1.0 + np.exp(-t / 3000.0)
    err = float(limit_error(L, 0.25)[0])
    assert L[-1500:].mean() - 1.0 <= err


def test_an_orbit_has_its_batch_means_error():
    # a period-2 orbit plus AR(1) noise around 2.0: no trend, error = fluctuation only
    n = 8000
    x = 2.0 + 0.1 * ar1(0.3, n, 1, seed=4)[0] + 0.05 * (-1.0) ** np.arange(n)
    err, se, rem, lim = limit_error(x, 0.25)
    assert np.isnan(lim)
    assert float(err) <= 3 * float(se) + 1e-15
    truth = 0.1 / ((1 - 0.3) * np.sqrt(n // 4))
    assert float(se) == pytest.approx(truth, rel=0.5)


def test_a_linear_trend_is_out_of_reach():
    t = np.arange(4000, dtype=float)
    rem, lim = remaining_change(5.0 - 1e-4 * t)
    assert float(rem) == np.inf  # no slowing down: the limit is not in sight
    assert not capability((5.0 - 1e-4 * t)[None, :], Estimator()).converged[0]


def test_short_runs_have_an_undefined_error():
    err = limit_error(np.linspace(2, 1, 10)[None, :], 0.25)[0]
    assert np.isnan(err[0])


@settings(max_examples=40, deadline=None)
@given(k=st.floats(0.01, 100.0), c=st.floats(-10.0, 10.0))
def test_the_error_scales_with_the_objective(k, c):
    # under L -> k L + c the limit error scales by k (it is an error in L's units)
    t = np.arange(3000, dtype=float)
    L = 1.0 + 0.3 / np.sqrt(t + 1) + 0.01 * np.sin(t)
    e1 = float(limit_error(L, 0.25)[0])
    e2 = float(limit_error(k * L + c, 0.25)[0])
    assert e2 == pytest.approx(k * e1, rel=1e-6, abs=1e-12)


def test_a_constant_tail_an_ulp_off_its_window_means_is_not_a_trend():
    # a copy that stopped at step 1: its value is constant afterwards, and the window means
    # differ from it only by float rounding (a case seen on a planner's G): never "stalled"
    # windows (T/8, T/4], (T/4, T/2], (T/2, T] at x (1 + 2e-15), x (1 + 1e-15), x: equal steps of a
    # few ulps, of one sign, with zero batch-means noise, which read as "no slowing down"
    # (an infinite error) before
    x = 0.1
    L = np.concatenate([[0.3], np.full(40, x)])
    L[5:10] = x * (1 + 2e-15)
    L[10:20] = x * (1 + 1e-15)
    rem, lim = remaining_change(L)
    assert np.isfinite(rem) and abs(float(rem)) < 1e-15
    assert capability(L[None, :], Estimator()).converged[0]
