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

from .errors import ParameterError

__all__ = ["KINDS", "Estimator"]

KINDS = ("finite", "limit")


@attrs.frozen
class Estimator:
    """The choice of estimator, named in every report.

    Example:
        >>> str(Estimator())
        'limit (tail 0.25, batch-means and extrapolation error, converged when error <= 0.01 |C|)'
        >>> str(Estimator("finite"))
        'finite (mean over all T values)'
    """

    kind: str = "limit"
    tail: float = 0.25
    tolerance: float = 0.01

    def __attrs_post_init__(self):
        if self.kind not in KINDS:
            raise ParameterError(f"unknown estimator {self.kind!r}; choose one of {', '.join(KINDS)}")
        if not (0.0 < self.tail <= 1.0):
            raise ParameterError(f"tail fraction {self.tail} is outside (0, 1]; use e.g. 0.25 for the last quarter",
                                 parameter="tail")
        if not (self.tolerance > 0.0):
            raise ParameterError(f"convergence tolerance {self.tolerance} must be positive; use e.g. 0.01 "
                                 f"(error at most 1% of the capability)")

    def __str__(self) -> str:
        if self.kind == "finite":
            return "finite (mean over all T values)"
        return (f"limit (tail {self.tail:g}, batch-means and extrapolation error, converged when error <= "
                f"{self.tolerance:g} |C|)")
