"""Benchmark: the soft value iteration's two engines, the C++ kernel against torch's operations.

``agents.maze.planning.soft_value_iteration`` runs its sweeps in the C++ kernel
(``engine="kernel"``, :mod:`agents.maze.soft_kernel`; what ``"auto"`` picks where it builds)
or as torch operations (``engine="torch"``). Timed, in one process and interleaved
(``benchmarks.population.interleaved``, medians), one call forward and backward (the
gradient of sum V_H, as gradient descent and max-ent IRL take it) on the shapes the
project runs:

  irl        max-ent IRL's log Z: gamma = 1 from V_0 = r, H = 48 sweeps, 7x7 mazes, R rows
             (systems x mazes; compare-definitions' Example 4 has 192)
  planner    the soft planner's training: gamma = 0.95 from V_0 = 0, H = 40 sweeps, 7x7 mazes,
             R rows (copies x training mazes)

Before a row is printed the two engines' values and gradients are compared (relative
``RTOL``); a row that does not agree says ``DIFFERS`` (a finding, not tuned away). torch on
one thread (as the maze leaves run). Printed: ms per call of each engine, torch / kernel,
and the load average.

Usage:
    python benchmarks/soft_value_iteration.py [--rows 8,64,192,1024] [--repeats 15] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.maze.grid import MazeDistribution, stack_mazes  # noqa: E402
from agents.maze.planning import soft_value_iteration  # noqa: E402
from agents.maze.soft_kernel import soft_kernel_available  # noqa: E402
from benchmarks.population import interleaved  # noqa: E402

#: the engines' agreement (relative, values and gradients)
RTOL = 1e-10
CASES = {"irl": dict(gamma=1.0, from_reward=True, H=48), "planner": dict(gamma=0.95, from_reward=False, H=40)}


def problem(R: int, seed: int = 0):
    """R rows of 7x7 mazes (successors, valid) and rewards [R, 49]."""
    mazes = MazeDistribution(size=7, extra_green=2).sample(R, seed)
    _, succ, valid = stack_mazes(mazes)
    r = torch.as_tensor(np.random.default_rng(seed).normal(size=(R, 49)))
    return torch.as_tensor(succ), torch.as_tensor(valid), r


def call(engine: str, succ, valid, r, gamma: float, from_reward: bool, H: int):
    """One forward and backward pass: (V_H, d sum V_H / dr)."""
    x = r.clone().requires_grad_(True)
    V = soft_value_iteration(x, succ, valid, gamma, H, initial=x if from_reward else None, engine=engine)
    (g,) = torch.autograd.grad(V.sum(), x)
    return V.detach(), g


def worst(a, b) -> float:
    return float(((a - b).abs() / torch.maximum(a.abs(), b.abs()).clamp_min(1.0)).max())


def main(argv=None) -> list:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="8,64,192,1024", help="comma-separated row counts R")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--json", help="write the rows {case, R, torch_ms, kernel_ms} here")
    args = ap.parse_args(argv)
    rows_wanted = [int(v) for v in args.rows.split(",")]
    if not soft_kernel_available():
        print("no C++ compiler here: the kernel cannot be built (engine='auto' runs torch); nothing to compare")
        return []
    torch.set_num_threads(1)
    out = []
    print(f"soft value iteration, one call forward + backward, torch on 1 thread; load average "
          + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    print(f"{'case':8s} {'R':>5s} {'torch ms':>9s} {'kernel ms':>10s} {'torch/kernel':>13s}  agreement")
    for name, case in CASES.items():
        for R in rows_wanted:
            succ, valid, r = problem(R)
            (Vt, gt), (Vk, gk) = (call(e, succ, valid, r, **case) for e in ("torch", "kernel"))
            diff = max(worst(Vt, Vk), worst(gt, gk))
            t = interleaved({e: (lambda e=e: call(e, succ, valid, r, **case)) for e in ("torch", "kernel")},
                            args.repeats)
            agree = f"{diff:.1e}" if diff <= RTOL else f"DIFFERS {diff:.1e}"
            print(f"{name:8s} {R:5d} {t['torch'] * 1e3:9.2f} {t['kernel'] * 1e3:10.2f} "
                  f"{t['torch'] / t['kernel']:13.1f}  {agree}")
            out.append({"case": name, "R": R, "torch_ms": t["torch"] * 1e3, "kernel_ms": t["kernel"] * 1e3,
                        "agreement": diff})
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
