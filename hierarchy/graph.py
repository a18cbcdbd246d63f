"""The delegation graph: optimizers as nodes, delegations as edges (parent -> child).

Each node holds its objective; a leaf also holds the optimizer that actually steps.
A delegating node never steps: it hands its work to its child and keeps its own
objective, which is evaluated on the states the leaf produces (definitions.md, "A
delegation"). Siblings under one parent are alternative delegations, each run
separately, so every root-to-leaf path is one *chain* and one run.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

import attrs
import networkx as nx

from .errors import GraphError
from .objective import Objective
from .product import Produced
from .protocol import Leaf
from .validators import check

__all__ = ["same_objective", "OptimizerNode", "DelegationGraph"]


_check_node_name = check(lambda v: isinstance(v, str) and v.strip() != "" and "/" not in v and "@" not in v,
                         "a usable node name", "use a short non-empty name without '/' or '@'", error=GraphError)


def _example_graph() -> "DelegationGraph":
    """designer -> {adam, sgd}: a tree of two chains whose leaves halve G each step (for the examples)."""
    import numpy as np

    from .trajectory import Trajectory

    class Halving:
        records = ("G",)

        def run(self, steps, seed, progress=None):
            return Trajectory({"G": [0.5 ** np.arange(steps + 1)]})

    return DelegationGraph([OptimizerNode("designer", Objective("G")),
                            OptimizerNode("adam", Objective("G"), leaf=Halving()),
                            OptimizerNode("sgd", Objective("G"), leaf=Halving())],
                           [("designer", "adam"), ("designer", "sgd")])


def same_objective(a: Objective, b: Objective) -> bool:
    """True when ``a`` and ``b`` are one objective: the same value, or equal with the same
    ``evaluate`` function (attrs equality leaves ``evaluate`` out).

    Parameters
    ----------
    a, b : Objective
        The two objectives to compare.

    Returns
    -------
    bool
        Whether a chain may hold both under one name.

    Examples
    --------
    >>> same_objective(Objective("L", "loss"), Objective("L", "loss"))
    True
    >>> same_objective(Objective("D", evaluate=lambda s: s[..., 0]), Objective("D", evaluate=lambda s: s[..., 1]))
    False
    """
    return a is b or (a == b and a.evaluate is b.evaluate)


def _check_objective_identity(graph: "DelegationGraph", chain: tuple) -> None:
    seen = {}
    for name in chain:
        obj = graph.node(name).objective
        first = seen.setdefault(obj.name, name)
        if first != name and not same_objective(graph.node(first).objective, obj):
            raise GraphError(
                f"nodes {first!r} and {name!r} on chain {' -> '.join(chain)} hold two different objectives named "
                f"{obj.name!r}; rename one of them or give both nodes the same Objective value"
            )


@attrs.frozen
class OptimizerNode:
    """One optimizer of a delegation graph.

    ``objective`` is what this optimizer pursues (the base objective of a designer, the
    mesa-objective of a learned optimizer, the true objective of gradient descent);
    ``leaf`` is the optimizer that steps, present on leaves only; ``role`` says what it
    is in the source texts' words ("designer", "gradient descent", "planner", ...).

    Parameters
    ----------
    name : str
        A unique, non-empty name without '/' or '@' (they separate chains in exports).
    objective : Objective
        What this optimizer pursues.
    leaf : Leaf or Produced, optional
        The optimizer that steps (leaves only), or the recipe of one built from another
        node's product.
    role, description : str, optional
        For reports.

    Raises
    ------
    GraphError
        When ``name`` is not usable.

    Examples
    --------
    >>> OptimizerNode("human", Objective("L", "cross-entropy"), role="designer").is_leaf
    False
    >>> OptimizerNode("a/b", Objective("L"))
    Traceback (most recent call last):
    ...
    hierarchy.errors.GraphError: name='a/b' must be a usable node name; use a short non-empty name without '/' or '@'
    """

    name: str = attrs.field(validator=_check_node_name)
    objective: Objective = attrs.field()
    leaf: Optional[Any] = attrs.field(default=None, eq=False)
    role: str = ""
    description: str = ""

    @property
    def is_leaf(self) -> bool:
        """True when this node holds a leaf optimizer that steps.

        Returns
        -------
        bool
            ``leaf is not None`` (a leaf or a :class:`~hierarchy.product.Produced` recipe).

        Examples
        --------
        >>> class Steps:
        ...     records = ("G",)
        ...     def run(self, steps, seed, progress=None): ...
        >>> OptimizerNode("gd", Objective("G"), leaf=Steps()).is_leaf
        True
        >>> OptimizerNode("human", Objective("L")).is_leaf
        False
        """
        return self.leaf is not None


class DelegationGraph:
    """A validated delegation graph over a networkx ``DiGraph``.

    Validation on construction: node names unique; every edge names known nodes; no
    cycle; every non-root has exactly one parent; every node without children holds a
    leaf optimizer that can step (``records`` and ``run``); no delegating node holds one;
    two different objectives under one name on one chain are refused; every producer is a
    leaf of the graph and productions form no cycle.

    Parameters
    ----------
    nodes : iterable of OptimizerNode
        The optimizers.
    edges : iterable of (str, str)
        Delegations as (parent, child) names.

    Raises
    ------
    GraphError
        When any of the rules above is broken (the message names the node and the fix).

    Examples
    --------
    >>> import numpy as np
    >>> from hierarchy.trajectory import Trajectory
    >>> class Halving:
    ...     records = ("G",)
    ...     def run(self, steps, seed, progress=None):
    ...         return Trajectory({"G": [0.5 ** np.arange(steps + 1)]})
    >>> g = DelegationGraph.chain(
    ...     OptimizerNode("human", Objective("G")),
    ...     OptimizerNode("gd", Objective("G"), leaf=Halving()))
    >>> g.chains()
    [('human', 'gd')]
    """

    def __init__(self, nodes: Iterable[OptimizerNode], edges: Iterable[tuple]):
        g = nx.DiGraph()
        for node in nodes:
            if not isinstance(node, OptimizerNode):
                raise GraphError(f"{node!r} is not an OptimizerNode; wrap each optimizer in OptimizerNode(name, objective, ...)")
            if node.name in g:
                raise GraphError(f"two nodes are named {node.name!r}; give every optimizer a unique name")
            g.add_node(node.name, spec=node)
        if g.number_of_nodes() == 0:
            raise GraphError("the delegation graph has no node; add at least a designer and one leaf optimizer")
        for edge in edges:
            if len(edge) != 2:
                raise GraphError(f"edge {edge!r} is not a (parent, child) pair")
            parent, child = edge
            for end in (parent, child):
                if end not in g:
                    raise GraphError(f"edge {parent!r} -> {child!r} names unknown node {end!r}; add the node first")
            if parent == child:
                raise GraphError(f"node {parent!r} delegates to itself; an optimizer delegates to a different one")
            g.add_edge(parent, child)
        if not nx.is_directed_acyclic_graph(g):
            cycle = " -> ".join(str(e[0]) for e in nx.find_cycle(g))
            raise GraphError(f"the delegation graph has a cycle ({cycle}); delegation must flow one way, remove one edge")
        for name in g:
            parents = list(g.predecessors(name))
            if len(parents) > 1:
                raise GraphError(
                    f"node {name!r} has {len(parents)} parents {sorted(parents)}; each optimizer answers to one "
                    f"parent: make a separate copy of it under each"
                )
            spec = g.nodes[name]["spec"]
            has_children = g.out_degree(name) > 0
            if has_children and spec.is_leaf:
                raise GraphError(
                    f"node {name!r} delegates to {sorted(g.successors(name))} but also holds a leaf optimizer; "
                    f"a delegating node does not step: drop its leaf or its children"
                )
            if not has_children:
                if not spec.is_leaf:
                    raise GraphError(
                        f"leaf {name!r} cannot run: it delegates to nobody and holds no optimizer; give it leaf=... "
                        f"(e.g. a GradientDescent) or delegate to a node that has one"
                    )
                if not isinstance(spec.leaf, (Leaf, Produced)):
                    raise GraphError(
                        f"leaf {name!r} holds {type(spec.leaf).__name__}, which cannot step; it needs a 'records' "
                        f"tuple and a run(steps, seed, progress=None) method (see hierarchy.protocol.Leaf)"
                    )
        self._g = g
        for chain in self.chains():
            _check_objective_identity(self, chain)
        for name in g:
            leaf = g.nodes[name]["spec"].leaf
            if isinstance(leaf, Produced):
                if leaf.producer not in g:
                    raise GraphError(f"node {name!r} is produced by unknown node {leaf.producer!r}; name a leaf of "
                                     f"this graph whose run returns the product")
                if g.out_degree(leaf.producer) > 0:
                    raise GraphError(f"node {name!r} is produced by {leaf.producer!r}, which delegates and never runs; "
                                     f"name the leaf that trains the product")
        prod = nx.DiGraph(self.productions)
        if prod.number_of_edges() and not nx.is_directed_acyclic_graph(prod):
            cycle = " -> ".join(str(e[0]) for e in nx.find_cycle(prod))
            raise GraphError(f"productions form a cycle ({cycle}); a product cannot produce its own producer")

    @property
    def productions(self) -> list:
        """The relations "the run of ``producer`` produces the leaf of ``node``" as (producer, node) pairs.

        Examples
        --------
        >>> import numpy as np
        >>> from hierarchy.trajectory import Trajectory
        >>> class Trainer:
        ...     records = ("L",)
        ...     def run(self, steps, seed, progress=None):
        ...         return Trajectory({"L": [np.linspace(2, 1, steps + 1)]}, product=0.5)
        >>> g = DelegationGraph([OptimizerNode("designer", Objective("L")),
        ...                      OptimizerNode("gd", Objective("L"), leaf=Trainer()),
        ...                      OptimizerNode("learned", Objective("L"),
        ...                                    leaf=Produced("gd", build=lambda p: Trainer(), records=("L",)))],
        ...                     [("designer", "gd"), ("designer", "learned")])
        >>> g.productions
        [('gd', 'learned')]
        """
        return [(self._g.nodes[n]["spec"].leaf.producer, n) for n in self.names
                if isinstance(self._g.nodes[n]["spec"].leaf, Produced)]

    @property
    def run_order(self) -> list:
        """The leaves in the order they run: every producer before what it produces.

        Examples
        --------
        >>> _example_graph().run_order
        ['adam', 'sgd']
        """
        order = self.leaves
        prod = nx.DiGraph()
        prod.add_nodes_from(order)
        prod.add_edges_from(self.productions)
        return list(nx.lexicographical_topological_sort(prod, key=order.index))

    @classmethod
    def chain(cls, *nodes: OptimizerNode) -> "DelegationGraph":
        """A single chain: ``nodes[0]`` delegates to ``nodes[1]``, which delegates to ``nodes[2]``, ...

        Parameters
        ----------
        *nodes : OptimizerNode
            Root first, the leaf last.

        Returns
        -------
        DelegationGraph

        Raises
        ------
        GraphError
            As the constructor does.

        Examples
        --------
        >>> g = _example_graph()
        >>> DelegationGraph.chain(g.node("designer"), g.node("adam")).edges
        [('designer', 'adam')]
        """
        return cls(nodes, list(zip([n.name for n in nodes[:-1]], [n.name for n in nodes[1:]])))

    @property
    def digraph(self) -> nx.DiGraph:
        """A copy of the underlying networkx graph (node attribute ``spec``).

        Examples
        --------
        >>> _example_graph().digraph.number_of_edges()
        2
        """
        return self._g.copy()

    def node(self, name: str) -> OptimizerNode:
        """The node called ``name``.

        Parameters
        ----------
        name : str

        Returns
        -------
        OptimizerNode

        Raises
        ------
        GraphError
            When the graph has no node ``name`` (the message lists those it has).

        Examples
        --------
        >>> _example_graph().node("adam").is_leaf
        True
        """
        try:
            return self._g.nodes[name]["spec"]
        except KeyError:
            raise GraphError(f"no node named {name!r}; the graph has {sorted(self._g)}") from None

    @property
    def names(self) -> list:
        """Node names in a stable (topological, then insertion) order.

        Examples
        --------
        >>> _example_graph().names
        ['designer', 'adam', 'sgd']
        """
        return list(nx.lexicographical_topological_sort(self._g, key=list(self._g).index))

    @property
    def edges(self) -> list:
        """Delegations as (parent, child) pairs.

        Examples
        --------
        >>> _example_graph().edges
        [('designer', 'adam'), ('designer', 'sgd')]
        """
        return list(self._g.edges)

    @property
    def roots(self) -> list:
        """Nodes with no parent.

        Examples
        --------
        >>> _example_graph().roots
        ['designer']
        """
        return [n for n in self.names if self._g.in_degree(n) == 0]

    @property
    def leaves(self) -> list:
        """Nodes that step.

        Examples
        --------
        >>> _example_graph().leaves
        ['adam', 'sgd']
        """
        return [n for n in self.names if self._g.out_degree(n) == 0]

    def parent(self, name: str) -> Optional[str]:
        """The node that delegates to ``name`` (None for a root).

        Parameters
        ----------
        name : str

        Returns
        -------
        str or None

        Raises
        ------
        GraphError
            When the graph has no node ``name``.

        Examples
        --------
        >>> g = _example_graph()
        >>> g.parent("sgd"), g.parent("designer")
        ('designer', None)
        """
        self.node(name)
        preds = list(self._g.predecessors(name))
        return preds[0] if preds else None

    def children(self, name: str) -> list:
        """The alternative delegations of ``name`` (siblings compared under one parent).

        Parameters
        ----------
        name : str

        Returns
        -------
        list of str

        Raises
        ------
        GraphError
            When the graph has no node ``name``.

        Examples
        --------
        >>> _example_graph().children("designer")
        ['adam', 'sgd']
        """
        self.node(name)
        return list(self._g.successors(name))

    def chain_to(self, leaf: str) -> tuple:
        """The chain root -> ... -> ``leaf``.

        Parameters
        ----------
        leaf : str
            Any node (usually a leaf).

        Returns
        -------
        tuple of str
            Root first.

        Raises
        ------
        GraphError
            When the graph has no node ``leaf``.

        Examples
        --------
        >>> _example_graph().chain_to("sgd")
        ('designer', 'sgd')
        """
        path = [leaf]
        while (p := self.parent(path[-1])) is not None:
            path.append(p)
        return tuple(reversed(path))

    def chains(self) -> list:
        """Every root-to-leaf chain, one per leaf: each is one run.

        Returns
        -------
        list of tuple of str

        Examples
        --------
        >>> _example_graph().chains()
        [('designer', 'adam'), ('designer', 'sgd')]
        """
        return [self.chain_to(leaf) for leaf in self.leaves]

    def __repr__(self) -> str:
        return f"DelegationGraph(nodes={self.names}, edges={self.edges})"
