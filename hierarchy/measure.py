"""Turn chain runs into figures: capabilities per objective, alignments per edge, product checks."""

from __future__ import annotations

import attrs
import numpy as np

from .alignment import Normalization, alignment, normalized_alignment
from .errors import NotFoundError, ParameterError
from .capability import capability
from .delegation import delegation_product
from .estimator import Estimator
from .figures import AlignmentFigure, CapabilityFigure, ProductFigure, Spread
from .graph import DelegationGraph

__all__ = ["Measurements", "measure", "measure_chain", "reference_normalization"]


@attrs.frozen
class Measurements:
    """Every figure of a set of chain runs, under one estimator (as :func:`measure` returns).

    Parameters
    ----------
    estimator : Estimator
        The capability estimator of every figure.
    capabilities : tuple of CapabilityFigure
        C per chain and objective (Definition 1).
    alignments : tuple of AlignmentFigure
        alpha per edge of each chain (Definition 2).
    products : tuple of ProductFigure
        One delegation-product check per chain.

    Examples
    --------
    >>> m = Measurements(Estimator("finite"), (), (), ())
    >>> m.capabilities, str(m.estimator)
    ((), 'finite (mean over all T values)')
    """

    estimator: Estimator
    capabilities: tuple
    alignments: tuple
    products: tuple

    def capability(self, chain: str, objective: str) -> CapabilityFigure:
        """The figure C(objective) on the chain ending at ``chain`` (Definition 1).

        Parameters
        ----------
        chain : str
            The chain's leaf.
        objective : str
            The objective's name.

        Returns
        -------
        CapabilityFigure

        Raises
        ------
        NotFoundError
            When no such figure exists; the message lists the (chain, objective) pairs that do.

        Examples
        --------
        >>> Measurements(Estimator(), (), (), ()).capability("A", "L")
        Traceback (most recent call last):
        ...
        hierarchy.errors.NotFoundError: no capability of 'L' on chain 'A'; the figures are: none
        """
        for f in self.capabilities:
            if f.chain == chain and f.objective == objective:
                return f
        have = ", ".join(f"{f.objective}@{f.chain}" for f in self.capabilities) or "none"
        raise NotFoundError(f"no capability of {objective!r} on chain {chain!r}; the figures are: {have}")

    def alignment(self, parent: str, child: str, chain: str = None) -> AlignmentFigure:
        """The alignment figure of the edge parent -> child (Definition 2).

        Parameters
        ----------
        parent, child : str
            The edge's ends.
        chain : str, optional
            The chain's leaf; an edge shared by several chains has one figure per chain.
            Default: the first chain through the edge.

        Returns
        -------
        AlignmentFigure

        Raises
        ------
        NotFoundError
            When no such figure exists; the message lists the edges (and chains) that have one.

        Examples
        --------
        >>> Measurements(Estimator(), (), (), ()).alignment("human", "A")
        Traceback (most recent call last):
        ...
        hierarchy.errors.NotFoundError: no alignment figure for 'human' -> 'A'; the figures are: none
        """
        for f in self.alignments:
            if f.parent == parent and f.child == child and (chain is None or f.chain == chain):
                return f
        have = ", ".join(f"{f.parent} -> {f.child}@{f.chain}" for f in self.alignments) or "none"
        where = "" if chain is None else f" on chain {chain!r}"
        raise NotFoundError(f"no alignment figure for {parent!r} -> {child!r}{where}; the figures are: {have}")


