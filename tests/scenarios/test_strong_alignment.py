"""--horizon: strong alignment added to any run's report and plots, from the run's own arrays."""

import numpy as np

from agents.language_model.gradient_descent import GradientDescent
from agents.language_model.markov import MarkovChain
from agents.language_model.schedules import Constant
from hierarchy import DelegationGraph, Objective, OptimizerNode
from scenarios import run_hierarchy


def test_horizon_table_and_plot(tmp_path):
    data = MarkovChain.random(vocab=4, order=1, concentration=0.5, seed=0).sample(32, seed=1)
    leaf = GradientDescent(data, hidden=(3,), schedule=Constant(3.0), population=3)
    graph = DelegationGraph.chain(OptimizerNode("designer", Objective("L")), OptimizerNode("gd", Objective("G"), leaf=leaf))
    r = run_hierarchy(graph, steps=60, seed=2, progress=False, horizon=7)
    table = r.report.tables[-1]
    assert table.title.startswith("strong alignment")
    L = r.arrays["gd/L"]
    for chain, obj, start, end, worst, statement in table.rows:
        expected = np.median(L[:, start:start + 7].max(axis=1))
        assert float(worst.split(" ")[0]) == float(f"{expected:.4g}")
        assert end == start + 6 and statement.startswith("at worst")
    r.write(tmp_path)
    assert (tmp_path / "strong_alignment.png").stat().st_size > 0
    assert r.report.choices["strong-alignment horizon"] == 7
