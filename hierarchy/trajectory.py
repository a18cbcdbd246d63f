"""Trajectories: what one run of a leaf population yields.

Per objective an array ``[K, T]`` (K copies, T recorded values: index 0 is the starting
state, index t the state after t steps), and per copy the step at which it diverged
(-1 when it never did). A diverged copy's values from that step on are NaN and never
enter a figure.

Two kinds of metadata ride along:

* ``meta``: facts about the whole run (its schedule, its step unit, a note), any values,
  copied unchanged by :meth:`Trajectory.select`;
* ``copy_meta``: facts about each copy (its initial and final parameters, its learning rate,
  its dataset's seed), a dict of arrays whose first axis is K, sliced by
  :meth:`Trajectory.select` together with the values.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import attrs
import numpy as np

from .errors import LeafError

__all__ = ["Trajectory"]


def _as_values(values: Mapping[str, Any]) -> dict:
    return {str(k): np.asarray(v, dtype=np.float64) for k, v in values.items()}


def _as_arrays(values: Mapping[str, Any]) -> dict:
    return {str(k): np.asarray(v) for k, v in dict(values or {}).items()}


@attrs.frozen(eq=False)
class Trajectory:
    """The recorded objectives of a population run.

    Parameters
    ----------
    values : mapping of str to array-like
        Per objective, its values ``[K, T]`` (index 0 the start, index t after t steps).
    diverged_at : array-like of int, optional
        Per copy, the step at which it diverged, -1 for none (default: none diverged).
    states : array-like, optional
        The leaf's states ``[K, T, ...]``, on which evaluated objectives are computed.
    meta : dict, optional
        Run-level facts (any values), copied unchanged by :meth:`select`.
    copy_meta : mapping of str to array-like, optional
        Per-copy facts: each an array whose first axis is K (e.g. ``initial_params [K, P]``),
        sliced by :meth:`select`.
    product : object, optional
        What the run produced, if it trains something (a trained reward network, a trained
        layer): another node's leaf may be built from it (:mod:`hierarchy.product`).

    Raises
    ------
    LeafError
        When the arrays are not all ``[K, T]``, are empty, or ``diverged_at``, ``states`` or an
        entry of ``copy_meta`` does not have one row per copy.

    Examples
    --------
    >>> import numpy as np
    >>> tr = Trajectory({"L": np.array([[3.0, 2.0, 1.0]])})
    >>> tr.K, tr.T, tr.status()
    (1, 3, ['ok'])
    >>> tr = Trajectory({"L": [[3.0, 2.0], [4.0, 1.0]]}, copy_meta={"lr": [0.1, 0.2]}, meta={"schedule": "constant"})
    >>> tr.select(1).copy_meta["lr"].tolist(), tr.select(1).meta
    ([0.2], {'schedule': 'constant'})
    """

    values: dict = attrs.field(converter=_as_values)
    diverged_at: Optional[np.ndarray] = attrs.field(default=None)
    states: Optional[np.ndarray] = attrs.field(default=None)
    meta: dict = attrs.field(factory=dict, validator=attrs.validators.instance_of(dict))
    product: Any = attrs.field(default=None)
    copy_meta: dict = attrs.field(factory=dict, converter=_as_arrays, kw_only=True)

    def __attrs_post_init__(self):
        if not self.values:
            raise LeafError("trajectory has no recorded objective; a leaf must record at least one objective")
        shapes = {k: v.shape for k, v in self.values.items()}
        first = next(iter(shapes.values()))
        if len(first) != 2 or any(s != first for s in shapes.values()):
            raise LeafError(
                f"trajectory arrays must all have shape [K, T], got {shapes}; return one row per copy and one column per step"
            )
        if first[0] < 1 or first[1] < 1:
            raise LeafError(f"trajectory arrays of shape {first} are empty; run at least one copy for at least one step")
        if self.diverged_at is None:
            object.__setattr__(self, "diverged_at", np.full(first[0], -1, dtype=np.int64))
        else:
            d = np.asarray(self.diverged_at, dtype=np.int64).reshape(-1)
            if d.shape != (first[0],):
                raise LeafError(f"diverged_at has shape {d.shape}, expected ({first[0]},): one entry per copy, -1 for none")
            object.__setattr__(self, "diverged_at", d)
        if self.states is not None and np.shape(self.states)[:2] != first:
            raise LeafError(
                f"states of shape {np.shape(self.states)} do not match the objectives' [K, T] = {first}"
            )
        for k, v in self.copy_meta.items():
            if v.ndim < 1 or v.shape[0] != first[0]:
                raise LeafError(f"copy_meta[{k!r}] has shape {v.shape}, expected first axis K = {first[0]}: one entry "
                                f"per copy (put run-level facts in meta)")

    @property
    def K(self) -> int:
        """Number of copies in the population.

        Returns
        -------
        int
            The first axis of every recorded array ``[K, T]``.

        Examples
        --------
        >>> Trajectory({"L": [[3.0, 2.0], [4.0, 1.0]]}).K
        2
        """
        return next(iter(self.values.values())).shape[0]

    @property
    def T(self) -> int:
        """Number of recorded values per copy (steps + 1).

        Returns
        -------
        int
            The second axis of every recorded array ``[K, T]`` (index 0 the start).

        Examples
        --------
        >>> Trajectory({"L": [[3.0, 2.0, 1.0]]}).T
        3
        """
        return next(iter(self.values.values())).shape[1]

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask [K]: copies that never diverged.

        Returns
        -------
        numpy.ndarray of bool, shape [K]
            True where ``diverged_at`` is -1.

        Examples
        --------
        >>> Trajectory({"L": [[3.0, 2.0], [4.0, 9.0]]}, diverged_at=[-1, 1]).ok.tolist()
        [True, False]
        """
        return self.diverged_at < 0

    def status(self) -> list:
        """Per copy: ``'ok'`` or ``'diverged at step t'``.

        Returns
        -------
        list of str
            One entry per copy, in copy order.

        Examples
        --------
        >>> Trajectory({"L": [[3.0, 2.0], [4.0, 9.0]]}, diverged_at=[-1, 1]).status()
        ['ok', 'diverged at step 1']
        """
        return ["ok" if d < 0 else f"diverged at step {int(d)}" for d in self.diverged_at]

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.values[name]
        except KeyError:
            raise LeafError(
                f"the trajectory has no objective {name!r}; it records {sorted(self.values)}"
            ) from None

    def with_values(self, **extra) -> "Trajectory":
        """A copy with more objectives added (e.g. ones evaluated on the states).

        Parameters
        ----------
        **extra : array-like [K, T]
            The objectives to add, by name; one of an existing name replaces it.

        Returns
        -------
        Trajectory
            A new trajectory with the values ``{**self.values, **extra}``; everything else unchanged.

        Raises
        ------
        LeafError
            When an added array is not of the shape ``[K, T]`` of the others.

        Examples
        --------
        >>> tr = Trajectory({"L": [[3.0, 2.0]]}).with_values(G=[[1.0, 0.5]])
        >>> sorted(tr.values), tr["G"].tolist()
        (['G', 'L'], [[1.0, 0.5]])
        """
        return attrs.evolve(self, values={**self.values, **extra})

    def select(self, index) -> "Trajectory":
        """The sub-population ``index``, still ``[K', T]``.

        Parameters
        ----------
        index : int, slice, or array of int or bool
            Which copies to keep.

        Returns
        -------
        Trajectory
            Values, ``diverged_at``, ``states`` and every ``copy_meta`` array sliced to those
            copies; ``meta`` and ``product`` unchanged.

        Examples
        --------
        >>> tr = Trajectory({"L": [[3.0, 2.0], [4.0, 1.0], [5.0, 5.0]]}, copy_meta={"seed": [7, 8, 9]})
        >>> sub = tr.select([0, 2])
        >>> sub.K, sub.copy_meta["seed"].tolist()
        (2, [7, 9])
        """
        idx = np.atleast_1d(np.arange(self.K)[index])
        return Trajectory(
            {k: v[idx] for k, v in self.values.items()},
            diverged_at=self.diverged_at[idx],
            states=None if self.states is None else np.asarray(self.states)[idx],
            meta=dict(self.meta),
            product=self.product,
            copy_meta={k: v[idx] for k, v in self.copy_meta.items()},
        )
