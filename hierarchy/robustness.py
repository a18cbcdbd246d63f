"""Robustness and generalization (Definitions 3 and 4), and inner alignment quantified (seed 000).

definitions.md, "Robustness and generalization": a figure x (a capability C or an
alignment alpha) of the unperturbed optimizer is compared with the same figure x' of
the perturbed one by the relative change

    r = |x' - x| / |x|

undefined when x = 0 or either figure is undefined (reported, never a division by
zero). "Close" is **open**: the user sets a tolerance, and the verdict is stated with the
numbers. Over a family of perturbations: every member's change, the worst case, the
spread (median, interquartile range, max - min) and the verdict.

* Capability robustness (Definition 3):    C_{A+delta}(L)    vs C_A(L)
* Alignment robustness (Definition 3):     alpha of (A+delta_A, M+delta_M) vs alpha of (A, M)
* Capability generalization (Definition 4): C_{A'}(L')       vs C_A(L)
* Alignment generalization (Definition 4):  alpha_{M'}(L'_b) vs alpha_M(L_b)
* Inner alignment (seed 000): over a family of dataset variations (the baseline counted as
  a member), the minimum alpha and the worst relative change of alpha
  (:func:`harris_inner_alignment`, the one implementation of Harris's rule).

Figures may be per copy (arrays [K], copy k of the perturbed population paired with copy
k of the unperturbed one): a member's change is then the median over copies of the
per-copy changes. The relative change is invariant under a common positive scaling of
both figures, so it does not depend on the scale of the true objective (G -> k*G + c
divides every alpha by k).
"""

from __future__ import annotations

import math
from typing import Mapping, Optional

import attrs
import numpy as np

from .errors import NotFoundError, ParameterError
from .figures import _json_float

__all__ = ["relative_change", "undefined_reason", "Change", "paired_change", "verdict", "Robustness",
           "robustness", "capability_robustness", "alignment_robustness", "capability_generalization",
           "alignment_generalization", "InnerAlignment", "harris_inner_alignment"]

#: The verdicts of a family comparison.
ROBUST, NOT_ROBUST, UNDEFINED = "robust", "not robust", "undefined"


def relative_change(x, x_perturbed) -> np.ndarray:
    """r = |x' - x| / |x|, elementwise; NaN where x = 0 or either value is not finite (+inf only
    when x is so small, subnormal, that the quotient overflows: a defined, huge change).

    Definitions 3 and 4 ("close" as a relative change). The one relative change of
    mesastack: the unperturbed (baseline) figure ``x`` first, the perturbed ``x'`` second.
    At x = 0 the change is NaN (undefined: no scale to compare with), also when x' = 0;
    callers count undefined changes, never read them as 0 or infinite. Never divides by
    zero and never warns.

    Parameters
    ----------
    x : array-like
        The unperturbed (baseline) figure.
    x_perturbed : array-like
        The perturbed figure, broadcast against ``x``.

    Returns
    -------
    numpy.ndarray
        r, NaN where undefined.

    Examples
    --------
    >>> relative_change(2.0, 2.5).item(), relative_change([1.0, 0.0], [1.0, 1.0]).tolist()
    (0.25, [0.0, nan])
    """
    x = np.asarray(x, dtype=np.float64)
    xp = np.asarray(x_perturbed, dtype=np.float64)
    x, xp = np.broadcast_arrays(x, xp)
    ok = np.isfinite(x) & np.isfinite(xp) & (x != 0)
    safe = np.where(ok, x, 1.0)
    with np.errstate(over="ignore"):  # a subnormal x: the change is honestly huge (inf), not a warning
        return np.where(ok, np.abs(np.where(ok, xp, 1.0) - safe) / np.abs(safe), np.nan)


