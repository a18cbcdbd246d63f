"""Benchmark: every trained leaf but the language model's, batched against a per-copy loop of the same code.

For each leaf, K copies computed the project's way (one batched call) against a naive
loop that calls the SAME function on one copy at a time (K = 1 each), in one process,
interleaved (a, b, then b, a, ...; ``benchmarks.population.interleaved``), medians:

  planner-training    agents.maze.planner_training.train_planners (Adam on L_b through soft
                      value iteration), 7x7 mazes, 8 training mazes per copy, PlannerSpec defaults
  planner-deployment  PlannerPopulation.deploy: exact value iteration (optimal_values) and
                      greedy rollouts on 120 (quick: 40) 7x7 mazes per copy
  reactive-training   agents.maze.reactive.train_reactive (behaviour cloning, Adam), 16 mazes, 150 steps
  irl                 agents.maze.irl.maxent_irl on 24 (quick: 12) sampled episodes of a reactive
                      policy per copy (distinct demonstrations), at most 100 (quick: 60) BFGS steps, tol 1e-4
  replicator          agents.maze.replicator.Replicator.run, limit 25, one 10x10 maze per copy
  strategy-training   agents.strategy_game.training.train_policy (REINFORCE, Adam), 128 games per copy per step

(the sizes of scenarios/common/maze_setup.py, scenarios/common/planner_example.py,
compare-definitions' quick settings, scenarios/strategy_game.py).

The same copies: every maze leaf seeds copy k from ``child(seed, k, ...)``, so a K = 1 call
with any seed would be copy 0 of some other run. The per-copy loop therefore calls the
leaf's own function with K = 1 while :func:`as_copy` redirects that module's ``child(seed,
0, ...)`` to ``child(seed, k, ...)`` (the derivation copy k of the batched run uses); IRL has
no randomness (system k is ``positions[k]``). Before a row is printed the two results are
compared: floats to ``RTOL`` relative (``ATOL`` absolute near 0), integers and booleans
exactly; a leaf that does not agree is printed as ``DIFFERS`` with its largest relative
difference (a finding, not tuned away). The strategy game seeds copy k the same way
(parameters from ``child(seed, k)``, its games and sampling noise from ``child(seed, k, 0)``),
and is redirected and compared like the maze leaves.

Printed: ms per copy-step (per copy for deployment, IRL and the replicator) of the loop and
of the batched call, the ratio loop / batched, and the load average with every table.

Usage:
    python benchmarks/leaves.py [--quick] [--repeats 5] [--leaves a,b] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Callable

import attrs
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import agents.maze.planner as planner_module  # noqa: E402
import agents.maze.planner_training as planner_training_module  # noqa: E402
import agents.maze.reactive as reactive_module  # noqa: E402
import agents.maze.replicator as replicator_module  # noqa: E402
import agents.strategy_game.training as strategy_training_module  # noqa: E402
from agents.maze.grid import MazeDistribution  # noqa: E402
from agents.maze.irl import maxent_irl  # noqa: E402
from agents.maze.planner import PlannerSpec, StopRule  # noqa: E402
from agents.maze.planner_training import train_planners  # noqa: E402
from agents.maze.reactive import ReactiveSpec, train_reactive  # noqa: E402
from agents.maze.replicator import Replicator  # noqa: E402
from agents.strategy_game.training import train_policy  # noqa: E402
from benchmarks.population import interleaved  # noqa: E402
from hierarchy.seeding import as_seed, child  # noqa: E402

#: float64 agreement of a batched result with its per-copy loop (relative; ATOL absolute near 0)
RTOL = 1e-9
ATOL = 1e-12
SEED = 0


def load() -> str:
    """The machine's load average, as printed with every table."""
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


