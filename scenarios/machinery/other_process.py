"""One case of a scenario run in a process of its own, beside the cases on this process's threads.

Cases side by side on threads (:mod:`scenarios.machinery.side_by_side`) share Python's
lock: every torch operation of one waits for the Python code of the others. In
``compare-definitions`` the in-context learner (about 100,000 small torch operations)
took 11 s alone and 14.5 s beside the maze examples (whose rollouts and maze generation
are Python; 18.5 s at Python's default switch interval). Its result can be pickled, so it runs in a fresh interpreter (this one's
``sys.executable`` and ``sys.path``, torch on one thread: the same numbers) while the maze
examples run here; its start and its imports (about 1.5 s) overlap the maze examples.

The process is a plain ``python -c`` (not multiprocessing's spawn, which would import the
caller's main script again, running a script's top-level code twice). The function and its
arguments go to it as a pickle on its standard input, and its value or exception come back as a pickle in a temporary folder removed
afterwards. A Ctrl-C, or an error here, ends the process; its exception is raised
here; a process that dies (killed, out of memory) is a one-line error naming the case; a
process whose caller is killed ends itself within a second.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from typing import Callable

__all__ = ["OtherProcess"]

_CHILD = ("import sys; from scenarios.machinery.other_process import _child; "
          "sys.exit(_child(sys.argv[1], int(sys.argv[2])))")


def _orphaned_ends(parent: int) -> None:
    """In the process: end it when the caller is gone (killed without the chance to end it)."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(1)


def _child(target: str, parent: int) -> int:
    """In the process: run the pickled ``(fn, args)`` read from standard input and pickle ``(ok, value)`` into
    ``target`` (``parent``: the caller's process id; the process ends when it is gone)."""
    if os.getppid() != parent:  # the caller died before this process got here
        return 1
    threading.Thread(target=_orphaned_ends, args=(parent,), daemon=True).start()
    try:
        data = sys.stdin.buffer.read()  # first: the caller's write never waits for this process's imports
        from agents.threads import torch_threads  # torch on one thread, as a case on a thread of side_by_side
        from hierarchy.errors import MesastackError
        from scenarios.machinery.garbage_collection import fewer_collections

        fn, args = pickle.loads(data)
        try:
            with torch_threads(1), fewer_collections():
                payload = (True, fn(*args))
        except MesastackError as exc:  # a user's mistake: its one line, no traceback
            payload = (False, exc)
        except Exception as exc:
            traceback.print_exc()
            payload = (False, exc)
        try:
            data = pickle.dumps(payload)
        except Exception as exc:  # an exception that does not pickle: its words
            data = pickle.dumps((False, RuntimeError(f"{type(payload[1]).__name__}: {payload[1]}" if not payload[0]
                                                     else f"the result could not be sent back: {exc}")))
        with open(target + ".part", "wb") as f:
            f.write(data)
        os.replace(target + ".part", target)  # whole or absent
        return 0
    except KeyboardInterrupt:  # the Ctrl-C that also stops the caller: end quietly
        return 130


class OtherProcess:
    """``fn(*args)`` started now in a fresh Python process; :meth:`result` waits for its value.

    Parameters
    ----------
    what : str
        The case in words, for the error when its process dies.
    fn : callable
        A module-level function (it is sent to the process by name).
    *args
        Its arguments; they and the result must pickle.

    Examples
    --------
    >>> import math
    >>> job = OtherProcess("a square root", math.sqrt, 16.0)
    >>> job.result()
    4.0
    """

    def __init__(self, what: str, fn: Callable, *args):
        self.what = what
        self.folder = tempfile.mkdtemp(prefix="mesastack-case-")
        self.target = os.path.join(self.folder, "result.pickle")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(os.path.abspath(p or os.curdir) for p in sys.path))
        self.popen = subprocess.Popen([sys.executable, "-c", _CHILD, self.target, str(os.getpid())], env=env,
                                      stdin=subprocess.PIPE)
        try:
            with self.popen.stdin as pipe:
                pipe.write(pickle.dumps((fn, args)))
        except BrokenPipeError:  # it died already: result() says so
            pass

    def result(self):
        """The value of ``fn(*args)`` (its exception raised here); the process is ended either way.

        Raises
        ------
        RuntimeError
            When the process ended without a result (one line, naming the case).
        """
        try:
            code = self.popen.wait()
            if not os.path.exists(self.target):
                raise RuntimeError(f"the process running {self.what} stopped before it finished (exit code {code}: "
                                   f"killed, or out of memory); run again, or with --set case_threads=1 to run every "
                                   f"case in this process")
            with open(self.target, "rb") as f:
                ok, value = pickle.load(f)
            if ok:
                return value
            raise value
        finally:
            self.close()

    def close(self) -> None:
        """End the process now (what it was computing is dropped) and remove its files; harmless when done."""
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
