"""The shape of a measured curve y(x): its trend and its inflection.

Seed 000 asks whether alignment improves as capacity is added, and whether there is an
inflection: a capacity beyond which alignment declines (definitions.md, "Capacity").
Both are answered here on a measured curve y(x) over any parameter axis x (a scenario
chooses it, e.g. the log of a size), given as ``values [W, S]``: W points of x, S
independent seeds at each. The **median curve** (the median over seeds at each x) is
tested, its uncertainty comes from a bootstrap over seeds, and every seed's **own
curve** is tested too, so that a collapse in a minority of seeds is reported rather than
hidden by the median.

Models (least squares, Gaussian errors of unknown common variance; the break ``x_j``
ranges over the interior points x_1 .. x_{n-2} and the best one is kept):

* line:     y = a + b x                                    k = 2
* plateau:  y = a + b min(x, x_j)          (rise, then flat) k = 3 (a, b, x_j)
* hinge:    y = a + b x + c max(x - x_j, 0) (two segments, continuous at x_j;
            slope before b, slope after b + c)             k = 4 (a, b, c, x_j)

Each is scored by the Bayesian information criterion

    BIC = n ln(RSS / n) + k ln n

(the error variance is a parameter of every model alike, so it is left out of k; the
break location counts as a parameter). The criterion, not an F-test, is used because
the break is chosen from the data, which an F-test's null distribution does not allow
for; BIC's ln n per parameter is the stricter penalty here.

**Effect size.** With yhat the fitted hinge at the data points, its range R = max yhat -
min yhat, the *rise* is yhat(x_j) - yhat(x_0) and the *fall* is yhat(x_j) - yhat(x_last)
(signed: negative when y goes on rising after the break). The **fall fraction** is
fall / R, the share of the curve's fitted range that is given back after the break (1
when the fall is the curve's largest movement), and the **rise fraction** is rise / R.

An **inflection beyond which y falls** is declared on a curve when all of:

1. a change point is supported: BIC(line) - BIC(hinge) > margin;
2. y rises before it and falls after it: slope before > 0 > slope after;
3. the fall is needed: BIC(plateau) - BIC(hinge) > margin (a curve that rises and
   then merely levels off is not an inflection);
4. the fall is large enough to matter: fall fraction > ``min_fall``.

``margin`` defaults to 2 (positive evidence on the Kass-Raftery scale). ``min_fall``
defaults to :data:`MIN_FALL` = 0.1: the curve must give back more than a tenth of its
fitted range after the break. Rules 1-3 ask whether a fall is *detectable*; with many
seeds or little noise any fall is, and a 2% dip under 1% noise was called an
inflection 17 times in 20 before rule 4 existed. Seed 000's question is whether there is
a capacity beyond which alignment *declines*; a dip that gives back under a tenth of
what capacity added reads, on the curve, as a level-off, and it is of the size of the
tolerances the capacity scenario uses to call a curve flat. The floor is relative to
the fitted range, so it needs no unit of y and keeps the invariance below.

Every decision is invariant under y -> c y + d with c > 0: the RSS of every model scales
by c^2, so all BIC differences, the chosen breaks and the slopes' signs are unchanged,
and the rise and fall fractions are ratios of differences of fitted values.

The detector's stated behaviour on synthetic curves (:func:`synthetic_values`,
``benchmarks/inflection_rates.py`` prints the measured rates): with noise sd a fiftieth
of the curve's range, no monotone, saturating or small-dip curve can pass rule 4 (a
false fall of a tenth of the range is more than five standard deviations of the median
of 5 seeds), and a curve that gives back half its range passes every rule.
"""

from __future__ import annotations

import functools
import math
from typing import Optional

import attrs
import numpy as np

from .decision import wilson_interval
from .errors import ParameterError

__all__ = ["MIN_POINTS", "MIN_FALL", "STATISTICS", "bic", "Fit", "fit_line", "fit_segments", "ChangePoint",
           "detect_inflection", "median_curve", "bootstrap_medians", "Inflection", "inflection", "SHAPES",
           "INFLECTED", "synthetic_mean", "synthetic_values", "ranks", "spearman", "Trend", "trend"]

#: Fewest finite points on which a change point is looked for.
MIN_POINTS = 5
#: Default effect-size floor: the fall after the break must exceed this fraction of the fitted range.
MIN_FALL = 0.1
_REL_FLOOR = 1e-9  # residuals below this fraction of the curve's spread count as zero
_TIE = 1e-9
#: The statistics recorded on every bootstrap sample (see :attr:`Inflection.bootstrap`).
STATISTICS = ("delta_bic", "delta_bic_fall", "rise_fraction", "fall_fraction")


def _curve(x, y):
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if x.shape != y.shape:
        raise ParameterError(f"x has {x.size} points and y {y.size}; give one y per x")
    if x.size and not np.all(np.diff(x) > 0):
        raise ParameterError("x must be strictly increasing; sort the points of the axis")
    return x, y


def bic(rss: float, n: int, k: int, floor: float = 0.0) -> float:
    """Bayesian information criterion of a least-squares fit: n ln(max(RSS, floor) / n) + k ln n.


    Parameters
    ----------
    rss : float
        Residual sum of squares.
    n : int
        Number of points.
    k : int
        Number of fitted parameters.
    floor : float, optional
        Least RSS counted (residuals below it are rounding).

    Returns
    -------
    float

    Examples
    --------
    >>> round(bic(2.0, 8, 2), 4)
    -6.9315
    """
    return float(n * math.log(max(rss, floor, np.finfo(float).tiny) / n) + k * math.log(n))


@attrs.frozen
class Fit:
    """One least-squares model of a curve: its name, number of parameters k (the break
    counted), RSS, BIC, coefficients, the break x (NaN for the line) and the slopes
    before and after it (equal for the line).

    Parameters
    ----------
    model : str
        "line", "hinge" or "plateau".
    k : int
    rss, bic : float
    coef : tuple of float
    break_x, slope_before, slope_after : float

    Examples
    --------
    >>> f = fit_line([0.0, 1.0, 2.0], [0.0, 1.0, 2.0])
    >>> f.model, f.k, bool(np.isnan(f.break_x))
    ('line', 2, True)
    """

    model: str
    k: int
    rss: float
    bic: float
    coef: tuple
    break_x: float
    slope_before: float
    slope_after: float


