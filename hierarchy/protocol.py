"""The leaf-optimizer protocol and its checker.

A leaf is anything that can run a population of K copies for ``steps`` steps from a
seed and return a :class:`~hierarchy.trajectory.Trajectory` of the objectives it
records. Delegating nodes (designers, researchers) never run: only leaves step, and
every ancestor's objective is evaluated on the leaf's states (definitions.md, "A
delegation").

:func:`check_leaf` is a composition of small named checks (``check_records``,
``check_run``, ``check_trajectory_shape``, ``check_recorded``, ``check_objectives``,
``check_seed_repeats``, ``check_seeds_differ``), each usable on its own.
"""

from __future__ import annotations

from typing import Callable, Optional, Protocol, Sequence, runtime_checkable

import numpy as np

from .errors import LeafError, MesastackError, ObjectiveError
from .objective import Objective
from .trajectory import Trajectory

Progress = Optional[Callable[[int], None]]


__all__ = ["Leaf", "Progress", "check_leaf", "check_records", "check_run", "check_trajectory_shape",
           "check_recorded", "check_objectives", "check_seed_repeats", "check_seeds_differ"]


@runtime_checkable
class Leaf(Protocol):
    """What a leaf optimizer provides.

    ``records`` names the objectives it records itself; ``run`` steps a population and
    returns their values ``[K, steps + 1]`` (index 0 is the start). A leaf whose
    objectives are evaluated on states returns ``states`` ``[K, steps + 1, ...]`` too.
    ``progress``, when given, is called with the number of steps completed so far (cumulative).

    Optional attributes: ``step_unit`` (what one step is: "gradient step", "move", ...;
    default "step") and ``deterministic`` (True for a leaf that has no randomness, so that
    different seeds legitimately give the same run: :func:`check_seeds_differ` is skipped).

    Parameters
    ----------
    records : tuple of str
        The objectives the leaf records itself.

    Examples
    --------
    >>> class Halving:
    ...     records = ("L",)
    ...     def run(self, steps, seed, progress=None):
    ...         return Trajectory({"L": 0.5 ** np.arange(steps + 1)[None, :]})
    >>> isinstance(Halving(), Leaf)
    True
    >>> Halving().run(2, np.random.SeedSequence(0)).values["L"].tolist()
    [[1.0, 0.5, 0.25]]
    """

    records: tuple

    def run(self, steps: int, seed: np.random.SeedSequence, progress: Progress = None) -> Trajectory:
        """Run ``steps`` steps of K copies from ``seed``.

        Parameters
        ----------
        steps : int
            How many steps (>= 1).
        seed : numpy.random.SeedSequence
            The leaf's seed; copies draw from its children (:mod:`hierarchy.seeding`).
        progress : callable, optional
            Called with the cumulative number of steps completed.

        Returns
        -------
        Trajectory
            The recorded objectives ``[K, steps + 1]`` (and ``states`` where objectives are
            evaluated on them).

        Examples
        --------
        >>> class Flat:
        ...     records = ("L",)
        ...     def run(self, steps, seed, progress=None):
        ...         return Trajectory({"L": np.ones((2, steps + 1))})
        >>> Flat().run(3, np.random.SeedSequence(0)).values["L"].shape
        (2, 4)
        """


def _name(leaf) -> str:
    return type(leaf).__name__


def check_records(leaf) -> tuple:
    """Check that ``leaf`` has a ``records`` tuple and a callable ``run``.

    Parameters
    ----------
    leaf : object
        The leaf to check.

    Returns
    -------
    tuple of str
        The names it records.

    Raises
    ------
    LeafError
        When ``records`` or ``run`` is missing.

    Examples
    --------
    >>> class NoRun:
    ...     records = ("L",)
    >>> check_records(NoRun())
    Traceback (most recent call last):
    ...
    hierarchy.errors.LeafError: leaf NoRun cannot step: give it a 'records' tuple of objective names and a 'run(steps, seed, progress=None)' method returning a Trajectory
    """
    if not hasattr(leaf, "records") or not callable(getattr(leaf, "run", None)):
        raise LeafError(
            f"leaf {_name(leaf)} cannot step: give it a 'records' tuple of objective names and a "
            f"'run(steps, seed, progress=None)' method returning a Trajectory"
        )
    return tuple(leaf.records)


