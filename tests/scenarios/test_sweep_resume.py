"""Sweep executors: writing as trials finish, resuming, refusing, and real interrupts."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hierarchy.errors import OutputError, ParameterError
from hierarchy.sweep import Trial, TrialResult, chunk_name, finished_chunks, finished_ids, load_finished, trials_dir, write_trial
from scenarios.machinery.sweeps import run_sweep

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
HELPER = HERE / "sweep_interrupt_helper.py"


class Recorder:
    """A run_batch that records the chunks it was given: y = x**2, arrays [x, x + 1]."""

    def __init__(self):
        self.chunks = []

    def __call__(self, chunk):
        self.chunks.append([t.id for t in chunk])
        return [TrialResult(t.id, t.params, {"v": np.array([t.params["x"], t.params["x"] + 1.0])},
                            {"y": t.params["x"] ** 2}) for t in chunk]


def toy_trials(n=6):
    return [Trial(f"x{i}", {"x": i}, batch_key=i % 2) for i in range(n)]


def test_inprocess_runs_batches_and_writes_every_trial(tmp_path):
    rec = Recorder()
    res = run_sweep(toy_trials(), rec, out=tmp_path, chunk=2, progress=False)
    assert [r.trial_id for r in res] == [f"x{i}" for i in range(6)]
    assert [r.figures["y"] for r in res] == [i ** 2 for i in range(6)]
    assert rec.chunks == [["x0", "x2"], ["x4"], ["x1", "x3"], ["x5"]]
    assert finished_ids(tmp_path) == [f"x{i}" for i in range(6)]
    assert all(load_finished(tmp_path)[r.trial_id].same(r) for r in res)


def test_without_resume_a_used_directory_is_refused_and_with_resume_nothing_reruns(tmp_path):
    run_sweep(toy_trials(), Recorder(), out=tmp_path, progress=False)
    with pytest.raises(OutputError, match="resume to reuse them"):
        run_sweep(toy_trials(), Recorder(), out=tmp_path, progress=False)
    rec = Recorder()
    res = run_sweep(toy_trials(8), rec, out=tmp_path, resume=True, progress=False)
    assert rec.chunks == [["x6"], ["x7"]]  # only the two new trials ran
    assert [r.figures["y"] for r in res] == [i ** 2 for i in range(8)]


def test_every_chunk_is_one_file_pair(tmp_path):
    run_sweep(toy_trials(), Recorder(), out=tmp_path, chunk=2, progress=False)
    names = sorted(p.name for p in trials_dir(tmp_path).iterdir())
    chunks = [["x0", "x2"], ["x4"], ["x1", "x3"], ["x5"]]
    assert names == sorted(chunk_name(c) + ext for c in chunks for ext in (".json", ".npz"))
    assert sorted(finished_chunks(tmp_path).values()) == sorted(chunks)


def test_a_lost_chunk_reruns_whole_and_nothing_else(tmp_path):
    first = run_sweep(toy_trials(), Recorder(), out=tmp_path, chunk=2, progress=False)
    for ext in (".json", ".npz"):
        (trials_dir(tmp_path) / (chunk_name(["x1", "x3"]) + ext)).unlink()
    rec = Recorder()
    res = run_sweep(toy_trials(), rec, out=tmp_path, chunk=2, resume=True, progress=False)
    assert rec.chunks == [["x1", "x3"]] and all(a.same(b) for a, b in zip(res, first))


def test_a_resumed_sweep_gives_the_table_of_an_uninterrupted_one(tmp_path):
    pytest.importorskip("pandas")
    from hierarchy.sweep import results_frame

    def figures_unsorted(chunk):  # figures in an order that is not alphabetical
        return [TrialResult(t.id, t.params, {"v": np.arange(3.0) * t.params["x"]},
                            {"z": t.params["x"] / 3, "a": float("nan"), "m": -t.params["x"]}) for t in chunk]

    clean = results_frame(run_sweep(toy_trials(), figures_unsorted, progress=False))
    run_sweep(toy_trials(), figures_unsorted, out=tmp_path, chunk=2, progress=False)
    (trials_dir(tmp_path) / (chunk_name(["x0", "x2"]) + ".json")).unlink()
    resumed = results_frame(run_sweep(toy_trials(), figures_unsorted, out=tmp_path, chunk=2, resume=True, progress=False))
    assert resumed.to_csv(index=False) == clean.to_csv(index=False)


def test_a_partly_finished_chunk_of_the_per_trial_format_reruns_only_its_missing_trials(tmp_path):
    """A store written one file pair per trial (before chunk files) resumes as it did."""
    clean = run_sweep(toy_trials(), Recorder(), progress=False)
    for r in clean:
        if r.trial_id != "x2":
            write_trial(tmp_path, r)
    rec = Recorder()
    res = run_sweep(toy_trials(), rec, out=tmp_path, resume=True, progress=False)
    assert rec.chunks == [["x2"]] and all(a.same(b) for a, b in zip(res, clean))
    assert finished_ids(tmp_path) == [f"x{i}" for i in range(6)]
    assert (trials_dir(tmp_path) / "x0.json").is_file() and finished_chunks(tmp_path) == {chunk_name(["x2"]): ["x2"]}


def test_malformed_run_batch_results_are_refused(tmp_path):
    def drops_one(chunk):
        return Recorder()(chunk)[:-1]

    def changes_params(chunk):
        return [TrialResult(t.id, {"x": -1}, {}, {}) for t in chunk]

    with pytest.raises(ParameterError, match="exactly one TrialResult per trial"):
        run_sweep(toy_trials(), drops_one, out=tmp_path / "a", progress=False)
    with pytest.raises(ParameterError, match="trial.params"):
        run_sweep(toy_trials(), changes_params, progress=False)


def test_option_mistakes_are_one_line_errors(tmp_path, monkeypatch):
    with pytest.raises(ParameterError, match="--executor dask"):
        run_sweep(toy_trials(), Recorder(), scheduler="tcp://x:1", progress=False)
    with pytest.raises(ParameterError, match="executor"):
        run_sweep(toy_trials(), Recorder(), executor="slurm", progress=False)
    with pytest.raises(ParameterError, match="--out"):
        run_sweep(toy_trials(), Recorder(), resume=True, progress=False)
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were not installed
    with pytest.raises(ParameterError, match=r'pip install "mesastack\[sweeps\]"'):
        run_sweep(toy_trials(), Recorder(), executor="dask", progress=False)


# -- real signals ---------------------------------------------------------------------------

def helper(out, log, *args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(HELPER), str(out), str(log), *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_trials(out, n, proc, timeout=120):
    t0 = time.time()
    while len(finished_ids(out)) < n:
        if proc.poll() is not None:
            raise AssertionError(f"helper exited early ({proc.returncode}): {proc.stderr.read()}")
        if time.time() - t0 > timeout:
            proc.kill()
            raise AssertionError("no trial was written in time")
        time.sleep(0.01)


def logged(path):
    return Path(path).read_text().split() if Path(path).exists() else []


def test_sigint_midway_then_resume_equals_an_uninterrupted_sweep(tmp_path):
    from tests.scenarios.sweep_interrupt_helper import sweep

    out = tmp_path / "interrupted"
    proc = helper(out, tmp_path / "first.log")
    wait_for_trials(out, 2, proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130, proc.stderr.read()
    done_first = set(finished_ids(out))
    trials, batch = sweep(400)
    everything = {t.id for t in trials}
    assert 2 <= len(done_first) < len(everything), "the interrupt must land midway"
    assert done_first <= set(logged(tmp_path / "first.log"))
    assert not [p for p in trials_dir(out).iterdir() if p.name.startswith(".")]  # nothing half-written
    names = {p.name for p in trials_dir(out).iterdir()}
    assert {n[:-5] for n in names if n.endswith(".json")} == {n[:-4] for n in names if n.endswith(".npz")}

    proc = helper(out, tmp_path / "second.log", "--resume")
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    second = logged(tmp_path / "second.log")
    assert not done_first & set(second), "a finished trial was run again"
    assert len(second) == len(set(second)) and done_first | set(second) == everything

    reference = {r.trial_id: r for r in run_sweep(trials, batch, progress=False, chunk=1)}
    resumed = load_finished(out)
    assert set(resumed) == everything
    for i in everything:
        assert resumed[i].same(reference[i]), i  # equal figures and arrays, bit for bit


@pytest.mark.slow
def test_sigterm_stops_a_dask_sweep_and_its_cluster(tmp_path):
    psutil = pytest.importorskip("psutil")
    pytest.importorskip("distributed")
    out = tmp_path / "dask"
    proc = helper(out, tmp_path / "first.log", "--executor", "dask", "--steps", "2000")
    wait_for_trials(out, 1, proc)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert children, "a LocalCluster runs its workers in processes"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130, proc.stderr.read()
    gone, alive = psutil.wait_procs(children, timeout=20)
    assert not alive, f"worker processes left behind: {alive}"
    done = load_finished(out)  # what the client wrote before the signal is whole and readable
    assert 1 <= len(done) < 8 and all(np.all(np.isfinite(r.arrays["L"])) for r in done.values())
    assert not [p for p in trials_dir(out).iterdir() if p.name.startswith(".")]
