"""Node-link JSON (networkx's node_link_data format, edges under the key ``edges``)."""

from __future__ import annotations

import json

import networkx as nx

from ..errors import FormatError
from .limits import read_capped

__all__ = ["write_node_link", "read_node_link"]


def write_node_link(g: nx.DiGraph, path) -> None:
    """Write ``g`` as node-link JSON."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(nx.node_link_data(g, edges="edges"), fh, indent=2, allow_nan=False)


def read_node_link(path) -> nx.DiGraph:
    """Read a node-link JSON export back into a DiGraph (at most
    :data:`~hierarchy.exports.limits.MAX_READ_BYTES` are read)."""
    data = read_capped(path, "node-link JSON")
    try:
        return nx.DiGraph(nx.node_link_graph(json.loads(data.decode("utf-8")), directed=True, edges="edges"))
    except RecursionError:
        raise FormatError(f"{path} is not a readable node-link JSON file (nested too deeply); "
                          f"re-export it with mesastack") from None
    except Exception as exc:
        why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise FormatError(f"{path} is not a readable node-link JSON file ({why}); re-export it with mesastack") from None
