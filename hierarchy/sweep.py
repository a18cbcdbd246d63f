"""Sweeps: a list of trials, each finished trial written at once, results as a table.

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
* the **trial store**: ``<out>/trials/<id>.npz`` (the arrays) and ``<out>/trials/<id>.json``
  (id, params, figures), each written to a temporary file and moved into place with
  ``os.replace``; the json is written last and marks the trial finished. A chunk's
  files are committed with SIGINT and SIGTERM held back until the last one is in place,
  so an interruption keeps whole chunks or nothing of them. The json also records each
  array's dtype and shape and a SHA-256 ``digest`` of the id, params, figures and array
  bytes, so a trial read back is checked whole: a truncated, empty or bit-flipped file, a
  json of the wrong shape, an array cut short, or a figure edited by hand is **corrupt**
  (:func:`load_trial` raises FormatError) and never reused: :func:`reusable` moves its files
  aside into ``<out>/trials/corrupt/`` (nothing is deleted), names it, and the sweep reruns it;
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

__all__ = ["Trial", "TrialResult", "check_trials", "plan_batches", "trials_dir", "signals_held", "write_trial",
           "write_trials", "load_trial", "finished_ids", "load_finished", "move_aside", "remove_leftovers", "reusable",
           "results_frame", "CORRUPT_DIR"]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_TMP_PREFIX = ".tmp-"
#: Where the files of a corrupt trial are moved (inside ``<out>/trials``).
CORRUPT_DIR = "corrupt"


def _check_id(instance, attribute, value) -> None:
    if not isinstance(value, str) or not _ID.match(value):
        raise ParameterError(
            f"trial id {value!r} is not filesystem-safe; use 1-128 letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit (e.g. 'w0016-s03')")


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


def write_trial(out, result: TrialResult) -> Path:
    """Write one finished trial atomically: ``<id>.npz`` then ``<id>.json`` (the marker).

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
        figures = _clean_json(result.figures)
        doc = {"trial_id": result.trial_id, "params": result.params, "figures": figures,
               "arrays": sorted(result.arrays),
               "shapes": {k: {"dtype": v.dtype.str, "shape": list(v.shape)} for k, v in sorted(result.arrays.items())},
               "digest": _digest(result.trial_id, result.params, figures, result.arrays)}
        _replace_into(d, f"{result.trial_id}.json",
                      lambda p: p.write_text(json.dumps(doc, indent=1, sort_keys=True, allow_nan=False) + "\n",
                                             encoding="utf-8"))
    except OSError as exc:
        raise OutputError(f"cannot write trial {result.trial_id!r} into {str(d)!r} ({exc}); "
                          f"free space or choose another output directory", parameter="out") from None
    return d / f"{result.trial_id}.json"


def _savez(path: Path, arrays: dict) -> None:
    with open(path, "wb") as fh:  # a file object: numpy must not append its own ".npz"
        np.savez_compressed(fh, **arrays)


def write_trials(out, results: Iterable[TrialResult]) -> list:
    """Write a chunk's results, SIGINT and SIGTERM held back until all are in place.

    Parameters
    ----------
    out : str or path-like
        The sweep's output directory (the store is ``<out>/trials``).
    results : iterable of TrialResult
        The chunk's finished trials.

    Returns
    -------
    list of pathlib.Path
        Each trial's json (:func:`write_trial`), in order.

    Raises
    ------
    ParameterError
        When an item is not a TrialResult.
    OutputError
        When a trial cannot be written.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> [p.name for p in write_trials(d, [TrialResult("a"), TrialResult("b")])]
    ['a.json', 'b.json']
    """
    with signals_held():
        return [write_trial(out, r) for r in results]


def _digest(trial_id: str, params: dict, figures: dict, arrays: Mapping) -> str:
    """SHA-256 over the id, params, (JSON-cleaned) figures and every array's name, dtype, shape and bytes."""
    h = hashlib.sha256()
    h.update(json.dumps([trial_id, params, figures], sort_keys=True, allow_nan=False).encode("utf-8"))
    for k in sorted(arrays):
        a = np.ascontiguousarray(arrays[k])
        h.update(json.dumps([k, a.dtype.str, list(a.shape)]).encode("utf-8"))
        h.update(a.tobytes())
    return h.hexdigest()


def _corrupt(trial_id: str, d: Path, why: str) -> FormatError:
    return FormatError(f"trial {trial_id!r} in {str(d)!r} is corrupt ({why}); delete its files or resume to rerun it")


