"""Build-your-own hierarchies: run any delegation graph and get the same report, table and files
as a built-in scenario.

Example (see README for a complete one):

    >>> import numpy as np
    >>> from hierarchy import DelegationGraph, Objective, OptimizerNode, Trajectory
    >>> class Halving:
    ...     records = ("G", "L")
    ...     deterministic = True  # no randomness: the seed changes nothing
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

import math
from collections.abc import Iterable
from typing import Optional

import attrs

from hierarchy.check import check_graph
from hierarchy.errors import NotFoundError, ParameterError
from hierarchy.estimator import Estimator
from hierarchy.graph import DelegationGraph
from hierarchy.measure import measure
from hierarchy.perturbation import Family, changes_objective
from hierarchy.report import Claim, Table, build_report
from hierarchy.robustness import (alignment_generalization, alignment_robustness, capability_generalization,
                                  capability_robustness)

from scenarios.machinery.progress import run_graph_with_progress
from scenarios.machinery.registry import RunOptions, ScenarioResult
from scenarios.machinery.strong_alignment import with_strong_alignment
from hierarchy.seeding import named_seed


def trajectory_arrays(runs: dict) -> dict:
    """The raw arrays of every chain run, keyed ``<leaf>/<objective>`` (each [K, T])."""
    return {f"{leaf}/{obj}": v for leaf, r in runs.items() for obj, v in r.trajectory.values.items()}


def recorded_objectives(graph: DelegationGraph, runs: dict) -> list:
    """Every objective to plot: those the graph's nodes hold first (in node order), then every
    other objective a leaf recorded (e.g. G1, U), in the order the runs recorded them."""
    held = [graph.node(n).objective.name for n in graph.names]
    return list(dict.fromkeys(held + [o for r in runs.values() for o in r.trajectory.values]))


def objective_descriptions(graph: DelegationGraph) -> dict:
    """{objective name: its meaning}, from the graph's Objectives (the first description given wins)."""
    out = {}
    for n in graph.names:
        o = graph.node(n).objective
        if getattr(o, "description", "") and o.name not in out:
            out[o.name] = o.description
    return out


def capability_levels(measurements, runs: dict, objectives) -> dict:
    """{leaf: {objective: median C}} of every measured capability (Definition 1), for the plots' tail levels."""
    out = {}
    if measurements is None:
        return out
    for leaf in runs:
        for o in objectives:
            try:
                out.setdefault(leaf, {})[o] = float(measurements.capability(leaf, o).capability.median)
            except (LookupError, NotFoundError):
                continue
    return out


def objective_plots(graph: DelegationGraph, runs: dict, title: str, measurements=None,
                    estimator: Optional[Estimator] = None, descriptions: Optional[dict] = None,
                    notes=()) -> dict:
    """One PNG with a panel per recorded objective (those the graph's nodes hold and every other one a
    leaf recorded), titled with its meaning, a line (median) and labelled IQR band per chain, the
    estimator's tail window shaded and, with ``measurements``, each chain's tail mean X(0) - C;
    ``notes`` (e.g. the claims with their verdicts) are printed under the panels."""
    from scenarios.machinery.plots import plot_objectives

    objectives = recorded_objectives(graph, runs)
    series = {leaf: {o: r.trajectory[o] for o in objectives if o in r.trajectory.values} for leaf, r in runs.items()}
    desc = objective_descriptions(graph) | dict(descriptions or {})
    est = estimator if estimator is not None else getattr(measurements, "estimator", None)
    tail = est.tail if est is not None and est.kind == "limit" else None
    caps = capability_levels(measurements, runs, objectives) if tail is not None else {}
    return {"objectives.png": lambda path: plot_objectives(path, series, objectives, title=title, descriptions=desc,
                                                           tail=tail, capabilities=caps, notes=tuple(notes))}


