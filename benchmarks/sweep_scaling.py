"""Benchmark: a sweep of many small trials, in this process and on a Dask LocalCluster of 1 and 2 workers.

A trial is one copy of the tiny model of ``benchmarks/population.py`` (vocabulary 8,
context 2, hidden 8, 64 examples, float64) trained by full-batch gradient descent for
``--steps`` steps at its own learning rate, from a start drawn from its id
(``hierarchy.seeding.named_seed``); it returns its L trajectory (an array) and its final L
and G (figures). Trials share one ``batch_key``, so ``run_sweep`` cuts them into chunks of
``--chunk`` trials, and each chunk is one task that runs as one population of copies
(``GradientDescent`` with per-copy ``init`` and ``lr_scale``): the cluster's start-up and
each worker's import of torch are paid once per sweep and once per worker, the Python and
dispatch cost of a step once per chunk, not per trial. Every finished chunk is written
into the trial store ``<out>/trials`` as it completes, one file pair per chunk
(``--no-store``: kept in memory).

Reported per executor: the start-up (a LocalCluster started and every worker warmed:
torch and mesastack imported, a one-trial batch run; in-process, a one-trial sweep),
the sweep's wall time on the warm cluster (the sweep joins it by address, as it joins a
SLURM cluster of dask-jobqueue), trials per second and milliseconds per trial of the
sweep, and the all-in time; then the scaling of 2 workers over 1, and (with the store) the
store's own cost per trial: the results written chunk by chunk into a fresh store, as the
client writes them, and read back whole, as a resume reads them.
The executors run one after the other (a cluster cannot share the cores with an
interleaved in-process run without measuring both at once), so the load average is
printed before and after each.

Usage:
    python benchmarks/sweep_scaling.py [--quick] [--trials 10000] [--chunk 250] [--steps 20] [--no-store]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import attrs
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hierarchy.sweep import Trial, TrialResult  # noqa: E402


def load() -> str:
    """The machine's load average."""
    return "load " + " ".join(f"{v:.2f}" for v in os.getloadavg())


@attrs.frozen
class TinyTrials:
    """Runs a chunk of trials as one population (picklable by reference for Dask: a module-level attrs class).

    Copy k of the chunk starts from ``named_seed(seed, trial.id)`` and steps at
    ``trial.params["lr"]`` (a per-copy ``lr_scale`` of a constant rate 1).
    """

    steps: int = 20
    seed: int = 0

    def __call__(self, chunk: list) -> list:
        from agents.language_model.gradient_descent import GradientDescent
        from agents.language_model.markov import MarkovChain
        from agents.language_model.mlp import init_parameters, layer_sizes
        from agents.language_model.schedules import Constant
        from hierarchy.seeding import named_seed

        data = MarkovChain.random(8, 2, 0.3, seed=self.seed).sample(64, seed=self.seed + 1)
        sizes = layer_sizes(data.order * data.vocab, (8,), data.vocab)
        init = init_parameters(sizes, [named_seed(self.seed, t.id) for t in chunk])
        scale = np.array([t.params["lr"] for t in chunk], dtype=np.float64)
        gd = GradientDescent(data, hidden=(8,), population=len(chunk), schedule=Constant(1.0), init=init,
                             lr_scale=scale, threads=None)
        tr = gd.run(self.steps, self.seed)
        L, G = tr.values["L"], tr.values["G"]
        return [TrialResult(t.id, t.params, {"L": L[k]}, {"L_final": L[k, -1], "G_final": G[k, -1]})
                for k, t in enumerate(chunk)]


def trials(n: int) -> list:
    """n trials ``t000000`` ...: learning rates spread over [0.05, 0.5], one batch key."""
    lrs = np.linspace(0.05, 0.5, 37)
    return [Trial(f"t{i:06d}", {"lr": float(lrs[i % len(lrs)])}, batch_key="tiny") for i in range(n)]


def warm(run_batch) -> int:
    """Run on each worker before the sweep: import torch and mesastack and run a one-trial batch."""
    run_batch(trials(1))
    return os.getpid()


def timed_sweep(ts: list, run_batch, executor: str, workers, chunk: int, store: bool, scheduler=None) -> tuple:
    """(wall seconds, results) of one ``run_sweep``; the store in a fresh temporary directory."""
    from scenarios.machinery.sweeps import run_sweep

    with tempfile.TemporaryDirectory(prefix="mesastack-sweep-") as tmp:
        t0 = time.perf_counter()
        res = run_sweep(ts, run_batch, out=Path(tmp) / "out" if store else None, executor=executor,
                        workers=None if scheduler else workers, scheduler=scheduler, progress=False, chunk=chunk, threads=1)
        return time.perf_counter() - t0, res


def on_cluster(ts: list, run_batch, workers: int, chunk: int, store: bool) -> tuple:
    """(start-up seconds, sweep seconds, results): a LocalCluster started and warmed (:func:`warm` on every
    worker) once, then the sweep joins it (``run_sweep(scheduler=...)``, as a sweep joins a SLURM cluster)."""
    import logging

    import distributed

    t0 = time.perf_counter()
    cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=logging.ERROR)
    try:
        with distributed.Client(cluster) as client:
            client.run(warm, run_batch)
        startup = time.perf_counter() - t0
        wall, res = timed_sweep(ts, run_batch, "dask", workers, chunk, store, scheduler=cluster.scheduler_address)
    finally:
        cluster.close()
    return startup, wall, res


