"""Alignment (Definition 2): how much the mesa-optimizer's progress drags the base objective along.

    alpha_M(L_b) = lim sum_t [L_b(0) - L_b(t)] / sum_t [L_m(0) - L_m(t)] = C(L_b) / C(L_m)

Undefined (NaN, with ``defined`` False) when the mesa-optimizer makes no progress on its
own objective; negative when its progress makes the base objective worse.
"""

from __future__ import annotations

import math
import warnings

import attrs
import numpy as np

from .capability import _values, capability, check_estimator
from .errors import ParameterError
from .estimator import Estimator

__all__ = ["ZERO_PROGRESS", "alignment_ratio", "AlignmentEstimate", "alignment", "ratio_error",
           "progress_scale", "Normalization", "normalized_alignment"]

ZERO_PROGRESS = 1e-12


def _no_progress(C_m: np.ndarray, L_m: np.ndarray, zero: float) -> np.ndarray:
    with warnings.catch_warnings():  # a copy diverged at its start is all NaN: its scale is NaN, its ratio undefined
        warnings.simplefilter("ignore", RuntimeWarning)
        scale = np.nanmax(np.abs(L_m), axis=-1) if L_m.shape[-1] else np.zeros(C_m.shape)
    return ~np.isfinite(C_m) | (np.abs(C_m) <= zero * np.maximum(scale, np.finfo(float).tiny))


def alignment_ratio(C_base, C_mesa, no_progress) -> np.ndarray:
    """The ratio of Definition 2, alpha = C_base / C_mesa, NaN where ``no_progress``.

    Never divides by zero: where the mesa-optimizer made no progress the ratio is
    undefined and reported as NaN.

    Parameters
    ----------
    C_base : array-like [K]
        Capability on the base objective, C(L_b), per copy.
    C_mesa : array-like [K]
        Capability on the mesa-objective, C(L_m), per copy.
    no_progress : array-like of bool [K]
        True where C_mesa counts as zero progress.

    Returns
    -------
    numpy.ndarray [K]
        alpha per copy, NaN where ``no_progress``; +-inf where the ratio is beyond float64's range
        (a C_mesa just above the zero test), without a warning.

    Examples
    --------
    >>> alignment_ratio(np.array([2.0, 1.0]), np.array([4.0, 0.0]), np.array([False, True])).tolist()
    [0.5, nan]
    >>> alignment_ratio(np.array([-1e300]), np.array([1e-300]), np.array([False])).tolist()
    [-inf]
    """
    C_base = np.asarray(C_base, dtype=np.float64)
    C_mesa = np.asarray(C_mesa, dtype=np.float64)
    safe = np.where(no_progress, 1.0, C_mesa)
    with np.errstate(over="ignore"):  # an overflowing ratio is +-inf, its sign the ratio's
        ratio = C_base / safe
    return np.where(no_progress, np.nan, ratio)


@attrs.frozen(eq=False)
class AlignmentEstimate:
    """Per-copy alignment alpha_M(L_b) = C(L_b) / C(L_m) (Definition 2), with its error.

    Parameters
    ----------
    value : numpy.ndarray [K]
        alpha per copy, NaN where undefined.
    defined : numpy.ndarray of bool [K]
        False where the mesa-optimizer made no progress (or C(L_b) is not finite).
    base, mesa : numpy.ndarray [K]
        The two capabilities C(L_b) and C(L_m).
    estimator : Estimator
        The capability estimator both were computed with.
    error : numpy.ndarray [K], optional
        The estimator's standard error of alpha by the delta method,
        |alpha| * sqrt((e_base / C_base)^2 + (e_mesa / C_mesa)^2), from the two
        capabilities' errors (0 under the ``finite`` estimator).

    Examples
    --------
    >>> a = alignment([[3.0, 2.0, 1.0]], [[1.0, 0.5, 0.0]], Estimator("finite"))
    >>> a.base.tolist(), a.mesa.tolist(), a.error.tolist()
    ([1.0], [0.5], [0.0])
    """

    value: np.ndarray
    defined: np.ndarray
    base: np.ndarray
    mesa: np.ndarray
    estimator: Estimator
    error: np.ndarray = None


