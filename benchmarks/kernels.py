"""Benchmark: the C++ kernels of the hot paths against the code they stand in for.

Each row times, in one process and interleaved (``benchmarks.population.interleaved``,
medians), the plain computation and the kernel that ``engine="auto"`` picks where it builds,
on the shapes ``mesastack compare-definitions`` runs (and the benchmarks' mid-size language model), after
checking that the two agree:

  rand f64 / f32   torch.rand of one in-context copy's inputs [1024, 11, 10] against
                   agents.mersenne.rand (the same numbers: equal bit for bit)
  randn f64        torch.randn [1024, 10] against agents.mersenne.randn (equal bit for bit)
  lsa loss+grad    the one-layer linear self-attention's loss and gradient, K = 8 copies of
                   1024 tasks, d = 10, float32: the torch engine against
                   agents.in_context.attention_kernel (agreement: relative, to float32 rounding)
  optimal values   agents.maze.planning.optimal_values of 960 mazes of 7x7, gamma 0.95:
                   numpy against agents.maze.planning_kernel (equal bit for bit)
  greedy paths     agents.maze.planning.greedy_paths on them, 49 steps, 8 generators:
                   numpy against the kernel (equal bit for bit)
  one-hot K=1/16   one loss-and-gradient evaluation of benchmarks/population.py's mid-size model
                   (128 one-hot features, 128 hidden units, 2048 rows, float32), K copies: the first
                   layer as matrix products (first_layer="product") against agents.language_model.one_hot's
                   gathers and scatters (agreement: L and the gradient, relative, to float32 rounding)
  fused loss K=1/16  the same evaluation with the softmax, L and delta as torch's passes
                   (loss_pass="torch") against agents.language_model.fused_loss's one pass (the
                   first layer gathered in both; agreement as above)

A row whose numbers do not agree says ``DIFFERS`` (a finding, not tuned away). torch on one
thread (as the leaves run). Printed: ms per call of each, plain / kernel, and the load average.

Usage:
    python benchmarks/kernels.py [--repeats 15] [--json PATH]
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

from agents import mersenne  # noqa: E402
from agents.in_context.attention import LinearSelfAttention  # noqa: E402
from agents.in_context.attention_kernel import attention_kernel_available  # noqa: E402
from agents.in_context.tasks import TaskDistribution, sample_tasks  # noqa: E402
from agents.in_context.training import stack_tasks  # noqa: E402
from agents.language_model.fused_loss import fused_loss_available  # noqa: E402
from agents.language_model.one_hot import one_hot_available  # noqa: E402
from agents.maze.grid import MazeDistribution, stack_mazes  # noqa: E402
from agents.maze.planning import action_values, greedy_paths, optimal_values  # noqa: E402
from agents.maze.planning_kernel import planning_kernel_available  # noqa: E402
from agents.torch_random import torch_generator  # noqa: E402
from benchmarks.population import interleaved  # noqa: E402


def _draws(dtype, normal: bool, shape):
    theirs, ours = (torch.randn, mersenne.randn) if normal else (torch.rand, mersenne.rand)

    def plain():
        return theirs(*shape, generator=torch.Generator().manual_seed(1), dtype=dtype)

    def kernel():
        return ours(shape, torch.Generator().manual_seed(1), dtype)

    return plain, kernel, lambda a, b: 0.0 if torch.equal(a, b) else float("inf")


def _attention():
    m = LinearSelfAttention(d=10)
    dists = [TaskDistribution(distractors=3 * (k % 2)) for k in range(8)]
    tasks = stack_tasks(sample_tasks(d, torch_generator(k), 1024, torch.float32) for k, d in enumerate(dists))
    params = torch.randn(8, m.parameter_count(), generator=torch.Generator().manual_seed(0)) * 0.1

    def rel(a, b):
        return max(float((x.double() - y.double()).abs().max() / y.double().abs().max()) for x, y in zip(a, b))

    return (lambda: m.loss_and_gradient(params, tasks, engine="torch"),
            lambda: m.loss_and_gradient(params, tasks, engine="kernel"), rel)


def _mazes():
    mazes = MazeDistribution(size=7, extra_green=2).sample(120, 0)
    _, succ, valid = stack_mazes(mazes)
    succ, valid = np.tile(succ, (8, 1, 1)), np.tile(valid, (8, 1, 1))
    r = np.random.default_rng(0).normal(size=(960, 49))
    return succ, valid, r


def _values():
    succ, _, r = _mazes()
    same = lambda a, b: 0.0 if np.array_equal(a, b) else float("inf")
    return (lambda: optimal_values(r, succ, 0.95, engine="numpy"),
            lambda: optimal_values(r, succ, 0.95, engine="kernel"), same)


def _greedy():
    succ, valid, r = _mazes()
    V = optimal_values(r, succ, 0.95)
    q = action_values(r, V, succ, valid, 0.95)
    starts = np.full(960, 42)

    def walk(engine):
        gens = [np.random.default_rng(k) for k in range(8)]
        return greedy_paths(q, succ, starts, np.zeros(960, dtype=np.int64), 49, gens, engine=engine)

    same = lambda a, b: 0.0 if all(np.array_equal(x, y) for x, y in zip(a, b)) else float("inf")
    return lambda: walk("numpy"), lambda: walk("kernel"), same


def _switched(K: int, switch: str, plain: str, kernel: str):
    """The mid-size model's loss and gradient with the engine's ``switch`` set to ``plain`` and to ``kernel``."""
    from agents.language_model.mlp import PopulationMLP
    from benchmarks.population import problem

    x, y, sizes = problem("mid")
    nets = [PopulationMLP(sizes, x, y, K, "float32", **{switch: v}) for v in (plain, kernel)]
    theta = torch.randn(K, nets[0].P, generator=torch.Generator().manual_seed(0)) * 0.1
    for net in nets:
        net.theta.copy_(theta)

    def evaluate(net):
        return lambda: (net.loss_and_gradient().clone(), net.grad.clone())

    def rel(a, b):
        return max(float((u.double() - v.double()).abs().max() / v.double().abs().max()) for u, v in zip(a, b))

    return evaluate(nets[0]), evaluate(nets[1]), rel


def main(argv=None) -> list:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--json", help="write the rows {case, plain_ms, kernel_ms, agreement} here")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cases = {}
    if mersenne.engine().startswith("C++"):
        cases["rand f64"] = lambda: _draws(torch.float64, False, (1024, 11, 10))
        cases["rand f32"] = lambda: _draws(torch.float32, False, (1024, 11, 10))
        cases["randn f64"] = lambda: _draws(torch.float64, True, (1024, 10))
    if attention_kernel_available():
        cases["lsa loss+grad"] = _attention
    if planning_kernel_available():
        cases["optimal values"] = _values
        cases["greedy paths"] = _greedy
    if one_hot_available():
        cases["one-hot K=1"] = lambda: _switched(1, "first_layer", "product", "gather")
        cases["one-hot K=16"] = lambda: _switched(16, "first_layer", "product", "gather")
    if fused_loss_available():
        cases["fused loss K=1"] = lambda: _switched(1, "loss_pass", "torch", "fused")
        cases["fused loss K=16"] = lambda: _switched(16, "loss_pass", "torch", "fused")
    if not cases:
        print("no C++ compiler here: no kernel can be built (engine='auto' runs the plain code); nothing to compare")
        return []
    print("C++ kernels against the plain code, torch on 1 thread; load average "
          + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    print(f"{'case':16s} {'plain ms':>9s} {'kernel ms':>10s} {'plain/kernel':>13s}  agreement")
    out = []
    for name, make in cases.items():
        plain, kernel, compare = make()
        diff = compare(kernel(), plain())
        t = interleaved({"plain": plain, "kernel": kernel}, args.repeats)
        agree = "equal" if diff == 0.0 else (f"{diff:.1e}" if diff < 1e-5 else f"DIFFERS {diff:.1e}")
        print(f"{name:16s} {t['plain'] * 1e3:9.3f} {t['kernel'] * 1e3:10.3f} {t['plain'] / t['kernel']:13.1f}  {agree}")
        out.append({"case": name, "plain_ms": t["plain"] * 1e3, "kernel_ms": t["kernel"] * 1e3, "agreement": diff})
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