def reference_normalization(reference_run, base: str, mesa: str, fallback_run=None):
    """The shared scale for the normalized alignment of an edge (base, mesa): the reference
    run's best improvement of both objectives, or, where the reference lacks either
    objective or does not improve it, ``fallback_run``'s (named so). None if neither works.

    s_base = median over finite copies of L_base(0) - min_t L_base(t), and likewise s_mesa
    (:class:`~hierarchy.alignment.Normalization`).

    Parameters
    ----------
    reference_run : ChainRun or None
        The run whose improvements set the scale.
    base, mesa : str
        The names of the edge's base and mesa-objective.
    fallback_run : ChainRun, optional
        The run used where the reference cannot give a scale (usually the measured chain).

    Returns
    -------
    Normalization or None

    Examples
    --------
    >>> import numpy as np
    >>> from hierarchy.graph import OptimizerNode
    >>> from hierarchy.objective import Objective
    >>> from hierarchy.run import run_graph
    >>> from hierarchy.trajectory import Trajectory
    >>> class Halving:
    ...     records = ("L", "G")
    ...     def run(self, steps, seed, progress=None):
    ...         g = 0.5 ** np.arange(steps + 1)
    ...         return Trajectory({"G": [g], "L": [2 * g + 1]})
    >>> g = DelegationGraph.chain(OptimizerNode("human", Objective("L")),
    ...                           OptimizerNode("gd", Objective("G"), leaf=Halving()))
    >>> runs = run_graph(g, steps=50)
    >>> round(reference_normalization(runs["gd"], "L", "G").scale_base, 6)
    2.0
    >>> reference_normalization(runs["gd"], "L", "D") is None
    True
    """
    for run, label in ((reference_run, None), (fallback_run, "own chain")):
        if run is None:
            continue
        tr = run.trajectory
        if base not in tr.values or mesa not in tr.values:
            continue
        ok = tr.ok
        name = run.chain[-1] if label is None else f"{run.chain[-1]} (own chain: the reference lacks these objectives)"
        try:
            return Normalization.of(name, tr[base][ok], tr[mesa][ok])
        except ParameterError:
            continue
    return None


def measure_chain(graph: DelegationGraph, run, estimator: Estimator = Estimator(), reference=None):
    """Figures of one chain run: C for every objective recorded or evaluated, alpha for every
    edge, and the delegation product check (Definitions 1 and 2, delegation product).

    ``reference`` is the run (a ChainRun) whose improvements scale the normalized alignment
    (:class:`~hierarchy.alignment.Normalization`); default: this run itself.

    Parameters
    ----------
    graph : DelegationGraph
        The graph that ran.
    run : ChainRun
        One chain's run.
    estimator : Estimator, optional
        The capability estimator of every figure.
    reference : ChainRun, optional
        The run that scales the normalized alignment.

    Returns
    -------
    (capabilities, alignments, products) : (list, list, list)
        Of :class:`~hierarchy.figures.CapabilityFigure`,
        :class:`~hierarchy.figures.AlignmentFigure` and
        :class:`~hierarchy.figures.ProductFigure`.

    Examples
    --------
    >>> import numpy as np
    >>> from hierarchy.graph import OptimizerNode
    >>> from hierarchy.objective import Objective
    >>> from hierarchy.run import run_graph
    >>> from hierarchy.trajectory import Trajectory
    >>> class Halving:
    ...     records = ("L", "G")
    ...     def run(self, steps, seed, progress=None):
    ...         g = 0.5 ** np.arange(steps + 1)
    ...         return Trajectory({"G": [g], "L": [2 * g + 1]})
    >>> g = DelegationGraph.chain(OptimizerNode("human", Objective("L")),
    ...                           OptimizerNode("gd", Objective("G"), leaf=Halving()))
    >>> runs = run_graph(g, steps=50)
    >>> caps, aligns, prods = measure_chain(g, runs["gd"], Estimator("finite"))
    >>> [c.objective for c in caps], aligns[0].alignment.median, prods[0].discrepancy
    (['G', 'L'], 2.0, 0.0)
    """
    chain = run.chain
    leaf = chain[-1]
    tr = run.trajectory
    ok = tr.ok
    holders, bound = {}, {}
    for name in chain:
        o = graph.node(name).objective
        holders.setdefault(o.name, []).append(name)
        bound.setdefault(o.name, o.lower_bound)
    caps = []
    for obj, values in tr.values.items():
        est = capability(values, estimator, bound.get(obj))
        v = np.where(ok, est.value, np.nan)
        conv = float(np.mean(est.converged[ok])) if ok.any() else 0.0
        caps.append(CapabilityFigure(leaf, obj, tuple(holders.get(obj, ())),
                                     Spread.of(v, np.where(ok, est.error, np.nan)), conv,
                                     Spread.of(np.where(ok, est.drift, np.nan))))
    aligns = []
    for parent, child in zip(chain[:-1], chain[1:]):
        ob, om = graph.node(parent).objective.name, graph.node(child).objective.name
        a = alignment(tr[ob], tr[om], estimator, bounds=(bound.get(ob), bound.get(om)))
        val = np.where(ok, a.value, np.nan)
        norm = reference_normalization(reference if reference is not None else run, ob, om, run)
        if norm is None:
            nspread, ntext = Spread.of(np.full(val.shape, np.nan)), "undefined: no run improves both objectives"
        else:
            n = normalized_alignment(tr[ob], tr[om], norm, estimator, bounds=(bound.get(ob), bound.get(om)))
            nspread, ntext = Spread.of(np.where(ok, n.value, np.nan), np.where(ok, n.error, np.nan)), norm.describe()
        aligns.append(AlignmentFigure(leaf, parent, child, ob, om, Spread.of(val, np.where(ok, a.error, np.nan)),
                                      nspread, float(np.mean(a.defined & ok)), ntext))
    products = []
    if len(chain) >= 2:
        check = delegation_product([tr[graph.node(n).objective.name] for n in chain], chain, estimator)
        disc = np.where(ok, check.discrepancy, np.nan)
        worst = float(np.nanmax(disc)) if np.isfinite(disc).any() else float("nan")
        products.append(ProductFigure(chain, Spread.of(np.where(ok, check.direct, np.nan)),
                                      Spread.of(np.where(ok, check.product, np.nan)), worst))
    return caps, aligns, products