def perturbed_graph(graph: DelegationGraph, perturbation, seed: int = 0) -> DelegationGraph:
    """The same graph with ``perturbation`` applied to every leaf optimizer's spec.

    A leaf that draws its start from its seed (``init`` None, ``initial_parameters``) first
    gets that start made explicit, drawn exactly as the unperturbed run draws it, so that a
    perturbation of the start (``InitNoise``) moves away from the same point. Nothing runs.

    Raises
    ------
    ParameterError
        When the perturbation does not apply to a leaf (its ``apply`` raises AttributeError,
        TypeError or ParameterError): one line naming the perturbation, the leaf and the fix.
    """
    def perturb(name):
        node = graph.node(name)
        if not node.is_leaf:
            return node
        leaf = node.leaf
        try:
            if getattr(leaf, "init", False) is None and hasattr(leaf, "initial_parameters"):
                leaf = attrs.evolve(leaf, init=leaf.initial_parameters(named_seed(seed, name)))
            return attrs.evolve(node, leaf=perturbation.apply(leaf))
        except (AttributeError, TypeError, ParameterError) as exc:
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if not isinstance(exc, ParameterError):
                why = f"{type(exc).__name__}: {why}; drop it from the family, or use a perturbation made for this leaf"
            raise ParameterError(f"perturbation {getattr(perturbation, 'name', perturbation)!r} does not apply to leaf "
                                 f"{name!r} ({type(node.leaf).__name__}): {why}", parameter="perturbations") from None

    return DelegationGraph([perturb(n) for n in graph.names], graph.edges)


def robustness_tables(graph: DelegationGraph, base, perturbed: dict, tolerance: float, family: Family) -> tuple:
    """Definitions 3 and 4 over a family: per chain, the root's capability and every edge's alignment,
    each member's relative change paired copy by copy, the worst case, spread and verdict.

    Returns ``([per-member table, summary table], summaries)``: the per-member table has one
    row per (figure, member) with typed numbers (the baseline's and the member's median over
    copies, the median over copies of the paired relative change |x' - x| / |x|, the share of
    copies where it is defined, whether it is within ``tolerance``); the summary table one row
    per figure and comparison (worst, worst member, median, range, verdict; numbers as floats);
    ``summaries`` the :class:`hierarchy.robustness.Robustness` of every row of the summary.
    """
    member_rows, rows, summaries = [], [], []
    for chain in graph.chains():
        leaf, root = chain[-1], chain[0]
        obj = graph.node(root).objective.name
        quantities = [(f"C({obj}) on {' -> '.join(chain)}",
                       lambda m: m.capability(leaf, obj).capability.per_copy, capability_robustness,
                       capability_generalization)]
        for parent, child in zip(chain[:-1], chain[1:]):
            quantities.append((f"alpha {parent}->{child}",
                               lambda m, p=parent, c=child: m.alignment(p, c, leaf).alignment.per_copy,
                               alignment_robustness, alignment_generalization))
        for label, read, robust_fn, general_fn in quantities:
            for kind, fn, members in (("robustness (Def. 3)", robust_fn, [p for p in family.members if not changes_objective(p)]),
                                      ("generalization (Def. 4)", general_fn, [p for p in family.members if changes_objective(p)])):
                if not members:
                    continue
                r = fn(read(base), {p.name: read(perturbed[p.name]) for p in members}, tolerance)
                summaries.append(r)
                rows.append([label, kind, float(r.worst), r.worst_name or "-", float(r.median), float(r.range),
                             r.verdict])
                for c in r.changes:
                    member_rows.append([label, kind, c.name, float(c.baseline), float(c.perturbed), float(c.change),
                                        float(c.defined_fraction),
                                        bool(c.change <= tolerance) if math.isfinite(c.change) else "undefined"])
    per_member = Table(f"perturbation family {family.name!r} per member: the figure unperturbed and perturbed (median "
                       f"over copies) and its relative change |x' - x| / |x| (paired copy by copy, median over copies)",
                       ("figure", "comparison", "member", "unperturbed", "perturbed", "relative change",
                        "copies defined (share)", f"within {tolerance:g}"), tuple(member_rows))
    table = Table(f"perturbation family {family.name!r}: relative change |x' - x| / |x| per member (paired copy by "
                  f"copy, median over copies), tolerance {tolerance:g}",
                  ("figure", "comparison", "worst", "worst member", "median", "range", "verdict"), tuple(rows))
    return [per_member, table], summaries


