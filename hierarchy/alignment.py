"""Alignment (Definition 2): how much the mesa-optimizer's progress drags the base objective along.

    alpha_M(L_b) = lim sum_t [L_b(0) - L_b(t)] / sum_t [L_m(0) - L_m(t)] = C(L_b) / C(L_m)

Undefined (NaN, with ``defined`` False) when the mesa-optimizer makes no progress on its
own objective; negative when its progress makes the base objective worse.
"""

from __future__ import annotations

import attrs
import numpy as np

from .capability import capability
from .errors import ParameterError
from .estimator import Estimator

ZERO_PROGRESS = 1e-12


def _no_progress(C_m: np.ndarray, L_m: np.ndarray, zero: float) -> np.ndarray:
    scale = np.nanmax(np.abs(L_m), axis=-1) if L_m.shape[-1] else np.zeros(C_m.shape)
    return ~np.isfinite(C_m) | (np.abs(C_m) <= zero * np.maximum(scale, np.finfo(float).tiny))


def alignment_ratio(C_base, C_mesa, no_progress) -> np.ndarray:
    """alpha = C_base / C_mesa, NaN where ``no_progress`` (never a division by zero).

    Example:
        >>> alignment_ratio(np.array([2.0, 1.0]), np.array([4.0, 0.0]), np.array([False, True])).tolist()
        [0.5, nan]
    """
    C_base = np.asarray(C_base, dtype=np.float64)
    C_mesa = np.asarray(C_mesa, dtype=np.float64)
    safe = np.where(no_progress, 1.0, C_mesa)
    return np.where(no_progress, np.nan, C_base / safe)


@attrs.frozen(eq=False)
class AlignmentEstimate:
    """Per-copy alignment: ``value`` [K] (NaN where undefined), ``defined`` [K], and the two capabilities."""

    value: np.ndarray
    defined: np.ndarray
    base: np.ndarray
    mesa: np.ndarray
    estimator: Estimator


def alignment(L_base, L_mesa, estimator: Estimator = Estimator(), zero: float = ZERO_PROGRESS) -> AlignmentEstimate:
    """Alignment of the mesa-optimizer with the base objective, per copy (Definition 2).

    alpha = C(L_base) / C(L_mesa), both capabilities by the same ``estimator`` on the same
    run; undefined where |C(L_mesa)| <= zero * max_t |L_mesa(t)| (no progress).

    Example:
        >>> a = alignment([[3.0, 2.0, 1.0]], [[1.0, 0.5, 0.0]], Estimator("finite"))
        >>> a.value.tolist(), a.defined.tolist()
        ([2.0], [True])
        >>> alignment([[3.0, 2.0]], [[1.0, 1.0]]).defined.tolist()
        [False]
    """
    L_base = np.asarray(L_base, dtype=np.float64)
    L_mesa = np.asarray(L_mesa, dtype=np.float64)
    if L_base.shape != L_mesa.shape:
        raise ParameterError(
            f"base objective values {L_base.shape} and mesa-objective values {L_mesa.shape} differ in shape; "
            f"evaluate both on the same run"
        )
    Cb = capability(L_base, estimator).value
    Cm = capability(L_mesa, estimator).value
    none = _no_progress(Cm, L_mesa, zero)
    return AlignmentEstimate(alignment_ratio(Cb, Cm, none), ~none & np.isfinite(Cb), Cb, Cm, estimator)


def progress_scale(L) -> np.ndarray:
    """L(0) - min_t L(t): the best improvement seen over a run. It scales with k and ignores c
    under L -> k*L + c (k > 0).

    Example:
        >>> float(progress_scale([3.0, 1.0, 2.0]))
        2.0
    """
    L = np.asarray(L, dtype=np.float64)
    return L[..., 0] - np.nanmin(L, axis=-1)


def normalized_alignment(L_base, L_mesa, estimator: Estimator = Estimator(), zero: float = ZERO_PROGRESS) -> AlignmentEstimate:
    """Scale-free alignment, invariant under positive affine maps k*L + c of either objective.

    alpha_norm = [C(L_base) / s(L_base)] / [C(L_mesa) / s(L_mesa)], s(L) = L(0) - min_t L(t).
    Each capability is divided by the best improvement its objective saw over the run, so
    C/s is the fraction of that improvement kept in the long run (at most 1 under the limit
    estimator), and the choice among equally valid true objectives (k*G + c) no longer
    changes the figure, unlike the raw alpha (G -> k*G divides alpha by k). Undefined where
    the mesa-objective makes no progress or never goes below its start. Caveat: an
    objective that is noisy (annealing) or first rises has a small or odd s, so read this
    figure beside the raw alpha, never alone.

    Example:
        >>> a = normalized_alignment([[3.0, 2.0, 1.0]], [[10.0, 5.0, 0.0]], Estimator("finite"))
        >>> a.value.tolist()
        [1.0]
    """
    L_base = np.asarray(L_base, dtype=np.float64)
    L_mesa = np.asarray(L_mesa, dtype=np.float64)
    raw = alignment(L_base, L_mesa, estimator, zero)
    sb, sm = progress_scale(L_base), progress_scale(L_mesa)
    flat_b = ~(sb > 0)
    cb = np.where(flat_b, 0.0, raw.base / np.where(flat_b, 1.0, sb))
    none = ~raw.defined | ~(sm > 0)
    cm = raw.mesa / np.where(sm > 0, sm, 1.0)
    return AlignmentEstimate(alignment_ratio(cb, cm, none), ~none, cb, cm, estimator)
