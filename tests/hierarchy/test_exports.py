"""Exports: GraphML, GEXF and node-link JSON read back to the same graph and attributes."""

import json
import math

import numpy as np
import pytest

from hierarchy import (Claim, DelegationGraph, Estimator, FormatError, Objective, OptimizerNode, build_report,
                       run_graph)
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
    assert ann.edges["human", "A"]["alignment"] == a.alignment.median
    assert ann.nodes["A"]["verdict"] == "aligned" and ann.edges["human", "A"]["note"] == "x"
    # the copy starting at the optimum makes no progress: alignment undefined, left out and flagged
    assert "alignment" not in ann.edges["human", "flat"]
    assert ann.edges["human", "flat"]["alignment_defined"] is False
    assert ann.nodes["human"]["capability[L]@A"] == r.measurements.capability("A", "L").capability.median


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
