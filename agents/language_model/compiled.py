"""Blocks of gradient-descent steps compiled into one program: the engine without a per-step fixed cost.

The eager engine (:class:`~agents.language_model.mlp.PopulationMLP` through the one loop)
pays about 40 tensor operations a step in Python and dispatch, 2 to 3 us each, whatever
K is: at K = 1 on the tiny model that fixed cost is the whole step. Here the same step,
written as pure tensor functions, is unrolled ``block`` times and compiled with
``torch.compile`` (TorchInductor: the elementwise work fused into a few C++ loops, the
matrix products left to the BLAS, the Python wrapper replaced by C++), so ``block`` steps
cost one call. Per step s of a block, for every copy k (the one loop's rules,
:mod:`agents.training.loop`):

    L, g          = L(theta), dL/dtheta                    (the formulas of PopulationMLP)
    records       L, |g|_2, |g|_1
    limit         = L(0) + R * max(|L(0)|, 1)              (set at step 0; +inf without a runaway rule)
    inactive     |= not finite(L) or not finite(|g|_2) or L > limit
    theta         = theta - eps_t * s_k * g                (0 for an inactive copy: it stays put)

so a copy that diverges or runs away at step t is frozen from step t, exactly as in the
eager loop. Blocks are padded past the last step with eps = 0 (the parameters stay put;
those evaluations are dropped). The numbers equal the eager engine's to float rounding
(the fused loops sum in another order): ``tests/agents/language_model/test_compiled.py``
checks L, G, G1 and the final parameters against the eager run, divergence included.

Layout: activations feature-major [K, width, M] (M, the merged contexts, innermost, so
the fused loops run along it in vector registers; a layout with the widths innermost
was 3x slower at K = 16, widths 8 being shorter than a vector); a shared first layer is
one product [K n_1, D] @ [D, M] for all copies.

It needs a C++ compiler (``g++``, ``c++`` or ``clang++`` on the PATH) for TorchInductor;
the first call of a new shape compiles for 10 to 60 s (cached on disk by torch
afterwards), so it pays for long runs of small models, not for short ones.
"""

from __future__ import annotations

import shutil
import types
from typing import Callable, Optional

import numpy as np
import torch

from hierarchy.errors import ParameterError

from agents.language_model.mlp import PopulationMLP, parameter_layout

__all__ = ["CompiledSteps", "compiler_available", "BLOCK"]

#: Steps per compiled call by default (the compile time grows with it: 16 took about twice as long as 8 to compile).
BLOCK = 8


def compiler_available() -> bool:
    """Whether TorchInductor can compile here: a C++ compiler on the PATH that builds a one-line program.

    The probe (a compiled ``x + 1``, a few seconds once per process, then cached) catches
    what a look at the PATH cannot: a compiler without Python's headers, or an unsupported
    platform.

    Returns
    -------
    bool

    Examples
    --------
    >>> isinstance(compiler_available(), bool)
    True
    """
    global _PROBE
    if _PROBE is None:
        _PROBE = bool(any(shutil.which(c) for c in ("g++", "c++", "clang++"))) and _probe()
    return _PROBE


_PROBE: Optional[bool] = None


def _probe() -> bool:
    try:
        f = torch.compile(lambda x: x + 1.0, fullgraph=True, dynamic=False, options={"cpp_wrapper": True})
        return bool(f(torch.zeros(3, dtype=torch.float64)).sum() == 3.0)
    except Exception:  # any failure of the toolchain: the compiled engine is not offered here
        return False


def _step_function(sizes: tuple, shared: bool, loss: str, N: float, q_const: float) -> Callable:
    """One step's L, |g|_2, |g|_1 and gradient [K, P] as a pure function of (theta, x, n, q).

    x: [D, M] shared or [K, D, M]; n: [Kq, 1, M] examples per row; q: [Kq, V, M] summed
    targets Q_m (PopulationMLP's class docstring gives the formulas).
    """
    layout = parameter_layout(sizes)
    blocks = [(layout[2 * l], layout[2 * l + 1]) for l in range(len(sizes) - 1)]

    def split(theta):
        K = theta.shape[0]
        out = []
        for (_, (n_in, n_out), offW), (_, _, offb) in blocks:
            W = theta[:, offW:offW + n_in * n_out].view(K, n_in, n_out)
            b = theta[:, offb:offb + n_out]
            out.append((W.transpose(1, 2), b))  # W^T [K, n_out, n_in], b [K, n_out]
        return out

    def evaluate(theta, x, n, q):
        K = theta.shape[0]
        params = split(theta)
        hs = [x]
        z = x
        for l, (WT, b) in enumerate(params):
            n_out, n_in = WT.shape[1], WT.shape[2]
            if l == 0 and shared:
                z = torch.mm(WT.reshape(K * n_out, n_in), x).view(K, n_out, -1)
            else:
                z = torch.bmm(WT, z)
            z = z + b.unsqueeze(2)
            if l < len(params) - 1:
                z = torch.tanh(z)
                hs.append(z)
        mx = z.amax(1, keepdim=True)
        e = torch.exp(z - mx)
        ssum = e.sum(1, keepdim=True)
        p = e / ssum
        if loss == "cross_entropy":
            lse = torch.log(ssum) + mx
            L = ((lse * n).sum((1, 2)) - (z * q).sum((1, 2))) / N
            delta = n * p - q
        else:  # brier
            r = n * p - q
            L = ((p * r).sum((1, 2)) - (p * q).sum((1, 2)) + q_const) / N
            delta = 2.0 * p * (r - (p * r).sum(1, keepdim=True))
        d = delta / N
        grads = []
        for l in range(len(params) - 1, -1, -1):
            h_prev = hs[l]
            if l == 0 and shared:
                gWT = torch.mm(d.reshape(K * d.shape[1], -1), h_prev.T).view(K, d.shape[1], -1)
            else:
                gWT = torch.bmm(d, h_prev.transpose(1, 2))
            grads.append((gWT.transpose(1, 2).reshape(K, -1), d.sum(2)))
            if l > 0:
                WT = params[l][0]
                d = torch.bmm(WT.transpose(1, 2), d) * (1.0 - h_prev * h_prev)
        g = torch.cat([t for pair in reversed(grads) for t in pair], 1)
        return L, g

    return evaluate


