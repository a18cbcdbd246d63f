"""Graphviz DOT, written directly (no pydot or pygraphviz needed).

Every attribute is kept as a quoted DOT attribute; each node's label shows its objective
and its capabilities, each edge's label its alignment on every chain through it, each figure
naming its chain (``C[L]@adam = 0.5``, ``alpha@adam = 0.76``); a production edge is dashed and
labelled "produces". ``dot -Tpng`` gives a readable slide. Limits: write only (DOT is for
drawing; read the GraphML, GEXF or JSON export back instead), and a node label shows at most
three capabilities (every one stays an attribute).
"""

from __future__ import annotations

import networkx as nx

from ..figures import format_number

__all__ = ["to_dot", "write_dot"]


def _q(x) -> str:
    s = str(x).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{s}"'


def _attrs(d: dict) -> str:
    return ", ".join(f"{_q(k)}={_q(v)}" for k, v in d.items())


def to_dot(g: nx.DiGraph) -> str:
    """The DOT text of an annotated graph.

    Parameters
    ----------
    g : networkx.DiGraph
        An annotated graph (:func:`~hierarchy.exports.attributes.annotated_graph`).

    Returns
    -------
    str
        The DOT source, one statement per line, every attribute quoted.

    Examples
    --------
    >>> g = nx.DiGraph(); g.add_edge("human", "A", **{"alignment@A": 0.25})
    >>> print(to_dot(g).splitlines()[-2])
      "human" -> "A" ["alignment@A"="0.25", "label"="alpha@A = 0.25"];
    """
    lines = ["digraph delegation {", "  rankdir=TB;", '  node [shape=box, fontname="Helvetica"];']
    for k, v in g.graph.items():
        lines.append(f"  // {k} = {v}")
    for n, d in g.nodes(data=True):
        caps = [f"C{k[len('capability'):]} = {format_number(v)}" for k, v in d.items()
                if k.startswith("capability[") and isinstance(v, (int, float))]
        label = "\\n".join([str(n)] + ([f"objective {d['objective']}"] if "objective" in d else []) + caps[:3])
        shown = {k: v for k, v in d.items() if k != "label"}
        lines.append(f"  {_q(n)} [{_attrs({**shown, 'label': label})}];".replace('\\\\n', '\\n'))
    for u, v, d in g.edges(data=True):
        label = "\\n".join(f"alpha{k[len('alignment'):]} = {format_number(v)}" for k, v in d.items()
                            if k.startswith("alignment@") and isinstance(v, (int, float)) and not isinstance(v, bool))
        extra = {"style": "dashed", "label": "produces"} if d.get("kind") == "produces" else {"label": label}
        lines.append(f"  {_q(u)} -> {_q(v)} [{_attrs({**d, **extra})}];".replace('\\\\n', '\\n'))
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_dot(g: nx.DiGraph, path) -> None:
    """Write the DOT text of ``g`` to ``path``.

    Parameters
    ----------
    g : networkx.DiGraph
        An annotated graph.
    path : str or path-like
        The file to write (UTF-8).

    Returns
    -------
    None

    Raises
    ------
    OSError
        When ``path`` cannot be written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "g.dot"
    >>> write_dot(nx.DiGraph([("human", "A")]), path)
    >>> path.read_text().startswith("digraph")
    True
    """
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(to_dot(g))