def check_run(leaf, steps: int, seed: int) -> Trajectory:
    """Run ``leaf`` for ``steps`` steps from ``SeedSequence(seed)`` and check that it returns a Trajectory.

    Parameters
    ----------
    leaf : Leaf
        The leaf to run.
    steps : int
        Steps of the short run.
    seed : int
        The seed of the run.

    Returns
    -------
    Trajectory

    Raises
    ------
    LeafError
        When ``run`` raises (a non-mesastack exception, reported with its type) or returns
        something else than a Trajectory.

    Examples
    --------
    >>> class Broken:
    ...     records = ("L",)
    ...     def run(self, steps, seed, progress=None):
    ...         return {"L": [1.0]}
    >>> check_run(Broken(), 3, 0)
    Traceback (most recent call last):
    ...
    hierarchy.errors.LeafError: leaf Broken.run returned dict; it must return a hierarchy.Trajectory
    """
    name = _name(leaf)
    try:
        tr = leaf.run(steps, np.random.SeedSequence(seed))
    except MesastackError:
        raise
    except Exception as exc:  # a user's leaf failing is reported, not hidden
        raise LeafError(f"leaf {name} failed to run {steps} steps: {type(exc).__name__}: {exc}; fix its run method") from exc
    if not isinstance(tr, Trajectory):
        raise LeafError(f"leaf {name}.run returned {type(tr).__name__}; it must return a hierarchy.Trajectory")
    return tr


def check_trajectory_shape(leaf, tr: Trajectory, steps: int) -> None:
    """Check that ``tr`` holds ``steps + 1`` values per copy (the start and every step).

    Parameters
    ----------
    leaf : Leaf
        The leaf that ran (named in the message).
    tr : Trajectory
        Its trajectory.
    steps : int
        The steps it was asked for.

    Returns
    -------
    None

    Raises
    ------
    LeafError
        When ``tr.T != steps + 1``.

    Examples
    --------
    >>> check_trajectory_shape(object(), Trajectory({"L": [[2.0, 1.0]]}), steps=3)
    Traceback (most recent call last):
    ...
    hierarchy.errors.LeafError: leaf object returned 2 values per copy for 3 steps; record the start and every step (4 values)
    """
    if tr.T != steps + 1:
        raise LeafError(
            f"leaf {_name(leaf)} returned {tr.T} values per copy for {steps} steps; record the start and every step "
            f"({steps + 1} values)"
        )


def check_recorded(leaf, tr: Trajectory) -> None:
    """Check that every name in ``leaf.records`` is in the trajectory.

    Parameters
    ----------
    leaf : Leaf
        The leaf that ran.
    tr : Trajectory
        Its trajectory.

    Returns
    -------
    None

    Raises
    ------
    LeafError
        When a recorded name is missing.

    Examples
    --------
    >>> class Claims:
    ...     records = ("L", "G")
    >>> check_recorded(Claims(), Trajectory({"L": [[2.0, 1.0]]}))
    Traceback (most recent call last):
    ...
    hierarchy.errors.LeafError: leaf Claims claims to record ['G'] but its trajectory lacks them; record them or drop them from 'records'
    """
    missing = [r for r in tuple(leaf.records) if r not in tr.values]
    if missing:
        raise LeafError(f"leaf {_name(leaf)} claims to record {missing} but its trajectory lacks them; record them or "
                        f"drop them from 'records'")


def check_objectives(leaf, tr: Trajectory, objectives: Sequence[Objective]) -> None:
    """Check that every objective is recorded in ``tr`` or evaluates on its states to ``[K, T]``.

    Parameters
    ----------
    leaf : Leaf
        The leaf that ran.
    tr : Trajectory
        Its trajectory.
    objectives : sequence of Objective
        The objectives of the leaf's chain.

    Returns
    -------
    None

    Raises
    ------
    ObjectiveError
        When a recorded objective is missing, an evaluated one finds no states, or it
        returns the wrong shape.

    Examples
    --------
    >>> check_objectives(object(), Trajectory({"L": [[2.0, 1.0]]}), [Objective("G")])
    Traceback (most recent call last):
    ...
    hierarchy.errors.ObjectiveError: objective 'G' is neither recorded by leaf object (it records ['L']) nor evaluated on states; give it an evaluate function or record it in the leaf
    """
    name = _name(leaf)
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
                    f"objective {obj.name!r} is evaluated on states but leaf {name} returns none; return states "
                    f"[K, T, ...] from run"
                )
            obj(tr.states)


def _same_run(a: Trajectory, b: Trajectory) -> bool:
    if set(a.values) != set(b.values):
        return False
    if not all(np.array_equal(v, b.values[k], equal_nan=True) for k, v in a.values.items()):
        return False
    if (a.states is None) != (b.states is None):
        return False
    return a.states is None or np.array_equal(np.asarray(a.states), np.asarray(b.states), equal_nan=True)


