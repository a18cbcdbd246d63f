"""Production: a leaf built from another leaf's trained product, run and measured through the graph."""

import numpy as np
import pytest

from hierarchy import DelegationGraph, Estimator, GraphError, LeafError, Objective, OptimizerNode, Trajectory, measure
from hierarchy.check import check_graph
from hierarchy.exports import FORMATS, annotated_graph, read_graph
from hierarchy.product import Produced
from hierarchy.run import run_graph


class Trainer:
    """Trains a rate r towards 0.5: L(t) = (r_t - 0.5)^2 with r_t = 0.5 (1 - 0.9^t); product r_T."""

    records = ("L",)
    step_unit = "gradient step"
    deterministic = True  # no randomness: every seed gives the same run

    def run(self, steps, seed, progress=None):
        r = 0.5 * (1 - 0.9 ** np.arange(steps + 1))
        return Trajectory({"L": [(r - 0.5) ** 2]}, product=float(r[-1]))


class Halver:
    """A learned optimizer: shrinks its distance D to the goal at the rate it was given, D_t = (1 - r)^t;
    the designer's L is evaluated on its states as D^2."""

    records = ("D", "L")
    step_unit = "move"
    deterministic = True

    def __init__(self, rate):
        self.rate = rate

    def run(self, steps, seed, progress=None):
        D = (1 - self.rate) ** np.arange(steps + 1)
        return Trajectory({"D": [D], "L": [D ** 2]})


def graph(producer="gd", steps=12):
    return DelegationGraph(
        [OptimizerNode("designer", Objective("L")),
         OptimizerNode("gd", Objective("L"), leaf=Trainer()),
         OptimizerNode("learned", Objective("D"),
                       leaf=Produced(producer, build=Halver, records=("D", "L"), steps=steps, step_unit="move"))],
        [("designer", "gd"), ("designer", "learned")])


def test_the_product_runs_on_its_own_time_axis_after_its_producer():
    g = graph()
    assert g.productions == [("gd", "learned")] and g.run_order == ["gd", "learned"]
    runs = run_graph(g, steps=30)
    r = 0.5 * (1 - 0.9 ** 30)  # the product, by hand
    assert runs["learned"].trajectory.T == 13  # its own 12 moves
    np.testing.assert_allclose(runs["learned"].trajectory["D"][0], (1 - r) ** np.arange(13), rtol=1e-15)
    m = measure(g, runs, Estimator("finite"))
    # finite capability of D by hand: D(0) - mean D
    D = (1 - r) ** np.arange(13)
    assert m.capability("learned", "D").capability.median == pytest.approx(1 - D.mean(), rel=1e-12)


def test_bad_productions_are_refused_in_one_line():
    with pytest.raises(GraphError, match="unknown node 'nobody'"):
        graph(producer="nobody")
    with pytest.raises(GraphError, match="delegates and never runs"):
        graph(producer="designer")
    class Silent(Trainer):
        def run(self, steps, seed, progress=None):
            return Trajectory({"L": [np.ones(steps + 1)]})
    g = DelegationGraph([OptimizerNode("d", Objective("L")), OptimizerNode("gd", Objective("L"), leaf=Silent()),
                         OptimizerNode("x", Objective("D"), leaf=Produced("gd", build=Halver, records=("D",)))],
                        [("d", "gd"), ("d", "x")])
    with pytest.raises(LeafError, match="returned no product"):
        run_graph(g, 5)


def test_check_graph_builds_the_product_from_a_short_run():
    check_graph(graph())


def test_the_production_is_exported_and_read_back(tmp_path):
    g = graph()
    runs = run_graph(g, 20)
    from hierarchy import build_report
    rep = build_report("production", g, runs, Estimator("finite"), steps=20)
    ann = annotated_graph(g, rep)
    assert ann.edges["gd", "learned"]["kind"] == "produces" and ann.edges["designer", "gd"]["kind"] == "delegates"
    assert ann.nodes["learned"]["step_unit"] == "move" and ann.nodes["learned"]["produced_by"] == "gd"
    for ext in ("graphml", "json", "gexf"):
        path = tmp_path / f"g.{ext}"
        FORMATS[ext](ann, path)
        back = read_graph(path)
        assert back.edges["gd", "learned"]["kind"] == "produces", ext
    assert rep.to_dict()["productions"] == [["gd", "learned"]]
