"""The shape of a measured curve against capacity: its trend and its inflection.

Seed 000 asks whether alignment improves as capacity is added, and whether there is an
inflection: a capacity beyond which alignment declines (definitions.md, "Capacity").
Both are answered here on a measured curve y(x) (x = log2 of the width, y the median
over seeds of a figure such as alpha), and their uncertainty comes from a bootstrap
over seeds.

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

An **inflection beyond which y falls** is declared on a curve when all of:

1. a change point is supported: BIC(line) - BIC(hinge) > margin;
2. y rises before it and falls after it: slope before > 0 > slope after;
3. the fall is needed: BIC(plateau) - BIC(hinge) > margin (a curve that rises and
   then merely levels off is not an inflection).

``margin`` defaults to 2 (positive evidence on the Kass-Raftery scale). Every decision
is invariant under y -> c y + d with c > 0: the RSS of every model scales by c^2, so
all BIC differences, the chosen breaks and the slopes' signs are unchanged.
"""

from __future__ import annotations

import functools
import math
from typing import Optional

import attrs
import numpy as np

from .errors import ParameterError

#: Fewest finite points on which a change point is looked for.
MIN_POINTS = 5
_REL_FLOOR = 1e-9  # residuals below this fraction of the curve's spread count as zero
_TIE = 1e-9


def _curve(x, y):
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if x.shape != y.shape:
        raise ParameterError(f"x has {x.size} points and y {y.size}; give one y per x")
    if x.size and not np.all(np.diff(x) > 0):
        raise ParameterError("x must be strictly increasing (e.g. log2 of the widths in increasing order)")
    return x, y


def bic(rss: float, n: int, k: int, floor: float = 0.0) -> float:
    """Bayesian information criterion of a least-squares fit: n ln(max(RSS, floor) / n) + k ln n.

    Example:
        >>> round(bic(2.0, 8, 2), 4)
        -6.9315
    """
    return float(n * math.log(max(rss, floor, np.finfo(float).tiny) / n) + k * math.log(n))


@attrs.frozen
class Fit:
    """One least-squares model of a curve: its name, number of parameters k (the break
    counted), RSS, BIC, coefficients, the break x (NaN for the line) and the slopes
    before and after it (equal for the line)."""

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

    Example:
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

    Example:
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


@attrs.frozen
class ChangePoint:
    """The change-point analysis of one curve (see the module docstring for the rule).

    ``supported``: a change point beats the line by more than ``margin`` in BIC;
    ``inflection``: supported, rising before, falling after, and the fall beats a plateau.
    No fits (None) when there were fewer than MIN_POINTS finite points or y was constant.
    """

    n: int
    line: Optional[Fit]
    hinge: Optional[Fit]
    plateau: Optional[Fit]
    margin: float
    supported: bool
    inflection: bool

    def explain(self, at=lambda x: f"x = {x:g}") -> str:
        """Why there is or is not an inflection, in words; ``at(x)`` names a location.

        Example:
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
        if not self.inflection:
            return (f"a rise that levels off at {at(h.break_x)}: the fall after it is not supported "
                    f"(BIC(plateau) - BIC(hinge) = {self.delta_bic_fall:.3g} <= {m:g})")
        return (f"rises (slope {h.slope_before:.3g}) up to {at(h.break_x)}, then falls (slope {h.slope_after:.3g}); "
                f"BIC(line) - BIC(hinge) = {self.delta_bic:.3g}, BIC(plateau) - BIC(hinge) = {self.delta_bic_fall:.3g}")

    @property
    def break_x(self) -> float:
        """The hinge's break (NaN when no hinge was fitted)."""
        return self.hinge.break_x if self.hinge is not None else math.nan

    @property
    def delta_bic(self) -> float:
        """BIC(line) - BIC(hinge): the evidence for a change point (NaN when not fitted)."""
        return self.line.bic - self.hinge.bic if self.hinge is not None else math.nan

    @property
    def delta_bic_fall(self) -> float:
        """BIC(plateau) - BIC(hinge): the evidence that y falls after the break rather than levelling off."""
        return self.plateau.bic - self.hinge.bic if self.hinge is not None else math.nan


