"""The capacity scenario: per-trial figures, batching by width, how its claims are decided, and
end-to-end CLI runs. Figures are checked against numpy written here (never the project's own
measure functions) and verdicts against inputs whose answer is known."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agents.language_model.markov import MarkovChain
from agents.language_model.schedules import Decay
from hierarchy.errors import OutputError, ParameterError
from hierarchy.estimator import Estimator
from hierarchy.inflection import Trend, inflection
from hierarchy.sweep import Trial, load_finished
from scenarios.capacity import (CapacityBatch, CapacityParams, capacity_trials, flat_claim, inflection_claim,
                                product_claim, relative_variation, trend_claim, trial_figures)
from scenarios.machinery.registry import RunOptions, run_scenario
from scenarios.machinery.sweeps import torch_threads

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
    assert "normalized_G" not in f  # its scale comes from the reference width, not from the trial
    assert f["final_L"] == pytest.approx(L[-n:].mean())
    assert f["G_tail_fraction"] == pytest.approx(G[-n:].mean() / G[0])
    assert f["G_peak_fraction"] == pytest.approx(G.max() / G[0]) and f["G_peak_fraction"] > 1
    assert f["L_rises"] == np.sum(L[1:] > L[:-1]) > 0
    assert all(f[k] >= 0 for k in ("C_L_error", "C_G_error", "alpha_G_error"))


def test_trial_errors_vanish_on_an_exactly_settled_run():
    # every objective constant from step 5 on: the tail neither fluctuates nor moves, so the
    # limit is known exactly (error 0), and alpha = (3 - 1) / (4 - 0) by hand
    t = np.arange(200.0)
    L = np.where(t < 5, 3.0 - 0.4 * t, 1.0)
    G = np.where(t < 5, 4.0 - 0.8 * t, 0.0)
    f = trial_figures(L, G, np.sqrt(G), Estimator("limit"))
    assert f["C_L"] == pytest.approx(2.0) and f["alpha_G"] == pytest.approx(0.5)
    assert f["C_L_error"] == 0.0 and f["C_G_error"] == 0.0 and f["alpha_G_error"] == 0.0
    assert f["converged"] == 1.0


# -- how the claims are decided (inputs whose answer is known) ------------------------------------

W = np.arange(9.0)


def test_relative_variation_by_hand():
    assert relative_variation([2.0, 3.0, 2.5, np.nan]) == pytest.approx((3.0 - 2.0) / 2.5)
    assert math.isnan(relative_variation([np.nan, np.nan]))


def test_flat_claim_holds_fails_and_stays_undecided():
    rng = np.random.default_rng(0)
    flat = 1.0 + 0.01 * rng.standard_normal((9, 5))  # variation ~0.03, far under 0.25
    c = flat_claim("flat", flat, None, 0.25, 300, 1)
    assert c.verdict == "holds" and c.margin > c.resolution > 0
    steep = np.linspace(1.0, 3.0, 9)[:, None] + 0.01 * rng.standard_normal((9, 5))  # variation ~1
    assert flat_claim("flat", steep, None, 0.25, 300, 1).verdict == "fails"
    # a true variation of 0.25 measured with noise of the same order: not decidable
    edge = np.linspace(1.0, 1.25, 9)[:, None] + 0.2 * rng.standard_normal((9, 5))
    c = flat_claim("flat", edge, None, 0.25, 300, 1)
    assert c.verdict == "undecided" and abs(c.margin) <= c.resolution
    # the same flat values, each known only to +-0.5 (its estimator's error): no longer decided
    assert flat_claim("flat", flat, np.full(flat.shape, 0.5), 0.25, 300, 1).verdict != "holds"


def test_trend_claim_against_its_margin():
    t = lambda rho, se: Trend(rho, 0.5, 0.5, (rho - se, rho + se), 100, se)
    assert trend_claim("rises", t(0.9, 0.1)).verdict == "holds"
    assert trend_claim("rises", t(-0.9, 0.1)).verdict == "fails"
    c = trend_claim("rises", t(0.3, 0.2))  # 0.3 < 2 * 0.2
    assert c.verdict == "undecided" and c.margin == 0.3 and c.resolution == pytest.approx(0.4)
    assert trend_claim("rises", t(float("nan"), 0.1)).label == "undecided (undefined)"


def test_inflection_claim_on_curves_whose_answer_is_known():
    rng = np.random.default_rng(4)
    peak = np.minimum(W, 5.0) / 5.0 - 0.5 * np.maximum(W - 5.0, 0.0) / 3.0  # gives back half its range
    clear = inflection_claim("falls", inflection(W, peak[:, None] + 0.02 * rng.standard_normal((9, 5)), 300, 1))
    assert clear.verdict == "holds" and clear.numbers["seeds whose own curve shows it"] == 5
    rising = inflection_claim("falls", inflection(W, W[:, None] / 8 + 0.02 * rng.standard_normal((9, 5)), 300, 1))
    assert rising.verdict == "fails"
    dip = np.minimum(W, 5.0) / 5.0 - 0.02 * np.maximum(W - 5.0, 0.0) / 3.0  # 2%: under the 10% floor
    assert inflection_claim("falls", inflection(W, dip[:, None] + 0.01 * rng.standard_normal((9, 5)), 300, 1)
                            ).verdict == "fails"
    # a fall of 0.5 under noise 0.3 per seed: detectable on some resamples only
    noisy = inflection_claim("falls", inflection(W, peak[:, None] + 0.3 * rng.standard_normal((9, 5)), 300, 2))
    assert noisy.verdict == "undecided"
    few = inflection_claim("falls", inflection(W[:4], peak[:4, None] + np.zeros((4, 3)), 50, 0))
    assert few.label == "undecided (undefined)"


def test_product_claim_is_exact():
    assert product_claim("p", 3e-16).verdict == "holds" and product_claim("p", 3e-16).resolution == 0
    assert product_claim("p", 2e-9).verdict == "fails"
    assert product_claim("p", float("nan")).label == "undecided (undefined)"


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
    with pytest.raises(ParameterError, match="reference_width"):
        CapacityParams(widths=(1, 2), reference_width=4)
    with pytest.raises(ParameterError, match="min_fall"):
        CapacityParams(min_fall=1.0)
    assert CapacityParams(widths=(1, 2, 8)).reference == 2 and CapacityParams(reference_width=256).reference == 256


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
    for name in ("report.json", "report.txt", "trajectories.npz", "capacity.png", "objectives.png", "trials.csv",
                 "graph.graphml"):
        assert (out / name).stat().st_size > 0, name
    assert max(map(len, (out / "report.txt").read_text().splitlines())) <= 120  # the terminal report fits 120 columns
    assert len(load_finished(out)) == 15
    assert "shape against log2(width)" in r.stdout and "answer from the data" in r.stdout
    rep = json.loads((out / "report.json").read_text())
    assert rep["choices"]["true objective"].startswith("G = sum_i")
    import pandas as pd

    df = pd.read_csv(out / "trials.csv")
    assert df["trial"].nunique() == 15 and set(df["width"]) == {1, 2, 4, 8, 16}


def _alpha(L, G, tail=0.25):
    n = math.ceil(tail * L.shape[1])
    return (L[:, 0] - L[:, -n:].mean(axis=1)) / (G[:, 0] - G[:, -n:].mean(axis=1))


def test_cli_figures_recompute_from_the_trajectories(inprocess_run):
    out, _ = inprocess_run
    rep = json.loads((out / "report.json").read_text())
    arrays = np.load(out / "trajectories.npz")
    tail = rep["estimator"]["tail"]
    # the shared scale, by hand: the reference width's (4, the middle of 1..16) best improvements, median over seeds
    Lr, Gr = arrays["w4/L"], arrays["w4/G"]
    s_L, s_G = np.median(Lr[:, 0] - Lr.min(axis=1)), np.median(Gr[:, 0] - Gr.min(axis=1))
    assert "reference w4" in rep["choices"]["normalization"]
    ratios = []
    for a in rep["alignments"]:
        L, G = arrays[f"{a['child']}/L"], arrays[f"{a['child']}/G"]
        alpha = _alpha(L, G, tail)
        assert np.median(alpha) == pytest.approx(a["alignment"]["median"], rel=1e-12)
        assert np.median(alpha * s_G / s_L) == pytest.approx(a["normalized_alignment"]["median"], rel=1e-12)
        assert "reference w4" in a["normalization"]
        ratios.append(a["normalized_alignment"]["median"] / a["alignment"]["median"])
    # one factor for every width: the normalized alignment keeps every ordering of the raw ones
    assert np.ptp(ratios) <= 1e-12 * abs(ratios[0])


def test_cli_claims_are_three_valued_and_their_margins_recompute(inprocess_run):
    out, _ = inprocess_run
    rep = json.loads((out / "report.json").read_text())
    arrays = np.load(out / "trajectories.npz")
    claims = rep["claims"]
    assert len(claims) == 6
    for c in claims:
        assert c["verdict"] in ("holds", "fails", "undecided") and c["rule"]
        assert c["holds"] == {"holds": True, "fails": False}.get(c["verdict"])
        if c["verdict"] != "undecided":  # no verdict decided by a margin inside its resolution
            assert abs(c["margin"]) > c["resolution"]
    flat, rises, nrises, infl, ninfl, product = claims
    widths = [1, 2, 4, 8, 16]
    tail = rep["estimator"]["tail"]
    # flat: 0.25 - (max - min) / median of the per-width medians of C(G), by hand
    n = math.ceil(tail * arrays["w1/G"].shape[1])
    med = np.array([np.median(arrays[f"w{w}/G"][:, 0] - arrays[f"w{w}/G"][:, -n:].mean(axis=1)) for w in widths])
    assert flat["margin"] == pytest.approx(0.25 - (med.max() - med.min()) / np.median(med), rel=1e-9)
    # trend: Spearman rho of the median alpha curve with log2(width), by hand (no ties: ranks by argsort)
    alpha = np.array([np.median(_alpha(arrays[f"w{w}/L"], arrays[f"w{w}/G"], tail)) for w in widths])
    r = np.argsort(np.argsort(alpha)).astype(float)
    rho = np.corrcoef(r, np.arange(5.0))[0, 1]
    assert rises["margin"] == pytest.approx(rho, abs=1e-12)
    # the normalized alignment is alpha times one positive factor: the same verdicts, margins and resolutions
    for a, b in ((rises, nrises), (infl, ninfl)):
        assert (b["verdict"], b["margin"]) == (a["verdict"], a["margin"])
        assert b["resolution"] == pytest.approx(a["resolution"], rel=1e-9, abs=1e-12)
    diverged = sum(int(np.sum(~np.isfinite(arrays[f"w{w}/L"][:, -1]))) for w in widths)
    assert infl["numbers"]["seeds tested"] == 3 and diverged == 0  # every seed's own curve was tested
    assert product["verdict"] == "holds" and product["resolution"] == 0


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


@pytest.mark.parametrize("extra", [["--set", "lr=100"], ["--set", "lr=1e-300"],
                                   ["--set", "lr=1e30", "--set", "dtype=float32"]])
def test_a_sweep_undefined_everywhere_still_writes_its_report_and_resumes(tmp_path, extra):
    # issue 10, item 1: the plot and the normalized alignment must never cost the report
    from scenarios.machinery.cli import main

    out = tmp_path / "D"
    args = ["run", "capacity", "--steps", "60", "--no-progress", "--set", "bootstrap=10", "--set", "widths=1,2,4",
            "--set", "seeds=2", "--set", "reference_width=2", "--out", str(out), *extra]
    assert main(args) == 0
    rep = json.loads((out / "report.json").read_text())
    assert {"report.json", "trajectories.npz", "capacity.png", "graph.graphml"} <= {p.name for p in out.iterdir()}
    assert len(rep["claims"]) == 6 and all(c["verdict"] in ("holds", "fails", "undecided") for c in rep["claims"])
    assert main(args + ["--resume"]) == 0
