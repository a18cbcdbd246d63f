"""Benchmark: mesastack's batched engine against what a researcher would write instead.

For the tiny and mid-size models of ``benchmarks/population.py`` (float32, full batch,
dense one-hot inputs, one row per example) and K copies, one step = forward + backward +
recording L and G (and G1 where the engine has it) + the SGD update, timed for

  mesastack   ``agents.language_model.gradient_descent.descend`` on one PopulationMLP (the
              one training loop ``agents.training.train``; it also records G1)
  compiled    the same through ``engine="compiled"``: blocks of ``--block`` steps (default 16)
              compiled into one program by ``torch.compile`` (``agents.language_model.compiled``;
              the compile, 10 to 60 s per shape, happens in the untimed first call and is
              printed; "no C++ compiler" without one)
  kernel      the same through ``engine="kernel"``: blocks of 128 steps in the hand-written C++
              kernel (``agents.language_model.kernel``; built once per machine, about 3 s, in the
              untimed first call; "no C++ compiler" without one)
  lanes       the same through ``engine="lanes"``: blocks of 128 steps in the C++ lane kernel, 16
              copies at once, one a vector lane (``agents.language_model.lane_kernel``; a group
              costs the same for 1 copy as for 16, so it pays from K = 16)
  cuda        mesastack's eager engine on the GPU (``device="cuda"``), printed under the row
              where torch sees a GPU (none here: "no GPU")
  torch.func  the PyTorch model-ensembling recipe: ``stack_module_state`` +
              ``functional_call`` + ``vmap(grad_and_value)`` over K stacked nn.Modules
  jax         ``jit(vmap(value_and_grad))`` with the step loop inside ``lax.scan``
              (optional: ``pip install "mesastack[bench]"``; "not installed" without it)
  jax-gather  the same with the first layer as an embedding lookup, ``W_1[tokens].sum(1)``: the JAX
              peer of mesastack's one-hot gathers (``agents.language_model.one_hot``), which the
              eager engine runs for inputs of at least 32 features (the mid-size model)
  naive       a Python loop over K nn.Modules, each with its own autograd and SGD

in one process, interleaved (a, b, c, d, then reversed, ...), medians over repeats. Every
engine evaluates steps + 1 times (the start and after each update) and updates steps
times in a call; the time of a step is the call's time over steps + 1.
Each thread count runs in its own process (JAX's thread pool is fixed when it is
imported): torch on ``--threads`` threads; a threads=1 process is pinned to one core (XLA keeps a thread pool of its own otherwise).
An engine whose case would take too long (estimated from the largest K measured before
it) or too much memory is skipped and says so; mesastack then runs in chunks of copies. All engines start from the same parameters, and the
benchmark checks that L after the timed steps agrees across engines (float32 tolerance)
before it prints a row.

The physical limit of a case: the FLOPs of the step's matrix products
(``benchmarks.population.matmul_flops_per_step``: 2 M n_in n_out per layer forward, the
same for each weight gradient and each back-propagated delta but the input layer's,
about 3x the forward) x K, divided by the float32 rate of a 2048^3 matrix product timed
in the same process (median); "x limit" is mesastack's eager engine's time over that limit, "best x"
the fastest mesastack engine's (eager, compiled, kernel, lanes). A second
limit adds the step's transcendental functions, which every engine must evaluate and no
matrix product does: K M (hidden widths) tanh and K M (vocabulary + 1) exp and log, at the
per-element times of ``torch.tanh`` and ``torch.exp`` on a float32 tensor in cache (16
evaluations a timed call), timed in the same process (:func:`transcendental_stepper`); "x lim+tr" is the fastest mesastack engine
over it (the kernel's tanh and exp, glibc's vector math, are faster than torch's: it can pass this limit). On the tiny model the transcendentals are most of that limit.

Usage:
    python benchmarks/peers.py [--quick] [--threads 1,2] [--K 1,16,...] [--models tiny,mid] [--json PATH]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.language_model.compiled import compiler_available  # noqa: E402
from agents.language_model.kernel import KERNEL_BLOCK, kernel_available  # noqa: E402
from agents.language_model.lane_kernel import lane_kernel_available  # noqa: E402
from agents.language_model.gradient_descent import cache_chunk, descend  # noqa: E402
from agents.language_model.mlp import PopulationMLP, init_parameters, split_parameters  # noqa: E402
from benchmarks.population import LR, MODELS, interleaved, matmul_flops_per_step, peak_stepper, problem  # noqa: E402

ENGINES = ("mesastack", "compiled", "kernel", "lanes", "cuda", "torch.func", "jax", "jax-gather", "naive")
#: mesastack's own engines (the "best" columns take the fastest of them)
OWN = ("mesastack", "compiled", "kernel", "lanes")
KS = (1, 16, 64, 256, 1024, 4096)
#: float32 agreement of L after the timed steps across engines (relative)
RTOL = 2e-4


def load() -> str:
    """The machine's load average, as printed with every table."""
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def start(sizes, K: int) -> np.ndarray:
    """Starting parameters [K, P] (float64) shared by every engine: copy k from child k of seed 0."""
    return init_parameters(sizes, np.random.SeedSequence(0).spawn(K))