def detect_inflection(x, y, margin: float = 2.0) -> ChangePoint:
    """Is there an inflection beyond which y falls? Rules 1-3 of the module docstring.

    Non-finite points are dropped; with fewer than MIN_POINTS left, or a constant curve,
    nothing is supported.

    Example:
        >>> x = np.arange(9.0)
        >>> peak = np.minimum(x, 4.0) - 1.5 * np.maximum(x - 4.0, 0.0)
        >>> noise = np.array([0.05, -0.03, 0.02, -0.04, 0.01, 0.03, -0.02, 0.04, -0.01])
        >>> cp = detect_inflection(x, peak + noise)
        >>> cp.inflection, cp.break_x
        (True, 4.0)
        >>> detect_inflection(x, 2.0 * x + noise).inflection
        False
    """
    if not (margin >= 0):
        raise ParameterError(f"margin={margin!r}; give a non-negative BIC margin such as 2")
    x, y = _curve(x, y)
    keep = np.isfinite(y)
    x, y = x[keep], y[keep]
    n = int(x.size)
    if n < MIN_POINTS:
        return ChangePoint(n, None, None, None, margin, False, False)
    spread = float(y.max() - y.min())
    if not spread > 0:
        return ChangePoint(n, None, None, None, margin, False, False)
    floor = n * (_REL_FLOOR * spread) ** 2
    line = fit_line(x, y, floor)
    hinge = fit_segments(x, y, False, floor)
    plateau = fit_segments(x, y, True, floor)
    supported = line.bic - hinge.bic > margin
    rise_fall = hinge.slope_before > 0 > hinge.slope_after
    falls = plateau.bic - hinge.bic > margin
    inflection = bool(supported and rise_fall and falls)
    return ChangePoint(n, line, hinge, plateau, margin, bool(supported), inflection)


def _per_width(values) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise ParameterError(f"values of shape {v.shape}; give [widths, seeds] (NaN for a missing or diverged seed)")
    return v


def median_curve(values) -> np.ndarray:
    """The median over seeds at each width: values [W, S] -> [W] (NaN where no seed is finite).

    Example:
        >>> median_curve([[1.0, 3.0, float("nan")], [2.0, 2.0, 5.0]]).tolist()
        [2.0, 2.0]
    """
    v = _per_width(values)
    out = np.full(v.shape[0], np.nan)
    for i, row in enumerate(v):
        f = row[np.isfinite(row)]
        if f.size:
            out[i] = np.median(f)
    return out


def bootstrap_medians(values, n_boot: int, seed) -> np.ndarray:
    """Bootstrap median curves [n_boot, W]: at each width, resample its finite seeds with
    replacement (as many as it has) and take the median; widths are resampled independently.

    Example:
        >>> b = bootstrap_medians([[1.0, 1.0], [2.0, 4.0]], 200, np.random.SeedSequence(0))
        >>> b.shape, bool(np.all(b[:, 0] == 1.0)), bool(np.all((b[:, 1] >= 2) & (b[:, 1] <= 4)))
        ((200, 2), True, True)
    """
    v = _per_width(values)
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ParameterError(f"n_boot={n_boot!r}; give a positive number of bootstrap samples such as 1000")
    rng = np.random.default_rng(seed)
    out = np.full((int(n_boot), v.shape[0]), np.nan)
    for i, row in enumerate(v):
        f = row[np.isfinite(row)]
        if f.size:
            idx = rng.integers(0, f.size, size=(int(n_boot), f.size))
            out[:, i] = np.median(f[idx], axis=1)
    return out


