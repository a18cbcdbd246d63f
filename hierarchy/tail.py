"""What a finite run's tail says about its limit, and how well it says it.

Definition 1's capability is a limit over T -> infinity; a run stops at T. The ``limit``
estimator reads the limit from the tail (the last fraction of the values) and states two
sources of error, combined into one standard error:

1. **Fluctuation** (a tail that orbits around a level): the standard error of the tail
   mean by **batch means**, as Markov-chain Monte Carlo practice estimates the error of a
   time average of correlated values. The tail, with its least-squares line removed
   (the trend is item 2's business), is cut into b = floor(sqrt(n)) batches of
   floor(n / b) values; the standard error is sd(batch means) / sqrt(b). Assumption: the
   correlation time is well below the batch length; then this is consistent for any
   stationary process (for AR(1) with coefficient phi and innovation sd sigma it tends to
   sigma / ((1 - phi) sqrt(n))).
2. **What is left to go** (a tail that still trends): the run's last 7/8 is cut into three
   windows of doubling length in time, (T/8, T/4], (T/4, T/2], (T/2, T], with means m1,
   m2, m3. For a power-law approach L(t) = L_inf + a t^-b the window means approach L_inf
   geometrically (each window's mean is a * c * (window start)^-b), so Aitken's
   extrapolation L_inf ~ m3 - d2 * r / (1 - r), d1 = m1 - m2, d2 = m2 - m3, r = d2 / d1,
   is exact for it; for faster (exponential) approaches it overstates what is left, which
   errs on the side of caution. The **remaining change** is tail mean - L_inf (signed:
   positive while the objective still falls). Rules:

   * motion not resolved (|d2| <= 2 * its batch-means standard error, or within float
     rounding, 1e-12 of the level): remaining = |d2|, the observed motion bounds it;
   * d1, d2 of one sign with r < ``R_MAX`` = 0.9: Aitken's remaining change;
   * d1, d2 of one sign with r >= 0.9 (no visible slowing down): remaining = +inf (falling)
     or -inf (rising), the limit is out of reach of this run;
   * a reversal (d1, d2 of opposite signs, d2 resolved): remaining = |d2|.

The estimator's standard error is sqrt(se_batch^2 + remaining^2), per copy. A copy is
``converged`` when that error is at most the resolution the run is asked to decide
(``Estimator.tolerance`` times |C|).

Test cases (``tests/hierarchy/test_tail.py``): the batch-means error of AR(1) against its
closed form; a power-law tail whose extrapolated limit approaches the true limit as T
grows, with the truth inside the error; a constant tail with zero error; an orbit whose
error is its batch-means error.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["R_MAX", "MIN_WINDOW", "batch_means_error", "remaining_change", "limit_error"]

R_MAX = 0.9
MIN_WINDOW = 4
ROUNDING = 1e-12  # relative motion below this is float rounding, not a trend


def _as_rows(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(-1, x.shape[-1]) if x.ndim else x.reshape(1, 1)


def batch_means_error(x, detrend: bool = True) -> np.ndarray:
    """Standard error of the mean of each row of ``x`` [..., n] by batch means.

    b = floor(sqrt(n)) batches of floor(n / b) values (the last b * floor(n / b) values
    are used); error = sd(batch means, ddof = 1) / sqrt(b). With ``detrend`` the row's
    least-squares line is removed first. NaN for n < 4 or a row that is not finite.

    Parameters
    ----------
    x : array [..., n]
    detrend : bool
        Remove each row's least-squares line first (default True).

    Returns
    -------
    array [...]

    Examples
    --------
    >>> float(batch_means_error(np.ones(100)))
    0.0
    >>> bool(np.isnan(batch_means_error([1.0, 2.0, 3.0])))
    True
    """
    x = np.asarray(x, dtype=np.float64)
    shape = x.shape[:-1]
    rows = _as_rows(x)
    n = rows.shape[-1]
    if n < MIN_WINDOW:
        return np.full(shape, np.nan)
    if detrend:
        t = np.arange(n, dtype=np.float64)
        tc = t - t.mean()
        with np.errstate(invalid="ignore"):
            slope = ((rows - rows.mean(axis=-1, keepdims=True)) * tc).sum(axis=-1, keepdims=True) / (tc * tc).sum()
        rows = rows - rows.mean(axis=-1, keepdims=True) - slope * tc
    b = int(math.isqrt(n))
    size = n // b
    used = rows[:, n - b * size:].reshape(rows.shape[0], b, size)
    means = used.mean(axis=-1)
    with np.errstate(invalid="ignore"):
        se = means.std(axis=-1, ddof=1) / math.sqrt(b)
    se = np.where(np.isfinite(rows).all(axis=-1), se, np.nan)
    return se.reshape(shape)


def _window(rows: np.ndarray, lo: int, hi: int):
    w = rows[:, lo:hi]
    return w.mean(axis=-1), batch_means_error(w)


def remaining_change(L, lower_bound=None) -> tuple:
    """The change still to come after the run, per row of ``L`` [..., T] (module docstring, item 2).

    Parameters
    ----------
    L : array-like [..., T]
        Objective values over time.
    lower_bound : float, optional
        A value the objective never goes below; None: none known.

    Returns
    -------
    (remaining, extrapolated) : (array [...], array [...])
        ``remaining`` = tail-window mean of (T/2, T] minus the extrapolated limit, with the
        rules of the module docstring (|d2| when motion is not resolved or reverses, inf
        when it does not slow down); ``extrapolated`` = the Aitken limit where it applies,
        else NaN. NaN for runs shorter than 8 * 4 values. With a known ``lower_bound`` of the
        objective, a falling objective's remaining change is at most m3 - lower_bound (the
        objective cannot go below it), which also bounds the "does not slow down" case.

    Examples
    --------
    >>> t = np.arange(1, 40001, dtype=float)
    >>> rem, lim = remaining_change(1.0 + 1.0 / t)
    >>> abs(float(lim) - 1.0) < 1e-4, float(rem) > 0
    (True, True)
    >>> rem, lim = remaining_change(np.full(64, 2.0))
    >>> float(rem), bool(np.isnan(lim))
    (0.0, True)
    """
    L = np.asarray(L, dtype=np.float64)
    shape = L.shape[:-1]
    rows = _as_rows(L)
    T = rows.shape[-1]
    if T < 8 * MIN_WINDOW:
        nan = np.full(shape, np.nan)
        return nan, nan.copy()
    a, b, c = T // 8, T // 4, T // 2
    m1, _ = _window(rows, a, b)
    m2, s2 = _window(rows, b, c)
    m3, s3 = _window(rows, c, T)
    d1, d2 = m1 - m2, m2 - m3
    with np.errstate(invalid="ignore", divide="ignore"):
        # motion within float rounding of the level is never "resolved" (a constant tail's window
        # means can differ from it by an ulp, with zero batch-means noise)
        rounding = ROUNDING * np.maximum(np.abs(m2), np.abs(m3))
        noise = np.maximum(2.0 * np.sqrt(s2 * s2 + s3 * s3), rounding)
        resolved = np.abs(d2) > noise
        same = (d1 * d2 > 0)
        r = np.where(same, d2 / np.where(d1 == 0, 1.0, d1), np.nan)
        decaying = resolved & same & (r < R_MAX)
        stalled = resolved & same & (r >= R_MAX)
        lim = np.where(decaying, m3 - d2 * r / (1.0 - np.where(decaying, r, 0.0)), np.nan)
        # tail mean over (T/2, T] is m3: remaining measured from it
        rem = np.where(decaying, m3 - lim, np.abs(d2))
        rem = np.where(stalled, np.where(d2 > 0, np.inf, -np.inf), rem)
        if lower_bound is not None:
            room = np.maximum(m3 - float(lower_bound), 0.0)
            falling = np.where(stalled, d2 > 0, decaying & (rem > 0))
            rem = np.where(falling, np.minimum(rem, room), rem)
    finite = np.isfinite(rows).all(axis=-1)
    rem = np.where(finite, rem, np.nan)
    lim = np.where(finite, lim, np.nan)
    return rem.reshape(shape), lim.reshape(shape)


def limit_error(L, tail: float, lower_bound=None) -> tuple:
    """The ``limit`` estimator's standard error per row of ``L`` [..., T], and its parts.

    error = sqrt(se_batch^2 + remaining^2), with se_batch the batch-means error of the tail
    mean (the last ``tail`` fraction) and remaining the change still to come
    (:func:`remaining_change`, measured from the mean of (T/2, T]; the tail mean sits
    later, so this errs on the side of caution).

    Parameters
    ----------
    L : array-like [..., T]
        Objective values over time.
    tail : float
        The tail fraction w in (0, 1] of the ``limit`` estimator.
    lower_bound : float, optional
        A value the objective never goes below; None: none known.

    Returns
    -------
    (error, se_batch, remaining, extrapolated) : arrays [...]

    Examples
    --------
    >>> err, se, rem, lim = limit_error(np.full((2, 64), 3.0), 0.25)
    >>> err.tolist(), se.tolist(), rem.tolist()
    ([0.0, 0.0], [0.0, 0.0], [0.0, 0.0])
    """
    from .capability import tail_length

    L = np.asarray(L, dtype=np.float64)
    T = L.shape[-1]
    n = tail_length(T, tail)
    se = batch_means_error(L[..., T - n:])
    rem, lim = remaining_change(L, lower_bound)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.sqrt(se * se + rem * rem)
    return err, se, rem, lim
