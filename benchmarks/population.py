"""Benchmark: the batched population engine against a loop over K separate torch models.

For K in 1, 16, 64, 256 and two models (float32, full batch, one gradient step =
forward + backward + recording + update):
  tiny: vocabulary 8, context 2, hidden 8, 64 examples
  mid:  vocabulary 64, context 2, hidden 128, 2048 examples
the naive side trains K separate ``nn.Module``s, each with its own ``torch.optim.SGD``
and autograd; the batched side runs ``agents.language_model.gradient_descent.descend`` (the
one training loop ``agents.training.train`` with ``sgd``) on one ``PopulationMLP`` (records L,
G, G1 every step: it does more work than the naive side).
Both see the same data and the same dense one-hot inputs, one row per example (the
batched side does not merge repeated contexts here, as GradientDescent does).

Printed: medians over repeats of the time per step, the ratio naive / batched; for the
mid-size model the batched step's achieved GFLOP/s (the FLOPs of the model's forward and
backward matrix products, 2 N (2 D H + 3 H V) per copy) next to a large float32 matrix
product's GFLOP/s timed in the same turns; the cost of recording the true objectives
(record_true=True against False) as a percentage of the step; and the targets (tiny
K=256 at least 50x, mid at least 40% of the product's rate, recording under 5%).
All timings interleave the compared functions (a, b, a, b, ...) so that changes in
the load of a shared machine fall on both alike. Threads default to 2 (the cores).

Usage:
    python benchmarks/population.py [--repeats 5] [--quick] [--threads 2] [--json PATH]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.language_model.gradient_descent import descend  # noqa: E402
from agents.language_model.markov import MarkovChain  # noqa: E402
from agents.language_model.mlp import PopulationMLP, init_parameters, layer_sizes, split_parameters  # noqa: E402

MODELS = {
    "tiny": dict(vocab=8, order=2, hidden=8, examples=64),
    "mid": dict(vocab=64, order=2, hidden=128, examples=2048),
}
LR = 0.1


def problem(model: str, seed: int = 0):
    """Data (one-hot inputs [N, D] float32, targets [N]) and layer sizes of a benchmark model."""
    spec = MODELS[model]
    chain = MarkovChain.random(spec["vocab"], spec["order"], 0.3, seed=seed)
    data = chain.sample(spec["examples"], seed=seed + 1)
    x = torch.from_numpy(data.inputs(np.float32))
    y = torch.from_numpy(data.targets)
    sizes = layer_sizes(x.shape[1], (spec["hidden"],), spec["vocab"])
    return x, y, sizes


def matmul_flops_per_step(sizes, N: int) -> int:
    """FLOPs of one step's matrix products for one copy.

    Forward: 2 N n_{l-1} n_l per layer; backward: the same for every weight gradient
    h_{l-1}^T delta_l, and again for every back-propagated delta_l W_l^T (all layers but
    the first).
    """
    per_layer = [2 * N * sizes[l - 1] * sizes[l] for l in range(1, len(sizes))]
    return int(2 * sum(per_layer) + sum(per_layer[1:]))


def batched_stepper(x, y, sizes, K: int, steps: int, record_true: bool = True):
    """A function running ``steps`` steps of the batched engine (one PopulationMLP, K copies).

    ``descend`` evaluates the objectives steps + 1 times (the start and after each
    update), so one call costs steps + 1 forward-backward passes and ``steps`` updates:
    divide its time by steps + 1 for the time of one step (the update, a single
    elementwise pass, is then under-counted by at most 1 / (steps + 1) of itself).
    """
    theta0 = init_parameters(sizes, np.random.SeedSequence(0).spawn(K))
    net = PopulationMLP(sizes, x, y, K, "float32")
    lrs = np.full(steps, LR)
    return lambda: descend(net, theta0, lrs, None, steps, record_true)


def naive_stepper(x, y, sizes, K: int, steps: int):
    """A function running ``steps`` steps of K separate nn.Modules, each with its own SGD and autograd.

    Copy k starts from the same parameters as copy k of the batched side.
    """
    theta0 = init_parameters(sizes, np.random.SeedSequence(0).spawn(K))
    models, opts = [], []
    for k in range(K):
        layers = []
        for l, (W, b) in enumerate(split_parameters(theta0[k : k + 1], sizes)):
            lin = torch.nn.utils.skip_init(torch.nn.Linear, W.shape[1], W.shape[2])  # no global-RNG init
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(W[0].T.copy()))
                lin.bias.copy_(torch.from_numpy(b[0].copy()))
            layers.append(lin)
            if l < len(sizes) - 2:
                layers.append(torch.nn.Tanh())
        m = torch.nn.Sequential(*layers)
        models.append(m)
        opts.append(torch.optim.SGD(m.parameters(), lr=LR))

    def run():
        for _ in range(steps):
            for m, opt in zip(models, opts):
                opt.zero_grad(set_to_none=True)
                loss = torch.nn.functional.cross_entropy(m(x), y)
                loss.backward()
                opt.step()

    return run


def interleaved(fns: dict, repeats: int) -> dict:
    """Median seconds of each function, timed in turns (a, b, b, a, a, b, ...: the order
    flips every round) so that changes in the machine's load and any first-in-round
    effect fall on all of them alike; one untimed warm-up call each. Python's garbage
    collector is paused while timing, as ``timeit`` does."""
    for f in fns.values():
        f()
    times = {k: [] for k in fns}
    order = list(fns.items())
    gc.collect()
    gc.disable()
    try:
        for r in range(repeats):
            for k, f in order if r % 2 == 0 else order[::-1]:
                t0 = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t0)
    finally:
        gc.enable()
    return {k: statistics.median(v) for k, v in times.items()}


def peak_stepper(n: int = 2048):
    """A function computing one large float32 matrix product (2 n^3 FLOPs)."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen)
    b = torch.randn(n, n, generator=gen)
    out = torch.empty(n, n)
    return lambda: torch.mm(a, b, out=out)


