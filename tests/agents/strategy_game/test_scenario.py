"""The ``strategy-game`` scenario: every run through the graph, deployment produced by training."""

import pytest

from hierarchy.product import Produced


@pytest.fixture(scope="module")
def small():
    from scenarios.machinery.registry import RunOptions, run_scenario

    return run_scenario("strategy-game", RunOptions(steps=5, progress=False,
                                                    params={"population": "2", "episodes": "16", "eval_episodes": "64"}))


def test_strategy_scenario_claims_are_three_valued(small):
    assert len(small.report.claims) == 2
    for c in small.report.claims:
        d = c.to_dict()
        m, r = d["margin"], d["resolution"]
        expected = "undecided" if m is None or r is None else ("holds" if m > r else "fails" if m < -r else "undecided")
        assert d["verdict"] == expected and "2 standard errors" in d["rule"], d


def test_each_trained_policy_is_deployed_as_a_produced_leaf(small):
    g = small.graph
    assert sorted(g.productions) == [("train-destroyed", "deploy-destroyed"), ("train-troops", "deploy-troops")]
    for case in ("troops", "destroyed"):
        leaf = g.node(f"deploy-{case}").leaf
        assert isinstance(leaf, Produced) and leaf.step_unit == "turn" and leaf.steps == 10
        assert g.node(f"train-{case}").leaf.step_unit == "gradient step"
    d = small.report.to_dict()
    assert [list(p) for p in d["productions"]] == [list(p) for p in g.productions]


def test_the_terminal_report_fits_120_columns_and_both_plots_draw(small, tmp_path):
    assert max(map(len, small.report.render().splitlines())) <= 120
    small.write(tmp_path)
    for name in ("objectives.png", "deployment.png"):  # training against its steps, deployment against the turns
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG", name
