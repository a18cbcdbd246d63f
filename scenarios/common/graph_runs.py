"""Graphs built from runs already made.

Every run of a scenario goes through ``hierarchy.run.run_graph`` (a leaf on its own time
axis declares ``own_steps``). :class:`RecordedRun` is a leaf that replays a trajectory
already run: compare-definitions unites every example's graph under prefixed names and
measures the union through ``run_graph`` without running the examples again.
"""

from __future__ import annotations

import attrs

from hierarchy.graph import DelegationGraph
from hierarchy.product import Produced
from hierarchy.trajectory import Trajectory

__all__ = ["RecordedRun", "recorded_leaf", "prefixed_graph"]


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