def modules(theta0: np.ndarray, sizes) -> list:
    """K ``nn.Sequential`` MLPs (Linear, Tanh, ..., Linear) holding copy k's parameters, float32."""
    out = []
    for k in range(theta0.shape[0]):
        layers = []
        for l, (W, b) in enumerate(split_parameters(theta0[k:k + 1], sizes)):
            lin = torch.nn.utils.skip_init(torch.nn.Linear, W.shape[1], W.shape[2])  # no global-RNG init
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(W[0].T.copy()))
                lin.bias.copy_(torch.from_numpy(b[0].copy()))
            layers.append(lin)
            if l < len(sizes) - 2:
                layers.append(torch.nn.Tanh())
        out.append(torch.nn.Sequential(*layers))
    return out


# -- the engines: each a function of (x, y, sizes, theta0, steps) returning run() -> [2, K, steps + 1]:
# L and G at the start and after each of `steps` updates (float64)

def mesastack_engine(x, y, sizes, theta0, steps, chunk=None):
    """``descend`` on one PopulationMLP: L, G, G1 recorded at every step (steps + 1 evaluations).

    The copies run in chunks as ``GradientDescent.run`` runs them: at most ``chunk`` at a time
    (memory: each chunk an engine built in the timed call, as the run builds them) and at most
    :func:`~agents.language_model.gradient_descent.cache_chunk` (their activations within the cache
    budget: those engines are built beforehand, as the unchunked one is, since a run of many steps
    builds each once).
    """
    K = theta0.shape[0]
    lrs = np.full(steps, LR)
    # the copies GradientDescent.run takes at once on the CPU: copy_memory() = 3 * 8 * M * (hidden + V)
    cached = min(K, cache_chunk(3 * 8 * x.shape[0] * sum(sizes[1:]), "float32"))
    if chunk is None or chunk >= K:
        nets = [(lo, min(K, lo + cached), PopulationMLP(sizes, x, y, min(K, lo + cached) - lo, "float32"))
                for lo in range(0, K, cached)]

        def run():
            out = [descend(net, theta0[lo:hi], lrs, None, steps, True)[0] for lo, hi, net in nets]
            return np.concatenate([np.stack([v["L"], v["G"]]) for v in out], axis=1)

        return run
    chunk = min(chunk, cached)

    def run_chunks():
        out = []
        for lo in range(0, K, chunk):
            hi = min(K, lo + chunk)
            values = descend(PopulationMLP(sizes, x, y, hi - lo, "float32"), theta0[lo:hi], lrs, None, steps, True)[0]
            out.append(np.stack([values["L"], values["G"]]))
        return np.concatenate(out, axis=1)

    return run_chunks


#: Steps per compiled call of the "compiled" rows (``--block``; the engine's own default is ``BLOCK``).
COMPILED_BLOCK = 16


def compiled_engine(x, y, sizes, theta0, steps, block=COMPILED_BLOCK, engine="compiled"):
    """A block engine of mesastack's, ``descend`` in blocks of ``block`` steps: ``engine="compiled"``
    (``GradientDescent(engine="compiled", block=COMPILED_BLOCK)``) or ``"kernel"`` (:func:`kernel_engine`).

    The first call compiles the block (untimed: the agreement check makes it); its time is
    printed with the row as "compile".
    """
    K = theta0.shape[0]
    lrs = np.full(steps, LR)
    net = PopulationMLP(sizes, x, y, K, "float32")
    block = min(block, steps + 1)  # a call of few steps (the mid-size model) runs one block, not a padded one

    def run():
        values = descend(net, theta0, lrs, None, steps, True, block=(engine, block))[0]
        return np.stack([values["L"], values["G"]])

    return run


