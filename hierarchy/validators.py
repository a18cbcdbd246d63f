"""attrs validators that raise the project's errors, built to compose with attrs' own.

attrs' built-in validators (``instance_of``, ``in_``, ...) raise ``TypeError`` /
``ValueError``; mesastack raises one exception tree (:mod:`hierarchy.errors`). The
factory :func:`check` makes an attrs-compatible validator from a predicate that raises a
:class:`~hierarchy.errors.MesastackError` subclass in one line naming the attribute, the
value, the expectation and the fix::

    <attribute>=<value!r> must be <expectation>; <fix>

The validators below are values built with it, and they compose with attrs' own
combinators: ``attrs.validators.optional(finite_number(...))`` lets ``None`` through,
``attrs.validators.and_(finite_number(...), check(...))`` applies both in order.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

import attrs
import numpy as np

from .errors import MesastackError, ParameterError

__all__ = ["check", "finite_number", "one_of", "positive_int", "non_negative_int"]


@attrs.frozen(repr=False)
class _Check:
    predicate: Callable[[Any], bool]
    expectation: str
    fix: Optional[str] = None
    error: type = ParameterError
    parameter: Optional[str] = None

    def __call__(self, instance, attribute, value) -> None:
        try:
            ok = bool(self.predicate(value))
        except Exception:  # a predicate that cannot judge the value refuses it
            ok = False
        if not ok:
            fix = f"; {self.fix}" if self.fix else ""
            raise self.error(f"{attribute.name}={value!r} must be {self.expectation}{fix}", parameter=self.parameter)

    def __repr__(self) -> str:
        return f"<check: must be {self.expectation}>"


def check(predicate: Callable[[Any], bool], expectation: str, fix: Optional[str] = None, *,
          error: type = ParameterError, parameter: Optional[str] = None) -> _Check:
    """An attrs validator that refuses any value for which ``predicate`` is not true.

    Parameters
    ----------
    predicate : callable
        ``predicate(value) -> bool``; an exception inside it counts as False.
    expectation : str
        What the value must be, completing "``<attribute>=<value>`` must be ...".
    fix : str, optional
        How to fix it, appended after a semicolon.
    error : type, optional
        The :class:`~hierarchy.errors.MesastackError` subclass raised (default
        :class:`~hierarchy.errors.ParameterError`).
    parameter : str, optional
        Passed on as the error's ``parameter``, for a front end to name its option.

    Returns
    -------
    callable
        ``validator(instance, attribute, value)``, usable wherever attrs takes a validator
        (also inside ``attrs.validators.optional`` and ``attrs.validators.and_``).

    Raises
    ------
    ParameterError
        When ``error`` is not a :class:`~hierarchy.errors.MesastackError` subclass.

    Examples
    --------
    >>> @attrs.frozen
    ... class P:
    ...     rate: float = attrs.field(validator=check(lambda v: v > 0, "> 0", "use e.g. 0.1"))
    >>> P(-1.0)
    Traceback (most recent call last):
    ...
    hierarchy.errors.ParameterError: rate=-1.0 must be > 0; use e.g. 0.1
    """
    if not (isinstance(error, type) and issubclass(error, MesastackError)):
        raise ParameterError(f"error={error!r} must be a MesastackError subclass; the project raises one exception tree")
    return _Check(predicate, expectation, fix, error, parameter)


def _is_real(v) -> bool:
    return not isinstance(v, (bool, np.bool_)) and isinstance(v, (int, float, np.integer, np.floating))


def finite_number(fix: Optional[str] = None, *, error: type = ParameterError,
                  parameter: Optional[str] = None) -> _Check:
    """A validator for a finite real number (an int or a float, not a bool, not NaN or inf).

    Parameters
    ----------
    fix : str, optional
        How to fix a refused value.
    error : type, optional
        The error raised (default :class:`~hierarchy.errors.ParameterError`).
    parameter : str, optional
        The error's ``parameter``.

    Returns
    -------
    callable
        An attrs validator (see :func:`check`).

    Examples
    --------
    >>> @attrs.frozen
    ... class P:
    ...     x: float = attrs.field(validator=finite_number("measure it"))
    ...     y: object = attrs.field(default=None, validator=attrs.validators.optional(finite_number()))
    >>> P(1.0).y is None
    True
    >>> P(float("nan"))
    Traceback (most recent call last):
    ...
    hierarchy.errors.ParameterError: x=nan must be a finite number; measure it
    """
    return check(lambda v: _is_real(v) and math.isfinite(v), "a finite number", fix, error=error,
                 parameter=parameter)


def one_of(choices, fix: Optional[str] = None, *, error: type = ParameterError,
           parameter: Optional[str] = None) -> _Check:
    """A validator for a value among ``choices`` (attrs' ``in_``, raising the project's error).

    Parameters
    ----------
    choices : collection
        The allowed values.
    fix : str, optional
        How to fix a refused value; by default "choose one of <choices>".
    error : type, optional
        The error raised (default :class:`~hierarchy.errors.ParameterError`).
    parameter : str, optional
        The error's ``parameter``.

    Returns
    -------
    callable
        An attrs validator (see :func:`check`).

    Examples
    --------
    >>> @attrs.frozen
    ... class P:
    ...     kind: str = attrs.field(validator=one_of(("a", "b")))
    >>> P("c")
    Traceback (most recent call last):
    ...
    hierarchy.errors.ParameterError: kind='c' must be one of a, b; choose one of a, b
    """
    choices = tuple(choices)
    listed = ", ".join(map(str, choices))
    return check(lambda v: v in choices, f"one of {listed}", fix or f"choose one of {listed}", error=error,
                 parameter=parameter)


def _int_at_least(low: int) -> Callable[[Any], bool]:
    return lambda v: not isinstance(v, bool) and isinstance(v, (int, np.integer)) and v >= low


_POSITIVE_INT = check(_int_at_least(1), "a positive integer")
_NON_NEGATIVE_INT = check(_int_at_least(0), "an integer >= 0")


def positive_int(instance, attribute, value) -> None:
    """An attrs validator for an integer >= 1 (not a bool).

    Parameters
    ----------
    instance, attribute, value
        As attrs passes them.

    Returns
    -------
    None

    Raises
    ------
    ParameterError
        When the value is not an integer >= 1.

    Examples
    --------
    >>> @attrs.frozen
    ... class P:
    ...     steps: int = attrs.field(default=1, validator=positive_int)
    >>> P(0)
    Traceback (most recent call last):
    ...
    hierarchy.errors.ParameterError: steps=0 must be a positive integer
    """
    _POSITIVE_INT(instance, attribute, value)


def non_negative_int(instance, attribute, value) -> None:
    """An attrs validator for an integer >= 0 (not a bool).

    Parameters
    ----------
    instance, attribute, value
        As attrs passes them.

    Returns
    -------
    None

    Raises
    ------
    ParameterError
        When the value is not an integer >= 0.

    Examples
    --------
    >>> @attrs.frozen
    ... class P:
    ...     steps: int = attrs.field(default=0, validator=non_negative_int)
    >>> P(True)
    Traceback (most recent call last):
    ...
    hierarchy.errors.ParameterError: steps=True must be an integer >= 0
    """
    _NON_NEGATIVE_INT(instance, attribute, value)
