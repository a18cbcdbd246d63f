"""`mesastack compare-definitions` end to end, checked against seed 002's pattern.

The expected pattern is written out here from seed 002's text (not imported from the
code under test): Examples 1 and 2 aligned under the three camps; Example 3 misaligned for
the objective- and generalization-focused camps and a generalization (outer) failure,
not an inner one, for the optimization-focused camp; Example 4 misaligned for the
objective- and optimization-focused camps; Example 5 not applicable for the two camps
that concern mesa-optimizers only and misaligned for the generalization-focused one.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hierarchy import alignment, Estimator
from hierarchy.exports import read_graph
from hierarchy.inner_alignment import Evidence, Thresholds, judge_all

ROOT = Path(__file__).resolve().parents[2]
DEFS = ["objective-focused", "generalization-focused", "optimization-focused", "alpha-robust"]

SEED_002_PATTERN = {
    1: {"objective-focused": "aligned", "generalization-focused": "aligned", "optimization-focused": "aligned"},
    2: {"objective-focused": "aligned", "generalization-focused": "aligned", "optimization-focused": "aligned"},
    3: {"objective-focused": "misaligned", "generalization-focused": "misaligned",
        "optimization-focused": "aligned [generalization (outer)]"},
    4: {"objective-focused": "misaligned", "optimization-focused": "misaligned"},
    5: {"objective-focused": "not applicable", "generalization-focused": "misaligned",
        "optimization-focused": "not applicable"},
}


def mesastack(*args, timeout=600):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "scenarios", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    r = mesastack("compare-definitions", "--out", str(out), "--seed", "0", "--no-progress", "--quick")
    assert r.returncode == 0, r.stderr
    return out, r, json.loads((out / "report.json").read_text())


def _table(report, title_start):
    return next(t for t in report["tables"] if t["title"].startswith(title_start))


def test_writes_report_pngs_and_graph(comparison):
    out, r, _ = comparison
    for name in ["report.json", "report.txt", "trajectories.npz", "graph.graphml", "graph.gexf", "graph.json",
                 "graph.dot"] + [f"maze-example-{n}.png" for n in range(1, 6)]:
        assert (out / name).stat().st_size > 0, name
    for n in range(1, 6):
        assert (out / f"maze-example-{n}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "inner alignment by each definition" in r.stdout and "the run against seed 002" in r.stdout


def test_table_matches_seed_002_pattern(comparison):
    _, _, report = comparison
    table = _table(report, "inner alignment by each definition")
    assert table["columns"] == ["example"] + DEFS
    assert len(table["rows"]) == 5
    for row in table["rows"]:
        number = int(row[0].split(":")[0])
        for definition, cell in zip(DEFS, row[1:]):
            want = SEED_002_PATTERN[number].get(definition)
            if want is not None:
                assert cell.startswith(want), (number, definition, cell)


def test_agreement_cells_are_decided_by_the_verdicts(comparison):
    _, r, report = comparison
    rows = _table(report, "the run against seed 002")["rows"]
    assert len(rows) == 20
    claims = {(row[0], row[1]) for row in rows if row[2] != "no claim"}
    assert len(claims) == 14  # cells where seed 002 states a verdict
    for example, definition, seed, run, agreement in rows:
        if seed == "no claim":
            assert agreement == "-"
        else:
            want_kind = seed.split(" (", 1)[1][:-1] if " (" in seed else None
            same = run.split(" (")[0] == seed.split(" (")[0] and (want_kind is None or f"({want_kind})" in run)
            assert agreement == ("agrees" if same else "DISAGREES")
    assert all(row[4] == "agrees" for row in rows if row[2] != "no claim")
    seed_claims = [c for c in report["claims"] if c["text"].startswith("seed 002")]
    assert len(seed_claims) == 14 and all(c["holds"] for c in seed_claims)
    assert "every cell where seed 002 states a verdict agrees" in r.stdout


def test_verdicts_recompute_from_the_evidence_table(comparison):
    """The table's verdicts follow from the evidence columns by the definitions' rules."""
    _, _, report = comparison
    ev = _table(report, "evidence per example")
    verdicts = _table(report, "inner alignment by each definition")["rows"]
    th = Thresholds()
    for row, vrow in zip(ev["rows"], verdicts):
        number, system, mesa, rt, rd, cap, st, sd = row[:8]
        e = Evidence(system, bool(mesa), rt, 1.0, rd, 1.0, cap,
                     similarity_train=None if st == "" else float(st),
                     similarity_deploy=None if sd == "" else float(sd))
        got = judge_all(e, th)
        for v, cell in zip(got[:3], vrow[1:4]):
            assert cell.startswith(v.verdict), (number, v.definition, cell)


def test_graph_carries_verdicts_and_alignments_recompute(comparison):
    out, _, report = comparison
    g = read_graph(out / "graph.graphml")
    table = {int(r[0].split(":")[0]): r[1:] for r in _table(report, "inner alignment by each definition")["rows"]}
    for n, system in [(1, "planner"), (2, "planner"), (3, "planner"), (4, "planner"), (5, "replicator")]:
        node = g.nodes[f"ex{n}-{system}"]
        for definition, cell in zip(DEFS, table[n]):
            assert cell.startswith(node[f"verdict[{definition}]"])
    arrays = np.load(out / "trajectories.npz")
    est = Estimator("limit", tail=report["estimator"]["tail"])
    for a in report["alignments"]:
        leaf = a["chain"]
        alpha = alignment(arrays[f"{leaf}/{a['base_objective']}"], arrays[f"{leaf}/{a['mesa_objective']}"], est).value
        assert np.nanmedian(alpha) == pytest.approx(a["alignment"]["median"], rel=1e-12)
    assert report["max_discrepancy"] < 1e-9


def test_a_disagreement_is_reported_not_forced():
    """With a capability threshold no system can meet, the generalization-focused camp calls the
    replicator's failure a capability one: the comparison reports that cell as disagreeing."""
    from scenarios.compare import CompareParams, compare_definitions
    from scenarios.registry import RunOptions

    c = compare_definitions(RunOptions(progress=False),
                            CompareParams(population=3, replicator_eval_mazes=6, capability=1.5), examples=(5,))
    assert c.disagreements() == [(5, "generalization-focused", ("misaligned", None), "aligned")]
    assert any(n.startswith("finding: Example 5, generalization-focused") for n in c.result.report.notes)
    assert not [cl for cl in c.result.report.claims if "generalization-focused" in cl.text][0].holds


def test_unknown_parameter_is_one_line_error(tmp_path):
    r = mesastack("compare-definitions", "--out", str(tmp_path), "--set", "bogus=1", "--no-progress", timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "bogus" in r.stderr