def kernel_engine(x, y, sizes, theta0, steps):
    """mesastack's C++ kernel (``GradientDescent(engine="kernel")``): ``descend`` in blocks of ``KERNEL_BLOCK`` steps."""
    return compiled_engine(x, y, sizes, theta0, steps, block=KERNEL_BLOCK, engine="kernel")


def lanes_engine(x, y, sizes, theta0, steps):
    """mesastack's lane kernel (``GradientDescent(engine="lanes")``): ``descend`` in blocks of ``KERNEL_BLOCK`` steps."""
    return compiled_engine(x, y, sizes, theta0, steps, block=KERNEL_BLOCK, engine="lanes")


def cuda_engine(x, y, sizes, theta0, steps):
    """mesastack's eager engine on the GPU (``GradientDescent(device="cuda")``); rows only where torch sees one.

    The records come back to the CPU at the end of each call (that copy is timed).
    """
    K = theta0.shape[0]
    lrs = np.full(steps, LR)
    net = PopulationMLP(sizes, x, y, K, "float32", device="cuda")

    def run():
        values = descend(net, theta0, lrs, None, steps, True)[0]
        return np.stack([values["L"], values["G"]])

    return run


def torchfunc_engine(x, y, sizes, theta0, steps):
    """The model-ensembling recipe: vmap(grad_and_value) over stacked module state; L and G per step."""
    from torch.func import functional_call, grad_and_value, stack_module_state, vmap

    ms = modules(theta0, sizes)
    params0, buffers = stack_module_state(ms)
    base = copy.deepcopy(ms[0]).to("meta")
    K = theta0.shape[0]

    def loss(p, b, xx, yy):
        return torch.nn.functional.cross_entropy(functional_call(base, (p, b), (xx,)), yy)

    vg = vmap(grad_and_value(loss), in_dims=(0, 0, None, None))

    def run():
        params = {n: v.detach().clone() for n, v in params0.items()}
        rec = torch.empty(steps + 1, 2, K)
        with torch.no_grad():
            for t in range(steps + 1):
                g, L = vg(params, buffers, x, y)
                rec[t, 0] = L
                rec[t, 1] = sum(v.square().flatten(1).sum(1) for v in g.values())
                if t < steps:
                    for n in params:
                        params[n].sub_(g[n], alpha=LR)
        return rec.permute(1, 2, 0).numpy().astype(np.float64)

    return run


def naive_engine(x, y, sizes, theta0, steps):
    """K nn.Modules, each with its own autograd and torch.optim.SGD; L and G recorded per copy and step."""
    ms = modules(theta0, sizes)
    opts = [torch.optim.SGD(m.parameters(), lr=LR) for m in ms]
    states = [copy.deepcopy(m.state_dict()) for m in ms]
    K = len(ms)

    def run():
        for m, s in zip(ms, states):
            m.load_state_dict(s)
        rec = torch.empty(steps + 1, 2, K)
        for t in range(steps + 1):
            for k, (m, opt) in enumerate(zip(ms, opts)):
                opt.zero_grad(set_to_none=True)
                loss = torch.nn.functional.cross_entropy(m(x), y)
                loss.backward()
                with torch.no_grad():
                    rec[t, 0, k] = loss
                    rec[t, 1, k] = sum(p.grad.square().sum() for p in m.parameters())
                if t < steps:
                    opt.step()
        return rec.permute(1, 2, 0).numpy().astype(np.float64)

    return run