@functools.lru_cache(maxsize=512)
def _design(x_bytes: bytes, model: str, j: int):
    x = np.frombuffer(x_bytes, dtype=np.float64)
    one = np.ones_like(x)
    if model == "line":
        X = np.column_stack([one, x])
    elif model == "plateau":
        X = np.column_stack([one, np.minimum(x, x[j])])
    else:
        X = np.column_stack([one, x, np.maximum(x - x[j], 0.0)])
    return X, np.linalg.pinv(X)  # least squares: coef = pinv(X) y (cached: bootstraps reuse one x)


def _lstsq(x: np.ndarray, y: np.ndarray, model: str, j: int = 0):
    X, P = _design(np.ascontiguousarray(x, dtype=np.float64).tobytes(), model, j)
    coef = P @ y
    r = y - X @ coef
    return coef, float(r @ r)


def fit_line(x, y, floor: float = 0.0) -> Fit:
    """The straight line y = a + b x by least squares (k = 2).


    Parameters
    ----------
    x, y : array-like [n]
        The curve; ``x`` strictly increasing.
    floor : float, optional
        Least RSS counted in the BIC.

    Returns
    -------
    Fit
        ``model`` "line", ``break_x`` NaN, both slopes b.

    Raises
    ------
    ParameterError
        When ``x`` and ``y`` differ in length or ``x`` is not strictly increasing.

    Examples
    --------
    >>> f = fit_line([0.0, 1.0, 2.0], [1.0, 3.0, 5.0])
    >>> [round(c, 6) for c in f.coef], round(f.slope_before, 6)
    ([1.0, 2.0], 2.0)
    """
    x, y = _curve(x, y)
    coef, rss = _lstsq(x, y, "line")
    b = float(coef[1])
    return Fit("line", 2, rss, bic(rss, x.size, 2, floor), tuple(float(c) for c in coef), math.nan, b, b)


def fit_segments(x, y, plateau: bool = False, floor: float = 0.0) -> Fit:
    """The best continuous two-segment fit with its break at an interior point.

    Hinge (``plateau=False``, k = 4): y = a + b x + c max(x - x_j, 0), slopes b then b + c.
    Plateau (``plateau=True``, k = 3): y = a + b min(x, x_j), slopes b then 0.
    The break x_j runs over x_1 .. x_{n-2}; the one with the least RSS is kept (the first
    of near ties, so the choice does not depend on rounding).


    Parameters
    ----------
    x, y : array-like [n]
        The curve; ``x`` strictly increasing, n >= 3.
    plateau : bool, optional
        Fit the plateau model instead of the hinge.
    floor : float, optional
        Least RSS counted in the BIC.

    Returns
    -------
    Fit
        ``model`` "hinge" or "plateau", with ``break_x`` = x_j.

    Raises
    ------
    ParameterError
        When there are fewer than 3 points, ``x`` and ``y`` differ in length, or ``x``
        is not strictly increasing.

    Examples
    --------
    >>> x = [0.0, 1.0, 2.0, 3.0, 4.0]
    >>> f = fit_segments(x, [0.0, 1.0, 2.0, 1.0, 0.0])
    >>> f.break_x, round(f.slope_before, 6), round(f.slope_after, 6), f.rss < 1e-20
    (2.0, 1.0, -1.0, True)
    """
    x, y = _curve(x, y)
    n = x.size
    if n < 3:
        raise ParameterError(f"a two-segment fit needs at least 3 points, got {n}")
    fits = []
    for j in range(1, n - 1):
        coef, rss = _lstsq(x, y, "plateau" if plateau else "hinge", j)
        fits.append((rss, j, coef))
    best = min(r for r, _, _ in fits)
    rss, j, coef = next(f for f in fits if f[0] <= best * (1 + _TIE) + floor)
    k = 3 if plateau else 4
    b = float(coef[1])
    after = 0.0 if plateau else b + float(coef[2])
    return Fit("plateau" if plateau else "hinge", k, rss, bic(rss, n, k, floor), tuple(float(c) for c in coef),
               float(x[j]), b, after)


def _hinge_at(fit: Fit, x: float) -> float:
    a, b, c = fit.coef
    return float(a + b * x + c * max(x - fit.break_x, 0.0))


