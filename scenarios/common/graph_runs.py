"""Running graphs whose leaves have their own time axes, and graphs built from runs already made.

Every run of a scenario goes through ``hierarchy.run.run_graph``. Two shapes need a helper:

* :func:`run_leaves`: leaves that are not produced by another node but each move on their
  own axis (the replicator's deployments on mazes of three sizes, 2 x cells divisions
  each): each chain runs as its own graph through ``run_graph`` with its own steps; the
  node seeds come from the node names, so the numbers are those of one joint run.
* :class:`RecordedRun`: a leaf that replays a trajectory already run (compare-definitions
  unites every example's graph under prefixed names and measures the union through
  ``run_graph`` without running the examples again).
"""

from __future__ import annotations

import attrs

from hierarchy.graph import DelegationGraph
from hierarchy.product import Produced
from hierarchy.run import run_graph
from hierarchy.trajectory import Trajectory

__all__ = ["run_leaves", "RecordedRun", "recorded_leaf", "prefixed_graph"]


def run_leaves(graph: DelegationGraph, steps: dict, seed: int = 0) -> dict:
    """``{leaf: ChainRun}``: each leaf's chain run through ``run_graph`` for ``steps[leaf]`` steps.

    Example:
        >>> import numpy as np
        >>> from hierarchy.graph import OptimizerNode
        >>> from hierarchy.objective import Objective
        >>> class Count:
        ...     records, deterministic = ("L",), True
        ...     def run(self, steps, seed, progress=None):
        ...         return Trajectory({"L": [np.arange(steps + 1.0)]})
        >>> g = DelegationGraph([OptimizerNode("d", Objective("L")), OptimizerNode("a", Objective("L"), leaf=Count()),
        ...                      OptimizerNode("b", Objective("L"), leaf=Count())], [("d", "a"), ("d", "b")])
        >>> {k: r.trajectory.T for k, r in run_leaves(g, {"a": 2, "b": 5}).items()}
        {'a': 3, 'b': 6}
    """
    runs = {}
    for leaf in graph.leaves:
        chain = graph.chain_to(leaf)
        one = DelegationGraph([graph.node(n) for n in chain], list(zip(chain[:-1], chain[1:])))
        runs[leaf] = run_graph(one, int(steps[leaf]), seed)[leaf]
    return runs


@attrs.frozen(eq=False)
class RecordedRun:
    """A leaf that returns a trajectory already run (whatever ``steps`` and ``seed`` it is given).

    ``records``: the trajectory's objectives; ``step_unit``: that of the leaf that ran it.
    """

    trajectory: Trajectory
    step_unit: str = "step"
    deterministic = True

    @property
    def records(self) -> tuple:
        return tuple(self.trajectory.values)

    @property
    def own_steps(self) -> int:
        """The replayed run's own number of steps (its time axis, not the graph run's)."""
        return self.trajectory.T - 1

    def run(self, steps, seed, progress=None) -> Trajectory:
        return self.trajectory


def recorded_leaf(leaf, trajectory: Trajectory, prefix: str = ""):
    """The leaf of a node whose run is ``trajectory``: a :class:`RecordedRun`, or, for a produced
    leaf, a ``Produced`` from the prefixed producer that builds one (the relation is kept)."""
    unit = getattr(leaf, "step_unit", "step")
    if isinstance(leaf, Produced):
        return attrs.evolve(leaf, producer=prefix + leaf.producer, build=lambda product: RecordedRun(trajectory, unit),
                            records=tuple(trajectory.values), steps=trajectory.T - 1)
    return RecordedRun(trajectory, unit)


def prefixed_graph(graph: DelegationGraph, runs: dict, prefix: str) -> tuple:
    """``(nodes, edges)`` of ``graph`` under ``prefix + name``, every leaf replaying its run in ``runs``."""
    nodes = []
    for n in graph.names:
        node = graph.node(n)
        leaf = recorded_leaf(node.leaf, runs[n].trajectory, prefix) if n in runs else node.leaf
        nodes.append(attrs.evolve(node, name=prefix + n, leaf=leaf))
    return nodes, [(prefix + a, prefix + b) for a, b in graph.edges]
