"""Build-your-own hierarchies: run any delegation graph and get the same report, table and files
as a built-in scenario.

Example (see README for a complete one):

    >>> import numpy as np
    >>> from hierarchy import DelegationGraph, Objective, OptimizerNode, Trajectory
    >>> class Halving:
    ...     records = ("G", "L")
    ...     def run(self, steps, seed, progress=None):
    ...         g = 0.5 ** np.arange(steps + 1)
    ...         return Trajectory({"G": [g], "L": [3 * g + 1]})
    >>> graph = DelegationGraph.chain(OptimizerNode("human", Objective("L")),
    ...                               OptimizerNode("gd", Objective("G"), leaf=Halving()))
    >>> result = run_hierarchy(graph, steps=20, progress=False)
    >>> round(result.report.measurements.alignment("human", "gd").alignment.median, 6)
    3.0
"""

from __future__ import annotations

from typing import Iterable, Optional

import attrs

from hierarchy.check import check_graph
from hierarchy.estimator import Estimator
from hierarchy.graph import DelegationGraph
from hierarchy.measure import measure
from hierarchy.report import Claim, build_report
from hierarchy.run import node_seed

from .progress import run_graph_with_progress
from .registry import RunOptions, ScenarioResult
from .strong import strong_alignment


def trajectory_arrays(runs: dict) -> dict:
    """The raw arrays of every chain run, keyed ``<leaf>/<objective>`` (each [K, T])."""
    return {f"{leaf}/{obj}": v for leaf, r in runs.items() for obj, v in r.trajectory.values.items()}


def objective_plots(graph: DelegationGraph, runs: dict, title: str) -> dict:
    """One PNG with a panel per objective of the graph, a line (and IQR band) per chain."""
    from .plots import plot_objectives

    objectives = list(dict.fromkeys(graph.node(n).objective.name for n in graph.names))
    series = {leaf: {o: r.trajectory[o] for o in objectives if o in r.trajectory.values} for leaf, r in runs.items()}
    return {"objectives.png": lambda path: plot_objectives(path, series, objectives, title=title)}


def run_hierarchy(graph: DelegationGraph, steps: int, seed: int = 0, estimator: Estimator = Estimator(), *,
                  name: str = "custom", claims: Iterable = (), horizon: Optional[int] = None,
                  progress: bool = True, check: bool = True, max_discrepancy: float = 1e-9) -> ScenarioResult:
    """Check ``graph``, run every chain for ``steps`` steps, measure, and return a ScenarioResult.

    ``claims`` may hold ready Claims or functions ``measurements -> Claim`` that decide a
    claim from the measured figures. The delegation-product check of every chain is added
    as a claim. ``result.write(out)`` writes the same files as ``mesastack run``.
    """
    options = RunOptions(seed=seed, steps=steps, estimator=estimator, horizon=horizon, progress=progress)
    if check:
        check_graph(graph, seed=seed)
    runs = run_graph_with_progress(graph, steps, options)
    m = measure(graph, runs, estimator)
    decided = [c if isinstance(c, Claim) else c(m) for c in claims]
    decided.append(Claim.check(
        "delegation product: C_root = (product of alignments) * C_leaf on every chain",
        {f"discrepancy {' -> '.join(p.chain)}": p.discrepancy for p in m.products} | {"bound": max_discrepancy},
        lambda n: all(v < max_discrepancy for k, v in n.items() if k != "bound"),
        rule=f"relative discrepancy < {max_discrepancy:g}"))
    tables = [strong_alignment(runs, graph.node(graph.roots[0]).objective.name, horizon, graph)] if horizon else []
    report = build_report(name, graph, runs, estimator, seed=seed, steps=steps, claims=decided, tables=tables,
                          choices={"estimator": str(estimator)}, measurements=m)
    return ScenarioResult(report, graph, trajectory_arrays(runs), objective_plots(graph, runs, name))