@contextlib.contextmanager
def as_copy(module, seed, k: int):
    """Within the block, ``module.child(s, 0, *rest)`` is ``child(seed, k, *rest)``: a K = 1 call of
    the module's leaf with ``seed`` computes copy k of the K-copy run with ``seed``.

    Refuses (AssertionError) a call for another seed or another copy than 0: the redirection
    is then not the derivation the batched run uses.
    """
    ss = as_seed(seed)

    def redirected(s, first, *rest):
        s = as_seed(s)
        assert (s.entropy, tuple(s.spawn_key)) == (ss.entropy, tuple(ss.spawn_key)) and first == 0, \
            f"{module.__name__} asked child({s.spawn_key}, {first}, ...): not copy 0 of the benchmark's seed"
        return child(ss, k, *rest)

    saved = module.child  # a plain swap (not mock.patch): its cost stays out of the loop's time
    module.child = redirected
    try:
        yield
    finally:
        module.child = saved


@attrs.frozen
class Case:
    """One leaf at one K: ``batched()`` and ``per_copy()`` each return ``{name: array [K, ...]}``;
    ``units`` copy-steps (or copies) the times are divided by; ``exact``: names compared exactly."""

    batched: Callable
    per_copy: Callable
    units: int
    exact: tuple = ()


def stack(outs: list) -> dict:
    """Per-copy results (each ``{name: [1, ...]}``) stacked into ``{name: [K, ...]}``."""
    return {n: np.concatenate([o[n] for o in outs]) for n in outs[0]}


def worst_difference(a: dict, b: dict, exact: tuple = ()) -> tuple:
    """``(agree, worst relative difference)`` of two results ``{name: array}`` (``exact`` names bitwise)."""
    agree, worst = True, 0.0
    for n in b:
        x, y = np.asarray(a[n]), np.asarray(b[n])
        if x.shape != y.shape:
            return False, float("inf")
        if n in exact or not np.issubdtype(y.dtype, np.floating):
            ok = bool(np.array_equal(x, y))
            agree &= ok
            worst = max(worst, 0.0 if ok else float("inf"))
            continue
        agree &= bool(np.allclose(x, y, rtol=RTOL, atol=ATOL))
        big = np.abs(y) > ATOL
        if big.any():
            worst = max(worst, float(np.max(np.abs(x[big] - y[big]) / np.abs(y[big]))))
    return agree, worst


# ----- the leaves ---------------------------------------------------------------------------------

def planner_training(K: int, quick: bool) -> Case:
    """train_planners: K copies batched against K calls with K = 1 (copy k's seeds via :func:`as_copy`)."""
    steps = 5 if quick else 40
    dist, spec = MazeDistribution(size=7), PlannerSpec(n_mazes=8, stop=StopRule(max_steps=steps))

    def result(pop):
        return {**{n: pop.training[n] for n in ("L", "G", "nll")}, **pop.params, "stopped_at": pop.stopped_at}

    def batched():
        return result(train_planners(dist, K, SEED, spec))

    def per_copy():
        outs = []
        for k in range(K):
            with as_copy(planner_training_module, SEED, k):
                outs.append(result(train_planners(dist, 1, SEED, spec)))
        return stack(outs)

    return Case(batched, per_copy, K * steps, exact=("stopped_at",))


_POPULATIONS = {}


def trained_planners(K: int):
    """A population of K planners (5 Adam steps; the first K of one 128-copy run, so copy k is the same at every K)."""
    if "pop" not in _POPULATIONS:
        _POPULATIONS["pop"] = train_planners(MazeDistribution(size=7), 128, SEED,
                                             PlannerSpec(n_mazes=8, stop=StopRule(max_steps=5)))
    return _POPULATIONS["pop"].select(slice(0, K))