def _jax_steps(loss, inputs, y, sizes, theta0, steps):
    """run() of ``jit(vmap(value_and_grad(loss)))`` with the steps inside ``lax.scan``; L, G, G1 per step."""
    import jax
    import jax.numpy as jnp

    ys = jnp.asarray(y.numpy())
    p0 = [tuple(jnp.asarray(a.astype(np.float32)) for a in wb) for wb in split_parameters(theta0, sizes)]
    vg = jax.vmap(jax.value_and_grad(loss), in_axes=(0, None, None))

    def evaluate(p):
        L, g = vg(p, inputs, ys)
        leaves = jax.tree_util.tree_leaves(g)
        G = sum(jnp.sum(jnp.square(v).reshape(v.shape[0], -1), 1) for v in leaves)
        G1 = sum(jnp.sum(jnp.abs(v).reshape(v.shape[0], -1), 1) for v in leaves)
        return L, g, jnp.stack([L, G, G1])

    def body(p, _):
        L, g, rec = evaluate(p)
        return jax.tree_util.tree_map(lambda a, d: a - LR * d, p, g), rec

    @jax.jit
    def run_steps(p):
        p, rec = jax.lax.scan(body, p, None, length=steps)  # [steps, 3, K]
        last = evaluate(p)[2]  # the evaluation after the last update, as the others do
        return jnp.concatenate([rec, last[None]], 0)

    def run():
        out = np.asarray(jax.block_until_ready(run_steps(p0)), dtype=np.float64)
        return out[:, :2].transpose(1, 2, 0)

    return run


def _cross_entropy(z, yy):
    import jax
    import jax.numpy as jnp

    return jnp.mean(jax.nn.logsumexp(z, axis=-1) - jnp.take_along_axis(z, yy[:, None], axis=-1)[:, 0])


def jax_engine(x, y, sizes, theta0, steps):
    """``jit(vmap(value_and_grad))`` with the steps inside ``lax.scan``; L, G, G1 per step."""
    import jax.numpy as jnp

    def loss(p, xx, yy):
        h = xx
        for W, b in p[:-1]:
            h = jnp.tanh(h @ W + b)
        return _cross_entropy(h @ p[-1][0] + p[-1][1], yy)

    return _jax_steps(loss, jnp.asarray(x.numpy()), y, sizes, theta0, steps)


def jax_gather_engine(x, y, sizes, theta0, steps):
    """:func:`jax_engine` with the first layer as an embedding lookup, ``W_1[tokens].sum(1) + b_1`` (its gradient
    XLA's scatter-add): what a JAX user who knows the inputs are one-hot would write, the peer of mesastack's
    gathers (``agents.language_model.one_hot``)."""
    import jax.numpy as jnp

    from agents.language_model.one_hot import one_hot_indices

    idx = one_hot_indices(x)
    if idx is None:
        raise SystemExit("the benchmark's inputs are not one-hot rows; jax-gather needs them")

    def loss(p, ii, yy):
        W, b = p[0]
        z = W[ii].sum(1) + b  # the first layer's pre-activations: rows of W_1 summed
        for W, b in p[1:]:
            z = jnp.tanh(z) @ W + b
        return _cross_entropy(z, yy)

    return _jax_steps(loss, jnp.asarray(idx.T.numpy()), y, sizes, theta0, steps)  # [N, r] feature ids


#: the engines that need a C++ kernel built here, with their checks
NATIVE = {"kernel": kernel_available, "lanes": lane_kernel_available}

ENGINE_FNS = {"mesastack": mesastack_engine, "compiled": compiled_engine, "kernel": kernel_engine, "lanes": lanes_engine, "cuda": cuda_engine,
              "torch.func": torchfunc_engine, "jax": jax_engine, "jax-gather": jax_gather_engine, "naive": naive_engine}


def jax_available() -> bool:
    """Whether JAX can be imported (the optional ``bench`` extra)."""
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


def memory_bytes(engine: str, sizes, M: int, K: int) -> float:
    """A rough lower bound of an engine's working memory: its [K, M, width] activations and their gradients, float32.

    mesastack keeps about 4 such buffers of every width, as XLA's fused program does,
    torch.func about 6 (activations, pre-activations, gradients, and the vmapped
    intermediates); the naive loop holds one copy's at a time; the kernel, one tile of 64
    rows per thread.
    """
    if engine in ("kernel", "lanes"):  # a tile per thread: 64 rows of one copy, or 16 rows of 16 copies
        return 4.0 * 4 * 64 * sum(sizes[1:]) * 2
    per_copy = 4.0 * M * sum(sizes[1:])
    copies = 1 if engine == "naive" else K
    return (6 if engine in ("torch.func", "compiled") else 4) * per_copy * copies


