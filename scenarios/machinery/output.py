"""Writing a scenario's files: all or nothing, into a folder that is mesastack's.

Everything is first written into a hidden temporary folder inside the output directory
(``.mesastack-tmp-<pid>-*``), then moved into place file by file with ``os.replace`` (atomic
on one file system), SIGINT and SIGTERM held back until the last file is in place. An
interruption (Ctrl-C) before the move leaves no file of this run in the directory; the
temporary folder is removed on the way out, and one left by a killed run (SIGKILL; its
process is gone) is removed by the next run into that folder.

**The manifest** ``mesastack.json`` marks a folder as a mesastack output: the scenario, its
seed, steps and choices, and the files the run wrote. It is moved into place last. A run
refuses (:func:`check_folder`) a non-empty folder that is not a mesastack output of the same
scenario (the user's own files, another scenario's output) unless ``force`` (``--force``); a
sweep's folder that holds only its trial store (``trials/``, an interrupted sweep) is its
own. On replacing an output, the files the old manifest lists and the new run does not write
are removed, so the folder holds exactly the new run's files (files the old manifest does not
name are never touched).

**Plots never cost the report**: each plot is drawn on its own; one that fails is named in
one line on stderr, in the report's notes and in report.json's ``plots_failed``, and every
other file is written.

``trajectories.npz`` holds two kinds of arrays, told apart by their key:

* ``<leaf>/<objective>``: a trajectory, always ``[K, T]`` (index 0 the start);
* ``extra/<name>``: anything else a scenario keeps beside them (a sweep's widths, bootstrap
  locations, a curve over widths), of any shape.

:func:`check_arrays` refuses any other key or shape before a file is written, so a generic
loader can rely on every non-``extra/`` entry being one chain's objective over time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Optional

import attrs
import numpy as np

from hierarchy.errors import FormatError, OutputError
from hierarchy.exports import FORMATS, annotated_graph
from hierarchy.sweep import signals_held

__all__ = ["EXTRA_PREFIX", "GRAPH_FILES", "MANIFEST", "REPORT_HTML", "check_arrays", "check_folder", "clean_stale",
           "read_manifest", "prepare_output", "drawn_plots", "with_plot_failures", "write_result"]

#: The file that marks a folder as a mesastack output.
MANIFEST = "mesastack.json"
#: The self-contained page of the report (:func:`hierarchy.html.report_page`), plots inline.
REPORT_HTML = "report.html"
MANIFEST_FORMAT = 1
TMP_PREFIX = ".mesastack-tmp-"
PROBE_PREFIX = ".mesastack-probe-"
SWEEP_STORE = "trials"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")

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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def clean_stale(path) -> list:
    """Remove the temporary folders and probe files a killed run left in ``path`` (their process,
    named in the name, is gone; an old unnamed one always); returns the names removed.

    Example:
        >>> d = Path(tempfile.mkdtemp())
        >>> (d / ".mesastack-tmp-999999999-x").mkdir(); (d / "keep.txt").write_text("mine")
        4
        >>> clean_stale(d), sorted(p.name for p in d.iterdir())
        (['.mesastack-tmp-999999999-x'], ['keep.txt'])
    """
    removed = []
    for p in Path(path).iterdir() if Path(path).is_dir() else ():
        for prefix in (TMP_PREFIX, PROBE_PREFIX):
            if not p.name.startswith(prefix):
                continue
            m = re.match(r"(\d+)-", p.name[len(prefix):])
            if m and int(m.group(1)) != os.getpid() and _alive(int(m.group(1))):
                continue  # a run in progress
            if m and int(m.group(1)) == os.getpid():
                continue
            try:
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
                removed.append(p.name)
            except OSError:
                pass
    return sorted(removed)


def read_manifest(path) -> Optional[dict]:
    """The manifest of the output folder ``path`` as a dict, or None when there is none or it is
    not a mesastack manifest (unreadable, not an object, no scenario).

    Example:
        >>> read_manifest(tempfile.mkdtemp()) is None
        True
    """
    p = Path(path) / MANIFEST
    try:
        if not p.is_file() or p.stat().st_size > 1024 * 1024:
            return None
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("scenario"), str) or not isinstance(doc.get("files"), list):
        return None
    return doc


def _is_sweep(scenario: str) -> bool:
    from scenarios.machinery.registry import SCENARIOS, list_scenarios

    list_scenarios()  # the built-in scenarios registered
    spec = SCENARIOS.get(scenario)
    return spec is not None and "resume" in spec.takes


def check_folder(path, scenario: str, force: bool = False) -> None:
    """Refuse to write scenario ``scenario`` into ``path`` unless it is empty, a mesastack output
    of the same scenario, a sweep's own interrupted trial store, or ``force``; OutputError naming
    what is there otherwise.

    Example:
        >>> d = Path(tempfile.mkdtemp()); _ = (d / "report.json").write_text("{}")
        >>> check_folder(d, "harris-abc")
        Traceback (most recent call last):
        ...
        hierarchy.errors.OutputError: output folder ... is not empty and is not a mesastack output (it holds report.json); choose an empty or new folder, or pass --force to write into it
    """
    path = Path(path)
    if force or not path.is_dir():
        return
    entries = sorted(p.name for p in path.iterdir() if not p.name.startswith((TMP_PREFIX, PROBE_PREFIX)))
    if not entries:
        return
    manifest = read_manifest(path)
    if manifest is not None:
        if manifest["scenario"] == scenario:
            return
        raise OutputError(f"output folder {str(path)!r} holds the output of scenario {manifest['scenario']}, not "
                          f"{scenario}; choose another folder, or pass --force to replace it", parameter="out")
    if entries == [SWEEP_STORE] and (path / SWEEP_STORE).is_dir() and _is_sweep(scenario):
        return  # an interrupted sweep's trial store: its own (the store checks its params)
    shown = ", ".join(entries[:4]) + (f" and {len(entries) - 4} more" if len(entries) > 4 else "")
    raise OutputError(f"output folder {str(path)!r} is not empty and is not a mesastack output (it holds {shown}); "
                      f"choose an empty or new folder, or pass --force to write into it", parameter="out")


def prepare_output(out, scenario: Optional[str] = None, force: bool = False) -> Path:
    """Create ``out`` if needed, check that it can be written, remove what a killed run left
    there (:func:`clean_stale`) and, given ``scenario``, that it may hold this scenario's output
    (:func:`check_folder`); OutputError otherwise."""
    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=f"{PROBE_PREFIX}{os.getpid()}-", delete=True)
        probe.close()
    except OSError as exc:
        raise OutputError(f"cannot write to output directory {str(path)!r} ({exc.strerror or exc}); "
                          f"choose a writable directory with --out") from None
    if not path.is_dir():
        raise OutputError(f"output path {str(path)!r} is not a directory; pass a directory to --out")
    clean_stale(path)
    if scenario is not None:
        check_folder(path, scenario, force)
    return path


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:300]


def _draw_plots(plots: dict, tmp: Path) -> tuple:
    """Draw each plot into ``tmp`` on its own; returns (names drawn, [(name, why)] failed)."""
    drawn, failed = [], []
    for name, draw in plots.items():
        try:
            draw(tmp / name)
            if not (tmp / name).is_file():
                raise FormatError("the plot function wrote no file")
            drawn.append(name)
        except Exception as exc:  # a plot must never cost the report
            failed.append((name, _one_line(exc)))
            if (tmp / name).exists():
                (tmp / name).unlink()
        finally:
            if "matplotlib.pyplot" in sys.modules:
                sys.modules["matplotlib.pyplot"].close("all")
    return drawn, failed


def _failure_lines(failed) -> list:
    return [f"plot {name} could not be drawn ({why}); every other file was written" for name, why in failed]


def with_plot_failures(report, failed):
    """``report`` with one note per plot that could not be drawn (``failed``: [(name, why)]).

    Example:
        >>> from hierarchy.estimator import Estimator
        >>> from hierarchy.measure import Measurements
        >>> from hierarchy.report import Report
        >>> r = Report("demo", 0, 0, Estimator(), Measurements(Estimator(), (), (), ()), (), ())
        >>> with_plot_failures(r, [("a.png", "ValueError: no data")]).notes
        ('plot a.png could not be drawn (ValueError: no data); every other file was written',)
    """
    lines = _failure_lines(failed)
    return attrs.evolve(report, notes=tuple(report.notes) + tuple(lines)) if lines else report


def drawn_plots(plots: dict) -> tuple:
    """Draw ``plots`` ({file name: function(path)}) into a temporary folder and read them back:
    ({name: bytes} of those drawn, [(name, why)] of those that failed), each plot on its own.

    Example:
        >>> drawn_plots({"a.txt": lambda p: p.write_bytes(b"x"), "b.png": lambda p: 1 / 0})
        ({'a.txt': b'x'}, [('b.png', 'ZeroDivisionError: division by zero')])
    """
    with tempfile.TemporaryDirectory(prefix="mesastack-plots-") as tmp:
        drawn, failed = _draw_plots(plots, Path(tmp))
        return {name: (Path(tmp) / name).read_bytes() for name in drawn}, failed


def _remove_stale(path: Path, old: Optional[dict], new: set) -> None:
    """Remove what the old manifest lists and the new run does not write (plain names only)."""
    if old is None:
        return
    for name in old.get("files", []):
        name = str(name).rstrip("/")
        if name in new or name == MANIFEST or not _SAFE_NAME.match(name):
            continue
        p = path / name
        try:
            if p.is_symlink() or p.is_file():
                p.unlink()
            elif p.is_dir() and name == SWEEP_STORE:
                shutil.rmtree(p)
        except OSError:
            pass


def write_result(result, out, force: bool = False) -> list:
    """Write report.json, trajectories.npz, the graph in four formats, the plots, the extra
    files, report.txt, report.html (the page of the same report, plots inline) and the
    manifest into ``out``.

    Returns the written paths. Nothing is left half-written if interrupted; a malformed
    array (:func:`check_arrays`) is refused before anything is written; a folder that is not
    this scenario's output is refused unless ``force`` (:func:`check_folder`); a plot that
    fails is reported (stderr, the notes, ``plots_failed``) while every other file is written.
    """
    arrays = check_arrays(result.arrays)
    scenario = result.report.scenario
    path = prepare_output(out, scenario, force)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", dir=path))
    try:
        names = []
        np.savez_compressed(tmp / "trajectories.npz", **arrays)
        names.append("trajectories.npz")
        graph = annotated_graph(result.graph, result.report)
        for fmt, name in GRAPH_FILES.items():
            FORMATS[fmt](graph, tmp / name)
            names.append(name)
        drawn, failed = _draw_plots(result.plots, tmp)
        names += drawn
        for name, content in result.extra_files.items():
            (tmp / name).write_text(content, encoding="utf-8")
            names.append(name)
        lines = _failure_lines(failed)
        report = with_plot_failures(result.report, failed)
        doc = report.to_dict()
        doc["plots_failed"] = [{"file": name, "error": why} for name, why in failed]
        (tmp / "report.json").write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        names.insert(0, "report.json")
        (tmp / "report.txt").write_text(report.render() + "\n", encoding="utf-8")
        names.append("report.txt")
        from hierarchy.html import report_page

        page = report_page(report, {name: (tmp / name).read_bytes() for name in drawn})
        (tmp / REPORT_HTML).write_text(page, encoding="utf-8")
        names.append(REPORT_HTML)
        files = list(names)
        if _is_sweep(scenario) and (path / SWEEP_STORE).is_dir():
            files.append(SWEEP_STORE + "/")
        manifest = {"mesastack": MANIFEST_FORMAT, "scenario": scenario, "seed": doc.get("seed"),
                    "steps": doc.get("steps"), "estimator": doc.get("estimator", {}).get("description"),
                    "choices": doc.get("choices", {}), "files": files + [MANIFEST]}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True, allow_nan=False) + "\n",
                                    encoding="utf-8")
        old = read_manifest(path)
        with signals_held():  # the move is all or nothing for Ctrl-C and SIGTERM
            for name in names:
                os.replace(tmp / name, path / name)
            _remove_stale(path, old, {n.rstrip("/") for n in files})
            os.replace(tmp / MANIFEST, path / MANIFEST)
        for line in lines:
            print(f"mesastack: warning: {line}", file=sys.stderr)
        return [path / n for n in names + [MANIFEST]]
    except OSError as exc:
        raise OutputError(f"could not write into {str(path)!r} ({exc}); free space or choose another --out") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
