"""The exact optimal values (policy iteration) in a hand-written C++ kernel: the numbers of the numpy code, faster.

:func:`agents.maze.planning.optimal_values` evaluates every maze's greedy policy by
pointer doubling and switches its states to better actions until none switches, on numpy
arrays of all the mazes still switching. ``values_kernel.cpp`` beside this module does the
same maze by maze, the maze's arrays in a few kilobytes, with numpy's elementwise
operations in numpy's order (no floating-point contraction, no reassociation), so the
values are the same bit for bit (``tests/agents/maze/test_values_kernel.py``);
``optimal_values(..., engine="numpy")`` runs the numpy code.

Building: as the other kernels (:mod:`agents.native`): the first use on a machine compiles
``values_kernel.cpp`` with the C++ compiler on the PATH into the cache folder; without a
compiler, ``engine="auto"`` runs numpy.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from hierarchy.errors import ParameterError

from agents.native import Library

__all__ = ["values_kernel_available", "kernel_optimal_values"]

SOURCE = Path(__file__).with_name("values_kernel.cpp")

_KERNEL = Library(lambda: SOURCE, ("mesastack_optimal_values",),
                  "engine='kernel' needs the optimal values' C++ kernel", "use engine='numpy'")


def values_kernel_available() -> bool:
    """Whether the kernel builds and loads here (built once per machine and source, then cached).

    Examples
    --------
    >>> isinstance(values_kernel_available(), bool)
    True
    """
    return _KERNEL.available()


def kernel_optimal_values(reward: np.ndarray, successors: np.ndarray, gamma: float, doublings: int,
                          max_rounds: int) -> np.ndarray:
    """The fixed point of V(s) = r(s) + gamma max_a V(next(s, a)), maze by maze in C++ (module docstring).

    Parameters
    ----------
    reward : numpy.ndarray
        ``[B, N]`` finite float64.
    successors : numpy.ndarray
        ``[B, N, 5]`` cell indices within each maze.
    gamma : float
        In (0, 1).
    doublings : int
        Pointer doublings a policy evaluation (gamma^(2^doublings) below 1e-18).
    max_rounds : int

    Returns
    -------
    numpy.ndarray
        ``[B, N]``.

    Raises
    ------
    ParameterError
        When the kernel cannot be built here, a successor is not a cell of its maze, or a maze
        does not settle in ``max_rounds`` rounds.
    MemoryError
        When the kernel cannot allocate its buffers (one line).

    Examples
    --------
    >>> succ = np.array([[[0, 0, 0, 0, 1], [1, 1, 1, 0, 1]]])       # two cells side by side
    >>> V = kernel_optimal_values(np.array([[0.0, 1.0]]), succ, 0.5, 7, 100) if values_kernel_available() else None
    >>> V is None or np.round(V, 12).tolist() == [[1.0, 2.0]]
    True
    """
    lib = _KERNEL.get()
    r = np.ascontiguousarray(reward, dtype=np.float64)
    B, N = r.shape
    s = np.ascontiguousarray(successors, dtype=np.int64)
    if s.shape != (B, N, 5):
        raise ParameterError(f"successors of shape {s.shape}, not {(B, N, 5)}; build them with "
                             f"agents.maze.grid.stack_mazes", parameter="successors")
    V = np.empty((B, N))
    if B and N:
        code = lib.mesastack_optimal_values(ctypes.c_long(B), ctypes.c_long(N), s.ctypes.data_as(ctypes.c_void_p),
                                            r.ctypes.data_as(ctypes.c_void_p), ctypes.c_double(float(gamma)),
                                            ctypes.c_int(int(doublings)), ctypes.c_long(int(max_rounds)),
                                            V.ctypes.data_as(ctypes.c_void_p))
        if code == 1:
            raise MemoryError(f"the optimal values' kernel could not allocate its buffers for {B} mazes of {N} "
                              f"cells; free some memory, or use engine='numpy'")
        if code == 2:
            raise ParameterError(f"policy iteration did not settle in {max_rounds} rounds; check the rewards are "
                                 f"finite")
        if code == 3:
            raise ParameterError(f"successors must be cell indices in 0..{N - 1}, got {int(s.min())}..{int(s.max())}; "
                                 f"build them with agents.maze.grid.stack_mazes", parameter="successors")
    return V