def case_steps(model: str, K: int, quick: bool) -> int:
    """Timed steps per call: enough that the per-call set-up is small next to them."""
    if model == "tiny":
        return 20 if quick else (200 if K <= 256 else 50)
    return 1 if quick or K >= 256 else 4


#: Elements of the float32 tensor the transcendental rates are timed on (in cache: the compute rate),
#: and the evaluations per timed call (the first, after the other engines have filled the caches, is slower).
TRANSCENDENTAL_ELEMENTS = 1 << 16
TRANSCENDENTAL_CALLS = 16


def transcendental_stepper(fn=torch.tanh, n: int = TRANSCENDENTAL_ELEMENTS, calls: int = TRANSCENDENTAL_CALLS):
    """A function evaluating ``fn`` (torch.tanh or torch.exp) ``calls`` times on ``n`` float32 elements into an
    output buffer (its time over ``calls * n`` is the time of one element)."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, generator=gen)
    out = torch.empty(n)

    def run():
        for _ in range(calls):
            fn(a, out=out)
        return out

    return run


def transcendentals_per_step(sizes, M: int) -> tuple:
    """(tanh, exp-like) evaluations of one step for one copy over M rows: tanh of every hidden
    unit; exp of every output and one log per row (the backward pass reuses them)."""
    return int(M * sum(sizes[1:-1])), int(M * (sizes[-1] + 1))


def child(args) -> list:
    """One thread count: every case, engines interleaved; returns the rows."""
    torch.set_num_threads(args.threads)
    have_jax = jax_available()
    repeats = 3 if args.quick else args.repeats
    peak = peak_stepper()
    tanh, exp = transcendental_stepper(torch.tanh), transcendental_stepper(torch.exp)
    rows = []
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"\n== torch {torch.__version__} on {torch.get_num_threads()} thread(s); process on {cores} core(s); "
          f"XLA {'1 thread' if args.threads == 1 else 'default pool'}; "
          f"jax {'available' if have_jax else 'not installed'}; {load()}", flush=True)
    hdr = (f"{'model':5s} {'K':>5s} {'mesastack':>10s} {'compiled':>9s} {'kernel':>9s} {'lanes':>9s} {'torch.func':>11s} {'jax':>10s} {'jax-gather':>10s}"
           f" {'naive':>10s} {'limit':>9s} {'x limit':>8s} {'best x':>8s} {'lim+tr':>9s} {'x lim+tr':>8s}  (ms per step; mm GFLOP/s; tanh, exp"
           f" ns/element; best x: the fastest mesastack engine over the limit; lim+tr: with the transcendentals)")
    print(hdr, flush=True)
    est_per_copy = {}  # (model, engine) -> seconds per copy-step at the largest K measured so far
    for model in args.models:
        x, y, sizes = problem(model)
        flops = matmul_flops_per_step(sizes, x.shape[0])
        M = x.shape[0]
        for K in args.K:
            if args.quick and model == "mid" and K > 64:
                continue
            steps = case_steps(model, K, args.quick)
            reps = repeats if K * flops * steps < 2e11 else 2  # the large mid-size cases take seconds a call
            theta0 = start(sizes, K)
            fns, why = {}, {}
            for e in ENGINES:
                if e.startswith("jax") and not have_jax:
                    why[e] = "not installed"
                    continue
                if e == "cuda" and not torch.cuda.is_available():
                    why[e] = "no GPU"
                    continue
                if e == "compiled" and not compiler_available():
                    why[e] = "no C++ compiler"
                    continue
                if e in NATIVE and not NATIVE[e]():
                    why[e] = "no C++ compiler"
                    continue
                if e == "compiled" and K > args.compiled_max_k:
                    why[e] = f"skipped (K > --compiled-max-k {args.compiled_max_k})"
                    continue
                need = memory_bytes(e, sizes, M, K)
                chunk = None
                if need > args.mem_budget * 2**30:
                    if e != "mesastack":  # the compiled engine too: it has no chunks
                        why[e] = f"skipped (memory: est. {need / 2**30:.0f} GiB)"
                        continue
                    chunk = max(1, int(K * args.mem_budget * 2**30 / need))
                    why[e] = f"in chunks of {chunk} copies (est. {need / 2**30:.0f} GiB at once)"
                per = est_per_copy.get((model, e))
                if per is not None and e in ("naive", "torch.func", "kernel", "lanes"):
                    est = per * K * (steps + 1) * (reps + 2)
                    if est > args.max_case_s:
                        why[e] = f"skipped (too slow: est. {est:.0f} s)"
                        continue
                if e == "compiled":
                    fns[e] = compiled_engine(x, y, sizes, theta0, steps, block=args.block)
                elif chunk:
                    fns[e] = ENGINE_FNS[e](x, y, sizes, theta0, steps, chunk)
                else:
                    fns[e] = ENGINE_FNS[e](x, y, sizes, theta0, steps)
            # agreement: one untimed call each (also the warm-up: JAX and the compiled engine compile here)
            finals, warm = {}, {}
            for e, f in fns.items():
                t0 = time.perf_counter()
                finals[e] = f()
                warm[e] = time.perf_counter() - t0
            ref = finals.get("mesastack")
            for e, out in finals.items():
                if ref is None:
                    break
                L, L_ref = out[0, :, -1], ref[0, :, -1]
                if not np.allclose(L, L_ref, rtol=RTOL, atol=1e-6):
                    worst = float(np.max(np.abs(L - L_ref) / np.maximum(np.abs(L_ref), 1e-6)))
                    raise SystemExit(f"{e} and mesastack disagree on L after {steps} steps at {model} K={K} "
                                     f"(relative {worst:.2e} > {RTOL}); the engines no longer compute the same thing")
            timed = dict(fns, peak=peak, tanh=tanh, exp=exp)
            t = interleaved(timed, reps)
            rate = 2 * 2048**3 / t.pop("peak")
            per = TRANSCENDENTAL_ELEMENTS * TRANSCENDENTAL_CALLS
            t_tanh, t_exp = t.pop("tanh") / per, t.pop("exp") / per
            n_tanh, n_exp = transcendentals_per_step(sizes, M)
            limit = K * flops / rate
            limit_tr = limit + K * (n_tanh * t_tanh + n_exp * t_exp)
            # every engine runs steps + 1 evaluations (forward + backward + recording) and steps updates:
            # one step = one evaluation and its update (the update, one elementwise pass, is
            # under-counted by 1 / (steps + 1) of itself), as benchmarks/population.py counts it
            ms = {e: t[e] / (steps + 1) * 1e3 for e in fns}
            for e, v in ms.items():
                rows.append(dict(model=model, K=K, threads=args.threads, engine=e, ms_per_step=v,
                                 **({"first_call_s": warm[e]} if e == "compiled" else {})))
                est_per_copy[(model, e)] = v / 1e3 / K  # from the largest K so far: the cost per copy falls with K
            rows.append(dict(model=model, K=K, threads=args.threads, engine="limit", ms_per_step=limit * 1e3,
                             matmul_gflops=rate / 1e9))
            rows.append(dict(model=model, K=K, threads=args.threads, engine="limit+transcendentals",
                             ms_per_step=limit_tr * 1e3, tanh_ns=t_tanh * 1e9, exp_ns=t_exp * 1e9))

            def cell(e, w):
                if e in ms:
                    return f"{ms[e]:{w}.3f}"
                text = why.get(e, "-")
                tag = "too slow" if "too slow" in text else "memory" if "memory" in text else "not inst." if "not" in text else text
                return f"{tag:>{w}s}"

            dist = f"{ms['mesastack'] / (limit * 1e3):8.1f}" if "mesastack" in ms else f"{'-':>8s}"
            best = min(v for e, v in ms.items() if e in OWN) if "mesastack" in ms else None
            dist_best = f"{best / (limit * 1e3):8.1f}" if best is not None else f"{'-':>8s}"
            dist_tr = f"{best / (limit_tr * 1e3):8.1f}" if best is not None else f"{'-':>8s}"
            print(f"{model:5s} {K:5d} {cell('mesastack', 10)} {cell('compiled', 9)} {cell('kernel', 9)} {cell('lanes', 9)} {cell('torch.func', 11)} {cell('jax', 10)}"
                  f" {cell('jax-gather', 10)} {cell('naive', 10)} {limit * 1e3:9.4g} {dist} {dist_best} {limit_tr * 1e3:9.4g} {dist_tr}"
                  f"  ({rate / 1e9:.0f}; {t_tanh * 1e9:.2f}, {t_exp * 1e9:.2f})", flush=True)
            if "cuda" in ms:
                print(f"      cuda ({torch.cuda.get_device_name()}): {ms['cuda']:.4g} ms per step, "
                      f"{ms['mesastack'] / ms['cuda']:.2f}x the CPU engine" if "mesastack" in ms else "")
            if "compiled" in ms:
                print(f"      compiled: first call (compiling, or loading torch's cache) {warm['compiled']:.1f} s")
            for e, w in why.items():
                if len(w) > 10 or e in ms:
                    print(f"      {e}: {w}")
            del fns, timed
    print(load(), flush=True)
    return rows


def large(K: int, steps: int, threads: int) -> dict:
    """A K-copy run of the mid-size model through ``GradientDescent.run`` (chunked automatically), in this process.

    Reports its wall time, chunk, peak resident memory (``resource.getrusage``: the most
    this process held, its data and torch included) and the largest relative difference of
    the first 8 copies' L, G and final parameters from an unchunked run of those 8 alone.
    """
    import resource

    from agents.language_model.gradient_descent import GradientDescent
    from agents.language_model.markov import MarkovChain
    from agents.language_model.schedules import Constant

    spec = MODELS["mid"]
    data = MarkovChain.random(spec["vocab"], spec["order"], 0.3, seed=0).sample(spec["examples"], seed=1)
    gd = GradientDescent(data, hidden=(spec["hidden"],), population=K, schedule=Constant(LR), dtype="float32",
                         threads=threads)
    chunk = gd.chunk_size(steps)
    t0 = time.perf_counter()
    run = gd.run(steps, 0)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0
    few = GradientDescent(data, hidden=(spec["hidden"],), population=8, schedule=Constant(LR), dtype="float32",
                          threads=threads, init=run.copy_meta["initial_parameters"][:8]).run(steps, 0, chunk=8)
    diff = max(float(np.max(np.abs(a[:8] - b) / np.maximum(np.abs(b), 1e-30)))
               for a, b in [(run.values[n], few.values[n]) for n in ("L", "G")]
               + [(run.copy_meta["final_parameters"], few.copy_meta["final_parameters"])])
    d = data.context_counts()[0].shape[0]
    unchunked = gd.memory(steps, chunk=K)
    return dict(K=K, steps=steps, threads=threads, chunk=chunk, contexts=d, wall_s=wall, s_per_step=wall / (steps + 1),
                peak_rss_gib=peak / 2**30, estimate_unchunked_gib=unchunked / 2**30,
                estimate_chunked_gib=gd.memory(steps, chunk) / 2**30, max_rel_diff_first8=diff)


def main(argv=None) -> list:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="K 1,16,64,256 (mid: up to 64), fewer steps and repeats")
    ap.add_argument("--threads", default="1,2", help="comma-separated torch thread counts, one process each")
    ap.add_argument("--K", default=None, help="comma-separated population sizes (default 1,16,64,256,1024,4096)")
    ap.add_argument("--models", default="tiny,mid", help="comma-separated subset of tiny,mid")
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats per case (median reported)")
    ap.add_argument("--max-case-s", type=float, default=60.0,
                    help="skip naive, torch.func and kernel cases estimated to take longer")
    ap.add_argument("--mem-budget", type=float, default=10.0,
                    help="GiB: an engine whose working memory is estimated above it is skipped (mesastack: chunked)")
    ap.add_argument("--block", type=int, default=COMPILED_BLOCK, help="steps per compiled call of the compiled rows")
    ap.add_argument("--compiled-max-k", type=int, default=4096,
                    help="largest K timed with the compiled engine (each K compiles for 10 to 60 s)")
    ap.add_argument("--json", type=Path, default=None, help="write rows {model, K, threads, engine, ms_per_step} as JSON")
    ap.add_argument("--large", type=int, default=None, metavar="K",
                    help="instead: one K-copy mid-size run through GradientDescent.run (chunked), its time and peak memory")
    ap.add_argument("--large-steps", type=int, default=2, help="steps of the --large run")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.large is not None:  # in a process of its own, so that its peak memory is its own
        if not args.child:
            cmd = [sys.executable, __file__, "--child", "--large", str(args.large), "--large-steps", str(args.large_steps),
                   "--threads", str(args.threads).split(",")[-1]] + (["--json", str(args.json)] if args.json else [])
            raise SystemExit(subprocess.call(cmd))
        print(f"large run: mid-size model, K={args.large}, {args.large_steps} steps, float32; {load()}", flush=True)
        r = large(args.large, args.large_steps, int(str(args.threads).split(",")[-1]))
        for k, v in r.items():
            print(f"  {k}: {v:.4g}" if isinstance(v, float) else f"  {k}: {v}")
        print(load())
        if args.json:
            args.json.write_text(json.dumps(r, indent=2))
        return [r]
    args.models = [m for m in args.models.split(",") if m]
    threads = [int(t) for t in str(args.threads).split(",") if t]
    if any(m not in ("tiny", "mid") for m in args.models) or not threads or min(threads) < 1 or args.repeats < 1:
        ap.error("models must be among tiny, mid; threads and repeats >= 1")
    if args.K is None:
        args.K = [1, 16, 64, 256] if args.quick else list(KS)
    else:
        args.K = [int(k) for k in args.K.split(",")]
    if args.child:
        args.threads = threads[0]
        if args.threads == 1:
            os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                       " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
            # XLA's CPU runtime keeps a thread pool of its own whatever those flags say (measured: the
            # same times on "1 thread" as on 2): the process is pinned to one core, so every engine
            # of a 1-thread row computes on one core
            if hasattr(os, "sched_setaffinity"):
                os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        rows = child(args)
        if args.json:
            args.json.write_text(json.dumps(rows))
        return rows
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in threads:
            out = Path(tmp) / f"rows{n}.json"
            cmd = [sys.executable, __file__, "--child", "--threads", str(n), "--models", ",".join(args.models),
                   "--K", ",".join(map(str, args.K)), "--repeats", str(args.repeats), "--max-case-s", str(args.max_case_s),
                   "--mem-budget", str(args.mem_budget), "--compiled-max-k", str(args.compiled_max_k), "--block", str(args.block), "--json", str(out)] + (["--quick"] if args.quick else [])
            rc = subprocess.call(cmd)
            if rc != 0:
                raise SystemExit(rc)
            rows += json.loads(out.read_text())
    summary(rows)
    if args.json:
        try:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(rows, indent=2))
        except OSError as exc:
            print(f"cannot write {args.json}: {exc}; give a writable path", file=sys.stderr)
            raise SystemExit(1)
    return rows


def summary(rows: list) -> None:
    """Ratios peer / mesastack per case (> 1: mesastack ahead)."""
    by = {}
    for r in rows:
        by[(r["model"], r["K"], r["threads"], r["engine"])] = r["ms_per_step"]
    print(f"\nratios peer / mesastack (> 1: mesastack faster); {load()}")
    print(f"{'model':5s} {'K':>5s} {'thr':>3s} {'compiled':>9s} {'kernel':>9s} {'lanes':>9s} {'torch.func':>11s} {'jax':>8s} {'jax-g':>8s} {'naive':>8s} {'limit/ms':>9s}"
          f" {'jax/best':>9s}")
    for (m, K, n, e), v in sorted(by.items()):
        if e != "mesastack":
            continue

        def ratio(p):
            return f"{by[(m, K, n, p)] / v:.2f}" if (m, K, n, p) in by else "-"
        best = min(by.get((m, K, n, o), v) for o in OWN)
        jax = [by[(m, K, n, j)] for j in ("jax", "jax-gather") if (m, K, n, j) in by]
        jb = f"{min(jax) / best:.2f}" if jax else "-"  # against the faster JAX
        print(f"{m:5s} {K:5d} {n:3d} {ratio('compiled'):>9s} {ratio('kernel'):>9s} {ratio('lanes'):>9s} {ratio('torch.func'):>11s} {ratio('jax'):>8s}"
              f" {ratio('jax-gather'):>8s} {ratio('naive'):>8s}"
              f" {ratio('limit'):>9s} {jb:>9s}")


if __name__ == "__main__":
    main()
