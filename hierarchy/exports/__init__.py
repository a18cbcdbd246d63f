"""Exports of a delegation graph with its figures as node and edge attributes.

One module per format family: :mod:`.attributes` builds the annotated networkx graph,
:mod:`.xml` writes and reads GraphML and GEXF, :mod:`.nodelink` node-link JSON, and
:mod:`.dot` Graphviz DOT (write only: DOT is for drawing).
"""

from .attributes import annotated_graph
from .dot import to_dot, write_dot
from .nodelink import read_node_link, write_node_link
from .xml import read_gexf, read_graphml, write_gexf, write_graphml

FORMATS = {"graphml": write_graphml, "gexf": write_gexf, "json": write_node_link, "dot": write_dot}
READERS = {"graphml": read_graphml, "gexf": read_gexf, "json": read_node_link}

__all__ = ["annotated_graph", "to_dot", "write_dot", "read_node_link", "write_node_link", "read_gexf",
           "read_graphml", "write_gexf", "write_graphml", "FORMATS", "READERS", "read_graph"]


def read_graph(path):
    """Read an exported graph back, choosing the reader by the file's extension."""
    from pathlib import Path

    from ..errors import FormatError

    ext = Path(path).suffix.lstrip(".").lower()
    if ext not in READERS:
        raise FormatError(f"cannot read {path}: unknown extension {ext!r}; use .graphml, .gexf or .json")
    return READERS[ext](path)