@attrs.frozen
class ChangePoint:
    """The change-point analysis of one curve (rules 1-4 of the module docstring).

    ``supported``: a change point beats the line by more than ``margin`` in BIC;
    ``inflection``: supported, rising before, falling after, the fall beats a plateau by
    more than ``margin`` and gives back more than ``min_fall`` of the fitted range.
    ``span``: the first and last x of the finite points. No fits (None) when there were
    fewer than MIN_POINTS finite points or y was constant. :func:`detect_inflection`
    builds it.

    Parameters
    ----------
    n : int
        The number of finite points.
    line, hinge, plateau : Fit or None
        The three models' best fits (None when the curve could not be tested).
    margin : float
        The BIC margin of rules 1 and 3.
    supported : bool
        Rule 1: BIC(line) - BIC(hinge) > margin.
    inflection : bool
        Rules 1-4 all hold.
    min_fall : float, optional
        The effect-size floor of rule 4 (default :data:`MIN_FALL`).
    span : (float, float), optional
        The first and last x of the finite points (NaN when there are none).

    Examples
    --------
    >>> x = np.arange(9.0)
    >>> cp = detect_inflection(x, np.minimum(x, 4.0) - 0.5 * np.maximum(x - 4.0, 0.0))
    >>> cp.n, cp.supported, cp.inflection, cp.span, cp.hinge.model
    (9, True, True, (0.0, 8.0), 'hinge')
    >>> detect_inflection(x[:3], x[:3]).hinge is None
    True
    """

    n: int
    line: Optional[Fit]
    hinge: Optional[Fit]
    plateau: Optional[Fit]
    margin: float
    supported: bool
    inflection: bool
    min_fall: float = MIN_FALL
    span: tuple = (math.nan, math.nan)

    @property
    def analysed(self) -> bool:
        """Whether the curve could be tested (enough finite points, not constant).

        Returns
        -------
        bool
            True when the hinge was fitted.

        Examples
        --------
        >>> x = np.arange(9.0)
        >>> detect_inflection(x, x).analysed, detect_inflection(x, np.ones(9)).analysed
        (True, False)
        """
        return self.hinge is not None

    def explain(self, at=lambda x: f"x = {x:g}") -> str:
        """Why there is or is not an inflection, in words; ``at(x)`` names a location.

        Parameters
        ----------
        at : callable, optional
            x -> the words for that location (default ``"x = {x:g}"``).

        Returns
        -------
        str
            The first of rules 1-4 that fails, with its numbers, or the inflection's slopes,
            break, fall fraction and BIC differences.

        Examples
        --------
        >>> x = np.arange(9.0)
        >>> cp = detect_inflection(x, np.minimum(x, 4.0) - 0.5 * np.maximum(x - 4.0, 0.0))
        >>> cp.explain(lambda v: f"width {2 ** v:g}")[:75]
        'rises (slope 1) up to width 16, then falls (slope -0.5), giving back 50% of'
        >>> detect_inflection(x, np.ones(9)).explain()
        'the curve is constant'
        >>> detect_inflection([0.0, 1.0, 2.0], [1.0, 2.0, 3.0]).explain()
        'too few finite points (3 < 5) to look for a change point'
        """
        if self.hinge is None:
            if self.n < MIN_POINTS:
                return f"too few finite points ({self.n} < {MIN_POINTS}) to look for a change point"
            return "the curve is constant"
        h, m = self.hinge, self.margin
        if not self.supported:
            return f"no change point: a line fits as well (BIC(line) - BIC(hinge) = {self.delta_bic:.3g} <= {m:g})"
        if not h.slope_before > 0 > h.slope_after:
            return (f"a change point at {at(h.break_x)}, but not a rise then a fall "
                    f"(slopes {h.slope_before:.3g} then {h.slope_after:.3g})")
        if not self.delta_bic_fall > m:
            return (f"a rise that levels off at {at(h.break_x)}: the fall after it is not supported "
                    f"(BIC(plateau) - BIC(hinge) = {self.delta_bic_fall:.3g} <= {m:g})")
        if not self.inflection:
            return (f"a rise that levels off at {at(h.break_x)}: the fall after it gives back "
                    f"{self.fall_fraction:.1%} of the fitted range, not more than the effect-size floor "
                    f"{self.min_fall:.0%}")
        return (f"rises (slope {h.slope_before:.3g}) up to {at(h.break_x)}, then falls (slope {h.slope_after:.3g}), "
                f"giving back {self.fall_fraction:.0%} of the fitted range; BIC(line) - BIC(hinge) = "
                f"{self.delta_bic:.3g}, BIC(plateau) - BIC(hinge) = {self.delta_bic_fall:.3g}")

    @property
    def break_x(self) -> float:
        """The hinge's break (NaN when no hinge was fitted).

        Returns
        -------
        float

        Examples
        --------
        >>> x = np.arange(9.0)
        >>> cp = detect_inflection(x, np.minimum(x, 4.0) - 0.5 * np.maximum(x - 4.0, 0.0))
        >>> cp.break_x
        4.0
        """
        return self.hinge.break_x if self.hinge is not None else math.nan

    @property
    def delta_bic(self) -> float:
        """BIC(line) - BIC(hinge): the evidence for a change point (NaN when not fitted).

        Returns
        -------
        float
            Rule 1 asks that it exceed ``margin``.

        Examples
        --------
        >>> x = np.arange(9.0)
        >>> cp = detect_inflection(x, np.minimum(x, 4.0) - 0.5 * np.maximum(x - 4.0, 0.0))
        >>> bool(cp.delta_bic > cp.margin)
        True
        >>> detect_inflection(x[:3], x[:3]).delta_bic
        nan
        """
        return self.line.bic - self.hinge.bic if self.hinge is not None else math.nan

    @property
    def delta_bic_fall(self) -> float:
        """BIC(plateau) - BIC(hinge): the evidence that y falls after the break rather than levelling off.

        Returns
        -------
        float
            Rule 3 asks that it exceed ``margin``; NaN when not fitted.

        Examples
        --------
        >>> x = np.arange(9.0)
        >>> cp = detect_inflection(x, np.minimum(x, 4.0) - 0.5 * np.maximum(x - 4.0, 0.0))
        >>> bool(cp.delta_bic_fall > cp.margin)
        True
        >>> bool(detect_inflection(x, np.minimum(x, 4.0)).delta_bic_fall > 2.0)  # levels off
        False
        """
        return self.plateau.bic - self.hinge.bic if self.hinge is not None else math.nan

    def _fitted(self) -> tuple:
        h = self.hinge
        return _hinge_at(h, self.span[0]), _hinge_at(h, h.break_x), _hinge_at(h, self.span[1])

    @property
    def fitted_range(self) -> float:
        """R = max - min of the fitted hinge over the data (at x_0, the break or x_last); NaN when not fitted.

        Returns
        -------
        float

        Examples
        --------
        >>> x = np.arange(9.0)
        >>> cp = detect_inflection(x, np.minimum(x, 4.0) - 0.5 * np.maximum(x - 4.0, 0.0))
        >>> round(cp.fitted_range, 6)
        4.0
        """
        if self.hinge is None:
            return math.nan
        v = self._fitted()
        return max(v) - min(v)

    @property
    def rise(self) -> float:
        """yhat(break) - yhat(x_0) on the fitted hinge (NaN when not fitted).

        Returns
        -------
        float

        Examples
        --------
        >>> x = np.arange(9.0)
        >>> cp = detect_inflection(x, np.minimum(x, 4.0) - 0.5 * np.maximum(x - 4.0, 0.0))
        >>> round(cp.rise, 6)
        4.0
        """
        if self.hinge is None:
            return math.nan
        first, at, _ = self._fitted()
        return at - first

    @property
    def fall(self) -> float:
        """yhat(break) - yhat(x_last) on the fitted hinge: positive when y falls after the break.

        Returns
        -------
        float
            NaN when not fitted.

        Examples
        --------
        >>> x = np.arange(9.0)
        >>> cp = detect_inflection(x, np.minimum(x, 4.0) - 0.5 * np.maximum(x - 4.0, 0.0))
        >>> round(cp.fall, 6)
        2.0
        """
        if self.hinge is None:
            return math.nan
        _, at, last = self._fitted()
        return at - last

    @property
    def fall_fraction(self) -> float:
        """fall / R: the share of the fitted range given back after the break (in [-1, 1]; NaN when not fitted).

        Returns
        -------
        float

        Examples
        --------
        >>> x = np.arange(9.0)
        >>> round(detect_inflection(x, np.minimum(x, 4.0) - 0.5 * np.maximum(x - 4.0, 0.0)).fall_fraction, 6)
        0.5
        """
        r = self.fitted_range
        return self.fall / r if r > 0 else math.nan

    @property
    def rise_fraction(self) -> float:
        """rise / R: the share of the fitted range gained before the break (NaN when not fitted).

        Returns
        -------
        float

        Examples
        --------
        >>> x = np.arange(9.0)
        >>> cp = detect_inflection(x, np.minimum(x, 4.0) - 0.5 * np.maximum(x - 4.0, 0.0))
        >>> round(cp.rise_fraction, 6)
        1.0
        """
        r = self.fitted_range
        return self.rise / r if r > 0 else math.nan

    def statistic(self, name: str) -> float:
        """One of :data:`STATISTICS` by name.

        Parameters
        ----------
        name : str
            One of :data:`STATISTICS`.

        Returns
        -------
        float
            The property of that name.

        Raises
        ------
        ParameterError
            When ``name`` is not one of :data:`STATISTICS`.

        Examples
        --------
        >>> x = np.arange(9.0)
        >>> cp = detect_inflection(x, np.minimum(x, 4.0) - 0.5 * np.maximum(x - 4.0, 0.0))
        >>> round(cp.statistic("fall_fraction"), 12)  # a least-squares fit's: 0.5 to float rounding
        0.5
        >>> cp.statistic("slope")
        Traceback (most recent call last):
        ...
        hierarchy.errors.ParameterError: statistic 'slope' is not one of ('delta_bic', 'delta_bic_fall', 'rise_fraction', 'fall_fraction')
        """
        if name not in STATISTICS:
            raise ParameterError(f"statistic {name!r} is not one of {STATISTICS}")
        return float(getattr(self, name))


