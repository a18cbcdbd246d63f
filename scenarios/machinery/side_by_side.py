"""Independent cases of one scenario run side by side on threads: every core used, the numbers unchanged.

A scenario made of independent cases (``compare-definitions``: the maze examples on each
seed; its in-context learner runs in a process of its own, :mod:`scenarios.machinery.other_process`,
unless every case runs here) spends most of its time in torch and numpy kernels, which
release Python's lock; on threads those kernels of two cases run on two cores at once. The
numbers do not change: each case draws from its own seeds (``hierarchy.seeding``), no case
reads another's state, and torch runs on one thread per case (the scenarios' numbers are
the same on one thread as on two: checked bitwise for ``compare-definitions``).

Threads rather than processes: the maze cases' results hold closures (the leaves of their
delegation graphs), which processes could not send back, and a thread needs no second
import of torch. Python's switch interval is :data:`SWITCH_INTERVAL` while they run. What cases compute alike is shared through a cache that computes each key
once (:func:`scenarios.common.planner_example.shared`, thread-safe).

An interruption (Ctrl-C) in the caller stops the running cases (an exception raised in
their threads at their next Python instruction), waits for them and re-raises: nothing
runs on in the background.
"""

from __future__ import annotations

import ctypes
import os
import queue
import sys
import threading
from typing import Callable, Optional, Sequence

from hierarchy.errors import ParameterError

from agents.threads import torch_threads

__all__ = ["side_by_side", "available_cores", "SWITCH_INTERVAL"]

#: Python's thread switch interval while cases run side by side (seconds; Python's default is 0.005). A case
#: that waits for Python's lock after a torch or numpy kernel otherwise waits up to 5 ms while another case
#: runs Python code: the in-context learner of ``compare-definitions`` took 14.5 s beside the maze examples
#: at 0.5 ms against 18.5 s at 5 ms (11 s alone), the maze examples 11.1 s against 13.2 s.
SWITCH_INTERVAL = 0.0005


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells it, else the CPU count).

    Returns
    -------
    int

    Examples
    --------
    >>> available_cores() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class _Stopped(BaseException):
    """Raised inside a case's thread to stop it when the caller is interrupted."""


def side_by_side(tasks: Sequence[Callable[[], object]], threads: int = 0,
                 done: Optional[Callable[[int, object], None]] = None) -> list:
    """Run every zero-argument task, ``threads`` at a time, torch on one thread each; their results in task order.

    The tasks are started in the order given (put the longest first). With ``threads`` 1,
    or one task, they run one after another in the caller's thread, exactly as a loop would
    (torch's thread count then left as it is).

    Parameters
    ----------
    tasks : sequence of callables
        Independent cases: none may depend on another's result or on state another changes.
    threads : int
        How many run at once; 0: one per available core (:func:`available_cores`), at most
        one per task.
    done : callable, optional
        ``done(i, result)``, called in the caller's thread as soon as task ``i`` finishes (to
        store it, to move a progress bar): what finished is kept when a later task fails or
        the run is interrupted.

    Returns
    -------
    list
        ``[task() for task in tasks]``, the same values.

    Raises
    ------
    ParameterError
        When ``threads`` is not a non-negative integer.
    Exception
        The first exception a task raised (the other tasks are stopped first).

    Examples
    --------
    >>> side_by_side([lambda: 1 + 1, lambda: 2 * 3], threads=2)
    [2, 6]
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
        raise ParameterError(f"threads={threads!r}; give a number of cases to run at once (0: one per core)",
                             parameter="threads")
    tasks = list(tasks)
    n = min(len(tasks), threads or available_cores())
    if n <= 1:
        out = []
        for i, task in enumerate(tasks):
            out.append(task())
            if done is not None:
                done(i, out[-1])
        return out
    todo: "queue.SimpleQueue" = queue.SimpleQueue()
    for i, task in enumerate(tasks):
        todo.put((i, task))
    finished: "queue.SimpleQueue" = queue.SimpleQueue()
    stop = threading.Event()

    def work():
        try:
            while not stop.is_set():
                try:
                    i, task = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    with torch_threads(1):
                        finished.put((i, True, task()))
                except _Stopped:
                    raise
                except BaseException as e:  # reported to the caller, which stops the others
                    finished.put((i, False, e))
                    return
        except _Stopped:  # wherever the stop lands: the thread ends quietly
            return

    results: dict = {}
    previous = sys.getswitchinterval()
    with torch_threads(1):  # the caller's setting too, so that no case finds another count
        sys.setswitchinterval(min(previous, SWITCH_INTERVAL))
        workers = [threading.Thread(target=work, name=f"case-{k}", daemon=True) for k in range(n)]
        for w in workers:
            w.start()
        try:
            while len(results) < len(tasks):
                try:
                    i, ok, value = finished.get(timeout=0.2)  # a timeout, so that Ctrl-C reaches this thread
                except queue.Empty:
                    if not any(w.is_alive() for w in workers) and finished.empty():
                        raise RuntimeError("the case threads stopped before every case finished")
                    continue
                if not ok:
                    raise value
                results[i] = value
                if done is not None:
                    done(i, value)
            for w in workers:  # each has found the queue empty, or is about to
                w.join()
        except BaseException:
            stop.set()
            for w in workers:
                if w.is_alive() and w.ident is not None:
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(w.ident), ctypes.py_object(_Stopped))
            for w in workers:
                w.join(timeout=30)
            raise
        finally:
            sys.setswitchinterval(previous)
    return [results[i] for i in range(len(tasks))]