def main(argv=None) -> list:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats per case (median reported)")
    ap.add_argument("--quick", action="store_true", help="fewer steps and repeats (a smoke run)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2, this machine's cores)")
    ap.add_argument("--json", type=Path, default=None, help="write the rows as JSON to this path")
    ap.add_argument("--models", default="tiny,mid", help="comma-separated subset of tiny,mid")
    ap.add_argument("--K", default="1,16,64,256", help="comma-separated population sizes")
    args = ap.parse_args(argv)
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in MODELS]
    if unknown or args.repeats < 1 or args.threads < 1:
        ap.error(f"models must be among {sorted(MODELS)}, repeats and threads >= 1")
    torch.set_num_threads(args.threads)
    repeats = 2 if args.quick else args.repeats
    Ks = [int(k) for k in args.K.split(",")]

    def load() -> str:
        try:
            return "load average " + " ".join(open("/proc/loadavg").read().split()[:3])
        except OSError:
            return "load average unknown"

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {load()}; float32, one step = forward + backward + update")
    rows = []
    peak_flops = 2 * 2048**3
    print(f"{'model':5s} {'K':>4s} {'naive ms':>10s} {'batched ms':>11s} {'ratio':>8s} {'GFLOP/s':>8s} {'mm GFLOP/s':>11s}")
    for model in models:
        x, y, sizes = problem(model)
        flops = matmul_flops_per_step(sizes, x.shape[0])
        for K in Ks:
            if model == "tiny":
                b_steps, n_steps = (50, 2) if args.quick else (200, 5)
            else:
                b_steps, n_steps = (1, 1) if args.quick else (max(2, 64 // K), 1)
            fns = {"naive": naive_stepper(x, y, sizes, K, n_steps), "batched": batched_stepper(x, y, sizes, K, b_steps)}
            if model == "mid":  # the matrix product in the same turns: it sees the same machine load
                fns["peak"] = peak_stepper()
            t = interleaved(fns, repeats)
            naive, batched = t["naive"] / n_steps, t["batched"] / (b_steps + 1)
            row = dict(model=model, K=K, naive_ms=naive * 1e3, batched_ms=batched * 1e3, ratio=naive / batched,
                       gflops=None, peak_gflops=None)
            if model == "mid":
                row["gflops"] = K * flops / batched / 1e9
                row["peak_gflops"] = peak_flops / t["peak"] / 1e9
            rows.append(row)
            del fns  # free the K models before the next case
            g = f"{row['gflops']:8.1f} {row['peak_gflops']:11.1f}" if row["gflops"] else f"{'':8s} {'':11s}"
            print(f"{model:5s} {K:4d} {naive * 1e3:10.3f} {batched * 1e3:11.3f} {naive / batched:8.1f} {g}", flush=True)
    for r in rows:
        if r["model"] == "mid":
            print(f"mid K={r['K']:<4d} batched step at {100 * r['gflops'] / r['peak_gflops']:.0f}% of the large matrix "
                  f"product's rate (timed in the same turns)")

    print("cost of recording the true objectives G and G1 (record_true=True against False):")
    for model, K in (("tiny", 256), ("mid", 64)):
        if model not in models:
            continue
        x, y, sizes = problem(model)
        steps = (50 if args.quick else 400) if model == "tiny" else (1 if args.quick else 2)
        t = interleaved({"with": batched_stepper(x, y, sizes, K, steps, True),
                         "without": batched_stepper(x, y, sizes, K, steps, False)}, max(4, 3 * repeats))
        pct = 100 * (t["with"] - t["without"]) / t["without"]
        print(f"  {model:5s} K={K:<4d} with {t['with'] / (steps + 1) * 1e3:.3f} ms, without {t['without'] / (steps + 1) * 1e3:.3f} ms "
              f"per step: {pct:+.1f}%")
        for r in rows:
            if r["model"] == model and r["K"] == K:
                r["record_true_overhead_pct"] = pct
    print(load())
    targets = [("tiny K=256 ratio >= 50", [r["ratio"] for r in rows if r["model"] == "tiny" and r["K"] == 256], 50, 1),
               ("mid K>=16 batched >= 40% of the matrix product",
                [100 * r["gflops"] / r["peak_gflops"] for r in rows if r["model"] == "mid" and r["K"] >= 16], 40, 1),
               ("recording G, G1 < 5% of the step", [r["record_true_overhead_pct"] for r in rows if "record_true_overhead_pct" in r], 5, -1)]
    for name, vals, bound, sign in targets:
        if vals:
            ok = all(sign * (v - bound) >= 0 for v in vals)
            print(f"target {name}: {'met' if ok else 'MISSED'} ({', '.join(f'{v:.1f}' for v in vals)})")
    if args.json:
        try:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(rows, indent=2))
        except OSError as exc:
            print(f"cannot write {args.json}: {exc}; give a writable path", file=sys.stderr)
            raise SystemExit(1)
    return rows


if __name__ == "__main__":
    main()
