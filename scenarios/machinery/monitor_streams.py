"""Where a live monitor streams its records: a CSV file and TensorBoard scalars.

Both sinks write what :class:`~scenarios.machinery.monitor.Monitor` stored (the steps and
the values of its J objectives and K copies, a diverged copy's values already NaN) without
touching the numbers:

* :class:`CsvStream`: one row per record, ``step`` then one column per objective and copy
  (``L`` for one copy, ``L[0]``, ``L[1]``, ... for several); floats written by ``repr``, so
  they read back bit for bit, NaN as ``nan``. The rows are read from the monitor's buffer and
  go to the file as whole rows, flushed to the operating system at least every
  ``flush_every`` seconds of recording (a crash loses at most the rows of the last
  ``flush_every`` seconds before the latest record, and the file never holds half a row);
  :meth:`CsvStream.close` writes the rest.
* :class:`TensorBoardStream`: per record, one scalar per objective (tag ``objective/<name>``;
  with several copies the median over the copies still running); on request the figures
  (``capability/<objective>``, ``alignment/<parent>/<child>``, ``product/discrepancy``, each
  a median over copies, with ``.../error`` its standard error), through
  ``torch.utils.tensorboard.SummaryWriter`` (flushed every ``flush_every`` seconds).
"""

from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path

import numpy as np

from hierarchy.errors import OutputError, ParameterError

__all__ = ["FLUSH_EVERY", "column_names", "CsvStream", "TensorBoardStream"]

#: Seconds of recording after which buffered rows reach the file at the latest.
FLUSH_EVERY = 1.0


def column_names(objectives, K: int) -> list:
    """The CSV header: ``step``, then per objective one column per copy.

    Parameters
    ----------
    objectives : sequence of str
        The recorded objectives, in record order.
    K : int
        Copies per objective.

    Returns
    -------
    list of str
        ``["step", "L", "G"]`` for one copy; ``["step", "L[0]", "L[1]", ...]`` for several.

    Examples
    --------
    >>> column_names(["L", "G"], 1)
    ['step', 'L', 'G']
    >>> column_names(["L"], 2)
    ['step', 'L[0]', 'L[1]']
    """
    if K == 1:
        return ["step", *objectives]
    return ["step", *(f"{o}[{k}]" for o in objectives for k in range(K))]


class CsvStream:
    """The CSV file of a record buffer: whole rows, written at a bounded rate (module docstring).

    The rows are read from the buffer when they are written (:meth:`flush`), so a record
    costs only a look at the clock (:meth:`tick`).

    Parameters
    ----------
    path : str or path-like
        The file (overwritten).
    buffer : scenarios.machinery.monitor_buffer.RecordBuffer
        The records (its objectives and K give the header).
    flush_every : float, optional
        Seconds of recording between writes to the file, at most.

    Raises
    ------
    OutputError
        When the file cannot be opened for writing.

    Examples
    --------
    >>> import tempfile, os
    >>> from scenarios.machinery.monitor_buffer import RecordBuffer
    >>> b = RecordBuffer(["L", "G"], 1)
    >>> s = CsvStream(os.path.join(tempfile.mkdtemp(), "run.csv"), b)
    >>> b.append(0, {"L": 2.5, "G": 1.0}); s.tick()
    >>> s.close()
    >>> open(s.path).read().splitlines()
    ['step,L,G', '0,2.5,1.0']
    """

    def __init__(self, path, buffer, flush_every: float = FLUSH_EVERY):
        self.path = Path(path)
        try:
            self._file = open(self.path, "w", newline="", encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"cannot write the monitor's CSV file {str(path)!r} ({exc.strerror or exc}); give a "
                              f"path in a folder that exists and is writable", parameter="csv") from None
        self._buffer = buffer
        self._written = 0
        self._pending = io.StringIO()
        self._writer = csv.writer(self._pending)
        self._writer.writerow(column_names(buffer.objectives, buffer.K))
        self._flush_every = float(flush_every)
        self._last = -math.inf
        self.closed = False

    def tick(self) -> None:
        """After a record: write the new rows if ``flush_every`` seconds have passed since the last write.

        Examples
        --------
        >>> import tempfile, os
        >>> from scenarios.machinery.monitor_buffer import RecordBuffer
        >>> b = RecordBuffer(["L"], 2)
        >>> s = CsvStream(os.path.join(tempfile.mkdtemp(), "r.csv"), b)
        >>> b.append(3, {"L": [1.0, float("nan")]}); s.tick()
        >>> open(s.path).read().splitlines()[1]
        '3,1.0,nan'
        """
        now = time.monotonic()
        if now - self._last >= self._flush_every:
            self._last = now
            self.flush()

    def flush(self) -> None:
        """Write every row not yet written, read from the buffer, and flush the file to the operating system.

        Floats go through ``repr`` (they read back bit for bit); NaN as ``nan``.

        Examples
        --------
        >>> import tempfile, os
        >>> from scenarios.machinery.monitor_buffer import RecordBuffer
        >>> s = CsvStream(os.path.join(tempfile.mkdtemp(), "r.csv"), RecordBuffer(["L"], 1)); s.flush()
        >>> open(s.path).read().splitlines()
        ['step,L']
        """
        steps, rows = self._buffer.rows(self._written)
        self._writer.writerows([step, *row] for step, row in zip(steps.tolist(), rows.tolist()))
        self._written += len(steps)
        self._file.write(self._pending.getvalue())
        self._pending.seek(0)
        self._pending.truncate()
        self._file.flush()

    def close(self) -> None:
        """Write every remaining row and close the file (again: nothing).

        Examples
        --------
        >>> import tempfile, os
        >>> from scenarios.machinery.monitor_buffer import RecordBuffer
        >>> s = CsvStream(os.path.join(tempfile.mkdtemp(), "r.csv"), RecordBuffer(["L"], 1))
        >>> s.close(); s.close(); s.closed
        True
        """
        if not self.closed:
            self.flush()
            self._file.close()
            self.closed = True


