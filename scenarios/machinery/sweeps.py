"""Executors of a sweep: in this process, or on a Dask cluster.

    run_sweep(trials, run_batch, out=..., resume=..., executor="inprocess" | "dask")

``run_batch(list[Trial]) -> list[TrialResult]`` runs one chunk of trials that share a
``batch_key`` (as one batched population where it can). It must be picklable by
reference for Dask: a module-level function, or an instance of a module-level (attrs)
class holding its configuration.

* **inprocess** (default): the chunks run one after the other in this process, with a
  progress bar over trials. torch runs on ``threads`` threads while they do (default 1,
  restored afterwards; None leaves it alone): the batched populations of small MLPs run
  several times faster on one thread than on two, and far faster when other processes
  share the cores (measured: width 256, 5 copies, 9 ms a step on one thread against 43
  to 130 ms on two on a loaded 2-core machine).
* **dask**: each chunk is one task on a ``distributed`` cluster and returns its arrays;
  the client writes each chunk (one file pair) as the tasks complete (``as_completed``). By
  default a ``LocalCluster`` on this machine: ``workers`` processes (default one per
  core) with one thread each, and each task sets torch to one thread. With
  ``scheduler`` (``--scheduler ADDRESS``) the client joins an existing cluster instead;
  a SLURM or PBS cluster started with dask-jobqueue (``SLURMCluster(...)``, then its
  ``scheduler_address``) is used this way. Its workers need mesastack installed. Dask is
  an optional extra: ``pip install "mesastack[sweeps]"``.

Both write every finished chunk at once into ``<out>/trials`` as one file pair (its npz,
then its json manifest: :func:`hierarchy.sweep.write_trials`), so an interrupted sweep
resumes with ``resume=True`` (``--resume``) and repeats no finished trial; the chunks are
planned from the full trial list, so the resumed result equals an uninterrupted one. A
store of the older per-trial format (``<id>.npz`` + ``<id>.json``) resumes the same way.
Without ``resume`` a store that already holds finished trials is an error. A corrupt chunk
or trial file met on ``resume`` (truncated, bit-flipped, edited by hand, ...) is named in
one line on stderr, moved into ``<out>/trials/corrupt/`` and its trials rerun
(:func:`hierarchy.sweep.reusable`). While a sweep runs, SIGTERM is turned into KeyboardInterrupt so
that a terminated sweep shuts its cluster down as cleanly as an interrupted one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from typing import Callable, Optional, Sequence

from agents.threads import torch_threads
from hierarchy.errors import MesastackError, ParameterError
from hierarchy.sweep import (Trial, TrialResult, check_trials, plan_batches, remove_leftovers, reusable,
                             write_trials)

from scenarios.machinery.side_by_side import available_cores

RunBatch = Callable[[list], list]
EXECUTORS = ("inprocess", "dask")


def run_chunk(run_batch: RunBatch, chunk: list) -> list:
    """Run one chunk in a worker: ``run_batch(chunk)`` with torch on one thread.

    Example:
        >>> run_chunk(lambda chunk: [t * 2 for t in chunk], [1, 2])
        [2, 4]
    """
    with torch_threads(1):
        return run_batch(chunk)


def _checked(chunk: Sequence[Trial], results) -> list:
    results = list(results) if results is not None else []
    by_id = {}
    for r in results:
        if not isinstance(r, TrialResult):
            raise ParameterError(f"run_batch returned {type(r).__name__}; it must return one TrialResult per trial")
        by_id[r.trial_id] = r
    want = [t.id for t in chunk]
    if sorted(by_id) != sorted(want) or len(results) != len(want):
        raise ParameterError(f"run_batch returned results for {sorted(by_id)} when given {want}; "
                             f"return exactly one TrialResult per trial, with the trial's id")
    for t in chunk:
        if by_id[t.id].params != t.params:
            raise ParameterError(f"run_batch returned params {by_id[t.id].params} for trial {t.id!r}, whose params are "
                                 f"{t.params}; return TrialResult(trial.id, trial.params, ...)")
    return [by_id[t.id] for t in chunk]


@contextlib.contextmanager
def _sigterm_as_interrupt():
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    old = signal.getsignal(signal.SIGTERM)
    if old is None:
        yield
        return
    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextlib.contextmanager
def _trial_bar(enabled: bool, total: int, done: int):
    if not enabled:
        yield None
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=done, desc="sweep", unit="trial", disable=None, leave=False, dynamic_ncols=True)
    try:
        yield bar
    finally:
        bar.close()


def _run_inprocess(chunks: list, run_batch: RunBatch, commit, bar) -> None:
    for chunk in chunks:
        if bar is not None:
            bar.set_postfix_str(f"batch {chunk[0].batch_key} ({len(chunk)} trials)")
        commit(chunk, run_batch(chunk))


SCHEDULER_TIMEOUT = 20.0  # seconds for the whole handshake with an existing scheduler
#: An environment variable that sets another bound (seconds) for that handshake, e.g. in tests.
SCHEDULER_TIMEOUT_ENV = "MESASTACK_SCHEDULER_TIMEOUT"


def scheduler_timeout() -> float:
    """The handshake bound: ``$MESASTACK_SCHEDULER_TIMEOUT`` seconds when set to a positive
    number, else :data:`SCHEDULER_TIMEOUT`.

    Example:
        >>> scheduler_timeout() > 0
        True
    """
    raw = os.environ.get(SCHEDULER_TIMEOUT_ENV)
    if raw:
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if not (0 < value < 1e6):
            raise ParameterError(f"{SCHEDULER_TIMEOUT_ENV}={raw!r} is not a positive number of seconds; "
                                 f"set it to e.g. 20 or unset it")
        return value
    return SCHEDULER_TIMEOUT


def check_scheduler_address(address: str) -> str:
    """``address`` as a Dask scheduler address ``[tcp://]host:port``, or a one-line ParameterError.

    Examples
    --------
    >>> check_scheduler_address("tcp://10.0.0.5:8786"), check_scheduler_address("localhost:8786")
    ('tcp://10.0.0.5:8786', 'tcp://localhost:8786')
    >>> check_scheduler_address("not-an-address")
    Traceback (most recent call last):
    ...
    hierarchy.errors.ParameterError: scheduler address 'not-an-address' is not of the form [tcp://]host:port (e.g. tcp://10.0.0.5:8786)
    """
    import re

    a = str(address).strip()
    m = re.fullmatch(r"(?:(tcp|tls|inproc|ucx|ws|wss)://)?([A-Za-z0-9._\-]+|\[[0-9A-Fa-f:]+\]):([0-9]{1,5})", a)
    if m is None or not (0 < int(m.group(3)) < 65536):
        raise ParameterError(f"scheduler address {address!r} is not of the form [tcp://]host:port "
                             f"(e.g. tcp://10.0.0.5:8786)", parameter="scheduler")
    return a if m.group(1) else f"tcp://{a}"


def join_scheduler(distributed, address: str, timeout: Optional[float] = None):
    """A Client of the Dask scheduler at ``address``, with the **whole** handshake bounded by
    ``timeout`` seconds (a server that accepts and never answers, or answers something that is
    not Dask, is refused in one line instead of hanging or crashing inside distributed)."""
    timeout = scheduler_timeout() if timeout is None else float(timeout)
    box = {}

    def connect():
        try:
            box["client"] = distributed.Client(address, timeout=f"{timeout:g}s")
        except BaseException as exc:  # anything distributed raises on a wrong peer
            box["error"] = exc

    t = threading.Thread(target=connect, name="mesastack-dask-connect", daemon=True)
    t.start()
    t.join(timeout + min(5.0, timeout))
    if "client" in box:
        return box["client"]
    why = (f"{type(box['error']).__name__}: {box['error']}"[:200] if "error" in box
           else f"no answer within {timeout:g} s")
    raise ParameterError(f"no Dask scheduler answered at {address} ({why}); check the address, or start one with "
                         f"`dask scheduler`", parameter="scheduler")


def dask_client(scheduler: Optional[str] = None, workers: Optional[int] = None):
    """A ``distributed.Client`` and the LocalCluster it started (None when joining ``scheduler``).

    ParameterError naming the extra when ``distributed`` is missing, or when the
    scheduler cannot be reached. (No example here: it starts processes; see
    tests/scenarios/test_capacity.py for a run on a 2-worker LocalCluster.)
    """
    try:
        import distributed
    except ImportError:
        raise ParameterError('--executor dask needs Dask distributed, an optional extra: '
                             'pip install "mesastack[sweeps]"') from None
    if scheduler is not None:  # an empty address is a mistake, not "start a local cluster"
        return join_scheduler(distributed, check_scheduler_address(scheduler)), None
    n = int(workers) if workers else available_cores()
    cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=logging.ERROR)
    try:
        return distributed.Client(cluster), cluster
    except BaseException:
        cluster.close()
        raise


def _run_dask(chunks: list, run_batch: RunBatch, commit, bar, scheduler, workers) -> None:
    client, cluster = dask_client(scheduler, workers)
    from distributed import as_completed

    futures = []
    try:
        # the costliest chunks first, so the last ones to finish are short
        order = sorted(range(len(chunks)), key=lambda i: -sum(t.cost for t in chunks[i]))
        which = {}
        for i in order:
            f = client.submit(run_chunk, run_batch, chunks[i], pure=False)
            which[f.key] = chunks[i]
            futures.append(f)
        for f in as_completed(futures):
            chunk = which[f.key]
            commit(chunk, f.result())
            f.release()
    finally:
        for f in futures:
            with contextlib.suppress(Exception):
                f.cancel()
        with contextlib.suppress(Exception):
            client.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()


def run_sweep(trials: Sequence[Trial], run_batch: RunBatch, out=None, resume: bool = False,
              executor: str = "inprocess", scheduler: Optional[str] = None, workers: Optional[int] = None,
              progress: bool = True, chunk: Optional[int] = None, threads: Optional[int] = 1) -> list:
    """Run every trial not yet finished in ``out`` and return all results in the trials' order.

    Batches: :func:`hierarchy.sweep.plan_batches` (group by batch_key, chunks of at most
    ``chunk`` trials, fixed by the full list). ``out`` None keeps results in memory
    only (no resume). ``threads``: torch threads of the in-process executor (Dask
    workers always use one). See the module docstring for executors and resuming.

    Example:
        >>> from hierarchy.sweep import Trial, TrialResult
        >>> def square(chunk):
        ...     return [TrialResult(t.id, t.params, {}, {"y": t.params["x"] ** 2}) for t in chunk]
        >>> ts = [Trial(f"x{i}", {"x": i}, batch_key="all") for i in range(3)]
        >>> [r.figures["y"] for r in run_sweep(ts, square, progress=False)]
        [0.0, 1.0, 4.0]
    """
    trials = check_trials(trials)
    if executor not in EXECUTORS:
        raise ParameterError(f"executor {executor!r} is unknown; choose inprocess or dask")
    if scheduler is not None and executor != "dask":
        raise ParameterError("--scheduler is an address for the Dask executor; add --executor dask")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ParameterError(f"workers={workers!r}; give a positive number of Dask workers, e.g. --workers 2")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ParameterError(f"threads={threads!r}; give a positive number of torch threads (or None to leave it)")
    if not callable(run_batch):
        raise ParameterError(f"run_batch {run_batch!r} is not callable; give a function list[Trial] -> list[TrialResult]")
    done = {}
    if out is not None:
        remove_leftovers(out)
        done = reusable(out, trials, resume, on_corrupt=lambda line: print(f"mesastack: {line}", file=sys.stderr))
    elif resume:
        raise ParameterError("resuming needs the output directory of the interrupted sweep; pass --out with --resume")
    chunks = [[t for t in c if t.id not in done] for c in plan_batches(trials, chunk)]
    chunks = [c for c in chunks if c]
    results = dict(done)

    def commit(chunk, returned):
        checked = _checked(chunk, returned)
        if out is not None:
            write_trials(out, checked)
        for r in checked:
            results[r.trial_id] = r
        if bar is not None:
            bar.update(len(checked))

    with _sigterm_as_interrupt(), _trial_bar(progress, len(trials), len(done)) as bar:
        if chunks:
            if executor == "inprocess":
                with torch_threads(threads):
                    _run_inprocess(chunks, run_batch, commit, bar)
            else:
                _run_dask(chunks, run_batch, commit, bar, scheduler, workers)
    missing = [t.id for t in trials if t.id not in results]
    if missing:  # cannot happen unless an executor lost a chunk silently
        raise MesastackError(f"the sweep finished without trials {missing}; rerun with --resume")
    return [results[t.id] for t in trials]

