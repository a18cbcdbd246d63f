"""The leaf-optimizer protocol and its checker.

A leaf is anything that can run a population of K copies for ``steps`` steps from a
seed and return a :class:`~hierarchy.trajectory.Trajectory` of the objectives it
records. Delegating nodes (designers, researchers) never run: only leaves step, and
every ancestor's objective is evaluated on the leaf's states (definitions.md, "A
delegation").
"""

from __future__ import annotations

from typing import Callable, Optional, Protocol, Sequence, runtime_checkable

import numpy as np

from .errors import LeafError, MesastackError, ObjectiveError
from .objective import Objective
from .trajectory import Trajectory

Progress = Optional[Callable[[int], None]]


@runtime_checkable
class Leaf(Protocol):
    """What a leaf optimizer provides.

    ``records`` names the objectives it records itself; ``run`` steps a population and
    returns their values ``[K, steps + 1]`` (index 0 is the start). A leaf whose
    objectives are evaluated on states returns ``states`` ``[K, steps + 1, ...]`` too.
    ``progress``, when given, is called with the number of steps completed so far (cumulative).
    """

    records: tuple

    def run(self, steps: int, seed: np.random.SeedSequence, progress: Progress = None) -> Trajectory: ...


def check_leaf(leaf, objectives: Sequence[Objective] = (), steps: int = 3, seed: int = 0) -> Trajectory:
    """Validate a user's leaf before a real run, like an environment checker.

    Runs ``steps`` steps and checks: the leaf has ``records`` and ``run``; the trajectory
    is a Trajectory with ``steps + 1`` values per copy; every recorded objective named in
    ``objectives`` is present; every evaluated objective maps the states to ``[K, T]``;
    the same seed reproduces the same numbers. Raises a one-line LeafError or
    ObjectiveError naming the fix; returns the trajectory when all is well.

    Example:
        >>> import numpy as np
        >>> from hierarchy.trajectory import Trajectory
        >>> class Halving:
        ...     records = ("L",)
        ...     def run(self, steps, seed, progress=None):
        ...         return Trajectory({"L": [0.5 ** np.arange(steps + 1)]})
        >>> check_leaf(Halving(), [Objective("L")]).T
        4
    """
    name = type(leaf).__name__
    if not hasattr(leaf, "records") or not callable(getattr(leaf, "run", None)):
        raise LeafError(
            f"leaf {name} cannot step: give it a 'records' tuple of objective names and a "
            f"'run(steps, seed, progress=None)' method returning a Trajectory"
        )
    records = tuple(leaf.records)

    def one_run():
        try:
            tr = leaf.run(steps, np.random.SeedSequence(seed))
        except MesastackError:
            raise
        except Exception as exc:  # a user's leaf failing is reported, not hidden
            raise LeafError(f"leaf {name} failed to run {steps} steps: {type(exc).__name__}: {exc}; fix its run method") from exc
        if not isinstance(tr, Trajectory):
            raise LeafError(f"leaf {name}.run returned {type(tr).__name__}; it must return a hierarchy.Trajectory")
        return tr

    tr = one_run()
    if tr.T != steps + 1:
        raise LeafError(
            f"leaf {name} returned {tr.T} values per copy for {steps} steps; record the start and every step ({steps + 1} values)"
        )
    missing = [r for r in records if r not in tr.values]
    if missing:
        raise LeafError(f"leaf {name} claims to record {missing} but its trajectory lacks them; record them or drop them from 'records'")
    for obj in objectives:
        if obj.recorded:
            if obj.name not in tr.values:
                raise ObjectiveError(
                    f"objective {obj.name!r} is neither recorded by leaf {name} (it records {sorted(tr.values)}) "
                    f"nor evaluated on states; give it an evaluate function or record it in the leaf"
                )
        else:
            if tr.states is None:
                raise ObjectiveError(
                    f"objective {obj.name!r} is evaluated on states but leaf {name} returns none; return states [K, T, ...] from run"
                )
            obj(tr.states)
    again = one_run()
    for k, v in tr.values.items():
        if not np.array_equal(v, again[k], equal_nan=True):
            raise LeafError(
                f"leaf {name} gave different values of {k!r} for the same seed; draw all randomness from the seed it is given"
            )
    return tr