#: Compiled block programs by (sizes, shared, loss, N, Brier constant, block, record_true, K, dtype, threads).
_COMPILED: dict = {}


def _compile(sizes, shared, loss, N, q_const, block, watch_g, compiled=True) -> Callable:
    """``block`` steps of the rules of the module docstring, unrolled and compiled (TorchInductor, C++ wrapper).

    ``compiled=False``: the same function run by plain torch, op by op (the rules without the compiler).
    """
    evaluate = _step_function(sizes, shared, loss, N, q_const)

    def run_block(theta, lrs, scale, inactive, limit, runaway, x, n, q):
        rows = []
        for s in range(block):
            L, g = evaluate(theta, x, n, q)
            g2 = torch.linalg.vector_norm(g, 2, dim=1)
            g1 = g.abs().sum(1)
            rows.append(torch.stack((L, g2, g1)))
            limit = torch.where(torch.isnan(limit), L + runaway * L.abs().clamp_min(1.0), limit)
            bad = ~torch.isfinite(L) | (L > limit)
            if watch_g:
                bad = bad | ~torch.isfinite(g2)
            inactive = inactive | bad
            step = torch.where(inactive.unsqueeze(1), torch.zeros_like(g), g * scale)
            theta = theta - lrs[s] * step
        return theta, inactive, limit, torch.stack(rows)

    if not compiled:
        return run_block
    # a code object of its own per shape: torch.compile keeps its compiled programs on the function's
    # code object and stops at 8 (recompile_limit) per code object, so shared code would fail at the 9th shape
    code = run_block.__code__
    own = types.FunctionType(code.replace(co_name=f"run_block_{len(_COMPILED)}", co_qualname=f"run_block_{len(_COMPILED)}"),
                             run_block.__globals__, None, None, run_block.__closure__)
    return torch.compile(own, fullgraph=True, dynamic=False, options={"cpp_wrapper": True})


class CompiledSteps:
    """``block`` gradient-descent steps of an engine's K copies as one compiled call (module docstring).

    Parameters
    ----------
    net : PopulationMLP
        The engine whose data (merged contexts, counts, label smoothing), sizes, loss and
        dtype the steps use (its buffers are not touched).
    block : int
        Steps per compiled call (default :data:`BLOCK`).
    record_true : bool
        Watch |g|_2 for overflow too (the loop's rule with ``record_true``); |g|_2 and |g|_1
        are returned either way.
    compile : bool
        False: run the same block function op by op in plain torch, without the compiler (slow:
        for checking the block's rules where no compiler is).

    Raises
    ------
    ParameterError
        When ``block`` is not a positive integer, or no C++ compiler is found.

    Examples
    --------
    Building one compiles on the first call (``tests/agents/language_model/test_compiled.py``
    runs it against the eager engine); a bad block size is refused before:

    >>> net = PopulationMLP((4, 2, 4), torch.eye(4, dtype=torch.float64), torch.tensor([1, 2, 3, 0]), 1)
    >>> CompiledSteps(net, block=0)
    Traceback (most recent call last):
    hierarchy.errors.ParameterError: block=0; give a positive number of steps per compiled call, such as 8
    """

    def __init__(self, net: PopulationMLP, block: int = BLOCK, record_true: bool = True, compile: bool = True):
        if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block < 1:
            raise ParameterError(f"block={block!r}; give a positive number of steps per compiled call, such as {BLOCK}")
        if compile and not compiler_available():
            raise ParameterError("engine='compiled' needs a C++ compiler for torch.compile and none works here; "
                                 "install g++ (or clang++) and Python's headers, or use engine='eager'")
        self.block = int(block)
        self.K, self.P, self.dtype = net.K, net.P, net.theta.dtype
        data = net.step_data()  # the inputs without the ones and padding rows (the biases are added separately here)
        self.x, self.n, self.q = data.x, data.n, data.q
        key = (net.sizes, data.shared, net.loss, net.N, data.brier_constant, self.block, bool(record_true),
               self.K, str(self.dtype), torch.get_num_threads(), bool(compile))  # threads: set at compile time
        if key not in _COMPILED:  # one compiled program per shape, reused by every later run of it
            _COMPILED[key] = _compile(*key[:7], compiled=bool(compile))
        self._run = _COMPILED[key]

    def __call__(self, theta: torch.Tensor, lrs: torch.Tensor, scale: torch.Tensor, inactive: torch.Tensor,
                 limit: torch.Tensor, runaway: torch.Tensor):
        """One block: (theta after it, inactive, limit, records [block, 3, K] of L, |g|_2, |g|_1).

        ``lrs`` [block] (0 past the run's last step), ``scale`` [K, 1], ``inactive`` bool [K],
        ``limit`` [K] (NaN: set it from this block's first L; +inf: no runaway rule),
        ``runaway`` a 0-dim tensor R.
        """
        return self._run(theta, lrs, scale, inactive, limit, runaway, self.x, self.n, self.q)
