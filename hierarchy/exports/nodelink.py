"""Node-link JSON (networkx's node_link_data format, edges under the key ``edges``)."""

from __future__ import annotations

import json

import networkx as nx

from ..errors import FormatError

__all__ = ["write_node_link", "read_node_link"]


def write_node_link(g: nx.DiGraph, path) -> None:
    """Write ``g`` as node-link JSON."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(nx.node_link_data(g, edges="edges"), fh, indent=2, allow_nan=False)


def read_node_link(path) -> nx.DiGraph:
    """Read a node-link JSON export back into a DiGraph."""
    try:
        with open(path, encoding="utf-8") as fh:
            return nx.DiGraph(nx.node_link_graph(json.load(fh), directed=True, edges="edges"))
    except Exception as exc:
        raise FormatError(f"{path} is not a readable node-link JSON file ({exc}); re-export it with mesastack") from exc
