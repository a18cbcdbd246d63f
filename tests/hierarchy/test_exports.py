"""Exports: GraphML, GEXF and node-link JSON read back to the same graph and attributes."""

import json
import math

import numpy as np
import pytest

from hierarchy import (Claim, DelegationGraph, Estimator, FormatError, Objective, OptimizerNode, Trajectory,
                       build_report, run_graph)
from hierarchy.exports import FORMATS, annotated_graph, read_graph, to_dot

from .leaves import QuadraticGD


def report_and_graph(K=1):
    A = np.diag([1.0, 0.2])
    g = DelegationGraph(
        [OptimizerNode("human", Objective("L", "loss"), role="designer"),
         OptimizerNode("A", Objective("G", "gradient"), leaf=QuadraticGD(A, 0.1, K=K), role="gradient descent"),
         OptimizerNode("flat", Objective("G", "gradient"), leaf=QuadraticGD(A, 0.1, K=K, x0=[0.0, 0.0]))],
        [("human", "A"), ("human", "flat")])
    runs = run_graph(g, 50, seed=1)
    claim = Claim.compare("alpha > 0", {"alpha": 1.0}, margin=1.0, standard_error=0.1, rule="alpha against 2 se")
    r = build_report("toy", g, runs, Estimator(), seed=1, steps=50, claims=[claim],
                     node_attributes={"A": {"verdict": "aligned"}}, edge_attributes={("human", "A"): {"note": "x"}})
    return g, r


def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b and type(a) is type(b)


@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize("fmt", ["graphml", "gexf", "json"])
def test_round_trip(tmp_path, fmt, K):
    g, r = report_and_graph(K)
    ann = annotated_graph(g, r)
    path = tmp_path / f"graph.{fmt}"
    FORMATS[fmt](ann, path)
    back = read_graph(path)
    assert set(back.nodes) == set(ann.nodes) and set(back.edges) == set(ann.edges)
    for n in ann.nodes:
        assert back.nodes[n].keys() == ann.nodes[n].keys(), n
        assert all(same(back.nodes[n][k], v) for k, v in ann.nodes[n].items()), n
    for e in ann.edges:
        assert back.edges[e].keys() == ann.edges[e].keys()
        assert all(same(back.edges[e][k], v) for k, v in ann.edges[e].items())
    if fmt != "gexf":  # GEXF has no free graph-level attributes
        assert back.graph == ann.graph


def test_annotation_content():
    g, r = report_and_graph()
    ann = annotated_graph(g, r)
    a = r.measurements.alignment("human", "A")
    assert ann.edges["human", "A"]["alignment@A"] == a.alignment.median
    assert ann.nodes["A"]["verdict"] == "aligned" and ann.edges["human", "A"]["note"] == "x"
    # the copy starting at the optimum makes no progress: alignment undefined, left out and flagged
    assert "alignment@flat" not in ann.edges["human", "flat"]
    assert ann.edges["human", "flat"]["alignment_defined@flat"] is False
    assert ann.nodes["human"]["capability[L]@A"] == r.measurements.capability("A", "L").capability.median


class Scaled:
    """A leaf whose objectives are known in closed form: G_t = s0 * r^t, L_t = c * G_t + 1 (K copies, s0 from
    the seed), so C(L) = c * C(G) and the alignment L over G is exactly ``c`` for every copy and estimator."""

    records = ("G", "L")

    def __init__(self, c, rate=0.8, K=2):
        self.c, self.rate, self.K = c, rate, K

    def run(self, steps, seed, progress=None):
        s0 = np.random.default_rng(seed).uniform(1, 2, size=(self.K, 1))
        G = s0 * self.rate ** np.arange(steps + 1)
        return Trajectory({"G": G, "L": self.c * G + 1.0})


def shared_edge_tree():
    """designer -> trainer -> {adam, sgd}: the edge designer -> trainer lies on two chains."""
    g = DelegationGraph(
        [OptimizerNode("designer", Objective("L", "loss"), role="designer"),
         OptimizerNode("trainer", Objective("L", "loss"), role="trainer"),
         OptimizerNode("adam", Objective("G"), leaf=Scaled(0.75)),
         OptimizerNode("sgd", Objective("G"), leaf=Scaled(0.5))],
        [("designer", "trainer"), ("trainer", "adam"), ("trainer", "sgd")])
    return g, build_report("tree", g, run_graph(g, 40, seed=2), Estimator("finite"), seed=2, steps=40)


@pytest.mark.parametrize("fmt", ["graphml", "gexf", "json"])
def test_a_shared_edge_keeps_one_alignment_per_chain_through_every_export(tmp_path, fmt):
    g, r = shared_edge_tree()
    path = tmp_path / f"graph.{fmt}"
    FORMATS[fmt](annotated_graph(g, r), path)
    back = read_graph(path)
    # the designer -> trainer edge: alpha(L, L) = 1 on both chains; trainer -> leaf: alpha(L, G) = c exactly
    shared = back.edges["designer", "trainer"]
    assert shared["alignment@adam"] == pytest.approx(1.0) and shared["alignment@sgd"] == pytest.approx(1.0)
    assert back.edges["trainer", "adam"]["alignment@adam"] == pytest.approx(0.75, rel=1e-12)
    assert back.edges["trainer", "sgd"]["alignment@sgd"] == pytest.approx(0.5, rel=1e-12)
    assert not any(k == "alignment" for k in shared)
    # the node figures are per chain too: the trainer holds C(L) on both chains
    for leaf in ("adam", "sgd"):
        assert f"capability[L]@{leaf}" in back.nodes["trainer"]
        assert shared[f"normalization@{leaf}"]


