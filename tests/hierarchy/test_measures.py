"""Capability, alignment and the delegation product against closed forms and properties."""


import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hierarchy import Estimator, alignment, capability, delegation_product, normalized_alignment
from hierarchy.alignment import Normalization, progress_scale
from hierarchy.capability import capability_limit, tail_length

from .leaves import QuadraticGD


def closed_form_sums(A, x0, lr, T):
    """Exact (1/T) sum_{t<T} L(t) and G(t), and their tail means, for GD on 0.5 x^T A x.

    In A's eigenbasis x_t = (1 - lr*lambda)^t y0, so every sum is geometric.
    """
    lam, Q = np.linalg.eigh(A)
    y = Q.T @ x0
    r2 = (1 - lr * lam) ** 2

    def geo(a, b):  # sum_{t=a}^{b-1} r2^t, per eigenvalue
        return np.where(np.isclose(r2, 1.0), b - a, (r2 ** a - r2 ** b) / (1 - r2))

    def mean_L(a, b):
        return float(np.sum(0.5 * lam * y ** 2 * geo(a, b)) / (b - a))

    def mean_G(a, b):
        return float(np.sum(lam ** 2 * y ** 2 * geo(a, b)) / (b - a))

    L0, G0 = float(0.5 * np.sum(lam * y ** 2)), float(np.sum(lam ** 2 * y ** 2))
    return L0, G0, mean_L, mean_G


@pytest.mark.parametrize("lr", [0.05, 0.3])
def test_quadratic_closed_form(lr):
    A = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 0.5]])
    x0 = np.array([1.0, -2.0, 0.5])
    steps = 200
    T = steps + 1
    tr = QuadraticGD(A, lr, x0=x0).run(steps, 0)
    L0, G0, mean_L, mean_G = closed_form_sums(A, x0, lr, T)
    # finite estimator: (1/T) sum_t [L(0) - L(t)]
    cL = capability(tr["L"], Estimator("finite")).value[0]
    cG = capability(tr["G"], Estimator("finite")).value[0]
    assert cL == pytest.approx(L0 - mean_L(0, T), abs=1e-10)
    assert cG == pytest.approx(G0 - mean_G(0, T), abs=1e-10)
    a = alignment(tr["L"], tr["G"], Estimator("finite")).value[0]
    assert a == pytest.approx((L0 - mean_L(0, T)) / (G0 - mean_G(0, T)), abs=1e-10)
    # limit estimator: L(0) - mean over the last tail_length values
    n = tail_length(T, 0.25)
    cL = capability(tr["L"], Estimator("limit", tail=0.25)).value[0]
    assert cL == pytest.approx(L0 - mean_L(T - n, T), abs=1e-10)
    a = alignment(tr["L"], tr["G"], Estimator("limit")).value[0]
    assert a == pytest.approx((L0 - mean_L(T - n, T)) / (G0 - mean_G(T - n, T)), abs=1e-10)


def test_limit_estimator_flags_non_convergence():
    t = np.arange(400.0)
    settled = 1.0 + np.exp(-t / 10)
    drifting = 2.0 - t / 400  # still falling in the tail
    est = capability(np.stack([settled, drifting]), Estimator("limit", tail=0.25, tolerance=0.05))
    assert est.converged.tolist() == [True, False]
    assert est.value[0] == pytest.approx(1.0, abs=1e-6)


def test_orbit_capability_is_start_minus_average():
    t = np.arange(1000)
    L = 3.0 + np.where(t % 2 == 0, 1.0, -1.0)  # orbit between 2 and 4 around 3, starts at 4
    c, drift = capability_limit(L, tail=0.5)
    assert float(c) == pytest.approx(1.0)
    assert float(drift) == pytest.approx(0.0)


traj = arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(2, 40)),
              elements=st.floats(-100, 100, allow_nan=False, width=64))
shapes = st.tuples(st.integers(1, 3), st.integers(2, 40))
pairs = shapes.flatmap(lambda sh: st.tuples(
    arrays(np.float64, sh, elements=st.floats(-100, 100, allow_nan=False, width=64)),
    arrays(np.float64, sh, elements=st.floats(-100, 100, allow_nan=False, width=64))))


def _start_above(L: np.ndarray, lift: float) -> np.ndarray:
    """L with L(0) raised ``lift`` above every later value: a run that makes progress."""
    L = L.copy()
    L[..., 0] = L.max(axis=-1) + lift
    return L


