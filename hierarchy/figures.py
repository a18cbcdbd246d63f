"""Figures: per-copy measurements summarized over a population, as frozen values.

A figure keeps every copy's number and its spread (median and interquartile range over
the copies that did not diverge), so a report never averages a diverged copy in.
"""

from __future__ import annotations

import math
from typing import Optional

import attrs
import numpy as np

__all__ = ["BOOTSTRAP_RESAMPLES", "BOOTSTRAP_SEED", "bootstrap_median", "Spread", "SPREAD_LEGEND",
           "format_number", "CapabilityFigure", "AlignmentFigure", "ProductFigure"]


def _finite_tuple(values) -> tuple:
    return tuple(float(v) for v in np.asarray(values, dtype=np.float64).reshape(-1))


BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 8  # a fixed stream: the same values give the same interval on every run


def bootstrap_median(values, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> tuple:
    """Percentile bootstrap of the median of ``values`` (finite ones): (standard error, low, high).

    The standard error is the standard deviation of the resampled medians; (low, high) their
    2.5% and 97.5% percentiles (a 95% interval). With one value the spread over copies is
    not measurable: (0, NaN, NaN). Deterministic (a fixed seed).

    Parameters
    ----------
    values : array-like
        The per-copy values; non-finite ones are left out.
    resamples : int, optional
        How many bootstrap resamples.
    seed : int, optional
        The seed of the resampling stream.

    Returns
    -------
    (standard_error, low, high) : (float, float, float)
        All NaN when no value is finite.

    Examples
    --------
    >>> bootstrap_median([2.0, 2.0, 2.0])
    (0.0, 2.0, 2.0)
    >>> se, lo, hi = bootstrap_median(np.arange(101.0))
    >>> 30 < lo < 50 < hi < 70 and 3 < se < 10
    True
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, math.nan, math.nan
    if v.size == 1:
        return 0.0, math.nan, math.nan
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    meds = np.median(v[rng.integers(0, v.size, size=(resamples, v.size))], axis=1)
    lo, hi = np.percentile(meds, [2.5, 97.5])
    return float(meds.std(ddof=1)), float(lo), float(hi)


@attrs.frozen
class Spread:
    """A figure over a population's copies: median, interquartile range, and how well the
    median is known.

    * ``q25`` / ``q75``: the interquartile range over the finite copies (a description of
      the population, **not** a confidence interval);
    * ``ci_low`` / ``ci_high``: a 95% percentile-bootstrap interval of the median over
      copies (NaN with one copy);
    * ``estimator_error``: the estimator's own standard error (median over the copies of
      each copy's error; 0 where the values are exact, NaN where unknown);
    * ``standard_error``: sqrt(bootstrap se of the median^2 + estimator_error^2), what a
      claim compares its margin with.

    Parameters
    ----------
    median, q25, q75 : float
        Median and quartiles over the finite copies.
    n : int
        How many copies are finite.
    per_copy : tuple of float
        Every copy's value (NaN kept).
    standard_error, estimator_error : float, optional
        As above.
    ci_low, ci_high : float, optional
        The bootstrap interval of the median.
    error_per_copy : tuple of float, optional
        Every copy's estimator error.

    Examples
    --------
    >>> s = Spread.of([1.0, 2.0, 3.0, float("nan")])
    >>> s.median, s.n, s.K
    (2.0, 3, 4)
    >>> str(Spread.of([0.5], errors=[0.01]))
    '0.5 ±0.01'
    """

    median: float
    q25: float
    q75: float
    n: int
    per_copy: tuple
    standard_error: float = math.nan
    estimator_error: float = 0.0
    ci_low: float = math.nan
    ci_high: float = math.nan
    error_per_copy: tuple = ()

    @classmethod
    def of(cls, values, errors=None) -> "Spread":
        """Summarize per-copy ``values`` with their per-copy standard errors.

        Parameters
        ----------
        values : array-like [K]
            One value per copy (NaN for a diverged or undefined copy).
        errors : array-like [K] or float, optional
            Each copy's estimator standard error; None: the values are exact (error 0).

        Returns
        -------
        Spread
            All NaN with ``n`` 0 when no value is finite.

        Examples
        --------
        >>> s = Spread.of([1.0, 3.0], errors=[0.1, 0.3])
        >>> s.median, s.estimator_error
        (2.0, 0.2)
        """
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        ok = np.isfinite(v)
        f = v[ok]
        if errors is None:
            e = np.zeros(v.shape)
        else:
            e = np.broadcast_to(np.asarray(errors, dtype=np.float64).reshape(-1), v.shape)
        if f.size == 0:
            return cls(math.nan, math.nan, math.nan, 0, _finite_tuple(v), math.nan, math.nan, math.nan, math.nan,
                       _finite_tuple(e))
        q25, med, q75 = np.percentile(f, [25, 50, 75])
        se_boot, lo, hi = bootstrap_median(f)
        ef = e[ok]
        est = float(np.median(ef)) if not np.isnan(ef).any() else math.nan
        se = math.sqrt(se_boot ** 2 + est ** 2) if math.isfinite(est) else (math.inf if est == math.inf else math.nan)
        return cls(float(med), float(q25), float(q75), int(f.size), _finite_tuple(v), se, est, lo, hi,
                   _finite_tuple(e))

    @property
    def K(self) -> int:
        """Number of copies the figure summarizes (diverged or undefined ones included).

        Returns
        -------
        int
            ``len(per_copy)``; ``n`` counts the finite ones.

        Examples
        --------
        >>> s = Spread.of([1.0, float("nan"), 3.0])
        >>> s.K, s.n
        (3, 2)
        """
        return len(self.per_copy)

    @property
    def defined(self) -> bool:
        """True when at least one copy has a finite value.

        Returns
        -------
        bool

        Examples
        --------
        >>> Spread.of([1.0, float("nan")]).defined, Spread.of([float("nan")]).defined
        (True, False)
        """
        return self.n > 0

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field (NaN as None).

        Returns
        -------
        dict
            Read back by :meth:`from_dict`.

        Examples
        --------
        >>> d = Spread.of([1.0]).to_dict()
        >>> d["median"], d["median_ci95"]
        (1.0, [None, None])
        """
        return {"median": _json_float(self.median), "q25": _json_float(self.q25), "q75": _json_float(self.q75),
                "n": self.n, "per_copy": [_json_float(x) for x in self.per_copy],
                "standard_error": _json_float(self.standard_error), "estimator_error": _json_float(self.estimator_error),
                "median_ci95": [_json_float(self.ci_low), _json_float(self.ci_high)],
                "error_per_copy": [_json_float(x) for x in self.error_per_copy]}

    @classmethod
    def from_dict(cls, d: dict) -> "Spread":
        """The Spread a :meth:`to_dict` dict describes (None as NaN).

        Parameters
        ----------
        d : dict
            As :meth:`to_dict` writes it.

        Returns
        -------
        Spread

        Raises
        ------
        KeyError
            When ``d`` lacks ``median``, ``q25``, ``q75``, ``n`` or ``per_copy``.

        Examples
        --------
        >>> s = Spread.of([1.0, 2.0, 4.0])
        >>> Spread.from_dict(s.to_dict()) == s
        True
        """
        nan = lambda x: math.nan if x is None else float(x)
        ci = d.get("median_ci95", [None, None])
        return cls(nan(d["median"]), nan(d["q25"]), nan(d["q75"]), int(d["n"]), tuple(nan(x) for x in d["per_copy"]),
                   nan(d.get("standard_error")), nan(d.get("estimator_error", 0.0)), nan(ci[0]), nan(ci[1]),
                   tuple(nan(x) for x in d.get("error_per_copy", ())))

    def __str__(self) -> str:
        if not self.defined:
            return "undefined"
        err = f" ±{format_number(self.standard_error)}" if not math.isnan(self.standard_error) else ""
        if self.K == 1:
            return format_number(self.median) + err
        return f"{format_number(self.median)}{err} IQR [{format_number(self.q25)}, {format_number(self.q75)}]"


SPREAD_LEGEND = ("x ±e: the median over copies and its standard error (bootstrap over copies combined with the "
                 "estimator's own error); IQR [a, b]: the interquartile range over copies (the population's spread, "
                 "not a confidence interval)")


def format_number(x: float) -> str:
    """A number in four significant digits, for tables; 'undefined' for NaN or None.

    Parameters
    ----------
    x : float or None

    Returns
    -------
    str
        ``f"{x:.4g}"``; ``'inf'`` / ``'-inf'`` for infinities.

    Examples
    --------
    >>> format_number(0.000123456), format_number(1234.5), format_number(float('nan'))
    ('0.0001235', '1234', 'undefined')
    """
    if x is None or not math.isfinite(x):
        return "undefined" if x is None or math.isnan(x) else str(x)
    return f"{x:.4g}"


def _json_float(x: float) -> Optional[float]:
    return None if x is None or not math.isfinite(x) else float(x)


@attrs.frozen
class CapabilityFigure:
    """C(objective) measured on one chain's run (Definition 1): every node of the chain
    holding ``objective`` has this capability (full delegation).

        C(L) = lim (1/T) sum_{t<T} [L(0) - L(t)]

    Parameters
    ----------
    chain : str
        The chain's leaf.
    objective : str
        The objective's name.
    nodes : tuple of str
        The chain's nodes that hold ``objective``.
    capability : Spread
        C over the copies.
    converged_fraction : float
        The share of copies whose estimate converged.
    drift : Spread
        The estimator's drift diagnostic over the copies.

    Examples
    --------
    >>> f = CapabilityFigure("gd", "L", ("designer",), Spread.of([0.5]), 1.0, Spread.of([0.0]))
    >>> f.capability.median, f.nodes
    (0.5, ('designer',))
    """

    chain: str
    objective: str
    nodes: tuple
    capability: Spread
    converged_fraction: float
    drift: Spread


@attrs.frozen
class AlignmentFigure:
    """alpha of ``child`` with ``parent``'s objective on one chain's run (Definition 2),
    and the scale-free normalized alignment beside it.

        alpha = C(L_parent) / C(L_child)

    Parameters
    ----------
    chain : str
        The chain's leaf.
    parent, child : str
        The edge's two nodes.
    base_objective, mesa_objective : str
        Their objectives.
    alignment, normalized : Spread
        alpha and the normalized alpha over the copies.
    defined_fraction : float
        The share of copies where alpha is defined.
    normalization : str, optional
        How the normalized alignment was scaled (one line).

    Examples
    --------
    >>> f = AlignmentFigure("gd", "designer", "gd", "L", "G", Spread.of([0.8]), Spread.of([1.0]), 1.0)
    >>> f.alignment.median
    0.8
    """

    chain: str
    parent: str
    child: str
    base_objective: str
    mesa_objective: str
    alignment: Spread
    normalized: Spread
    defined_fraction: float
    normalization: str = ""


@attrs.frozen
class ProductFigure:
    """Both sides of C_root = prod(alpha) * C_leaf on one chain's run, and their discrepancy.

    Parameters
    ----------
    chain : tuple of str
        The chain, root first.
    direct, product : Spread
        C_root measured directly, and prod(alpha) * C_leaf.
    discrepancy : float
        The largest relative difference |product - direct| / |direct| over copies.

    Examples
    --------
    >>> ProductFigure(("designer", "gd"), Spread.of([1.0]), Spread.of([1.0]), 0.0).discrepancy
    0.0
    """

    chain: tuple
    direct: Spread
    product: Spread
    discrepancy: float
