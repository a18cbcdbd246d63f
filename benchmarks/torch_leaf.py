"""Benchmark: the torch leaf's batched engine (torch.func vmap) against its per-copy loop, on 1 and 2 threads.

The model: an MLP 64 -> 32 -> 2 (tanh) on 253 examples of 64 features (the size of the
digits 3-vs-7 training split), float64, cross-entropy, full-batch ``sgd(0.1)``, recording
L, G, G1 and U every step (``TorchLeaf`` defaults). For K in 1, 16, 64, 256 and threads 1
and 2, the time per step is (t(run of S steps) - t(run of S0 steps)) / (S - S0) (setup,
the explicit start and the engine's first trial step cancel out), a median over repeats;
the engines and thread counts are interleaved inside each repeat (vmap 1, loop 1, vmap 2,
loop 2, ...) so that changes in a shared machine's load fall on all alike.

Printed: ms per step for each engine and thread count, the ratio loop / vmap, and the
ratio 2 threads / 1 thread (above 1: two threads are slower).

Usage:
    python benchmarks/torch_leaf.py [--repeats 5] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.torch_random import torch_generator  # noqa: E402
from agents.torch_training import TorchLeaf  # noqa: E402
from agents.training import sgd  # noqa: E402

KS = (1, 16, 64, 256)
ENGINES = ("vmap", "loop")
THREADS = (1, 2)


def mlp():
    """The benchmark's model, 64 -> 32 -> 2 with tanh."""
    return nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 2))


def data(n: int = 253):
    """n seeded examples of 64 features in [0, 1] with a linear rule's labels."""
    g = torch_generator(0)
    x = torch.rand(n, 64, generator=g, dtype=torch.float64)
    y = (x[:, :32].sum(1) > x[:, 32:].sum(1)).long()
    return x, y


def leaves(K: int):
    """(engine, threads) -> a TorchLeaf of K copies from one explicit start."""
    d = data()
    start = TorchLeaf(mlp, d, population=K).initial_parameters(0)
    return {(e, t): TorchLeaf(mlp, d, population=K, optimizer=sgd(0.1), init=start, engine=e, threads=t)
            for e in ENGINES for t in THREADS}


def timed(leaf, steps: int) -> float:
    t0 = time.perf_counter()
    leaf.run(steps, 0)
    return time.perf_counter() - t0


def measure(K: int, repeats: int, steps: int, base: int) -> dict:
    """(engine, threads) -> median ms per step (module docstring)."""
    per = {key: [] for key in leaves(1)}
    ls = leaves(K)
    for leaf in ls.values():  # warm up (imports, vmap's first trace)
        leaf.run(1, 0)
    for _ in range(repeats):
        for key, leaf in ls.items():
            per[key].append((timed(leaf, steps) - timed(leaf, base)) / (steps - base) * 1e3)
    return {key: statistics.median(v) for key, v in per.items()}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="3 repeats of shorter runs")
    p.add_argument("--json", type=Path, default=None, help="write the medians here")
    a = p.parse_args(argv)
    repeats, steps, base = (3, 6, 1) if a.quick else (a.repeats, 12, 2)
    print(f"torch leaf, MLP 64 -> 32 -> 2, 253 examples, float64, sgd; ms per step, median of {repeats} "
          f"(runs of {steps} minus {base} steps); torch {torch.__version__}")
    print(f"{'K':>4} {'vmap 1t':>9} {'loop 1t':>9} {'loop/vmap':>9} {'vmap 2t':>9} {'loop 2t':>9} {'loop/vmap':>9} "
          f"{'vmap 2t/1t':>10} {'loop 2t/1t':>10}")
    rows = []
    for K in KS:
        m = measure(K, repeats, steps, base)
        row = {"K": K, **{f"{e}_{t}t_ms": m[(e, t)] for e in ENGINES for t in THREADS}}
        rows.append(row)
        print(f"{K:>4} {m[('vmap', 1)]:9.2f} {m[('loop', 1)]:9.2f} {m[('loop', 1)] / m[('vmap', 1)]:9.2f} "
              f"{m[('vmap', 2)]:9.2f} {m[('loop', 2)]:9.2f} {m[('loop', 2)] / m[('vmap', 2)]:9.2f} "
              f"{m[('vmap', 2)] / m[('vmap', 1)]:10.2f} {m[('loop', 2)] / m[('loop', 1)]:10.2f}", flush=True)
    out = {"model": "MLP 64-32-2 tanh, 253 examples, float64", "repeats": repeats, "rows": rows}
    if a.json:
        a.json.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
