"""`mesastack compare-definitions`: verdicts decided copy by copy, agreement with seed 002 over seeds.

Independent truth: seed 002's pattern written out here from its text (not imported from
the code under test); the Wilson interval written out here; hand-built verdicts and
evidence whose verdicts are known by construction; invariants between the tables, the
claims and the graph. No verdict is re-derived with the rules under test.

Seed 002's pattern: Examples 1 and 2 aligned under the three camps; Example 3 misaligned
for the objective- and generalization-focused camps and a generalization (outer)
failure, not an inner one, for the optimization-focused camp; Example 4 misaligned for
the objective- and optimization-focused camps; Example 5 not applicable for the two
camps that concern mesa-optimizers only and misaligned for the generalization-focused
one; Example 6 (the aside on Example 1: capabilities fail to generalize) aligned for the
objective- and optimization-focused camps, "since the mesa-objective remains aligned".
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hierarchy.exports import read_graph
from hierarchy.inner_alignment import Evidence, Verdict, objective_focused, population_verdict

ROOT = Path(__file__).resolve().parents[2]
DEFS = ["objective-focused", "generalization-focused", "optimization-focused", "alpha-robust"]
SEEDS = 5

SEED_002_PATTERN = {
    1: {"objective-focused": "aligned", "generalization-focused": "aligned", "optimization-focused": "aligned"},
    2: {"objective-focused": "aligned", "generalization-focused": "aligned", "optimization-focused": "aligned"},
    3: {"objective-focused": "misaligned", "generalization-focused": "misaligned",
        "optimization-focused": "aligned (generalization (outer))"},
    4: {"objective-focused": "misaligned", "optimization-focused": "misaligned"},
    5: {"objective-focused": "not applicable", "generalization-focused": "misaligned",
        "optimization-focused": "not applicable"},
    6: {"objective-focused": "aligned (capability)", "optimization-focused": "aligned (capability)"},
}
CELLS = [(n, d) for n, row in SEED_002_PATTERN.items() for d in DEFS if d in row]


def wilson(k, n, z=1.959963984540054):
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, c - h), min(1.0, c + h)


def mesastack(*args, timeout=900):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "scenarios", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    """The quick setting over 5 scenario seeds (0-4), run once for the module (about a minute)."""
    out = tmp_path_factory.mktemp("compare")
    r = mesastack("compare-definitions", "--out", str(out), "--seed", "0", "--seeds", str(SEEDS), "--no-progress",
                  "--quick")
    assert r.returncode == 0, r.stderr
    return out, r, json.loads((out / "report.json").read_text())


def _table(report, title_start):
    return next(t for t in report["tables"] if t["title"].startswith(title_start))


def _number(label):
    return int(label.split()[0])


def test_writes_report_pngs_and_graph(comparison):
    out, r, _ = comparison
    for name in ["report.json", "report.txt", "trajectories.npz", "graph.graphml", "graph.gexf", "graph.json",
                 "graph.dot"] + [f"maze-example-{n}.png" for n in range(1, 7)]:
        assert (out / name).stat().st_size > 0, name
    for n in range(1, 7):
        assert (out / f"maze-example-{n}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "inner alignment by each definition" in r.stdout and "agreement with seed 002" in r.stdout
    assert max(map(len, (out / "report.txt").read_text().splitlines())) <= 120  # the terminal report fits 120 columns


def test_verdict_tables_count_every_copy_of_every_seed(comparison):
    _, _, report = comparison
    verdicts = _table(report, "inner alignment by each definition")["rows"]
    copies = _table(report, "copies per verdict")["rows"]
    assert [(_number(r[0]), r[1]) for r in verdicts] == [(n, d) for n in range(1, 7) for d in DEFS]
    for vrow, crow in zip(verdicts, copies):
        # "aligned 4, split 1 of 5 seeds": the seeds' verdicts add up to S
        words = vrow[2].rsplit(" of ", 1)
        assert words[1] == f"{SEEDS} seeds"
        assert sum(int(part.rsplit(" ", 1)[1]) for part in words[0].split(", ")) == SEEDS
        # "aligned 34/40 [0.71, 0.93]; misaligned 6/40 [...]": 8 copies x 5 seeds, each share with its Wilson interval
        total = 0
        for cell in crow[2].split("; "):
            frac, interval = cell.rsplit(" [", 1)
            k, n = map(int, frac.rsplit(" ", 1)[1].split("/"))
            lo, hi = (float(x) for x in interval.rstrip("]").split(", "))
            assert n == 8 * SEEDS and (lo, hi) == pytest.approx(wilson(k, n), abs=0.006)
            total += k
        assert total == 8 * SEEDS


def test_agreement_rates_over_five_quick_seeds(comparison):
    """Each cell's agreement with seed 002 is a count of seeds with a Wilson interval; over 5 seeds
    of the quick setting the run never contradicts seed 002 on any cell and seed (a cell that does
    not agree is split: its copies do not decide), and Examples 2, 3 and 5, whose mechanics are
    sharp, agree on every seed."""
    _, r, report = comparison
    rows = _table(report, "agreement with seed 002")["rows"]
    assert [(_number(x[0]), x[1]) for x in rows] == CELLS
    total = 0
    for label, definition, seed, agrees, rate, undecided, fails, per_seed in rows:
        number = _number(label)
        assert seed == SEED_002_PATTERN[number][definition]
        h, S = map(int, agrees.split("/"))
        assert S == SEEDS and h + undecided + fails == S
        assert per_seed.split().count("+") == h and per_seed.split().count("?") == undecided
        lo, hi = (float(x) for x in rate.strip("[]").split(", "))
        assert (lo, hi) == pytest.approx(wilson(h, S), abs=0.006)
        assert fails == 0, (number, definition)
        if number in (2, 3, 5):
            assert h == SEEDS, (number, definition)
        total += h
    # the pooled agreement over 16 cells x 5 seeds is decidedly above one half
    assert wilson(total, len(CELLS) * SEEDS)[0] > 0.5
    note = next(n for n in report["notes"] if n.startswith("agreement with seed 002"))
    assert note.startswith(f"agreement with seed 002: {total} of {len(CELLS) * SEEDS} cell-seeds")
    # a cell that does not agree on every seed is a finding in the notes, never forced
    for label, definition, _, agrees, *_ in rows:
        if int(agrees.split("/")[0]) < SEEDS:
            assert any(n.startswith(f"finding: Example {_number(label)}, {definition}:") for n in report["notes"])
    assert ("do not agree with seed 002 on every seed" in r.stdout) == (total < len(CELLS) * SEEDS)


def test_replicated_claims_carry_the_seed_counts(comparison):
    _, _, report = comparison
    rows = {(_number(x[0]), x[1]): x for x in _table(report, "agreement with seed 002")["rows"]}
    claims = [c for c in report["claims"] if c["text"].startswith("seed 002")]
    assert len(claims) == len(CELLS)
    for c in claims:
        number = int(c["text"].split("Example ")[1].split()[0])
        definition = next(d for d in DEFS if f"under the {d} definition" in c["text"])
        s = c["seeds"]
        assert s["n"] == SEEDS and s["holds"] == int(rows[(number, definition)][3].split("/")[0])
        assert s["fails"] == rows[(number, definition)][6]
        assert c["verdict"] in ("holds", "fails", "undecided") and c["holds"] in (True, False, None)
        # pooled over seeds: holds exactly when the rate's Wilson interval lies above one half
        assert (c["verdict"] == "holds") == (wilson(s["holds"], SEEDS)[0] > 0.5)
    product = next(c for c in report["claims"] if c["text"].startswith("delegation product"))
    assert product["verdict"] == "holds" and product["resolution"] == 0


def test_graph_carries_the_first_seeds_verdicts(comparison):
    out, _, report = comparison
    g = read_graph(out / "graph.graphml")
    for n, system in [(1, "planner"), (2, "planner"), (3, "planner"), (4, "planner"), (5, "replicator"),
                      (6, "planner")]:
        node = g.nodes[f"ex{n}-{system}"]
        for d in DEFS:
            assert node[f"verdict[{d}]"] in ("aligned", "misaligned", "not applicable", "undecided", "split")
            counts = node[f"copies[{d}]"]  # e.g. "aligned 7, misaligned 1 of 8"
            assert counts.endswith(" of 8")
            assert sum(int(p.rsplit(" ", 1)[1]) for p in counts[: -len(" of 8")].split(", ")) == 8
            top = max(counts[: -len(" of 8")].split(", "), key=lambda p: int(p.rsplit(" ", 1)[1]))
            k = int(top.rsplit(" ", 1)[1])
            # the example's verdict is the majority when its Wilson interval excludes 1/2
            assert node[f"verdict[{d}]"] == (top.rsplit(" ", 1)[0] if wilson(k, 8)[0] > 0.5 else "split")
    assert report["max_discrepancy"] < 1e-9
    # the union keeps each example's production: gradient descent produces the planners
    assert g.edges["ex3-gradient-descent", "ex3-planner"]["kind"] == "produces"
    assert g.nodes["ex3-planner"]["step_unit"] == "move" and g.nodes["ex5-replicator"]["step_unit"] == "division"
    assert ["ex3-gradient-descent", "ex3-planner"] in report["productions"]


def test_the_union_replays_each_examples_runs():
    """The comparison's graph is measured through run_graph on the union of the examples' graphs, whose
    leaves replay the examples' runs: its arrays are the examples' own, not a second run."""
    from scenarios.compare_definitions import CompareParams, compare_definitions
    from scenarios.machinery.registry import RunOptions

    c = compare_definitions(RunOptions(progress=False), CompareParams(
        population=2, eval_mazes=6, replicator_eval_mazes=4, irl_mazes=3, irl_steps=10, probe_mazes=2,
        train_steps=5, icl=False), examples=(3, 5))
    arrays = c.result.arrays
    for o in c.outcomes:
        for leaf, r in o.runs.items():
            for name, v in r.trajectory.values.items():
                np.testing.assert_array_equal(arrays[f"ex{o.number}-{leaf}/{name}"], v)
    assert ("ex3-gradient-descent", "ex3-planner") in c.result.graph.productions


ICL_FAMILIES = ["input scale", "noisy labels", "distractors only in deployment", "distractors in training"]


def test_the_in_context_learner_is_judged_beside_the_mazes_with_is_mesa_optimizer_measured(comparison):
    """The ICL families come after the maze tables (those keep their order and rows), every family x
    definition has a population verdict over the 4 copies, and the evidence says where is_mesa_optimizer
    comes from: measured for the in-context learner, a structural fact for the maze systems (the note)."""
    out, r, report = comparison
    titles = [t["title"] for t in report["tables"]]
    first_icl = next(i for i, t in enumerate(titles) if t.startswith("in-context learner"))
    assert all(not t.startswith(("in-context", "evidence of the in-context")) for t in titles[:first_icl])
    assert titles[first_icl - 1].startswith("evidence per example")
    rows = report["tables"][first_icl]["rows"]
    assert [(x[0], x[1]) for x in rows] == [(f"ICL: {f}", d) for f in ICL_FAMILIES for d in DEFS]
    for x in rows:
        assert x[2] in ("aligned", "misaligned", "not applicable", "undecided", "split")
        shares = [cell.split(" [")[0].rsplit(" ", 1)[1] for cell in x[4].split("; ")]
        assert sum(int(s.split("/")[0]) for s in shares) == 4 and all(s.endswith("/4") for s in shares)
    ev = next(t for t in report["tables"] if t["title"].startswith("evidence of the in-context learner"))["rows"]
    assert len(ev) == 4 and all("(measured: " in x[1] and x[1].split()[0] in ("yes", "no") for x in ev)
    note = next(n for n in report["notes"] if n.startswith("is_mesa_optimizer:"))
    assert "structural facts" in note and "measured per copy" in note
    g = read_graph(out / "graph.graphml")
    assert g.edges["icl-base-optimizer", "icl-mesa-optimizer"]["kind"] == "produces"
    assert "in-context learner" in r.stdout


# ----- the claim of one cell on hand-built verdicts and evidence -----------------------------------

def test_a_cell_claim_is_decided_by_the_share_of_copies_agreeing():
    """Hand-built verdicts of Example 3's optimization-focused cell: with 8 copies a claim holds
    from 7 agreeing (Wilson low end 0.53), fails at 1 or none (high end 0.47), undecided between;
    a copy with the right verdict but the wrong kind does not agree."""
    from scenarios.common.seed_002 import seed_claim

    outer = Verdict("optimization-focused", "aligned", "r", kind="generalization (outer)")
    capability = Verdict("optimization-focused", "aligned", "r", kind="capability")
    inner = Verdict("optimization-focused", "misaligned", "r", kind="inner")
    for agree, want in [(8, "holds"), (7, "holds"), (6, "undecided"), (4, "undecided"), (2, "undecided"),
                        (1, "fails"), (0, "fails")]:
        cv = [outer] * agree + [inner] * (8 - agree)
        c = seed_claim(3, population_verdict(cv), cv)
        assert c.verdict == want, agree
        assert c.margin == pytest.approx(agree / 8 - 0.5)
    cv = [capability] * 8
    assert seed_claim(3, population_verdict(cv), cv).verdict == "fails"
    assert seed_claim(6, population_verdict(cv), cv).verdict == "holds"  # Example 6: a capability failure
    alpha = [Verdict("alpha-robust", "aligned", "r")] * 8
    assert seed_claim(1, population_verdict(alpha), alpha) is None  # seed 002 makes no claim on seed 000's measure


def test_hand_built_evidence_of_a_shifted_proxy_reads_as_seed_002_says():
    """Evidence of the green-cell proxy deployed without green by the exit (success 1.0 in
    training, 0.2 deployed, capabilities generalize): seed 002's objective-focused verdict
    is misaligned. 8 such copies hold the cell's claim; 2 of them among 6 exit-seeking
    copies fail it."""
    from scenarios.common.seed_002 import seed_claim

    proxy = Evidence("proxy", True, 1.0, 1.0, 0.2, 1.0, 0.95)
    exit_ = Evidence("exit", True, 1.0, 1.0, 1.0, 1.0, 1.0)
    cv = [objective_focused(proxy)] * 8
    assert seed_claim(3, population_verdict(cv), cv).verdict == "holds"
    cv = [objective_focused(proxy)] * 2 + [objective_focused(exit_)] * 6
    assert seed_claim(3, population_verdict(cv), cv).verdict == "undecided"  # 2/8 agree: [0.07, 0.59]


def test_a_disagreement_is_reported_not_forced():
    """With a capability threshold no system can meet, the generalization-focused camp calls the
    replicator's failure a capability one: 0 of 8 copies agree with seed 002 and the claim fails."""
    from scenarios.compare_definitions import CompareParams, compare_definitions
    from scenarios.machinery.registry import RunOptions

    c = compare_definitions(RunOptions(progress=False),
                            CompareParams(population=8, replicator_eval_mazes=6, capability=1.5, icl=False),
                            examples=(5,))
    assert c.disagreements() == [(5, "generalization-focused", ("misaligned", None), "aligned")]
    assert any(n.startswith("finding: Example 5, generalization-focused") for n in c.result.report.notes)
    claim = [cl for cl in c.result.report.claims if "generalization-focused" in cl.text][0]
    assert claim.verdict == "fails" and claim.holds is False


