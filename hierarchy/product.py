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
from .validators import check

__all__ = ["Produced", "build_produced"]


_check_producer = check(lambda v: isinstance(v, str) and v != "", "a node name",
                        "name the node whose run produces this leaf", error=GraphError)
_check_steps = attrs.validators.optional(check(
    lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "a positive integer",
    "give the produced leaf's own number of steps, or None to use the run's", error=GraphError))


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

    Calls ``produced.build(product)`` and checks that the result can step (a
    :class:`~hierarchy.protocol.Leaf`): "the base optimizer produces a mesa-optimizer" as a
    relation of the graph.

    Parameters
    ----------
    name : str
        The produced node (named in errors).
    produced : Produced
        Its leaf's recipe.
    product : object
        The producer's trained artifact (its run's ``Trajectory.product``).

    Returns
    -------
    Leaf
        The leaf that runs for node ``name``.

    Raises
    ------
    LeafError
        If the producer returned no product, ``build`` fails, or ``build`` does not return a
        leaf.

    Examples
    --------
    >>> import numpy as np
    >>> from hierarchy.trajectory import Trajectory
    >>> class Const:
    ...     records = ("L",)
    ...     def run(self, steps, seed, progress=None):
    ...         return Trajectory({"L": np.zeros((1, steps))})
    >>> leaf = build_produced("m", Produced("gd", build=lambda theta: Const(), records=("L",)), product=1.0)
    >>> leaf.records
    ('L',)
    >>> build_produced("m", Produced("gd", build=lambda theta: Const()), product=None)
    Traceback (most recent call last):
    ...
    hierarchy.errors.LeafError: node 'm' is produced by 'gd', whose run returned no product; the producer's leaf must return Trajectory(..., product=<the trained artifact>)
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
