"""The capacity scenario: per-trial figures, batching by width, and end-to-end CLI runs."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agents.markov import MarkovChain
from agents.schedules import Decay
from hierarchy.alignment import alignment, normalized_alignment
from hierarchy.errors import OutputError, ParameterError
from hierarchy.estimator import Estimator
from hierarchy.sweep import Trial, load_finished
from scenarios.capacity import CapacityBatch, CapacityParams, capacity_trials, trial_figures
from scenarios.registry import RunOptions, run_scenario
from scenarios.sweep_exec import torch_threads

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--steps", "150", "--set", "widths=1,2,4,8,16", "--set", "seeds=3", "--set", "bootstrap=100"]


def mesastack(*args, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "scenarios", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


def test_trial_figures_against_their_formulas():
    t = np.arange(81.0)
    L = 2.0 + np.exp(-t / 10) + 0.05 * np.sin(t)  # not monotone: L rises on some steps
    G = np.exp(-t / 5) * (1 + 2.0 * np.exp(-((t - 3) ** 2)))  # G peaks above G(0) on the way
    G1 = np.sqrt(G)
    f = trial_figures(L, G, G1, Estimator("limit", tail=0.25))
    n = math.ceil(0.25 * 81)
    C = lambda v: v[0] - v[-n:].mean()
    assert f["C_L"] == pytest.approx(C(L)) and f["C_G"] == pytest.approx(C(G)) and f["C_G1"] == pytest.approx(C(G1))
    assert f["alpha_G"] == pytest.approx(C(L) / C(G)) and f["alpha_G1"] == pytest.approx(C(L) / C(G1))
    best = lambda v: v[0] - v.min()  # noqa: E731  (best improvement seen: L(0) - min L)
    assert f["normalized_G"] == pytest.approx((C(L) / best(L)) / (C(G) / best(G)))
    assert f["final_L"] == pytest.approx(L[-n:].mean())
    assert f["G_tail_fraction"] == pytest.approx(G[-n:].mean() / G[0])
    assert f["G_peak_fraction"] == pytest.approx(G.max() / G[0]) and f["G_peak_fraction"] > 1
    assert f["L_rises"] == np.sum(L[1:] > L[:-1]) > 0


def test_a_trial_does_not_depend_on_the_batch_it_ran_in():
    # its start comes from its id; its numbers agree to rounding whatever the batch (the last
    # bits may move with its position or the batch size, which is why sweeps fix their chunks)
    data = MarkovChain.random(8, 2, 0.3, 0).sample(64, 1)
    p = CapacityParams(widths=(4,), seeds=3)
    batch = CapacityBatch(data, 60, 7, Decay(1.0, 2000.0), 1.0, "float64", Estimator())
    trials = capacity_trials(p, 60, 7, Estimator())
    with torch_threads(1):  # as the executors run it
        together = {r.trial_id: r for r in batch(trials)}
        reversed_ = {r.trial_id: r for r in batch(trials[::-1])}
        alone_ = {t.id: batch([t])[0] for t in trials}
    for t in trials:
        alone = alone_[t.id]
        assert alone.params == t.params
        for k in ("L", "G", "G1"):
            np.testing.assert_allclose(together[t.id].arrays[k], alone.arrays[k], rtol=1e-12)
            np.testing.assert_allclose(together[t.id].arrays[k], reversed_[t.id].arrays[k], rtol=1e-12)
    ids = [t.id for t in trials]
    starts = batch.leaf(4, ids).init
    for k, i in enumerate(ids):  # the same start, bit for bit, alone or in any batch
        assert np.array_equal(starts[k], batch.leaf(4, [i]).init[0])
        assert np.array_equal(starts[k], batch.leaf(4, ids[::-1]).init[len(ids) - 1 - k])
    assert not np.array_equal(together["w4-s0"].arrays["L"], together["w4-s1"].arrays["L"])  # own seeds
    with pytest.raises(ParameterError, match="one width"):
        batch([Trial("a", {"width": 1}), Trial("b", {"width": 2})])


def test_parameters_are_checked():
    with pytest.raises(ParameterError, match="increasing"):
        CapacityParams(widths=(4, 2))
    with pytest.raises(ParameterError, match="G or G1"):
        CapacityParams(true_objective="H")


def test_runs_in_memory_through_the_api():
    r = run_scenario("capacity", RunOptions(steps=30, progress=False,
                                            params={"widths": "1,2", "seeds": "2", "bootstrap": "20"}))
    assert r.report.scenario == "capacity" and r.arrays["w2/L"].shape == (2, 31)
    assert {a.child for a in r.report.alignments} == {"w1", "w2"}


@pytest.fixture(scope="module")
def inprocess_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("capacity")
    r = mesastack("run", "capacity", "--out", str(out), "--no-progress", *SMALL)
    assert r.returncode == 0, r.stderr
    return out, r


def test_cli_run_writes_report_plot_table_and_trials(inprocess_run):
    out, r = inprocess_run
    for name in ("report.json", "report.txt", "trajectories.npz", "capacity.png", "trials.csv", "graph.graphml"):
        assert (out / name).stat().st_size > 0, name
    assert len(load_finished(out)) == 15
    assert "shape against log2(width)" in r.stdout and "answer from the data" in r.stdout
    rep = json.loads((out / "report.json").read_text())
    assert rep["choices"]["true objective"].startswith("G = sum_i")
    import pandas as pd

    df = pd.read_csv(out / "trials.csv")
    assert df["trial"].nunique() == 15 and set(df["width"]) == {1, 2, 4, 8, 16}


def test_cli_figures_recompute_from_the_trajectories(inprocess_run):
    out, _ = inprocess_run
    rep = json.loads((out / "report.json").read_text())
    arrays = np.load(out / "trajectories.npz")
    est = Estimator("limit", tail=rep["estimator"]["tail"])
    for a in rep["alignments"]:
        L, G = arrays[f"{a['child']}/L"], arrays[f"{a['child']}/G"]
        assert np.median(alignment(L, G, est).value) == pytest.approx(a["alignment"]["median"], rel=1e-12)
        assert np.median(normalized_alignment(L, G, est).value) == pytest.approx(
            a["normalized_alignment"]["median"], rel=1e-12)
    # claims and verdicts agree: an inflection claim holds exactly when its verdict names one
    shape = [t for t in rep["tables"] if t["title"].startswith("shape")][0]
    verdict = {row[0]: row[-1] for row in shape["rows"]}
    for c in rep["claims"]:
        if c["text"].startswith("there is an inflection beyond which alpha"):
            assert c["holds"] == verdict["alpha(L | G)"].startswith("inflection at")
            assert c["holds"] or verdict["alpha(L | G)"].startswith("no inflection found")


def test_cli_refuses_a_used_directory_and_resumes_without_rerunning(inprocess_run):
    out, _ = inprocess_run
    r = mesastack("run", "capacity", "--out", str(out), "--no-progress", *SMALL)
    assert r.returncode == 2 and "--resume" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    before = {p.name: p.stat().st_mtime_ns for p in (out / "trials").iterdir()}
    report = json.loads((out / "report.json").read_text())
    r = mesastack("run", "capacity", "--out", str(out), "--no-progress", "--resume", *SMALL)
    assert r.returncode == 0, r.stderr
    assert {p.name: p.stat().st_mtime_ns for p in (out / "trials").iterdir()} == before  # nothing rewritten
    again = json.loads((out / "report.json").read_text())
    assert again["tables"] == report["tables"] and again["claims"] == report["claims"]
    params = dict(item.split("=") for item in SMALL[3::2])
    with pytest.raises(OutputError, match="other parameters"):  # 300 steps: not the sweep stored there
        run_scenario("capacity", RunOptions(steps=300, progress=False, params=params, out=str(out), resume=True))


@pytest.mark.slow
def test_cli_on_a_local_dask_cluster_matches_inprocess(inprocess_run, tmp_path):
    pytest.importorskip("distributed")
    out, _ = inprocess_run
    r = mesastack("run", "capacity", "--out", str(tmp_path), "--no-progress", "--executor", "dask",
                  "--workers", "2", *SMALL)
    assert r.returncode == 0, r.stderr
    a, b = load_finished(out), load_finished(tmp_path)
    assert sorted(a) == sorted(b)
    for i in a:
        assert a[i].params == b[i].params
        for k in ("L", "G", "G1"):
            # stable runs agree to rounding; the two executors' BLAS paths may differ in the last bits
            np.testing.assert_allclose(a[i].arrays[k], b[i].arrays[k], rtol=1e-9, atol=1e-15)
        for f, v in a[i].figures.items():
            assert b[i].figures[f] == pytest.approx(v, rel=1e-8, abs=1e-12, nan_ok=True), (i, f)
