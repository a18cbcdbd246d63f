"""Running a delegation graph: one run per chain, every ancestor's objective on the leaf's states.

Seeds: one scenario seed; each node draws from ``SeedSequence(seed, spawn_key=(k,))``
with ``k`` derived from the node's name, so adding a sibling never changes another
node's numbers. The leaf spawns per copy from the sequence it is given.
"""

from __future__ import annotations

from typing import Callable, Optional

import attrs
import numpy as np

from .errors import GraphError, LeafError, MesastackError, ObjectiveError, ParameterError
from .graph import DelegationGraph
from .product import Produced, build_produced
from .trajectory import Trajectory
from .seeding import named_seed

__all__ = ["ChainRun", "evaluate_chain_objectives", "leaf_steps", "run_chain", "run_graph"]


@attrs.frozen(eq=False)
class ChainRun:
    """One chain's run: the leaf's trajectory with every chain node's objective in it.

    Parameters
    ----------
    chain : tuple of str
        The chain's node names, root first, the leaf last.
    trajectory : Trajectory
        The leaf's trajectory, with every chain node's objective ``[K, T]``.

    Examples
    --------
    >>> r = ChainRun(("human", "gd"), Trajectory({"G": [[1.0, 0.5]]}))
    >>> r.leaf, r.trajectory.T
    ('gd', 2)
    """

    chain: tuple
    trajectory: Trajectory

    @property
    def leaf(self) -> str:
        """The chain's leaf (the node that ran).

        Returns
        -------
        str
            The last name of ``chain``.

        Examples
        --------
        >>> ChainRun(("human", "gd"), Trajectory({"G": [[1.0]]})).leaf
        'gd'
        """
        return self.chain[-1]


def evaluate_chain_objectives(graph: DelegationGraph, chain: tuple, trajectory: Trajectory) -> Trajectory:
    """Add to ``trajectory`` the values of every chain node's objective that the leaf does not record.

    An objective the leaf records is read as is; an evaluated one is computed on the
    leaf's states; any other is an ObjectiveError naming the fix.

    Parameters
    ----------
    graph : DelegationGraph
        The graph the chain belongs to.
    chain : tuple of str
        Node names, root first, the leaf last.
    trajectory : Trajectory
        The leaf's trajectory.

    Returns
    -------
    Trajectory
        ``trajectory`` itself when nothing is missing, else a copy with the evaluated
        objectives added (NaN from each copy's divergence step on).

    Raises
    ------
    ObjectiveError
        When a chain node's objective is recorded-only and the leaf does not record it, or is
        evaluated on states and the trajectory has none.
    GraphError
        When ``chain`` names a node the graph does not have.

    Examples
    --------
    >>> import numpy as np
    >>> from hierarchy.graph import OptimizerNode
    >>> from hierarchy.objective import Objective
    >>> class Steps:
    ...     records = ("G",)
    ...     def run(self, steps, seed, progress=None): ...
    >>> g = DelegationGraph.chain(
    ...     OptimizerNode("human", Objective("S", evaluate=lambda s: 2 * s[..., 0])),
    ...     OptimizerNode("gd", Objective("G"), leaf=Steps()))
    >>> tr = Trajectory({"G": [[1.0, 0.5]]}, states=np.array([[[1.0], [0.5]]]))
    >>> evaluate_chain_objectives(g, ("human", "gd"), tr)["S"].tolist()
    [[2.0, 1.0]]
    """
    extra = {}
    leaf = chain[-1]
    for name in chain:
        obj = graph.node(name).objective
        if obj.name in trajectory.values or obj.name in extra:
            continue
        if obj.recorded:
            raise ObjectiveError(
                f"objective {obj.name!r} of node {name!r} is not recorded by leaf {leaf!r} "
                f"(it records {sorted(trajectory.values)}); give the objective an evaluate function or pick a recorded one"
            )
        if trajectory.states is None:
            raise ObjectiveError(
                f"objective {obj.name!r} of node {name!r} is evaluated on states, but leaf {leaf!r} exposes none; "
                f"use a leaf that returns states or an objective it records"
            )
        values = obj(trajectory.states)
        values[~_alive(trajectory)] = np.nan
        extra[obj.name] = values
    return trajectory.with_values(**extra) if extra else trajectory


