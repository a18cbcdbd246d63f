"""Checking a user's graph before a real run (like Gymnasium's environment checker)."""

from __future__ import annotations

from .graph import DelegationGraph
from .product import Produced, build_produced
from .protocol import check_leaf
from .seeding import named_seed


def check_graph(graph: DelegationGraph, steps: int = 3, seed: int = 0) -> None:
    """Run every leaf of ``graph`` for ``steps`` steps and check that every objective of its chain
    can be read or evaluated, with the right shape, reproducibly. Raises a one-line LeafError,
    ObjectiveError or GraphError naming the fix; returns None when the graph is ready to run.

    Example:
        >>> import numpy as np
        >>> from hierarchy import DelegationGraph, Objective, OptimizerNode, Trajectory
        >>> class Halving:
        ...     records = ("G",)
        ...     def run(self, steps, seed, progress=None):
        ...         return Trajectory({"G": [0.5 ** np.arange(steps + 1)]})
        >>> g = DelegationGraph.chain(OptimizerNode("human", Objective("L")),
        ...                           OptimizerNode("gd", Objective("G"), leaf=Halving()))
        >>> check_graph(g)
        Traceback (most recent call last):
        ...
        hierarchy.errors.ObjectiveError: objective 'L' is neither recorded by leaf Halving (it records ['G']) nor evaluated on states; give it an evaluate function or record it in the leaf
    """
    for name in graph.run_order:
        chain = graph.chain_to(name)
        leaf = graph.node(name).leaf
        if isinstance(leaf, Produced):  # built from a short run of its producer
            producer = graph.node(leaf.producer).leaf
            product = producer.run(steps, named_seed(seed, leaf.producer)).product
            leaf = build_produced(name, leaf, product)
        check_leaf(leaf, [graph.node(n).objective for n in chain], steps=steps, seed=seed)