def undefined_reason(x, x_perturbed) -> str:
    """Why the relative change of (x, x') is undefined ("" when it is defined).

    Parameters
    ----------
    x, x_perturbed : float
        The unperturbed and the perturbed figure.

    Returns
    -------
    str
        "unperturbed figure undefined", "perturbed figure undefined",
        "unperturbed figure is 0", or "".

    Examples
    --------
    >>> undefined_reason(0.0, 1.0), undefined_reason(1.0, float("nan")), undefined_reason(1.0, 2.0)
    ('unperturbed figure is 0', 'perturbed figure undefined', '')
    """
    x, xp = float(x), float(x_perturbed)
    if not math.isfinite(x):
        return "unperturbed figure undefined"
    if not math.isfinite(xp):
        return "perturbed figure undefined"
    if x == 0:
        return "unperturbed figure is 0"
    return ""


def _median(v: np.ndarray) -> float:
    f = v[np.isfinite(v)]
    return float(np.median(f)) if f.size else math.nan


def _median_change(r: np.ndarray) -> float:
    """Median of the defined changes: NaN is undefined, +inf (a change from a subnormal figure) is defined."""
    f = r[~np.isnan(r)]
    return float(np.median(f)) if f.size else math.nan


@attrs.frozen
class Change:
    """One perturbation's effect on one figure.

    ``baseline`` and ``perturbed`` are the figures (medians over copies); ``change`` the
    median over copies of the per-copy relative changes (NaN when no copy's change is
    defined); ``per_copy`` every copy's change; ``reason`` says why it is undefined.

    Parameters
    ----------
    name : str
        The perturbation.
    baseline, perturbed, change : float
    per_copy : tuple of float
    defined_fraction : float
        The share of copies whose change is defined.
    reason : str, optional

    Examples
    --------
    >>> c = paired_change("lr x2", 2.0, 3.0)
    >>> c.defined, c.to_dict()["change"]
    (True, 0.5)
    """

    name: str
    baseline: float
    perturbed: float
    change: float
    per_copy: tuple
    defined_fraction: float
    reason: str = ""

    @property
    def defined(self) -> bool:
        """True where the relative change is defined for at least one copy.

        Returns
        -------
        bool
            False when ``change`` is NaN (``reason`` says why).

        Examples
        --------
        >>> paired_change("lr x2", 2.0, 3.0).defined, paired_change("flat", 0.0, 1.0).defined
        (True, False)
        """
        return not math.isnan(self.change)

    def to_dict(self) -> dict:
        """A JSON-ready dict of the change's figures (NaN as None).

        Returns
        -------
        dict

        Examples
        --------
        >>> paired_change("flat", 0.0, 1.0).to_dict()["change"] is None
        True
        """
        return {"name": self.name, "baseline": _json_float(self.baseline), "perturbed": _json_float(self.perturbed),
                "change": _json_float(self.change), "per_copy": [_json_float(c) for c in self.per_copy],
                "defined_fraction": self.defined_fraction, "reason": self.reason}


def paired_change(name: str, x, x_perturbed) -> Change:
    """The :class:`Change` of one perturbation: per-copy r_k = |x'_k - x_k| / |x_k|, summarized by the median.

    ``x`` and ``x_perturbed`` are scalars or arrays [K] (copy k with copy k). A copy whose
    change is undefined is left out of the median; when none is defined the change is NaN
    and ``reason`` names the cause.

    Parameters
    ----------
    name : str
        The perturbation.
    x, x_perturbed : float or array-like [K]
        The unperturbed and perturbed figures.

    Returns
    -------
    Change

    Raises
    ------
    ParameterError
        When ``x`` and ``x_perturbed`` cannot be paired copy by copy.

    Examples
    --------
    >>> c = paired_change("lr x2", [2.0, 2.0, 4.0], [2.5, 2.0, 2.0])
    >>> c.change, c.per_copy, c.defined_fraction
    (0.25, (0.25, 0.0, 0.5), 1.0)
    >>> paired_change("flat", 0.0, 1.0).reason
    'unperturbed figure is 0'
    """
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    xp = np.atleast_1d(np.asarray(x_perturbed, dtype=np.float64))
    try:
        x, xp = np.broadcast_arrays(x, xp)
    except ValueError:
        raise ParameterError(f"figures of {name!r}: unperturbed {x.shape} and perturbed {xp.shape} cannot be paired; "
                             f"give one value per copy for both (same K) or a scalar") from None
    r = relative_change(x, xp)
    defined = ~np.isnan(r)
    change = _median_change(r)
    reason = ""
    if not defined.any():
        reasons = sorted({undefined_reason(a, b) for a, b in zip(x, xp)})
        reason = "; ".join(reasons)
    return Change(str(name), _median(x), _median(xp), change, tuple(float(v) for v in r),
                  float(defined.mean()), reason)


