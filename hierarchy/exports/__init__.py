"""Exports of a delegation graph with its figures as node and edge attributes.

One module per format family: :mod:`.attributes` builds the annotated networkx graph,
:mod:`.xml` writes and reads GraphML and GEXF, :mod:`.nodelink` node-link JSON, and
:mod:`.dot` Graphviz DOT (write only: DOT is for drawing).
"""

from .attributes import annotated_graph
from .dot import to_dot, write_dot
from .limits import MAX_READ_BYTES, read_capped
from .nodelink import read_node_link, write_node_link
from .xml import read_gexf, read_graphml, write_gexf, write_graphml

FORMATS = {"graphml": write_graphml, "gexf": write_gexf, "json": write_node_link, "dot": write_dot}
READERS = {"graphml": read_graphml, "gexf": read_gexf, "json": read_node_link}

__all__ = ["MAX_READ_BYTES", "read_capped", "annotated_graph", "to_dot", "write_dot", "read_node_link", "write_node_link", "read_gexf",
           "read_graphml", "write_gexf", "write_graphml", "FORMATS", "READERS", "read_graph", "write_graph"]

from pathlib import Path

from ..errors import FormatError


def _ext(path) -> str:
    return Path(path).suffix.lstrip(".").lower()


def write_graph(graph, report, path) -> None:
    """Write a delegation graph with every figure of ``report``, choosing the format by the extension.

    Parameters
    ----------
    graph : DelegationGraph
        The graph that ran.
    report : Report or None
        Its report (None: the structure only).
    path : str or path-like
        ``.graphml``, ``.gexf``, ``.json`` (node-link) or ``.dot``.

    Returns
    -------
    None

    Raises
    ------
    FormatError
        For any other extension.

    Examples
    --------
    >>> import tempfile
    >>> from hierarchy.graph import DelegationGraph, OptimizerNode
    >>> from hierarchy.objective import Objective
    >>> class Leaf:
    ...     records = ("L",)
    ...     def run(self, steps, seed, progress=None): ...
    >>> g = DelegationGraph.chain(OptimizerNode("human", Objective("L")), OptimizerNode("gd", Objective("L"), leaf=Leaf()))
    >>> path = Path(tempfile.mkdtemp()) / "g.graphml"
    >>> write_graph(g, None, path)
    >>> sorted(read_graph(path).edges)
    [('human', 'gd')]
    """
    ext = _ext(path)
    if ext not in FORMATS:
        raise FormatError(f"cannot write {path}: unknown extension {ext!r}; use .graphml, .gexf, .json or .dot")
    FORMATS[ext](annotated_graph(graph, report), path)


def read_graph(path):
    """Read an exported graph back, choosing the reader by the file's extension.

    Parameters
    ----------
    path : str or path-like
        A ``.graphml``, ``.gexf`` or ``.json`` (node-link) export.

    Returns
    -------
    networkx.DiGraph
        The graph with its typed node, edge and (GraphML, JSON) graph attributes.

    Raises
    ------
    FormatError
        For another extension, or a file that cannot be parsed.

    Examples
    --------
    >>> read_graph("figure.png")
    Traceback (most recent call last):
    ...
    hierarchy.errors.FormatError: cannot read figure.png: unknown extension 'png'; use .graphml, .gexf or .json
    """
    ext = _ext(path)
    if ext not in READERS:
        raise FormatError(f"cannot read {path}: unknown extension {ext!r}; use .graphml, .gexf or .json")
    return READERS[ext](path)