# runs whose start lies above the rest (L(0) - min L >= 0.01), built rather than filtered
progress_pairs = st.tuples(pairs, st.floats(0.01, 10), st.floats(0.01, 10)).map(
    lambda x: (_start_above(x[0][0], x[1]), _start_above(x[0][1], x[2])))
estimators = st.sampled_from([Estimator("finite"), Estimator("limit", tail=0.25), Estimator("limit", tail=0.6)])


@given(traj, st.floats(-50, 50), st.floats(0.01, 100), estimators)
def test_capability_shift_and_scale(L, c, k, est):
    base = capability(L, est).value
    assert np.allclose(capability(L + c, est).value, base, atol=1e-9 * (1 + abs(c)) * 100)
    assert np.allclose(capability(k * L, est).value, k * base, rtol=1e-9, atol=1e-9)


@given(pairs, st.floats(0.01, 100), estimators)
def test_scaling_true_objective_divides_alpha(pair, k, est):
    Lb, G = pair
    a = alignment(Lb, G, est)
    ak = alignment(Lb, k * G, est)
    assert np.array_equal(a.defined, ak.defined)
    d = a.defined
    assert np.allclose(ak.value[d], a.value[d] / k, rtol=1e-9)


def test_an_overflowing_ratio_is_infinite_without_a_warning():
    import warnings

    from hierarchy.alignment import alignment_ratio
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = alignment_ratio(np.array([1e300, -1e300, 3.0]), np.array([1e-300, 1e-300, -1.5]), np.array([False] * 3))
    assert r.tolist() == [np.inf, -np.inf, -2.0]


@given(traj, estimators)
def test_alignment_undefined_when_mesa_does_not_move(Lb, est):
    flat = np.full_like(Lb, 0.7)
    a = alignment(Lb, flat, est)
    assert not a.defined.any()
    assert np.isnan(a.value).all()
    assert not np.isinf(a.value).any()


def test_alignment_can_be_negative():
    a = alignment([[1.0, 2.0, 3.0]], [[3.0, 2.0, 1.0]], Estimator("finite"))
    assert a.value[0] == pytest.approx(-1.0)


@settings(max_examples=60)
@given(st.integers(2, 6), st.integers(3, 30), st.integers(1, 3), st.integers(0, 2**31 - 1), estimators)
def test_delegation_product_telescopes(depth, T, K, seed, est):
    rng = np.random.default_rng(seed)
    values = [rng.normal(size=(K, T)) * rng.uniform(0.1, 10) for _ in range(depth)]
    caps = [capability(v, est).value for v in values]
    assume(all(np.all(np.abs(c) > 1e-6) for c in caps))
    check = delegation_product(values, estimator=est)
    assert np.all(check.discrepancy < 1e-9)
    assert np.allclose(check.direct, caps[0])


@given(progress_pairs, st.floats(0.01, 100), st.floats(-100, 100), st.floats(0.01, 100), st.floats(-100, 100),
       estimators)
def test_normalized_alignment_invariant_under_affine_maps(pair, kb, cb, km, cm, est):
    Lb, Lm = pair
    assert np.all(progress_scale(Lb) > 0.005) and np.all(progress_scale(Lm) > 0.005)  # float-resolvable scales
    # the reference is the run itself here; mapped runs are measured against the mapped reference
    a = normalized_alignment(Lb, Lm, Normalization.of("ref", Lb, Lm), est)
    b = normalized_alignment(kb * Lb + cb, km * Lm + cm, Normalization.of("ref", kb * Lb + cb, km * Lm + cm), est)
    assume(np.all(np.abs(a.mesa[a.defined]) > 1e-6))
    d = a.defined & b.defined
    assert np.allclose(b.value[d], a.value[d], rtol=1e-6, atol=1e-6)


def test_normalized_alignment_independent_of_true_objective_choice():
    """alpha changes with G -> 3G + 1; the normalized alignment does not."""
    A = np.diag([2.0, 0.5])
    tr = QuadraticGD(A, 0.1, x0=[1.0, 1.0]).run(100, 0)
    raw1 = alignment(tr["L"], tr["G"]).value[0]
    raw3 = alignment(tr["L"], 3 * tr["G"] + 1).value[0]
    assert raw3 == pytest.approx(raw1 / 3)
    n1 = normalized_alignment(tr["L"], tr["G"], Normalization.of("self", tr["L"], tr["G"])).value[0]
    n3 = normalized_alignment(tr["L"], 3 * tr["G"] + 1, Normalization.of("self", tr["L"], 3 * tr["G"] + 1)).value[0]
    assert n3 == pytest.approx(n1, rel=1e-12)
