"""Capability (Definition 1): the long-run average improvement of an objective.

    C_A(L) = lim_{T -> inf} (1/T) sum_{t=0}^{T-1} [L(0) - L(t)]

estimated on a finite run by :class:`~hierarchy.estimator.Estimator` (``finite`` or
``limit``). Arrays are ``[..., T]``: the last axis is the step.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from .errors import ParameterError
from .estimator import Estimator
from .tail import limit_error

__all__ = ["tail_length", "capability_finite", "capability_limit", "CapabilityEstimate", "capability", "check_estimator"]


def _values(L, name: str = "L") -> np.ndarray:
    if isinstance(L, (str, bytes)):
        raise ParameterError(f"{name}={L!r} is text; pass the objective's values as numbers [K, T]", parameter=name)
    try:
        L = np.asarray(L, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} is not an array of numbers ({type(exc).__name__}: {exc}); pass the objective's "
                             f"values as numbers [K, T]", parameter=name) from None
    if L.ndim < 1 or L.shape[-1] < 1:
        raise ParameterError(f"objective values of shape {L.shape} have no step axis; pass an array [..., T] with T >= 1",
                             parameter=name)
    return L


def check_estimator(estimator) -> Estimator:
    """``estimator`` if it is an :class:`~hierarchy.estimator.Estimator`; a ParameterError naming the fix otherwise.

    Parameters
    ----------
    estimator : Estimator
        The estimator to check.

    Returns
    -------
    Estimator
        ``estimator``, unchanged.

    Raises
    ------
    ParameterError
        When ``estimator`` is not an Estimator (e.g. its name as a string).

    Examples
    --------
    >>> check_estimator(Estimator("finite")).kind
    'finite'
    >>> check_estimator("limit")
    Traceback (most recent call last):
    ...
    hierarchy.errors.ParameterError: estimator='limit' is not an Estimator; give Estimator('limit') or Estimator('finite') (from hierarchy.estimator)
    """
    if not isinstance(estimator, Estimator):
        raise ParameterError(f"estimator={estimator!r} is not an Estimator; give Estimator('limit') or "
                             f"Estimator('finite') (from hierarchy.estimator)", parameter="estimator")
    return estimator


def tail_length(T: int, tail: float) -> int:
    """Number of recorded values in the tail: ceil(tail * T), at least 2 when T >= 2.

    Parameters
    ----------
    T : int
        Recorded values per copy.
    tail : float
        The tail fraction, in (0, 1].

    Returns
    -------
    int
        ``min(T, max(2 if T >= 2 else 1, ceil(tail * T)))``.

    Examples
    --------
    >>> tail_length(100, 0.25), tail_length(3, 0.25), tail_length(1, 0.5)
    (25, 2, 1)
    """
    return min(T, max(2 if T >= 2 else 1, math.ceil(tail * T)))


def capability_finite(L) -> np.ndarray:
    """Capability by the ``finite`` estimator: (1/T) sum_{t=0}^{T-1} [L(0) - L(t)].

    Definition 1 with the limit cut at the run's T. Shape ``[..., T] -> [...]``.

    Parameters
    ----------
    L : array-like [..., T]
        The objective's values, the last axis the step (index 0 the start).

    Returns
    -------
    numpy.ndarray [...]
        ``L(0) - mean(L)`` over the step axis.

    Raises
    ------
    ParameterError
        When ``L`` is text, not numbers, or has no step axis (a scalar or ``T == 0``).

    Examples
    --------
    >>> float(capability_finite([4.0, 2.0, 1.0, 1.0]))
    2.0
    """
    L = _values(L)
    return L[..., 0] - L.mean(axis=-1)


def capability_limit(L, tail: float = 0.25):
    """Capability by the ``limit`` estimator and its drift diagnostic.

    C = L(0) - mean(L over the last ``tail`` fraction); drift = |mean(second half of the
    tail) - mean(first half)| / |C| (inf when C = 0 and the halves differ, 0 when both
    are 0). Definition 1: for converging L the limit is L(0) - L_inf; for an orbit it is
    L(0) minus the orbit's long-run average.

    Parameters
    ----------
    L : array-like [..., T]
        The objective's values, the last axis the step (index 0 the start).
    tail : float, optional
        The tail fraction, in (0, 1] (its length: :func:`tail_length`).

    Returns
    -------
    C : numpy.ndarray [...]
        The capability estimate.
    drift : numpy.ndarray [...]
        The relative change between the tail's halves.

    Raises
    ------
    ParameterError
        When ``L`` is text, not numbers, or has no step axis (a scalar or ``T == 0``).

    Examples
    --------
    >>> C, drift = capability_limit([4.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], tail=0.5)
    >>> float(C), float(drift)
    (3.0, 0.0)
    """
    L = _values(L)
    T = L.shape[-1]
    n = tail_length(T, tail)
    window = L[..., T - n:]
    mean = window.mean(axis=-1)
    C = L[..., 0] - mean
    half = n // 2
    if half >= 1:
        first = window[..., :half].mean(axis=-1)
        second = window[..., n - half:].mean(axis=-1)
        gap = np.abs(second - first)
    else:
        gap = np.zeros_like(C)
    with np.errstate(divide="ignore", invalid="ignore"):
        drift = np.where(gap == 0, 0.0, gap / np.abs(C))
    return C, drift


@attrs.frozen(eq=False)
class CapabilityEstimate:
    """Per-copy capability with the estimator that produced it.

    ``value`` [K] (NaN for diverged copies); ``drift`` [K] (NaN under ``finite``);
    ``error`` [K]: the estimator's standard error of the limit (:mod:`hierarchy.tail`:
    batch means and the change still to come; 0 under ``finite``, whose finite-T average
    is exact for the horizon it states);
    ``remaining`` [K]: the change still to come, signed; ``converged`` [K]:
    ``error`` <= tolerance * |value| under ``limit``, always True under ``finite``.

    Parameters
    ----------
    value : numpy.ndarray [K]
        The capability per copy (NaN for diverged copies).
    drift : numpy.ndarray [K]
        The tail-halves drift (NaN under ``finite``).
    converged : numpy.ndarray of bool [K]
        Whether each estimate counts as converged.
    estimator : Estimator
        The estimator that produced it.
    error : numpy.ndarray [K], optional
        The standard error of the limit (0 under ``finite``).
    remaining : numpy.ndarray [K], optional
        The change still to come, signed (NaN under ``finite``).

    Examples
    --------
    >>> est = capability([[4.0, 2.0, 1.0, 1.0]], Estimator("finite"))
    >>> est.value.tolist(), est.converged.tolist(), est.error.tolist(), est.estimator.kind
    ([2.0], [True], [0.0], 'finite')
    """

    value: np.ndarray
    drift: np.ndarray
    converged: np.ndarray
    estimator: Estimator
    error: np.ndarray = None
    remaining: np.ndarray = None


def capability(L, estimator: Estimator = Estimator(), lower_bound=None) -> CapabilityEstimate:
    """Capability of an objective's values ``[K, T]`` under ``estimator`` (Definition 1).

    ``lower_bound``: a value the objective cannot go below, if known (bounds the limit
    estimator's extrapolation; :class:`~hierarchy.objective.Objective`).

    Parameters
    ----------
    L : array-like [K, T]
        The objective's values per copy and step (index 0 the start).
    estimator : Estimator, optional
        ``limit`` (L(0) minus the tail mean, with its error) or ``finite`` (the literal sum).
    lower_bound : float, optional
        The objective's known lower bound.

    Returns
    -------
    CapabilityEstimate
        Per copy: ``value``, ``error``, ``converged``, ``drift``.

    Raises
    ------
    ParameterError
        When ``L`` is not numbers with a step axis, ``estimator`` is not an Estimator, or
        ``lower_bound`` is not a number.

    Examples
    --------
    >>> est = capability([[4.0, 2.0, 1.0, 1.0]], Estimator("finite"))
    >>> est.value.tolist()
    [2.0]
    """
    check_estimator(estimator)
    L = _values(L)
    if lower_bound is not None and isinstance(lower_bound, (bool, str, bytes)):
        raise ParameterError(f"lower_bound={lower_bound!r}; give the objective's known lower bound as a number, or None",
                             parameter="lower_bound")
    if estimator.kind == "finite":
        # the literal finite-T average is exactly what it states: no estimator error (claims
        # then concern the finite horizon, and only the spread over copies is uncertain)
        v = capability_finite(L)
        nan = np.full(v.shape, np.nan)
        return CapabilityEstimate(v, nan, np.isfinite(v), estimator, np.where(np.isfinite(v), 0.0, np.nan), nan)
    v, drift = capability_limit(L, estimator.tail)
    err, _, rem, _ = limit_error(L, estimator.tail, lower_bound)
    with np.errstate(invalid="ignore"):
        conv = np.isfinite(v) & (err <= estimator.tolerance * np.abs(v))
    return CapabilityEstimate(v, drift, conv, estimator, err, rem)
