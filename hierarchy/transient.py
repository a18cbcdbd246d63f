"""Strong alignment: how bad the base objective gets on the way, not only in the end.

Weak alignment is about the limit quantities (Definitions 1 and 2). Strong alignment
(seed 000, "all right on the way") looks at the transient: from step s over a horizon
of N steps, the worst base-objective value

    W_N(s) = max_{s <= t < s + N} L_b(t)

so a report can state "at worst W on the base objective over the next N steps".
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .errors import ParameterError

__all__ = ["worst_over_horizon", "worst_from"]


def worst_over_horizon(L, horizon: int) -> np.ndarray:
    """W_N(s) = max_{s <= t < s + N} L(t) for every start s with a full horizon (strong alignment).

    Parameters
    ----------
    L : array-like [..., T]
        The base objective over time.
    horizon : int
        N, the number of steps looked ahead (1 <= N <= T).

    Returns
    -------
    numpy.ndarray [..., T - N + 1]
        W_N(s) for s = 0 .. T - N.

    Raises
    ------
    ParameterError
        When ``horizon`` is not a positive integer or is longer than the run.

    Examples
    --------
    >>> worst_over_horizon([3.0, 1.0, 2.0, 0.5, 0.4], 2).tolist()
    [3.0, 2.0, 2.0, 0.5]
    """
    L = np.asarray(L, dtype=np.float64)
    if not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ParameterError(f"horizon={horizon!r} must be a positive integer number of steps", parameter="horizon")
    if horizon > L.shape[-1]:
        raise ParameterError(f"horizon {horizon} is longer than the run ({L.shape[-1]} values); shorten the horizon",
                             parameter="horizon")
    return sliding_window_view(L, horizon, axis=-1).max(axis=-1)


def worst_from(L, start: int, horizon: int) -> np.ndarray:
    """W_N(start) = max of L over [start, start + N), clipped at the run's end (strong alignment).

    Parameters
    ----------
    L : array-like [..., T]
        The base objective over time.
    start : int
        s, the first step (0 <= s < T).
    horizon : int
        N >= 1.

    Returns
    -------
    numpy.ndarray [...]
        The worst value over the window ("at worst W over the next N steps").

    Raises
    ------
    ParameterError
        When ``start`` is outside the run or ``horizon`` < 1.

    Examples
    --------
    >>> float(worst_from([3.0, 1.0, 2.0, 0.5], 1, 2))
    2.0
    """
    L = np.asarray(L, dtype=np.float64)
    if not 0 <= start < L.shape[-1]:
        raise ParameterError(f"start step {start} is outside the run (0 .. {L.shape[-1] - 1})")
    if horizon < 1:
        raise ParameterError(f"horizon={horizon!r}; give a positive number of steps")
    return L[..., start:start + horizon].max(axis=-1)