def _alive(tr: Trajectory) -> np.ndarray:
    t = np.arange(tr.T)[None, :]
    d = tr.diverged_at[:, None]
    return (d < 0) | (t < d)


def leaf_steps(leaf, steps: int) -> int:
    """The steps ``leaf`` runs: its own ``own_steps`` when it moves on its own time axis (a
    replayed run, a deployment counted in moves), else the run's ``steps``.

    Parameters
    ----------
    leaf : object
        A leaf optimizer; its ``own_steps`` counts when it is an integer >= 1 (not a bool).
    steps : int
        The run's steps.

    Returns
    -------
    int
        ``int(leaf.own_steps)`` when usable, else ``steps``.

    Examples
    --------
    >>> class Replay:
    ...     own_steps = 50
    >>> leaf_steps(Replay(), 40), leaf_steps(object(), 40)
    (50, 40)
    """
    own = getattr(leaf, "own_steps", None)
    return int(own) if isinstance(own, (int, np.integer)) and not isinstance(own, bool) and own >= 1 else steps


def run_chain(graph: DelegationGraph, leaf: str, steps: int, seed: int = 0,
              progress: Optional[Callable[[int], None]] = None, runs: Optional[dict] = None) -> ChainRun:
    """Run the leaf of one chain and evaluate every objective of the chain on its states.

    A leaf that is :class:`~hierarchy.product.Produced` is first built from its producer's
    product, found in ``runs`` ({leaf: ChainRun} of the chains already run), and runs its
    own ``steps`` when it states them.

    Parameters
    ----------
    graph : DelegationGraph
        The graph to run in.
    leaf : str
        The leaf node whose chain runs.
    steps : int
        Steps of the run (a leaf's own ``own_steps`` or a Produced leaf's ``steps`` win).
    seed : int, optional
        The scenario seed; the leaf draws from ``named_seed(seed, leaf)``.
    progress : callable, optional
        ``progress(step)`` callback passed to the leaf's ``run``.
    runs : dict, optional
        {leaf: ChainRun} of the chains already run (the producers of a Produced leaf).

    Returns
    -------
    ChainRun
        The chain and the leaf's trajectory with every chain node's objective.

    Raises
    ------
    ParameterError
        When ``steps`` is not a positive integer (a bool is not one).
    GraphError
        When the graph has no node ``leaf``, or a Produced leaf's producer is not in ``runs``.
    LeafError
        When the leaf's run raised (named, with its exception as the cause), a Produced leaf
        cannot be built, or the trajectory holds other than ``steps + 1`` values per copy.
    ObjectiveError
        When the leaf returned no Trajectory, or a chain objective is neither recorded
        nor evaluable on the states.

    Examples
    --------
    >>> import numpy as np
    >>> from hierarchy.graph import OptimizerNode
    >>> from hierarchy.objective import Objective
    >>> class Halving:
    ...     records = ("G",)
    ...     def run(self, steps, seed, progress=None):
    ...         g = 0.5 ** np.arange(steps + 1)
    ...         return Trajectory({"G": [g]}, states=g[None, :, None])
    >>> g = DelegationGraph.chain(
    ...     OptimizerNode("human", Objective("S", evaluate=lambda s: 3 * s[..., 0])),
    ...     OptimizerNode("gd", Objective("G"), leaf=Halving()))
    >>> run_chain(g, "gd", steps=2).trajectory["S"].tolist()
    [[3.0, 1.5, 0.75]]
    """
    _check_steps(steps)
    chain = graph.chain_to(leaf)
    optimizer = graph.node(leaf).leaf
    if isinstance(optimizer, Produced):
        done = runs or {}
        if optimizer.producer not in done:
            raise GraphError(f"node {leaf!r} is produced by {optimizer.producer!r}, which has not run yet; run the "
                             f"graph with run_graph (producers run first)")
        steps = optimizer.steps or steps
        optimizer = build_produced(leaf, optimizer, done[optimizer.producer].trajectory.product)
    steps = leaf_steps(optimizer, steps)
    try:
        tr = optimizer.run(int(steps), named_seed(seed, leaf), progress)
    except (MesastackError, KeyboardInterrupt):
        raise
    except Exception as exc:  # a user's leaf that fails: named, with its own exception as the cause
        raise LeafError(f"leaf {leaf!r} failed to run {int(steps)} steps: {type(exc).__name__}: {_first_line(exc)}; "
                        f"fix its run method (hierarchy.check_leaf runs it on a short run)") from exc
    if not isinstance(tr, Trajectory):
        raise ObjectiveError(f"leaf {leaf!r} returned {type(tr).__name__}, not a Trajectory; check it with hierarchy.check_leaf")
    if tr.T != int(steps) + 1:
        raise LeafError(f"leaf {leaf!r} returned {tr.T} values per copy for {int(steps)} steps; record the start and "
                        f"every step ({int(steps) + 1} values)")
    return ChainRun(chain, evaluate_chain_objectives(graph, chain, tr))


