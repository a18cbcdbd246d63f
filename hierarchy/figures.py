"""Figures: per-copy measurements summarized over a population, as frozen values.

A figure keeps every copy's number and its spread (median and interquartile range over
the copies that did not diverge), so a report never averages a diverged copy in.
"""

from __future__ import annotations

import math
from typing import Optional

import attrs
import numpy as np


def _finite_tuple(values) -> tuple:
    return tuple(float(v) for v in np.asarray(values, dtype=np.float64).reshape(-1))


@attrs.frozen
class Spread:
    """Median and interquartile range over the finite per-copy values.

    Example:
        >>> s = Spread.of([1.0, 2.0, 3.0, float("nan")])
        >>> s.median, s.n, s.K
        (2.0, 3, 4)
        >>> str(Spread.of([0.5]))
        '0.5'
    """

    median: float
    q25: float
    q75: float
    n: int
    per_copy: tuple

    @classmethod
    def of(cls, values) -> "Spread":
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        f = v[np.isfinite(v)]
        if f.size == 0:
            return cls(math.nan, math.nan, math.nan, 0, _finite_tuple(v))
        q25, med, q75 = np.percentile(f, [25, 50, 75])
        return cls(float(med), float(q25), float(q75), int(f.size), _finite_tuple(v))

    @property
    def K(self) -> int:
        return len(self.per_copy)

    @property
    def defined(self) -> bool:
        return self.n > 0

    def to_dict(self) -> dict:
        return {"median": _json_float(self.median), "q25": _json_float(self.q25), "q75": _json_float(self.q75),
                "n": self.n, "per_copy": [_json_float(x) for x in self.per_copy]}

    @classmethod
    def from_dict(cls, d: dict) -> "Spread":
        nan = lambda x: math.nan if x is None else float(x)
        return cls(nan(d["median"]), nan(d["q25"]), nan(d["q75"]), int(d["n"]), tuple(nan(x) for x in d["per_copy"]))

    def __str__(self) -> str:
        if not self.defined:
            return "undefined"
        if self.K == 1:
            return format_number(self.median)
        return f"{format_number(self.median)} [{format_number(self.q25)}, {format_number(self.q75)}]"


def format_number(x: float) -> str:
    """Four significant digits; 'undefined' for NaN.

    Example:
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
    holding ``objective`` has this capability (full delegation)."""

    chain: str
    objective: str
    nodes: tuple
    capability: Spread
    converged_fraction: float
    drift: Spread


@attrs.frozen
class AlignmentFigure:
    """alpha of ``child`` with ``parent``'s objective on one chain's run (Definition 2),
    and the scale-free normalized alignment beside it."""

    chain: str
    parent: str
    child: str
    base_objective: str
    mesa_objective: str
    alignment: Spread
    normalized: Spread
    defined_fraction: float


@attrs.frozen
class ProductFigure:
    """Both sides of C_root = prod(alpha) * C_leaf on one chain's run, and their discrepancy."""

    chain: tuple
    direct: Spread
    product: Spread
    discrepancy: float
