"""The planner's numpy hot paths in a hand-written C++ kernel: the numbers of the numpy code, bit for bit, faster.

* :func:`agents.maze.planning.optimal_values` evaluates every maze's greedy policy by
  pointer doubling and switches its states to better actions until none switches, on numpy
  arrays of all the mazes still switching; the kernel does the same maze by maze, the maze's
  arrays in a few kilobytes (:func:`kernel_optimal_values`, 3x to 5x faster);
* :func:`agents.maze.planning.greedy_paths` walks every row greedily one step at a time with
  about ten numpy operations a step; the kernel walks them in one loop, on uniforms numpy
  draws beforehand in the same order (:func:`kernel_greedy_steps`).

Both use numpy's elementwise operations in numpy's order (no floating-point contraction, no
reassociation; ``planning_kernel.cpp`` beside this module), so the numbers are the same bit
for bit (``tests/agents/maze/test_planning_kernel.py``); ``engine="numpy"`` runs the numpy code.

Building: as the other kernels (:mod:`agents.native`): the first use on a machine compiles
``planning_kernel.cpp`` with the C++ compiler on the PATH into the cache folder; without a
compiler, ``engine="auto"`` runs numpy.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from hierarchy.errors import ParameterError

from agents.native import Library

__all__ = ["planning_kernel_available", "kernel_optimal_values", "kernel_greedy_steps"]

SOURCE = Path(__file__).with_name("planning_kernel.cpp")

_KERNEL = Library(lambda: SOURCE, ("mesastack_optimal_values", "mesastack_greedy_steps"),
                  "engine='kernel' needs the planner's C++ kernel", "use engine='numpy'")


def planning_kernel_available() -> bool:
    """Whether the kernel builds and loads here (built once per machine and source, then cached).

    Examples
    --------
    >>> isinstance(planning_kernel_available(), bool)
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
    >>> V = kernel_optimal_values(np.array([[0.0, 1.0]]), succ, 0.5, 7, 100) if planning_kernel_available() else None
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
            raise MemoryError(f"the planner's kernel could not allocate its buffers for {B} mazes of {N} "
                              f"cells; free some memory, or use engine='numpy'")
        if code == 2:
            raise ParameterError(f"policy iteration did not settle in {max_rounds} rounds; check the rewards are "
                                 f"finite")
        if code == 3:
            raise ParameterError(f"successors must be cell indices in 0..{N - 1}, got {int(s.min())}..{int(s.max())}; "
                                 f"build them with agents.maze.grid.stack_mazes", parameter="successors")
    return V


def _p(a: np.ndarray):
    return a.ctypes.data_as(ctypes.c_void_p)


def kernel_greedy_steps(q: np.ndarray, successors: np.ndarray, s: np.ndarray, done: np.ndarray, lengths: np.ndarray,
                        exits, draws: np.ndarray, rtol: float, path: np.ndarray, first: int) -> None:
    """``len(draws)`` greedy steps of :func:`agents.maze.planning.greedy_paths` (module docstring), in place.

    Parameters
    ----------
    q : numpy.ndarray
        ``[B, N, 5]`` float64 action values.
    successors : numpy.ndarray
        ``[B, N, 5]`` int64.
    s, done, lengths : numpy.ndarray
        ``[B]`` int64 cells, bool, int64 moves made; updated.
    exits : numpy.ndarray or None
        ``[B]`` int64.
    draws : numpy.ndarray
        ``[T, B, 5]`` float64 uniforms, in numpy's order of drawing.
    rtol : float
    path : numpy.ndarray
        ``[B, W]`` int64; columns ``first .. first + T - 1`` written.
    first : int

    Raises
    ------
    ParameterError
        When the kernel cannot be built here or a successor is not a cell.

    Examples
    --------
    >>> q = np.array([[[0.0, -np.inf, -np.inf, -np.inf, 1.0], [2.0, -np.inf, -np.inf, 0.0, -np.inf]]])
    >>> succ = np.array([[[0, 0, 0, 0, 1], [1, 1, 1, 0, 1]]])
    >>> s, done, n, path = np.array([0]), np.array([False]), np.array([0]), np.zeros((1, 4), dtype=np.int64)
    >>> if planning_kernel_available():
    ...     kernel_greedy_steps(q, succ, s, done, n, None, np.full((3, 1, 5), 0.5), 1e-9, path, 1)
    ... else:
    ...     path[0] = [0, 1, 1, 1]
    >>> path.tolist()
    [[0, 1, 1, 1]]
    """
    lib = _KERNEL.get()
    B, N, _ = q.shape
    for a, dtype in ((q, np.float64), (successors, np.int64), (s, np.int64), (lengths, np.int64), (draws, np.float64),
                     (path, np.int64)):
        if a.dtype != dtype or not a.flags.c_contiguous:
            raise ParameterError(f"the greedy walks' kernel needs C-contiguous {np.dtype(dtype).name} arrays, got "
                                 f"{a.dtype}; use engine='numpy'", parameter="engine")
    flags = done.view(np.uint8)
    ex = None if exits is None else np.ascontiguousarray(exits, dtype=np.int64)
    code = lib.mesastack_greedy_steps(ctypes.c_long(B), ctypes.c_long(N), ctypes.c_long(len(draws)), _p(q),
                                      _p(successors), _p(s), _p(flags), _p(lengths),
                                      None if ex is None else _p(ex), _p(draws), ctypes.c_double(float(rtol)), _p(path),
                                      ctypes.c_long(path.shape[1]), ctypes.c_long(int(first)))
    if code == 3:
        raise ParameterError(f"successors must be cell indices in 0..{N - 1}; build them with "
                             f"agents.maze.grid.stack_mazes", parameter="successors")