def _check_tolerance(tolerance) -> float:
    try:
        t = float(tolerance)
    except (TypeError, ValueError):
        t = math.nan
    if not (math.isfinite(t) and t >= 0):
        raise ParameterError(f"tolerance={tolerance!r}; give a non-negative relative change such as 0.1 (10%)")
    return t


def verdict(changes, tolerance: float) -> str:
    """The family verdict: "not robust" if some defined change exceeds ``tolerance``;
    else "undefined" if some change is undefined; else "robust" (every change <= tolerance).

    Monotone: a family robust at tolerance t is robust at every t' >= t.

    Parameters
    ----------
    changes : iterable of float
        Relative changes (NaN: undefined; inf: defined and huge).
    tolerance : float
        The largest change that counts as robust (>= 0).

    Returns
    -------
    str
        "robust", "not robust" or "undefined".

    Raises
    ------
    ParameterError
        When ``tolerance`` is not a finite number >= 0.

    Examples
    --------
    >>> verdict([0.01, 0.2], 0.1), verdict([0.01, float("nan")], 0.1), verdict([0.01, 0.05], 0.1)
    ('not robust', 'undefined', 'robust')
    """
    tol = _check_tolerance(tolerance)
    c = np.asarray(list(changes), dtype=np.float64)
    finite = ~np.isnan(c)  # defined; an infinite change is defined and exceeds every tolerance
    if (c[finite] > tol).any():
        return NOT_ROBUST
    if not finite.all():
        return UNDEFINED
    return ROBUST