@attrs.frozen
class Inflection:
    """An inflection estimate with its bootstrap uncertainty.

    ``observed``: the analysis of the median curve. ``support``: the fraction of the
    bootstrap median curves on which an inflection is detected. ``locations``: the break
    x of each of those. ``interval``: the 5th, 50th and 95th percentiles of the
    locations (nearest grid points; NaN when none). ``found``: observed inflection and
    ``support >= min_support``.
    """

    observed: ChangePoint
    support: float
    locations: tuple
    interval: tuple
    n_boot: int
    min_support: float
    found: bool

    def describe(self, to_width=lambda x: 2.0 ** x) -> str:
        """A one-line verdict, locations shown as widths by ``to_width`` (default 2**x).

        Example:
            >>> x = np.arange(6.0)
            >>> inflection(x, np.tile(x, (3, 1)).T, n_boot=20).describe()[:40]
            'no inflection found: no change point: a '
        """
        fmt = lambda x: f"{to_width(x):g}"
        at = lambda x: f"width {fmt(x)}"
        boot = f"detected in {self.support:.0%} of {self.n_boot} bootstrap samples over seeds"
        if self.found:
            lo, mid, hi = self.interval
            return (f"inflection at width {fmt(self.observed.break_x)} ({self.observed.explain(at)}); {boot}, "
                    f"location 90% interval [{fmt(lo)}, {fmt(hi)}]")
        why = self.observed.explain(at) if not self.observed.inflection else (
            f"the median curve shows one at width {fmt(self.observed.break_x)}, but it is {boot} "
            f"(< {self.min_support:.0%} required)")
        return f"no inflection found: {why}" + ("" if self.observed.inflection else f"; {boot}")


def inflection(x, values, n_boot: int = 1000, seed=0, margin: float = 2.0, min_support: float = 0.5) -> Inflection:
    """Detect an inflection on the median curve of ``values`` [W, S] against ``x`` [W], with a
    bootstrap over seeds (:func:`bootstrap_medians`, then :func:`detect_inflection` on each
    sample). Found when the median curve shows one and at least ``min_support`` of the
    bootstrap samples do.

    Example:
        >>> x = np.arange(9.0)
        >>> peak = np.minimum(x, 5.0) - 2.0 * np.maximum(x - 5.0, 0.0)
        >>> rng = np.random.default_rng(1)
        >>> est = inflection(x, peak[:, None] + 0.1 * rng.standard_normal((9, 5)), n_boot=200)
        >>> est.found, est.observed.break_x, est.support > 0.9
        (True, 5.0, True)
    """
    if not (0.0 <= min_support <= 1.0):
        raise ParameterError(f"min_support={min_support!r}; give a fraction between 0 and 1 such as 0.5")
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    v = _per_width(values)
    if v.shape[0] != x.size:
        raise ParameterError(f"values have {v.shape[0]} widths but x has {x.size}; give one row per x")
    observed = detect_inflection(x, median_curve(v), margin)
    locs = []
    for curve in bootstrap_medians(v, n_boot, seed):
        cp = detect_inflection(x, curve, margin)
        if cp.inflection:
            locs.append(cp.break_x)
    support = len(locs) / int(n_boot)
    interval = (tuple(float(q) for q in np.percentile(locs, [5, 50, 95], method="nearest")) if locs
                else (math.nan,) * 3)
    return Inflection(observed, support, tuple(locs), interval, int(n_boot), float(min_support),
                      bool(observed.inflection and support >= min_support))


def ranks(v) -> np.ndarray:
    """Ranks 1..n of ``v``, ties sharing their average rank.

    Example:
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

    Example:
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
    ``interval``: the 5th and 95th percentiles of the bootstrap rho.
    """

    rho: float
    positive: float
    negative: float
    interval: tuple
    n_boot: int

    def rises(self, level: float = 0.95) -> bool:
        """y rises with x: rho > 0 on the median curve and in at least ``level`` of the bootstrap samples."""
        return bool(self.rho > 0 and self.positive >= level)

    def falls(self, level: float = 0.95) -> bool:
        """y falls with x: rho < 0 on the median curve and in at least ``level`` of the bootstrap samples."""
        return bool(self.rho < 0 and self.negative >= level)


def trend(x, values, n_boot: int = 1000, seed=0) -> Trend:
    """Spearman trend of the median curve of ``values`` [W, S] against ``x``, bootstrapped over seeds.

    Example:
        >>> x = np.arange(6.0)
        >>> t = trend(x, x[:, None] + 0.01 * np.arange(4.0)[None, :], n_boot=50)
        >>> t.rho, t.rises()
        (1.0, True)
    """
    v = _per_width(values)
    rho = spearman(x, median_curve(v))
    boot = np.array([spearman(x, c) for c in bootstrap_medians(v, n_boot, seed)])
    f = boot[np.isfinite(boot)]
    interval = tuple(float(q) for q in np.percentile(f, [5, 95])) if f.size else (math.nan, math.nan)
    return Trend(rho, float(np.mean(boot > 0)), float(np.mean(boot < 0)), interval, int(n_boot))
