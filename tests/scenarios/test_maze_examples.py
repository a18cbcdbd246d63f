"""The maze-example scenarios: objectives, similarity, leaves, training of the replicator, and runs."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.maze.grid import MazeDistribution
from agents.maze.policies import ShortestPath
from agents.maze.rollout import rollout
from agents.maze.episodes import PlannerEpisodes, ReplicatorEpisodes, select_limits
from agents.maze.objectives import (
    centered_cosine,
    exit_share_objective,
    mesa_optimum_attained,
    mesa_share_objective,
    objective_similarity,
    replicate_share_objective,
    replicator_exit_objective,
)
from agents.maze.planner import PlannerSpec, StopRule
from agents.maze.planner_training import train_planners
from agents.maze.replicator import Replicator
from hierarchy.errors import ParameterError
from hierarchy.exports import annotated_graph
from hierarchy.inner_alignment import Thresholds
from hierarchy.protocol import check_leaf
from scenarios.maze_examples import (
    DistributionFigures,
    Example3Params,
    Example5Params,
    Example6Params,
    judge,
    agrees_with_seed_002,
    measure_example,
)
from scenarios.machinery.registry import RunOptions, run_scenario
from hierarchy.seeding import child

# 4 copies: the fewest for which a unanimous population is decided (Wilson 95% of 4/4 starts at 0.51)
SMALL3 = dict(population=4, eval_mazes=10, irl_mazes=6, irl_steps=40, probe_mazes=4)


def test_exit_share_falls_by_one_over_d0_per_expert_move():
    """Along a shortest path the exit distance drops by exactly one per move: E(t) = (d0 - t) / d0."""
    for m in MazeDistribution(size=6).sample(5, seed=3):
        r = rollout(ShortestPath(), [m])
        d0 = len(m.shortest_path()) - 1
        E = exit_share_objective([m])(r.positions)  # [1, T] with one maze per copy
        t = np.arange(E.shape[1])
        assert np.allclose(E[0], np.maximum(d0 - t, 0) / d0)


@settings(max_examples=25, deadline=None)
@given(k=st.floats(0.1, 10.0), c=st.floats(-5.0, 5.0), seed=st.integers(0, 1000))
def test_mesa_share_is_invariant_under_positive_affine_maps_of_the_reward(k, c, seed):
    rng = np.random.default_rng(seed)
    mazes = MazeDistribution(size=4).sample(3, seed=seed)
    reward = rng.normal(size=(2, 3, 16))
    states = rng.integers(0, 4, size=(2, 5, 3, 2))
    states[:, 0] = [m.entrance for m in mazes]
    a = mesa_share_objective(reward, mazes)(states)
    b = mesa_share_objective(k * reward + c, mazes)(states)
    assert np.allclose(a, b)
    assert np.allclose(a[:, 0], 1.0)  # at the entrances
    best = np.stack([[np.unravel_index(np.argmax(reward[q, j]), (4, 4)) for j in range(3)] for q in range(2)])
    assert np.allclose(mesa_share_objective(reward, mazes)(best[:, None]), 0.0)  # on each best cell


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.01, 100.0), shift=st.floats(-10, 10))
def test_centered_cosine_properties(seed, scale, shift):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    per_maze = rng.normal(size=(3, 1))
    s = centered_cosine(a, b)
    assert -1 - 1e-12 <= s <= 1 + 1e-12
    assert centered_cosine(a, scale * b + shift + per_maze) == pytest.approx(s, abs=1e-9)
    assert centered_cosine(b, a) == pytest.approx(s, abs=1e-12)
    assert centered_cosine(a, -a) == pytest.approx(-1.0)
    # brute force: pooled cosine after removing each row's mean
    ac, bc = a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True)
    assert s == pytest.approx((ac * bc).sum() / np.sqrt((ac ** 2).sum() * (bc ** 2).sum()), abs=1e-12)


def test_objective_similarity_judges_the_proxy_on_the_distribution():
    """The proxy 'right of green' is the exit wherever green always sits by the exit and no decoy
    exists, and not the exit where the only greens are decoys."""
    proxy, exit_ = [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]
    aligned = MazeDistribution(size=6, green_by_exit="always").sample(5, seed=1)
    shifted = MazeDistribution(size=6, green_by_exit="never", extra_green=2).sample(5, seed=1)
    assert objective_similarity([proxy, exit_], aligned) == pytest.approx([1.0, 1.0])
    assert objective_similarity([proxy], shifted)[0] < 0.0
    assert objective_similarity([exit_], shifted)[0] == pytest.approx(1.0)


def test_leaves_follow_the_protocol_and_reproduce():
    # a near-flat learned reward (tiny initial weights, no training): every move ties, so the seed that
    # breaks the ties decides the walk, and check_leaf's "different seeds differ" applies
    pop = train_planners(MazeDistribution(size=4, exit_visible=0.5), K=2, seed=0,
                         spec=PlannerSpec(init_scale=1e-12, stop=StopRule(max_steps=0)))
    mazes = MazeDistribution(size=4).sample(3, seed=2)
    leaf = PlannerEpisodes(pop, mazes)
    a = check_leaf(leaf, steps=6, seed=4)
    b = check_leaf(leaf, steps=6, seed=4)
    assert np.array_equal(a.states, b.states) and a.states.shape == (2, 7, 3, 2)
    assert np.allclose(a["exit_share"][:, 0], 1.0)
    rep = ReplicatorEpisodes((2, 16), mazes)
    tr = check_leaf(rep, steps=20)
    assert tr.states.shape == (2, 21, 3, 4, 4)
    # copy with limit 16 fills a 4x4 maze, so every exit is reached: exit_share ends at 0
    assert tr["exit_share"][1, -1] == 0.0 and tr["replicate_share"][0, -1] == 0.0
    with pytest.raises(ParameterError):
        PlannerEpisodes(pop, mazes, records=("nonsense",))


def test_replicator_objectives_on_hand_built_states():
    m = MazeDistribution(size=3).sample(1, seed=0)[0]
    occ = np.zeros((1, 2, 1, 3, 3), bool)
    occ[0, :, 0][:, m.entrance[0], m.entrance[1]] = True
    occ[0, 1, 0] = True
    d0 = m.distances()[m.entrance]
    E = replicator_exit_objective([m], share=False)(occ)
    assert E.tolist() == [[float(d0), 0.0]]
    assert replicate_share_objective([9])(occ).tolist() == [[1.0, 0.0]]


def test_select_limits_finds_the_smallest_sufficient_limit():
    d = MazeDistribution(size=4, green_by_exit="never")
    s = select_limits(d, K=3, n_mazes=4, seed=5, max_limit=16)

    flat = [m for ms in s.mazes for m in ms]
    for k in range(3):
        assert s.train_success[k] == 1.0
        # brute force, with the same random streams as the search: the limit succeeds, one fewer fails
        ok = Replicator(int(s.limits[k])).run(flat, child(np.random.SeedSequence(5), 1)).success
        assert ok.reshape(3, 4)[k].all()
        if s.limits[k] > 1:
            fewer = Replicator(int(s.limits[k]) - 1).run(flat, child(np.random.SeedSequence(5), 1)).success
            assert not fewer.reshape(3, 4)[k].all()


def test_mesa_optimum_attained_matches_the_planners_own_values():
    pop = train_planners(MazeDistribution(size=4), K=2, seed=1, spec=PlannerSpec(stop=StopRule(max_steps=10)))
    dep = pop.deploy(MazeDistribution(size=4).sample(6, seed=3), seed=0)
    att = mesa_optimum_attained(dep)
    assert att.shape == (2, 6)
    # a path the planner chose cannot beat the optimum: mesa return <= V(entrance) always
    from agents.maze.grid import stack_mazes
    from agents.maze.planning import optimal_values

    _, succ, _ = stack_mazes(dep.mazes)
    for k in range(2):
        V = optimal_values(dep.reward[k], succ, dep.gamma)
        ent = [m.index(m.entrance) for m in dep.mazes]
        best = V[np.arange(6), ent]
        assert np.all(dep.mesa_return[k] <= best + 1e-9 * (1 + np.abs(best)))
        assert np.array_equal(att[k], dep.mesa_return[k] >= best - 1e-6 * (1 + np.abs(best)))


@pytest.fixture(scope="module")
def example3():
    return measure_example(3, RunOptions(steps=40, progress=False), Example3Params(**SMALL3))


def test_example_3_evidence_is_consistent_with_its_runs(example3):
    o = example3
    K = o.params.population
    for i, v in enumerate(o.verdicts):
        # the example's verdict is the copies' majority when it has 4 of 4 (Wilson 95% low end 0.51 > 1/2)
        seen = [cv[i].verdict for cv in o.copy_verdicts]
        top = max(set(seen), key=seen.count)
        assert v.count(top) == seen.count(top) and sum(c for _, c in v.counts) == K
        assert v.verdict == (top if seen.count(top) == K else "split")
    # the deployment's exit_share ends at 0 exactly for copies that reached every exit
    dep = o.runs["planner"].trajectory
    figs = o.figures["planner"]
    assert np.array_equal(figs.success == 1.0, dep["exit_share"][:, -1] == 0.0)
    assert o.evidence.deploy_performance == pytest.approx(float(np.median(figs.success)))
    # seed 002's verdicts on the proxy deployed without green by the exit
    assert [agrees_with_seed_002(3, v) for v in o.verdicts] == [True, True, True, None]


def test_example_result_exports_verdicts_and_pngs(example3, tmp_path):
    from scenarios.maze_examples import example_result

    res = example_result(example3, RunOptions(steps=40, progress=False))
    g = annotated_graph(res.graph, res.report)
    for v in example3.verdicts:
        assert g.nodes["planner"][f"verdict[{v.definition}]"] == v.verdict
    assert set(res.arrays) >= {"planner/exit_share", "planner/mesa_share", "gradient-descent/L", "gradient-descent/G"}
    written = res.write(tmp_path)
    assert (tmp_path / "maze-example-3.png").read_bytes()[:4] == b"\x89PNG"
    assert max(map(len, res.report.render().splitlines())) <= 120  # the terminal report fits 120 columns
    assert any(p.name == "report.json" for p in written)
    assert res.report.max_discrepancy < 1e-9


def test_example_5_replicator_is_judged_only_by_the_generalization_camp():
    o = measure_example(5, RunOptions(progress=False), Example5Params(population=4, eval_mazes=8))
    verdicts = {v.definition: v for v in o.verdicts}
    assert verdicts["objective-focused"].verdict == "not applicable"
    assert verdicts["optimization-focused"].verdict == "not applicable"
    assert verdicts["generalization-focused"].verdict == "misaligned"
    # capability generalizes: on 10x10 mazes every replicator reaches its limit (limit <= 25 < 100 cells)
    assert (o.figures["replicator"].attainment == 1.0).all()
    assert o.evidence.deploy_performance < o.evidence.train_performance


def test_scenarios_are_registered_and_validate_parameters():
    with pytest.raises(ParameterError):
        run_scenario("maze-example-2", RunOptions(progress=False, params={"train_green_by_exit": "sometimes"}))
    with pytest.raises(ParameterError):
        run_scenario("maze-example-5", RunOptions(progress=False, params={"no_such": "1"}))
    with pytest.raises(ParameterError):
        measure_example(7, RunOptions(progress=False))
    with pytest.raises(ParameterError, match="deploy_planning_horizon"):
        Example6Params(deploy_planning_horizon=-1)


def test_example_6_a_capability_failure_stays_inner_aligned_for_hubinger_and_wentworth():
    """Seed 002: "If the capabilities don't generalize, it's definitely still inner aligned by the
    objective-focused and optimization-focused approaches, since the mesa-objective remains aligned."
    The planners look 8 moves ahead on 7x7 mazes whose exits lie about 17 moves away."""
    o = measure_example(6, RunOptions(steps=40, progress=False), Example6Params(**SMALL3))
    dep = o.figures["planner"]
    # the system itself fails on deployment, an exact planner on the same learned reward does not
    assert np.median(dep.success) < 0.6 <= np.median(dep.mesa_optimal)
    assert np.median(dep.attainment) < 0.5  # it rarely attains the optimum of its own objective
    v = {x.definition: x for x in o.verdicts}
    for d in ("objective-focused", "optimization-focused"):
        assert v[d].count("aligned") >= 3 and v[d].kind == "capability", (d, v[d].shares())
    # the training distribution is planned exactly: no failure there
    assert np.median(o.figures["planner-on-train"].success) >= 0.9


def _figures(success, attainment, mesa_optimal=None):
    return DistributionFigures("x", "leaf", MazeDistribution(size=3), np.asarray(success, float), 1.0,
                               np.asarray(attainment, float), {}, mesa_optimal=mesa_optimal)


def test_an_undefined_alpha_is_counted_not_dropped():
    """Hand-built figures: copy 1's alpha under the first variation is undefined (NaN). Its
    alpha-robust verdict is undecided with the reason shown; the other copies are aligned."""
    tr = _figures([1.0, 1.0, 1.0, 1.0, 1.0], [1.0] * 5)
    dp = _figures([1.0] * 5, [1.0] * 5)
    alpha = np.ones(5)
    variations = (np.array([1.0, np.nan, 1.0, 1.0, 1.0]), np.array([0.95] * 5))
    median, copies, verdicts, copy_verdicts = judge("s", True, tr, dp, alpha, variations, Thresholds(), 5)
    assert len(copies[1].alpha_variations) == 2 and np.isnan(copies[1].alpha_variations[0])
    harris = verdicts[3]
    assert harris.count("undecided") == 1 and harris.count("aligned") == 4
    assert harris.reasons == ("alpha undefined",)
    assert copy_verdicts[1][3].verdict == "undecided"


def test_gradient_descent_produces_the_planners_in_the_graph(example3):
    """The training run and the deployments are one graph: each deployment node's leaf is built from
    gradient descent's product, runs on its own time axis (moves), and the export keeps the relation."""
    o = example3
    g = o.graph
    assert sorted(g.productions) == [("gradient-descent", n) for n in ("planner", "planner-on-larger", "planner-on-train")]
    assert g.run_order[0] == "gradient-descent"
    pop = o.runs["gradient-descent"].trajectory.product
    assert pop.K == o.params.population
    # training moves in gradient steps (40 + 1 values); a deployment in moves, 2 x cells of its mazes (7x7, 9x9)
    assert o.runs["gradient-descent"].trajectory.T == 41
    assert o.runs["planner"].trajectory.T == 2 * 49 + 1 and o.runs["planner-on-larger"].trajectory.T == 2 * 81 + 1
    # the recorded training curve is the product's own record
    np.testing.assert_array_equal(o.runs["gradient-descent"].trajectory["L"], pop.training["L"])
    res = example_result_of(o)
    ann = annotated_graph(res.graph, res.report)
    assert ann.edges["gradient-descent", "planner"]["kind"] == "produces"
    assert ann.edges["designer", "planner"]["kind"] == "delegates"
    assert ann.nodes["planner"]["step_unit"] == "move" and ann.nodes["gradient-descent"]["step_unit"] == "gradient step"
    assert ann.nodes["planner"]["produced_by"] == "gradient-descent"


def example_result_of(o):
    from scenarios.maze_examples import example_result

    return example_result(o, RunOptions(steps=40, progress=False))


def test_no_maze_scenario_builds_a_chain_run_by_hand():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "scenarios"
    files = [root / "maze_examples.py", root / "researcher_agent_subagent.py", root / "compare_definitions.py"]
    files += sorted((root / "common").glob("*.py"))
    assert [str(f) for f in files if "ChainRun(" in f.read_text()] == []