def check_seed_repeats(leaf, tr: Trajectory, steps: int, seed: int) -> None:
    """Check that running ``leaf`` again from the same seed repeats ``tr`` exactly.

    Parameters
    ----------
    leaf : Leaf
        The leaf that produced ``tr``.
    tr : Trajectory
        Its run from ``seed``.
    steps : int
        The steps of that run.
    seed : int
        Its seed.

    Returns
    -------
    None

    Raises
    ------
    LeafError
        When a value differs (the leaf draws randomness from elsewhere than its seed).

    Examples
    --------
    >>> class Unseeded:
    ...     records = ("L",)
    ...     def run(self, steps, seed, progress=None):
    ...         return Trajectory({"L": np.random.default_rng().normal(size=(1, steps + 1))})
    >>> leaf = Unseeded()
    >>> check_seed_repeats(leaf, leaf.run(3, None), 3, 0)
    Traceback (most recent call last):
    ...
    hierarchy.errors.LeafError: leaf Unseeded gave different values of 'L' for the same seed; draw all randomness from the seed it is given
    """
    again = check_run(leaf, steps, seed)
    for k, v in tr.values.items():
        if k not in again.values or not np.array_equal(v, again.values[k], equal_nan=True):
            raise LeafError(
                f"leaf {_name(leaf)} gave different values of {k!r} for the same seed; draw all randomness from the "
                f"seed it is given"
            )


def check_seeds_differ(leaf, tr: Trajectory, steps: int, seed: int) -> None:
    """Check that a different seed gives a different run (the leaf uses its seed).

    Skipped for a leaf that declares ``deterministic = True`` (it has no randomness, so every
    seed legitimately gives the same run).

    Parameters
    ----------
    leaf : Leaf
        The leaf that produced ``tr``.
    tr : Trajectory
        Its run from ``seed``.
    steps : int
        The steps of that run.
    seed : int
        Its seed; the check runs ``seed + 1``.

    Returns
    -------
    None

    Raises
    ------
    LeafError
        When seeds ``seed`` and ``seed + 1`` give identical values and states.

    Examples
    --------
    >>> class Fixed:
    ...     records = ("L",)
    ...     def run(self, steps, seed, progress=None):
    ...         return Trajectory({"L": [0.5 ** np.arange(steps + 1)]})
    >>> leaf = Fixed()
    >>> check_seeds_differ(leaf, leaf.run(3, None), 3, 0)
    Traceback (most recent call last):
    ...
    hierarchy.errors.LeafError: leaf Fixed gave the same run for seeds 0 and 1; draw its randomness from the seed it is given, or declare deterministic = True on a leaf that has none
    >>> Fixed.deterministic = True
    >>> check_seeds_differ(leaf, leaf.run(3, None), 3, 0)
    """
    if getattr(leaf, "deterministic", False) is True:
        return
    if _same_run(tr, check_run(leaf, steps, seed + 1)):
        raise LeafError(
            f"leaf {_name(leaf)} gave the same run for seeds {seed} and {seed + 1}; draw its randomness from the seed "
            f"it is given, or declare deterministic = True on a leaf that has none"
        )


def check_leaf(leaf, objectives: Sequence[Objective] = (), steps: int = 3, seed: int = 0) -> Trajectory:
    """Validate a user's leaf before a real run, like Gymnasium's environment checker.

    A composition of small named checks, in this order: :func:`check_records` (``records``
    and ``run``), :func:`check_run` (it runs and returns a Trajectory),
    :func:`check_trajectory_shape` (``steps + 1`` values per copy), :func:`check_recorded`
    (every recorded name present), :func:`check_objectives` (every objective of the chain
    recorded or evaluable to ``[K, T]``), :func:`check_seed_repeats` (the same seed repeats)
    and :func:`check_seeds_differ` (a different seed changes the run; skipped for a leaf
    with ``deterministic = True``).

    Parameters
    ----------
    leaf : Leaf
        The leaf to check.
    objectives : sequence of Objective, optional
        The objectives of its chain.
    steps : int, optional
        Steps of each short run (default 3).
    seed : int, optional
        The seed of the first run (default 0); the seeds check also runs ``seed + 1``.

    Returns
    -------
    Trajectory
        The run from ``seed``, when every check passes.

    Raises
    ------
    LeafError
        From a leaf check, in one line naming the fix.
    ObjectiveError
        From :func:`check_objectives`.

    Examples
    --------
    >>> import numpy as np
    >>> from hierarchy.trajectory import Trajectory
    >>> class Halving:
    ...     records = ("L",)
    ...     def run(self, steps, seed, progress=None):
    ...         x0 = np.random.default_rng(seed).uniform(1, 2, size=(2, 1))
    ...         return Trajectory({"L": x0 * 0.5 ** np.arange(steps + 1)})
    >>> check_leaf(Halving(), [Objective("L")]).T
    4
    """
    check_records(leaf)
    tr = check_run(leaf, steps, seed)
    check_trajectory_shape(leaf, tr, steps)
    check_recorded(leaf, tr)
    check_objectives(leaf, tr, objectives)
    check_seed_repeats(leaf, tr, steps, seed)
    check_seeds_differ(leaf, tr, steps, seed)
    return tr
