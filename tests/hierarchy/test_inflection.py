"""Trend and inflection detection on measured curves (hierarchy.inflection)."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hierarchy.errors import ParameterError
from hierarchy.inflection import (MIN_FALL, SHAPES, bic, bootstrap_medians, detect_inflection, fit_line, fit_segments,
                                  inflection, median_curve, ranks, spearman, synthetic_values, trend)

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
    return (abs(cp.delta_bic - cp.margin) > 1e-6 and abs(cp.delta_bic_fall - cp.margin) > 1e-6
            and abs(cp.fall_fraction - cp.min_fall) > 1e-6)


@settings(max_examples=150, deadline=None)
@given(y=curves, c=st.floats(1e-2, 1e2), d=st.floats(-100, 100))
def test_detection_is_invariant_under_positive_affine_maps_of_y(y, c, d):
    assume(np.ptp(y) > 1e-3)
    base = detect_inflection(X, y)
    assume(_clear_of_thresholds(base))
    assert _decision(detect_inflection(X, c * y)) == _decision(base)
    assert _decision(detect_inflection(X, y + d)) == _decision(base)
    if base.hinge is not None:  # the effect size is a ratio of differences of fitted values
        assert detect_inflection(X, c * y + d).fall_fraction == pytest.approx(base.fall_fraction, abs=1e-6)


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


# -- the effect-size floor --------------------------------------------------------------------

@pytest.mark.parametrize("give_back", [0.02, 0.05, 0.09, 0.11, 0.3, 0.8])
def test_fall_fraction_of_a_noiseless_peak_is_its_closed_form(give_back):
    # rise by 1 up to x = 5, then fall by give_back by x = 8: the hinge fits exactly, its range
    # is the rise (1), so the fall fraction is give_back; the floor (10%) alone decides
    y = np.minimum(X, 5.0) / 5.0 - give_back * np.maximum(X - 5.0, 0.0) / 3.0
    cp = detect_inflection(X, y)
    assert cp.break_x == 5.0
    assert cp.fall_fraction == pytest.approx(give_back, rel=1e-9)
    assert cp.rise_fraction == pytest.approx(1.0, rel=1e-9)
    assert cp.inflection == (give_back > MIN_FALL)
    assert detect_inflection(X, y, min_fall=0.0).inflection  # without the floor every detectable fall counts
    if not cp.inflection:
        assert "effect-size floor" in cp.explain()


def test_fall_larger_than_rise_has_fall_fraction_one():
    y = np.minimum(X, 2.0) - 3.0 * np.maximum(X - 2.0, 0.0)  # rise 2, fall 18: the range is the fall
    cp = detect_inflection(X, y)
    assert cp.fall_fraction == pytest.approx(1.0) and cp.rise_fraction == pytest.approx(2.0 / 18.0)
    assert cp.inflection


def test_a_two_percent_dip_under_one_percent_noise_is_not_an_inflection():
    # the case (17 of 20 called before the floor): the fitted fall of a 2% dip is 0.02
    # +- about 0.01, eight of its standard deviations below the 10% floor
    found = 0
    for case in np.random.SeedSequence(2024).spawn(20):
        data, boot = case.spawn(2)
        found += inflection(X, synthetic_values("small dip", 0.01, data), n_boot=50, seed=boot).found
    assert found <= 1, f"{found} of 20 dips called an inflection"


def test_floor_is_checked():
    with pytest.raises(ParameterError, match="min_fall"):
        detect_inflection(X, X, min_fall=1.5)
    with pytest.raises(ParameterError, match="min_fall"):
        inflection(X, np.tile(X, (3, 1)).T, n_boot=5, min_fall=-0.1)


# -- the seeds' own curves ----------------------------------------------------------------------

def _wilson(k, n, z=1.959963984540054):  # the closed form, written out here
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_a_collapse_in_two_of_five_seeds_is_seen_in_the_seeds_not_the_median():
    x = X
    collapse = np.minimum(x, 5.0) / 5.0 - np.maximum(x - 5.0, 0.0) / 3.0  # back to 0 by x = 8
    saturate = 1 - np.exp(-x / 1.5)
    v = np.column_stack([collapse, collapse, saturate, saturate, saturate])
    v = v + 0.005 * np.random.default_rng(7).standard_normal(v.shape)
    est = inflection(x, v, n_boot=100, seed=1)
    assert not est.found  # the median seed saturates
    assert (est.seed_hits, est.seed_n) == (2, 5)
    assert [cp.inflection for cp in est.per_seed] == [True, True, False, False, False]
    lo, hi = _wilson(2, 5)
    assert est.seed_interval == pytest.approx((lo, hi), abs=1e-12)
    assert "2 of 5" in est.describe()


def test_seeds_without_enough_points_are_not_counted():
    v = np.tile(peak(X, 4.0), (3, 1)).T.copy()
    v[:5, 2] = np.nan  # seed 2 keeps 4 finite points: not testable
    est = inflection(X, v, n_boot=20)
    assert (est.seed_hits, est.seed_n) == (2, 2)


# -- the bootstrap with estimator errors ----------------------------------------------------

def test_bootstrap_moves_each_value_by_its_error():
    # one seed per point: every bootstrap median is that seed's value plus one normal draw of its error
    v = np.array([[1.0], [5.0]])
    e = np.array([[0.1], [0.0]])
    b = bootstrap_medians(v, 4000, np.random.SeedSequence(3), errors=e)
    assert np.all(b[:, 1] == 5.0)
    assert b[:, 0].std(ddof=1) == pytest.approx(0.1, rel=0.05)  # sampling error of an sd over 4000: ~1.1%
    assert abs(b[:, 0].mean() - 1.0) < 4 * 0.1 / math.sqrt(4000)


def test_values_with_infinite_error_are_left_out_and_untestable_samples_do_not_count():
    v = np.tile(peak(X, 4.0, fall=2.0), (4, 1)).T.copy()
    e = np.zeros(v.shape)
    e[:5, :] = np.inf  # five of nine points unknown in every seed: no bootstrap curve is testable
    b = bootstrap_medians(v, 10, 0, errors=e)
    assert np.all(np.isnan(b[:, :5])) and np.all(np.isfinite(b[:, 5:]))
    est = inflection(X, v, n_boot=10, errors=e)
    assert est.tested == 0 and math.isnan(est.support) and not est.found
    assert est.observed.inflection  # the median curve itself (the values as measured) still shows it
    with pytest.raises(ParameterError, match="errors"):
        bootstrap_medians(v, 10, 0, errors=np.ones((2, 2)))


def test_bootstrap_errors_of_the_statistics():
    # a clear peak: the fall fraction is known well; the bootstrap error is small and positive
    est = inflection(X, noisy(peak(X, 5.0, fall=1.0), 0.05, 11), n_boot=200, seed=2)
    assert 0 < est.error("fall_fraction") < 0.05
    assert len(est.bootstrap["fall_fraction"]) == 200
    with pytest.raises(ParameterError):
        est.error("slope")


# -- detection rates on the synthetic shapes (benchmarks/inflection_rates.py prints the full table) --

CASES = 10


def _found(shape, noise, seed):
    hits, shares = 0, []
    for case in np.random.SeedSequence(seed).spawn(CASES):
        data, boot = case.spawn(2)
        est = inflection(X, synthetic_values(shape, noise, data), n_boot=50, seed=boot)
        hits += est.found
        shares.append(est.seed_share)
    return hits, float(np.mean(shares))


@pytest.mark.parametrize("shape", ["rising", "saturating", "small dip"])
def test_no_false_inflection_at_low_noise(shape):
    # noise sd 0.02 of a range-1 curve: the median of 5 seeds has sd ~0.011, so a false fall of
    # 10% of the range (the floor) is more than 5 standard deviations away: expected 0 of 10
    hits, _ = _found(shape, 0.02, 100)
    assert hits <= 1, f"{shape}: {hits} of {CASES} false inflections"


@pytest.mark.parametrize("noise", [0.02, 0.1])
def test_a_clear_inflection_is_found(noise):
    # gives back half its range: at noise 0.1 the fall (0.5) is ~9 sd of the median of 5 seeds and
    # BIC(plateau) - BIC(hinge) ~ 20 >> 2: expected 10 of 10; allow the break to be missed once or twice
    hits, share = _found("inflection", noise, 200)
    assert hits >= CASES - 2, f"noise {noise}: found in {hits} of {CASES}"
    assert share > 0.5  # a single seed's curve has sqrt(5) / 1.25 ~ 1.8 times the median's noise


def test_a_partial_collapse_gives_the_share_of_collapsing_seeds():
    # 2 of 5 seeds collapse (fall = the whole range), 3 saturate: each seed's own test is as sure as
    # at low noise, so the share is 2/5 in (nearly) every case; the median curve saturates
    hits, share = _found("collapse in 2 of 5 seeds", 0.02, 300)
    assert hits <= 1
    assert share == pytest.approx(0.4, abs=0.05)


def test_every_shape_is_generated():
    for shape in SHAPES:
        v = synthetic_values(shape, 0.0, 0)
        assert v.shape == (9, 5) and np.all(np.isfinite(v))
        assert np.ptp(v) == pytest.approx(1.0) or shape == "constant"
    with pytest.raises(ParameterError):
        synthetic_values("zigzag", 0.1, 0)
