"""The build-your-own API: any graph gives the same report and files; perturbations give Definitions 3-4."""

import attrs
import numpy as np
import pytest

from agents.language_model.gradient_descent import GradientDescent
from agents.language_model.markov import MarkovChain
from agents.language_model.perturbations import InitNoise, ScaleLR
from hierarchy import DelegationGraph, Family, Identity, Objective, ObjectiveError, OptimizerNode, Trajectory
from hierarchy.perturbation import Replace
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
    assert all(row[2] == 0.0 and row[-1] == "robust" for row in table.rows), table.rows


def test_perturbations_move_figures_as_measured(graph):
    fam = Family("f", (InitNoise(0.5, seed=3), ScaleLR(3.0)))
    r = run_hierarchy(graph, steps=80, seed=1, progress=False, perturbations=fam, tolerance=0.01)
    rows = {(row[0], row[1]): row for row in r.report.tables[-1].rows}
    c_row = rows[("C(L) on designer -> mid -> gd", "robustness (Def. 3)")]
    assert isinstance(c_row[2], float) and c_row[2] > 0 and c_row[3] in fam.names


def test_checker_runs_before_a_long_run(graph):
    bad = DelegationGraph.chain(OptimizerNode("designer", Objective("Z", "not recorded")),
                                OptimizerNode("gd", Objective("G"), leaf=graph.node("gd").leaf))
    with pytest.raises(ObjectiveError, match="neither recorded"):
        run_hierarchy(bad, steps=10_000_000, progress=False)


@attrs.frozen
class Scaled:
    """G = s * 0.5^t on two copies (s = scale, 2 scale), L = k G + 1: C(G) = s (1 - mean of 0.5^t over the
    tail) and alpha = k exactly, so scaling by 2 changes C(L) by exactly 1 and alpha by 0."""

    scale: float = 1.0
    k: float = 3.0
    records = ("G", "L")
    deterministic = True

    def run(self, steps, seed, progress=None):
        g = self.scale * np.array([[1.0], [2.0]]) * 0.5 ** np.arange(steps + 1)
        return Trajectory({"G": g, "L": self.k * g + 1})


def test_a_robustness_result_on_any_leaf_has_typed_numbers_trajectories_and_a_plot(tmp_path):
    graph = DelegationGraph.chain(OptimizerNode("designer", Objective("L")),
                                  OptimizerNode("gd", Objective("G"), leaf=Scaled()))
    fam = Family("f", (Replace("scale 2", {"scale": 2.0}), Replace("k 6", {"k": 6.0})))
    r = run_hierarchy(graph, steps=40, seed=0, progress=False, perturbations=fam, tolerance=0.5)
    tail = 0.5 ** np.arange(30, 41)  # the last 11 of 41 values: ceil(0.25 * 41)
    c_g = np.median([1.0, 2.0]) * (1 - tail.mean())  # C(G) of the unperturbed leaf, median over its two copies
    per_member, summary = r.report.tables[-2:]
    rows = {(row[0], row[2]): row for row in per_member.rows}
    expected = {("C(L) on designer -> gd", "scale 2"): (3 * c_g, 6 * c_g, 1.0, False),
                ("C(L) on designer -> gd", "k 6"): (3 * c_g, 6 * c_g, 1.0, False),
                ("alpha designer->gd", "scale 2"): (3.0, 3.0, 0.0, True),
                ("alpha designer->gd", "k 6"): (3.0, 6.0, 1.0, False)}
    assert set(rows) == set(expected)
    for key, (base, pert, change, ok) in expected.items():
        row = rows[key]
        assert all(isinstance(x, float) for x in row[3:7]), row
        assert row[3] == pytest.approx(base, rel=1e-12) and row[4] == pytest.approx(pert, rel=1e-12)
        assert row[5] == pytest.approx(change, abs=1e-12) and row[6] == 1.0 and row[7] is ok
    worst = {row[0]: row for row in summary.rows}
    assert worst["C(L) on designer -> gd"][2] == pytest.approx(1.0, abs=1e-12)
    assert worst["alpha designer->gd"][2] == pytest.approx(1.0, abs=1e-12) and worst["alpha designer->gd"][3] == "k 6"
    assert worst["alpha designer->gd"][-1] == "not robust"
    # the perturbed trajectories, under their own keys
    G = r.arrays["extra/perturbed/scale 2/gd/G"]
    assert np.array_equal(G, 2 * np.array([[1.0], [2.0]]) * 0.5 ** np.arange(41))
    assert np.array_equal(r.arrays["extra/perturbed/k 6/gd/L"], 6 * r.arrays["gd/G"] + 1)
    assert "robustness.png" in r.plots and "objectives.png" in r.plots
    r.write(tmp_path)
    assert (tmp_path / "robustness.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = np.load(tmp_path / "trajectories.npz")
    assert "extra/perturbed/scale 2/gd/G" in saved.files