def store_cost(results: list, chunk: int) -> tuple:
    """(write, read) seconds per trial of the trial store alone: ``results`` written chunk by chunk
    (``write_trials``, as the client does when a task completes) into a fresh store, then read back
    whole (``load_finished``, as a resume does); the read-back is checked against ``results``."""
    from hierarchy.sweep import load_finished, write_trials

    with tempfile.TemporaryDirectory(prefix="mesastack-store-") as tmp:
        t0 = time.perf_counter()
        for i in range(0, len(results), chunk):
            write_trials(tmp, results[i:i + chunk])
        t1 = time.perf_counter()
        back = load_finished(tmp)
        t2 = time.perf_counter()
    if len(back) != len(results) or not all(back[r.trial_id].same(r) for r in results):
        raise SystemExit("the trial store read back other results than it was given")
    return (t1 - t0) / len(results), (t2 - t1) / len(results)


def main(argv=None) -> list:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1,000 trials")
    ap.add_argument("--trials", type=int, default=None, help="number of trials (default 10,000; --quick 1,000)")
    ap.add_argument("--chunk", type=int, default=250, help="trials per task (one population each)")
    ap.add_argument("--steps", type=int, default=20, help="gradient steps per trial")
    ap.add_argument("--no-store", action="store_true", help="keep results in memory instead of the trial store")
    ap.add_argument("--executors", default="inprocess,dask1,dask2", help="comma-separated among inprocess, dask1, dask2")
    ap.add_argument("--json", type=Path, default=None, help="write the rows as JSON to this path")
    args = ap.parse_args(argv)
    n = args.trials if args.trials is not None else (1000 if args.quick else 10000)
    if n < 1 or args.chunk < 1 or args.steps < 1:
        ap.error("trials, chunk and steps must be >= 1")
    # Dask's worker processes import this module (and mesastack) by name
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    import benchmarks.sweep_scaling as me  # the importable copy of TinyTrials, not __main__'s

    run_batch = me.TinyTrials(steps=args.steps)
    ts = trials(n)
    store = not args.no_store
    print(f"{n} trials of {args.steps} steps (tiny MLP, 1 copy each), {args.chunk} trials per task, "
          f"{'trial store on disk' if store else 'results in memory'}; {os.cpu_count()} cores; {load()}", flush=True)
    print(f"{'executor':10s} {'start s':>8s} {'sweep s':>8s} {'trials/s':>9s} {'ms/trial':>9s} {'all-in s':>9s}  load before -> after")
    rows, ref = [], None
    for name in [e for e in args.executors.split(",") if e]:
        before = load()
        if name == "inprocess":  # "start-up": a one-trial sweep (imports are already paid in this process)
            fixed, _ = timed_sweep(ts[:1], run_batch, "inprocess", None, args.chunk, store)
            wall, res = timed_sweep(ts, run_batch, "inprocess", None, args.chunk, store)
        else:
            fixed, wall, res = on_cluster(ts, run_batch, int(name[4:] or 1), args.chunk, store)
        finals = np.array([r.figures["L_final"] for r in res])
        if ref is None:
            ref = finals
        elif not np.allclose(finals, ref, rtol=1e-12, atol=0):
            raise SystemExit(f"{name} returned other final L than the first executor; the executors must agree")
        row = dict(executor=name, trials=n, chunk=args.chunk, steps=args.steps, store=store, startup_s=fixed,
                   sweep_s=wall, trials_per_s=n / wall, ms_per_trial=wall / n * 1e3, all_in_s=fixed + wall)
        rows.append(row)
        print(f"{name:10s} {fixed:8.2f} {wall:8.2f} {n / wall:9.1f} {wall / n * 1e3:9.3f} {fixed + wall:9.2f}  "
              f"{before} -> {load()}", flush=True)
    if store and ref is not None:
        w, r_ = store_cost(res, args.chunk)
        print(f"trial store alone (the client's part): write {w * 1e3:.4f} ms/trial, read back (load_finished) "
              f"{r_ * 1e3:.4f} ms/trial, chunks of {args.chunk}; {load()}")
        rows.append(dict(executor="store", trials=n, chunk=args.chunk, write_ms_per_trial=w * 1e3,
                         read_ms_per_trial=r_ * 1e3))
    by = {r["executor"]: r for r in rows}
    if "dask1" in by and "dask2" in by:
        print(f"scaling 2 workers / 1 worker (sweep on a warm cluster): "
              f"{by['dask2']['trials_per_s'] / by['dask1']['trials_per_s']:.2f}x trials/s")
    for d in ("dask1", "dask2"):
        if "inprocess" in by and d in by:
            print(f"{d} / in-process: {by[d]['trials_per_s'] / by['inprocess']['trials_per_s']:.2f}x trials/s "
                  f"(all-in, start-up included: {by['inprocess']['all_in_s'] / by[d]['all_in_s']:.2f}x)")
    print(load())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()
