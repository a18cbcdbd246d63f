"""torch.rand and torch.randn from a CPU generator, drawn in C++: the same numbers, bit for bit.

torch draws uniforms one value at a time from its Mersenne Twister (about 4 ns a float64
and 3 ns a float32 here); ``mersenne.cpp`` beside this module runs the same twister on the
generator's own state (``torch.Generator.get_state``) in vectorized blocks, 6x (float64) to
8x (float32) faster, and leaves the generator where torch would have left it, so draws from
the two may be mixed freely. float64 normals gain less (glibc's scalar log, sin and cos
dominate, kept so that the numbers stay torch's); float32 normals are torch's own (already
vectorized, with its own log, sin and cos). The in-context learner's task sampling
(agents.in_context.tasks) spent most of its time in torch's draws.

The numbers are checked on first use: a fresh generator's draws of several sizes must equal
torch's bit for bit, or this module uses torch from then on (as it does where the kernel does
not build: no C++ compiler on the PATH). :func:`engine` says which one runs.

Examples
--------
>>> g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
>>> bool(torch.equal(rand((3, 100), g1), torch.rand(3, 100, generator=g2, dtype=torch.float64)))
True
>>> bool(torch.equal(randn((50,), g1), torch.randn(50, generator=g2, dtype=torch.float64)))
True
"""

from __future__ import annotations

import ctypes
import threading
from pathlib import Path
from typing import Optional, Sequence

import torch

from agents.native import Library

__all__ = ["rand", "randn", "engine", "SMALLEST"]

SOURCE = Path(__file__).with_name("mersenne.cpp")

_KERNEL = Library(lambda: SOURCE, ("mesastack_mt_uniform", "mesastack_mt_normal", "mesastack_mt_uniform32"),
                  "the Mersenne Twister's kernel", "let torch draw")

#: Draws smaller than this many values are left to torch (the state's round trip costs more than they do).
SMALLEST = 256

#: (torch's draw, dtype) -> the kernel's function drawing the same numbers.
_FUNCTIONS = {(torch.rand, torch.float64): "mesastack_mt_uniform", (torch.rand, torch.float32): "mesastack_mt_uniform32",
              (torch.randn, torch.float64): "mesastack_mt_normal"}

_lock = threading.Lock()
_checked: Optional[bool] = None  # None: not yet; True: the kernel's numbers are torch's; False: use torch
_why = ""


def _draw(fn, gen: torch.Generator, out: torch.Tensor) -> None:
    state = gen.get_state()
    code = fn(ctypes.c_void_p(state.data_ptr()), ctypes.c_void_p(out.data_ptr()), ctypes.c_long(out.numel()))
    if code:
        raise RuntimeError(f"the Mersenne Twister's kernel refused {out.numel()} values")  # cannot happen: n >= 16
    gen.set_state(state)


def _ready() -> bool:
    """Whether the kernel builds here and draws torch's numbers (checked once, on first use)."""
    global _checked, _why
    if _checked is not None:
        return _checked
    with _lock:
        if _checked is None:
            if not _KERNEL.available():
                _why = _KERNEL.failure or "the kernel did not build"
                _checked = False
            else:
                lib = _KERNEL.get()
                ok = True
                for seed, n in ((0, 256), (12345, 1000), (2 ** 40 + 3, 1247), (99, 10007)):
                    g, ours = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
                    for (theirs, dtype), name in _FUNCTIONS.items():
                        out = torch.empty(n, dtype=dtype)
                        _draw(getattr(lib, name), ours, out)
                        ok = ok and bool(torch.equal(out, theirs(n, generator=g, dtype=dtype)))
                    ok = ok and bool(torch.equal(g.get_state(), ours.get_state()))
                _why = "" if ok else "its numbers differ from this torch's (another torch version?)"
                _checked = ok
    return _checked


def engine() -> str:
    """Which draws :func:`rand` and :func:`randn` make here, in words.

    Examples
    --------
    >>> engine().startswith(("C++ kernel", "torch"))
    True
    """
    if _ready():
        return "C++ kernel (agents/mersenne.cpp; torch's numbers, checked)"
    return f"torch ({_why})"


def _drawn(shape, generator: torch.Generator, dtype, theirs) -> torch.Tensor:
    shape = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
    n = 1
    for s in shape:
        n *= s
    ours = _FUNCTIONS.get((theirs, dtype))
    if ours is None or n < SMALLEST or generator.device.type != "cpu" or not _ready():
        return theirs(shape, generator=generator, dtype=dtype)
    out = torch.empty(shape, dtype=dtype)
    _draw(getattr(_KERNEL.get(), ours), generator, out)
    return out


def rand(shape: Sequence[int], generator: torch.Generator, dtype=torch.float64) -> torch.Tensor:
    """``torch.rand(*shape, generator=generator, dtype=dtype)``: the same numbers, drawn faster for float64.

    Parameters
    ----------
    shape : int or sequence of int
    generator : torch.Generator
        A CPU generator; left in the state torch would leave it in.
    dtype : torch.dtype
        float64 and float32 run the kernel; any other dtype is torch's own draw.

    Returns
    -------
    torch.Tensor

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> tuple(rand((2, 300), g).shape), bool((rand(400, g) < 1).all())
    ((2, 300), True)
    """
    return _drawn(shape, generator, dtype, torch.rand)


def randn(shape: Sequence[int], generator: torch.Generator, dtype=torch.float64) -> torch.Tensor:
    """``torch.randn(*shape, generator=generator, dtype=dtype)``: the same numbers (float64 in the kernel, others torch's).

    Parameters
    ----------
    shape : int or sequence of int
    generator : torch.Generator
    dtype : torch.dtype

    Returns
    -------
    torch.Tensor

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> float(randn(10000, g).std()) > 0.9
    True
    """
    return _drawn(shape, generator, dtype, torch.randn)