def _check_rule(margin, min_fall):
    if not (margin >= 0):
        raise ParameterError(f"margin={margin!r}; give a non-negative BIC margin such as 2")
    if not (0 <= min_fall < 1):
        raise ParameterError(f"min_fall={min_fall!r}; give the effect-size floor as a fraction in [0, 1) "
                             f"such as {MIN_FALL}")


def detect_inflection(x, y, margin: float = 2.0, min_fall: float = MIN_FALL) -> ChangePoint:
    """Is there an inflection beyond which y falls? Rules 1-4 of the module docstring.

    Non-finite points are dropped; with fewer than MIN_POINTS left, or a constant curve,
    nothing is supported.

    Parameters
    ----------
    x, y : array [n]
        The axis (strictly increasing) and the curve.
    margin : float
        The BIC margin of rules 1 and 3 (default 2).
    min_fall : float
        The effect-size floor of rule 4, a fraction of the fitted range (default
        :data:`MIN_FALL` = 0.1; 0 switches the floor off).

    Returns
    -------
    ChangePoint

    Raises
    ------
    ParameterError
        If x is not strictly increasing, x and y differ in length, margin < 0 or
        min_fall is outside [0, 1).

    Examples
    --------
    >>> x = np.arange(9.0)
    >>> peak = np.minimum(x, 4.0) - 1.5 * np.maximum(x - 4.0, 0.0)
    >>> noise = np.array([0.05, -0.03, 0.02, -0.04, 0.01, 0.03, -0.02, 0.04, -0.01])
    >>> cp = detect_inflection(x, peak + noise)
    >>> cp.inflection, cp.break_x
    (True, 4.0)
    >>> detect_inflection(x, 2.0 * x + noise).inflection
    False
    >>> dip = np.minimum(x, 4.0) - 0.05 * np.maximum(x - 4.0, 0.0)  # gives back 5% of its range
    >>> detect_inflection(x, dip).inflection, detect_inflection(x, dip, min_fall=0.0).inflection
    (False, True)
    """
    _check_rule(margin, min_fall)
    x, y = _curve(x, y)
    keep = np.isfinite(y)
    x, y = x[keep], y[keep]
    n = int(x.size)
    span = (float(x[0]), float(x[-1])) if n else (math.nan, math.nan)
    if n < MIN_POINTS:
        return ChangePoint(n, None, None, None, margin, False, False, min_fall, span)
    spread = float(y.max() - y.min())
    if not spread > 0:
        return ChangePoint(n, None, None, None, margin, False, False, min_fall, span)
    floor = n * (_REL_FLOOR * spread) ** 2
    line = fit_line(x, y, floor)
    hinge = fit_segments(x, y, False, floor)
    plateau = fit_segments(x, y, True, floor)
    supported = line.bic - hinge.bic > margin
    rise_fall = hinge.slope_before > 0 > hinge.slope_after
    falls = plateau.bic - hinge.bic > margin
    cp = ChangePoint(n, line, hinge, plateau, margin, bool(supported), False, min_fall, span)
    large = cp.fall_fraction > min_fall
    return attrs.evolve(cp, inflection=bool(supported and rise_fall and falls and large))


def _per_x(values) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise ParameterError(f"values of shape {v.shape}; give [points of x, seeds] (NaN for a missing or "
                             f"diverged seed)")
    return v




def median_curve(values) -> np.ndarray:
    """The median over seeds at each x: values [W, S] -> [W] (NaN where no seed is finite).


    Parameters
    ----------
    values : array-like [W, S]
        Per point of x, one value per seed (NaN for a missing one).

    Returns
    -------
    numpy.ndarray [W]

    Raises
    ------
    ParameterError
        When ``values`` is not two-dimensional.

    Examples
    --------
    >>> median_curve([[1.0, 3.0, float("nan")], [2.0, 2.0, 5.0]]).tolist()
    [2.0, 2.0]
    """
    v = _per_x(values)
    out = np.full(v.shape[0], np.nan)
    for i, row in enumerate(v):
        f = row[np.isfinite(row)]
        if f.size:
            out[i] = np.median(f)
    return out