def perturbed_arrays(perturbed_runs: dict) -> dict:
    """Every perturbed run's values, keyed ``extra/perturbed/<member>/<leaf>/<objective>`` (each [K, T];
    keeps scenario extras under ``extra/``)."""
    return {f"extra/perturbed/{member}/{key}": v for member, runs in perturbed_runs.items()
            for key, v in trajectory_arrays(runs).items()}


def robustness_plots(graph: DelegationGraph, runs: dict, perturbed_runs: dict, member_table: Table,
                     tolerance: float, title: str) -> dict:
    """robustness.png as the ``robustness`` scenario draws it (:func:`~scenarios.machinery.plots.plot_relative_changes`):
    each figure's relative change per member, and every run's root objective per chain (the
    unperturbed run is labelled ``unperturbed``)."""
    from scenarios.machinery.plots import plot_relative_changes

    members = list(perturbed_runs)
    figures = list(dict.fromkeys(r[0] for r in member_table.rows))
    change = {(r[0], r[2]): r[5] for r in member_table.rows}
    changes = {f: [change.get((f, mb), math.nan) for mb in members] for f in figures}
    curves = {}
    for chain in graph.chains():
        leaf, obj = chain[-1], graph.node(chain[0]).objective.name
        suffix = f": {leaf}/{obj}" if len(runs) > 1 else ""
        curves[f"unperturbed{suffix}"] = runs[leaf].trajectory[obj]
        for mb in members:
            curves[f"{mb}{suffix}"] = perturbed_runs[mb][leaf].trajectory[obj]
    base = next(iter(curves)) if curves else "unperturbed"
    roots = sorted({graph.node(c[0]).objective.name for c in graph.chains()})
    return {"robustness.png": lambda path: plot_relative_changes(path, members, changes, curves, tolerance, title,
                                                                 curve_label="root objective " + ", ".join(roots),
                                                                 baseline=base)}


def _check_arguments(graph, name, claims, max_discrepancy, perturbations, tolerance) -> None:
    if not isinstance(graph, DelegationGraph):
        raise ParameterError(f"graph={type(graph).__name__}; give a hierarchy.DelegationGraph (e.g. "
                             f"DelegationGraph.chain(...))", parameter="graph")
    if not isinstance(name, str) or not name:
        raise ParameterError(f"name={name!r}; give the report a non-empty name such as 'custom'", parameter="name")
    if isinstance(claims, (str, bytes, Claim)) or not isinstance(claims, Iterable):
        raise ParameterError(f"claims={claims!r}; give a list of Claims or functions measurements -> Claim",
                             parameter="claims")
    for c in claims:
        if not (isinstance(c, Claim) or callable(c)):
            raise ParameterError(f"claims holds {type(c).__name__}; give Claims or functions measurements -> Claim",
                                 parameter="claims")
    if isinstance(max_discrepancy, bool) or not isinstance(max_discrepancy, (int, float)) \
            or not (math.isfinite(max_discrepancy) and max_discrepancy > 0):
        raise ParameterError(f"max_discrepancy={max_discrepancy!r} must be a finite number > 0, e.g. 1e-9",
                             parameter="max_discrepancy")
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) \
            or not (math.isfinite(tolerance) and tolerance >= 0):
        raise ParameterError(f"tolerance={tolerance!r} must be a finite number >= 0, e.g. 0.1", parameter="tolerance")
    if perturbations is not None and not isinstance(perturbations, Family):
        raise ParameterError(f"perturbations={type(perturbations).__name__}; give a hierarchy.perturbation.Family or "
                             f"None", parameter="perturbations")


