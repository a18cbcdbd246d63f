"""Checking a user's graph before a real run (like Gymnasium's environment checker)."""

from __future__ import annotations

from .graph import DelegationGraph
from .product import Produced, build_produced
from .protocol import check_leaf
from .seeding import named_seed

__all__ = ["check_graph"]


def check_graph(graph: DelegationGraph, steps: int = 3, seed: int = 0) -> None:
    """Check every leaf of ``graph`` with :func:`~hierarchy.protocol.check_leaf` on a short run.

    Each leaf runs ``steps`` steps (twice from ``seed``, once from ``seed + 1``) and every
    objective of its chain must be read or evaluated with the right shape, reproducibly, and
    a different seed must change the run (unless the leaf declares ``deterministic = True``).
    A :class:`~hierarchy.product.Produced` leaf is first built from a short run of its
    producer.

    Parameters
    ----------
    graph : DelegationGraph
        The graph to check.
    steps : int, optional
        Steps of each short run (default 3).
    seed : int, optional
        The seed of the short runs (default 0).

    Returns
    -------
    None
        When the graph is ready to run.

    Raises
    ------
    LeafError
        A leaf that cannot step, returns a malformed trajectory, does not repeat its seed or
        ignores it; a producer whose run returned no product.
    ObjectiveError
        An objective of a chain that its leaf neither records nor can be evaluated on.

    Examples
    --------
    >>> import numpy as np
    >>> from hierarchy import DelegationGraph, Objective, OptimizerNode, Trajectory
    >>> class Halving:
    ...     records = ("G",)
    ...     deterministic = True
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