@attrs.frozen
class Robustness:
    """A figure's relative changes over a family of perturbations, with worst case, spread and verdict.

    ``quantity`` names the figure ("C(L)", "alpha", ...), ``definition`` the definition
    applied. ``worst`` is the largest defined change and ``worst_name`` its member;
    ``median``, ``q25``, ``q75`` and ``range`` (max - min) summarize the defined changes;
    ``undefined`` lists members whose change is undefined; ``verdict`` is
    :func:`verdict` against ``tolerance``.

    Parameters
    ----------
    quantity, definition : str
    tolerance : float
    changes : tuple of Change
    worst : float
    worst_name : str
    median, q25, q75, range : float
    undefined : tuple of str
    verdict : str

    Examples
    --------
    >>> r = Robustness.of("alpha", [paired_change("a", 1.0, 1.05), paired_change("b", 1.0, 1.25)], 0.1)
    >>> r.verdict, r.holds, r.change("b").change
    ('not robust', False, 0.25)
    """

    quantity: str
    definition: str
    tolerance: float
    changes: tuple
    worst: float
    worst_name: str
    median: float
    q25: float
    q75: float
    range: float
    undefined: tuple
    verdict: str

    @classmethod
    def of(cls, quantity: str, changes, tolerance: float, definition: str = "") -> "Robustness":
        """Summarize ``changes`` (a sequence of :class:`Change`).

        Parameters
        ----------
        quantity : str
            The figure's name.
        changes : sequence of Change
            One per member of the family.
        tolerance : float
            The largest change that counts as robust.
        definition : str, optional
            The definition applied.

        Returns
        -------
        Robustness

        Raises
        ------
        ParameterError
            When ``changes`` is empty or ``tolerance`` is not a finite number >= 0.

        Examples
        --------
        >>> Robustness.of("C(L)", [paired_change("a", 2.0, 2.0)], 0.1).statement()
        'C(L): robust at tolerance 0.1: worst relative change 0 (a), median 0 [IQR 0, 0], range 0 over 1 perturbations'
        """
        tol = _check_tolerance(tolerance)
        changes = tuple(changes)
        if not changes:
            raise ParameterError(f"no perturbation to compare for {quantity}; give a family with at least one member")
        values = np.array([c.change for c in changes], dtype=np.float64)
        ok = ~np.isnan(values)
        if ok.any():
            f = values[ok]
            i = int(np.flatnonzero(ok)[np.argmax(f)])
            worst, worst_name = float(values[i]), changes[i].name
            with np.errstate(invalid="ignore"):  # inf - inf where every change is infinite: NaN, no warning
                q25, med, q75 = (float(v) for v in np.percentile(f, [25, 50, 75]))
                rng = float(f.max() - f.min())
        else:
            worst, worst_name, med, q25, q75, rng = math.nan, "", math.nan, math.nan, math.nan, math.nan
        return cls(quantity, definition, tol, changes, worst, worst_name, med, q25, q75, rng,
                   tuple(c.name for c in changes if not c.defined), verdict(values, tol))

    @property
    def holds(self) -> bool:
        """True when the verdict is "robust".

        Returns
        -------
        bool

        Examples
        --------
        >>> Robustness.of("C(L)", [paired_change("a", 2.0, 2.0)], 0.1).holds
        True
        >>> Robustness.of("C(L)", [paired_change("a", 2.0, 3.0)], 0.1).holds
        False
        """
        return self.verdict == ROBUST

    def change(self, name: str) -> Change:
        """The change of the member called ``name``.

        Parameters
        ----------
        name : str

        Returns
        -------
        Change

        Raises
        ------
        NotFoundError
            When no member has that name (the message lists the members).

        Examples
        --------
        >>> Robustness.of("C", [paired_change("a", 1.0, 1.0)], 0.1).change("a").change
        0.0
        """
        for c in self.changes:
            if c.name == name:
                return c
        raise NotFoundError(f"no member {name!r}; the family holds {', '.join(c.name for c in self.changes)}")

    def statement(self) -> str:
        """One line: the verdict with its numbers.

        Returns
        -------
        str

        Examples
        --------
        >>> Robustness.of("C", [paired_change("a", 0.0, 1.0)], 0.1).statement()
        'C: undefined (no change defined: a)'
        """
        if math.isnan(self.worst):
            return f"{self.quantity}: {self.verdict} (no change defined: {', '.join(self.undefined)})"
        tail = f"; undefined for {', '.join(self.undefined)}" if self.undefined else ""
        return (f"{self.quantity}: {self.verdict} at tolerance {self.tolerance:g}: worst relative change "
                f"{self.worst:.4g} ({self.worst_name}), median {self.median:.4g} [IQR {self.q25:.4g}, {self.q75:.4g}], "
                f"range {self.range:.4g} over {len(self.changes)} perturbations{tail}")

    def to_dict(self) -> dict:
        """A JSON-ready dict: quantity, definition, tolerance, verdict and every change.

        Returns
        -------
        dict

        Examples
        --------
        >>> Robustness.of("C", [paired_change("a", 1.0, 1.0)], 0.1).to_dict()["verdict"]
        'robust'
        """
        return {"quantity": self.quantity, "definition": self.definition, "tolerance": self.tolerance,
                "changes": [c.to_dict() for c in self.changes], "worst": _json_float(self.worst),
                "worst_name": self.worst_name, "median": _json_float(self.median), "q25": _json_float(self.q25),
                "q75": _json_float(self.q75), "range": _json_float(self.range), "undefined": list(self.undefined),
                "verdict": self.verdict}


