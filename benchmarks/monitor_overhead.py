"""Benchmark: what the live monitor costs inside a real training step of about 1 ms.

The training step: a small torch MLP (64 -> 64 -> 64 -> 10, tanh) trained by Adam on a
random full batch, one thread; per step the user's loop computes the training loss L, the
squared gradient norm G (after backward) and a held-out loss E_test (a forward pass on
held-out data). The batch is chosen so that one step takes about 1 ms (``--batch`` fixes it).

Three variants run the same step: without the monitor (L, G and E_test are computed and
dropped), with a control recorder that keeps nothing (the noise floor of the comparison), and
with ``mon.record(step, E_test=..., L=..., G=...)`` (0-d tensors, as a user passes
them; one Monitor for the whole run, its buffers growing, its CSV stream on, TensorBoard off
unless ``--tensorboard``: the objectives every 10th record and the figures every 1000, the defaults). They run in
short timed blocks that interleave (every order of the three in turn), so that the shared machine's load falls
on both alike. Printed: the median ms per step of each and the overhead in percent (of the
medians, and the median ratio of adjacent blocks); the time spent inside ``record`` in the
training loop, timed around each call (median over blocks), as a percentage of the step: the
monitor's own cost with the caches a training step leaves behind, and the number to read on
a loaded machine, where block-to-block noise of a few percent swamps the difference of the
first two; and ``record`` alone in a tight loop (warm caches). Target: overhead below 2%.

Usage:
    python benchmarks/monitor_overhead.py [--block 100] [--repeats 48] [--batch B] [--tensorboard] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.threads import torch_threads  # noqa: E402
from agents.torch_random import torch_generator  # noqa: E402
from scenarios.machinery.monitor import Monitor  # noqa: E402

CHAIN = [("designer", "E_test"), ("base", "L"), ("gd", "G")]
SIZES = (64, 64, 64, 10)


#: The orders of the three variants, taken in turn (each variant first and last alike).
VARIANTS = (("plain", "control", "mon"), ("mon", "plain", "control"), ("control", "mon", "plain"),
            ("mon", "control", "plain"), ("plain", "mon", "control"), ("control", "plain", "mon"))


class Discard:
    """The control: a recorder that keeps nothing (the loop with a call in it, and the timing around it)."""

    def record(self, step, **values):
        pass


def problem(batch: int, seed: int = 0):
    """A model, its Adam optimizer and the data (training [batch] and held-out [batch // 4])."""
    g = torch_generator(seed)
    layers = []
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        lin = torch.nn.Linear(a, b)
        with torch.no_grad():
            lin.weight.copy_(torch.randn(b, a, generator=g) / a ** 0.5)
            lin.bias.zero_()
        layers += [lin] if i == len(SIZES) - 2 else [lin, torch.nn.Tanh()]
    model = torch.nn.Sequential(*layers)
    x, y = torch.randn(batch, SIZES[0], generator=g), torch.randint(0, SIZES[-1], (batch,), generator=g)
    xt, yt = torch.randn(max(batch // 4, 1), SIZES[0], generator=g), torch.randint(0, SIZES[-1], (max(batch // 4, 1),),
                                                                                    generator=g)
    return model, torch.optim.Adam(model.parameters(), lr=1e-3), (x, y, xt, yt)


def train_step(model, opt, data):
    """One step of the user's loop: L, backward, G = sum of squared gradients, Adam, E_test."""
    x, y, xt, yt = data
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    G = torch.stack([p.grad.pow(2).sum() for p in model.parameters()]).sum()
    opt.step()
    with torch.no_grad():
        E = torch.nn.functional.cross_entropy(model(xt), yt)
    return loss.detach(), G, E


def run(model, opt, data, steps: int, mon=None, start: int = 0) -> tuple:
    """(seconds per step, seconds per step inside ``mon.record``) over ``steps`` steps, recording steps
    start, start + 1, ... into ``mon`` when given (the second is 0 without it)."""
    clock = time.perf_counter
    inside = 0.0
    t0 = clock()
    if mon is None:
        for _ in range(steps):
            train_step(model, opt, data)
    else:
        for t in range(start, start + steps):
            L, G, E = train_step(model, opt, data)
            a = clock()
            mon.record(t, E_test=E, L=L, G=G)
            inside += clock() - a
    return (clock() - t0) / steps, inside / steps


def calibrate(target_ms: float = 1.0) -> int:
    """The batch whose step is closest to ``target_ms`` (medians of a few short runs)."""
    best = None
    for batch in (64, 128, 256, 384, 512, 768, 1024, 1536, 2048):
        model, opt, data = problem(batch)
        run(model, opt, data, 20)
        ms = 1e3 * statistics.median(run(model, opt, data, 50)[0] for _ in range(3))
        if best is None or abs(ms - target_ms) < abs(best[1] - target_ms):
            best = (batch, ms)
        if ms > target_ms:
            break
    return best[0]


def record_only(steps: int, values, csv_path, tensorboard) -> float:
    """Seconds per ``record`` call alone, with the values of a real step."""
    mon = Monitor(CHAIN, csv=csv_path, tensorboard=tensorboard)
    L, G, E = values
    t0 = time.perf_counter()
    for t in range(steps):
        mon.record(t, E_test=E, L=L, G=G)
    dt = (time.perf_counter() - t0) / steps
    mon.close()
    return dt


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--block", type=int, default=100, help="steps per timed block")
    p.add_argument("--repeats", type=int, default=48, help="blocks per variant")
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--tensorboard", action="store_true")
    p.add_argument("--quick", action="store_true", help="10 blocks per variant")
    a = p.parse_args(argv)
    if a.quick:
        a.repeats = 10
    with torch_threads(1), tempfile.TemporaryDirectory() as tmp:
        batch = a.batch or calibrate()
        model, opt, data = problem(batch)
        run(model, opt, data, 200)  # warm up
        plain, control, monitored, inside, ratios = [], [], [], [], []
        with Monitor(CHAIN, csv=Path(tmp) / "run.csv",
                     tensorboard=str(Path(tmp) / "tb") if a.tensorboard else None) as mon:
            for r in range(a.repeats):
                for which in VARIANTS[r % len(VARIANTS)]:
                    if which == "plain":
                        plain.append(run(model, opt, data, a.block)[0])
                    elif which == "control":
                        control.append(run(model, opt, data, a.block, Discard(), start=r * a.block)[0])
                    else:
                        step_s, record_s = run(model, opt, data, a.block, mon, start=len(mon))
                        monitored.append(step_s)
                        inside.append(record_s)
                ratios.append(monitored[-1] / plain[-1])
            records = len(mon)
            t0 = time.perf_counter()
            mon.measurements()
            figures_ms = 1e3 * (time.perf_counter() - t0)
        values = train_step(model, opt, data)
        alone = [record_only(a.block * 10, values, Path(tmp) / f"alone{r}.csv",
                             str(Path(tmp) / f"tba{r}") if a.tensorboard else None) for r in range(5)]
    base, ctl, with_mon, rec, in_loop = (statistics.median(v) for v in (plain, control, monitored, alone, inside))
    out = {"batch": batch, "threads": 1, "block": a.block, "repeats": a.repeats, "records": records,
           "tensorboard": a.tensorboard, "step_ms": 1e3 * base, "step_with_monitor_ms": 1e3 * with_mon,
           "step_with_control_ms": 1e3 * ctl, "control_overhead_percent": 100 * (ctl - base) / base,
           "overhead_percent": 100 * (with_mon - base) / base,
           "paired_overhead_percent": 100 * (statistics.median(ratios) - 1), "record_us": 1e6 * rec,
           "record_percent_of_step": 100 * rec / base, "record_in_loop_us": 1e6 * in_loop,
           "record_in_loop_percent_of_step": 100 * in_loop / base, "figures_ms": figures_ms}
    print(f"MLP {'-'.join(map(str, SIZES))}, Adam, batch {batch}, 1 thread; {a.repeats} interleaved blocks of "
          f"{a.block} steps per variant ({records} records), CSV on, TensorBoard {'on' if a.tensorboard else 'off'}")
    print(f"  without monitor : {out['step_ms']:.4f} ms/step (median of blocks)")
    print(f"  with monitor    : {out['step_with_monitor_ms']:.4f} ms/step (median of blocks)")
    print(f"  control         : {out['step_with_control_ms']:.4f} ms/step (median of blocks; a record() that keeps "
          f"nothing: {out['control_overhead_percent']:+.2f} %, the noise floor)")
    print(f"  overhead        : {out['overhead_percent']:+.2f} % of medians, {out['paired_overhead_percent']:+.2f} % "
          f"median of adjacent-block ratios (target < 2 %)")
    print(f"  record() in loop: {out['record_in_loop_us']:.2f} us/call = {out['record_in_loop_percent_of_step']:.2f} % "
          f"of a step (timed around each call inside the training loop: cold caches; median of blocks)")
    print(f"  record() alone  : {out['record_us']:.2f} us/call = {out['record_percent_of_step']:.2f} % of a step "
          f"(a tight loop of calls: warm caches)")
    print(f"  figures         : {figures_ms:.1f} ms for mon.measurements() at {records} records (on demand; O(T))")
    return out


if __name__ == "__main__":
    main()
