"""`mesastack run icl-gradient-descent` end to end at a small size, and its one-line errors.

Independent truth: the files a run must write, the graph relation "base optimizer produces
mesa-optimizer", invariants of the tables (an untrained control is never an optimizer; the
reference's match numbers are those of the constructed step), and the claims' three values.
"""

import json

import numpy as np
import pytest

from hierarchy.errors import ParameterError
from scenarios.machinery.cli import main
from scenarios.machinery.registry import RunOptions, run_scenario

SMALL = {"copies": "2", "control_copies": "1", "batch": "128", "eval_tasks": "300", "shift_tasks": "150",
         "line_search_tasks": "2000", "inner_steps": "8", "shift_steps": "5", "snapshot_every": "50",
         "scales": "0.5,2.0", "noises": "1.0", "distractor_counts": "3"}
STEPS = 150


def _set(params):
    out = []
    for k, v in params.items():
        out += ["--set", f"{k}={v}"]
    return out


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("icl")
    code = main(["run", "icl-gradient-descent", "--steps", str(STEPS), "--out", str(out), "--no-progress", *_set(SMALL)])
    assert code == 0
    return out, json.loads((out / "report.json").read_text()), dict(np.load(out / "trajectories.npz"))


def _table(report, start):
    return next(t for t in report["tables"] if t["title"].startswith(start))


def test_the_run_writes_its_files_tables_and_plots(result):
    out, rep, arrays = result
    for name in ("report.json", "report.txt", "trajectories.npz", "graph.json", "inner-run.png", "objectives.png",
                 "match-over-training.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "inner-run.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert rep["scenario"] == "icl-gradient-descent"
    assert arrays["base-optimizer/query_loss"].shape == (2, STEPS + 1)
    assert arrays["mesa-optimizer/L_ctx"].shape == (2, 9) and arrays["gradient-descent-on-L_ctx/L_ctx"].shape == (1, 9)
    assert arrays["extra/match-over-training/cosine"].shape == (STEPS // 50 + 1, 2)
    text = (out / "report.txt").read_text()
    assert max(map(len, text.splitlines())) <= 120  # the terminal report fits 120 columns
    for start in ("is it an optimizer?", "three levels", "the mesa-optimizer's own run", "shift 'input scale'",
                  "shift 'distractors in training'", "robustness of the mesa-optimizer", "inner alignment of the"):
        assert start in text, start


def test_the_graph_has_the_base_optimizer_produce_the_mesa_optimizer(result):
    out, _, _ = result
    g = json.loads((out / "graph.json").read_text())
    kinds = {(e["source"], e["target"]): e["kind"] for e in g["edges"]}
    assert kinds[("base-optimizer", "mesa-optimizer")] == "produces"
    assert kinds[("designer", "mesa-optimizer")] == "delegates"


def test_match_table_controls_and_verdict_words(result):
    _, rep, _ = result
    rows = _table(rep, "is it an optimizer?")["rows"]
    untrained = [r for r in rows if r[0] == "control (untrained start)"]
    assert len(untrained) == 2 and all(r[-1] == "not an optimizer of L_ctx" for r in untrained)
    assert {r[-1] for r in rows} <= {"implements GD on L_ctx", "not an optimizer of L_ctx", "undecided"}
    assert {r[0] for r in rows} >= {"trained (clean tasks)", "trained with distractors", "control (shuffled context labels)"}


def test_claims_are_three_valued_replicated_and_the_product_holds(result):
    _, rep, _ = result
    assert all(c["verdict"] in ("holds", "fails", "undecided") for c in rep["claims"])
    product = next(c for c in rep["claims"] if c["text"].startswith("delegation product"))
    assert product["verdict"] == "holds"
    anchor = rep["claims"][0]
    assert anchor["text"].startswith("the trained single layer implements") and anchor["seeds"]["n"] == 2
    assert any(n.startswith("anchor (the paper's central comparison)") for n in rep["notes"])
    assert any(n.startswith("cost (s):") for n in rep["notes"])


def test_verdict_table_covers_every_family_and_definition(result):
    _, rep, _ = result
    rows = _table(rep, "inner alignment of the learned optimizer")["rows"]
    assert len(rows) == 4 * 4
    assert {r[0] for r in rows} == {"input scale", "noisy labels", "distractors only in deployment",
                                    "distractors in training"}


@pytest.mark.parametrize("params, parameter", [({"optimizer": "rmsprop"}, "optimizer"),
                                               ({"true_objective": "H"}, "true_objective"),
                                               ({"optimizer": "sgd", "true_objective": "G_adam"}, "true_objective"),
                                               ({"distractor_counts": "0"}, "distractor_counts"),
                                               ({"m_train": "20"}, "m_train"), ({"damping": "-1"}, "damping"),
                                               ({"copies": "0"}, "copies"), ({"dtype": "float16"}, "dtype")])
def test_bad_inputs_are_one_line_errors(params, parameter, capsys):
    with pytest.raises(ParameterError) as e:
        run_scenario("icl-gradient-descent", RunOptions(steps=2, progress=False, params=params))
    assert e.value.parameter == parameter and "\n" not in str(e.value)
    assert main(["run", "icl-gradient-descent", "--steps", "2", "--no-progress", *_set(params)]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
