"""Writing a scenario's files: all or nothing.

Everything is first written into a hidden temporary folder inside the output directory,
then moved into place file by file with ``os.replace`` (atomic on one file system). An
interruption (Ctrl-C) before the move leaves no file of this run in the directory; the
temporary folder is removed on the way out.

``trajectories.npz`` holds two kinds of arrays, told apart by their key:

* ``<leaf>/<objective>``: a trajectory, always ``[K, T]`` (index 0 the start);
* ``extra/<name>``: anything else a scenario keeps beside them (a sweep's widths, bootstrap
  locations, a curve over widths), of any shape.

:func:`check_arrays` refuses any other key or shape before a file is written, so a generic
loader can rely on every non-``extra/`` entry being one chain's objective over time.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from hierarchy.errors import FormatError, OutputError
from hierarchy.exports import FORMATS, annotated_graph

__all__ = ["EXTRA_PREFIX", "GRAPH_FILES", "check_arrays", "prepare_output", "write_result"]

EXTRA_PREFIX = "extra/"
GRAPH_FILES = {"graphml": "graph.graphml", "gexf": "graph.gexf", "json": "graph.json", "dot": "graph.dot"}


def check_arrays(arrays) -> dict:
    """The arrays of ``trajectories.npz``, checked: ``<leaf>/<objective>`` keys hold ``[K, T]``
    arrays, scenario extras live under ``extra/``.

    Parameters
    ----------
    arrays : mapping of str to array-like
        A scenario result's arrays.

    Returns
    -------
    dict
        The same arrays as numpy arrays.

    Raises
    ------
    FormatError
        When a key outside ``extra/`` is not ``<leaf>/<objective>`` or its array is not 2-D.

    Examples
    --------
    >>> sorted(check_arrays({"A/L": [[2.0, 1.0]], "extra/widths": [1, 2, 4]}))
    ['A/L', 'extra/widths']
    >>> check_arrays({"A-population/final_L": [1.0, 2.0]})
    Traceback (most recent call last):
    ...
    hierarchy.errors.FormatError: trajectories.npz entry 'A-population/final_L' has shape (2,), not [K, T]; put scenario extras under 'extra/' (e.g. 'extra/A-population/final_L')
    """
    out = {}
    for key, value in arrays.items():
        a = np.asarray(value)
        if not key.startswith(EXTRA_PREFIX):
            parts = key.split("/")
            if len(parts) != 2 or not all(parts):
                raise FormatError(f"trajectories.npz key {key!r} is not <leaf>/<objective>; put scenario extras "
                                  f"under {EXTRA_PREFIX!r} (e.g. {EXTRA_PREFIX + key!r})")
            if a.ndim != 2:
                raise FormatError(f"trajectories.npz entry {key!r} has shape {a.shape}, not [K, T]; put scenario "
                                  f"extras under {EXTRA_PREFIX!r} (e.g. {EXTRA_PREFIX + key!r})")
        out[key] = a
    return out


def prepare_output(out) -> Path:
    """Create ``out`` if needed and check that it can be written; OutputError otherwise."""
    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=".mesastack-probe-", delete=True)
        probe.close()
    except OSError as exc:
        raise OutputError(f"cannot write to output directory {str(path)!r} ({exc.strerror or exc}); "
                          f"choose a writable directory with --out") from None
    if not path.is_dir():
        raise OutputError(f"output path {str(path)!r} is not a directory; pass a directory to --out")
    return path


def write_result(result, out) -> list:
    """Write report.json, trajectories.npz, the graph in four formats and the plots into ``out``.

    Returns the written paths. Nothing is left half-written if interrupted; a malformed
    array (:func:`check_arrays`) is refused before anything is written.
    """
    arrays = check_arrays(result.arrays)
    path = prepare_output(out)
    tmp = Path(tempfile.mkdtemp(prefix=".mesastack-tmp-", dir=path))
    try:
        names = []
        (tmp / "report.json").write_text(result.report.to_json() + "\n", encoding="utf-8")
        names.append("report.json")
        np.savez_compressed(tmp / "trajectories.npz", **arrays)
        names.append("trajectories.npz")
        graph = annotated_graph(result.graph, result.report)
        for fmt, name in GRAPH_FILES.items():
            FORMATS[fmt](graph, tmp / name)
            names.append(name)
        for name, draw in result.plots.items():
            draw(tmp / name)
            names.append(name)
        for name, content in result.extra_files.items():
            (tmp / name).write_text(content, encoding="utf-8")
            names.append(name)
        (tmp / "report.txt").write_text(result.report.render() + "\n", encoding="utf-8")
        names.append("report.txt")
        for name in names:
            os.replace(tmp / name, path / name)
        return [path / n for n in names]
    except OSError as exc:
        raise OutputError(f"could not write into {str(path)!r} ({exc}); free space or choose another --out") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
