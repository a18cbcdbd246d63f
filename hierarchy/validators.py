"""attrs validators for parameters, raising ParameterError with the field's name and the fix."""

from __future__ import annotations

import numpy as np

from .errors import ParameterError

__all__ = ["positive_int", "non_negative_int"]


def positive_int(instance, attribute, value) -> None:
    """An integer >= 1 (not a bool).

    Example:
        >>> import attrs
        >>> @attrs.frozen
        ... class P:
        ...     steps: int = attrs.field(default=1, validator=positive_int)
        >>> P(0)
        Traceback (most recent call last):
        ...
        hierarchy.errors.ParameterError: steps=0 must be a positive integer
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ParameterError(f"{attribute.name}={value!r} must be a positive integer")


def non_negative_int(instance, attribute, value) -> None:
    """An integer >= 0 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ParameterError(f"{attribute.name}={value!r} must be an integer >= 0")