def robustness(quantity: str, baseline, perturbed: Mapping[str, object], tolerance: float,
               definition: str = "") -> Robustness:
    """Relative change of a figure under each member of a family (Definitions 3 and 4).

    ``baseline``: the unperturbed figure (scalar or per copy [K]); ``perturbed``: {member
    name: its figure}. Each member's change is :func:`paired_change`; the family summary
    is :class:`Robustness`.

    Parameters
    ----------
    quantity : str
        The figure's name ("C(L)", "alpha").
    baseline : float or array-like [K]
        The unperturbed figure.
    perturbed : mapping of str to float or array-like [K]
        Per member, its figure.
    tolerance : float
        The largest change that counts as robust.
    definition : str, optional
        The definition applied.

    Returns
    -------
    Robustness

    Raises
    ------
    ParameterError
        When ``perturbed`` is empty, ``tolerance`` is not a finite number >= 0, or a
        member's figures cannot be paired with the baseline's.

    Examples
    --------
    >>> r = robustness("C(L)", 2.0, {"a": 2.0, "b": 2.5, "c": 1.0}, tolerance=0.3)
    >>> r.worst, r.worst_name, r.median, r.range, r.verdict
    (0.5, 'c', 0.25, 0.5, 'not robust')
    """
    return Robustness.of(quantity, [paired_change(k, baseline, v) for k, v in perturbed.items()], tolerance, definition)


def capability_robustness(C, C_perturbed: Mapping[str, object], tolerance: float, objective: str = "L") -> Robustness:
    """Capability robustness (Definition 3): |C_{A+delta}(L) - C_A(L)| / |C_A(L)| per delta.

    Parameters
    ----------
    C : float or array-like [K]
        The unperturbed figure (per copy, or one number).
    C_perturbed : mapping of str to float or array-like [K]
        Per perturbation, the same figure on the perturbed run, paired copy by copy.
    tolerance : float
        The largest relative change that counts as robust.
    objective : str, optional
        The objective's name (for the report).

    Returns
    -------
    Robustness
        Per perturbation the relative change (worst case, spread), and the verdict.

    Raises
    ------
    ParameterError
        When ``tolerance`` is negative or not finite, the mapping is empty, or a figure cannot
        be paired with the unperturbed one.

    Examples
    --------
    >>> capability_robustness(0.5, {"resample 1": 0.45}, 0.2).verdict
    'robust'
    """
    return robustness(f"C({objective})", C, C_perturbed, tolerance, "Definition 3: capability robustness")


def alignment_robustness(alpha, alpha_perturbed: Mapping[str, object], tolerance: float) -> Robustness:
    """Alignment robustness (Definition 3): |alpha' - alpha| / |alpha|, alpha' of the perturbed pair.

    Parameters
    ----------
    alpha : float or array-like [K]
        The unperturbed figure (per copy, or one number).
    alpha_perturbed : mapping of str to float or array-like [K]
        Per perturbation, the same figure on the perturbed run, paired copy by copy.
    tolerance : float
        The largest relative change that counts as robust.

    Returns
    -------
    Robustness
        Per perturbation the relative change (worst case, spread), and the verdict.

    Raises
    ------
    ParameterError
        When ``tolerance`` is negative or not finite, the mapping is empty, or a figure cannot
        be paired with the unperturbed one.

    Examples
    --------
    >>> alignment_robustness(0.1, {"init +0.3": 0.2}, 0.5).worst
    1.0
    """
    return robustness("alpha", alpha, alpha_perturbed, tolerance, "Definition 3: alignment robustness")