def measure(graph: DelegationGraph, runs: dict, estimator: Estimator = Estimator(), reference: str = None) -> Measurements:
    """Figures of every chain run in ``runs`` ({leaf: ChainRun}), in the graph's leaf order.

    ``reference`` names the leaf whose run scales every normalized alignment (one shared
    scale, so normalized figures compare across chains; default: the first leaf run); each
    alignment figure names its reference in ``normalization``.

    Parameters
    ----------
    graph : DelegationGraph
        The graph that ran.
    runs : dict
        {leaf: ChainRun}, as :func:`~hierarchy.run.run_graph` returns.
    estimator : Estimator, optional
        The capability estimator (Definition 1) of every figure.
    reference : str, optional
        The leaf whose run scales every normalized alignment.

    Returns
    -------
    Measurements
        Capabilities per chain and objective, alignments per edge of each chain, one
        delegation-product check per chain.

    Raises
    ------
    ParameterError
        When ``reference`` is not a leaf that ran.

    Examples
    --------
    >>> import numpy as np
    >>> from hierarchy.graph import OptimizerNode
    >>> from hierarchy.objective import Objective
    >>> from hierarchy.run import run_graph
    >>> from hierarchy.trajectory import Trajectory
    >>> class Halving:
    ...     records = ("L", "G")
    ...     def run(self, steps, seed, progress=None):
    ...         g = 0.5 ** np.arange(steps + 1)
    ...         return Trajectory({"G": [g], "L": [2 * g + 1]})
    >>> g = DelegationGraph.chain(OptimizerNode("human", Objective("L")),
    ...                           OptimizerNode("gd", Objective("G"), leaf=Halving()))
    >>> m = measure(g, run_graph(g, steps=50), Estimator("finite"))
    >>> m.alignment("human", "gd").alignment.median
    2.0
    """
    caps, aligns, prods = [], [], []
    present = [leaf for leaf in graph.leaves if leaf in runs]
    if reference is not None and reference not in runs:
        raise ParameterError(f"normalization reference {reference!r} is not a leaf that ran; choose one of "
                             f"{', '.join(present)}")
    ref = runs[reference if reference is not None else present[0]] if present else None
    for leaf in present:
        c, a, p = measure_chain(graph, runs[leaf], estimator, ref)
        caps += c
        aligns += a
        prods += p
    return Measurements(estimator, tuple(caps), tuple(aligns), tuple(prods))
