"""Writing a scenario's files: all or nothing.

Everything is first written into a hidden temporary folder inside the output directory,
then moved into place file by file with ``os.replace`` (atomic on one file system). An
interruption (Ctrl-C) before the move leaves no file of this run in the directory; the
temporary folder is removed on the way out.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from hierarchy.errors import OutputError
from hierarchy.exports import FORMATS, annotated_graph

GRAPH_FILES = {"graphml": "graph.graphml", "gexf": "graph.gexf", "json": "graph.json", "dot": "graph.dot"}


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

    Returns the written paths. Nothing is left half-written if interrupted.
    """
    path = prepare_output(out)
    tmp = Path(tempfile.mkdtemp(prefix=".mesastack-tmp-", dir=path))
    try:
        names = []
        (tmp / "report.json").write_text(result.report.to_json() + "\n", encoding="utf-8")
        names.append("report.json")
        np.savez_compressed(tmp / "trajectories.npz", **{k: np.asarray(v) for k, v in result.arrays.items()})
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