def capability_generalization(C, C_new: Mapping[str, object], tolerance: float, objective: str = "L") -> Robustness:
    """Capability generalization (Definition 4): |C_{A'}(L') - C_A(L)| / |C_A(L)|, A' = A with objective L'.

    ``C_new`` maps each new objective's name to C_{A'}(L') measured on A''s run.

    Parameters
    ----------
    C : float or array-like [K]
        The unperturbed figure (per copy, or one number).
    C_new : mapping of str to float or array-like [K]
        Per new objective, the same figure for the new objective, paired copy by copy.
    tolerance : float
        The largest relative change that counts as robust.
    objective : str, optional
        The objective's name (for the report).

    Returns
    -------
    Robustness
        Per new objective the relative change (worst case, spread), and the verdict.

    Raises
    ------
    ParameterError
        When ``tolerance`` is negative or not finite, the mapping is empty, or a figure cannot
        be paired with the unperturbed one.

    Examples
    --------
    >>> capability_generalization(0.6, {"brier": 0.3}, 0.1).verdict
    'not robust'
    """
    return robustness(f"C({objective}) -> C(L')", C, C_new, tolerance, "Definition 4: capability generalization")


def alignment_generalization(alpha, alpha_new: Mapping[str, object], tolerance: float) -> Robustness:
    """Alignment generalization (Definition 4): |alpha_{M'}(L'_b) - alpha_M(L_b)| / |alpha_M(L_b)|.

    Parameters
    ----------
    alpha : float or array-like [K]
        The unperturbed figure (per copy, or one number).
    alpha_new : mapping of str to float or array-like [K]
        Per new objective, the same figure for the new objective, paired copy by copy.
    tolerance : float
        The largest relative change that counts as robust.

    Returns
    -------
    Robustness
        Per new objective the relative change (worst case, spread), and the verdict.

    Raises
    ------
    ParameterError
        When ``tolerance`` is negative or not finite, the mapping is empty, or a figure cannot
        be paired with the unperturbed one.

    Examples
    --------
    >>> alignment_generalization(2.0, {"smoothed": 1.9}, 0.1).verdict
    'robust'
    """
    return robustness("alpha -> alpha'", alpha, alpha_new, tolerance, "Definition 4: alignment generalization")


#: The verdicts of Harris's inner-alignment rule (:func:`harris_inner_alignment`).
INNER_ALIGNED, NOT_INNER_ALIGNED, INNER_UNDEFINED = "aligned", "misaligned", "undefined"


