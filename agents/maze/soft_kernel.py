"""Soft value iteration in a hand-written C++ kernel: the maze planner's and max-ent IRL's sweeps, 2x to 6x faster.

:func:`agents.maze.planning.soft_value_iteration` runs its sweeps here (``engine="auto"``,
the default, where the kernel builds and the inputs are float64 on the CPU) or as torch
operations (``engine="torch"``). The formulas are the same (``soft_kernel.cpp`` beside
this module writes them out); the kernel takes each row (one maze of one copy) through all
H sweeps at once, its values in a few kilobytes, where torch runs about ten operations a
sweep over the whole batch. Its exp and log are glibc's vector math (within 4 ulp, where
torch uses its own), so the two engines agree to float rounding, not bit for bit:
``tests/agents/maze/test_soft_kernel.py`` checks values and gradients to 1e-12 relative.
Which one ran is named in the maze examples' reports (:func:`soft_engine`).

Building: as the language model's kernel (:mod:`agents.native`): the first use on a machine
compiles ``soft_kernel.cpp`` with the C++ compiler on the PATH (about 2 s) into the cache
folder; without a compiler, ``engine="auto"`` uses torch.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Optional

import torch

from hierarchy.errors import ParameterError

from agents.native import Library, pointer

__all__ = ["soft_kernel_library", "soft_kernel_available", "soft_engine", "fits", "kernel_sweeps",
           "kernel_sweeps_backward"]

SOURCE = Path(__file__).with_name("soft_kernel.cpp")

_KERNEL = Library(lambda: SOURCE, ("mesastack_soft_forward", "mesastack_soft_backward"),
                  "engine='kernel' needs the soft value iteration's C++ kernel", "use engine='torch'")


def soft_kernel_library() -> ctypes.CDLL:
    """The built soft value iteration kernel, loaded (built on first use: module docstring).

    Returns
    -------
    ctypes.CDLL

    Raises
    ------
    ParameterError
        When no C++ compiler is on the PATH or the build fails (the message says why and what to do).

    Examples
    --------
    >>> soft_kernel_library().mesastack_soft_kernel_version() if soft_kernel_available() else 2
    2
    """
    return _KERNEL.get()


def soft_kernel_available() -> bool:
    """Whether the kernel builds and loads here (built once per machine and source, then cached).

    Returns
    -------
    bool

    Examples
    --------
    >>> isinstance(soft_kernel_available(), bool)
    True
    """
    return _KERNEL.available()


def soft_engine() -> str:
    """What ``engine="auto"`` runs here for float64 inputs on the CPU, in words (for reports).

    Returns
    -------
    str

    Examples
    --------
    >>> soft_engine().startswith(("C++ kernel", "torch"))
    True
    """
    if soft_kernel_available():
        return "C++ kernel (agents/maze/soft_kernel.cpp; glibc's vector exp and log)"
    return "torch operations (no C++ compiler here for the kernel)"


def fits(reward: torch.Tensor, successors: torch.Tensor, valid: torch.Tensor) -> Optional[str]:
    """Why the kernel cannot take these inputs, or None when it can.

    It takes float64 rewards ``[..., N]`` on the CPU with successors and valid of shape
    ``[..., N, 5]`` over the same leading axes (torch's gather would broadcast nothing else).

    Examples
    --------
    >>> fits(torch.zeros(2, 3, dtype=torch.float64), torch.zeros(2, 3, 5, dtype=torch.int64),
    ...      torch.ones(2, 3, 5, dtype=torch.bool)) is None
    True
    >>> fits(torch.zeros(2, 3), torch.zeros(2, 3, 5, dtype=torch.int64), torch.ones(2, 3, 5, dtype=torch.bool))
    'rewards of dtype torch.float32, not float64'
    """
    if reward.dtype != torch.float64:
        return f"rewards of dtype {reward.dtype}, not float64"
    if reward.device.type != "cpu" or successors.device.type != "cpu" or valid.device.type != "cpu":
        return "tensors not on the CPU"
    if tuple(successors.shape) != tuple(reward.shape) + (5,) or tuple(valid.shape) != tuple(successors.shape):
        return (f"successors {tuple(successors.shape)} and valid {tuple(valid.shape)} not of shape "
                f"{tuple(reward.shape) + (5,)}")
    if successors.dtype != torch.int64 or valid.dtype != torch.bool:
        return "successors not int64 or valid not bool"
    return None


def _check(code: int, what: str) -> None:
    if code:
        raise MemoryError(f"the soft value iteration kernel could not allocate its buffers for {what}; free some "
                          f"memory, or use engine='torch'")


def kernel_sweeps(reward: torch.Tensor, successors: torch.Tensor, valid: torch.Tensor, gamma: float,
                  iterations: int, from_reward: bool) -> torch.Tensor:
    """V_H: ``iterations`` sweeps of soft value iteration from V_0 = r (``from_reward``) or 0.

    The formulas of :func:`agents.maze.planning.soft_value_iteration` (``soft_kernel.cpp``).

    Parameters
    ----------
    reward : torch.Tensor
        ``[..., N]`` float64 (:func:`fits`).
    successors, valid : torch.Tensor
        ``[..., N, 5]`` int64 and bool.
    gamma : float
    iterations : int
        H >= 0.
    from_reward : bool

    Returns
    -------
    torch.Tensor
        ``[..., N]``.

    Raises
    ------
    ParameterError
        When the kernel cannot be built here, or a successor is not a cell index.
    MemoryError
        When the kernel cannot allocate its buffers (one line).

    Examples
    --------
    >>> succ = torch.tensor([[0, 0, 0, 0, 1], [1, 1, 1, 0, 1]])   # two cells, one passage
    >>> valid = torch.tensor([[1, 0, 0, 0, 1], [1, 0, 0, 1, 0]], dtype=torch.bool)
    >>> r = torch.zeros(2, dtype=torch.float64)
    >>> V = kernel_sweeps(r, succ, valid, 1.0, 2, True) if soft_kernel_available() else torch.log(torch.full((2,), 4.0))
    >>> torch.exp(V).tolist()   # 4 paths of 2 moves from each cell
    [4.0, 4.0]
    """
    lib = soft_kernel_library()
    N = reward.shape[-1]
    r = reward.detach().contiguous()
    R = r.numel() // N if N else 0
    V = torch.empty_like(r)
    s, v = _checked(successors, valid, N)
    if R and N:
        _check(lib.mesastack_soft_forward(ctypes.c_long(R), ctypes.c_long(N), pointer(s), pointer(v), pointer(r),
                                          ctypes.c_int(int(bool(from_reward))), ctypes.c_double(float(gamma)),
                                          ctypes.c_int(int(iterations)), pointer(V)),
               f"{R} mazes of {N} cells")
    return V


def _checked(successors: torch.Tensor, valid: torch.Tensor, N: int) -> tuple:
    """The successors and valid moves as the kernel reads them, the successors checked to be cell indices."""
    s = successors.contiguous()
    v = valid.contiguous().view(torch.uint8)
    if s.numel() and (int(s.min()) < 0 or int(s.max()) >= N):  # the kernel reads V at them unchecked
        raise ParameterError(f"successors must be cell indices in 0..{N - 1}, got {int(s.min())}..{int(s.max())}; "
                             f"build them with agents.maze.grid.stack_mazes", parameter="successors")
    return s, v


def kernel_sweeps_backward(reward: torch.Tensor, grad: torch.Tensor, successors: torch.Tensor, valid: torch.Tensor,
                           gamma: float, iterations: int, from_reward: bool) -> torch.Tensor:
    """d<grad, V_H>/dr ``[..., N]`` of :func:`kernel_sweeps` (``soft_kernel.cpp``).

    Each row's sweeps run again here for their action probabilities (the same operations as
    the forward pass, so the same numbers), in a buffer for that row alone: keeping them all
    from the forward pass was slower (by 10% for a few mazes, by half for a thousand).

    Parameters
    ----------
    reward : torch.Tensor
        ``[..., N]``, as given to :func:`kernel_sweeps`.
    grad : torch.Tensor
        ``[..., N]``, the gradient of the loss with respect to V_H.
    successors, valid : torch.Tensor
        As given to :func:`kernel_sweeps`.
    gamma : float
    iterations : int
    from_reward : bool

    Returns
    -------
    torch.Tensor

    Raises
    ------
    MemoryError
        When the kernel cannot allocate its buffers (one line).
    """
    lib = soft_kernel_library()
    g = grad.detach().to(torch.float64).contiguous()
    r = reward.detach().contiguous()
    N = g.shape[-1]
    R = g.numel() // N if N else 0
    dr = torch.empty_like(g)
    s, v = _checked(successors, valid, N)
    if R and N:
        _check(lib.mesastack_soft_backward(ctypes.c_long(R), ctypes.c_long(N), pointer(s), pointer(v), pointer(r), pointer(g),
                                           ctypes.c_int(int(bool(from_reward))), ctypes.c_double(float(gamma)),
                                           ctypes.c_int(int(iterations)), pointer(dr)),
               f"{R} mazes of {N} cells")
    return dr
