"""C++ sources built once per machine and loaded through ctypes: what mesastack's kernels share.

A kernel is one ``.cpp`` file beside the module that calls it (the language model's
steps, :mod:`agents.language_model.kernel`; the maze planner's soft value iteration,
:mod:`agents.maze.soft_kernel`; torch's random draws, :mod:`agents.mersenne`). Its first use on a machine compiles it with the C++
compiler on the PATH (``g++``, ``c++`` or ``clang++``; a few seconds) for this CPU
(``-march=native``, and on x86 ``-mprefer-vector-width=512``: :data:`WIDE_VECTORS`), twice:

* with ``-DMESASTACK_VECTOR_MATH`` and ``-ffast-math``: only the element-wise loops of tanh,
  exp and log of ``vector_math.h``, which the compiler maps to glibc's vector math library
  (libmvec, within 4 ulp); without libmvec, the same loops call the scalar functions;
* without it: everything else, so the kernel's own checks still see NaN and infinity; with
  ``-fopenmp`` (:data:`OPENMP`) where it builds, so that a kernel's threads are torch's own
  OpenMP threads (``row_split.h``).

A kernel may include headers by a relative path (``#include "../row_split.h"``: the splitting
of rows over threads; ``guarded.h``, the entry points' exception guard; ``vector_math.h``;
``lanes.h``, 256-bit vectors: what the kernels share). The library lands in the cache folder
(:func:`cache_folder`), named after the file's stem and a hash of the source, the headers it
includes, the compiler, its flags and the CPU, so a changed source or header or another
machine builds anew. It is written under a temporary name and renamed into place,
so an interrupted build leaves nothing half-written; where the cache folder cannot be
written, the system's temporary folder is used.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Callable, Optional, Sequence

from hierarchy.errors import ParameterError

__all__ = ["cache_folder", "compiler", "build", "Library", "pointer", "KERNEL_FLAGS", "VECTOR_MATH_FLAGS", "OPENMP",
           "WIDE_VECTORS"]

#: On x86, loops vectorized 512 bits wide where the CPU has AVX-512: GCC's tuning for many such CPUs prefers
#: 256 bits (``-march=native`` on an Intel Xeon with AVX-512 gave 256), and there the language model's kernel ran
#: 10% to 25% faster and the soft value iteration 1.4x to 1.55x faster at 512 (interleaved, docs/performance.md).
#: A CPU without AVX-512 keeps its widest vectors; other architectures do not know the flag.
WIDE_VECTORS = ("-mprefer-vector-width=512",) if platform.machine().lower() in ("x86_64", "amd64") else ()

#: Compiler flags: the kernel (finiteness checks intact) and the element-wise tanh, exp and log loops (vectorized by fast-math).
KERNEL_FLAGS = ("-O3", "-march=native", *WIDE_VECTORS, "-fPIC", "-std=c++17", "-fno-math-errno", "-fassociative-math",
                "-fno-signed-zeros", "-fno-trapping-math")
VECTOR_MATH_FLAGS = ("-O3", "-march=native", *WIDE_VECTORS, "-fPIC", "-std=c++17", "-ffast-math", "-DMESASTACK_VECTOR_MATH")

#: The kernel's threads through OpenMP (agents/row_split.h): the library needs libgomp.so.1, and where torch
#: has loaded its own the loader gives it that one, so the kernels run on torch's OpenMP threads instead of
#: competing with them for the cores. Dropped where it does not build (std::threads then).
OPENMP = ("-fopenmp",)


def cache_folder() -> Path:
    """Where built kernels are kept: ``MESASTACK_CACHE``, else ``$XDG_CACHE_HOME/mesastack``, else ``~/.cache/mesastack``.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> cache_folder().name in ("mesastack",) or "MESASTACK_CACHE" in os.environ
    True
    """
    if os.environ.get("MESASTACK_CACHE"):
        return Path(os.environ["MESASTACK_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mesastack"


def compiler() -> Optional[str]:
    """The C++ compiler on the PATH (``g++``, ``c++`` or ``clang++``, in that order), or None.

    Returns
    -------
    str or None

    Examples
    --------
    >>> compiler() in (None, "g++", "c++", "clang++")
    True
    """
    return next((c for c in ("g++", "c++", "clang++") if shutil.which(c)), None)


def _cpu() -> str:
    """The CPU's model and feature flags (a library built with -march=native runs only where they match)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return "\n".join(sorted({l for l in lines if l.startswith(("model name", "flags"))}))
    except OSError:
        return platform.processor() + platform.machine()


def _included(source: Path) -> list:
    """The text of every header ``source`` includes by a relative path (``#include "name"``), and theirs, in order."""
    seen, out, todo = set(), [], [Path(source)]
    while todo:
        path = todo.pop(0)
        for name in re.findall(rb'^\s*#\s*include\s*"([^"]+)"', path.read_bytes(), flags=re.M):
            header = (path.parent / name.decode()).resolve()
            if header not in seen:
                seen.add(header)
                out.append(header.read_bytes())
                todo.append(header)
    return out


