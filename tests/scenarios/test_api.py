"""The build-your-own API: any graph gives the same report and files; perturbations give Definitions 3-4."""

import numpy as np
import pytest

from agents.language_model.gradient_descent import GradientDescent
from agents.language_model.markov import MarkovChain
from agents.language_model.perturbations import InitNoise, ScaleLR
from hierarchy import DelegationGraph, Family, Identity, Objective, ObjectiveError, OptimizerNode
from hierarchy.exports import read_graph
from scenarios import run_hierarchy


@pytest.fixture(scope="module")
def graph():
    chain = MarkovChain.random(vocab=4, order=1, concentration=0.5, seed=0)
    leaf = GradientDescent(chain.sample(64, seed=1), hidden=(3,), population=3)
    return DelegationGraph.chain(OptimizerNode("designer", Objective("L")), OptimizerNode("mid", Objective("G1")),
                                 OptimizerNode("gd", Objective("G"), leaf=leaf))


def test_custom_hierarchy_report_and_files(graph, tmp_path):
    r = run_hierarchy(graph, steps=120, seed=5, progress=False)
    rep = r.report
    # the limit estimator written out in numpy: C = L(0) - mean of the last quarter (31 of 121 values)
    C = lambda v: v[:, 0] - v[:, -31:].mean(axis=1)
    L, G1, G = (r.arrays[f"gd/{o}"] for o in ("L", "G1", "G"))
    assert np.allclose(rep.measurements.alignment("designer", "mid").alignment.per_copy, C(L) / C(G1), rtol=1e-12)
    assert np.allclose(rep.measurements.alignment("mid", "gd").alignment.per_copy, C(G1) / C(G), rtol=1e-12)
    assert np.allclose(rep.measurements.capability("gd", "L").capability.per_copy, C(L), rtol=1e-12)
    # the delegation product is an identity up to float rounding: an exact claim, decided with resolution 0
    product = rep.claims[-1].to_dict()
    assert product["verdict"] == "holds" and product["resolution"] == 0.0
    assert 0 < product["margin"] <= 1e-9 and rep.max_discrepancy < 1e-9
    r.write(tmp_path)
    g = read_graph(tmp_path / "graph.graphml")
    assert set(g.edges) == {("designer", "mid"), ("mid", "gd")}
    again = run_hierarchy(graph, steps=120, seed=5, progress=False)
    assert all(np.array_equal(again.arrays[k], v) for k, v in r.arrays.items())


def test_identity_perturbation_changes_nothing(graph):
    r = run_hierarchy(graph, steps=80, seed=1, progress=False, perturbations=Family("none", (Identity(),)),
                      tolerance=1e-12)
    table = r.report.tables[-1]
    assert all(row[2] == "0" and row[-1] == "robust" for row in table.rows), table.rows


def test_perturbations_move_figures_as_measured(graph):
    fam = Family("f", (InitNoise(0.5, seed=3), ScaleLR(3.0)))
    r = run_hierarchy(graph, steps=80, seed=1, progress=False, perturbations=fam, tolerance=0.01)
    rows = {(row[0], row[1]): row for row in r.report.tables[-1].rows}
    c_row = rows[("C(L) on designer -> mid -> gd", "robustness (Def. 3)")]
    assert float(c_row[2]) > 0 and c_row[3] in fam.names


def test_checker_runs_before_a_long_run(graph):
    bad = DelegationGraph.chain(OptimizerNode("designer", Objective("Z", "not recorded")),
                                OptimizerNode("gd", Objective("G"), leaf=graph.node("gd").leaf))
    with pytest.raises(ObjectiveError, match="neither recorded"):
        run_hierarchy(bad, steps=10_000_000, progress=False)