def planner_deployment(K: int, quick: bool) -> Case:
    """PlannerPopulation.deploy: K copies on the same mazes batched against copy k alone (ties from child(seed, k))."""
    pop = trained_planners(K)
    mazes = MazeDistribution(size=7).sample(40 if quick else 120, seed=1)

    def result(dep):
        return {"positions": dep.positions, "success": dep.success,
                "lengths": dep.lengths, "mesa_return": dep.mesa_return, "oracle_mesa_return": dep.oracle_mesa_return,
                "reward": dep.reward}

    def batched():
        return result(pop.deploy(mazes, SEED))

    def per_copy():
        outs = []
        for k in range(K):
            with as_copy(planner_module, SEED, k):
                outs.append(result(pop.select([k]).deploy(mazes, SEED)))
        return stack(outs)

    return Case(batched, per_copy, K, exact=("positions", "success", "lengths"))


def reactive_training(K: int, quick: bool) -> Case:
    """train_reactive: K copies batched against K calls with K = 1 (copy k's seeds via :func:`as_copy`)."""
    spec = ReactiveSpec(steps=10 if quick else 150)
    dist = MazeDistribution(size=7)

    def result(pop):
        return {**{n: pop.training[n] for n in ("L", "G", "nll")}, **pop.params}

    def batched():
        return result(train_reactive(dist, K, SEED, spec))

    def per_copy():
        outs = []
        for k in range(K):
            with as_copy(reactive_module, SEED, k):
                outs.append(result(train_reactive(dist, 1, SEED, spec)))
        return stack(outs)

    return Case(batched, per_copy, K * spec.steps)


def irl(K: int, quick: bool) -> Case:
    """maxent_irl over K systems' episodes at once against one call per system.

    A system that converges early stops in the loop; in the batch its history then stays at
    its last value, so the loop's history is padded with its last value before comparing.
    """
    M, steps = (12, 60) if quick else (24, 100)
    mazes = MazeDistribution(size=7).sample(M, seed=2)
    positions = reactive_episodes(mazes)[:K]  # [K, M, T, 2], distinct per copy

    def result(res):
        h = res.history  # padded with its last value to steps + 1 entries, in the batch as in the loop
        h = np.concatenate([h, np.repeat(h[:, -1:], steps + 1 - h.shape[1], 1)], 1)
        return {"weights": res.weights, "log_likelihood": res.log_likelihood, "grad_norm": res.grad_norm, "history": h}

    def batched():
        return result(maxent_irl(mazes, positions, steps=steps, tol=1e-4))

    def per_copy():
        return stack([result(maxent_irl(mazes, positions[k], steps=steps, tol=1e-4)) for k in range(K)])

    return Case(batched, per_copy, K)


def reactive_episodes(mazes) -> np.ndarray:
    """Positions ``[128, M, T, 2]`` of 128 reactive policies (20 Adam steps) sampling their moves on ``mazes``.

    Sampled episodes differ from copy to copy; the planners' deterministic episodes do not
    (5-step planners give 2 distinct behaviours in 32 copies), and maxent_irl fits each
    distinct demonstration once, which would time its deduplication, not its batching.
    """
    return train_reactive(MazeDistribution(size=7), 128, SEED, ReactiveSpec(steps=20)).deploy(mazes, SEED).positions


def replicator(K: int, quick: bool) -> Case:
    """Replicator.run over K mazes at once (maze k's choices from child(seed, k)) against one maze at a time."""
    mazes = MazeDistribution(size=10, green_by_exit="never").sample(K, seed=3)
    rep = Replicator(25)

    def result(run):
        return {"occupied": run.occupied, "counts": run.counts, "success": run.success, "reached_at": run.reached_at}

    def batched():
        return result(rep.run(mazes, SEED))

    def per_copy():
        outs = []
        for k in range(K):
            with as_copy(replicator_module, SEED, k):
                outs.append(result(rep.run(mazes[k:k + 1], SEED)))
        return stack(outs)

    return Case(batched, per_copy, K)