def _check_doc(doc, trial_id: str, d: Path) -> None:
    """The trial json's structure, checked; FormatError naming the first problem."""
    if not isinstance(doc, dict):
        raise _corrupt(trial_id, d, f"its json is a {type(doc).__name__}, not an object")
    if doc.get("trial_id") != trial_id:
        raise _corrupt(trial_id, d, f"its json names trial {doc.get('trial_id')!r}")
    for key, kind in (("params", dict), ("figures", dict), ("arrays", list), ("shapes", dict), ("digest", str)):
        if key not in doc:
            raise _corrupt(trial_id, d, f"its json has no {key!r}" +
                           (" (written by an older mesastack, without a checksum)" if key in ("shapes", "digest") else ""))
        if not isinstance(doc[key], kind):
            raise _corrupt(trial_id, d, f"its json's {key!r} is a {type(doc[key]).__name__}, not a {kind.__name__}")
    for k, v in doc["figures"].items():
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise _corrupt(trial_id, d, f"figure {k!r} = {v!r} is not a number")
    if not all(isinstance(k, str) for k in doc["arrays"]) or sorted(doc["arrays"]) != sorted(doc["shapes"]):
        raise _corrupt(trial_id, d, "its json's array names and shapes do not match")


def load_trial(out, trial_id: str) -> TrialResult:
    """Read one finished trial back, checked whole. FormatError when its files are missing,
    unreadable or do not agree with each other: a truncated, empty or bit-flipped ``.npz``, a
    ``.json`` of the wrong structure, an array whose dtype or shape is not the recorded one,
    or any change to the id, params, figures or arrays since they were written (the digest).

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
        When the trial's files are missing, unreadable or corrupt (as above).

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = write_trial(d, TrialResult("a", {}, {"L": [2.0, 1.0]}))
    >>> load_trial(d, "a").arrays["L"].tolist()
    [2.0, 1.0]
    >>> _ = (trials_dir(d) / "a.npz").write_bytes(b"")
    >>> load_trial(d, "a")
    Traceback (most recent call last):
    ...
    hierarchy.errors.FormatError: trial 'a' in ... is corrupt (its npz cannot be read: ...); delete its files or resume to rerun it
    """
    d = trials_dir(out)
    try:
        doc = json.loads((d / f"{trial_id}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # missing, unreadable, not UTF-8, not JSON
        raise _corrupt(trial_id, d, f"its json cannot be read: {type(exc).__name__}: {exc}"[:300]) from None
    _check_doc(doc, trial_id, d)
    try:
        with np.load(d / f"{trial_id}.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:  # BadZipFile, EOFError, a bad CRC, zlib.error, a pickle refused, ...
        why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise _corrupt(trial_id, d, f"its npz cannot be read: {why}"[:300]) from None
    if sorted(arrays) != sorted(doc["arrays"]):
        raise _corrupt(trial_id, d, f"its npz holds {sorted(arrays)}, its json names {sorted(doc['arrays'])}")
    for k, a in arrays.items():
        want = doc["shapes"][k]
        if not isinstance(want, dict) or [a.dtype.str, list(a.shape)] != [want.get("dtype"), want.get("shape")]:
            raise _corrupt(trial_id, d, f"array {k!r} is {a.dtype.str} {list(a.shape)}, recorded as {want}")
    if _digest(trial_id, doc["params"], doc["figures"], arrays) != doc["digest"]:
        raise _corrupt(trial_id, d, "its params, figures or arrays changed since they were written (checksum differs)")
    figures = {k: math.nan if v is None else v for k, v in doc["figures"].items()}
    try:
        return TrialResult(trial_id, doc["params"], arrays, figures)
    except ParameterError as exc:
        raise _corrupt(trial_id, d, str(exc)) from None


def move_aside(out, trial_id: str) -> Path:
    """Move a corrupt trial's files into ``<out>/trials/corrupt/`` (never deleting; a name
    already taken there gets a numbered suffix) and return that folder. The json goes first,
    so the trial stops counting as finished even if the move is cut short.

    Parameters
    ----------
    out : str or path-like
        The sweep's output directory (the store is ``<out>/trials``).
    trial_id : str
        The trial whose files move (those missing are skipped).

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
            src = d / f"{trial_id}{ext}"
            if not src.exists():
                continue
            target, n = dest / src.name, 1
            while target.exists():
                target, n = dest / f"{trial_id}.{n}{ext}", n + 1
            os.replace(src, target)
    except OSError as exc:
        raise OutputError(f"cannot move the corrupt trial {trial_id!r} aside into {str(dest)!r} ({exc}); "
                          f"delete its files by hand to rerun it", parameter="out") from None
    return dest


def finished_ids(out) -> list:
    """Ids of the finished trials in ``out`` (those whose json marker is in place), sorted.

    Parameters
    ----------
    out : str or path-like
        The sweep's output directory (the store is ``<out>/trials``).

    Returns
    -------
    list of str
        The ids, sorted; empty when the store does not exist.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = write_trials(d, [TrialResult("b"), TrialResult("a")])
    >>> finished_ids(d), finished_ids(d + "/nowhere")
    (['a', 'b'], [])
    """
    d = trials_dir(out)
    if not d.is_dir():
        return []
    return sorted(p.stem for p in d.glob("*.json") if not p.name.startswith(".") and _ID.match(p.stem))


def load_finished(out) -> dict:
    """Every finished trial in ``out`` as {id: TrialResult}; FormatError on the first corrupt one
    (:func:`reusable` moves corrupt trials aside instead).

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
        When a finished trial is corrupt (:func:`load_trial`).

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = write_trials(d, [TrialResult("b", {}, {"L": [1.0]}, {"C": float("nan")})])
    >>> r = load_finished(d)["b"]
    >>> r.arrays["L"].tolist(), math.isnan(r.figures["C"])
    ([1.0], True)
    """
    return {i: load_trial(out, i) for i in finished_ids(out)}


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


def reusable(out, trials: Sequence[Trial], resume: bool, on_corrupt=None) -> dict:
    """The finished trials of ``out`` that this sweep may reuse, {id: TrialResult}.

    Rule: without ``resume``, a store that holds any finished trial is an OutputError
    (resume it or choose another output directory). With ``resume``, the finished trials whose
    ids are in ``trials`` are loaded; a corrupt one (:func:`load_trial`) is moved aside
    (:func:`move_aside`) and left out, so the sweep reruns it, and ``on_corrupt(message)``
    is called with one line naming it (default: nothing); one whose stored params differ
    from the trial's is an OutputError (it belongs to another sweep). Trials of the store
    not in ``trials`` are left alone.

    Parameters
    ----------
    out : str or path-like
        The sweep's output directory (the store is ``<out>/trials``).
    trials : sequence of Trial
        The sweep's trials.
    resume : bool
        Whether finished trials may be reused.
    on_corrupt : callable, optional
        ``on_corrupt(message)``, called once per corrupt trial moved aside.

    Returns
    -------
    dict
        {id: TrialResult} of the reusable trials, ids sorted.

    Raises
    ------
    OutputError
        When ``resume`` is false and the store holds a finished trial, when a finished trial
        of ``trials`` was run with other params, or when a corrupt trial cannot be moved aside.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = write_trial(d, TrialResult("a", {"x": 1}))
    >>> list(reusable(d, [Trial("a", {"x": 1}), Trial("b", {"x": 2})], resume=True))
    ['a']
    >>> reusable(d, [Trial("a", {"x": 1})], resume=False)
    Traceback (most recent call last):
    ...
    hierarchy.errors.OutputError: ... already holds 1 finished trials of a sweep; resume to reuse them or choose another output directory
    """
    done = finished_ids(out)
    if done and not resume:
        raise OutputError(f"{str(out)!r} already holds {len(done)} finished trials of a sweep; "
                          f"resume to reuse them or choose another output directory", parameter="resume")
    wanted = {t.id: t for t in trials}
    reuse = {}
    for i in done:
        if i not in wanted:
            continue
        try:
            r = load_trial(out, i)
        except FormatError as exc:
            where = move_aside(out, i)
            if on_corrupt is not None:
                on_corrupt(f"{str(exc).split('; delete')[0]}; moved its files to {str(where)!r} and rerunning it")
            continue
        if r.params != wanted[i].params:
            diff = sorted(k for k in set(r.params) | set(wanted[i].params)
                          if r.params.get(k) != wanted[i].params.get(k))
            raise OutputError(f"trial {i!r} in {str(out)!r} was run with other parameters (differing: "
                              f"{', '.join(diff)}); resume with the same parameters or choose another output directory",
                              parameter="out")
        reuse[i] = r
    return reuse


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
