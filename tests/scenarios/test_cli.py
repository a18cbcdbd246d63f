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

from hierarchy import alignment, capability, Estimator
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


def test_report_json_can_be_recomputed_from_trajectories(short_run):
    out, _ = short_run
    rep = json.loads((out / "report.json").read_text())
    arrays = np.load(out / "trajectories.npz")
    assert rep["scenario"] == "harris-abc" and rep["estimator"]["kind"] == "limit"
    assert isinstance(rep["claims"], list) and all({"text", "numbers", "holds"} <= c.keys() for c in rep["claims"])
    est = Estimator("limit", tail=rep["estimator"]["tail"])
    for a in rep["alignments"]:
        leaf = a["chain"]
        alpha = alignment(arrays[f"{leaf}/L"], arrays[f"{leaf}/{a['mesa_objective']}"], est).value[0]
        assert alpha == pytest.approx(a["alignment"]["median"], rel=1e-12)
    for c in rep["capabilities"]:
        v = capability(arrays[f"{c['chain']}/{c['objective']}"], est).value[0]
        assert v == pytest.approx(c["capability"]["median"], rel=1e-12)
    assert rep["max_discrepancy"] < 1e-9
    g = read_graph(out / "graph.graphml")
    assert g.edges["designer", "A"]["alignment"] == pytest.approx(
        [a for a in rep["alignments"] if a["child"] == "A"][0]["alignment"]["median"])


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
])
def test_user_mistakes_print_one_line(args, needle):
    r = mesastack(*args, "--no-progress")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("mesastack: error:") and needle in lines[0]
    assert "Traceback" not in r.stderr


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