def strategy_training(K: int, quick: bool) -> Case:
    """train_policy: K copies batched against K calls with population 1 (copy k's seeds via :func:`as_copy`:
    its parameters from ``child(seed, k)``, its games and sampling noise from ``child(seed, k, 0)``)."""
    steps = 3 if quick else 20
    episodes = 128

    def result(out):
        pol, tr = out
        return {"L": tr["L"], "G": tr["G"], **{n: p.double().numpy() for n, p in pol.params.items()}}

    def batched():
        return result(train_policy("troops", ("Aurora",), steps, SEED, K, episodes))

    def per_copy():
        outs = []
        for k in range(K):
            with as_copy(strategy_training_module, SEED, k):
                outs.append(result(train_policy("troops", ("Aurora",), steps, SEED, 1, episodes)))
        return stack(outs)

    return Case(batched, per_copy, K * steps)


LEAVES = {
    "planner-training": (planner_training, (1, 8, 32), (1, 8), "copy-step"),
    "planner-deployment": (planner_deployment, (1, 8, 32, 128), (1, 8, 32), "copy"),
    "reactive-training": (reactive_training, (1, 8, 32, 128), (1, 8, 32), "copy-step"),
    "irl": (irl, (1, 8, 32), (1, 8), "copy"),
    "replicator": (replicator, (1, 8, 32, 128), (1, 8, 32, 128), "copy"),
    "strategy-training": (strategy_training, (1, 8, 32), (1, 8), "copy-step"),
}
"""name -> (case builder, K of a full run, K of ``--quick``, unit of the times)."""


def main(argv=None) -> list:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps, mazes, K and repeats (about a minute)")
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats per case (median reported)")
    ap.add_argument("--leaves", default=",".join(LEAVES), help=f"comma-separated subset of {','.join(LEAVES)}")
    ap.add_argument("--K", default=None, help="comma-separated population sizes (default: per leaf)")
    ap.add_argument("--json", type=Path, default=None, help="write rows {leaf, K, engine, ms} as JSON to this path")
    args = ap.parse_args(argv)
    names = [n for n in args.leaves.split(",") if n]
    if any(n not in LEAVES for n in names) or args.repeats < 1:
        ap.error(f"leaves must be among {', '.join(LEAVES)}; repeats >= 1")
    repeats = 3 if args.quick else args.repeats
    print(f"torch {torch.__version__}, numpy {np.__version__}; every leaf on its own thread setting (1 torch thread); "
          f"{load()}", flush=True)
    print(f"{'leaf':19s} {'K':>4s} {'loop ms':>10s} {'batched ms':>11s} {'ratio':>7s} {'per':>10s}  same numbers", flush=True)
    rows, findings = [], []
    for name in names:
        build, Ks, quick_Ks, unit = LEAVES[name]
        for K in ([int(k) for k in args.K.split(",")] if args.K else (quick_Ks if args.quick else Ks)):
            case = build(K, args.quick)
            t0 = time.perf_counter()
            agree, worst = worst_difference(case.batched(), case.per_copy(), case.exact)  # also the first calls
            first = time.perf_counter() - t0
            # a case of a few milliseconds gets more repeats: the median of 2 is noise at that scale
            t = interleaved({"loop": case.per_copy, "batched": case.batched}, repeats if first > 0.05 else 5 * repeats)
            ms = {e: t[e] / case.units * 1e3 for e in t}
            if agree:
                check = f"yes ({worst:.1e})"
            else:
                check = f"DIFFERS ({worst:.1e} > {RTOL:g})"
                findings.append(f"{name} K={K}: batched and per-copy loop differ by {worst:.2e} relative")
            for e in ("loop", "batched"):
                rows.append(dict(leaf=name, K=K, engine=e, ms=ms[e], unit=unit, same_numbers=bool(agree),
                                 worst_rel_diff=worst))
            print(f"{name:19s} {K:4d} {ms['loop']:10.4f} {ms['batched']:11.4f} {ms['loop'] / ms['batched']:7.2f} "
                  f"{unit:>10s}  {check}", flush=True)
    print(load(), flush=True)
    for f in findings:
        print("finding:", f)
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