def _check_steps(steps) -> None:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ParameterError(f"steps={steps!r} must be a positive integer; run at least one step", parameter="steps")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"


def run_graph(graph: DelegationGraph, steps: int, seed: int = 0,
              progress_factory: Optional[Callable[[str, int], Callable[[int], None]]] = None) -> dict:
    """Run every chain of ``graph`` (siblings separately, producers before what they produce);
    returns {leaf name: ChainRun} in the graph's leaf order.

    ``progress_factory(leaf, steps)`` returns a progress callback for that leaf's run (a
    progress bar), or None.

    Parameters
    ----------
    graph : DelegationGraph
        The graph to run.
    steps : int
        Steps of each leaf run (a :class:`~hierarchy.product.Produced` leaf that states its
        own ``steps`` runs those).
    seed : int, optional
        The one scenario seed; each leaf draws from ``named_seed(seed, leaf)``.
    progress_factory : callable, optional
        ``progress_factory(leaf, steps)`` returns a progress callback for that leaf's run (a
        progress bar), or None.

    Returns
    -------
    dict
        {leaf name: ChainRun} in the graph's leaf order; ``ChainRun.trajectory`` holds
        every chain node's objective ``[K, T]``.

    Raises
    ------
    ParameterError
        When ``steps`` is not a positive integer (a bool is not one).
    ObjectiveError
        When a chain's objective is neither recorded by its leaf nor evaluable on its states.
    LeafError
        When a producer's run returned no product, a leaf's run raised (named, with its
        exception as the cause), or a leaf returned other than ``steps + 1`` values per copy.

    Examples
    --------
    >>> import numpy as np
    >>> from hierarchy.graph import OptimizerNode
    >>> from hierarchy.objective import Objective
    >>> class Halving:
    ...     records = ("G",)
    ...     def run(self, steps, seed, progress=None):
    ...         return Trajectory({"G": [0.5 ** np.arange(steps + 1)]})
    >>> g = DelegationGraph([OptimizerNode("human", Objective("G")), OptimizerNode("a", Objective("G"), leaf=Halving()),
    ...                      OptimizerNode("b", Objective("G"), leaf=Halving())], [("human", "a"), ("human", "b")])
    >>> runs = run_graph(g, steps=2)
    >>> list(runs), runs["a"].chain, runs["a"].trajectory["G"].tolist()
    (['a', 'b'], ('human', 'a'), [[1.0, 0.5, 0.25]])
    """
    _check_steps(steps)
    runs = {}
    for leaf in graph.run_order:
        spec = graph.node(leaf).leaf
        n = (spec.steps or steps) if isinstance(spec, Produced) else steps
        progress = progress_factory(leaf, n) if progress_factory else None
        runs[leaf] = run_chain(graph, leaf, steps, seed, progress, runs)
    return {leaf: runs[leaf] for leaf in graph.leaves}
