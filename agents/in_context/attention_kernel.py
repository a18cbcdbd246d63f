"""The one-layer linear self-attention's query loss and gradient in a hand-written C++ kernel, about 3x faster.

:meth:`agents.in_context.attention.LinearSelfAttention.loss_and_gradient` of a one-layer
model runs here (``engine="auto"``, the default, where the kernel builds and takes the
inputs) or as torch operations (``engine="torch"``; more layers: autograd). torch spends
the step in batched products of tiny matrices (one 10 x 11 product per task); the kernel
(``attention_kernel.cpp`` beside this module, :func:`kernel_products`) takes eight tasks at a time, one per vector
lane, through the formulas of ``LinearSelfAttention._loss_and_gradient_one`` and sums
in float64 whatever the inputs' precision, so a float32 run is the float32 rounding of
float64 sums where torch rounds every product and partial sum to float32. The two engines
therefore agree to float rounding, not bit for bit (to 1e-12 relative in float64, to
float32 rounding in float32: ``tests/agents/in_context/test_attention_kernel.py``), and
which one ran is named in the in-context learner's reports (:func:`attention_engine`).

Building: as the other kernels (:mod:`agents.native`); without a compiler, ``engine="auto"``
uses torch.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Optional

import torch

from agents.native import Library, pointer

__all__ = ["attention_kernel_available", "attention_engine", "fits", "kernel_products"]

SOURCE = Path(__file__).with_name("attention_kernel.cpp")

_KERNEL = Library(lambda: SOURCE, ("mesastack_lsa_loss_gradient",),
                  "engine='kernel' needs the linear self-attention's C++ kernel", "use engine='torch'")


def attention_kernel_available() -> bool:
    """Whether the kernel builds and loads here (built once per machine and source, then cached).

    Examples
    --------
    >>> isinstance(attention_kernel_available(), bool)
    True
    """
    return _KERNEL.available()


def attention_engine() -> str:
    """What ``engine="auto"`` runs here for a one-layer model on the CPU, in words (for reports).

    Examples
    --------
    >>> attention_engine().startswith(("C++ kernel", "torch"))
    True
    """
    if attention_kernel_available():
        return "C++ kernel (agents/in_context/attention_kernel.cpp; sums in float64)"
    return "torch operations (no C++ compiler here for the kernel)"


def fits(model, params: torch.Tensor, tasks) -> Optional[str]:
    """Why the kernel cannot take these inputs, or None when it can.

    It takes a one-layer model, parameters ``[K, P]`` and tasks with their own copy axis
    (``X [K, B, N, d]``), all float32 or all float64, on the CPU.

    Examples
    --------
    >>> from agents.in_context.attention import LinearSelfAttention
    >>> from agents.in_context.tasks import TaskDistribution, sample_tasks
    >>> t = sample_tasks(TaskDistribution(d=2, N=3), torch.Generator().manual_seed(0), 4)
    >>> fits(LinearSelfAttention(d=2), torch.zeros(1, 36, dtype=torch.float64), t)
    'tasks without a copy axis (shared by the copies)'
    """
    if model.layers != 1:
        return f"{model.layers} layers (the kernel computes one)"
    if tasks.X.dim() != 4:
        return "tasks without a copy axis (shared by the copies)"
    if tasks.X.shape[0] != params.shape[0]:
        return f"tasks for {tasks.X.shape[0]} copies, parameters for {params.shape[0]}"
    dtypes = {params.dtype, tasks.X.dtype, tasks.y.dtype, tasks.xq.dtype, tasks.yq.dtype}
    if len(dtypes) != 1 or params.dtype not in (torch.float32, torch.float64):
        return f"dtypes {sorted(str(t) for t in dtypes)}, not all float32 or all float64"
    if any(t.device.type != "cpu" for t in (params, tasks.X, tasks.y, tasks.xq, tasks.yq)):
        return "tensors not on the CPU"
    return None


def kernel_products(Wq: torch.Tensor, Wk: torch.Tensor, Wv: torch.Tensor, p_row: torch.Tensor, tasks) -> tuple:
    """``(loss [K], dL/du [K, D], dL/dR [K, D, d])`` of a one-layer model, in the kernel (module docstring).

    u = (P W_V)[D-1, :] and R = (W_K^T W_Q)[:, :d] are formed here in float64 from the weights;
    :meth:`agents.in_context.attention.LinearSelfAttention.loss_and_gradient` takes the two
    gradients on to the four matrices as it does for the torch engine.

    Parameters
    ----------
    Wq, Wk, Wv : torch.Tensor
        ``[K, D, D]``, one copy's matrices per row.
    p_row : torch.Tensor
        ``[K, D]``, the last row of each copy's P.
    tasks : Tasks
        With a copy axis, of the weights' dtype (:func:`fits`).

    Returns
    -------
    tuple of torch.Tensor
        In the weights' dtype.

    Raises
    ------
    ParameterError
        When the kernel cannot be built here.
    MemoryError
        When the kernel cannot allocate its buffers (one line).

    Examples
    --------
    >>> from agents.in_context.attention import LinearSelfAttention
    >>> from agents.in_context.tasks import TaskDistribution, sample_tasks
    >>> from agents.in_context.training import stack_tasks
    >>> g = torch.Generator().manual_seed(0)
    >>> t = stack_tasks([sample_tasks(TaskDistribution(d=2, N=3), g, 5, torch.float64)])
    >>> m = LinearSelfAttention(d=2)
    >>> p = torch.full((1, 36), 0.1, dtype=torch.float64)
    >>> engine = "kernel" if attention_kernel_available() else "torch"
    >>> bool(torch.allclose(m.loss_and_gradient(p, t, engine=engine)[1], m.loss_and_gradient(p, t, engine="torch")[1],
    ...                     rtol=1e-12, atol=1e-15))
    True
    """
    lib = _KERNEL.get()
    K, D = p_row.shape
    d = D - 1
    u = torch.einsum("ki,kij->kj", p_row.double(), Wv.double()).contiguous()  # u = (P W_V)[D-1, :]
    R = torch.matmul(Wk.double().transpose(-1, -2), Wq.double()[:, :, :d]).contiguous()  # R = (W_K^T W_Q)[:, :d]
    _, B, N, _ = tasks.X.shape
    X, y, xq, yq = (t.contiguous() for t in (tasks.X, tasks.y, tasks.xq, tasks.yq))
    loss = torch.empty(K, dtype=torch.float64)
    du = torch.empty(K, D, dtype=torch.float64)
    dR = torch.empty(K, D, d, dtype=torch.float64)
    code = lib.mesastack_lsa_loss_gradient(ctypes.c_long(K), ctypes.c_long(B), ctypes.c_long(N), ctypes.c_long(d),
                                           ctypes.c_int(int(Wq.dtype == torch.float32)), pointer(X), pointer(y), pointer(xq),
                                           pointer(yq), pointer(u), pointer(R), pointer(loss), pointer(du), pointer(dR))
    if code:
        raise MemoryError(f"the linear self-attention kernel could not allocate its buffers for {N} context pairs "
                          f"of dimension {d}; free some memory, or use engine='torch'")
    return loss.to(Wq.dtype), du.to(Wq.dtype), dR.to(Wq.dtype)
