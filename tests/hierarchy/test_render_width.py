"""Terminal renderings fit 120 columns and drop nothing; report.json keeps every text whole."""

import json
import re

import numpy as np
from hypothesis import given, settings, strategies as st

from hierarchy.report import TERMINAL_WIDTH, Claim, Table, render_table, wrap_text

words = st.text(alphabet="abcdefghij0123456789.[]±", min_size=1, max_size=30)
cells = st.lists(words, min_size=0, max_size=12).map(" ".join)


def _words(text):
    return re.sub(r"\s+", "", text)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 16), st.lists(st.lists(cells, min_size=16, max_size=16), min_size=1, max_size=4),
       st.integers(40, 160))
def test_every_line_fits_and_nothing_is_dropped(ncols, rows, width):
    head = [f"column number {i}" for i in range(ncols)]
    rows = [r[:ncols] for r in rows]
    text = render_table("a title " * 30, head, rows, width=width)
    assert max(len(x) for x in text.split("\n")) <= width
    for r in rows:
        for c in r:
            for w in c.split():  # a word up to the narrowest column (10) stays whole; a longer one is cut, never lost
                assert len(w) > 10 or w in text, w
    assert len(_words(text)) >= sum(len(_words(c)) for r in rows for c in r)


def test_a_narrow_table_is_unchanged():
    assert render_table("t", ["a", "b"], [[1, 2.5]]) == "t\na  b\n-  ---\n1  2.5"


def test_a_wide_cell_wraps_in_its_column():
    long = "IQR [0.6081, 0.7363] " * 12
    text = render_table("t", ["chain", "figure"], [["designer -> A", long]])
    lines = text.split("\n")
    assert max(map(len, lines)) <= TERMINAL_WIDTH and len(lines) > 4
    assert all(x.startswith("designer -> A") or x.startswith(" " * 15) for x in lines[3:])


def test_too_many_columns_are_printed_in_groups_with_the_key_repeated():
    head = [f"a rather long column {i}" for i in range(20)]
    text = render_table("t", head, [[f"key"] + [f"value {i} " * 3 for i in range(1, 20)]])
    assert max(map(len, text.split("\n"))) <= TERMINAL_WIDTH
    groups = re.findall(r"\(columns (\d+)-(\d+) of 20\)", text)
    assert len(groups) >= 2 and groups[0][0] == "2" and groups[-1][1] == "20"
    assert text.count("key") == len(groups)


def test_claims_and_wrap_text_fit():
    c = Claim.compare("x " * 200, {f"number {i}": float(i) for i in range(40)}, margin=1.0, standard_error=0.1,
                      rule="rule " * 80)
    assert max(map(len, c.render().split("\n"))) <= TERMINAL_WIDTH
    assert c.to_dict()["text"] == "x " * 200  # JSON keeps the text whole
    assert _words(wrap_text("a " * 300)) == "a" * 300


def test_a_report_with_long_texts_fits_and_its_json_is_whole():
    from hierarchy import DelegationGraph, Objective, OptimizerNode, Trajectory
    from hierarchy.estimator import Estimator
    from hierarchy.report import build_report
    from hierarchy.run import run_graph

    class Halving:
        records = ("G", "L")
        deterministic = True

        def run(self, steps, seed, progress=None):
            g = 0.5 ** np.arange(steps + 1)
            return Trajectory({"G": [g, 2 * g], "L": [2 * g + 1, 4 * g + 1]})

    long = "a-very-long-optimizer-name-" * 4
    g = DelegationGraph.chain(OptimizerNode("designer " * 8, Objective("L")),
                              OptimizerNode(long, Objective("G"), leaf=Halving()))
    cell = "word " * 100
    r = build_report("demo", g, run_graph(g, 20), Estimator(), steps=20, choices={"a choice": "because " * 60},
                     tables=(Table("title " * 40, ("x", "y"), ((cell, 1.0),)),), notes=("note " * 50,))
    text = r.render()
    assert max(map(len, text.split("\n"))) <= TERMINAL_WIDTH
    d = json.loads(r.to_json())
    assert d["tables"][0]["rows"][0][0] == cell and d["choices"]["a choice"] == "because " * 60
