"""Objectives: named functions of an optimizer's state, lower is better.

An objective is either *recorded* by the leaf optimizer itself while it steps (the
cross-entropy L and the gradient size G of gradient descent: computing them needs the
leaf's internals), or *evaluated* on the states the leaf exposes (the distance to a
maze's exit, evaluated on the agent's positions). A reward R enters as L = -R.
"""

from __future__ import annotations

from typing import Callable, Optional

import attrs
import numpy as np

from .errors import ObjectiveError
from .validators import check

__all__ = ["Objective"]


_check_name = check(lambda v: isinstance(v, str) and v != "" and "/" not in v and v == v.strip(),
                    "a usable objective name", "give a short non-empty name without '/' such as 'L' or 'G'",
                    error=ObjectiveError)


@attrs.frozen
class Objective:
    """A named objective (lower is better).

    ``evaluate`` maps the leaf's states, an array ``[K, T, ...]``, to values ``[K, T]``;
    leave it ``None`` for objectives the leaf records itself (``recorded`` is then True).
    ``lower_bound``: a value the objective can never go below, where one is known (0 for a
    gradient size, the conditional entropy for a cross-entropy); the limit estimator then
    never extrapolates below it (:mod:`hierarchy.tail`). None: no bound known.

    Calling an objective on states ``[K, T, ...]`` returns ``evaluate(states)`` as float
    values ``[K, T]``.

    Parameters
    ----------
    name : str
        A short non-empty name without '/' ("L", "G", "D").
    description : str, optional
        What it measures, for reports.
    evaluate : callable, optional
        ``evaluate(states [K, T, ...]) -> values [K, T]``; None for a recorded objective.
    lower_bound : float, optional
        A value the objective never goes below (keyword only).

    Raises
    ------
    ObjectiveError
        When ``name`` is not usable; on a call, when the objective is recorded (it has no
        ``evaluate``) or ``evaluate`` returns the wrong shape.

    Examples
    --------
    >>> Objective("L", "cross-entropy on the training set").recorded
    True
    >>> import numpy as np
    >>> dist = Objective("D", "distance to exit", evaluate=lambda s: np.abs(s).sum(-1))
    >>> dist(np.zeros((2, 5, 2))).shape
    (2, 5)
    >>> Objective("L/2")
    Traceback (most recent call last):
    ...
    hierarchy.errors.ObjectiveError: name='L/2' must be a usable objective name; give a short non-empty name without '/' such as 'L' or 'G'
    """

    name: str = attrs.field(validator=_check_name)
    description: str = ""
    evaluate: Optional[Callable[[np.ndarray], np.ndarray]] = attrs.field(default=None, eq=False)
    lower_bound: Optional[float] = attrs.field(default=None, kw_only=True)

    @property
    def recorded(self) -> bool:
        """True when the leaf records this objective itself (no ``evaluate`` function).

        Returns
        -------
        bool
            ``evaluate is None``.

        Examples
        --------
        >>> Objective("L").recorded, Objective("D", evaluate=lambda s: s.sum(-1)).recorded
        (True, False)
        """
        return self.evaluate is None

    def __call__(self, states: np.ndarray) -> np.ndarray:
        if self.evaluate is None:
            raise ObjectiveError(
                f"objective {self.name!r} is recorded by the leaf, not evaluated on states; "
                f"read it from the trajectory instead"
            )
        states = np.asarray(states)
        values = np.asarray(self.evaluate(states), dtype=np.float64)
        if values.shape != states.shape[:2]:
            raise ObjectiveError(
                f"objective {self.name!r} returned shape {values.shape} for states of shape {states.shape}; "
                f"it must return one value per copy and step, shape {states.shape[:2]}"
            )
        return values