def _usable(values, errors):
    """Values whose error is not finite are unknown for the bootstrap (NaN); errors -> zeros if None."""
    v = _per_x(values)
    if errors is None:
        return v, np.zeros(v.shape)
    e = np.asarray(errors, dtype=np.float64)
    if e.shape != v.shape:
        raise ParameterError(f"errors of shape {e.shape} do not match values {v.shape}; give one standard error "
                             f"per value (or None)")
    if np.any(e < 0):
        raise ParameterError("errors contain a negative standard error; give standard errors >= 0")
    ok = np.isfinite(e)
    return np.where(ok, v, np.nan), np.where(ok, e, 0.0)


def bootstrap_medians(values, n_boot: int, seed, errors=None) -> np.ndarray:
    """Bootstrap median curves [n_boot, W]: at each x, resample its finite seeds with
    replacement (as many as it has) and take the median; the points of x are resampled
    independently.

    With ``errors`` [W, S] (each value's own standard error, e.g. the limit estimator's),
    in every sample each seed's value is first moved by a normal draw of that standard
    deviation (one draw per seed and sample), then the seeds are resampled, and a value whose error is not finite (a limit out of reach) is left
    out at its x. This is conservative: the random part of such an error is already in the
    seeds' spread; the draw stands for what each finite run leaves unknown of its limit.


    Parameters
    ----------
    values : array-like [W, S]
        Per point of x, one value per seed.
    n_boot : int
        How many bootstrap curves.
    seed : int or numpy.random.SeedSequence
        The resampling stream's seed.
    errors : array-like [W, S], optional
        Each value's own standard error.

    Returns
    -------
    numpy.ndarray [n_boot, W]

    Raises
    ------
    ParameterError
        When ``values`` (or ``errors``) has the wrong shape.

    Examples
    --------
    >>> b = bootstrap_medians([[1.0, 1.0], [2.0, 4.0]], 200, np.random.SeedSequence(0))
    >>> b.shape, bool(np.all(b[:, 0] == 1.0)), bool(np.all((b[:, 1] >= 2) & (b[:, 1] <= 4)))
    ((200, 2), True, True)
    """
    v, e = _usable(values, errors)
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ParameterError(f"n_boot={n_boot!r}; give a positive number of bootstrap samples such as 1000")
    rng = np.random.default_rng(seed)
    out = np.full((int(n_boot), v.shape[0]), np.nan)
    for i, row in enumerate(v):
        ok = np.isfinite(row)
        f, fe = row[ok], e[i][ok]
        if f.size:
            idx = rng.integers(0, f.size, size=(int(n_boot), f.size))
            if np.any(fe > 0):  # one draw per seed and sample: a seed drawn twice keeps its one error
                moved = f[None, :] + fe[None, :] * rng.standard_normal((int(n_boot), f.size))
                draw = np.take_along_axis(moved, idx, axis=1)
            else:
                draw = f[idx]
            out[:, i] = np.median(draw, axis=1)
    return out


def _sd(a) -> float:
    a = np.asarray(a, dtype=np.float64)
    a = a[np.isfinite(a)]
    return float(a.std(ddof=1)) if a.size >= 2 else math.nan


