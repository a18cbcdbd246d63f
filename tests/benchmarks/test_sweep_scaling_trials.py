"""The trials of benchmarks/sweep_scaling.py: a chunk run as one population gives each trial its own run."""

import numpy as np

from benchmarks.sweep_scaling import TinyTrials, trials
from scenarios.machinery.sweeps import run_sweep


def test_a_trial_is_the_same_whatever_its_chunk(tmp_path):
    ts = trials(5)
    run = TinyTrials(steps=6)
    together = run_sweep(ts, run, out=tmp_path / "a", progress=False, chunk=5)
    alone = run_sweep(ts, run, progress=False, chunk=1)
    for a, b in zip(together, alone):
        assert a.trial_id == b.trial_id and a.params == b.params
        np.testing.assert_allclose(a.arrays["L"], b.arrays["L"], rtol=1e-12, atol=0)
        assert a.arrays["L"][-1] < a.arrays["L"][0]  # gradient descent at its own rate lowers L
    lrs = [t.params["lr"] for t in ts]
    assert len(set(lrs)) == 5  # each trial steps at its own rate


def test_trials_are_named_and_batched_together():
    ts = trials(3)
    assert [t.id for t in ts] == ["t000000", "t000001", "t000002"] and {t.batch_key for t in ts} == {"tiny"}


def test_the_store_cost_reads_back_what_it_wrote():
    from benchmarks.sweep_scaling import store_cost

    res = run_sweep(trials(7), TinyTrials(steps=3), progress=False, chunk=3)
    write, read = store_cost(res, 3)  # raises SystemExit when the store reads back other results
    assert write > 0 and read > 0
