"""The softmax cross-entropy of the logits and its delta in one pass, in a hand-written C++ kernel.

The eager engine's cross-entropy (:class:`~agents.language_model.mlp.PopulationMLP`,
definitions.md "Base objective") is, for copy k with logits z [V, M] (feature-major), n_m the
examples of input row m and Q [V, M] the summed targets (label smoothing applied):

    lse_m    = max_v z[v, m] + log sum_v exp(z[v, m] - max_v z[v, m])
    L_k      = (1/N) (sum_m n_m lse_m - sum_{v, m} Q[v, m] z[v, m])
    delta    = n_m softmax(z_m) - Q_m

In torch these are eight passes over the [K, V, M] logits (the max, a difference, exp, a
sum, log, a product with Q and its sum, the delta), each streaming the whole block from
memory. ``fused_loss_kernel.cpp`` beside this module takes the columns in chunks of 256 and
does all of it while a chunk is in cache, exp and log through glibc's vector math (within
4 ulp), the sums in double (:func:`fused_loss`). Each (copy, chunk) is computed start to end
by one thread and a copy's chunks are added in order, so a copy's numbers do not depend on
K or on the thread count; they equal torch's to float rounding, not bit for bit.

:class:`~agents.language_model.mlp.PopulationMLP` uses it (``loss_pass="auto"``, the
default) for the cross-entropy on the CPU where the vocabulary has at least
:data:`MIN_OUTPUTS` tokens: on the benchmarks' mid-size model (64 tokens, 2048 input rows,
one thread) it took the loss from 0.24 to 0.31 ms a step to 0.09 to 0.115 at K = 1
(docs/performance.md). Smaller vocabularies keep torch's passes, so the scenarios' numbers
(vocabulary 8) stay torch's.

Building: as the other kernels (:mod:`agents.native`); without a compiler, ``"auto"`` keeps
torch's passes.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Callable

import torch

from agents.native import Library, pointer
from hierarchy.errors import ParameterError

__all__ = ["MIN_OUTPUTS", "LOSS_PASSES", "fused_loss_available", "choose_loss_pass", "fused_loss", "bound_fused_loss"]

SOURCE = Path(__file__).with_name("fused_loss_kernel.cpp")

#: Vocabularies smaller than this keep torch's passes under ``loss_pass="auto"`` (the scenarios' 8: their numbers stay
#: torch's).
MIN_OUTPUTS = 32

#: ``loss_pass=`` of :class:`~agents.language_model.mlp.PopulationMLP`.
LOSS_PASSES = ("auto", "fused", "torch")

_KERNEL = Library(lambda: SOURCE, ("mesastack_fused_loss_f64", "mesastack_fused_loss_f32"),
                  "loss_pass='fused' needs the fused loss's C++ kernel", "use loss_pass='torch'")


def fused_loss_available() -> bool:
    """Whether the kernel builds and loads here (built once per machine and source, then cached).

    Examples
    --------
    >>> isinstance(fused_loss_available(), bool)
    True
    """
    return _KERNEL.available()


def choose_loss_pass(loss_pass: str, loss: str, vocab: int, device) -> bool:
    """Whether the cross-entropy runs in the fused kernel (True) or as torch's passes (False).

    ``"torch"``: torch's passes. ``"fused"``: the kernel, or an error saying why it cannot run.
    ``"auto"``: the kernel for the cross-entropy on the CPU with at least :data:`MIN_OUTPUTS`
    tokens, where it builds; else torch's passes.

    Parameters
    ----------
    loss_pass : str
        One of :data:`LOSS_PASSES`.
    loss : str
        The engine's objective (``"cross_entropy"`` or ``"brier"``).
    vocab : int
        V, the width of the output layer.
    device : torch.device or str

    Returns
    -------
    bool

    Raises
    ------
    ParameterError
        An unknown ``loss_pass``, or ``"fused"`` where the kernel cannot run.

    Examples
    --------
    >>> choose_loss_pass("torch", "cross_entropy", 64, "cpu")
    False
    >>> choose_loss_pass("auto", "cross_entropy", 8, "cpu")  # 8 tokens: torch's passes
    False
    """
    if loss_pass not in LOSS_PASSES:
        raise ParameterError(f"loss_pass={loss_pass!r}; give one of {', '.join(map(repr, LOSS_PASSES))}",
                             parameter="loss_pass")
    if loss_pass == "torch":
        return False
    why = (f"the loss is {loss!r}" if loss != "cross_entropy" else
           f"the engine runs on {device}, not the CPU" if torch.device(device).type != "cpu" else None)
    if loss_pass == "fused":
        if why is not None:
            raise ParameterError(f"loss_pass='fused' computes the cross-entropy on the CPU, but {why}; "
                                 f"use loss_pass='torch' (or 'auto')", parameter="loss_pass")
        _KERNEL.get()
        return True
    return why is None and int(vocab) >= MIN_OUTPUTS and fused_loss_available()


def bound_fused_loss(z: torch.Tensor, q: torch.Tensor, n: torch.Tensor, inv_n: float, delta: torch.Tensor,
                     L: torch.Tensor) -> Callable[[int], None]:
    """:func:`fused_loss` of these tensors as a function of the thread count, its arguments checked and converted once.

    The engine's buffers are never reallocated, so it binds its call once.

    Examples
    --------
    >>> z, delta = torch.zeros(1, 2, 3), torch.empty(1, 2, 3)
    >>> q, n, L = torch.ones(1, 2, 3) / 2, torch.ones(1, 1, 3), torch.empty(1)
    >>> step = bound_fused_loss(z, q, n, 1 / 3, delta, L) if fused_loss_available() else None
    >>> callable(step) or not fused_loss_available()
    True
    """
    if z.dim() != 3:
        raise ParameterError(f"logits of shape {tuple(z.shape)}; give [K, V, M]", parameter="loss_pass")
    K, V, M = z.shape
    dt = z.dtype
    if dt not in (torch.float32, torch.float64) or z.device.type != "cpu":
        raise ParameterError(f"the fused loss takes float32 or float64 tensors on the CPU, not {dt} on {z.device}; "
                             f"use loss_pass='torch'", parameter="loss_pass")
    Kq = q.shape[0]
    shapes = {"q": (q, (Kq, V, M)), "n": (n, (Kq, 1, M)), "delta": (delta, (K, V, M)), "L": (L, (K,))}
    for name, (t, shape) in shapes.items():
        if tuple(t.shape) != shape or t.dtype != dt or t.device != z.device or not t.is_contiguous():
            raise ParameterError(f"{name} is {tuple(t.shape)} {t.dtype}, not a contiguous {shape} {dt} beside logits "
                                 f"[K, V, M] = {K, V, M}; give the engine's buffers", parameter="loss_pass")
    if not z.is_contiguous() or Kq not in (1, K):
        raise ParameterError(f"logits must be contiguous and the targets shared or per copy (Kq in (1, {K}), not "
                             f"{Kq}); give the engine's buffers", parameter="loss_pass")
    size = z.numel() * z.element_size()  # delta has z's shape and dtype (checked above)
    if z.data_ptr() < delta.data_ptr() + size and delta.data_ptr() < z.data_ptr() + size:
        raise ParameterError("delta overlaps the logits' buffer; give the engine's own delta", parameter="loss_pass")
    suffix = "f32" if dt == torch.float32 else "f64"
    fn = getattr(_KERNEL.get(), f"mesastack_fused_loss_{suffix}")
    c = ctypes.c_float if dt == torch.float32 else ctypes.c_double
    args = (ctypes.c_long(K), ctypes.c_long(V), ctypes.c_long(M), pointer(z), pointer(q), pointer(n), ctypes.c_int(int(Kq == K)),
            c(inv_n), pointer(delta), pointer(L))

    def call(threads: int) -> None:
        if fn(*args, ctypes.c_int(int(threads))):
            raise MemoryError(f"the fused loss could not allocate its {K} x {-(-M // 256)} chunk sums; free some memory, "
                              f"or use loss_pass='torch'")
    call.keep = (z, q, n, delta, L)
    return call


def fused_loss(z: torch.Tensor, q: torch.Tensor, n: torch.Tensor, inv_n: float, delta: torch.Tensor, L: torch.Tensor,
               threads: int = 1) -> torch.Tensor:
    """L [K] = inv_n (sum_m n_m lse_m - <Q, z>) and delta = n softmax(z) - Q, written in place (module docstring).

    Parameters
    ----------
    z : torch.Tensor
        Logits [K, V, M], float32 or float64, contiguous, on the CPU.
    q : torch.Tensor
        Summed targets [Kq, V, M] (Kq = 1: shared by the copies, or K).
    n : torch.Tensor
        Examples per input row [Kq, 1, M].
    inv_n : float
        1 / N, N the examples of one copy.
    delta : torch.Tensor
        [K, V, M], written: dL/dz times N. Must not overlap ``z``.
    L : torch.Tensor
        [K], written.
    threads : int
        Threads to split the (copy, chunk) units over.

    Returns
    -------
    torch.Tensor
        ``L``.

    Raises
    ------
    ParameterError
        When the kernel cannot be built here, or the tensors do not fit together (shape, dtype, layout).
    MemoryError
        When the kernel cannot allocate its chunk sums.

    Examples
    --------
    >>> z = torch.zeros(1, 4, 1, dtype=torch.float64)   # uniform logits over 4 tokens, one input row
    >>> q = torch.tensor([1.0, 0, 0, 0], dtype=torch.float64).reshape(1, 4, 1)
    >>> n, delta, L = torch.ones(1, 1, 1, dtype=torch.float64), torch.empty_like(z), torch.empty(1, dtype=torch.float64)
    >>> if fused_loss_available():
    ...     L = fused_loss(z, q, n, 1.0, delta, L)
    ... else:  # no compiler here: what the kernel computes, in torch
    ...     L = torch.logsumexp(z, 1).flatten() - (q * z).sum((1, 2)); delta = n * torch.softmax(z, 1) - q
    >>> round(float(L[0]), 12), delta.flatten().tolist()  # log 4, softmax - target
    (1.38629436112, [-0.75, 0.25, 0.25, 0.25])
    """
    bound_fused_loss(z, q, n, inv_n, delta, L)(threads)
    return L