@attrs.frozen
class InnerAlignment:
    """Inner alignment quantified over a family of dataset variations (seed 000).

    The family is the baseline (the training set) and its variations: the baseline is a
    member. ``minimum``: the smallest alpha over the family (medians over copies) and
    ``minimum_name`` its member (``"baseline"`` or a variation's name); ``worst_change``
    and ``worst_name``: the largest defined relative change of alpha from the baseline;
    ``robustness``: the full family comparison. ``min_alpha`` (None: no level required)
    and ``tolerance`` are the user's thresholds. ``undefined``: members whose alpha is
    undefined (NaN), counted, never dropped. ``verdict``: ``"aligned"``, ``"misaligned"``
    or ``"undefined"`` (see :func:`harris_inner_alignment`); ``aligned`` is
    ``verdict == "aligned"``. :func:`harris_inner_alignment` builds it.

    Parameters
    ----------
    quantity : str
        The figure's name (e.g. "alpha").
    baseline : float
        The figure on the training set (median over copies).
    minimum : float
        The smallest figure over the family.
    minimum_name : str
        Its member ("baseline" or a variation).
    worst_change : float
        The largest defined relative change from the baseline (NaN when none is defined).
    worst_name : str
        Its variation.
    min_alpha : float or None
        The level required (None: none).
    tolerance : float
        The largest tolerated relative change.
    robustness : Robustness
        The full family comparison.
    undefined : tuple of str
        Members whose figure is undefined.
    verdict : str
        "aligned", "misaligned" or "undefined".
    failures : tuple of str, optional
        What failed: "low alpha", "alpha not robust".

    Examples
    --------
    >>> ia = harris_inner_alignment(1.0, {"resample 1": 0.9, "shift 0.1": 0.7}, tolerance=0.2, min_alpha=0.5)
    >>> ia.verdict, ia.failures, ia.minimum_name, ia.undefined
    ('misaligned', ('alpha not robust',), 'shift 0.1', ())
    """

    quantity: str
    baseline: float
    minimum: float
    minimum_name: str
    worst_change: float
    worst_name: str
    min_alpha: Optional[float]
    tolerance: float
    robustness: Robustness
    undefined: tuple
    verdict: str
    failures: tuple = ()

    @property
    def aligned(self) -> bool:
        """True when the verdict is "aligned".

        Returns
        -------
        bool

        Examples
        --------
        >>> harris_inner_alignment(1.0, {"a": 0.95}, tolerance=0.1).aligned
        True
        >>> harris_inner_alignment(1.0, {"a": 0.7}, tolerance=0.1).aligned
        False
        """
        return self.verdict == INNER_ALIGNED

    def statement(self) -> str:
        """One line stating the verdict and its reason.

        Returns
        -------
        str
            The family's size, the minimum and its member (with the level required), the
            worst change and its variation (with the tolerance), the undefined members, and
            "inner-aligned", "not inner-aligned" or "undecided (undefined)".

        Examples
        --------
        >>> ia = harris_inner_alignment(1.0, {"resample 1": 0.9, "shift 0.1": 0.7}, tolerance=0.2, min_alpha=0.5)
        >>> ia.statement()
        'over the baseline and 2 dataset variations: minimum alpha 0.7 (shift 0.1) (required >= 0.5), worst relative change 0.3 (shift 0.1, tolerance 0.2): not inner-aligned'
        """
        level = "" if self.min_alpha is None else f" (required >= {self.min_alpha:g})"
        undef = f"; undefined for {', '.join(self.undefined)}" if self.undefined else ""
        word = {INNER_ALIGNED: "inner-aligned", NOT_INNER_ALIGNED: "not inner-aligned"}.get(self.verdict,
                                                                                       "undecided (undefined)")
        return (f"over the baseline and {len(self.robustness.changes)} dataset variations: minimum {self.quantity} "
                f"{self.minimum:.4g} ({self.minimum_name}){level}, worst relative change {self.worst_change:.4g} "
                f"({self.worst_name}, tolerance {self.tolerance:g}){undef}: {word}")

    def to_dict(self) -> dict:
        """A JSON-ready dict of the verdict and its figures.

        Returns
        -------
        dict
            Every field (the robustness as :meth:`Robustness.to_dict`, NaN as None) and ``aligned``.

        Examples
        --------
        >>> ia = harris_inner_alignment(1.0, {"resample 1": 0.9, "shift 0.1": 0.7}, tolerance=0.2, min_alpha=0.5)
        >>> d = ia.to_dict()
        >>> d["verdict"], d["aligned"], d["failures"], d["robustness"]["verdict"]
        ('misaligned', False, ['alpha not robust'], 'not robust')
        """
        return {"quantity": self.quantity, "baseline": _json_float(self.baseline), "minimum": _json_float(self.minimum),
                "minimum_name": self.minimum_name, "worst_change": _json_float(self.worst_change),
                "worst_name": self.worst_name, "min_alpha": self.min_alpha, "tolerance": self.tolerance,
                "robustness": self.robustness.to_dict(), "undefined": list(self.undefined), "verdict": self.verdict,
                "failures": list(self.failures), "aligned": self.aligned}