@attrs.frozen
class Inflection:
    """An inflection estimate with its bootstrap uncertainty and its per-seed replication.

    ``observed``: the analysis of the median curve. ``support``: the fraction of the
    testable bootstrap median curves (``tested`` of ``n_boot``: at least MIN_POINTS finite
    points and not constant; NaN when none is) on which an inflection is detected.
    ``locations``: the break
    x of each of those. ``interval``: the 5th, 50th and 95th percentiles of the
    locations (nearest grid points; NaN when none). ``found``: observed inflection and
    ``support >= min_support``. ``bootstrap``: {statistic: tuple over the bootstrap
    samples} for each of :data:`STATISTICS` (NaN where a sample could not be tested), so
    that every number of the median curve has a bootstrap standard error
    (:meth:`error`). ``per_seed``: the analysis of each seed's own curve (column of
    values); ``seed_hits`` of the ``seed_n`` testable ones show the inflection.
    :func:`inflection` builds it.

    Parameters
    ----------
    observed : ChangePoint
        The analysis of the median curve.
    support : float
        The share of the testable bootstrap median curves showing an inflection (NaN when none is testable).
    locations : tuple of float
        The break x on each bootstrap curve showing one.
    interval : (float, float, float)
        The 5th, 50th and 95th percentiles of ``locations`` (NaN when empty).
    n_boot : int
        Bootstrap samples drawn.
    min_support : float
        The support ``found`` asks for.
    found : bool
        ``observed.inflection`` and ``support >= min_support``.
    bootstrap : dict, optional
        {statistic: tuple over the bootstrap samples} for each of :data:`STATISTICS`.
    per_seed : tuple of ChangePoint, optional
        The analysis of each seed's own curve.
    tested : int, optional
        How many bootstrap curves could be tested (-1: not recorded).

    Examples
    --------
    >>> x = np.arange(9.0)
    >>> peak = np.minimum(x, 4.0) - 0.5 * np.maximum(x - 4.0, 0.0)
    >>> est = inflection(x, np.stack([peak, peak, 2.0 * x], axis=1), n_boot=20)  # seeds: 2 peak, 1 rises
    >>> est.found, est.observed.break_x, est.support, est.tested, est.interval
    (True, 4.0, 0.5, 20, (2.0, 5.0, 7.0))
    """

    observed: ChangePoint
    support: float
    locations: tuple
    interval: tuple
    n_boot: int
    min_support: float
    found: bool
    bootstrap: dict = attrs.field(factory=dict)
    per_seed: tuple = ()
    tested: int = -1

    @property
    def seed_n(self) -> int:
        """Seeds whose own curve could be tested (>= MIN_POINTS finite points, not constant).

        Returns
        -------
        int

        Examples
        --------
        >>> x = np.arange(9.0)
        >>> peak = np.minimum(x, 4.0) - 0.5 * np.maximum(x - 4.0, 0.0)
        >>> est = inflection(x, np.stack([peak, peak, 2.0 * x], axis=1), n_boot=20)  # seeds: 2 peak, 1 rises
        >>> est.seed_n
        3
        """
        return sum(cp.analysed for cp in self.per_seed)

    @property
    def seed_hits(self) -> int:
        """Seeds whose own curve shows the inflection (rules 1-4).

        Returns
        -------
        int

        Examples
        --------
        >>> x = np.arange(9.0)
        >>> peak = np.minimum(x, 4.0) - 0.5 * np.maximum(x - 4.0, 0.0)
        >>> est = inflection(x, np.stack([peak, peak, 2.0 * x], axis=1), n_boot=20)  # seeds: 2 peak, 1 rises
        >>> est.seed_hits
        2
        """
        return sum(cp.inflection for cp in self.per_seed)

    @property
    def seed_share(self) -> float:
        """seed_hits / seed_n (NaN when no seed could be tested).

        Returns
        -------
        float

        Examples
        --------
        >>> x = np.arange(9.0)
        >>> peak = np.minimum(x, 4.0) - 0.5 * np.maximum(x - 4.0, 0.0)
        >>> est = inflection(x, np.stack([peak, peak, 2.0 * x], axis=1), n_boot=20)  # seeds: 2 peak, 1 rises
        >>> round(est.seed_share, 4)
        0.6667
        """
        return self.seed_hits / self.seed_n if self.seed_n else math.nan

    @property
    def seed_interval(self) -> tuple:
        """The Wilson 95% interval of the share of seeds showing the inflection.

        Returns
        -------
        (float, float)
            (0, 1) when no seed could be tested.

        Examples
        --------
        >>> x = np.arange(9.0)
        >>> peak = np.minimum(x, 4.0) - 0.5 * np.maximum(x - 4.0, 0.0)
        >>> est = inflection(x, np.stack([peak, peak, 2.0 * x], axis=1), n_boot=20)  # seeds: 2 peak, 1 rises
        >>> tuple(round(v, 2) for v in est.seed_interval)
        (0.21, 0.94)
        """
        return wilson_interval(self.seed_hits, self.seed_n)

    def error(self, name: str) -> float:
        """Bootstrap standard error of statistic ``name`` (:data:`STATISTICS`): the standard
        deviation of its values over the testable bootstrap samples (NaN with fewer than 2).

        Parameters
        ----------
        name : str
            One of :data:`STATISTICS`.

        Returns
        -------
        float

        Raises
        ------
        ParameterError
            When ``name`` is not one of :data:`STATISTICS`.

        Examples
        --------
        >>> x = np.arange(9.0)
        >>> peak = np.minimum(x, 4.0) - 0.5 * np.maximum(x - 4.0, 0.0)
        >>> est = inflection(x, np.stack([peak, peak, 2.0 * x], axis=1), n_boot=20)  # seeds: 2 peak, 1 rises
        >>> round(est.error("fall_fraction"), 4)
        0.7592
        >>> est.error("slope")
        Traceback (most recent call last):
        ...
        hierarchy.errors.ParameterError: statistic 'slope' is not one of ('delta_bic', 'delta_bic_fall', 'rise_fraction', 'fall_fraction')
        """
        if name not in STATISTICS:
            raise ParameterError(f"statistic {name!r} is not one of {STATISTICS}")
        return _sd(self.bootstrap.get(name, ()))

    def describe_seeds(self) -> str:
        """The per-seed replication in words.

        Returns
        -------
        str
            "seeds' own curves: h of n show it (95% interval [lo, hi])", or "... none could be tested".

        Examples
        --------
        >>> x = np.arange(6.0)
        >>> inflection(x, np.tile(x, (3, 1)).T, n_boot=20).describe_seeds()
        "seeds' own curves: 0 of 3 show it (95% interval [0, 0.56])"
        """
        if not self.seed_n:
            return "seeds' own curves: none could be tested"
        lo, hi = self.seed_interval
        return f"seeds' own curves: {self.seed_hits} of {self.seed_n} show it (95% interval [{lo:.2g}, {hi:.2g}])"

    def describe(self, name: str = "x", to_x=lambda x: x) -> str:
        """A one-line verdict, locations shown as ``name`` ``to_x(x)`` (default: x itself).

        Parameters
        ----------
        name : str, optional
            What the axis is called (default "x").
        to_x : callable, optional
            x -> the value shown (e.g. ``lambda v: 2 ** v`` for an axis of log2 sizes).

        Returns
        -------
        str
            "inflection at ..." with the median curve's explanation, the bootstrap support
            and location interval and the seeds' replication, or "no inflection found: "
            and why.

        Examples
        --------
        >>> x = np.arange(6.0)
        >>> inflection(x, np.tile(x, (3, 1)).T, n_boot=20).describe()[:40]
        'no inflection found: no change point: a '
        """
        fmt = lambda v: f"{to_x(v):g}"
        at = lambda v: f"{name} {fmt(v)}"
        boot = f"detected in {self.support:.0%} of {self.n_boot} bootstrap samples over seeds"
        if 0 <= self.tested < self.n_boot:
            boot += f" (of the {self.tested} that could be tested)"
        seeds = self.describe_seeds()
        if self.found:
            lo, mid, hi = self.interval
            return (f"inflection at {name} {fmt(self.observed.break_x)} ({self.observed.explain(at)}); {boot}, "
                    f"location 90% interval [{fmt(lo)}, {fmt(hi)}]; {seeds}")
        why = self.observed.explain(at) if not self.observed.inflection else (
            f"the median curve shows one at {name} {fmt(self.observed.break_x)}, but it is {boot} "
            f"(< {self.min_support:.0%} required)")
        return f"no inflection found: {why}" + ("" if self.observed.inflection else f"; {boot}") + f"; {seeds}"


