"""The store of a live monitor: records in preallocated buffers that double when full.

Per record: a step (an integer, strictly increasing) and, per objective, K values (one per
copy). They go into a float64 buffer ``[J, K, capacity]`` and an int64 buffer ``[capacity]``;
when full, both double (amortized O(1) per record, never a Python list of floats).

Divergence, as in every leaf (:mod:`hierarchy.trajectory`): a copy with a value that is not
finite (NaN, inf) at record t has ``diverged_at = t``, and all its values from t on are
stored as NaN.
"""

from __future__ import annotations

import math
import operator
import sys

import numpy as np

from hierarchy.errors import ParameterError
from hierarchy.trajectory import Trajectory

__all__ = ["INITIAL_CAPACITY", "RecordBuffer"]

#: Records a new buffer holds before it first doubles.
INITIAL_CAPACITY = 1024


class RecordBuffer:
    """Records of J objectives for K copies, stored in buffers that double when full.

    Parameters
    ----------
    objectives : sequence of str
        The recorded objectives, in a fixed order (the buffer's first axis).
    K : int
        Copies per objective.
    capacity : int, optional
        Records held before the buffers first double.

    Examples
    --------
    >>> b = RecordBuffer(["L", "G"], 1, capacity=2)
    >>> for t in range(5):
    ...     b.append(t, {"L": 1.0 / (t + 1), "G": float(t)})
    >>> len(b), b.capacity, b.values("G").tolist()
    (5, 8, [[0.0, 1.0, 2.0, 3.0, 4.0]])
    """

    def __init__(self, objectives, K: int, capacity: int = INITIAL_CAPACITY):
        self.objectives = tuple(objectives)
        self.K = int(K)
        self._slots = tuple(enumerate(self.objectives))
        self._index = {o: j for j, o in self._slots}
        self._buf = np.empty((len(self.objectives), self.K, int(capacity)))
        self._steps = np.empty(int(capacity), dtype=np.int64)
        self._n, self._cap, self._J = 0, int(capacity), len(self.objectives)
        self.last_step, self._prev = None, -math.inf
        self._diverged_at = np.full(self.K, -1, dtype=np.int64)
        self._dead = None
        self._tensor = getattr(sys.modules.get("torch"), "Tensor", None)  # torch.Tensor if torch is in use

    def append(self, step, values) -> None:
        """Store one record; nothing is stored when it is refused.

        Parameters
        ----------
        step : int
            Strictly greater than the previous record's step.
        values : mapping of str to float, 0-d tensor, array [K] or tensor [K]
            Every objective's values; a value that is not finite marks its copy diverged.

        Raises
        ------
        ParameterError
            For a step that is not an integer or does not increase, an unknown or missing
            objective, or values that are not K numbers.

        Examples
        --------
        >>> b = RecordBuffer(["L"], 2)
        >>> b.append(0, {"L": [1.0, float("inf")]})
        >>> b.column().tolist(), b.diverged_at.tolist()
        ([[1.0, nan]], [-1, 0])
        >>> b.append(0, {"L": [1.0, 1.0]})
        Traceback (most recent call last):
        ...
        hierarchy.errors.ParameterError: record(step=0) after step 0; steps must strictly increase
        """
        if type(step) is not int:
            step = _as_step(step)
        if step <= self._prev:
            raise ParameterError(f"record(step={step}) after step {self.last_step}; steps must strictly increase",
                                 parameter="step")
        n = self._n
        if n == self._cap:
            self._grow()
        if len(values) != self._J:
            raise self._name_error(step, values)
        buf, one, finite, tensor = self._buf, self.K == 1, True, self._tensor
        try:
            for j, o in self._slots:
                v = values[o]
                kind = type(v)
                if one and kind is tensor and v.dim() == 0:  # the common cases, kept cheap: a loss.detach()
                    v = v.item()
                    kind = type(v)
                if one and kind is float:  # ... or a float
                    buf[j, 0, n] = v
                    if v - v != 0.0:  # NaN or inf
                        finite = False
                elif not self._put(j, n, v, o, step):
                    finite = False
        except KeyError:
            raise self._name_error(step, values) from None
        if self._dead is not None or not finite:  # a diverged copy stays NaN; the others may diverge now
            self._diverge(buf[:, :, n], n)
        self._steps[n] = step
        self._n, self.last_step, self._prev = n + 1, step, step

    def column(self, index: int = -1) -> np.ndarray:
        """The stored values of one record [J, K] (a view; default: the latest).

        Parameters
        ----------
        index : int, optional
            The record (negative: from the end).

        Returns
        -------
        numpy.ndarray [J, K]

        Examples
        --------
        >>> b = RecordBuffer(["L", "G"], 1); b.append(0, {"L": 2.0, "G": 1.0}); b.column().tolist()
        [[2.0], [1.0]]
        """
        return self._buf[:, :, index % self._n]

    def _put(self, j: int, n: int, v, objective: str, step: int) -> bool:
        """Store one objective's values; whether they are all finite."""
        K = self.K
        if K == 1 and hasattr(v, "item") and not isinstance(v, (bool, np.bool_)):  # a 0-d or [1] tensor or array
            try:
                x = v.item()
            except (ValueError, RuntimeError):  # more than one value
                raise self._shape_error(step, objective, tuple(getattr(v, "shape", ()))) from None
            if isinstance(x, (int, float)) and not isinstance(x, bool):
                x = float(x)
                self._buf[j, 0, n] = x
                return x - x == 0.0
        if hasattr(v, "detach") and hasattr(v, "numel"):  # a torch tensor: detached and copied to the host
            v = v.detach()
            if v.numel() != K:
                raise self._shape_error(step, objective, tuple(v.shape))
            a = v.reshape(K).cpu().double().numpy()
            self._buf[j, :, n] = a
            return bool(np.isfinite(a).all())
        if isinstance(v, (bool, str, bytes)):
            raise ParameterError(f"record(step={step}): {objective}={v!r} is not a number; pass a float, an array "
                                 f"[K] or a tensor [K]", parameter=objective)
        try:
            a = np.asarray(v, dtype=np.float64)
        except (TypeError, ValueError):
            raise ParameterError(f"record(step={step}): {objective} of type {type(v).__name__} is not numbers; pass "
                                 f"a float, an array [K] or a tensor [K]", parameter=objective) from None
        if a.size != K or a.ndim > 1:
            raise self._shape_error(step, objective, a.shape)
        self._buf[j, :, n] = a.reshape(K)
        return bool(np.isfinite(a).all())

    def _shape_error(self, step, objective, shape) -> ParameterError:
        want = "a scalar (one copy)" if self.K == 1 else f"an array or tensor of {self.K} values (one per copy)"
        return ParameterError(f"record(step={step}): {objective} has shape {shape}, but the monitor has copies="
                              f"{self.K}; pass {want}, or declare Monitor(copies=...) to match", parameter=objective)

    def _name_error(self, step, values) -> ParameterError:
        unknown = [str(k) for k in values if k not in self._index]
        if unknown:
            return ParameterError(f"record(step={step}) got unknown objective(s) {', '.join(unknown)}; the monitor "
                                  f"records {', '.join(self.objectives)} (declare others in chain or extra=)",
                                  parameter=unknown[0])
        missing = [o for o in self.objectives if o not in values]
        return ParameterError(f"record(step={step}) is missing {', '.join(missing)}; give every recorded objective at "
                              f"every record: " + ", ".join(f"{o}=..." for o in self.objectives), parameter=missing[0])

    def _diverge(self, col: np.ndarray, n: int) -> None:
        bad = ~np.isfinite(col).all(axis=0) & (self._diverged_at < 0)
        self._diverged_at[bad] = n
        dead = self._diverged_at >= 0
        if dead.any():
            self._dead = dead
            col[:, dead] = np.nan

    def _grow(self) -> None:
        cap = self._steps.shape[0]
        buf = np.empty(self._buf.shape[:2] + (2 * cap,))
        buf[:, :, :cap] = self._buf
        steps = np.empty(2 * cap, dtype=np.int64)
        steps[:cap] = self._steps
        self._buf, self._steps, self._cap = buf, steps, 2 * cap

    def __len__(self) -> int:
        return self._n

    @property
    def capacity(self) -> int:
        """Records the buffers hold before they next double.

        Examples
        --------
        >>> RecordBuffer(["L"], 1).capacity
        1024
        """
        return int(self._steps.shape[0])

    @property
    def steps(self) -> np.ndarray:
        """The recorded steps [T] (a copy).

        Examples
        --------
        >>> b = RecordBuffer(["L"], 1); b.append(3, {"L": 1.0}); b.steps.tolist()
        [3]
        """
        return self._steps[:self._n].copy()

    @property
    def diverged_at(self) -> np.ndarray:
        """Per copy, the record index at which it diverged, -1 for none (a copy).

        Examples
        --------
        >>> RecordBuffer(["L"], 3).diverged_at.tolist()
        [-1, -1, -1]
        """
        return self._diverged_at.copy()

    def values(self, objective: str) -> np.ndarray:
        """The stored values of ``objective`` [K, T] (a copy; NaN from each copy's divergence on).

        Parameters
        ----------
        objective : str
            A recorded objective.

        Returns
        -------
        numpy.ndarray [K, T]

        Raises
        ------
        ParameterError
            When the buffer records no ``objective``.

        Examples
        --------
        >>> b = RecordBuffer(["L", "G"], 1); b.append(0, {"L": 2.0, "G": 1.0}); b.values("G").tolist()
        [[1.0]]
        """
        if objective not in self._index:
            raise ParameterError(f"the monitor records no objective {objective!r}; it records "
                                 f"{', '.join(self.objectives)}", parameter="objective")
        return self._buf[self._index[objective], :, :self._n].copy()

    def trajectory(self, meta=None) -> Trajectory:
        """The records as a :class:`~hierarchy.trajectory.Trajectory`: index t the t-th record.

        Parameters
        ----------
        meta : dict, optional
            Run-level facts added to ``meta`` beside ``"steps"``.

        Returns
        -------
        Trajectory
            Every objective [K, T], ``diverged_at``, and the recorded steps in ``meta["steps"]``.

        Raises
        ------
        ParameterError
            Before the first record.

        Examples
        --------
        >>> b = RecordBuffer(["L"], 1); b.append(0, {"L": 2.0}); b.append(5, {"L": 1.0})
        >>> tr = b.trajectory(); tr.T, tr.meta["steps"].tolist()
        (2, [0, 5])
        """
        if self._n == 0:
            raise ParameterError("the monitor has no record yet; call record(step, ...) first", parameter="step")
        return Trajectory({o: self.values(o) for o in self.objectives}, diverged_at=self.diverged_at,
                          meta={**dict(meta or {}), "steps": self.steps})

    def rows(self, start: int = 0) -> tuple:
        """The records from index ``start`` on, one row each (for a CSV file).

        Parameters
        ----------
        start : int, optional
            The first record.

        Returns
        -------
        (steps, values) : (numpy.ndarray [m], numpy.ndarray [m, J * K])
            The steps, and per row every objective's K values, objective after objective.

        Examples
        --------
        >>> b = RecordBuffer(["L", "G"], 2); b.append(0, {"L": [1.0, 2.0], "G": [3.0, 4.0]})
        >>> steps, values = b.rows(); steps.tolist(), values.tolist()
        ([0], [[1.0, 2.0, 3.0, 4.0]])
        """
        block = self._buf[:, :, start:self._n]
        width = len(self.objectives) * self.K
        return self._steps[start:self._n], block.transpose(2, 0, 1).reshape(block.shape[2], width)

    def spacing(self) -> str:
        """What one record is, from the spacing of the steps.

        Returns
        -------
        str
            ``"step"`` (steps 1 apart), ``"record (every d steps)"``, or a line saying the
            spacing is uneven.

        Examples
        --------
        >>> b = RecordBuffer(["L"], 1)
        >>> for t in (0, 10, 20):
        ...     b.append(t, {"L": 1.0})
        >>> b.spacing()
        'record (every 10 steps)'
        """
        gaps = np.unique(np.diff(self._steps[:self._n]))
        if gaps.size == 0 or (gaps.size == 1 and gaps[0] == 1):
            return "step"
        if gaps.size == 1:
            return f"record (every {int(gaps[0])} steps)"
        return f"record (steps {int(gaps.min())} to {int(gaps.max())} apart: uneven; every record weighs the same)"


def _as_step(step) -> int:
    try:
        if isinstance(step, bool):
            raise TypeError
        return operator.index(step)
    except TypeError:
        raise ParameterError(f"record(step={step!r}): step must be an integer (the training step of this record)",
                             parameter="step") from None
