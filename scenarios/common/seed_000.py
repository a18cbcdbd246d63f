"""Seed 000's optimizers A, B and C: what the scenarios that run them (harris-abc on Markov data,
harris-digits on real digits) share: the true objectives offered, the tail measures of settling,
and the six claims of seed 000 decided on one replicate's figures.

``seed_claims(p, T, fig)`` reads from ``p`` the thresholds ``settle``, ``agree`` and
``worse_by`` (any parameters object that has them: ``HarrisParams``, ``HarrisDigitsParams``).
"""

from __future__ import annotations

import math

import numpy as np

from hierarchy.capability import tail_length
from hierarchy.decision import combined_error
from hierarchy.figures import Spread
from hierarchy.report import Claim
from hierarchy.tail import limit_error

__all__ = ["TRUE_OBJECTIVES", "CLAIM_SHORT", "tail_mean", "tail_fraction", "subset", "seed_claims"]

TRUE_OBJECTIVES = {
    "G": "G = sum_i (dL/dtheta_i)^2, the squared gradient norm (default true objective of gradient descent)",
    "G1": "G1 = sum_i |dL/dtheta_i|, the L1 gradient size (an equally valid true objective)",
}


def tail_mean(values: np.ndarray, tail: float) -> np.ndarray:
    """Mean over the last ``tail`` fraction of each row (the limit estimator's window)."""
    n = tail_length(values.shape[-1], tail)
    return values[..., -n:].mean(axis=-1)


def tail_fraction(values: np.ndarray, tail: float, lower_bound=0.0) -> tuple:
    """(tail mean / value at step 0, its upward error, its downward error) per row.

    How far an objective fell, with the limit estimator's error (:mod:`hierarchy.tail`)
    split by direction: an objective still falling (remaining change > 0) can only end
    lower, so the change still to come counts in the downward error only, and a rising one
    in the upward error only; the batch-means error counts in both. A claim "stays below a
    threshold" compares its margin with the upward error, "stays above" with the downward.
    """
    v = np.atleast_2d(np.asarray(values, dtype=np.float64))
    _, se, rem, lim = limit_error(v, tail, lower_bound)
    # where the remaining change is only a bound on unresolved or reversing motion (no
    # extrapolated limit, finite), it counts both ways
    both = np.isnan(lim) & np.isfinite(rem)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r_up = np.where(both, np.abs(rem), np.maximum(-rem, 0.0))
        r_down = np.where(both, np.abs(rem), np.maximum(rem, 0.0))
        up = np.sqrt(se ** 2 + r_up ** 2) / np.abs(v[:, 0])
        down = np.sqrt(se ** 2 + r_down ** 2) / np.abs(v[:, 0])
        return tail_mean(v, tail) / v[:, 0], up, down


def subset(spread: Spread, idx) -> Spread:
    """The Spread of the copies ``idx`` of ``spread`` (values and per-copy errors)."""
    v = np.asarray(spread.per_copy)[idx]
    e = np.asarray(spread.error_per_copy)[idx] if spread.error_per_copy else None
    return Spread.of(v, e)


def seed_claims(p, T: str, fig: dict) -> list:
    """The six claims of seed 000 decided on one replicate's figures ``fig`` (Spreads keyed
    like "A/C(L)", "B/alpha", "C/frac", plus "discrepancy"). Margins are positive when the
    claim holds; standard errors combine the estimator's error and B's spread over copies."""
    f = fig
    nan = math.nan
    med = lambda k: f[k].median if k in f else nan
    se = lambda k: f[k].standard_error if k in f else nan
    # 1. A and B drive T to near zero
    c1 = Claim.all_of(
        f"A and B both drive the true objective {T} to near zero (tail mean below {p.settle:g} of {T}(0))",
        [Claim.compare("A settles", {"A tail fraction": med("A/frac")}, p.settle - med("A/frac"), se("A/frac"),
                       f"{p.settle:g} - A's tail fraction against 2 upward se"),
         Claim.compare("B settles", {"B tail fraction": med("B/frac")}, p.settle - med("B/frac"), se("B/frac"),
                       f"{p.settle:g} - B's median tail fraction against 2 upward se")],
        rule="both settle (B's copies and theta_A are selected among settled runs, so this checks the selection)")
    # 2. A and B equally capable on T
    ca, cb = med(f"A/C({T})"), med(f"B/C({T})")
    rel = abs(cb - ca) / abs(ca) if ca else nan
    rel_se = combined_error(se(f"A/C({T})"), se(f"B/C({T})")) / abs(ca) if ca else nan
    c2 = Claim.compare(f"A and B are equally capable on the true objective: C_A({T}) and C_B({T}) agree",
                       {f"C_A({T})": ca, f"C_B({T})": cb, "relative difference": rel, "tolerance": p.agree},
                       p.agree - rel, rel_se,
                       f"{p.agree:g} - |C_B - C_A| / |C_A| against 2 se (B: median over its copies)")
    # 3. alpha_B < alpha_A
    c3 = Claim.compare("B is worse aligned with the base objective: alpha_B < alpha_A",
                       {"alpha_A": med("A/alpha"), "alpha_B": med("B/alpha")},
                       med("A/alpha") - med("B/alpha"), combined_error(se("A/alpha"), se("B/alpha")),
                       "alpha_A - alpha_B (B: median over its copies) against 2 se")
    # 4. C capability-limited on both objectives
    c4 = Claim.all_of(
        f"C is capability-limited: C_C({T}) < C_A({T}) and C_C(L) < C_A(L)",
        [Claim.compare(f"C_C({T}) < C_A({T})", {f"C_C({T})": med(f"C/C({T})"), f"C_A({T})": med(f"A/C({T})")},
                       med(f"A/C({T})") - med(f"C/C({T})"), combined_error(se(f"A/C({T})"), se(f"C/C({T})")),
                       f"C_A({T}) - C_C({T}) against 2 se"),
         Claim.compare("C_C(L) < C_A(L)", {"C_C(L)": med("C/C(L)"), "C_A(L)": med("A/C(L)")},
                       med("A/C(L)") - med("C/C(L)"), combined_error(se("A/C(L)"), se("C/C(L)")),
                       "C_A(L) - C_C(L) against 2 se")],
        rule="both strict inequalities")
    # 5. C never settles
    c5 = Claim.compare(f"C never settles: its tail mean of {T} stays above {p.settle:g} of {T}(0)",
                       {"C tail fraction": med("C/frac"), "threshold": p.settle},
                       med("C/frac_down") - p.settle, se("C/frac_down"),
                       f"C's tail fraction - {p.settle:g} against 2 downward se (a falling tail may still settle)")
    # 6. delegation product
    c6 = Claim.exact(f"delegation product: C_designer(L) = alpha * C_optimizer({T}) on every edge",
                     {"largest discrepancy": f["discrepancy"], "bound": p.max_discrepancy},
                     p.max_discrepancy - f["discrepancy"], f"relative discrepancy < {p.max_discrepancy:g}")
    return [c1, c2, c3, c4, c5, c6]


CLAIM_SHORT = ("A, B settle", "C_A = C_B on T", "alpha_B < alpha_A", "C capability-limited", "C never settles",
               "delegation product")
