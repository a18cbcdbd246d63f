"""Sweeps: a list of trials, each finished chunk of trials written at once, results as a table.

A **trial** is one point of a sweep (a width and a seed, a perturbation, ...): a stable
filesystem-safe ``id``, JSON-able ``params``, and a ``batch_key``: trials with equal
keys have the same shapes and may run as one batched population. Running a batch of
trials is the caller's business (``scenarios.machinery.sweeps`` runs them in this process or
on a Dask cluster); this module holds what does not depend on how they run:

* the seed of a trial, derived from its id (never from its position in the list), so a
  resumed or reordered sweep draws the same numbers as an uninterrupted one;
* the planning of batches: trials grouped by ``batch_key`` in order of first
  appearance, each group cut into chunks of at most ``chunk`` trials. The chunks are
  fixed by the full trial list, so a resumed sweep reruns exactly the chunks an
  interruption lost (a batched computation may differ in its last bits with the batch
  size, so the batches must not change between runs);
* the **trial store**: one file pair per finished chunk, ``<out>/trials/<chunk>.npz`` (every
  trial's arrays: one ``[n_trials, ...]`` array per name when the trials' arrays agree in
  names, dtypes and shapes, else under ``<trial id>/<array>``) and ``<out>/trials/<chunk>.json`` (the manifest:
  the trial ids in order and, per trial, its params, figures, each array's dtype and shape and
  a SHA-256 ``digest`` of the id, params, figures and array bytes), ``<chunk>`` being
  ``chunk-`` and 20 hex digits of the ids' hash (:func:`chunk_name`). Each file is written to a
  temporary file and moved into place with ``os.replace``, the manifest last: it marks the
  chunk finished, and both are committed with SIGINT and SIGTERM held back, so an
  interruption keeps whole chunks or nothing of them. A chunk read back is checked whole: a
  truncated, empty or bit-flipped file, a manifest of the wrong shape, an array cut short, or
  a figure edited by hand is **corrupt** (:func:`load_chunk`, :func:`load_trial` raise
  FormatError) and never reused: :func:`reusable` moves its files aside into
  ``<out>/trials/corrupt/`` (nothing is deleted), names it, and the sweep reruns its trials.
  Stores of the **per-trial format** written before chunk files (``<id>.npz`` + ``<id>.json``
  per trial, the same record and checks; :func:`write_trial`) are read and resumed as they
  are; a resumed sweep adds chunk files beside them;
* the results of a sweep as a pandas DataFrame, one row per trial and figure.

numpy and attrs only (pandas imported when a frame is asked for; no torch, no dask).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import signal
import threading
import uuid
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

import attrs
import numpy as np

from .errors import FormatError, OutputError, ParameterError

__all__ = ["Trial", "TrialResult", "check_trials", "plan_batches", "trials_dir", "signals_held", "chunk_name",
           "write_trials", "write_trial", "finished_chunks", "load_chunk", "load_trial", "finished_ids", "load_finished",
           "move_aside", "remove_leftovers", "reusable", "results_frame", "CORRUPT_DIR", "CHUNK_FORMAT", "CHUNK_VERSION"]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_TMP_PREFIX = ".tmp-"
#: Where the files of a corrupt trial are moved (inside ``<out>/trials``).
CORRUPT_DIR = "corrupt"
#: A chunk's files are ``chunk-<20 hex digits>.npz`` / ``.json``; no trial may take such an id.
_CHUNK = re.compile(r"^chunk-[0-9a-f]{20}$")
#: The ``format`` and ``version`` a chunk's manifest declares.
CHUNK_FORMAT = "mesastack trial chunk"
CHUNK_VERSION = 1


def _check_id(instance, attribute, value) -> None:
    if not isinstance(value, str) or not _ID.match(value):
        raise ParameterError(
            f"trial id {value!r} is not filesystem-safe; use 1-128 letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit (e.g. 'w0016-s03')")
    if _CHUNK.match(value):
        raise ParameterError(f"trial id {value!r} is reserved for the trial store's chunk files; choose another "
                             f"id (e.g. 'w0016-s03')")


def _json_params(value) -> dict:
    if not isinstance(value, Mapping):
        raise ParameterError(f"trial params {value!r} are not a mapping; give a dict of JSON-able values")
    try:
        return json.loads(json.dumps(dict(value), sort_keys=True, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"trial params are not JSON-able ({exc}); use numbers, strings, lists and dicts") from None


def _json_key(value):
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise ParameterError(f"batch_key {value!r} is not JSON-able; use a number, a string or a list of them") from None
    return tuple(value) if isinstance(value, list) else value


@attrs.frozen(eq=False)
class Trial:
    """One point of a sweep.

    ``id``: stable and filesystem-safe (it names the trial's files and derives its seed);
    ``params``: JSON-able (normalized through JSON, so tuples become lists);
    ``batch_key``: trials with equal keys share shapes and may run as one population
    (None: the trial runs alone); ``cost``: a relative cost hint (larger chunks are
    started first on a cluster).

    Parameters
    ----------
    id : str
        1-128 letters, digits, '.', '_' or '-', starting with a letter or digit.
    params : mapping, optional
        JSON-able parameters (default none).
    batch_key : JSON-able, optional
        Trials with equal keys may run as one batch (a list becomes a tuple); None: alone.
    cost : float, optional
        A relative cost hint (default 1).

    Raises
    ------
    ParameterError
        When ``id`` is not filesystem-safe, ``params`` is not a mapping of JSON-able values,
        or ``batch_key`` is not JSON-able.

    Examples
    --------
    >>> t = Trial("w0016-s03", {"width": 16, "seed": 3}, batch_key=16)
    >>> t.params, t.batch_key
    ({'seed': 3, 'width': 16}, 16)
    """

    id: str = attrs.field(validator=_check_id)
    params: dict = attrs.field(factory=dict, converter=_json_params)
    batch_key: Any = attrs.field(default=None, converter=_json_key)
    cost: float = attrs.field(default=1.0, converter=float)

    @property
    def group(self):
        """The key that batches this trial: its ``batch_key``, or its own id when that is None.

        Returns
        -------
        tuple
            ``("key", batch_key)``, or ``("trial", id)`` when ``batch_key`` is None.

        Examples
        --------
        >>> Trial("a", batch_key=[16, 2]).group, Trial("b").group
        (('key', (16, 2)), ('trial', 'b'))
        """
        return ("trial", self.id) if self.batch_key is None else ("key", self.batch_key)


def _as_arrays(value) -> dict:
    out = {}
    for k, v in dict(value).items():
        if not isinstance(k, str) or not k.isidentifier():
            raise ParameterError(f"array name {k!r} is not usable; use a Python identifier such as 'L' or 'G1'")
        out[k] = np.asarray(v)
    return out


def _as_figures(value) -> dict:
    out = {}
    for k, v in dict(value).items():
        try:
            out[str(k)] = float(v)
        except (TypeError, ValueError):
            raise ParameterError(f"figure {k!r} = {v!r} is not a number; figures are floats (NaN when undefined)") from None
    return out


@attrs.frozen(eq=False)
class TrialResult:
    """What one trial produced: its id and params, named arrays, and named figures (floats).

    Parameters
    ----------
    trial_id : str
        The trial's id (filesystem-safe, as :class:`Trial`).
    params : mapping, optional
        The trial's JSON-able parameters.
    arrays : mapping, optional
        {name: array-like}; each name a Python identifier.
    figures : mapping, optional
        {name: number}, stored as floats (NaN when undefined).

    Raises
    ------
    ParameterError
        When the id is not filesystem-safe, the params are not JSON-able, an array name is
        not an identifier, or a figure is not a number.

    Examples
    --------
    >>> r = TrialResult("a", {"x": 1}, {"L": [3.0, 2.0]}, {"C_L": 0.5})
    >>> r.arrays["L"].tolist(), r.figures
    ([3.0, 2.0], {'C_L': 0.5})
    """

    trial_id: str = attrs.field(validator=_check_id)
    params: dict = attrs.field(factory=dict, converter=_json_params)
    arrays: dict = attrs.field(factory=dict, converter=_as_arrays)
    figures: dict = attrs.field(factory=dict, converter=_as_figures)

    def same(self, other: "TrialResult") -> bool:
        """Equal id, params, figures (NaN equal to NaN) and arrays, bit for bit.

        Parameters
        ----------
        other : TrialResult
            The result to compare with.

        Returns
        -------
        bool
            True when both hold the same id, params, figure and array names and values.

        Examples
        --------
        >>> a = TrialResult("a", {}, {"L": [1.0]}, {"C": float("nan")})
        >>> a.same(TrialResult("a", {}, {"L": [1.0]}, {"C": float("nan")})), a.same(TrialResult("a"))
        (True, False)
        """
        if (self.trial_id, self.params) != (other.trial_id, other.params):
            return False
        if sorted(self.figures) != sorted(other.figures) or sorted(self.arrays) != sorted(other.arrays):
            return False
        same_f = all(a == b or (math.isnan(a) and math.isnan(b))
                     for a, b in ((self.figures[k], other.figures[k]) for k in self.figures))
        return same_f and all(np.array_equal(self.arrays[k], other.arrays[k], equal_nan=True) for k in self.arrays)


def check_trials(trials: Sequence[Trial]) -> list:
    """The trials as a list, checked: each a Trial, ids unique. ParameterError otherwise.

    Parameters
    ----------
    trials : iterable of Trial
        The sweep's trials.

    Returns
    -------
    list of Trial
        The trials, in their order.

    Raises
    ------
    ParameterError
        When an item is not a Trial, or two trials have the same id.

    Examples
    --------
    >>> [t.id for t in check_trials(iter([Trial("a"), Trial("b")]))]
    ['a', 'b']
    >>> check_trials([Trial("a"), Trial("a")])
    Traceback (most recent call last):
    ...
    hierarchy.errors.ParameterError: two trials have id 'a'; every trial of a sweep needs its own id
    """
    trials = list(trials)
    seen = set()
    for t in trials:
        if not isinstance(t, Trial):
            raise ParameterError(f"{t!r} is not a Trial; build sweeps from hierarchy.sweep.Trial")
        if t.id in seen:
            raise ParameterError(f"two trials have id {t.id!r}; every trial of a sweep needs its own id")
        seen.add(t.id)
    return trials


def plan_batches(trials: Sequence[Trial], chunk: Optional[int] = None) -> list:
    """Chunks of trials that run as one population each.

    Rule: group by ``batch_key`` in order of first appearance (a None key: alone), keep
    the trials' order inside a group, cut each group into consecutive chunks of at most
    ``chunk`` trials (None or 0: the whole group).

    Parameters
    ----------
    trials : iterable of Trial
        The sweep's trials (checked by :func:`check_trials`).
    chunk : int, optional
        The most trials per chunk; None or 0: a whole group.

    Returns
    -------
    list of list of Trial
        The chunks, groups in order of first appearance.

    Raises
    ------
    ParameterError
        When ``trials`` fails :func:`check_trials`, or ``chunk`` is not a non-negative integer.

    Examples
    --------
    >>> ts = [Trial(f"t{i}", batch_key=i % 2) for i in range(5)]
    >>> [[t.id for t in c] for c in plan_batches(ts, chunk=2)]
    [['t0', 't2'], ['t4'], ['t1', 't3']]
    """
    trials = check_trials(trials)
    if chunk is not None and (not isinstance(chunk, (int, np.integer)) or chunk < 0):
        raise ParameterError(f"chunk={chunk!r}; give a positive number of trials per batch (0: a whole group)")
    groups: dict = {}
    for t in trials:
        groups.setdefault(t.group, []).append(t)
    out = []
    for members in groups.values():
        size = len(members) if not chunk else int(chunk)
        out += [members[i:i + size] for i in range(0, len(members), size)]
    return out


# -- the trial store ---------------------------------------------------------------------

def trials_dir(out) -> Path:
    """Where a sweep's trials live: ``<out>/trials``.

    Parameters
    ----------
    out : str or path-like
        The sweep's output directory.

    Returns
    -------
    pathlib.Path
        ``Path(out) / "trials"`` (not created).

    Examples
    --------
    >>> trials_dir("runs/capacity").as_posix()
    'runs/capacity/trials'
    """
    return Path(out) / "trials"


def _clean_json(x):
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _clean_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean_json(v) for v in x]
    return x


@contextlib.contextmanager
def signals_held():
    """Hold back SIGINT and SIGTERM for the duration of the block, then deliver the first
    one that arrived (in the main thread only; elsewhere a no-op).

    Yields
    ------
    None
        The block runs with both signals recorded instead of delivered; the old handlers
        are restored on exit.

    Examples
    --------
    >>> with signals_held():
    ...     signal.getsignal(signal.SIGINT) is signal.default_int_handler
    False
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    old = {}
    for s in (signal.SIGINT, signal.SIGTERM):
        h = signal.getsignal(s)
        if h is None:  # installed outside Python: leave it alone
            continue
        old[s] = h
        signal.signal(s, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if caught:
            signal.raise_signal(caught[0])


def _replace_into(directory: Path, name: str, write) -> None:
    tmp = directory / f"{_TMP_PREFIX}{uuid.uuid4().hex}-{name}"
    try:
        write(tmp)
        os.replace(tmp, directory / name)
    finally:
        if tmp.exists():
            tmp.unlink()


def _savez(path: Path, arrays: dict) -> None:
    with open(path, "wb") as fh:  # a file object: numpy must not append its own ".npz"
        np.savez_compressed(fh, **arrays)


def _trial_doc(result: TrialResult) -> dict:
    """A trial's record: id, params, JSON-cleaned figures, array names, dtypes and shapes, and the digest."""
    figures = _clean_json(result.figures)
    return {"trial_id": result.trial_id, "params": result.params, "figures": figures,
            "arrays": sorted(result.arrays),
            "shapes": {k: {"dtype": v.dtype.str, "shape": list(v.shape)} for k, v in sorted(result.arrays.items())},
            "digest": _digest(result.trial_id, result.params, figures, result.arrays)}


def chunk_name(trial_ids: Sequence[str]) -> str:
    """The name of a chunk's files: ``chunk-`` and 20 hex digits of the SHA-256 of its ordered trial ids.

    The name is reserved (no trial may take it), and a chunk rerun with the same trials
    replaces its own files.

    Parameters
    ----------
    trial_ids : sequence of str
        The chunk's trial ids, in the chunk's order.

    Returns
    -------
    str
        ``chunk-<20 hex digits>``.

    Examples
    --------
    >>> n = chunk_name(["a", "b"])
    >>> n.startswith("chunk-") and len(n) == 26, n == chunk_name(["b", "a"])
    (True, False)
    """
    return "chunk-" + hashlib.sha256(json.dumps(list(trial_ids)).encode("utf-8")).hexdigest()[:20]


def write_trial(out, result: TrialResult) -> Path:
    """Write one trial in the **per-trial format** of the stores before chunk files: ``<id>.npz``
    then ``<id>.json`` (the marker), each atomically. Sweeps write :func:`write_trials` (one file
    pair per chunk); this writer is kept so that such stores can be made (tests) and are still
    read and resumed.

    Parameters
    ----------
    out : str or path-like
        The sweep's output directory (the store is ``<out>/trials``). It is created if missing.
    result : TrialResult
        The finished trial.

    Returns
    -------
    pathlib.Path
        The trial's json, ``<out>/trials/<id>.json``.

    Raises
    ------
    ParameterError
        When ``result`` is not a TrialResult.
    OutputError
        When the store cannot be created or written (a full disk, no permission, ...).

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = write_trial(d, TrialResult("a", {"x": 1}, {"L": [1.0]}, {"C": 2.0}))
    >>> sorted(p.name for p in trials_dir(d).iterdir())
    ['a.json', 'a.npz']
    """
    if not isinstance(result, TrialResult):
        raise ParameterError(f"{result!r} is not a TrialResult; run_batch must return TrialResult values")
    d = trials_dir(out)
    try:
        d.mkdir(parents=True, exist_ok=True)
        _replace_into(d, f"{result.trial_id}.npz",
                      lambda p: _savez(p, result.arrays))
        doc = _trial_doc(result)
        _replace_into(d, f"{result.trial_id}.json",
                      lambda p: p.write_text(json.dumps(doc, indent=1, sort_keys=True, allow_nan=False) + "\n",
                                             encoding="utf-8"))
    except OSError as exc:
        raise OutputError(f"cannot write trial {result.trial_id!r} into {str(d)!r} ({exc}); "
                          f"free space or choose another output directory", parameter="out") from None
    return d / f"{result.trial_id}.json"


def _layout(docs: list) -> str:
    """``"stacked"`` when every trial has the same array names, each of one dtype and shape; else ``"per-trial"``."""
    first = docs[0]["shapes"]
    return "stacked" if all(doc["shapes"] == first for doc in docs) else "per-trial"


def _manifest_text(name: str, layout: str, docs: list) -> str:
    """The chunk's manifest as strict JSON, one trial's record a line (C-speed encoding, readable)."""
    head = json.dumps({"format": CHUNK_FORMAT, "version": CHUNK_VERSION, "chunk": name, "npz": f"{name}.npz",
                       "layout": layout, "trial_ids": [doc["trial_id"] for doc in docs]}, sort_keys=True)
    # the figures keep their order (the per-trial format sorted them), so a resumed sweep's table lists them as run
    lines = ",\n".join(json.dumps(doc, allow_nan=False) for doc in docs)
    return f'{head[:-1]}, "trials": [\n{lines}\n]}}\n'


def write_trials(out, results: Iterable[TrialResult]) -> Path:
    """Write a finished chunk as one file pair, SIGINT and SIGTERM held back until both are in place.

    ``<out>/trials/<chunk>.npz`` holds every trial's arrays: when all trials have the same
    array names, dtypes and shapes (a batch's trials do), layout ``"stacked"``: one array per
    name, ``[n_trials, *shape]``, row k the k-th trial; otherwise layout ``"per-trial"``: the
    key ``<trial id>/<array>``. ``<chunk>.json``, the manifest, holds the format, version,
    layout, the trials' ids (in order) and each trial's record (params, figures, array dtypes
    and shapes, digest: as the per-trial format's json). The npz is moved into place first,
    the manifest last: the manifest marks the whole chunk finished. ``<chunk>`` is
    :func:`chunk_name` of the ids.

    Parameters
    ----------
    out : str or path-like
        The sweep's output directory (the store is ``<out>/trials``). It is created if missing.
    results : iterable of TrialResult
        The chunk's finished trials (at least one, ids distinct).

    Returns
    -------
    pathlib.Path
        The chunk's manifest, ``<out>/trials/<chunk>.json``.

    Raises
    ------
    ParameterError
        When an item is not a TrialResult, there is none, or two have the same id.
    OutputError
        When the store cannot be created or written (a full disk, no permission, ...).

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> p = write_trials(d, [TrialResult("a", {}, {"L": [1.0]}), TrialResult("b")])
    >>> p.name == chunk_name(["a", "b"]) + ".json", finished_ids(d)
    (True, ['a', 'b'])
    """
    results = list(results)
    for r in results:
        if not isinstance(r, TrialResult):
            raise ParameterError(f"{r!r} is not a TrialResult; run_batch must return TrialResult values")
    ids = [r.trial_id for r in results]
    if not ids or len(set(ids)) != len(ids):
        raise ParameterError(f"a chunk of trials {ids} cannot be written; give one TrialResult per trial, at least one")
    name = chunk_name(ids)
    docs = [_trial_doc(r) for r in results]
    layout = _layout(docs)
    if layout == "stacked":  # one array per name, row k trial k: a few zip members instead of one per trial
        arrays = {k: np.stack([r.arrays[k] for r in results]) for k in docs[0]["arrays"]}
    else:
        arrays = {f"{r.trial_id}/{k}": v for r in results for k, v in r.arrays.items()}
    text = _manifest_text(name, layout, docs)
    d = trials_dir(out)
    with signals_held():
        try:
            d.mkdir(parents=True, exist_ok=True)
            _replace_into(d, f"{name}.npz", lambda p: _savez(p, arrays))
            _replace_into(d, f"{name}.json", lambda p: p.write_text(text, encoding="utf-8"))
        except OSError as exc:
            raise OutputError(f"cannot write the chunk of trials {_some(ids)} into {str(d)!r} ({exc}); "
                              f"free space or choose another output directory", parameter="out") from None
    return d / f"{name}.json"


def _digest(trial_id: str, params: dict, figures: dict, arrays: Mapping) -> str:
    """SHA-256 over the id, params, (JSON-cleaned) figures and every array's name, dtype, shape and bytes."""
    h = hashlib.sha256()
    h.update(json.dumps([trial_id, params, figures], sort_keys=True, allow_nan=False).encode("utf-8"))
    for k in sorted(arrays):
        a = np.ascontiguousarray(arrays[k])
        h.update(json.dumps([k, a.dtype.str, list(a.shape)]).encode("utf-8"))
        h.update(a.tobytes())
    return h.hexdigest()


def _some(ids: Sequence[str], n: int = 3) -> str:
    """Up to ``n`` ids quoted, then how many in all: "'a', 'b', ... (5 trials)"."""
    ids = list(ids)
    shown = ", ".join(repr(i) for i in ids[:n])
    return shown if len(ids) <= n else f"{shown}, ... ({len(ids)} trials)"


def _corrupt(trial_id: str, d: Path, why: str) -> FormatError:
    return FormatError(f"trial {trial_id!r} in {str(d)!r} is corrupt ({why}); delete its files or resume to rerun it")


class _Bad(Exception):
    """Why a stored file pair cannot be used (turned into a FormatError naming the trial or the chunk)."""


def _check_doc(doc, trial_id: str, what: str = "json") -> None:
    """A trial's record (a per-trial json, or one entry of a chunk's manifest), checked; _Bad naming the first problem."""
    if not isinstance(doc, dict):
        raise _Bad(f"its {what} is a {type(doc).__name__}, not an object")
    if doc.get("trial_id") != trial_id:
        raise _Bad(f"its {what} names trial {doc.get('trial_id')!r}")
    for key, kind in (("params", dict), ("figures", dict), ("arrays", list), ("shapes", dict), ("digest", str)):
        if key not in doc:
            raise _Bad(f"its {what} has no {key!r}" +
                       (" (written by an older mesastack, without a checksum)" if key in ("shapes", "digest") else ""))
        if not isinstance(doc[key], kind):
            raise _Bad(f"its {what}'s {key!r} is a {type(doc[key]).__name__}, not a {kind.__name__}")
    for k, v in doc["figures"].items():
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise _Bad(f"figure {k!r} = {v!r} is not a number")
    if not all(isinstance(k, str) for k in doc["arrays"]) or sorted(doc["arrays"]) != sorted(doc["shapes"]):
        raise _Bad(f"its {what}'s array names and shapes do not match")


def _trial_from(doc: dict, arrays: dict) -> TrialResult:
    """The trial of a checked record and its arrays, checked against each other (names, dtypes, shapes, digest)."""
    trial_id = doc["trial_id"]
    if sorted(arrays) != sorted(doc["arrays"]):
        raise _Bad(f"its npz holds {sorted(arrays)}, its json names {sorted(doc['arrays'])}")
    for k, a in arrays.items():
        want = doc["shapes"][k]
        if not isinstance(want, dict) or [a.dtype.str, list(a.shape)] != [want.get("dtype"), want.get("shape")]:
            raise _Bad(f"array {k!r} is {a.dtype.str} {list(a.shape)}, recorded as {want}")
    if _digest(trial_id, doc["params"], doc["figures"], arrays) != doc["digest"]:
        raise _Bad("its params, figures or arrays changed since they were written (checksum differs)")
    figures = {k: math.nan if v is None else v for k, v in doc["figures"].items()}
    try:
        return TrialResult(trial_id, doc["params"], arrays, figures)
    except ParameterError as exc:
        raise _Bad(str(exc)) from None


def _read_npz(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as exc:  # BadZipFile, EOFError, a bad CRC, zlib.error, a pickle refused, a folder, ...
        why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise _Bad(f"its npz cannot be read: {why}"[:300]) from None


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # missing, unreadable, not UTF-8, not JSON
        raise _Bad(f"its json cannot be read: {type(exc).__name__}: {exc}"[:300]) from None


def _read_trial(d: Path, trial_id: str) -> TrialResult:
    """One trial of the per-trial format, checked whole; _Bad on any problem."""
    doc = _read_json(d / f"{trial_id}.json")
    _check_doc(doc, trial_id)
    return _trial_from(doc, _read_npz(d / f"{trial_id}.npz"))


def _read_manifest(d: Path, name: str) -> dict:
    """A chunk's manifest, its structure checked (not yet its npz); _Bad on any problem."""
    doc = _read_json(d / f"{name}.json")
    if not isinstance(doc, dict):
        raise _Bad(f"its manifest is a {type(doc).__name__}, not an object")
    if doc.get("format") != CHUNK_FORMAT:
        raise _Bad(f"its manifest's format is {doc.get('format')!r}, not {CHUNK_FORMAT!r}")
    if doc.get("version") != CHUNK_VERSION:
        raise _Bad(f"its manifest is version {doc.get('version')!r}; this mesastack reads version {CHUNK_VERSION}")
    ids, docs = doc.get("trial_ids"), doc.get("trials")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and _ID.match(i) for i in ids) \
            or len(set(ids)) != len(ids):
        raise _Bad("its manifest's 'trial_ids' is not a list of distinct trial ids")
    if chunk_name(ids) != name or doc.get("chunk") != name:
        raise _Bad("its manifest lists other trials than the chunk was written with")
    if not isinstance(docs, list) or len(docs) != len(ids):
        raise _Bad("its manifest's 'trials' is not one record per trial id")
    for i, t in zip(ids, docs):
        try:
            _check_doc(t, i, "record")
        except _Bad as exc:
            raise _Bad(f"trial {i!r}: {exc}") from None
    if doc.get("layout") not in ("stacked", "per-trial"):
        raise _Bad(f"its manifest's layout is {doc.get('layout')!r}, not 'stacked' or 'per-trial'")
    if doc["layout"] == "stacked" and _layout(docs) != "stacked":
        raise _Bad("its manifest says 'stacked' but its trials' arrays differ in names, dtypes or shapes")
    return doc


def _read_chunk(d: Path, name: str, doc: Optional[dict] = None) -> list:
    """A chunk's trials in its order, checked whole (manifest, npz, every trial's arrays and digest); _Bad."""
    doc = _read_manifest(d, name) if doc is None else doc
    arrays = _read_npz(d / f"{name}.npz")
    stacked, n = doc["layout"] == "stacked", len(doc["trials"])
    want = (set(doc["trials"][0]["arrays"]) if stacked
            else {f"{t['trial_id']}/{k}" for t in doc["trials"] for k in t["arrays"]})
    if set(arrays) != want:
        extra, lost = sorted(set(arrays) - want)[:3], sorted(want - set(arrays))[:3]
        raise _Bad(f"its npz holds other arrays than its manifest names (not named: {extra}, missing: {lost})")
    if stacked:
        short = [k for k, a in arrays.items() if a.ndim == 0 or a.shape[0] != n]
        if short:
            raise _Bad(f"its stacked array {short[0]!r} has shape {list(arrays[short[0]].shape)}, not {n} rows")
    out = []
    for row, t in enumerate(doc["trials"]):
        own = {k: arrays[k][row] if stacked else arrays[f"{t['trial_id']}/{k}"] for k in t["arrays"]}
        try:
            out.append(_trial_from(t, own))
        except _Bad as exc:
            raise _Bad(f"trial {t['trial_id']!r}: {exc}") from None
    return out


def _listed_ids(d: Path, name: str):
    """The trial ids a (possibly malformed) manifest lists, for naming them; None when it lists none readably."""
    try:
        ids = json.loads((d / f"{name}.json").read_text(encoding="utf-8")).get("trial_ids")
    except (OSError, ValueError, AttributeError):
        return None
    return ids if isinstance(ids, list) and ids and all(isinstance(i, str) for i in ids) else None


def _corrupt_chunk(name: str, ids, d: Path, why: str) -> FormatError:
    ids = _listed_ids(d, name) if ids is None else ids
    trials = f"trials {_some(ids)}" if ids else "its trials unknown"
    return FormatError(f"chunk {name!r} ({trials}) in {str(d)!r} is corrupt ({why}); "
                       f"delete its files or resume to rerun its trials")


def _stored(d: Path) -> tuple:
    """(per-trial ids, chunk names) whose json marker is in place in the store folder ``d``, each sorted."""
    if not d.is_dir():
        return [], []
    trials, chunks = [], []
    for p in d.glob("*.json"):
        stem = p.stem
        if _CHUNK.match(stem):
            chunks.append(stem)
        elif _ID.match(stem):
            trials.append(stem)
    return sorted(trials), sorted(chunks)


def _manifest_or_none(d: Path, name: str):
    try:
        return _read_manifest(d, name)
    except _Bad:
        return None


def finished_chunks(out) -> dict:
    """The finished chunks of ``out`` whose manifest is readable, {chunk name: [trial ids in order]}.

    A chunk is finished when its manifest (``<chunk>.json``, written after its npz) is in
    place; a manifest that cannot be read or is malformed is left out (its trials are not
    finished; :func:`reusable` moves such a chunk aside).

    Parameters
    ----------
    out : str or path-like
        The sweep's output directory (the store is ``<out>/trials``).

    Returns
    -------
    dict
        {chunk name: list of trial ids}, names sorted; empty when the store does not exist.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = write_trials(d, [TrialResult("b"), TrialResult("a")])
    >>> list(finished_chunks(d).values())
    [['b', 'a']]
    """
    d = trials_dir(out)
    out_ = {}
    for name in _stored(d)[1]:
        doc = _manifest_or_none(d, name)
        if doc is not None:
            out_[name] = list(doc["trial_ids"])
    return out_


def _where(out, trial_id: str):
    """Where ``trial_id`` is stored: ("trial", id), ("chunk", name), or None."""
    d = trials_dir(out)
    if (d / f"{trial_id}.json").is_file():
        return "trial", trial_id
    for name, ids in finished_chunks(out).items():
        if trial_id in ids:
            return "chunk", name
    return None


def load_trial(out, trial_id: str) -> TrialResult:
    """Read one finished trial back, checked whole, from its own file pair (the per-trial
    format) or from the chunk that holds it. FormatError when the trial is in neither, or its
    files are unreadable or do not agree with each other: a truncated, empty or bit-flipped
    ``.npz``, a ``.json`` of the wrong structure, an array whose dtype or shape is not the
    recorded one, or any change to the id, params, figures or arrays since they were written (the
    digest). A trial of a chunk is read with its whole chunk, and any flaw of the chunk is one of
    the trial's.

    Parameters
    ----------
    out : str or path-like
        The sweep's output directory (the store is ``<out>/trials``).
    trial_id : str
        The trial to read.

    Returns
    -------
    TrialResult
        The trial as written (figures stored as null read back as NaN).

    Raises
    ------
    FormatError
        When the trial is not in the store, or its files are unreadable or corrupt (as above).

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = write_trials(d, [TrialResult("a", {}, {"L": [2.0, 1.0]})])
    >>> load_trial(d, "a").arrays["L"].tolist()
    [2.0, 1.0]
    >>> _ = write_trial(d, TrialResult("b", {}, {"L": [3.0]}))
    >>> _ = (trials_dir(d) / "b.npz").write_bytes(b"")
    >>> load_trial(d, "b")
    Traceback (most recent call last):
    ...
    hierarchy.errors.FormatError: trial 'b' in ... is corrupt (its npz cannot be read: ...); delete its files or resume to rerun it
    """
    d = trials_dir(out)
    where = _where(out, trial_id)
    if where is None:
        raise FormatError(f"trial {trial_id!r} is not in {str(d)!r} (no {trial_id}.json, and no chunk's manifest "
                          f"lists it); run or resume the sweep to write it")
    kind, name = where
    try:
        if kind == "trial":
            return _read_trial(d, trial_id)
        return next(r for r in _read_chunk(d, name) if r.trial_id == trial_id)
    except _Bad as exc:
        raise _corrupt(trial_id, d, str(exc) if kind == "trial" else f"in chunk {name!r}: {exc}") from None


def load_chunk(out, name: str) -> list:
    """Read one finished chunk back, checked whole (as :func:`load_trial` checks a trial, and its
    manifest's own structure: format, version, its trial ids against its name).

    Parameters
    ----------
    out : str or path-like
        The sweep's output directory (the store is ``<out>/trials``).
    name : str
        The chunk's name (:func:`chunk_name`; the keys of :func:`finished_chunks`).

    Returns
    -------
    list of TrialResult
        The chunk's trials, in the order they were written.

    Raises
    ------
    FormatError
        When the chunk's files are missing, unreadable or corrupt.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> p = write_trials(d, [TrialResult("a", {}, {"L": [2.0]}), TrialResult("b", {}, {}, {"C": 1.0})])
    >>> [r.trial_id for r in load_chunk(d, p.stem)]
    ['a', 'b']
    """
    d = trials_dir(out)
    doc = None
    try:
        doc = _read_manifest(d, name)
        return _read_chunk(d, name, doc)
    except _Bad as exc:
        raise _corrupt_chunk(name, doc["trial_ids"] if doc else None, d, str(exc)) from None


def move_aside(out, name: str) -> Path:
    """Move a corrupt trial's or chunk's files (``<name>.json``, ``<name>.npz``) into
    ``<out>/trials/corrupt/`` (never deleting; a name already taken there gets a numbered
    suffix) and return that folder. The json goes first, so the trial or chunk stops counting
    as finished even if the move is cut short.

    Parameters
    ----------
    out : str or path-like
        The sweep's output directory (the store is ``<out>/trials``).
    name : str
        The trial id (per-trial format) or the chunk name whose files move (those missing are skipped).

    Returns
    -------
    pathlib.Path
        The folder ``<out>/trials/corrupt``.

    Raises
    ------
    OutputError
        When the folder cannot be created or a file cannot be moved.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = write_trial(d, TrialResult("a", {}, {"L": [1.0]}))
    >>> move_aside(d, "a").name, finished_ids(d), sorted(p.name for p in (trials_dir(d) / "corrupt").iterdir())
    ('corrupt', [], ['a.json', 'a.npz'])
    """
    d = trials_dir(out)
    dest = d / CORRUPT_DIR
    try:
        dest.mkdir(exist_ok=True)
        for ext in (".json", ".npz"):
            src = d / f"{name}{ext}"
            if not (src.exists() or src.is_symlink()):
                continue
            target, n = dest / src.name, 1
            while target.exists():
                target, n = dest / f"{name}.{n}{ext}", n + 1
            os.replace(src, target)
    except OSError as exc:
        raise OutputError(f"cannot move the corrupt files of {name!r} aside into {str(dest)!r} ({exc}); "
                          f"delete them by hand to rerun their trials", parameter="out") from None
    return dest


def finished_ids(out) -> list:
    """Ids of the finished trials in ``out``, sorted: those of the per-trial format whose json is in
    place, and those listed by a readable chunk manifest (:func:`finished_chunks`).

    Parameters
    ----------
    out : str or path-like
        The sweep's output directory (the store is ``<out>/trials``).

    Returns
    -------
    list of str
        The ids, sorted, each once; empty when the store does not exist.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = write_trials(d, [TrialResult("b"), TrialResult("a")])
    >>> _ = write_trial(d, TrialResult("c"))
    >>> finished_ids(d), finished_ids(d + "/nowhere")
    (['a', 'b', 'c'], [])
    """
    ids = set(_stored(trials_dir(out))[0])
    for chunk in finished_chunks(out).values():
        ids.update(chunk)
    return sorted(ids)


def _entries(d: Path) -> list:
    """The store's file pairs in reading order: ("trial", id, None) for the per-trial format, then
    ("chunk", name, manifest or None when unreadable), chunks sorted by name."""
    trials, chunks = _stored(d)
    return [("trial", i, None) for i in trials] + [("chunk", n, _manifest_or_none(d, n)) for n in chunks]


def load_finished(out) -> dict:
    """Every finished trial in ``out`` as {id: TrialResult}; FormatError on the first corrupt trial
    or chunk, a chunk manifest that cannot be read included (:func:`reusable` moves corrupt ones
    aside instead). A trial stored twice is read from its first place: its own file pair, else
    the first chunk by name.

    Parameters
    ----------
    out : str or path-like
        The sweep's output directory (the store is ``<out>/trials``).

    Returns
    -------
    dict
        {id: TrialResult}, ids sorted (:func:`finished_ids`).

    Raises
    ------
    FormatError
        When a finished trial or chunk is corrupt (:func:`load_trial`, :func:`load_chunk`).

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = write_trials(d, [TrialResult("b", {}, {"L": [1.0]}, {"C": float("nan")})])
    >>> r = load_finished(d)["b"]
    >>> r.arrays["L"].tolist(), math.isnan(r.figures["C"])
    ([1.0], True)
    """
    d = trials_dir(out)
    got = {}
    for kind, name, doc in _entries(d):
        if kind == "trial":
            got.setdefault(name, load_trial(out, name))
            continue
        try:
            if doc is None:
                _read_manifest(d, name)  # raises the manifest's own flaw
            rs = _read_chunk(d, name, doc)
        except _Bad as exc:
            raise _corrupt_chunk(name, doc["trial_ids"] if doc else None, d, str(exc)) from None
        for r in rs:
            got.setdefault(r.trial_id, r)
    return {i: got[i] for i in sorted(got)}


def remove_leftovers(out) -> int:
    """Delete temporary files an abrupt kill (SIGKILL) may have left in the store; returns how many.

    Parameters
    ----------
    out : str or path-like
        The sweep's output directory (the store is ``<out>/trials``).

    Returns
    -------
    int
        The number of temporary files deleted (one that cannot be deleted is skipped).

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> trials_dir(d).mkdir()
    >>> _ = (trials_dir(d) / ".tmp-1-a.npz").write_bytes(b"")
    >>> remove_leftovers(d)
    1
    """
    d = trials_dir(out)
    n = 0
    if d.is_dir():
        for p in d.glob(f"{_TMP_PREFIX}*"):
            with contextlib.suppress(OSError):
                p.unlink()
                n += 1
    return n


def _check_params(out, r: TrialResult, t: Trial) -> None:
    if r.params != t.params:
        diff = sorted(k for k in set(r.params) | set(t.params) if r.params.get(k) != t.params.get(k))
        raise OutputError(f"trial {t.id!r} in {str(out)!r} was run with other parameters (differing: "
                          f"{', '.join(diff)}); resume with the same parameters or choose another output directory",
                          parameter="out")


def reusable(out, trials: Sequence[Trial], resume: bool, on_corrupt=None) -> dict:
    """The finished trials of ``out`` that this sweep may reuse, {id: TrialResult}.

    Rule: without ``resume``, a store that holds any finished trial or chunk is an OutputError
    (resume it or choose another output directory). With ``resume``, the finished trials whose
    ids are in ``trials`` are loaded (per-trial files first, then chunks by name; a trial stored
    twice is taken once). A corrupt trial (:func:`load_trial`), or a corrupt chunk holding one of
    them or whose manifest cannot be read (:func:`load_chunk`), is moved aside (:func:`move_aside`)
    and left out, so the sweep reruns its trials (a whole chunk, so as the batch it was), and
    ``on_corrupt(message)`` is called with one line naming it (default: nothing); one whose stored
    params differ from the trial's is an OutputError (it belongs to another sweep). Trials and
    chunks of the store that hold none of ``trials`` are left alone.

    Parameters
    ----------
    out : str or path-like
        The sweep's output directory (the store is ``<out>/trials``).
    trials : sequence of Trial
        The sweep's trials.
    resume : bool
        Whether finished trials may be reused.
    on_corrupt : callable, optional
        ``on_corrupt(message)``, called once per corrupt trial or chunk moved aside.

    Returns
    -------
    dict
        {id: TrialResult} of the reusable trials, ids sorted.

    Raises
    ------
    OutputError
        When ``resume`` is false and the store holds a finished trial or chunk, when a finished
        trial of ``trials`` was run with other params, or when a corrupt trial or chunk cannot be
        moved aside.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = write_trials(d, [TrialResult("a", {"x": 1})])
    >>> list(reusable(d, [Trial("a", {"x": 1}), Trial("b", {"x": 2})], resume=True))
    ['a']
    >>> reusable(d, [Trial("a", {"x": 1})], resume=False)
    Traceback (most recent call last):
    ...
    hierarchy.errors.OutputError: ... already holds 1 finished trials of a sweep; resume to reuse them or choose another output directory
    """
    d = trials_dir(out)
    entries = _entries(d)
    if entries and not resume:
        n = len(finished_ids(out))
        held = f"{n} finished trials" if n else f"{len(entries)} chunk files"
        raise OutputError(f"{str(out)!r} already holds {held} of a sweep; "
                          f"resume to reuse them or choose another output directory", parameter="resume")
    wanted = {t.id: t for t in trials}
    reuse = {}

    def aside(name, exc):
        where = move_aside(out, name)
        if on_corrupt is not None:
            on_corrupt(f"{str(exc).split('; delete')[0]}; moved its files to {str(where)!r} and rerunning "
                       + ("it" if exc.args[0].startswith("trial ") else "its trials"))

    for kind, name, doc in entries:
        if kind == "trial":
            if name not in wanted or name in reuse:
                continue
            try:
                r = _read_trial(d, name)
            except _Bad as exc:
                aside(name, _corrupt(name, d, str(exc)))
                continue
            _check_params(out, r, wanted[name])
            reuse[name] = r
            continue
        if doc is not None and not any(i in wanted and i not in reuse for i in doc["trial_ids"]):
            continue
        try:
            if doc is None:
                _read_manifest(d, name)
            rs = _read_chunk(d, name, doc)
        except _Bad as exc:
            aside(name, _corrupt_chunk(name, doc["trial_ids"] if doc else None, d, str(exc)))
            continue
        for r in rs:
            if r.trial_id in wanted and r.trial_id not in reuse:
                _check_params(out, r, wanted[r.trial_id])
                reuse[r.trial_id] = r
    return {i: reuse[i] for i in sorted(reuse)}


# -- results as a table --------------------------------------------------------------------

def results_frame(results: Iterable[TrialResult]):
    """The results as a pandas DataFrame: one row per trial and figure.

    Columns: ``trial``, one column per parameter (scalars as they are, lists and dicts as
    JSON text; a parameter named trial, figure or value becomes ``param_<name>``),
    ``figure``, ``value``. Needs pandas (``pip install "mesastack[sweeps]"``).

    Parameters
    ----------
    results : iterable of TrialResult
        The sweep's results.

    Returns
    -------
    pandas.DataFrame
        One row per trial and figure; with no figures, an empty frame with the columns
        ``trial``, ``figure``, ``value``.

    Raises
    ------
    ParameterError
        When pandas is not installed.

    Examples
    --------
    >>> df = results_frame([TrialResult("a", {"width": 2}, {}, {"C": 1.0, "alpha": 0.5})])
    >>> df[["trial", "width", "figure", "value"]].values.tolist()
    [['a', 2, 'C', 1.0], ['a', 2, 'alpha', 0.5]]
    >>> list(results_frame([]).columns)
    ['trial', 'figure', 'value']
    """
    try:
        import pandas as pd
    except ImportError:
        raise ParameterError('sweep results as a DataFrame need pandas: pip install "mesastack[sweeps]"') from None
    rows = []
    for r in results:
        params = {(f"param_{k}" if k in ("trial", "figure", "value") else k):
                  (json.dumps(v, sort_keys=True) if isinstance(v, (list, dict)) else v) for k, v in r.params.items()}
        for name, value in r.figures.items():
            rows.append({"trial": r.trial_id, **params, "figure": name, "value": value})
    if not rows:
        return pd.DataFrame(columns=["trial", "figure", "value"])
    df = pd.DataFrame(rows)
    cols = ["trial"] + [c for c in df.columns if c not in ("trial", "figure", "value")] + ["figure", "value"]
    return df[cols]