def alignment(L_base, L_mesa, estimator: Estimator = Estimator(), zero: float = ZERO_PROGRESS,
              bounds: tuple = (None, None)) -> AlignmentEstimate:
    """Alignment of the mesa-optimizer with the base objective, per copy (Definition 2).

    alpha = C(L_base) / C(L_mesa), both capabilities by the same ``estimator`` on the same
    run; undefined where |C(L_mesa)| <= zero * max_t |L_mesa(t)| (no progress). ``bounds``:
    the known lower bounds of (base, mesa) objective, if any (see :func:`capability`).

    Parameters
    ----------
    L_base, L_mesa : array-like [K, T]
        The base objective and the mesa-objective, evaluated on the same run.
    estimator : Estimator, optional
        The capability estimator of both.
    zero : float, optional
        Relative progress below which alpha is undefined.
    bounds : tuple, optional
        Known lower bounds of (base, mesa).

    Returns
    -------
    AlignmentEstimate
        Per copy: ``value`` (NaN where undefined), ``defined``, ``error``, ``base``, ``mesa``.

    Raises
    ------
    ParameterError
        When the two arrays do not have the same shape.

    Examples
    --------
    >>> a = alignment([[3.0, 2.0, 1.0]], [[1.0, 0.5, 0.0]], Estimator("finite"))
    >>> a.value.tolist(), a.defined.tolist()
    ([2.0], [True])
    >>> alignment([[3.0, 2.0]], [[1.0, 1.0]]).defined.tolist()
    [False]
    """
    L_base, L_mesa = _values(L_base, "L_base"), _values(L_mesa, "L_mesa")
    check_estimator(estimator)
    if L_base.shape != L_mesa.shape:
        raise ParameterError(
            f"base objective values {L_base.shape} and mesa-objective values {L_mesa.shape} differ in shape; "
            f"evaluate both on the same run"
        )
    eb, em = capability(L_base, estimator, bounds[0]), capability(L_mesa, estimator, bounds[1])
    Cb, Cm = eb.value, em.value
    none = _no_progress(Cm, L_mesa, zero)
    a = alignment_ratio(Cb, Cm, none)
    return AlignmentEstimate(a, ~none & np.isfinite(Cb), Cb, Cm, estimator, ratio_error(a, Cb, eb.error, Cm, em.error))


def ratio_error(ratio, num, num_error, den, den_error) -> np.ndarray:
    """Standard error of a ratio q = x / y by the delta method (independent errors).

        e_q = |q| * sqrt((e_x / x)^2 + (e_y / y)^2) = sqrt((e_x / |y|)^2 + (|q| e_y / |y|)^2)

    The second form is used, so x = 0 with an error stays finite (q's relative error is
    unbounded but its absolute error e_x / |y| is not); NaN where q is undefined.

    Parameters
    ----------
    ratio : array-like
        q = x / y (NaN where undefined).
    num, num_error : array-like
        The numerator x and its standard error e_x.
    den, den_error : array-like
        The denominator y and its standard error e_y.

    Returns
    -------
    numpy.ndarray
        e_q, broadcast over the inputs; NaN where ``ratio`` is not finite.

    Examples
    --------
    >>> round(float(ratio_error(2.0, 4.0, 0.4, 2.0, 0.2)), 6)
    0.282843
    """
    q = np.asarray(ratio, dtype=np.float64)
    x, ex = np.asarray(num, dtype=np.float64), np.asarray(num_error, dtype=np.float64)
    y, ey = np.asarray(den, dtype=np.float64), np.asarray(den_error, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rel_y = ey / np.abs(y)
        # |q| * e_x / |x| = e_x / |y|: finite even at x = 0
        out = np.sqrt((ex / np.abs(y)) ** 2 + (np.abs(q) * rel_y) ** 2)
    return np.where(np.isfinite(q), out, np.nan)


def progress_scale(L) -> np.ndarray:
    """The best improvement seen over a run, s = L(0) - min_t L(t).

    It scales with k and ignores c under L -> k*L + c (k > 0), which is what the
    normalized alignment needs (definitions.md, "The true objective of gradient descent").

    Parameters
    ----------
    L : array-like [..., T]
        Objective values over time (last axis).

    Returns
    -------
    numpy.ndarray [...]
        s per run (a 0-d array for one run).

    Examples
    --------
    >>> float(progress_scale([3.0, 1.0, 2.0]))
    2.0
    """
    L = np.asarray(L, dtype=np.float64)
    return L[..., 0] - np.nanmin(L, axis=-1)


@attrs.frozen
class Normalization:
    """The shared scale of the normalized alignment: each objective's best improvement
    (L(0) - min_t L(t), :func:`progress_scale`) on one named **reference** run, the same
    for every optimizer compared against it.

    The true objective is only defined up to a positive affine map k*G + c (seed 003),
    and the raw alpha then changes by 1/k; dividing by a scale taken on a *common*
    reference removes k while keeping every comparison between the compared runs: the
    normalized alignment is alpha * scale_mesa / scale_base, one factor for all of them,
    so every ordering of raw alphas is kept. (Dividing each run by its *own* best
    improvement, as an earlier version did, made every converging run about 1.)

    Parameters
    ----------
    reference : str
        The name of the reference run, printed in every report.
    scale_base, scale_mesa : float
        The reference's best improvement of the base and of the mesa-objective (> 0).

    Raises
    ------
    ParameterError
        If a scale is not a positive finite number.

    Examples
    --------
    >>> n = Normalization.of("A", [[3.0, 2.0, 1.0]], [[10.0, 5.0, 0.0]])
    >>> n.scale_base, n.scale_mesa, n.describe()
    (2.0, 10.0, "each objective's best improvement L(0) - min L on reference A")
    """

    reference: str
    scale_base: float
    scale_mesa: float

    def __attrs_post_init__(self):
        for name in ("scale_base", "scale_mesa"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float, np.floating)) and math.isfinite(v) and v > 0):
                raise ParameterError(
                    f"normalization {name}={v} on reference {self.reference!r} is not a positive finite number: "
                    f"the reference must improve both objectives; pick another reference run")

    @classmethod
    def of(cls, reference: str, L_base, L_mesa) -> "Normalization":
        """Scales from the reference run's values (median over its finite copies).

        Parameters
        ----------
        reference : str
            The reference run's name.
        L_base, L_mesa : array-like [K, T] or [T]
            The reference run's base and mesa-objective values.

        Returns
        -------
        Normalization
            With s_base, s_mesa the median :func:`progress_scale` over finite copies.

        Raises
        ------
        ParameterError
            When a scale is not a positive finite number (the reference did not improve
            an objective).

        Examples
        --------
        >>> Normalization.of("A", [[3.0, 1.0], [5.0, 1.0]], [[2.0, 0.0], [2.0, 1.0]]).scale_base
        3.0
        """
        sb = np.asarray(progress_scale(np.atleast_2d(np.asarray(L_base, dtype=np.float64))), dtype=np.float64)
        sm = np.asarray(progress_scale(np.atleast_2d(np.asarray(L_mesa, dtype=np.float64))), dtype=np.float64)
        med = lambda x: float(np.median(x[np.isfinite(x)])) if np.isfinite(x).any() else math.nan
        return cls(str(reference), med(sb), med(sm))

    def describe(self) -> str:
        """One line naming the reference and its scales (for reports).

        Returns
        -------
        str

        Examples
        --------
        >>> Normalization("B", 1.0, 2.0).describe()
        "each objective's best improvement L(0) - min L on reference B"
        """
        return f"each objective's best improvement L(0) - min L on reference {self.reference}"


