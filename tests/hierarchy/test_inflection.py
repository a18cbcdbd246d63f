"""Trend and inflection detection on measured curves (hierarchy.inflection)."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hierarchy.errors import ParameterError
from hierarchy.inflection import (bic, bootstrap_medians, detect_inflection, fit_line, fit_segments, inflection,
                                  median_curve, ranks, spearman, trend)

X = np.arange(9.0)  # log2 of widths 1 .. 256


def peak(x, at, rise=1.0, fall=1.0):
    return rise * np.minimum(x, at) - fall * np.maximum(x - at, 0.0)


def noisy(mean, sd, seed, seeds=5):
    rng = np.random.default_rng(seed)
    return mean[:, None] + sd * rng.standard_normal((mean.size, seeds))


# -- fits against closed forms ------------------------------------------------------------

def test_bic_formula():
    assert bic(3.0, 10, 4) == pytest.approx(10 * math.log(0.3) + 4 * math.log(10))


def test_noiseless_hinge_is_recovered_exactly():
    for at in (2.0, 4.0, 6.0):
        y = 0.5 + peak(X, at, rise=2.0, fall=0.75)
        f = fit_segments(X, y)
        assert f.break_x == at
        assert f.slope_before == pytest.approx(2.0) and f.slope_after == pytest.approx(-0.75)
        assert f.rss < 1e-20
        cp = detect_inflection(X, y)
        assert cp.inflection and cp.break_x == at


def test_nested_models_order_their_rss():
    rng = np.random.default_rng(3)
    for _ in range(20):
        y = rng.standard_normal(9)
        line, hinge, plateau = fit_line(X, y), fit_segments(X, y), fit_segments(X, y, plateau=True)
        # the hinge contains the line (c = 0) and, at every break, the plateau (c = -b)
        assert hinge.rss <= line.rss * (1 + 1e-12)
        assert hinge.rss <= plateau.rss * (1 + 1e-12)


def test_line_fit_matches_closed_form():
    rng = np.random.default_rng(0)
    y = 1.0 + 0.3 * X + rng.standard_normal(9)
    f = fit_line(X, y)
    b = np.sum((X - X.mean()) * (y - y.mean())) / np.sum((X - X.mean()) ** 2)
    assert f.slope_before == pytest.approx(b)
    assert f.coef[0] == pytest.approx(y.mean() - b * X.mean())


def test_too_few_points_and_constant_curve_support_nothing():
    assert not detect_inflection(X[:4], peak(X[:4], 2.0)).supported
    assert not detect_inflection(X, np.full(9, 2.5)).supported
    y = peak(X, 4.0)
    y[[0, 2, 3, 5, 7]] = np.nan  # 4 finite points left
    cp = detect_inflection(X, y)
    assert cp.n == 4 and not cp.inflection
    with pytest.raises(ParameterError):
        detect_inflection([0.0, 2.0, 1.0, 3.0, 4.0], np.zeros(5))


NOISE = np.array([0.05, -0.03, 0.02, -0.04, 0.01, 0.03, -0.02, 0.04, -0.01])


def test_rise_then_level_is_not_an_inflection():
    cp = detect_inflection(X, np.minimum(X, 4.0) - 0.005 * np.maximum(X - 4.0, 0.0) + NOISE)
    assert cp.supported and not cp.inflection
    assert cp.hinge.slope_before > 0 > cp.hinge.slope_after  # a slight fall, not supported over a plateau
    assert "levels off" in cp.explain()
    assert detect_inflection(X, np.minimum(X, 4.0) - 0.5 * np.maximum(X - 4.0, 0.0) + NOISE).inflection


def test_fall_then_rise_is_not_an_inflection():
    cp = detect_inflection(X, -peak(X, 4.0))
    assert cp.supported and not cp.inflection


# -- the bootstrap -------------------------------------------------------------------------

def test_bootstrap_medians_stay_within_each_width_range():
    v = noisy(peak(X, 4.0), 1.0, 0)
    v[3, 1] = np.nan
    b = bootstrap_medians(v, 300, np.random.SeedSequence(1))
    lo, hi = np.nanmin(v, axis=1), np.nanmax(v, axis=1)
    assert b.shape == (300, 9) and np.all((b >= lo) & (b <= hi))
    assert np.array_equal(bootstrap_medians(np.ones((3, 4)), 5, 0), np.ones((5, 3)))
    assert median_curve(v)[3] == np.median(v[3][np.isfinite(v[3])])


def test_same_seed_same_bootstrap():
    v = noisy(peak(X, 4.0), 1.0, 0)
    a = inflection(X, v, 100, np.random.SeedSequence(5))
    b = inflection(X, v, 100, np.random.SeedSequence(5))
    assert a.locations == b.locations and a.support == b.support


# -- detection rates on synthetic curves -----------------------------------------------------

@pytest.mark.parametrize("at,fall", [(4.0, 1.0), (5.0, 1.5), (3.0, 1.0)])
def test_finds_a_planted_change_point_in_noisy_curves(at, fall):
    for seed in range(6):
        est = inflection(X, noisy(peak(X, at, fall=fall), 1.0, seed), n_boot=100, seed=seed)
        assert est.found, (seed, est.describe())
        assert abs(est.observed.break_x - at) <= 1
        lo, _, hi = est.interval
        assert lo <= est.observed.break_x <= hi


@pytest.mark.parametrize("name,mean,sd,allowed", [
    ("linear rise", 0.3 * X, 0.5, 1),
    ("saturating rise", 3 * (1 - np.exp(-X / 2)), 0.5, 1),
    ("linear fall", -0.3 * X, 0.5, 1),
    ("pure noise", np.zeros(9), 1.0, 3),
])
def test_finds_no_inflection_in_monotone_curves_or_noise(name, mean, sd, allowed):
    found = sum(inflection(X, noisy(mean, sd, 100 + s), n_boot=100, seed=s).found for s in range(20))
    assert found <= allowed, f"{name}: {found} of 20 false inflections"


def test_no_inflection_is_said_in_words():
    est = inflection(X, noisy(0.3 * X, 0.1, 0), n_boot=50)
    assert not est.found and est.describe().startswith("no inflection found")


# -- invariance (hypothesis) -----------------------------------------------------------------

curves = st.lists(st.floats(-10, 10, allow_nan=False), min_size=9, max_size=9).map(np.array)


def _decision(cp):
    return (cp.supported, cp.inflection, cp.break_x if cp.hinge is not None else None)


def _clear_of_thresholds(cp):
    """Exact-arithmetic invariance; a decision within rounding of a threshold may flip."""
    if cp.hinge is None:
        return True
    return abs(cp.delta_bic - cp.margin) > 1e-6 and abs(cp.delta_bic_fall - cp.margin) > 1e-6


@settings(max_examples=150, deadline=None)
@given(y=curves, c=st.floats(1e-2, 1e2), d=st.floats(-100, 100))
def test_detection_is_invariant_under_positive_affine_maps_of_y(y, c, d):
    assume(np.ptp(y) > 1e-3)
    base = detect_inflection(X, y)
    assume(_clear_of_thresholds(base))
    assert _decision(detect_inflection(X, c * y)) == _decision(base)
    assert _decision(detect_inflection(X, y + d)) == _decision(base)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), c=st.floats(0.1, 10), d=st.floats(-50, 50))
def test_bootstrap_verdict_is_invariant_under_positive_affine_maps(seed, c, d):
    v = noisy(peak(X, 4.0, fall=0.5), 1.0, seed)
    a = inflection(X, v, 40, seed)
    b = inflection(X, c * v + d, 40, seed)
    assert (a.found, a.locations) == (b.found, b.locations)


# -- the trend -----------------------------------------------------------------------------

def test_spearman_matches_the_rank_difference_formula_without_ties():
    rng = np.random.default_rng(2)
    for _ in range(20):
        x, y = rng.permutation(12).astype(float), rng.standard_normal(12)
        d = ranks(x) - ranks(y)
        n = 12
        assert spearman(x, y) == pytest.approx(1 - 6 * np.sum(d ** 2) / (n * (n ** 2 - 1)))


def test_spearman_ties_and_undefined():
    assert ranks([1.0, 1.0, 2.0]).tolist() == [1.5, 1.5, 3.0]
    assert math.isnan(spearman([1, 2, 3], [1.0, 1.0, 1.0]))
    assert math.isnan(spearman([1, 2], [1.0, 2.0]))


def test_trend_of_monotone_curves():
    up = trend(X, noisy(X, 0.2, 0), 200, 0)
    down = trend(X, noisy(-X, 0.2, 0), 200, 0)
    flat = trend(X, noisy(np.zeros(9), 1.0, 0), 200, 0)
    assert up.rises() and not up.falls() and up.positive == 1.0
    assert down.falls() and not down.rises()
    assert not flat.rises() and not flat.falls()
