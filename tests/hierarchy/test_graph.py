"""The delegation graph: validation, chains, and runs equal to their manual unroll."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hierarchy import DelegationGraph, Estimator, GraphError, LeafError, Objective, ObjectiveError, OptimizerNode, check_leaf, measure, run_graph
from hierarchy.run import run_chain

from .leaves import QuadraticGD
from hierarchy.seeding import named_seed

A = np.diag([1.0, 0.3])


def designer(name="human", obj="L"):
    return OptimizerNode(name, Objective(obj), role="designer")


def gd(name, lr=0.1):
    return OptimizerNode(name, Objective("G"), leaf=QuadraticGD(A, lr), role="gradient descent")


def test_chains_of_siblings():
    g = DelegationGraph([designer(), gd("A"), gd("B")], [("human", "A"), ("human", "B")])
    assert g.chains() == [("human", "A"), ("human", "B")]
    assert g.roots == ["human"] and g.leaves == ["A", "B"]
    assert g.parent("A") == "human" and g.children("human") == ["A", "B"]


@pytest.mark.parametrize("nodes,edges,match", [
    (lambda: [designer(), gd("A")], [("human", "A"), ("A", "human")], "cycle"),
    (lambda: [designer("h1"), designer("h2"), designer("m"), gd("A")], [("h1", "A"), ("h2", "A"), ("m", "h1"),
                                                                          ("m", "h2")], "parents"),
    (lambda: [designer(), designer("agent")], [("human", "agent")], "cannot run"),
    (lambda: [designer(), gd("A")], [("human", "X")], "unknown node 'X'"),
    (lambda: [designer(), designer()], [], "two nodes"),
    (lambda: [gd("A"), gd("B")], [("A", "B")], "also holds a leaf"),
    (lambda: [], [], "no node"),
])
def test_invalid_graphs_name_the_problem(nodes, edges, match):
    with pytest.raises(GraphError, match=match):
        DelegationGraph(nodes(), edges)


def test_leaf_that_cannot_step():
    with pytest.raises(GraphError, match="cannot step"):
        DelegationGraph.chain(designer(), OptimizerNode("A", Objective("G"), leaf=object()))


def test_run_equals_manual_unroll():
    """A delegating node behaves exactly like running its leaf by hand and evaluating every objective."""
    g = DelegationGraph([designer(), gd("A", 0.1), gd("B", 0.5)], [("human", "A"), ("human", "B")])
    runs = run_graph(g, steps=30, seed=7)
    for leaf in ("A", "B"):
        manual = g.node(leaf).leaf.run(30, named_seed(7, leaf))
        for obj in ("L", "G"):
            assert np.array_equal(runs[leaf].trajectory[obj], manual[obj])


def test_node_seed_independent_of_siblings():
    g1 = DelegationGraph.chain(designer(), gd("A"))
    g2 = DelegationGraph([designer(), gd("A"), gd("Z")], [("human", "A"), ("human", "Z")])
    a1 = run_graph(g1, 5, seed=3)["A"].trajectory["L"]
    a2 = run_graph(g2, 5, seed=3)["A"].trajectory["L"]
    assert np.array_equal(a1, a2)


def test_evaluated_objective_on_states_and_missing_objective():
    dist = Objective("D", "distance from origin", evaluate=lambda s: np.linalg.norm(s, axis=-1))
    g = DelegationGraph.chain(OptimizerNode("human", dist), gd("A"))
    tr = run_chain(g, "A", 10).trajectory
    assert tr["D"].shape == (1, 11) and np.all(np.diff(tr["D"][0]) <= 0)
    g = DelegationGraph.chain(designer(obj="Q"), gd("A"))
    with pytest.raises(ObjectiveError, match="not recorded"):
        run_chain(g, "A", 10)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 5), st.integers(0, 1000))
def test_deep_chain_product_matches_direct(depth, seed):
    """Any chain of evaluated objectives: the product of alphas times C_leaf equals C_root."""
    rng = np.random.default_rng(seed)
    weights = [rng.uniform(0.2, 3.0, size=2) for _ in range(depth - 1)]
    nodes = [OptimizerNode(f"n{i}", Objective(f"O{i}", evaluate=lambda s, w=w: (w * s ** 2).sum(-1)))
             for i, w in enumerate(weights)]
    nodes.append(gd("leaf", 0.2))
    g = DelegationGraph.chain(*nodes)
    m = measure(g, run_graph(g, 40, seed), Estimator("limit"))
    assert m.products[0].discrepancy < 1e-9
    assert len(m.alignments) == depth - 1


def test_check_leaf_catches_bad_leaves():
    class NoRun:
        records = ("L",)

    class WrongLength:
        records = ("L",)

        def run(self, steps, seed, progress=None):
            from hierarchy import Trajectory
            return Trajectory({"L": np.ones((1, steps))})

    class Random:
        records = ("L",)

        def run(self, steps, seed, progress=None):
            from hierarchy import Trajectory
            return Trajectory({"L": np.random.default_rng().normal(size=(1, steps + 1))})

    with pytest.raises(LeafError, match="cannot step"):
        check_leaf(NoRun())
    with pytest.raises(LeafError, match="values per copy"):
        check_leaf(WrongLength())
    with pytest.raises(LeafError, match="same seed"):
        check_leaf(Random())
    with pytest.raises(ObjectiveError, match="neither recorded"):
        check_leaf(QuadraticGD(A, 0.1), [Objective("Z")])
    assert check_leaf(QuadraticGD(A, 0.1), [Objective("L"), Objective("G")]).T == 4


def test_two_different_objectives_with_one_name_on_a_chain_are_refused():
    first = Objective("D", "distance to the exit", evaluate=lambda s: np.abs(s).sum(-1))
    second = Objective("D", "distance to the exit", evaluate=lambda s: s[..., 0])
    with pytest.raises(GraphError) as info:
        DelegationGraph.chain(OptimizerNode("human", first), OptimizerNode("agent", second),
                              OptimizerNode("gd", Objective("G"), leaf=QuadraticGD(A, 0.1)))
    msg = str(info.value)
    assert "'human' and 'agent'" in msg and "two different objectives named 'D'" in msg and "\n" not in msg
    with pytest.raises(GraphError, match="'human' and 'gd'"):
        DelegationGraph.chain(OptimizerNode("human", Objective("G", lower_bound=0.0)),
                              OptimizerNode("gd", Objective("G"), leaf=QuadraticGD(A, 0.1)))


def test_one_objective_on_several_nodes_is_fine():
    dist = Objective("D", evaluate=lambda s: np.abs(s).sum(-1))
    g = DelegationGraph.chain(OptimizerNode("human", dist), OptimizerNode("agent", dist),
                              OptimizerNode("gd", Objective("L"), leaf=QuadraticGD(A, 0.1)))
    tr = run_graph(g, 5)["gd"].trajectory
    np.testing.assert_allclose(tr["D"], np.abs(tr.states).sum(-1))
    # equal recorded objectives (no evaluate) are one objective too; different chains may differ
    DelegationGraph.chain(OptimizerNode("h", Objective("L", "loss")),
                          OptimizerNode("gd", Objective("L", "loss"), leaf=QuadraticGD(A, 0.1)))
    DelegationGraph([OptimizerNode("h", Objective("L")),
                     OptimizerNode("a", Objective("D", evaluate=lambda s: s[..., 0]), leaf=QuadraticGD(A, 0.1)),
                     OptimizerNode("b", Objective("D", evaluate=lambda s: s[..., 1]), leaf=QuadraticGD(A, 0.1))],
                    [("h", "a"), ("h", "b")])


def test_figure_lookups_stay_in_the_exception_tree_and_name_what_exists():
    from hierarchy import MesastackError, NotFoundError

    g = DelegationGraph.chain(OptimizerNode("human", Objective("L")),
                              OptimizerNode("gd", Objective("G"), leaf=QuadraticGD(A, 0.1)))
    m = measure(g, run_graph(g, 20))
    with pytest.raises(NotFoundError, match=r"no capability of 'Z' on chain 'gd'; the figures are: L@gd, G@gd") as info:
        m.capability("gd", "Z")
    assert isinstance(info.value, MesastackError) and isinstance(info.value, KeyError)
    with pytest.raises(NotFoundError, match="the figures are: human -> gd@gd"):
        m.alignment("human", "nobody")
    with pytest.raises(NotFoundError, match="on chain 'other'"):
        m.alignment("human", "gd", chain="other")
