"""hierarchy.html without a browser: self-contained, escaped, drawn from the same Report, and the
layout's invariants (every delegation points down a layer; no two nodes share a place)."""

import base64
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hierarchy.estimator import Estimator
from hierarchy.graph import DelegationGraph, OptimizerNode
from hierarchy.html import CSP, graph_layout, graph_svg, report_fragment, report_page
from hierarchy.objective import Objective
from hierarchy.report import Claim, Table, build_report
from hierarchy.run import run_graph
from hierarchy.trajectory import Trajectory


class Halving:
    """G = 0.5^t, L = 2 G + 1: alpha = C(L) / C(G) = 2 exactly (Definition 2)."""

    records = ("G", "L")
    deterministic = True

    def run(self, steps, seed, progress=None):
        g = 0.5 ** np.arange(steps + 1)
        return Trajectory({"G": [g], "L": [2 * g + 1]})


def two_leaf_report(claims=(), human="human", tables=()):
    g = DelegationGraph(
        [OptimizerNode(human, Objective("L")), OptimizerNode("gd", Objective("G"), leaf=Halving()),
         OptimizerNode("gd2", Objective("G"), leaf=Halving())],
        [(human, "gd"), (human, "gd2")])
    return build_report("demo", g, run_graph(g, 20), Estimator("finite"), steps=20, claims=claims, tables=tables)


def test_page_loads_nothing_from_anywhere():
    page = report_page(two_leaf_report(), {"objectives.png": b"\x89PNG fake"})
    assert f'content="{CSP}"' in page and "default-src 'none'" in CSP
    refs = re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', page)
    assert refs and all(r.startswith("data:") for r in refs), refs
    assert "<link" not in page and not re.search(r"<script[^>]*\bsrc", page)
    assert set(re.findall(r"https?://[^\s\"'<>)]+", page)) == {"http://www.w3.org/2000/svg"}  # the SVG namespace only


def test_plots_are_embedded_byte_for_byte():
    content = bytes(range(256)) * 3
    page = report_page(two_leaf_report(), {"objectives.png": content, "trials.csv": b"a,b"})
    (b64,) = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert base64.b64decode(b64) == content
    assert "trials.csv: written beside this page" in page


def test_graph_carries_the_closed_form_alignment_and_every_node():
    r = two_leaf_report()
    svg = graph_svg(r)
    assert re.findall(r'data-node="([^"]+)"', svg) == ["human", "gd", "gd2"]
    labels = re.findall(r"<tspan[^>]*>(α[^<]*)</tspan>", svg)
    assert labels == ["α 2 | 1", "α 2 | 1"]  # alpha = 2 exactly; normalized by its own run: 1
    # hover text and panel name each chain's figures
    frag = report_fragment(r)
    assert "chain gd: alpha = 2 ±0; normalized = 1 ±0" in frag
    assert frag.count('class="ms-detail"') == 3 + 2  # one panel per node and per edge


def test_the_html_table_is_the_terminal_table():
    r = two_leaf_report(tables=(Table("extra", ("a", "b"), ((1, 2.345678), (True, float("nan")))),))
    frag = report_fragment(r)
    for row in r.main_table().rows:  # the same cells the terminal prints
        assert "".join(f"<td>{c}</td>" for c in row) in frag.replace("&gt;", ">")
        assert all(c in r.render() for c in row)
    assert "<td>2.346</td>" in frag and "<td>yes</td><td>undefined</td>" in frag


def test_claims_show_verdict_numbers_margin_and_rule():
    claims = (Claim.compare("alpha_B < alpha_A", {"alpha_A": 0.3, "alpha_B": 0.2}, margin=0.1, standard_error=0.01,
                            rule="alpha_A - alpha_B against 2 standard errors"),
              Claim.compare("x > 0", {"x": float("nan")}, margin=float("nan"), standard_error=0.1))
    frag = report_fragment(two_leaf_report(claims))
    assert re.findall(r'data-verdict="(\w+)"', frag) == ["holds", "undecided"]
    assert "alpha_B &lt; alpha_A" in frag and "margin 0.1 against resolution 0.02" in frag
    assert "rule: alpha_A - alpha_B against 2 standard errors" in frag and "undecided (undefined)" in frag
    assert "1 hold, 0 fail, 1 undecided (of 2)" in frag


def test_names_and_texts_are_escaped():
    evil = '<img src=x onerror="alert(1)">&'
    r = two_leaf_report((Claim.exact("<script>alert(1)</script>", {evil: 1.0}, margin=1),), human=evil)
    page = report_page(r)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;" in page


def test_repr_html_is_the_page_without_its_chrome():
    r = two_leaf_report()
    frag = r._repr_html_()
    assert frag == report_fragment(r) and frag in report_page(r)
    assert "<html" not in frag and "<!DOCTYPE" not in frag


@st.composite
def dags(draw):
    n = draw(st.integers(1, 9))
    names = [f"n{i}" for i in range(n)]
    edges = [(names[i], names[j]) for j in range(1, n) for i in range(j) if draw(st.booleans())]
    return names, edges


@settings(max_examples=60, deadline=None)
@given(dags())
def test_layout_puts_parents_above_children_and_no_two_nodes_together(dag):
    names, edges = dag
    pos = graph_layout(names, edges)
    assert list(pos) == names
    assert all(pos[p][1] < pos[c][1] for p, c in edges)
    assert len(set(pos.values())) == len(names)
    assert all(float(y).is_integer() and x >= 0 for x, y in pos.values())


def test_layout_of_a_cycle_is_refused():
    import networkx as nx

    with pytest.raises(nx.NetworkXUnfeasible):
        graph_layout(["a", "b"], [("a", "b"), ("b", "a")])
