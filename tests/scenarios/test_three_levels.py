"""Scenario researcher-agent-subagent (seed 003): both edges' alignments and the product check."""

import numpy as np
import pytest

from hierarchy import Estimator, alignment, capability
from hierarchy.exports import annotated_graph
from scenarios.registry import RunOptions, run_scenario

SMALL = {"population": "3", "eval_mazes": "12", "train_mazes": "6"}


def run(**params):
    return run_scenario("researcher-agent-subagent", RunOptions(steps=15, progress=False, params={**SMALL, **params}))


@pytest.fixture(scope="module")
def default_run():
    return run()


def test_claims_hold_and_product_is_exact(default_run):
    rep = default_run.report
    assert all(c.holds for c in rep.claims), [c.text for c in rep.claims if not c.holds]
    assert rep.max_discrepancy < 1e-9
    assert [a.parent + "->" + a.child for a in rep.alignments if a.chain == "planner"] == \
        ["researcher->agent", "agent->planner"]


def test_product_recomputed_from_the_arrays(default_run):
    """C_researcher = alpha1 * alpha2 * C_planner, recomputed from the raw arrays per copy."""
    a = default_run.arrays
    est = Estimator()
    R, A, P = a["planner/exit_distance"], a["planner/seen_exit_distance"], a["planner/mesa"]
    a1 = alignment(R, A, est).value
    a2 = alignment(A, P, est).value
    direct = capability(R, est).value
    assert np.allclose(direct, a1 * a2 * capability(P, est).value, rtol=1e-12)
    # the agent's objective never exceeds the intended goal's: it counts only mazes with a visible exit
    assert np.all(A <= R + 1e-12)


def test_all_exits_visible_makes_the_outer_edge_exactly_aligned():
    """When the agent sees every exit, its objective is the intended goal: alpha(researcher -> agent) = 1."""
    res = run(deploy_exit_visible="1.0")
    a = res.arrays
    assert np.array_equal(a["planner/exit_distance"], a["planner/seen_exit_distance"])
    fig = [f for f in res.report.alignments if f.parent == "researcher"][0]
    assert np.allclose(fig.alignment.per_copy, 1.0)


def test_hidden_exits_leave_the_agents_objective_without_progress():
    """With every exit hidden the agent's objective is constant 0: alpha(researcher -> agent) is
    undefined (no division by zero) and the claim that needs it fails, as a finding."""
    res = run(deploy_exit_visible="0.0")
    assert np.all(res.arrays["planner/seen_exit_distance"] == 0.0)
    fig = [f for f in res.report.alignments if f.parent == "researcher"][0]
    assert fig.defined_fraction == 0.0 and not fig.alignment.defined
    failing = [c.text for c in res.report.claims if not c.holds]
    assert any("both alignments are defined" in t for t in failing)


def test_export_carries_both_edges(default_run):
    g = annotated_graph(default_run.graph, default_run.report)
    assert g.edges["researcher", "agent"]["reads_as"].startswith("intent alignment")
    assert g.edges["agent", "planner"]["reads_as"].startswith("inner alignment")
    assert "alignment" in g.edges["agent", "planner"]
    assert set(default_run.plots) == {"objectives.png", "mazes.png"}