def harris_inner_alignment(alpha, alpha_variations: Mapping[str, object], tolerance: float,
                           min_alpha: Optional[float] = None, quantity: str = "alpha") -> InnerAlignment:
    """Harris's inner alignment: alpha stays robustly high over dataset variations (seed 000).

    The one implementation of the rule; :func:`hierarchy.inner_alignment.alpha_robust` (the
    Evidence-based definition) and the per-copy robustness scenario both call it.

    Formula, over the family F = {baseline} u {variations} (the baseline, alpha on the
    training set, is a member of the family):

        minimum      = min over members v of F of alpha_v          (median over copies)
        worst change = max over variations v of r_v,  r_v = median_k |alpha_{v,k} - alpha_k| / |alpha_k|

    (:func:`relative_change`, undefined where alpha_k = 0 or either value is undefined).

    Verdict: ``"misaligned"`` when a defined number already fails (the minimum over the
    defined members is < ``min_alpha``, or a defined change is > ``tolerance``: an
    undefined member could only make either worse); else ``"aligned"`` when every member
    and every change is defined, the minimum is >= ``min_alpha`` (if given) and every
    change <= ``tolerance``; else ``"undefined"`` (an undefined member or change leaves it
    open). ``failures`` names what failed ("low alpha", "alpha not robust").

    Parameters
    ----------
    alpha : float or array [K]
        Alpha on the training set (per copy or one number).
    alpha_variations : Mapping[str, float or array [K]]
        Alpha under each dataset variation (copy k with copy k), at least one.
    tolerance : float
        The largest tolerated relative change (>= 0).
    min_alpha : float or None
        The level alpha must stay at or above; None requires no level.
    quantity : str
        The figure's name, for reports.

    Returns
    -------
    InnerAlignment

    Raises
    ------
    ParameterError
        If the family is empty, the tolerance is negative or not a number, or ``min_alpha``
        is not finite.

    Examples
    --------
    >>> ia = harris_inner_alignment(1.0, {"resample 1": 0.9, "shift 0.1": 0.7}, tolerance=0.2, min_alpha=0.5)
    >>> ia.minimum, ia.minimum_name, round(ia.worst_change, 6), ia.verdict
    (0.7, 'shift 0.1', 0.3, 'misaligned')
    >>> harris_inner_alignment(0.4, {"a": 0.45, "b": 0.42}, 0.2, min_alpha=0.41).minimum_name  # the baseline counts
    'baseline'
    >>> harris_inner_alignment(0.8, {"a": float("nan"), "b": 0.85}, 0.2, min_alpha=0.5).verdict
    'undefined'
    """
    if min_alpha is not None:
        try:
            level = float(min_alpha)
        except (TypeError, ValueError):
            level = math.nan
        if not math.isfinite(level):
            raise ParameterError(f"min_alpha={min_alpha!r}; give a finite level such as 0.5, or None for no level")
    rob = robustness(quantity, alpha, alpha_variations, tolerance, "seed 000: inner alignment over dataset variations")
    base = _median(np.atleast_1d(np.asarray(alpha, dtype=np.float64)))
    levels = {"baseline": base} | {c.name: c.perturbed for c in rob.changes}
    finite = {k: v for k, v in levels.items() if math.isfinite(v)}
    undefined = tuple(k for k, v in levels.items() if not math.isfinite(v))
    if finite:
        name = min(finite, key=finite.get)
        minimum = finite[name]
    else:
        name, minimum = "", math.nan
    low = min_alpha is not None and bool(finite) and minimum < float(min_alpha)
    not_robust = rob.verdict == NOT_ROBUST
    failures = tuple(f for f, bad in (("low alpha", low), ("alpha not robust", not_robust)) if bad)
    if failures:
        verdict_ = NOT_INNER_ALIGNED
    elif undefined or rob.verdict == UNDEFINED:
        verdict_ = INNER_UNDEFINED
    else:
        verdict_ = INNER_ALIGNED
    return InnerAlignment(quantity, base, minimum, name, rob.worst, rob.worst_name,
                          None if min_alpha is None else float(min_alpha), rob.tolerance, rob,
                          undefined + tuple(n for n in rob.undefined if n not in undefined), verdict_, failures)
