"""The annotated graph: a networkx DiGraph whose node and edge attributes carry a report's figures.

Attribute names (documented in README):

* graph: ``scenario``, ``seed``, ``steps``, ``estimator``, and each open choice as ``choice:<name>``.
* node: ``label``, ``role``, ``objective``, ``objective_description``, ``description``,
  ``is_leaf``, on leaves ``step_unit`` (and ``produced_by``); per chain through it and objective it holds, ``capability[<objective>]@<leaf>``
  (the median over copies; leaves also carry their other recorded objectives) and its
  standard error ``capability_se[<objective>]@<leaf>``; ``converged_fraction[<objective>]@<leaf>``; on leaves ``product_discrepancy``;
  plus any ``node_attributes`` of the report.
* edge: ``kind`` (``delegates``, or ``produces`` for a production ``producer=>node``:
  :mod:`hierarchy.product`), ``id`` (``parent->child``), ``base_objective``, ``mesa_objective``; per chain
  through the edge (named by its leaf), ``alignment@<leaf>``, ``alignment_se@<leaf>`` (its standard
  error), ``normalized_alignment@<leaf>``, ``normalization@<leaf>`` (its reference),
  ``alignment_defined@<leaf>``, and with K > 1 ``alignment_q25@<leaf>`` / ``alignment_q75@<leaf>``; plus
  any ``edge_attributes`` of the report. An edge shared by several chains (designer -> trainer ->
  {adam, sgd}) has one alignment per chain, so every figure is keyed by its chain, like the node
  figures.

Undefined numbers (NaN) are left out rather than written, and flagged by ``alignment_defined@<leaf>``.
"""

from __future__ import annotations

import math
from typing import Any

import networkx as nx

from ..graph import DelegationGraph

__all__ = ["annotated_graph"]


def _put(d: dict, key: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, float) and not math.isfinite(value):
        return
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if not isinstance(value, (str, int, float, bool)):
        value = str(value)
    d[key] = value


def annotated_graph(graph: DelegationGraph, report=None) -> nx.DiGraph:
    """The delegation graph with every figure of ``report`` as attributes (GraphML-safe scalars).

    Parameters
    ----------
    graph : DelegationGraph
        The graph that ran.
    report : Report, optional
        Its report; without one, only the structure (names, roles, objectives) is annotated.

    Returns
    -------
    networkx.DiGraph
        Nodes and edges of ``graph`` (plus ``produces`` edges) with the attributes listed in
        this module's docstring: node figures ``capability[<objective>]@<leaf>``, edge figures
        ``alignment@<leaf>``, ... keyed by chain, undefined numbers left out.

    Raises
    ------
    Nothing of its own: a figure of ``report`` that names a node or edge ``graph`` lacks is
    skipped.

    Examples
    --------
    >>> import numpy as np
    >>> from hierarchy.graph import OptimizerNode
    >>> from hierarchy.objective import Objective
    >>> class Halving:
    ...     records = ("G",)
    ...     def run(self, steps, seed, progress=None): ...
    >>> g = DelegationGraph.chain(OptimizerNode("human", Objective("G")), OptimizerNode("gd", Objective("G"), leaf=Halving()))
    >>> sorted(annotated_graph(g).nodes["gd"])
    ['description', 'is_leaf', 'label', 'objective', 'objective_description', 'role', 'step_unit']
    """
    out = nx.DiGraph()
    if report is not None:
        _put(out.graph, "scenario", report.scenario)
        _put(out.graph, "seed", int(report.seed))
        _put(out.graph, "steps", int(report.steps))
        _put(out.graph, "estimator", str(report.estimator))
        for k, v in report.choices.items():
            _put(out.graph, f"choice:{k}", v)
    for name in graph.names:
        spec = graph.node(name)
        attrs = {}
        _put(attrs, "label", name)
        _put(attrs, "role", spec.role)
        _put(attrs, "objective", spec.objective.name)
        _put(attrs, "objective_description", spec.objective.description)
        _put(attrs, "description", spec.description)
        _put(attrs, "is_leaf", spec.is_leaf)
        if spec.is_leaf:
            _put(attrs, "step_unit", getattr(spec.leaf, "step_unit", "step"))
            producer = getattr(spec.leaf, "producer", None)
            if producer is not None:
                _put(attrs, "produced_by", producer)
        out.add_node(name, **attrs)
    for parent, child in graph.edges:
        out.add_edge(parent, child, id=f"{parent}->{child}", kind="delegates")
    for producer, product in graph.productions:
        out.add_edge(producer, product, id=f"{producer}=>{product}", kind="produces")
    if report is None:
        return out
    for f in report.capabilities:
        holders = f.nodes if f.nodes else (f.chain,)
        for name in holders:
            if name in out:
                _put(out.nodes[name], f"capability[{f.objective}]@{f.chain}", f.capability.median)
                _put(out.nodes[name], f"capability_se[{f.objective}]@{f.chain}", f.capability.standard_error)
                _put(out.nodes[name], f"converged_fraction[{f.objective}]@{f.chain}", f.converged_fraction)
    for p in report.products:
        if p.chain[-1] in out:
            _put(out.nodes[p.chain[-1]], "product_discrepancy", p.discrepancy)
    for f in report.alignments:
        if not out.has_edge(f.parent, f.child):
            continue
        e = out.edges[f.parent, f.child]
        _put(e, "base_objective", f.base_objective)
        _put(e, "mesa_objective", f.mesa_objective)
        at = f"@{f.chain}"
        _put(e, "alignment" + at, f.alignment.median)
        _put(e, "alignment_se" + at, f.alignment.standard_error)
        _put(e, "normalized_alignment" + at, f.normalized.median)
        _put(e, "normalization" + at, f.normalization)
        _put(e, "alignment_defined" + at, f.alignment.defined)
        if f.alignment.K > 1:
            _put(e, "alignment_q25" + at, f.alignment.q25)
            _put(e, "alignment_q75" + at, f.alignment.q75)
    for name, extra in report.node_attributes.items():
        if name in out:
            for k, v in extra.items():
                _put(out.nodes[name], k, v)
    for (parent, child), extra in report.edge_attributes.items():
        if out.has_edge(parent, child):
            for k, v in extra.items():
                _put(out.edges[parent, child], k, v)
    return out
