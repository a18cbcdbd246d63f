"""Batched leaves: several leaves of one graph whose runs are computed together, once.

A sweep over widths, or a family of perturbations, trains many populations that share
shapes; the fast way is one batched computation (and, for a sweep, a resumable store or a
Dask cluster). :class:`Batch` keeps that while every run still goes through the graph: each
member leaf's ``run`` asks the batch for its part, and the batch computes all parts the
first time any member asks (for that number of steps), then serves the rest from memory.

The batch's randomness is fixed by its own seed (given when it is built, derived from the
scenario seed by :mod:`hierarchy.seeding`), so its members declare ``deterministic = True``:
the seed the graph passes to a member does not change its numbers (see
:func:`hierarchy.protocol.check_leaf`).
"""

from __future__ import annotations

from typing import Callable, Mapping

from .errors import LeafError
from .trajectory import Trajectory

__all__ = ["Batch", "BatchMember"]


class Batch:
    """Compute several leaves' trajectories at once: ``compute(steps, progress) -> {name: Trajectory}``.

    Parameters
    ----------
    compute : callable
        Runs everything for ``steps`` steps and returns one Trajectory per member name.
    description : str
        What the batch computes (shown in errors).

    Examples
    --------
    >>> import numpy as np
    >>> calls = []
    >>> def compute(steps, progress):
    ...     calls.append(steps)
    ...     return {name: Trajectory({"L": [np.linspace(k + 2, 1, steps + 1)]}) for k, name in enumerate("ab")}
    >>> b = Batch(compute)
    >>> a, c = b.member("a", ("L",)), b.member("b", ("L",))
    >>> float(a.run(4, 0)["L"][0, 0]), float(c.run(4, 1)["L"][0, 0]), calls
    (2.0, 3.0, [4])
    """

    def __init__(self, compute: Callable[[int, object], Mapping[str, Trajectory]], description: str = "batch"):
        self._compute = compute
        self.description = description
        self._cache = {}

    def result(self, steps: int, progress=None) -> dict:
        """Every member's trajectory for ``steps`` steps (computed on the first call).

        Parameters
        ----------
        steps : int
            The run's length; a new length recomputes (one length is kept at a time).
        progress : callable, optional
            Passed to ``compute``.

        Returns
        -------
        dict of str to Trajectory

        Raises
        ------
        LeafError
            When ``compute`` returns something that is not a Trajectory for a member.

        Examples
        --------
        >>> import numpy as np
        >>> b = Batch(lambda steps, progress: {"a": Trajectory({"L": np.ones((1, steps + 1))})})
        >>> b.result(2)["a"].values["L"].shape
        (1, 3)
        """
        if steps not in self._cache:
            out = dict(self._compute(int(steps), progress))
            for name, tr in out.items():
                if not isinstance(tr, Trajectory):
                    raise LeafError(f"{self.description}: member {name!r} got {type(tr).__name__}, not a Trajectory")
            self._cache = {steps: out}  # keep one result: a batch is run for one length at a time
        return self._cache[steps]

    def member(self, name: str, records: tuple, step_unit: str = "step") -> "BatchMember":
        """The leaf that runs ``name``'s part of the batch.

        Parameters
        ----------
        name : str
            The member's key in ``compute``'s result.
        records : tuple of str
            What the member's trajectory records.
        step_unit : str, optional
            What one step is.

        Returns
        -------
        BatchMember

        Examples
        --------
        >>> Batch(lambda steps, progress: {}, "widths").member("w8", ("L",))
        BatchMember('w8' of widths)
        """
        return BatchMember(self, name, tuple(records), step_unit)


class BatchMember:
    """A leaf whose run is its part of a :class:`Batch` (``deterministic``: the batch fixes its seed).

    Parameters
    ----------
    batch : Batch
        The batch that computes it.
    name : str
        Its key in the batch's result.
    records : tuple of str
        What its trajectory records.
    step_unit : str, optional
        What one step is.

    Examples
    --------
    >>> m = BatchMember(Batch(lambda steps, progress: {}), "a", ("L",))
    >>> m.records, m.deterministic
    (('L',), True)
    """

    deterministic = True

    def __init__(self, batch: Batch, name: str, records: tuple, step_unit: str = "step"):
        self.batch, self.name, self.records, self.step_unit = batch, name, records, step_unit

    def run(self, steps: int, seed=None, progress=None) -> Trajectory:
        """This member's trajectory, cut from the batch's one shared run (run on first use).

        Parameters
        ----------
        steps : int
            The run's length.
        seed : ignored
            The batch fixes its own randomness.
        progress : callable, optional
            Passed to the batch's computation.

        Returns
        -------
        Trajectory

        Raises
        ------
        LeafError
            When the batch computed no part named like this member.

        Examples
        --------
        >>> import numpy as np
        >>> b = Batch(lambda steps, progress: {"a": Trajectory({"L": np.zeros((1, steps + 1))})})
        >>> b.member("b", ("L",)).run(2)
        Traceback (most recent call last):
        ...
        hierarchy.errors.LeafError: batch computed no part named 'b' (it has ['a']); name the member as the batch does
        """
        out = self.batch.result(steps, progress)
        if self.name not in out:
            raise LeafError(f"{self.batch.description} computed no part named {self.name!r} "
                            f"(it has {sorted(out)}); name the member as the batch does")
        return out[self.name]

    def __repr__(self) -> str:
        return f"BatchMember({self.name!r} of {self.batch.description})"
