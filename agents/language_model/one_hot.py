"""The first layer of one-hot inputs as gathers and scatters, in a hand-written C++ kernel.

A language model's input row is a one-hot context: ``order`` ones among ``order * V``
features. Its first layer's product ``[W_1^T | b_1] @ [x; 1]`` then adds ``order`` rows of
W_1 and the bias, and its weight gradient ``delta x^T`` adds each delta column into the
rows of W_1 its context names: no multiplication is needed. With idx[j, m] the j-th
feature (ascending) that is one in row m, for copy k (definitions.md, "Base objective":
the same z and gradient as the product):

    z[k, h, m]  = scale * ((W_k[idx[0, m], h] + ... + W_k[idx[r-1, m], h]) + b_k[h])
    dW_k[v, h]  = alpha * sum over (m ascending, then j) with idx[j, m] = v of delta[k, h, m]
    db_k[h]     = alpha * sum_m delta[k, h, m]

where the scatter may take the hidden layer's output y = tanh(z) and use delta * (1 - y^2), the
tanh's derivative, in the same pass (the back-propagated delta of the first layer, read once).

``one_hot_kernel.cpp`` beside this module computes both (:func:`gather_first_layer`,
:func:`scatter_first_layer`), each (copy, hidden unit) row start to end on one thread, so a
copy's numbers do not depend on K, on a chunk or on the thread count; they equal the
matrix product's to float rounding (the sums are taken in another order), not bit for bit.
:class:`~agents.language_model.mlp.PopulationMLP` uses them (``first_layer="auto"``, the
default) where its inputs are shared one-hot rows of at least :data:`MIN_FEATURES` features
on the CPU: for the benchmarks' mid-size model (128 features, 128 hidden units) they replace
the two largest products of a step (and write the hidden layer's tanh, glibc's vector tanh
within 4 ulp, in the same pass). Smaller inputs keep the product: at 16 features (the
scenarios' vocabulary 8 and order 2) the gathers made the engine up to 1.4x faster but the
scenarios only 0-3% (docs/performance.md), so their numbers stay the product's.

Building: as the other kernels (:mod:`agents.native`); without a compiler, ``"auto"`` keeps
the product.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Callable, Optional

import torch

from agents.native import Library, pointer
from hierarchy.errors import ParameterError

__all__ = ["MIN_FEATURES", "FIRST_LAYERS", "one_hot_available", "one_hot_indices", "choose_first_layer",
           "gather_first_layer", "scatter_first_layer", "bound_gather", "bound_scatter"]

SOURCE = Path(__file__).with_name("one_hot_kernel.cpp")

#: Inputs with fewer features keep the matrix product under ``first_layer="auto"`` (the scenarios' 16: their numbers
#: stay the product's, for a gain of 0-3% of their wall time).
MIN_FEATURES = 32

_KERNEL = Library(lambda: SOURCE, ("mesastack_one_hot_forward_f64", "mesastack_one_hot_forward_f32",
                                   "mesastack_one_hot_backward_f64", "mesastack_one_hot_backward_f32"),
                  "first_layer='gather' needs the one-hot C++ kernel", "use first_layer='product'")


def one_hot_available() -> bool:
    """Whether the kernel builds and loads here (built once per machine and source, then cached).

    Examples
    --------
    >>> isinstance(one_hot_available(), bool)
    True
    """
    return _KERNEL.available()


def one_hot_indices(x: torch.Tensor) -> Optional[torch.Tensor]:
    """idx [r, M] (int32): the features that are one in each row, ascending, when every row of x has r >= 1 ones and
    zeros elsewhere; None otherwise.

    Parameters
    ----------
    x : torch.Tensor
        Inputs [M, D].

    Returns
    -------
    torch.Tensor or None

    Examples
    --------
    >>> one_hot_indices(torch.tensor([[0., 1., 1.], [1., 0., 1.]])).tolist()
    [[1, 0], [2, 2]]
    >>> one_hot_indices(torch.tensor([[0., 1., 1.], [1., 0., 0.]])) is None  # rows of 2 and of 1 ones
    True
    """
    if x.dim() != 2 or x.shape[0] == 0:
        return None
    ones = x == 1
    if not bool(torch.all(ones | (x == 0))):
        return None
    counts = ones.sum(1)
    r = int(counts[0])
    if r < 1 or not bool(torch.all(counts == r)):
        return None
    return ones.nonzero()[:, 1].reshape(x.shape[0], r).T.to(torch.int32).contiguous()


#: ``first_layer=`` of :class:`~agents.language_model.mlp.PopulationMLP`.
FIRST_LAYERS = ("auto", "gather", "product")


def choose_first_layer(first_layer: str, inputs: Optional[torch.Tensor], device) -> Optional[torch.Tensor]:
    """The one-hot indices the first layer gathers by, or None where it runs as a matrix product.

    ``"product"``: always the product. ``"gather"``: the gathers, or an error saying why they
    cannot run. ``"auto"``: the gathers where ``inputs`` are shared one-hot rows (``None``: per
    copy) of at least :data:`MIN_FEATURES` features, on the CPU, and the kernel builds; else the
    product.

    Parameters
    ----------
    first_layer : str
        One of :data:`FIRST_LAYERS`.
    inputs : torch.Tensor or None
        The shared inputs [M, D] on the CPU, or None for inputs per copy.
    device : torch.device

    Returns
    -------
    torch.Tensor or None
        idx [r, M] (:func:`one_hot_indices`).

    Raises
    ------
    ParameterError
        An unknown ``first_layer``, or ``"gather"`` where the gathers cannot run.

    Examples
    --------
    >>> choose_first_layer("product", torch.eye(40), torch.device("cpu")) is None
    True
    >>> choose_first_layer("auto", torch.eye(4), torch.device("cpu")) is None  # 4 features: the product
    True
    """
    if first_layer not in FIRST_LAYERS:
        raise ParameterError(f"first_layer={first_layer!r}; give one of {', '.join(map(repr, FIRST_LAYERS))}",
                             parameter="first_layer")
    if first_layer == "product":
        return None
    idx = one_hot_indices(inputs) if inputs is not None else None
    why = ("the inputs are per copy" if inputs is None else
           f"the inputs run on {device}, not the CPU" if torch.device(device).type != "cpu" else
           "the inputs are not one-hot rows (each row the same number of ones, zeros elsewhere)" if idx is None else
           None)
    if first_layer == "gather":
        if why is not None:
            raise ParameterError(f"first_layer='gather' needs shared one-hot inputs on the CPU, but {why}; "
                                 f"use first_layer='product'", parameter="first_layer")
        _KERNEL.get()
        return idx
    if why is not None or inputs.shape[1] < MIN_FEATURES or not one_hot_available():
        return None
    return idx


def _suffix(t: torch.Tensor) -> str:
    if t.dtype not in (torch.float32, torch.float64) or t.device.type != "cpu":
        raise ParameterError(f"the one-hot kernel takes float32 or float64 tensors on the CPU, not {t.dtype} on "
                             f"{t.device}; use first_layer='product'", parameter="first_layer")
    return "f32" if t.dtype == torch.float32 else "f64"


def _bound(fn, args: tuple, keep: tuple, D: int) -> Callable[[int], None]:
    """fn(*args, threads) as a function of the thread count; ``keep``: the tensors the pointers point into."""
    def call(threads: int) -> None:
        if fn(*args, ctypes.c_int(int(threads))):
            raise MemoryError(f"the one-hot kernel could not allocate a row of {D} features; free some memory, "
                              f"or use first_layer='product'")
    call.keep = keep
    return call


def bound_gather(idx: torch.Tensor, W: torch.Tensor, b: torch.Tensor, scale: float, z: torch.Tensor,
                 tanh: bool = False) -> Callable[[int], None]:
    """:func:`gather_first_layer` of these tensors as a function of the thread count, its arguments converted once.

    The engine's buffers are never reallocated, so it binds its call once (a small call then costs 2.9 us
    instead of 12.8).

    Examples
    --------
    >>> W, z = torch.ones(1, 2, 1), torch.empty(1, 1, 1)
    >>> step = bound_gather(torch.tensor([[0], [1]], dtype=torch.int32), W, torch.ones(1, 1), 1.0, z) if one_hot_available() else None
    >>> callable(step) or not one_hot_available()
    True
    """
    K, D, H = W.shape
    r, M = idx.shape
    fn = getattr(_KERNEL.get(), f"mesastack_one_hot_forward_{_suffix(W)}")
    c = ctypes.c_float if W.dtype == torch.float32 else ctypes.c_double
    args = (ctypes.c_long(K), ctypes.c_long(H), ctypes.c_long(D), ctypes.c_long(M), ctypes.c_long(r), pointer(idx), pointer(W),
            ctypes.c_long(W.stride(0)), pointer(b), ctypes.c_long(b.stride(0)), c(scale), pointer(z), ctypes.c_long(z.stride(0)),
            ctypes.c_int(int(tanh)))
    return _bound(fn, args, (idx, W, b, z), D)


def bound_scatter(idx: torch.Tensor, delta: torch.Tensor, alpha: float, gW: torch.Tensor,
                  gb: torch.Tensor, tanh_out: Optional[torch.Tensor] = None) -> Callable[[int], None]:
    """:func:`scatter_first_layer` of these tensors as a function of the thread count (as :func:`bound_gather`).

    Examples
    --------
    >>> gW, gb = torch.empty(1, 2, 1), torch.empty(1, 1)
    >>> step = bound_scatter(torch.tensor([[0], [1]], dtype=torch.int32), torch.ones(1, 1, 1), 1.0, gW, gb) if one_hot_available() else None
    >>> callable(step) or not one_hot_available()
    True
    """
    K, D, H = gW.shape
    r, M = idx.shape
    fn = getattr(_KERNEL.get(), f"mesastack_one_hot_backward_{_suffix(delta)}")
    c = ctypes.c_float if delta.dtype == torch.float32 else ctypes.c_double
    if tanh_out is not None and (tanh_out.shape != delta.shape or tanh_out.dtype != delta.dtype
                                 or tanh_out.stride()[1:] != (M, 1)):
        raise ParameterError(f"tanh_out of shape {tuple(tanh_out.shape)} and strides {tanh_out.stride()}; give delta's "
                             f"shape {tuple(delta.shape)} and dtype with each copy's rows contiguous", parameter="tanh_out")
    args = (ctypes.c_long(K), ctypes.c_long(H), ctypes.c_long(D), ctypes.c_long(M), ctypes.c_long(r), pointer(idx),
            pointer(delta), pointer(tanh_out), ctypes.c_long(0 if tanh_out is None else tanh_out.stride(0)), c(alpha),
            pointer(gW), ctypes.c_long(gW.stride(0)), pointer(gb), ctypes.c_long(gb.stride(0)))
    return _bound(fn, args, (idx, delta, tanh_out, gW, gb), D)


def gather_first_layer(idx: torch.Tensor, W: torch.Tensor, b: torch.Tensor, scale: float, z: torch.Tensor,
                       threads: int = 1, tanh: bool = False) -> torch.Tensor:
    """z [K, H, M] = scale * (sum_j W[:, idx[j, m], :] + b), or tanh of it, written into ``z`` (module docstring).

    Parameters
    ----------
    idx : torch.Tensor
        [r, M] int32, contiguous (:func:`one_hot_indices`).
    W : torch.Tensor
        [K, D, H], rows contiguous (strides (any, H, 1)).
    b : torch.Tensor
        [K, H], contiguous along H.
    scale : float
    z : torch.Tensor
        [K, H, M] of W's dtype, each copy's [H, M] contiguous (a view of the first H rows of a [K, H', M]
        buffer will do).
    threads : int
        Threads to split the K H rows over.
    tanh : bool
        Write tanh(z) (glibc's vector tanh, within 4 ulp), the hidden layer's activation, instead of z.

    Returns
    -------
    torch.Tensor
        ``z``.

    Raises
    ------
    ParameterError
        When the kernel cannot be built here, or the tensors are not float32 or float64 on the CPU.
    MemoryError
        When the kernel cannot allocate its buffers.

    Examples
    --------
    >>> W = torch.arange(6.0, dtype=torch.float64).reshape(1, 3, 2)  # rows (0, 1), (2, 3), (4, 5)
    >>> z = torch.empty(1, 2, 2, dtype=torch.float64)
    >>> idx = torch.tensor([[0, 1], [2, 2]], dtype=torch.int32)     # rows 0 + 2 and 1 + 2
    >>> b = torch.zeros(1, 2, dtype=torch.float64)
    >>> if one_hot_available():
    ...     z = gather_first_layer(idx, W, b, 1.0, z)
    ... else:  # no compiler here: what the kernel computes, in torch
    ...     z = (W[:, idx[0].long()] + W[:, idx[1].long()] + b[:, None]).transpose(1, 2)
    >>> z.tolist()  # unit 0: 0 + 4, 2 + 4; unit 1: 1 + 5, 3 + 5
    [[[4.0, 6.0], [6.0, 8.0]]]
    """
    bound_gather(idx, W, b, scale, z, tanh)(threads)
    return z


def scatter_first_layer(idx: torch.Tensor, delta: torch.Tensor, alpha: float, gW: torch.Tensor, gb: torch.Tensor,
                        threads: int = 1, tanh_out: Optional[torch.Tensor] = None) -> None:
    """gW [K, D, H] = alpha * delta x^T and gb [K, H] = alpha * sum_m delta, written in place (module docstring);
    with ``tanh_out`` (y = tanh(z) of the layer) delta * (1 - y^2) instead of delta.

    Parameters
    ----------
    idx : torch.Tensor
        [r, M] int32, contiguous (:func:`one_hot_indices`).
    delta : torch.Tensor
        [K, H, M] contiguous.
    alpha : float
    gW, gb : torch.Tensor
        As ``W`` and ``b`` of :func:`gather_first_layer`.
    threads : int
    tanh_out : torch.Tensor, optional
        [K, H, M] of delta's dtype, each copy's rows contiguous (a view of the first H rows of a [K, H', M]
        buffer will do): the hidden layer's tanh, whose derivative 1 - y^2 multiplies delta (delta is not changed).

    Raises
    ------
    ParameterError, MemoryError
        As :func:`gather_first_layer`; ParameterError too for a ``tanh_out`` of another shape, dtype or layout.

    Examples
    --------
    >>> d = torch.tensor([[[1.0, 10.0]]], dtype=torch.float64)      # one hidden unit, two rows
    >>> gW, gb = torch.empty(1, 3, 1, dtype=torch.float64), torch.empty(1, 1, dtype=torch.float64)
    >>> idx = torch.tensor([[0, 1], [2, 2]], dtype=torch.int32)
    >>> if one_hot_available():
    ...     scatter_first_layer(idx, d, 1.0, gW, gb)
    ... else:  # no compiler here: what the kernel computes, in torch
    ...     _ = gW.zero_().index_add_(1, idx.flatten().long(), d.repeat(1, 1, 2).transpose(1, 2))
    >>> gW.flatten().tolist()  # feature 0 in row 0, feature 1 in row 1, feature 2 in both
    [1.0, 10.0, 11.0]
    """
    bound_scatter(idx, delta, alpha, gW, gb, tanh_out)(threads)
