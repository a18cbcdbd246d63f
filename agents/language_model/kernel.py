"""Blocks of gradient-descent steps in a hand-written C++ kernel: the fastest engine for small models.

The compiled engine (:mod:`agents.language_model.compiled`) removes Python from the step
but still calls the BLAS for every product, about ten calls a step; at K = 1 on the tiny
model those calls are most of the step. Here the whole step (PopulationMLP's formulas:
forward, softmax, loss, backward) and the one loop's rules are written out for one copy
(``kernel.cpp`` beside this module): each copy runs a block of S steps start to end on
one thread, its activations in a tile of 64 merged contexts that stays in the first-level
cache, tanh, exp and log from glibc's vector math library. Per step s of a block, for every
copy k (:func:`agents.training.loop.train_blocks`):

    L, g          = L(theta), dL/dtheta                    (the formulas of PopulationMLP)
    records       L, |g|_2, |g|_1
    limit         = L(0) + R * max(|L(0)|, 1)              (set at step 0; +inf without a runaway rule)
    inactive     |= not finite(L) or not finite(|g|_2) or L > limit
    theta         = theta - eps_t * (g * s_k)              (0 for an inactive copy: it stays put)

Copies are split over torch's intra-op thread count (``torch.get_num_threads()`` at each
call) in contiguous ranges; a copy's numbers do not depend on K, on that split or on the
thread count (each copy is computed alone, in one fixed order). They equal the eager
engine's to float rounding (other summation orders, tanh and exp within 4 ulp):
``tests/agents/language_model/test_kernel.py`` checks L, G, G1 and the final parameters
against the eager run, divergence included.

Its products are plain loops, not a BLAS: it pays where the widths are small (the tiny
model: 3x to 4x ahead of the compiled engine at K = 1) and loses to the BLAS on wide
models (docs/performance.md has the measurements).

Building (:mod:`agents.native`): the first use on a machine compiles ``kernel.cpp`` with the
C++ compiler on the PATH (``g++``, ``c++`` or ``clang++``; about 3 s) for this CPU
(``-march=native``) into the cache folder (``MESASTACK_CACHE``, else
``$XDG_CACHE_HOME/mesastack``, else ``~/.cache/mesastack``), once per source. A long block of many
copies is cut into calls of about :data:`CALL_FLOPS` each, so a Ctrl-C stops it at once.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import torch

from hierarchy.errors import ParameterError

from agents.language_model.mlp import PopulationMLP
from agents.native import Library, cache_folder

__all__ = ["KernelSteps", "kernel_available", "kernel_library", "KERNEL_BLOCK", "CALL_FLOPS", "cache_folder"]

#: Work of one call into the kernel, in FLOPs (a block of many copies is cut into calls of about this much).
CALL_FLOPS = 1e9

#: Steps per block by default (a block costs about 10 us in Python; 128 steps of one copy of the tiny model, about 0.35 ms).
KERNEL_BLOCK = 128

SOURCE = Path(__file__).with_name("kernel.cpp")

_KERNEL = Library(lambda: SOURCE, ("mesastack_steps_f64", "mesastack_steps_f32"),
                  "engine='kernel' needs its C++ kernel", "use engine='eager'")


def kernel_library() -> ctypes.CDLL:
    """The built kernel, loaded (built on first use: module docstring).

    Returns
    -------
    ctypes.CDLL

    Raises
    ------
    ParameterError
        When no C++ compiler is on the PATH or the build fails (the message says why and what to do).

    Examples
    --------
    >>> kernel_library().mesastack_kernel_version() if kernel_available() else 2
    2
    """
    return _KERNEL.get()


def kernel_available() -> bool:
    """Whether the kernel builds and loads here (built once per machine and source, then cached).

    Returns
    -------
    bool

    Examples
    --------
    >>> isinstance(kernel_available(), bool)
    True
    """
    return _KERNEL.available()


class _Problem(ctypes.Structure):
    _fields_ = [("layers", ctypes.c_int), ("sizes", ctypes.POINTER(ctypes.c_int)), ("params", ctypes.c_long),
                ("M", ctypes.c_int), ("x", ctypes.c_void_p), ("x_stride", ctypes.c_long), ("n", ctypes.c_void_p),
                ("q", ctypes.c_void_p), ("nq_stride", ctypes.c_long), ("brier", ctypes.c_int), ("N", ctypes.c_double),
                ("q_const", ctypes.c_double), ("watch_g", ctypes.c_int)]


class KernelSteps:
    """``block`` gradient-descent steps of an engine's K copies as one kernel call (module docstring).

    The same interface as :class:`~agents.language_model.compiled.CompiledSteps`, for
    :func:`agents.training.loop.train_blocks`. It keeps its own parameter, inactive and
    limit buffers (the caller's starting parameters are copied in, never written).

    Parameters
    ----------
    net : PopulationMLP
        The engine whose data, sizes, loss and dtype the steps use (its buffers are not touched).
    block : int
        Steps per call (default :data:`KERNEL_BLOCK`).
    record_true : bool
        Watch |g|_2 for overflow too (the loop's rule with ``record_true``); |g|_2 and |g|_1
        are returned either way.

    Raises
    ------
    ParameterError
        When ``block`` is not a positive integer, the engine is not on the CPU, or the kernel
        cannot be built here.

    Examples
    --------
    >>> net = PopulationMLP((4, 2, 4), torch.eye(4, dtype=torch.float64), torch.tensor([1, 2, 3, 0]), 1)
    >>> KernelSteps(net, block=0)
    Traceback (most recent call last):
    hierarchy.errors.ParameterError: block=0; give a positive number of steps per kernel call, such as 128
    """

    def __init__(self, net: PopulationMLP, block: int = KERNEL_BLOCK, record_true: bool = True):
        if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block < 1:
            raise ParameterError(f"block={block!r}; give a positive number of steps per kernel call, such as {KERNEL_BLOCK}")
        if net.device.type != "cpu":
            raise ParameterError(f"engine={self._engine!r} runs on the CPU, not on {net.device}; use engine='eager' on a GPU",
                                 parameter="engine")
        self._refuse(net)
        lib = self._library.get()
        self.block = int(block)
        self.K, self.P, self.dtype = net.K, net.P, net.theta.dtype
        data = net.step_data()
        self._keep = [t.contiguous() for t in (data.x, data.n, data.q)]  # alive as long as the problem points at them
        x, n, q = self._keep
        self._sizes = (ctypes.c_int * len(net.sizes))(*net.sizes)
        self._problem = _Problem(len(net.sizes) - 1, self._sizes, net.P, x.shape[-1], x.data_ptr(),
                                 0 if data.shared else x.shape[1] * x.shape[2], n.data_ptr(), q.data_ptr(),
                                 0 if n.shape[0] == 1 else 1, int(net.loss == "brier"), float(net.N),
                                 float(data.brier_constant), int(bool(record_true)))
        sizes = net.sizes  # FLOPs of a copy's step: forward, weight gradients and back-propagated deltas
        self._flops = 2.0 * x.shape[-1] * sum((3 if l else 2) * sizes[l] * sizes[l + 1] for l in range(len(sizes) - 1))
        self._fn = getattr(lib, self._functions[0] if self.dtype == torch.float64 else self._functions[1])
        self._theta = torch.empty(self.K, self.P, dtype=self.dtype)
        self._inactive = torch.empty(self.K, dtype=torch.bool)
        self._limit = torch.empty(self.K, dtype=self.dtype)
        self._scale = torch.empty(self.K, dtype=self.dtype)
        self._rows = torch.empty(self.block, 3, self.K, dtype=self.dtype)

    #: train_blocks may call it with a shorter last block (no padded steps computed).
    ragged = True

    #: The engine's name (in messages), the library and its entry points (float64, float32).
    _engine = "kernel"
    _library = _KERNEL
    _functions = ("mesastack_steps_f64", "mesastack_steps_f32")
    #: Copies a call takes are a multiple of this many.
    _granule = 1

    def _refuse(self, net: PopulationMLP) -> None:
        """Raise ParameterError for an engine this kernel cannot run (this one runs every engine on the CPU)."""

    def __call__(self, theta: torch.Tensor, lrs: torch.Tensor, scale: torch.Tensor, inactive: torch.Tensor,
                 limit: torch.Tensor, runaway: torch.Tensor):
        """One block: (theta after it, inactive, limit, records [block, 3, K] of L, |g|_2, |g|_1).

        Arguments as :meth:`CompiledSteps.__call__ <agents.language_model.compiled.CompiledSteps.__call__>`,
        but ``lrs`` may hold fewer than ``block`` rates (S steps run). The returned tensors are
        this object's buffers, overwritten by the next call.
        """
        for own, given in ((self._theta, theta), (self._inactive, inactive), (self._limit, limit)):
            if own.data_ptr() != given.data_ptr():
                own.copy_(given)
        self._scale.copy_(scale.reshape(-1))
        lrs = lrs.to(self.dtype).contiguous()
        S = lrs.shape[0]
        if not 1 <= S <= self.block:
            raise ParameterError(f"{S} rates for a block of at most {self.block} steps; give 1 to {self.block}")
        threads = torch.get_num_threads()
        args = (ctypes.c_void_p(lrs.data_ptr()), ctypes.c_void_p(self._theta.data_ptr()),
                ctypes.c_void_p(self._scale.data_ptr()), ctypes.c_void_p(self._inactive.data_ptr()),
                ctypes.c_void_p(self._limit.data_ptr()), ctypes.c_double(float(runaway)),
                ctypes.c_void_p(self._rows.data_ptr()), ctypes.c_int(threads))
        # a few copies a call, about CALL_FLOPS of work each (tenths of a second): Python handles a Ctrl-C
        # between calls, so a long block of a large population still stops at once
        per_call = max(threads, int(CALL_FLOPS // (S * self._flops)))
        per_call = -(-per_call // self._granule) * self._granule  # whole groups of copies (the lane kernel's)
        for lo in range(0, self.K, per_call):
            if self._fn(ctypes.byref(self._problem), self.K, lo, min(self.K, lo + per_call), S, *args):
                raise MemoryError(f"the kernel could not allocate its working buffers for copies {lo} onwards; "
                                  f"free some memory, or use engine='eager'")
        return self._theta, self._inactive, self._limit, self._rows[:S]
