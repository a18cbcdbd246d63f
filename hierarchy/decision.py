"""Three-valued decisions: a margin compared with the uncertainty of the numbers behind it.

A claim of the source texts is an inequality between measured numbers. It is decided by
its **margin** m (positive when the claim holds: e.g. alpha_A - alpha_B for
"alpha_B < alpha_A") against the **standard error** s of that margin:

* ``holds`` when m > z * s,
* ``fails`` when m < -z * s,
* ``undecided`` otherwise, and whenever m or s is undefined (NaN) or s is infinite.

``z * s`` is the claim's **resolution**: no verdict is decided by a margin smaller than its
resolution. The default z = 2 ("twice the combined standard error", about a 95% two-sided
level for a normal error). A claim about exact quantities (counts, float rounding) has
s = 0: it holds when m > 0, fails when m < 0.

Replication over seeds (a claim checked on S independent scenario seeds) counts the
seeds on which it holds / fails / is undecided, gives a Wilson 95% interval for the
rate of holding, and pools them by a stated rule (:func:`pooled_verdict`).
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from .errors import ParameterError

__all__ = ["HOLDS", "FAILS", "UNDECIDED", "VERDICTS", "Z", "WILSON_Z", "combined_error", "decide",
           "wilson_interval", "SeedCount", "POOLED_RULE", "pooled_verdict"]

HOLDS = "holds"
FAILS = "fails"
UNDECIDED = "undecided"
VERDICTS = (HOLDS, FAILS, UNDECIDED)
Z = 2.0
WILSON_Z = 1.959963984540054  # the 97.5% normal quantile: a 95% two-sided interval


def combined_error(*errors: float) -> float:
    """sqrt(sum_i e_i^2): the standard error of a sum or difference of independent numbers.

    Parameters
    ----------
    *errors : float
        Standard errors (non-negative; NaN makes the result NaN, inf makes it inf).

    Returns
    -------
    float

    Examples
    --------
    >>> combined_error(3.0, 4.0), combined_error(0.0), combined_error()
    (5.0, 0.0, 0.0)
    """
    e = np.asarray([float(x) for x in errors], dtype=np.float64)
    if e.size == 0:
        return 0.0
    if np.isnan(e).any():
        return math.nan
    if np.isinf(e).any():
        return math.inf
    return float(np.sqrt(np.sum(e * e)))


def decide(margin: float, standard_error: float, z: float = Z) -> tuple:
    """The verdict of a margin against its standard error, and the resolution z * s.

    holds if m > z*s; fails if m < -z*s; undecided otherwise (and for an undefined m or s,
    or an infinite s). With s = 0 (an exact comparison) m = 0 is undecided.

    Parameters
    ----------
    margin : float
        Positive when the claim holds.
    standard_error : float
        The standard error of the margin (>= 0).
    z : float
        How many standard errors a decided margin must clear (default 2).

    Returns
    -------
    (verdict, resolution) : (str, float)

    Raises
    ------
    ParameterError
        If ``z`` is not positive or the standard error is negative.

    Examples
    --------
    >>> decide(0.5, 0.1), decide(-0.5, 0.1), decide(0.1, 0.1)
    (('holds', 0.2), ('fails', 0.2), ('undecided', 0.2))
    >>> decide(float("nan"), 0.1)[0], decide(1.0, float("inf"))[0], decide(1e-9, 0.0)[0]
    ('undecided', 'undecided', 'holds')
    """
    if not (z > 0):
        raise ParameterError(f"decision level z={z} must be positive; use e.g. 2 (twice the standard error)")
    m, s = float(margin), float(standard_error)
    if s < 0:
        raise ParameterError(f"standard error {s} is negative; pass a standard error >= 0")
    resolution = z * s if math.isfinite(s) else s
    if math.isnan(m) or math.isnan(s) or math.isinf(s):
        return UNDECIDED, resolution
    if m > resolution:
        return HOLDS, resolution
    if m < -resolution:
        return FAILS, resolution
    return UNDECIDED, resolution


def wilson_interval(k: int, n: int, z: float = WILSON_Z) -> tuple:
    """Wilson score interval for a rate k / n (95% by default); (0, 1) when n = 0.

    Parameters
    ----------
    k, n : int
        Successes and trials, 0 <= k <= n.

    Returns
    -------
    (low, high) : (float, float)

    Raises
    ------
    ParameterError
        When n < 0 or k is not in [0, n].

    Examples
    --------
    >>> lo, hi = wilson_interval(16, 16)
    >>> round(lo, 3), hi
    (0.806, 1.0)
    >>> wilson_interval(0, 0)
    (0.0, 1.0)
    """
    k, n = int(k), int(n)
    if n < 0 or not (0 <= k <= n):
        raise ParameterError(f"rate {k}/{n} is not a count out of a total; pass 0 <= k <= n")
    if n == 0:
        return 0.0, 1.0
    p = k / n
    den = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    lo, hi = max(0.0, centre - half), min(1.0, centre + half)
    return (0.0 if k == 0 else lo), (1.0 if k == n else hi)


@attrs.frozen
class SeedCount:
    """How a claim came out over S independent scenario seeds.

    Parameters
    ----------
    holds, fails, undecided : int
        How many seeds gave each verdict.
    n : int
        The number of seeds, holds + fails + undecided.
    rate_interval : (float, float)
        The Wilson 95% interval of the rate of holding, h / n (:func:`wilson_interval`).

    Examples
    --------
    >>> s = SeedCount.of(["holds"] * 9 + ["undecided"] * 5 + ["fails"] * 2)
    >>> s.holds, s.undecided, s.fails, s.n
    (9, 5, 2, 16)
    >>> s.describe()
    'holds on 9 of 16 seeds, undecided on 5, fails on 2'
    """

    holds: int
    fails: int
    undecided: int
    n: int
    rate_interval: tuple

    @classmethod
    def of(cls, verdicts) -> "SeedCount":
        """The counts of holds / fails / undecided over per-seed verdicts.

        Parameters
        ----------
        verdicts : iterable of str
            One of :data:`VERDICTS` per seed.

        Returns
        -------
        SeedCount

        Raises
        ------
        ParameterError
            When a verdict is not one of :data:`VERDICTS`.

        Examples
        --------
        >>> SeedCount.of(["holds", "fails"]).n
        2
        """
        v = list(verdicts)
        bad = [x for x in v if x not in VERDICTS]
        if bad:
            raise ParameterError(f"verdicts {bad} are not among {VERDICTS}")
        h, f, u = v.count(HOLDS), v.count(FAILS), v.count(UNDECIDED)
        return cls(h, f, u, len(v), wilson_interval(h, len(v)))

    def describe(self) -> str:
        """One line: 'holds on h of n seeds, undecided on u, fails on f'.

        Returns
        -------
        str

        Examples
        --------
        >>> SeedCount.of(["holds"]).describe()
        'holds on 1 of 1 seeds, undecided on 0, fails on 0'
        """
        return f"holds on {self.holds} of {self.n} seeds, undecided on {self.undecided}, fails on {self.fails}"

    def to_dict(self) -> dict:
        """A JSON-ready dict: the counts, n and the Wilson interval of the rate of holding.

        Returns
        -------
        dict
            Keys ``holds``, ``fails``, ``undecided``, ``n``, ``rate_interval``.

        Examples
        --------
        >>> SeedCount.of([]).to_dict()
        {'holds': 0, 'fails': 0, 'undecided': 0, 'n': 0, 'rate_interval': [0.0, 1.0]}
        """
        return {"holds": self.holds, "fails": self.fails, "undecided": self.undecided, "n": self.n,
                "rate_interval": [float(self.rate_interval[0]), float(self.rate_interval[1])]}


POOLED_RULE = ("pooled over seeds: holds when the Wilson 95% interval of the rate of holding lies above 1/2, "
               "fails when that of the rate of failing does, undecided otherwise")


def pooled_verdict(count: SeedCount) -> tuple:
    """The verdict of a claim replicated over seeds (rule :data:`POOLED_RULE`), its margin and resolution.

    margin = h/n - 1/2 (or f/n - 1/2 as a negative margin when it fails); resolution =
    the distance from that rate to the lower end of its Wilson interval.

    Parameters
    ----------
    count : SeedCount
        The per-seed verdicts of one claim.

    Returns
    -------
    (verdict, margin, resolution) : (str, float, float)
        ``'undecided'`` with NaN margin and resolution when there are no seeds.

    Examples
    --------
    >>> pooled_verdict(SeedCount.of(["holds"] * 14 + ["fails"] * 2))[0]
    'holds'
    >>> pooled_verdict(SeedCount.of(["holds"] * 9 + ["undecided"] * 5 + ["fails"] * 2))[0]
    'undecided'
    >>> pooled_verdict(SeedCount.of(["fails"] * 8))[0]
    'fails'
    """
    n = count.n
    if n == 0:
        return UNDECIDED, math.nan, math.nan
    rh, rf = count.holds / n, count.fails / n
    lo_h = wilson_interval(count.holds, n)[0]
    lo_f = wilson_interval(count.fails, n)[0]
    if lo_h > 0.5:
        return HOLDS, rh - 0.5, rh - lo_h
    if lo_f > 0.5:
        return FAILS, -(rf - 0.5), rf - lo_f
    return UNDECIDED, rh - 0.5, rh - lo_h