def run_hierarchy(graph: DelegationGraph, steps: int, seed: int = 0, estimator: Estimator = Estimator(), *,
                  name: str = "custom", claims: Iterable = (), horizon: Optional[int] = None,
                  progress: bool = True, check: bool = True, max_discrepancy: float = 1e-9,
                  perturbations: Optional[Family] = None, tolerance: float = 0.1) -> ScenarioResult:
    """Check ``graph``, run every chain for ``steps`` steps, measure, and return a ScenarioResult.

    ``claims`` may hold ready Claims or functions ``measurements -> Claim`` that decide a
    claim from the measured figures. The delegation-product check of every chain is added
    as a claim. With ``perturbations`` (a :class:`hierarchy.perturbation.Family`), the graph
    is run again with each member applied to every leaf, and the report adds robustness
    (Definition 3) and, for members that change the objective, generalization (Definition 4)
    of every chain's root capability and edge alignment, judged against ``tolerance``.
    ``result.write(out)`` writes the same files as ``mesastack run``.

    Every argument is checked first: a misuse (``steps=True``, an estimator given as a
    string, a horizon longer than the run, a negative ``max_discrepancy``, a claim that is
    neither a Claim nor a function, ...) raises a :class:`~hierarchy.errors.ParameterError`
    naming the argument and the fix, before anything runs. With ``check=False`` the leaves
    are not tried on a short run first, but a leaf that raises is still named
    (:class:`~hierarchy.errors.LeafError`, its exception as the cause) and a trajectory of
    other than ``steps + 1`` values per copy is still refused.
    """
    _check_arguments(graph, name, claims, max_discrepancy, perturbations, tolerance)
    claims = tuple(claims)
    options = RunOptions(seed=seed, steps=steps, estimator=estimator, horizon=horizon, progress=progress)
    # every member applied to every leaf before anything runs: one that does not apply is refused now
    perturbed_graphs = {} if perturbations is None else \
        {member.name: perturbed_graph(graph, member, seed) for member in perturbations.members}
    if check:
        check_graph(graph, seed=seed)
    runs = run_graph_with_progress(graph, steps, options)
    m = measure(graph, runs, estimator)
    decided = [c if isinstance(c, Claim) else c(m) for c in claims]
    worst = max((p.discrepancy for p in m.products), default=0.0)
    decided.append(Claim.exact(
        "delegation product: C_root = (product of alignments) * C_leaf on every chain",
        {f"discrepancy {' -> '.join(p.chain)}": p.discrepancy for p in m.products} | {"bound": max_discrepancy},
        margin=max_discrepancy - worst if all(math.isfinite(p.discrepancy) for p in m.products) else math.nan,
        rule=f"an identity up to float rounding: every chain's worst relative discrepancy < {max_discrepancy:g}"))
    tables = []
    choices = {"estimator": str(estimator)}
    arrays, plots = trajectory_arrays(runs), objective_plots(graph, runs, name, m)
    if perturbations is not None:
        perturbed, perturbed_runs = {}, {}
        for member in perturbations.members:
            g = perturbed_graphs[member.name]
            perturbed_runs[member.name] = run_graph_with_progress(g, steps, options)
            perturbed[member.name] = measure(g, perturbed_runs[member.name], estimator)
        extra, _ = robustness_tables(graph, m, perturbed, tolerance, perturbations)
        tables += extra
        choices["robustness tolerance"] = tolerance
        arrays |= perturbed_arrays(perturbed_runs)
        plots |= robustness_plots(graph, runs, perturbed_runs, extra[0], tolerance,
                                  f"{name}: perturbation family {perturbations.name!r} (seed {seed}, {steps} steps)")
    report = build_report(name, graph, runs, estimator, seed=seed, steps=steps, claims=decided, tables=tables,
                          choices=choices, measurements=m)
    result = ScenarioResult(report, graph, arrays, plots)
    return with_strong_alignment(result, horizon) if horizon else result
