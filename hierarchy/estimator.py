"""How a finite run estimates a limit over T -> infinity (Definition 1).

Two estimators, both required, and every report names the one it used:

* ``finite``: the literal sum cut at the run's end, (1/T) sum_t [L(0) - L(t)]. Biased
  low by the transient.
* ``limit``: L(0) minus the mean of L over the tail (the last fraction ``tail`` of the
  recorded values), with its standard error (:mod:`hierarchy.tail`: batch means of the
  tail, and the change still to come extrapolated from three doubling windows); the
  estimate counts as ``converged`` when that error is at most ``tolerance`` * |C| (the
  resolution the run is asked to decide). The drift diagnostic |mean(second half of tail)
  - mean(first half)| / |C| is kept beside it.
"""

from __future__ import annotations

import attrs

from .validators import check, one_of

__all__ = ["KINDS", "Estimator"]

KINDS = ("finite", "limit")


@attrs.frozen
class Estimator:
    """The choice of capability estimator (Definition 1 on a finite run), named in every report.

    ``finite``: C = (1/T) sum_{t<T} [L(0) - L(t)], the literal sum cut at the run's end.
    ``limit``: C = L(0) - mean of L over the last fraction ``tail`` of the run, with a
    standard error (:mod:`hierarchy.tail`), converged when that error <= ``tolerance`` * |C|.

    Parameters
    ----------
    kind : {"limit", "finite"}, optional
        Which estimator.
    tail : float, optional
        The tail fraction w in (0, 1] of the ``limit`` estimator.
    tolerance : float, optional
        The relative error (> 0) at or below which a ``limit`` estimate counts as converged.

    Raises
    ------
    ParameterError
        When ``kind`` is not one of :data:`KINDS`, ``tail`` is outside (0, 1] or
        ``tolerance`` is not positive.

    Examples
    --------
    >>> str(Estimator())
    'limit (tail 0.25, batch-means and extrapolation error, converged when error <= 0.01 |C|)'
    >>> str(Estimator("finite"))
    'finite (mean over all T values)'
    >>> Estimator(tail=0.0)
    Traceback (most recent call last):
    ...
    hierarchy.errors.ParameterError: tail=0.0 must be a fraction in (0, 1]; use e.g. 0.25 for the last quarter
    """

    kind: str = attrs.field(default="limit", validator=one_of(KINDS))
    tail: float = attrs.field(default=0.25, validator=check(
        lambda v: 0.0 < v <= 1.0, "a fraction in (0, 1]", "use e.g. 0.25 for the last quarter", parameter="tail"))
    tolerance: float = attrs.field(default=0.01, validator=check(
        lambda v: v > 0.0, "positive", "use e.g. 0.01 (error at most 1% of the capability)"))

    def __str__(self) -> str:
        if self.kind == "finite":
            return "finite (mean over all T values)"
        return (f"limit (tail {self.tail:g}, batch-means and extrapolation error, converged when error <= "
                f"{self.tolerance:g} |C|)")
