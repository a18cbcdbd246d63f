"""Helper of test_sweep_resume: a small capacity sweep whose batches log every trial they start.

    python tests/scenarios/sweep_interrupt_helper.py OUT LOG [--resume] [--executor dask] [--steps N]

Writes the trials into OUT/trials (one chunk per trial), appends each trial id to LOG
when its batch starts, exits 130 on KeyboardInterrupt (SIGINT, or SIGTERM turned into
one by the sweep), 0 when done.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import attrs  # noqa: E402

from agents.language_model.markov import MarkovChain  # noqa: E402
from agents.language_model.schedules import Decay  # noqa: E402
from hierarchy.estimator import Estimator  # noqa: E402
from hierarchy.run import named_seed  # noqa: E402
from scenarios.capacity import CapacityBatch, CapacityParams, capacity_trials  # noqa: E402
from scenarios.machinery.sweeps import run_sweep  # noqa: E402
from hierarchy.seeding import named_seed

WIDTHS = (1, 2, 4, 8)
SEEDS = 2


@attrs.frozen(eq=False)
class LoggedBatch:
    """Runs ``inner`` and appends the ids of the trials it starts to ``log``."""

    inner: object
    log: str

    def __call__(self, chunk):
        with open(self.log, "a", encoding="utf-8") as fh:
            fh.write("".join(t.id + "\n" for t in chunk))
        return self.inner(chunk)


def sweep(steps: int, seed: int = 0):
    """The trials and the batch runner of the helper's sweep."""
    p = CapacityParams(widths=WIDTHS, seeds=SEEDS)
    est = Estimator()
    data = MarkovChain.random(p.vocab, p.order, p.concentration, named_seed(seed, "markov-chain")).sample(
        p.examples, named_seed(seed, "dataset"))
    batch = CapacityBatch(data, steps, seed, Decay(p.lr, p.tau), p.init_scale, p.dtype, est)
    return capacity_trials(p, steps, seed, est), batch


def main(argv=None) -> int:
    a = argparse.ArgumentParser()
    a.add_argument("out")
    a.add_argument("log")
    a.add_argument("--resume", action="store_true")
    a.add_argument("--executor", default="inprocess")
    a.add_argument("--steps", type=int, default=400)
    args = a.parse_args(argv)
    trials, batch = sweep(args.steps)
    try:
        run_sweep(trials, LoggedBatch(batch, args.log), out=args.out, resume=args.resume, executor=args.executor,
                  workers=2, progress=False, chunk=1)
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