class TensorBoardStream:
    """TensorBoard scalars of a monitor: objectives per record, figures on request (module docstring).

    Parameters
    ----------
    log_dir : str or path-like
        The folder of the event files.
    objectives : sequence of str
        The recorded objectives, in record order.
    flush_every : float, optional
        Seconds between flushes of the event file.

    Raises
    ------
    ParameterError
        When TensorBoard is not installed (``pip install tensorboard``).

    Examples
    --------
    >>> import tempfile
    >>> s = TensorBoardStream(tempfile.mkdtemp(), ["L"])
    >>> s.write(0, np.array([[2.0]])); s.close(); s.closed
    True
    """

    def __init__(self, log_dir, objectives, flush_every: float = FLUSH_EVERY):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ParameterError(f"tensorboard={str(log_dir)!r} needs TensorBoard, which is not installed; run "
                                 f"`pip install tensorboard` or pass tensorboard=None",
                                 parameter="tensorboard") from None
        try:
            self._writer = SummaryWriter(log_dir=str(log_dir), flush_secs=max(1, int(round(flush_every))))
        except OSError as exc:
            raise OutputError(f"cannot write TensorBoard events into {str(log_dir)!r} ({exc.strerror or exc}); give "
                              f"a writable folder", parameter="tensorboard") from None
        self._tags = [f"objective/{o}" for o in objectives]
        self.closed = False

    def write(self, step: int, column: np.ndarray) -> None:
        """One scalar per objective: its value (one copy) or the median of the finite copies.

        Parameters
        ----------
        step : int
            The record's step (TensorBoard's ``global_step``).
        column : numpy.ndarray [J, K]
            The stored values of the record.

        Examples
        --------
        >>> import tempfile
        >>> s = TensorBoardStream(tempfile.mkdtemp(), ["L"])
        >>> s.write(1, np.array([[1.0, 3.0, float("nan")]])); s.close()
        """
        if column.shape[1] == 1:
            values = column[:, 0].tolist()
        else:
            finite = np.where(np.isfinite(column), column, np.nan)
            values = [float(np.nanmedian(row)) if np.isfinite(row).any() else math.nan for row in finite]
        for tag, v in zip(self._tags, values):
            self._writer.add_scalar(tag, v, global_step=step)

    def figures(self, step: int, measurements) -> None:
        """The figures of ``measurements`` as scalars: capability per objective, alignment per
        edge, the delegation product's discrepancy (medians over copies, errors beside them).

        Parameters
        ----------
        step : int
            The step they were measured at.
        measurements : hierarchy.measure.Measurements
            The monitor's figures.

        Examples
        --------
        >>> import tempfile
        >>> from hierarchy.estimator import Estimator
        >>> from hierarchy.measure import Measurements
        >>> s = TensorBoardStream(tempfile.mkdtemp(), ["L"])
        >>> s.figures(5, Measurements(Estimator(), (), (), ())); s.close()
        """
        add = self._writer.add_scalar
        for f in measurements.capabilities:
            add(f"capability/{f.objective}", f.capability.median, global_step=step)
            add(f"capability/{f.objective}/error", f.capability.standard_error, global_step=step)
        for f in measurements.alignments:
            add(f"alignment/{f.parent}/{f.child}", f.alignment.median, global_step=step)
            add(f"alignment/{f.parent}/{f.child}/error", f.alignment.standard_error, global_step=step)
        for p in measurements.products:
            add("product/discrepancy", p.discrepancy, global_step=step)

    def close(self) -> None:
        """Flush and close the event file (again: nothing).

        Examples
        --------
        >>> import tempfile
        >>> s = TensorBoardStream(tempfile.mkdtemp(), ["L"]); s.close(); s.close(); s.closed
        True
        """
        if not self.closed:
            self._writer.close()
            self.closed = True