@pytest.mark.parametrize("args, word", [(["--set", "bogus=1"], "bogus"), (["--seeds", "0"], "seeds")])
def test_user_mistakes_are_one_line_errors(tmp_path, args, word):
    r = mesastack("compare-definitions", "--out", str(tmp_path), *args, "--no-progress", timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and word in r.stderr


def test_cases_side_by_side_give_the_numbers_of_one_after_another():
    """case_threads=2 (the cases on two threads, sharing one cache) against 1 (a plain loop): the same
    arrays bit for bit, the same claims, the same verdicts."""
    from scenarios.compare_definitions import CompareParams, compare_definitions
    from scenarios.machinery.registry import RunOptions

    small = dict(population=2, eval_mazes=6, replicator_eval_mazes=4, irl_mazes=3, irl_steps=10, probe_mazes=2,
                 train_steps=5, icl=True, icl_quick=True, icl_steps=10)
    runs = [compare_definitions(RunOptions(progress=False), CompareParams(**small, case_threads=k),
                                examples=(1, 6, 5)) for k in (1, 2)]
    a, b = (c.result for c in runs)
    assert a.arrays.keys() == b.arrays.keys()
    for name in a.arrays:
        np.testing.assert_array_equal(a.arrays[name], b.arrays[name], err_msg=name)
    assert [(c.text, c.verdict, c.margin) for c in a.report.claims] == \
        [(c.text, c.verdict, c.margin) for c in b.report.claims]
    assert [[v.verdict for v in o.verdicts] for o in runs[0].outcomes] == \
        [[v.verdict for v in o.verdicts] for o in runs[1].outcomes]
    assert [o.number for o in runs[1].outcomes] == [1, 6, 5]  # in the order asked, not the order run