def build(source: Path, cxx: str, folder: Path) -> Path:
    """Compile ``source`` (twice: the vector math, then the kernel) and link it; the library's path.

    Parameters
    ----------
    source : pathlib.Path
        The ``.cpp`` file; the library is named ``<stem>-<hash>.so``.
    cxx : str
        The C++ compiler (:func:`compiler`).
    folder : pathlib.Path
        The cache folder (:func:`cache_folder`); the system's temporary folder where it cannot be written.

    Returns
    -------
    pathlib.Path
        The library (already there when this source was built before on this machine).

    Raises
    ------
    RuntimeError
        When the build fails: the last line of each failing compiler run.
    OSError, subprocess.SubprocessError
        When the compiler cannot be run.
    """
    text = Path(source).read_bytes()
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=60).stdout
    # OpenMP first (row_split.h: the kernel's threads are then torch's own OpenMP threads), then glibc's vector
    # math library (without it the loops call the scalar tanh, exp and log): each dropped where it does not build
    attempts = [(omp, mvec) for omp in (OPENMP, ()) for mvec in (("-lmvec",), ())]
    flags = " ".join(KERNEL_FLAGS + VECTOR_MATH_FLAGS + OPENMP).encode()
    key = hashlib.sha256(b"\0".join([text, *_included(source), version.encode(), flags, _cpu().encode()])).hexdigest()[:20]
    stem = Path(source).stem
    target = folder / f"{stem}-{key}.so"
    if target.exists():
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError(folder)
    except OSError:  # a read-only home: the system's temporary folder, one per user
        folder = Path(tempfile.gettempdir()) / f"mesastack-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
        target = folder / target.name
        if target.exists():
            return target
        folder.mkdir(parents=True, exist_ok=True)
    errors = []
    with tempfile.TemporaryDirectory(dir=folder, prefix=".build-") as tmp:
        vm, k, lib = (os.path.join(tmp, n) for n in ("vector_math.o", f"{stem}.o", f"{stem}.so"))
        for omp, extra in attempts:
            vm_flags = VECTOR_MATH_FLAGS if extra else tuple(f for f in VECTOR_MATH_FLAGS if f != "-ffast-math")
            steps = ([cxx, *vm_flags, "-c", str(source), "-o", vm],
                     [cxx, *KERNEL_FLAGS, *omp, "-c", str(source), "-o", k],
                     [cxx, "-shared", vm, k, "-o", lib, *omp, *extra, "-lm", "-pthread"])
            for cmd in steps:
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
                if out.returncode != 0:
                    errors.append(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}")
                    break
            else:
                os.replace(lib, target)  # atomic: another process sees the whole library or none
                return target
    raise RuntimeError("; ".join(dict.fromkeys(errors)))  # each failure once


def pointer(tensor) -> Optional[ctypes.c_void_p]:
    """A tensor's data address as a ctypes argument (None for None: a kernel's optional buffer).

    Parameters
    ----------
    tensor : torch.Tensor or None
        Anything with ``data_ptr()``.

    Returns
    -------
    ctypes.c_void_p or None

    Examples
    --------
    >>> import torch
    >>> t = torch.zeros(3)
    >>> pointer(t).value == t.data_ptr(), pointer(None)
    (True, None)
    """
    return None if tensor is None else ctypes.c_void_p(tensor.data_ptr())


class Library:
    """A kernel's library, built and loaded on first use (once, under a lock), its failure remembered.

    Parameters
    ----------
    source : callable
        Returns the ``.cpp`` file (read when the library is first needed).
    functions : sequence of str
        The library's functions that return an int status (0: done).
    need : str
        What needs the kernel, in words, as the error's start (e.g. "engine='kernel' needs its C++ kernel").
    instead : str
        What to do without it, as the error's end (e.g. "use engine='eager'").

    Examples
    --------
    >>> lib = Library(lambda: Path("nowhere.cpp"), (), "this example needs a kernel", "skip it")
    >>> lib.available()
    False
    """

    def __init__(self, source: Callable[[], Path], functions: Sequence[str], need: str, instead: str):
        self._source, self._functions, self._need, self._instead = source, tuple(functions), need, instead
        self._lock = threading.Lock()
        self.loaded: Optional[ctypes.CDLL] = None
        self.failure: Optional[str] = None

    def get(self) -> ctypes.CDLL:
        """The loaded library (built here on first use).

        Raises
        ------
        ParameterError
            When no C++ compiler is on the PATH or the build fails (one line: why, and what to do).
        """
        with self._lock:
            if self.loaded is None and self.failure is None:
                cxx = compiler()
                if cxx is None:
                    self.failure = "no C++ compiler (g++, c++ or clang++) is on the PATH"
                else:
                    try:
                        lib = ctypes.CDLL(str(build(self._source(), cxx, cache_folder())))
                        for name in self._functions:
                            getattr(lib, name).restype = ctypes.c_int
                        self.loaded = lib
                    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
                        self.failure = f"building the kernel with {cxx} failed: {exc}"
            if self.loaded is None:
                raise ParameterError(f"{self._need}, and {self.failure}; install g++ (or clang++), or {self._instead}",
                                     parameter="engine")
            return self.loaded

    def available(self) -> bool:
        """Whether the library builds and loads here (built once per machine and source, then cached)."""
        try:
            self.get()
            return True
        except ParameterError:
            return False
