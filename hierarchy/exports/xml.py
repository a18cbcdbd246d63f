"""GraphML and GEXF, through networkx's readwrite modules.

GEXF has no place for free graph-level attributes, so a GEXF file carries the node and
edge attributes only; GraphML carries the graph-level ones too.
"""

from __future__ import annotations

import networkx as nx

from ..errors import FormatError

__all__ = ["write_graphml", "write_gexf", "read_graphml", "read_gexf"]

_GRAPH_KEYS_ADDED = ("node_default", "edge_default", "mode")


def write_graphml(g: nx.DiGraph, path) -> None:
    """Write ``g`` (an annotated graph) as GraphML."""
    nx.write_graphml(g, path)


def write_gexf(g: nx.DiGraph, path) -> None:
    """Write ``g`` (an annotated graph) as GEXF 1.2."""
    nx.write_gexf(g, path)


def _tidy(g: nx.DiGraph) -> nx.DiGraph:
    for k in _GRAPH_KEYS_ADDED:
        g.graph.pop(k, None)
    return g


def read_graphml(path) -> nx.DiGraph:
    """Read a GraphML export back into a DiGraph with typed attributes."""
    try:
        return _tidy(nx.DiGraph(nx.read_graphml(path)))
    except Exception as exc:
        raise FormatError(f"{path} is not a readable GraphML file ({exc}); re-export it with mesastack") from exc


def read_gexf(path) -> nx.DiGraph:
    """Read a GEXF export back into a DiGraph with typed attributes."""
    try:
        return _tidy(nx.DiGraph(nx.read_gexf(path)))
    except Exception as exc:
        raise FormatError(f"{path} is not a readable GEXF file ({exc}); re-export it with mesastack") from exc