def normalized_alignment(L_base, L_mesa, normalization: Normalization, estimator: Estimator = Estimator(),
                         zero: float = ZERO_PROGRESS, bounds: tuple = (None, None)) -> AlignmentEstimate:
    """Alignment on a shared scale: invariant under k*L + c applied to every compared run.

    alpha_norm = [C(L_base) / s_base] / [C(L_mesa) / s_mesa] = alpha * s_mesa / s_base,
    with s the reference run's best improvement of each objective (:class:`Normalization`).
    C / s reads as "capability in units of the reference's improvement"; alpha_norm = 1
    where the optimizer drags the base objective along exactly as the reference's own
    improvements relate. Under G -> k*G + c on every compared run alpha -> alpha / k and
    s_mesa -> k * s_mesa, so alpha_norm is unchanged; since one factor multiplies every
    run, every ordering of the raw alphas is kept. Definition 2 with the scale choice
    (an **open** choice) named by ``normalization``.

    Parameters
    ----------
    L_base, L_mesa : array [K, T]
        The base and mesa-objective on the run measured.
    normalization : Normalization
        The reference scales.
    estimator, zero
        As for :func:`alignment`.

    Returns
    -------
    AlignmentEstimate
        ``value`` = alpha_norm per copy; ``base`` / ``mesa`` the scaled capabilities;
        ``error`` scaled by the same factor.

    Raises
    ------
    ParameterError
        When ``normalization`` is not a :class:`Normalization`.

    Examples
    --------
    >>> n = Normalization("ref", scale_base=2.0, scale_mesa=10.0)
    >>> a = normalized_alignment([[3.0, 2.0, 1.0]], [[10.0, 5.0, 0.0]], n, Estimator("finite"))
    >>> a.value.tolist()
    [1.0]
    """
    if not isinstance(normalization, Normalization):
        raise ParameterError(f"normalization must be a Normalization (a shared reference scale), not "
                             f"{type(normalization).__name__}; build one with Normalization.of(name, L_base, L_mesa)")
    raw = alignment(L_base, L_mesa, estimator, zero, bounds)
    f = normalization.scale_mesa / normalization.scale_base
    return AlignmentEstimate(raw.value * f, raw.defined, raw.base / normalization.scale_base,
                             raw.mesa / normalization.scale_mesa, estimator, raw.error * abs(f))
