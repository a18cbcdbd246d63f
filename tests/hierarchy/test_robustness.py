"""Robustness and generalization (Definitions 3 and 4), inner alignment, and the perturbation algebra."""

import math
import warnings

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hierarchy import Estimator, alignment
from hierarchy.errors import ParameterError
from hierarchy.perturbation import (Composed, Family, Identity, Replace, changes_objective, check_perturbation,
                                    compose, kind_of)
from hierarchy.robustness import (NOT_ROBUST, ROBUST, UNDEFINED, alignment_generalization,
                                  alignment_robustness, capability_generalization, capability_robustness,
                                  harris_inner_alignment, paired_change, relative_change, robustness, verdict)

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
nonzero = finite.filter(lambda x: abs(x) > 1e-3)
positive = st.floats(min_value=1e-3, max_value=1e3)


# -- relative change ----------------------------------------------------------------------
def test_no_change_gives_zero():
    x = np.array([0.3, -2.0, 5e-7, 17.0])
    assert relative_change(x, x.copy()).tolist() == [0.0, 0.0, 0.0, 0.0]
    c = paired_change("identity", x, x.copy())
    assert c.change == 0.0 and c.defined_fraction == 1.0


@pytest.mark.parametrize("r", [0.5, -0.25, 2.0, 1e-6])
def test_known_rescaling_gives_known_change(r):
    x = np.array([1.0, -3.0, 0.2])
    got = relative_change(x, (1 + r) * x)
    np.testing.assert_allclose(got, abs(r), rtol=1e-9)


def test_undefined_never_divides_by_zero():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = relative_change([0.0, 1.0, np.nan, 2.0, np.inf], [1.0, np.nan, 1.0, 2.0, 1.0])
    assert np.isnan(got[[0, 1, 2, 4]]).all() and got[3] == 0.0
    c = paired_change("flat", [0.0, 0.0], [1.0, 2.0])
    assert math.isnan(c.change) and c.reason == "unperturbed figure is 0" and c.defined_fraction == 0.0


