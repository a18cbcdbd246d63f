"""Graphviz DOT, written directly (no pydot or pygraphviz needed).

Every attribute is kept as a quoted DOT attribute; each node's label shows its objective
and capability, each edge's label its alignment (a production edge is dashed and labelled
"produces"), so ``dot -Tpng`` gives a readable slide.
"""

from __future__ import annotations

import networkx as nx

from ..figures import format_number


def _q(x) -> str:
    s = str(x).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{s}"'


def _attrs(d: dict) -> str:
    return ", ".join(f"{_q(k)}={_q(v)}" for k, v in d.items())


def to_dot(g: nx.DiGraph) -> str:
    """The DOT text of an annotated graph.

    Example:
        >>> g = nx.DiGraph(); g.add_edge("human", "A", alignment=0.25)
        >>> print(to_dot(g).splitlines()[-2])
          "human" -> "A" ["alignment"="0.25", "label"="alpha = 0.25"];
    """
    lines = ["digraph delegation {", "  rankdir=TB;", '  node [shape=box, fontname="Helvetica"];']
    for k, v in g.graph.items():
        lines.append(f"  // {k} = {v}")
    for n, d in g.nodes(data=True):
        caps = [f"{k.split('@')[0]} = {format_number(v)}" for k, v in d.items()
                if k.startswith("capability[") and isinstance(v, (int, float))]
        label = "\\n".join([str(n)] + ([f"objective {d['objective']}"] if "objective" in d else []) + caps[:3])
        shown = {k: v for k, v in d.items() if k != "label"}
        lines.append(f"  {_q(n)} [{_attrs({**shown, 'label': label})}];".replace('\\\\n', '\\n'))
    for u, v, d in g.edges(data=True):
        label = f"alpha = {format_number(d['alignment'])}" if isinstance(d.get("alignment"), (int, float)) else ""
        extra = {"style": "dashed", "label": "produces"} if d.get("kind") == "produces" else {"label": label}
        lines.append(f"  {_q(u)} -> {_q(v)} [{_attrs({**d, **extra})}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_dot(g: nx.DiGraph, path) -> None:
    """Write the DOT text of ``g`` to ``path``."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(to_dot(g))
