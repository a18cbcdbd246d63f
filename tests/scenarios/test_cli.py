"""End-to-end runs of the `mesastack` command, including every user mistake."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hierarchy.exports import read_graph

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--set", "candidates=8", "--set", "init_population=4", "--set", "search_norms=1.0"]


def mesastack(*args, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "scenarios", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


def test_list_names_scenarios():
    r = mesastack("list")
    assert r.returncode == 0
    assert "harris-abc" in r.stdout


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    r = mesastack("run", "harris-abc", "--steps", "300", "--out", str(out), "--no-progress", *SMALL)
    assert r.returncode == 0, r.stderr
    return out, r


def test_run_writes_every_file(short_run):
    out, r = short_run
    for name in ("report.json", "trajectories.npz", "graph.graphml", "graph.gexf", "graph.json", "graph.dot",
                 "objectives.png", "report.txt"):
        assert (out / name).stat().st_size > 0, name
    assert "claims" in r.stdout and "designer -> A" in r.stdout
    assert not [p for p in out.iterdir() if p.name.startswith(".mesastack")]


def limit_capability(L, tail):
    """The limit estimator written out: L(0) minus the mean of the last ceil(tail * T) values."""
    n = max(2, int(np.ceil(tail * L.shape[1])))
    return L[:, 0] - L[:, -n:].mean(axis=1)


def test_report_json_can_be_recomputed_from_trajectories(short_run):
    out, _ = short_run
    rep = json.loads((out / "report.json").read_text())
    arrays = np.load(out / "trajectories.npz")
    assert rep["scenario"] == "harris-abc" and rep["estimator"]["kind"] == "limit"
    tail = rep["estimator"]["tail"]
    for a in rep["alignments"]:
        leaf = a["chain"]
        alpha = (limit_capability(arrays[f"{leaf}/L"], tail)
                 / limit_capability(arrays[f"{leaf}/{a['mesa_objective']}"], tail))
        assert np.median(alpha) == pytest.approx(a["alignment"]["median"], rel=1e-12)
    for c in rep["capabilities"]:
        v = limit_capability(arrays[f"{c['chain']}/{c['objective']}"], tail)
        assert np.median(v) == pytest.approx(c["capability"]["median"], rel=1e-12)
    assert rep["max_discrepancy"] < 1e-9
    g = read_graph(out / "graph.graphml")
    assert g.edges["designer", "A"]["alignment@A"] == pytest.approx(
        [a for a in rep["alignments"] if a["child"] == "A"][0]["alignment"]["median"])


def test_report_json_claims_are_three_valued(short_run):
    """Every claim carries verdict, margin, resolution and rule, and its verdict follows from them:
    holds when margin > resolution, fails when margin < -resolution, undecided otherwise."""
    out, _ = short_run
    rep = json.loads((out / "report.json").read_text())
    assert rep["claims"]
    for c in rep["claims"]:
        assert {"text", "numbers", "holds", "verdict", "margin", "resolution", "rule"} <= c.keys()
        m, res = c["margin"], c["resolution"]
        if c.get("seeds"):
            continue  # pooled over seeds: decided from the seed counts (checked where that is built)
        if m is None or res is None:
            assert c["verdict"] == "undecided"
        else:
            assert c["verdict"] == ("holds" if m > res else "fails" if m < -res else "undecided"), c
        assert c["holds"] == {"holds": True, "fails": False, "undecided": None}[c["verdict"]]


def test_same_seed_same_numbers(short_run, tmp_path):
    out, _ = short_run
    r = mesastack("run", "harris-abc", "--steps", "300", "--out", str(tmp_path), "--no-progress", *SMALL)
    assert r.returncode == 0
    a, b = np.load(out / "trajectories.npz"), np.load(tmp_path / "trajectories.npz")
    assert sorted(a.files) == sorted(b.files)
    for k in a.files:
        assert np.array_equal(a[k], b[k], equal_nan=True), k


@pytest.mark.parametrize("args,needle", [
    (["run", "no-such-scenario"], "unknown scenario"),
    (["run", "harris-abc", "--steps", "0"], "at least one step"),
    (["run", "harris-abc", "--set", "lr=-1"], "learning rate"),
    (["run", "harris-abc", "--set", "lr_c=0"], "learning rate"),
    (["run", "harris-abc", "--set", "nonsense=1"], "no parameter"),
    (["run", "harris-abc", "--steps", "ten"], "invalid int"),
    (["run", "harris-abc", "--out", "/proc/version/x"], "--out"),
    (["run", "harris-abc", "--resume"], "harris-abc is not a sweep: --resume applies to sweeps only"),
    (["run", "harris-abc", "--executor", "dask"], "not a sweep: --executor"),
    (["run", "harris-abc", "--executor", "dask", "--resume", "--workers", "3"],
     "not a sweep: --resume, --executor, --workers apply"),
    (["run", "capacity", "--workers", "3"], "add --executor dask"),
    (["run", "capacity", "--scheduler", "tcp://x:1"], "add --executor dask"),
])
def test_user_mistakes_print_one_line(args, needle):
    r = mesastack(*args, "--no-progress")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("mesastack: error:") and needle in lines[0]
    assert "Traceback" not in r.stderr


def test_core_errors_get_the_cli_hint_and_core_messages_name_no_flag():
    """The core names the parameter; only the CLI adds the flag."""
    from hierarchy.errors import ParameterError
    from scenarios.machinery.registry import RunOptions

    with pytest.raises(ParameterError) as info:
        RunOptions(seed=-1)
    assert info.value.parameter == "seed" and "--" not in str(info.value)
    r = mesastack("run", "harris-abc", "--seed", "-1", "--no-progress")
    assert r.returncode == 2 and r.stderr.strip().endswith("(option --seed N)")


def test_describe_lists_every_parameter_with_default_type_and_meaning():
    import attrs

    from scenarios.machinery.registry import get_scenario, list_scenarios, parameter_rows

    r = mesastack("describe", "harris-abc")
    assert r.returncode == 0, r.stderr
    spec = get_scenario("harris-abc")
    rows = {line.split()[0]: line.split() for line in r.stdout.splitlines()[4:] if line.strip()}
    for f in attrs.fields(spec.params):  # independent truth: the class's own fields and defaults
        assert f.name in rows, f.name
        assert rows[f.name][2] == type(f.default).__name__
        assert " ".join(rows[f.name][3:]) == f.metadata["help"]
    assert rows["width"][1] == "3" and rows["search_norms"][1] == "0.6,1.0,1.5"
    bad = mesastack("describe", "no-such-scenario")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "unknown scenario" in bad.stderr
    for s in list_scenarios():  # every parameter of every scenario has a meaning
        missing = [row[0] for row in parameter_rows(s.params) if row[3] == "(no description)"]
        assert not missing, (s.name, missing)
    from scenarios.compare_definitions import CompareParams  # and of compare-definitions
    assert not [row[0] for row in parameter_rows(CompareParams) if row[3] == "(no description)"]


def test_ctrl_c_leaves_no_file(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen([sys.executable, "-m", "scenarios", "run", "harris-abc", "--steps", "200000",
                          "--out", str(tmp_path), "--no-progress"], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_stops_compare_definitions_cases_side_by_side(tmp_path):
    """Its cases run on threads: Ctrl-C stops them too (the process ends at once, not when the cases would)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen([sys.executable, "-m", "scenarios", "compare-definitions", "--set", "case_threads=2",
                          "--set", "icl_steps=100000", "--out", str(tmp_path), "--no-progress"], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(8)  # past the imports: the cases are running
    assert p.poll() is None, p.stderr.read()
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err and "Exception in thread" not in err
    assert time.monotonic() - t0 < 20  # the 100,000-step in-context training would take about 20 minutes
    assert list(tmp_path.iterdir()) == []
