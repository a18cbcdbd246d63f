"""GraphML and GEXF, through networkx's readwrite modules.

GEXF has no place for free graph-level attributes, so a GEXF file carries the node and
edge attributes only; GraphML carries the graph-level ones too.

Reading treats the file as untrusted: at most :data:`~hierarchy.exports.limits.MAX_READ_BYTES`
are read (:func:`~hierarchy.exports.limits.read_capped`), and the XML is parsed by defusedxml with
``forbid_dtd``, ``forbid_entities`` and ``forbid_external``: a document type declaration, an entity
(billion laughs, quadratic blow-up) or an external reference is refused by construction, whatever
the expat version bundled with Python. networkx then builds the graph from the parsed tree.
"""

from __future__ import annotations

from xml.etree.ElementTree import ElementTree

import networkx as nx
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as _safe_fromstring
from networkx.readwrite.gexf import GEXFReader
from networkx.readwrite.graphml import GraphMLReader

from ..errors import FormatError
from .limits import read_capped

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


def _parse(path, kind: str):
    data = read_capped(path, kind)
    try:
        return _safe_fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise FormatError(f"{path} is not a safe {kind} file ({type(exc).__name__}: a DTD, entity or external "
                          f"reference is refused); re-export it with mesastack") from None
    except Exception as exc:  # ParseError, an encoding error, ...
        why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise FormatError(f"{path} is not a readable {kind} file ({why}); re-export it with mesastack") from None


def _graphml_graphs(root) -> list:
    reader = GraphMLReader(node_type=str, edge_key_type=int, force_multigraph=False)
    reader.xml = root
    keys, defaults = reader.find_graphml_keys(root)
    return [reader.make_graph(g, keys, defaults) for g in root.findall(f"{{{reader.NS_GRAPHML}}}graph")]


def read_graphml(path) -> nx.DiGraph:
    """Read a GraphML export back into a DiGraph with typed attributes (untrusted input: see the
    module docstring)."""
    root = _parse(path, "GraphML")
    try:
        graphs = _graphml_graphs(root)
        if not graphs:
            raise nx.NetworkXError("no <graph> element in the GraphML namespace")
        return _tidy(nx.DiGraph(graphs[0]))
    except Exception as exc:
        raise FormatError(f"{path} is not a readable GraphML file ({exc}); re-export it with mesastack") from None


def read_gexf(path) -> nx.DiGraph:
    """Read a GEXF export back into a DiGraph with typed attributes (untrusted input: see the
    module docstring)."""
    root = _parse(path, "GEXF")
    try:
        reader = GEXFReader(node_type=None, version="1.2draft")
        reader.xml = ElementTree(root)
        g = reader.xml.find(f"{{{reader.NS_GEXF}}}graph")
        for version in [None, *reader.versions]:
            if version is not None:
                reader.set_version(version)
                g = reader.xml.find(f"{{{reader.NS_GEXF}}}graph")
            if g is not None:
                return _tidy(nx.DiGraph(reader.make_graph(g)))
        raise nx.NetworkXError("no <graph> element in a GEXF namespace")
    except Exception as exc:
        raise FormatError(f"{path} is not a readable GEXF file ({exc}); re-export it with mesastack") from None
