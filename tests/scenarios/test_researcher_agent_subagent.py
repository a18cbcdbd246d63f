"""Scenario researcher-agent-subagent (seed 003): both edges' alignments and the product check."""

import numpy as np
import pytest

from hierarchy.exports import annotated_graph
from scenarios.machinery.registry import RunOptions, run_scenario

SMALL = {"population": "3", "eval_mazes": "12", "train_mazes": "6"}


def run(**params):
    return run_scenario("researcher-agent-subagent", RunOptions(steps=15, progress=False, params={**SMALL, **params}))


@pytest.fixture(scope="module")
def default_run():
    return run()


def test_claims_hold_and_product_is_exact(default_run):
    rep = default_run.report
    exact = [c for c in rep.claims if "propagates" in c.text or "each edge carries" in c.text]
    assert len(exact) == 2 and all(c.verdict == "holds" and c.resolution == 0.0 for c in exact)
    defined = next(c for c in rep.claims if "both alignments are defined" in c.text)
    assert defined.verdict == "holds"
    # no claim fails on this run; one decided on limit estimates may stay undecided when 16 values leave
    # the estimator's error unknown, never decided against an unknown error
    assert not [c.text for c in rep.claims if c.verdict == "fails"]
    for c in rep.claims:
        if not np.isfinite(c.resolution):
            assert c.verdict == "undecided"
    assert rep.max_discrepancy < 1e-9
    assert [a.parent + "->" + a.child for a in rep.alignments if a.chain == "planner"] == \
        ["researcher->agent", "agent->planner"]


def test_product_recomputed_from_the_arrays(default_run):
    """C_researcher = alpha1 * alpha2 * C_planner, recomputed from the raw arrays per copy."""
    a = default_run.arrays
    R, A, P = a["planner/exit_distance"], a["planner/seen_exit_distance"], a["planner/mesa"]
    n = int(np.ceil(0.25 * R.shape[1]))
    C = lambda v: v[:, 0] - v[:, -n:].mean(axis=1)  # the limit estimator, written out
    a1, a2 = C(R) / C(A), C(A) / C(P)
    assert np.allclose(C(R), a1 * a2 * C(P), rtol=1e-12)
    rep = default_run.report
    assert np.allclose(rep.measurements.alignment("researcher", "agent").alignment.per_copy, a1, rtol=1e-12)
    assert np.allclose(rep.measurements.alignment("agent", "planner").alignment.per_copy, a2, rtol=1e-12)
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
    claim = next(c for c in res.report.claims if "both alignments are defined" in c.text)
    assert claim.verdict == "fails" and claim.numbers["copies defined (alpha(researcher -> agent) defined in every copy)"] == 0
    d = claim.to_dict()
    assert d["holds"] is False and d["margin"] < -d["resolution"] <= 0


def test_export_carries_both_edges(default_run):
    g = annotated_graph(default_run.graph, default_run.report)
    assert g.edges["researcher", "agent"]["reads_as"].startswith("intent alignment")
    assert g.edges["agent", "planner"]["reads_as"].startswith("inner alignment")
    assert "alignment@planner" in g.edges["agent", "planner"]  # edge figures are keyed by chain
    assert g.edges["gradient-descent", "planner"]["kind"] == "produces"  # gradient descent produces the planner
    assert g.nodes["planner"]["step_unit"] == "move" and g.nodes["gradient-descent"]["step_unit"] == "gradient step"
    assert set(default_run.plots) == {"objectives.png", "mazes.png"}


def test_the_terminal_report_fits_120_columns_and_both_plots_draw(default_run, tmp_path):
    assert max(map(len, default_run.report.render().splitlines())) <= 120
    default_run.write(tmp_path)
    for name in ("objectives.png", "mazes.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG", name
