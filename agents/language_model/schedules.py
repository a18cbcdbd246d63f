"""Learning-rate schedules: plain values, a function of the step.

A schedule maps the step t = 0, 1, ... to the learning rate eps_t of the update
theta_{t+1} = theta_t - eps_t * grad L(theta_t) (definitions.md, "The true objective of
gradient descent"). Optimizer A of seed 000 decays its rate to zero and converges;
optimizer C keeps it constant and orbits. Schedules are frozen values (picklable,
comparable, changed with ``attrs.evolve``); any callable ``step -> float`` with positive
finite values works where a schedule is expected.
"""

from __future__ import annotations

import math
from typing import Callable, Union

import attrs
import numpy as np

from hierarchy.errors import ParameterError


def _positive(name: str, fix: str):
    def check(instance, attribute, value):
        try:
            ok = math.isfinite(value) and value > 0
        except TypeError:
            ok = False
        if not ok:
            raise ParameterError(f"{type(instance).__name__}: {attribute.name}={value!r} {name}; {fix}")

    return check


@attrs.frozen
class Constant:
    """A constant learning rate: eps_t = lr (optimizer C of seed 000).

    Its sum diverges and it never tends to zero, so gradient descent near a minimum
    keeps moving (orbits) unless the rate is small enough for the minimum to be stable.

    Example:
        >>> s = Constant(0.5)
        >>> s(0), s(10_000), str(s)
        (0.5, 0.5, 'constant lr 0.5')
    """

    lr: float = attrs.field(
        converter=float, validator=_positive("is not a learning rate", "give a positive finite number such as 0.5")
    )

    def __call__(self, step) -> float:
        return self.lr

    def values(self, steps: int) -> np.ndarray:
        """eps_t = lr for t = 0 .. steps - 1.

        Example:
            >>> Constant(0.5).values(2).tolist()
            [0.5, 0.5]
        """
        return np.full(int(steps), self.lr)

    def describe(self) -> str:
        """A one-line description for reports."""
        return f"constant lr {self.lr:g}"

    __str__ = describe


@attrs.frozen
class Decay:
    """A decaying learning rate: eps_t = lr0 / (1 + t / tau) (optimizer A of seed 000).

    It tends to zero, so the iterates can settle; its sum diverges (like the harmonic
    series, sum_{t<T} eps_t ~ lr0 * tau * log(T / tau)), so the parameters can still
    travel any distance: the classical conditions for convergence to a stationary point.

    Example:
        >>> s = Decay(1.0, 2000.0)
        >>> s(0), s(2000), s(6000)
        (1.0, 0.5, 0.25)
        >>> str(s)
        'decay lr0/(1+t/tau), lr0 1, tau 2000'
    """

    lr0: float = attrs.field(
        converter=float, validator=_positive("is not a learning rate", "give a positive finite number such as 1.0")
    )
    tau: float = attrs.field(
        converter=float,
        validator=_positive("is not a decay time", "give a positive number of steps such as 2000 (use Constant for no decay)"),
    )

    def __call__(self, step) -> float:
        return self.lr0 / (1.0 + step / self.tau)

    def values(self, steps: int) -> np.ndarray:
        """eps_t = lr0 / (1 + t / tau) for t = 0 .. steps - 1.

        Example:
            >>> Decay(1.0, 1.0).values(3).tolist()
            [1.0, 0.5, 0.3333333333333333]
        """
        return self.lr0 / (1.0 + np.arange(int(steps), dtype=np.float64) / self.tau)

    def describe(self) -> str:
        """A one-line description for reports."""
        return f"decay lr0/(1+t/tau), lr0 {self.lr0:g}, tau {self.tau:g}"

    __str__ = describe


Schedule = Union[Constant, Decay, Callable[[int], float]]


def schedule_values(schedule: Schedule, steps: int) -> np.ndarray:
    """The learning rates eps_0 .. eps_{steps-1} of any schedule, checked positive and finite.

    Uses the schedule's vectorised ``values`` when it has one, else calls it per step.

    Example:
        >>> schedule_values(Decay(2.0, 1.0), 3).tolist()
        [2.0, 1.0, 0.6666666666666666]
        >>> schedule_values(lambda t: 0.1, 2).tolist()
        [0.1, 0.1]
    """
    if hasattr(schedule, "values"):
        lrs = np.asarray(schedule.values(steps), dtype=np.float64)
    elif callable(schedule):
        lrs = np.array([float(schedule(t)) for t in range(int(steps))], dtype=np.float64)
    else:
        raise ParameterError(f"schedule {schedule!r} is not a schedule; give Constant(lr), Decay(lr0, tau) or a function of the step")
    if lrs.shape != (int(steps),):
        raise ParameterError(f"schedule {describe(schedule)} gave {lrs.shape} rates for {steps} steps; give one rate per step")
    bad = ~(np.isfinite(lrs) & (lrs > 0))
    if bad.any():
        t = int(np.argmax(bad))
        raise ParameterError(
            f"schedule {describe(schedule)} gives learning rate {lrs[t]!r} at step {t}; every rate must be positive and finite"
        )
    return lrs


def describe(schedule: Schedule) -> str:
    """The schedule's one-line description (its ``describe()``, else its repr).

    Example:
        >>> describe(Constant(2.0))
        'constant lr 2'
    """
    d = getattr(schedule, "describe", None)
    return d() if callable(d) else repr(schedule)