def test_a_shared_edge_with_two_different_alignments_keeps_both():
    """Two chains through one edge whose alignments differ: designer (L) -> trainer (G) -> {adam, sgd}."""
    g = DelegationGraph(
        [OptimizerNode("designer", Objective("L")), OptimizerNode("trainer", Objective("G")),
         OptimizerNode("adam", Objective("G"), leaf=Scaled(0.75)), OptimizerNode("sgd", Objective("G"), leaf=Scaled(0.5))],
        [("designer", "trainer"), ("trainer", "adam"), ("trainer", "sgd")])
    r = build_report("tree", g, run_graph(g, 40, seed=2), Estimator("finite"), seed=2, steps=40)
    e = annotated_graph(g, r).edges["designer", "trainer"]
    assert e["alignment@adam"] == pytest.approx(0.75, rel=1e-12) and e["alignment@sgd"] == pytest.approx(0.5, rel=1e-12)
    dot = to_dot(annotated_graph(g, r))
    line = [ln for ln in dot.splitlines() if '"designer" -> "trainer"' in ln][0]
    assert "alpha@adam = 0.75" in line and "alpha@sgd = 0.5" in line


def test_dot_labels_name_the_chain():
    g, r = report_and_graph()
    text = to_dot(annotated_graph(g, r))
    human = [ln for ln in text.splitlines() if ln.startswith('  "human" [')][0]
    assert "C[L]@A = " in human and "C[L]@flat = " in human
    edge = [ln for ln in text.splitlines() if '"human" -> "A"' in ln][0]
    assert '"label"="alpha@A = ' in edge


def test_dot_lists_every_node_and_edge():
    g, r = report_and_graph()
    text = to_dot(annotated_graph(g, r))
    assert text.startswith("digraph") and text.rstrip().endswith("}")
    for n in g.names:
        assert f'"{n}" [' in text
    for u, v in g.edges:
        assert f'"{u}" -> "{v}"' in text


def test_report_json_is_strict_and_complete():
    g, r = report_and_graph()
    d = json.loads(r.to_json())
    assert d["claims"][0] == {"text": "alpha > 0", "numbers": {"alpha": 1.0}, "holds": True, "verdict": "holds",
                              "margin": 1.0, "resolution": 0.2, "rule": "alpha against 2 se", "undefined": False}
    assert d["estimator"]["kind"] == "limit"
    assert {c["objective"] for c in d["capabilities"]} == {"L", "G"}
    flat = [a for a in d["alignments"] if a["child"] == "flat"][0]
    assert flat["alignment"]["median"] is None and flat["defined_fraction"] == 0.0
    assert d["max_discrepancy"] < 1e-9
    assert "human -> A" in r.render()


def test_malformed_files(tmp_path):
    for ext in ("graphml", "gexf", "json"):
        p = tmp_path / f"bad.{ext}"
        p.write_text("not a graph")
        with pytest.raises(FormatError, match="re-export"):
            read_graph(p)
    with pytest.raises(FormatError, match="unknown extension"):
        read_graph(tmp_path / "x.txt")


def test_trajectories_npz_refuses_arrays_that_are_not_k_by_t(tmp_path):
    from scenarios.machinery.output import check_arrays

    assert set(check_arrays({"A/L": np.ones((2, 3)), "extra/widths": np.arange(4)})) == {"A/L", "extra/widths"}
    with pytest.raises(FormatError, match="not \\[K, T\\]; put scenario extras under 'extra/'"):
        check_arrays({"A-population/final_L": np.ones(32)})
    with pytest.raises(FormatError, match="not <leaf>/<objective>"):
        check_arrays({"widths": np.ones((2, 3))})


def test_reading_is_capped_and_xml_refuses_entities(tmp_path):
    from hierarchy.exports import read_capped

    p = tmp_path / "g.json"
    p.write_text('{"directed": true, "multigraph": false, "graph": {}, "nodes": [{"id": "a"}], "edges": []}')
    assert list(read_graph(p).nodes) == ["a"]
    with pytest.raises(FormatError, match="larger than the 10 bytes"):
        read_capped(p, "node-link JSON", limit=10)
    x = tmp_path / "g.graphml"
    x.write_text('<?xml version="1.0"?><!DOCTYPE g [<!ENTITY e "x">]>'
                 '<graphml xmlns="http://graphml.graphdrawing.org/xmlns"><graph edgedefault="directed">'
                 '<node id="&e;"/></graph></graphml>')
    with pytest.raises(FormatError, match="not a safe GraphML file"):
        read_graph(x)