def inflection(x, values, n_boot: int = 1000, seed=0, margin: float = 2.0, min_support: float = 0.5,
               min_fall: float = MIN_FALL, errors=None) -> Inflection:
    """Detect an inflection on the median curve of ``values`` [W, S] against ``x`` [W], with a
    bootstrap over seeds, and on each seed's own curve.

    The median curve is tested by :func:`detect_inflection` (rules 1-4), and so is every
    bootstrap median curve (:func:`bootstrap_medians`, moved by ``errors`` when given).
    Found when the median curve shows one and at least ``min_support`` of the bootstrap
    samples do. Besides, every column of ``values`` (one seed's own curve) is tested by the
    same rule: ``seed_hits`` of ``seed_n`` show it, with a Wilson 95% interval. The support
    counts only the bootstrap curves that could be tested (``tested``), so values left
    out for an infinite error do not count as evidence either way.

    Parameters
    ----------
    x : array [W]
        The axis, strictly increasing.
    values : array [W, S]
        The figure per point of x and seed (NaN where missing or diverged).
    n_boot, seed
        Bootstrap samples and their seed (any ``numpy.random.default_rng`` seed).
    margin, min_fall
        The rule of :func:`detect_inflection`.
    min_support : float
        Fraction of bootstrap samples that must show it (default 0.5).
    errors : array [W, S] or None
        Each value's own standard error (see :func:`bootstrap_medians`).

    Returns
    -------
    Inflection

    Raises
    ------
    ParameterError
        If shapes disagree or a parameter is outside its range.

    Examples
    --------
    >>> x = np.arange(9.0)
    >>> peak = np.minimum(x, 5.0) - 2.0 * np.maximum(x - 5.0, 0.0)
    >>> rng = np.random.default_rng(1)
    >>> est = inflection(x, peak[:, None] + 0.1 * rng.standard_normal((9, 5)), n_boot=200)
    >>> est.found, est.observed.break_x, est.support > 0.9, est.seed_hits
    (True, 5.0, True, 5)
    """
    if not (0.0 <= min_support <= 1.0):
        raise ParameterError(f"min_support={min_support!r}; give a fraction between 0 and 1 such as 0.5")
    _check_rule(margin, min_fall)
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    v = _per_x(values)
    if v.shape[0] != x.size:
        raise ParameterError(f"values have {v.shape[0]} points of x but x has {x.size}; give one row per x")
    observed = detect_inflection(x, median_curve(v), margin, min_fall)
    locs = []
    tested = 0
    stats = {k: [] for k in STATISTICS}
    for curve in bootstrap_medians(v, n_boot, seed, errors):
        cp = detect_inflection(x, curve, margin, min_fall)
        tested += cp.analysed
        for k in STATISTICS:
            stats[k].append(cp.statistic(k))
        if cp.inflection:
            locs.append(cp.break_x)
    support = len(locs) / tested if tested else math.nan
    interval = (tuple(float(q) for q in np.percentile(locs, [5, 50, 95], method="nearest")) if locs
                else (math.nan,) * 3)
    per_seed = tuple(detect_inflection(x, v[:, s], margin, min_fall) for s in range(v.shape[1]))
    return Inflection(observed, support, tuple(locs), interval, int(n_boot), float(min_support),
                      bool(observed.inflection and support >= min_support),
                      {k: tuple(s) for k, s in stats.items()}, per_seed, tested)


# -- synthetic curves: the detector's test bench --------------------------------------------

#: Synthetic shapes on x = 0 .. 8, each with range 1 (so a noise sd is a fraction of the range),
#: and whether the detector should call an inflection on them.
SHAPES = {
    "rising": "a straight rise, y = x / 8 (no inflection)",
    "saturating": "a rise that levels off, (1 - exp(-x / 1.5)) / (1 - exp(-8 / 1.5)) (no inflection)",
    "small dip": "a rise to 1 at x = 5, then a fall of 0.02 by x = 8: gives back 2% (below the floor: no inflection)",
    "inflection": "a rise to 1 at x = 5, then a fall of 0.5 by x = 8: gives back half (a clear inflection)",
    "constant": "y = 0, noise only (no inflection)",
    "collapse in 2 of 5 seeds": "seeds 0 and 1 rise to 1 at x = 5 and fall back to 0 by x = 8, the others "
                                "saturate (the median curve has no inflection; 2 of 5 seeds' own curves do)",
}
INFLECTED = {"inflection"}


def synthetic_mean(shape: str, x) -> np.ndarray:
    """The noiseless curve of ``shape`` (:data:`SHAPES`) at ``x``; for the partial collapse, the
    curve of the collapsing seeds.


    Parameters
    ----------
    shape : str
        One of :data:`SHAPES`.
    x : array-like
        Where to evaluate it.

    Returns
    -------
    numpy.ndarray
        The curve at ``x``.

    Raises
    ------
    ParameterError
        When ``shape`` is not one of :data:`SHAPES`.

    Examples
    --------
    >>> synthetic_mean("inflection", np.arange(9.0))[[0, 5, 8]].tolist()
    [0.0, 1.0, 0.5]
    """
    x = np.asarray(x, dtype=np.float64)
    peak = lambda fall: np.minimum(x, 5.0) / 5.0 - fall * np.maximum(x - 5.0, 0.0) / 3.0
    curves = {
        "rising": lambda: x / 8.0,
        "saturating": lambda: (1 - np.exp(-x / 1.5)) / (1 - np.exp(-8 / 1.5)),
        "small dip": lambda: peak(0.02),
        "inflection": lambda: peak(0.5),
        "constant": lambda: np.zeros_like(x),
        "collapse in 2 of 5 seeds": lambda: peak(1.0),
    }
    if shape not in curves:
        raise ParameterError(f"shape {shape!r} is not one of {sorted(curves)}")
    return curves[shape]()