@given(x=nonzero, xp=finite, k=positive)
def test_relative_change_invariant_to_common_positive_scaling(x, xp, k):
    assert relative_change(k * x, k * xp) == pytest.approx(relative_change(x, xp), rel=1e-9, abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(k=st.floats(0.01, 100), c=st.floats(-100, 100), seed=st.integers(0, 2**31))
def test_alignment_robustness_does_not_depend_on_the_affine_choice_of_true_objective(k, c, seed):
    # alpha changes under G -> k G + c (divided by k), its relative change under a perturbation does not
    rng = np.random.default_rng(seed)
    T = 40
    t = np.arange(T)
    L, Lp = 2.0 + np.exp(-t / rng.uniform(3, 9)), 2.0 + 1.3 * np.exp(-t / rng.uniform(3, 9))
    G, Gp = np.exp(-t / rng.uniform(2, 6)), 0.7 * np.exp(-t / rng.uniform(2, 6))
    est = Estimator("finite")
    a, ap = alignment([L], [G], est).value, alignment([Lp], [Gp], est).value
    b, bp = alignment([L], [k * G + c], est).value, alignment([Lp], [k * Gp + c], est).value
    np.testing.assert_allclose(b, a / k, rtol=1e-7)  # (float cancellation of the added c)
    np.testing.assert_allclose(relative_change(b, bp), relative_change(a, ap), rtol=1e-6)


# -- a family -------------------------------------------------------------------------------
members = st.dictionaries(st.text("abcdefgh", min_size=1, max_size=4), st.one_of(finite, st.just(float("nan"))),
                          min_size=1, max_size=8)


@given(base=nonzero, perturbed=members, tol=st.floats(0, 10))
def test_worst_is_at_least_every_member(base, perturbed, tol):
    r = robustness("x", base, perturbed, tol)
    for c in r.changes:
        if c.defined:
            assert r.worst >= c.change
    defined = [c.change for c in r.changes if c.defined]
    if defined:
        assert r.worst == max(defined) and r.range == pytest.approx(max(defined) - min(defined))
        assert r.q25 <= r.median <= r.q75
    else:
        assert math.isnan(r.worst) and r.verdict == UNDEFINED
    assert set(r.undefined) == {k for k, v in perturbed.items() if not math.isfinite(v)}


@given(base=nonzero, perturbed=members, t1=st.floats(0, 10), t2=st.floats(0, 10))
def test_verdict_monotone_in_tolerance(base, perturbed, t1, t2):
    lo, hi = sorted((t1, t2))
    r_lo, r_hi = robustness("x", base, perturbed, lo), robustness("x", base, perturbed, hi)
    if r_lo.holds:
        assert r_hi.holds
    if r_hi.verdict == NOT_ROBUST:
        assert r_lo.verdict == NOT_ROBUST


def test_family_figures_by_hand():
    # C_A = 2; members change it by 0.1, 0.25, 0.5 and one is undefined
    r = capability_robustness(2.0, {"a": 2.2, "b": 1.5, "c": 3.0, "d": float("nan")}, tolerance=0.3)
    assert [c.change for c in r.changes[:3]] == pytest.approx([0.1, 0.25, 0.5])
    assert (r.worst, r.worst_name, r.undefined, r.verdict) == (pytest.approx(0.5), "c", ("d",), NOT_ROBUST)
    assert r.median == pytest.approx(0.25) and r.range == pytest.approx(0.4)
    assert r.definition.startswith("Definition 3")
    assert robustness("x", 2.0, {"a": 2.2, "d": float("nan")}, 0.3).verdict == UNDEFINED
    assert robustness("x", 2.0, {"a": 2.2}, 0.3).verdict == ROBUST
    assert "worst relative change 0.5 (c)" in r.statement()
    assert r.to_dict()["changes"][3]["change"] is None  # JSON-safe


def test_named_definitions_are_the_relative_change():
    base, new = np.array([1.0, 2.0]), {"p": np.array([1.5, 1.0])}
    for fn, definition in [(capability_robustness, "Definition 3"), (alignment_robustness, "Definition 3"),
                           (capability_generalization, "Definition 4"), (alignment_generalization, "Definition 4")]:
        r = fn(base, new, 0.6)
        assert r.definition.startswith(definition)
        assert r.changes[0].per_copy == (0.5, 0.5) and r.worst == 0.5 and r.holds


def test_paired_change_is_per_copy_then_median():
    c = paired_change("p", [1.0, 2.0, 4.0, 0.0], [2.0, 2.0, 5.0, 1.0])
    assert c.per_copy[:3] == (1.0, 0.0, 0.25) and math.isnan(c.per_copy[3])
    assert c.change == 0.25 and c.defined_fraction == 0.75
    with pytest.raises(ParameterError, match="cannot be paired"):
        paired_change("p", [1.0, 2.0], [1.0, 2.0, 3.0])


def test_tolerance_and_empty_family_are_checked():
    with pytest.raises(ParameterError, match="tolerance"):
        robustness("x", 1.0, {"a": 1.0}, -0.1)
    with pytest.raises(ParameterError, match="at least one member"):
        robustness("x", 1.0, {}, 0.1)
    assert verdict([], 0.1) == ROBUST


@given(base=st.lists(positive, min_size=1, max_size=4).map(np.array),
       variations=st.lists(st.lists(positive, min_size=4, max_size=4), min_size=1, max_size=5),
       tol=st.floats(0, 2), level=st.floats(0, 100))
def test_inner_alignment_against_brute_force(base, variations, tol, level):
    """The family is the baseline and its variations (the baseline counts for the minimum)."""
    K = len(base)
    var = {f"v{i}": np.array(v[:K]) for i, v in enumerate(variations)}
    ia = harris_inner_alignment(base, var, tol, level)
    medians = {"baseline": float(np.median(base))} | {k: float(np.median(v)) for k, v in var.items()}
    changes = {k: float(np.median(np.abs(v - base) / base)) for k, v in var.items()}
    assert ia.minimum == pytest.approx(min(medians.values()))
    assert medians[ia.minimum_name] == ia.minimum
    assert ia.worst_change == pytest.approx(max(changes.values()))
    expected = min(medians.values()) >= level and max(changes.values()) <= tol
    # float ties at the threshold aside, the verdict is the rule
    if abs(max(changes.values()) - tol) > 1e-12 and abs(min(medians.values()) - level) > 1e-12:
        assert ia.aligned == expected
        assert ia.verdict == ("aligned" if expected else "misaligned")
    assert harris_inner_alignment(base, var, tol, None).aligned == (ia.robustness.holds)


def test_inner_alignment_with_an_undefined_member():
    nan = float("nan")
    ia = harris_inner_alignment([1.0, 1.0], {"a": [1.05, 1.0], "b": [nan, nan]}, 0.2, 0.5)
    assert ia.verdict == "undefined" and not ia.aligned and ia.undefined == ("b",)
    # a defined failure decides: the undefined member could only make it worse
    bad = harris_inner_alignment([1.0, 1.0], {"a": [2.0, 2.0], "b": [nan, nan]}, 0.2, 0.5)
    assert bad.verdict == "misaligned" and bad.failures == ("alpha not robust",)
    zero = harris_inner_alignment(0.0, {"a": 0.0}, 0.2, None)
    assert zero.verdict == "undefined" and math.isnan(zero.worst_change)  # no scale at 0: NaN, not 0


# -- the perturbation algebra -------------------------------------------------------------------
@attrs.frozen
class Spec:
    lr: float = 1.0
    width: int = 3
    loss: str = "ce"


def test_compose_applies_in_order_and_flattens():
    a = Replace("lr 2", {"lr": 2.0}, kind="schedule")
    b = Replace("lr 3", {"lr": 3.0}, kind="schedule")
    w = Replace("width 6", {"width": 6}, kind="capacity")
    assert compose(a, b).apply(Spec()).lr == 3.0 and compose(b, a).apply(Spec()).lr == 2.0
    p = a + (w + Identity()) + b
    assert isinstance(p, Composed) and [q.name for q in p.parts] == ["lr 2", "width 6", "lr 3"]
    assert p.name == "lr 2 + width 6 + lr 3" and p.kind == "schedule+capacity"
    assert p.apply(Spec()) == Spec(lr=3.0, width=6)
    assert compose() == Identity() and compose(Identity(), a) is a
    s = Spec()
    assert Identity().apply(s) is s


def test_objective_changes_are_generalization():
    obj = Replace("brier", {"loss": "brier"}, kind="objective")
    assert changes_objective(obj) and changes_objective(Replace("lr", {"lr": 2.0}, kind="schedule") + obj)
    assert not changes_objective(Replace("lr", {"lr": 2.0}, kind="schedule"))
    assert kind_of(object()) == "other"


def test_perturbation_errors_name_the_fix():
    with pytest.raises(ParameterError, match="has no field 'depth'"):
        Replace("d", {"depth": 2}).apply(Spec())
    with pytest.raises(ParameterError, match="frozen attrs"):
        Replace("d", {"lr": 2}).apply({"lr": 1})
    with pytest.raises(ParameterError, match="not a perturbation"):
        compose(Identity(), "lr x2")
    with pytest.raises(ParameterError, match="without '/'"):
        check_perturbation(Replace("a/b", {"lr": 1.0}))
    with pytest.raises(ParameterError, match="two perturbations named 'x'"):
        Family("f", [Replace("x", {"lr": 1.0}), Replace("x", {"lr": 2.0})])


def test_family():
    f = Family("f", [Replace("lr 2", {"lr": 2.0}, kind="schedule"), Replace("w", {"width": 5}, kind="capacity")])
    assert f.names == ("lr 2", "w") and len(f) == 2 and f["w"].name == "w" and f[0].name == "lr 2"
    assert [s.lr for s in f.apply(Spec())] == [2.0, 1.0]
    assert f.of_kind("capacity").names == ("w",)
    assert (f + Family("g", [Identity()])).names == ("lr 2", "w", "identity")
    with pytest.raises(KeyError):
        f["nope"]
