"""Production: a base optimizer produces a mesa-optimizer, as a relation in the delegation graph.

Gradient descent trains a planner; Adam trains an in-context learner. The trained artifact
is then an optimizer in its own right, with its own objective, its own steps (moves, not
gradient steps) and its own chain of delegation. mesastack models this with a node whose
leaf is :class:`Produced`: "the leaf of this node is built from the **product** of the run
of node ``producer``". The producer's leaf returns its trajectory with the trained
artifact attached (``Trajectory(..., product=artifact)``); the graph runs the producer's
chain first, builds the produced leaf from the product, then runs that chain like any
other. Every figure of both chains is measured by the same code path, and the relation
is exported with the graph as an edge of kind ``produces`` (delegation edges are of kind
``delegates``).

Example: designer -> trainer -> gradient-descent (trains a reward network), and
designer -> planner whose leaf is ``Produced("gradient-descent", build=deploy)``.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import attrs

from .errors import GraphError, LeafError
from .protocol import Leaf

__all__ = ["Produced", "build_produced"]


def _check_producer(instance, attribute, value):
    if not isinstance(value, str) or not value:
        raise GraphError(f"Produced(producer={value!r}): name the node whose run produces this leaf")


def _check_steps(instance, attribute, value):
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise GraphError(f"Produced(steps={value!r}): give a positive number of the produced leaf's own steps, "
                         f"or None to use the run's")


@attrs.frozen
class Produced:
    """The leaf of a node that another node's run produces.

    Parameters
    ----------
    producer : str
        The node whose leaf's run returns the product (``Trajectory.product``).
    build : callable
        ``build(product) -> Leaf``: the optimizer that runs, made from the product.
    records : tuple of str
        What the built leaf records (checked against the chain's objectives before any
        run, like any leaf's ``records``).
    steps : int, optional
        The produced leaf's own number of steps (its own time axis); None: the run's.
    step_unit : str
        What one of its steps is ("move", "application of the trained layer", ...).
    description : str

    Examples
    --------
    >>> p = Produced("gd", build=lambda product: product, records=("L",), steps=20, step_unit="move")
    >>> p.producer, p.steps, p.step_unit
    ('gd', 20, 'move')
    """

    producer: str = attrs.field(validator=_check_producer)
    build: Callable[[Any], Any] = attrs.field(eq=False)
    records: tuple = attrs.field(default=(), converter=tuple)
    steps: Optional[int] = attrs.field(default=None, validator=_check_steps)
    step_unit: str = "step"
    description: str = ""


def build_produced(name: str, produced: Produced, product: Any):
    """The leaf of node ``name``, built from the producer's ``product``.

    Raises
    ------
    LeafError
        If the producer returned no product, or ``build`` does not return a leaf.
    """
    if product is None:
        raise LeafError(f"node {name!r} is produced by {produced.producer!r}, whose run returned no product; "
                        f"the producer's leaf must return Trajectory(..., product=<the trained artifact>)")
    try:
        leaf = produced.build(product)
    except Exception as exc:  # the user's build function: name the node
        raise LeafError(f"building the leaf of {name!r} from {produced.producer!r}'s product failed: "
                        f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(leaf, Leaf):
        raise LeafError(f"Produced.build for {name!r} returned {type(leaf).__name__}, which cannot step; it must "
                        f"return a leaf (a 'records' tuple and run(steps, seed, progress=None))")
    return leaf