def synthetic_values(shape: str, noise: float, seed, seeds: int = 5, x=None) -> np.ndarray:
    """Synthetic measured values [W, seeds]: ``synthetic_mean(shape, x)`` plus independent
    normal noise of sd ``noise`` per value (x defaults to 0, 1, ..., 8).
    For "collapse in 2 of 5 seeds" the first two columns collapse, the others saturate.


    Parameters
    ----------
    shape : str
        One of :data:`SHAPES`.
    noise : float
        Standard deviation of the noise (>= 0).
    seed : int or numpy.random.SeedSequence
        The noise's seed.
    seeds : int, optional
        Columns (seeds) to draw.
    x : array-like, optional
        The points of x.

    Returns
    -------
    numpy.ndarray [W, seeds]

    Raises
    ------
    ParameterError
        When ``noise`` is negative or ``shape`` is unknown.

    Examples
    --------
    >>> synthetic_values("rising", 0.0, 0, seeds=2)[:, 0].tolist() == (np.arange(9) / 8).tolist()
    True
    """
    x = np.arange(9.0) if x is None else np.asarray(x, dtype=np.float64)
    if not (noise >= 0):
        raise ParameterError(f"noise={noise!r}; give a non-negative noise standard deviation")
    rng = np.random.default_rng(seed)
    mean = np.repeat(synthetic_mean(shape, x)[:, None], seeds, axis=1)
    if shape == "collapse in 2 of 5 seeds":
        mean[:, min(2, seeds):] = synthetic_mean("saturating", x)[:, None]
    return mean + noise * rng.standard_normal(mean.shape)


def ranks(v) -> np.ndarray:
    """Ranks 1..n of ``v``, ties sharing their average rank.


    Parameters
    ----------
    v : array-like [n]

    Returns
    -------
    numpy.ndarray [n]
        Float ranks.

    Examples
    --------
    >>> ranks([3.0, 1.0, 3.0, 2.0]).tolist()
    [3.5, 1.0, 3.5, 2.0]
    """
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    order = np.argsort(v, kind="stable")
    r = np.empty(v.size)
    r[order] = np.arange(1, v.size + 1)
    for value in np.unique(v):
        tied = v == value
        if tied.sum() > 1:
            r[tied] = r[tied].mean()
    return r


def spearman(x, y) -> float:
    """Spearman's rank correlation: the Pearson correlation of ranks(x) and ranks(y) over
    the points where both are finite; NaN with fewer than 3 such points or a constant side.


    Parameters
    ----------
    x, y : array-like [n]

    Returns
    -------
    float
        rho in [-1, 1], or NaN.

    Examples
    --------
    >>> spearman([1, 2, 3, 4], [1.0, 4.0, 9.0, 16.0]), spearman([1, 2, 3], [3.0, 2.0, 1.0])
    (1.0, -1.0)
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return math.nan
    rx, ry = ranks(x[ok]), ranks(y[ok])
    rx, ry = rx - rx.mean(), ry - ry.mean()
    d = math.sqrt(float(rx @ rx) * float(ry @ ry))
    return float(rx @ ry / d) if d > 0 else math.nan


@attrs.frozen
class Trend:
    """The monotone trend of a curve against x with its bootstrap over seeds.

    ``rho``: Spearman's correlation of the median curve with x; ``positive`` /
    ``negative``: the fractions of bootstrap median curves with rho > 0 / rho < 0;
    ``interval``: the 5th and 95th percentiles of the bootstrap rho; ``error``: the
    standard deviation of the bootstrap rho (its standard error).

    Parameters
    ----------
    rho, positive, negative : float
    interval : (float, float)
    n_boot : int
    error : float, optional

    Examples
    --------
    >>> t = Trend(-0.9, 0.0, 1.0, (-1.0, -0.8), 100)
    >>> t.falls(), t.rises()
    (True, False)
    """

    rho: float
    positive: float
    negative: float
    interval: tuple
    n_boot: int
    error: float = math.nan

    def rises(self, level: float = 0.95) -> bool:
        """y rises with x: rho > 0 on the median curve and in at least ``level`` of the bootstrap samples.

        Parameters
        ----------
        level : float, optional
            The share of bootstrap samples with rho > 0 it asks for (default 0.95).

        Returns
        -------
        bool

        Examples
        --------
        >>> t = Trend(0.9, 0.97, 0.03, (0.5, 1.0), 100)
        >>> t.rises(), t.rises(level=0.99)
        (True, False)
        """
        return bool(self.rho > 0 and self.positive >= level)

    def falls(self, level: float = 0.95) -> bool:
        """y falls with x: rho < 0 on the median curve and in at least ``level`` of the bootstrap samples.

        Parameters
        ----------
        level : float, optional
            The share of bootstrap samples with rho < 0 it asks for (default 0.95).

        Returns
        -------
        bool

        Examples
        --------
        >>> t = Trend(-0.9, 0.03, 0.97, (-1.0, -0.5), 100)
        >>> t.falls(), t.falls(level=0.99), t.rises()
        (True, False, False)
        """
        return bool(self.rho < 0 and self.negative >= level)


def trend(x, values, n_boot: int = 1000, seed=0, errors=None) -> Trend:
    """Spearman trend of the median curve of ``values`` [W, S] against ``x``, bootstrapped over
    seeds (:func:`bootstrap_medians`, moved by ``errors`` when given).


    Parameters
    ----------
    x : array-like [W]
        The points of x (e.g. widths).
    values : array-like [W, S]
        Per point, one value per seed.
    n_boot : int, optional
        Bootstrap curves.
    seed : int or numpy.random.SeedSequence, optional
        The bootstrap's seed.
    errors : array-like [W, S], optional
        Each value's own standard error.

    Returns
    -------
    Trend

    Raises
    ------
    ParameterError
        When ``values`` (or ``errors``) has the wrong shape.

    Examples
    --------
    >>> x = np.arange(6.0)
    >>> t = trend(x, x[:, None] + 0.01 * np.arange(4.0)[None, :], n_boot=50)
    >>> t.rho, t.rises(), t.error
    (1.0, True, 0.0)
    """
    v = _per_x(values)
    rho = spearman(x, median_curve(v))
    boot = np.array([spearman(x, c) for c in bootstrap_medians(v, n_boot, seed, errors)])
    f = boot[np.isfinite(boot)]
    interval = tuple(float(q) for q in np.percentile(f, [5, 95])) if f.size else (math.nan, math.nan)
    return Trend(rho, float(np.mean(boot > 0)), float(np.mean(boot < 0)), interval, int(n_boot), _sd(boot))
