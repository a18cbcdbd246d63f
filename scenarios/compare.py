"""``mesastack compare-definitions``: the competing definitions of inner alignment on the same runs.

Runs seed 002's five maze examples (scenarios/maze_examples.py) and tabulates every
definition's verdict on each (examples x definitions: objective-focused,
generalization-focused, optimization-focused, alpha-robust) with the numbers that
decided it. The table comes out of the runs: nothing here knows an answer. Then each
cell is set beside the verdict seed 002 argues for (:data:`scenarios.maze_examples.SEED_002`):
Examples 1 and 2 aligned under all three camps; Example 3 misaligned for the objective-
and generalization-focused camps, a generalization (outer) failure for the
optimization-focused one; Example 4 misaligned for the objective- and optimization-
focused camps; Example 5 judged only by the generalization-focused camp, as misaligned.
Each such cell is a claim of the report, holding or failing on the run; a failing one is
a finding and is said so, never forced.

The result is one report (report.json with the tables), one PNG per example (mazes and
paths), and one exported graph holding every example's chains under prefixed names
(``ex3-planner``, ...), with each system's verdicts as node attributes.
"""

from __future__ import annotations

import time

import attrs
import numpy as np

from hierarchy.errors import ParameterError
from hierarchy.figures import format_number
from hierarchy.graph import DelegationGraph
from hierarchy.inner_alignment import DEFINITIONS
from hierarchy.measure import measure
from hierarchy.report import Claim, Table, build_report
from hierarchy.run import ChainRun

from .api import trajectory_arrays
from .maze_examples import (PARAMS, TITLES, ExampleOutcome, ThresholdParams, _seed_claims, agrees_with_seed_002, maze_png,
                            measure_example, seed_002_expectation)
from .progress import case_progress
from .registry import RunOptions, ScenarioResult

#: The numbers shown in each column of the table, read from the verdict's numbers.
DECIDING = {
    "objective-focused": ("ratio_train", "ratio_deploy"),
    "generalization-focused": ("objective_train", "objective_deploy", "capability_generalization"),
    "optimization-focused": ("ratio_train", "ratio_deploy"),
    "alpha-robust": ("min_alpha", "worst_relative_change"),
}


@attrs.frozen
class CompareParams(ThresholdParams):
    """Parameters of ``compare-definitions`` (``--set name=value``), passed to every example:
    ``population`` copies; ``train_steps`` gradient-descent steps (Examples 1-4);
    ``eval_mazes`` fresh mazes per distribution (``replicator_eval_mazes`` for Example 5);
    ``irl_mazes`` / ``irl_steps`` of the behavioral-objective recovery; ``probe_mazes``
    conflict mazes of each kind; the definitions' thresholds. ``--quick`` uses
    :data:`QUICK` (a smaller population and fewer mazes; training is unchanged)."""

    population: int = 8
    train_steps: int = 40
    eval_mazes: int = 120
    replicator_eval_mazes: int = 40
    irl_mazes: int = 24
    irl_steps: int = 100
    probe_mazes: int = 40

    def __attrs_post_init__(self):
        for n in ("population", "train_steps", "eval_mazes", "replicator_eval_mazes", "irl_mazes", "probe_mazes"):
            v = getattr(self, n)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ParameterError(f"{n}={v!r} must be a positive integer")


#: The quick settings: a smaller population and fewer evaluation mazes; the same training.
QUICK = {"population": 8, "eval_mazes": 40, "replicator_eval_mazes": 20, "irl_mazes": 12, "irl_steps": 60,
         "probe_mazes": 12}

_THRESHOLDS = ("impact", "capability", "similarity", "drop", "alpha", "alpha_change")


def example_params(number: int, p: CompareParams):
    """Example ``number``'s own parameters with the comparison's shared settings applied.

    Example:
        >>> example_params(3, CompareParams(population=2)).population
        2
    """
    base = PARAMS[number]()
    shared = {n: getattr(p, n) for n in ("population",) + _THRESHOLDS}
    if number == 5:
        shared["eval_mazes"] = p.replicator_eval_mazes
    else:
        shared |= {"eval_mazes": p.eval_mazes, "irl_mazes": p.irl_mazes, "irl_steps": p.irl_steps,
                   "probe_mazes": p.probe_mazes}
    return attrs.evolve(base, **shared)


def _cell(outcome: ExampleOutcome, i: int) -> str:
    v = outcome.verdicts[i]
    same, K = outcome.copies_agreeing(v.definition)
    if v.verdict == "not applicable":
        return f"not applicable {same}/{K}"
    nums = ", ".join(format_number(v.numbers[k]) for k in DECIDING[v.definition] if k in v.numbers)
    return f"{v.verdict}" + (f" [{v.kind}]" if v.kind else "") + f" {same}/{K} ({nums})"


def verdict_table(outcomes) -> Table:
    """The table examples x definitions: verdict [kind], copies with the same verdict, deciding numbers."""
    rows = []
    for o in outcomes:
        rows.append([f"{o.number}: {TITLES[o.number]}"] + [_cell(o, i) for i in range(len(DEFINITIONS))])
    legend = "; ".join(f"{d}: ({', '.join(DECIDING[d])})" for d in DEFINITIONS)
    return Table("inner alignment by each definition on the same runs: verdict [kind of failure] copies-with-this-"
                 f"verdict/K (deciding numbers: {legend})", ("example",) + tuple(DEFINITIONS), tuple(rows))


def agreement_table(outcomes) -> Table:
    """Per cell: seed 002's verdict, the run's, and whether they agree ('no claim' where the seed makes none)."""
    rows = []
    for o in outcomes:
        for v in o.verdicts:
            want = seed_002_expectation(o.number, v.definition)
            agree = agrees_with_seed_002(o.number, v)
            rows.append([o.number, v.definition,
                         "no claim" if want is None else want[0] + (f" ({want[1]})" if want[1] else ""),
                         v.verdict + (f" ({v.kind})" if v.kind else ""),
                         "-" if agree is None else ("agrees" if agree else "DISAGREES")])
    return Table("the run against seed 002, cell by cell", ("example", "definition", "seed 002", "run", "agreement"),
                 tuple(rows))


def evidence_table(outcomes) -> Table:
    """The example-level evidence (medians over copies) and reachability, one row per example."""
    rows = []
    for o in outcomes:
        e = o.evidence
        fr = o.node_attributes.get(o.system, {})
        reach = (" / ".join(format_number(fr[k]) for k in ("fraction_exit", "fraction_proxy", "fraction_nearer",
                                                          "fraction_neither")) if "fraction_exit" in fr else "")
        rows.append([o.number, o.system, e.is_mesa_optimizer, e.train_performance / e.train_reference,
                     e.deploy_performance / e.deploy_reference, e.capability_generalization,
                     "" if e.similarity_train is None else format_number(e.similarity_train),
                     "" if e.similarity_deploy is None else format_number(e.similarity_deploy),
                     "" if e.alpha is None else format_number(e.alpha),
                     ", ".join(format_number(a) for a in e.alpha_variations), reach, round(o.seconds, 2)])
    return Table("evidence per example (medians over copies): base-objective ratio (system / shortest path), "
                 "capability generalization, behavioral-objective similarity, alpha, reachability (seed 001)",
                 ("example", "system", "mesa-optimizer", "ratio train", "ratio deploy", "capability deploy",
                  "similarity train", "similarity deploy", "alpha train", "alpha variations",
                  "exit / proxy / nearer / neither", "seconds"), tuple(rows))


def _prefixed(o: ExampleOutcome):
    pre = f"ex{o.number}-"
    nodes = [attrs.evolve(o.graph.node(n), name=pre + n) for n in o.graph.names]
    edges = [(pre + a, pre + b) for a, b in o.graph.edges]
    runs = {pre + leaf: ChainRun(tuple(pre + n for n in r.chain), r.trajectory) for leaf, r in o.runs.items()}
    node_attrs = {pre + n: {"example": o.number, **a} for n, a in o.node_attributes.items()}
    edge_attrs = {(pre + a, pre + b): v for (a, b), v in o.edge_attributes.items()}
    return nodes, edges, runs, node_attrs, edge_attrs


@attrs.frozen(eq=False)
class Comparison:
    """The five measured examples and the comparison's ScenarioResult."""

    outcomes: tuple
    result: ScenarioResult
    seconds: float

    def disagreements(self) -> list:
        """(example, definition, seed 002's verdict, the run's) for every cell that disagrees."""
        out = []
        for o in self.outcomes:
            for v in o.verdicts:
                if agrees_with_seed_002(o.number, v) is False:
                    out.append((o.number, v.definition, seed_002_expectation(o.number, v.definition), v.verdict))
        return out


def compare_definitions(options: RunOptions = RunOptions(), params: CompareParams = CompareParams(),
                        examples=(1, 2, 3, 4, 5)) -> Comparison:
    """Run the maze examples and compare the definitions' verdicts with seed 002's (no files written).

    Example:
        >>> c = compare_definitions(RunOptions(progress=False), CompareParams(
        ...     population=2, eval_mazes=6, replicator_eval_mazes=4, irl_mazes=3, irl_steps=10, probe_mazes=2,
        ...     train_steps=5), examples=(5,))
        >>> c.result.report.tables[0].columns[1]
        'objective-focused'
    """
    start = time.perf_counter()
    outcomes = []
    for n in case_progress(examples, "maze examples", options.progress):
        steps = params.train_steps if n != 5 else None
        outcomes.append(measure_example(n, attrs.evolve(options, steps=steps, progress=False),
                                        example_params(n, params)))
    nodes, edges, runs, node_attrs, edge_attrs = [], [], {}, {}, {}
    for o in outcomes:
        n_, e_, r_, na, ea = _prefixed(o)
        nodes += n_
        edges += e_
        runs |= r_
        node_attrs |= na
        edge_attrs |= ea
    graph = DelegationGraph(nodes, edges)
    m = measure(graph, runs, options.estimator)
    claims = []
    for o in outcomes:
        claims += _seed_claims(o.number, o.verdicts, o.copy_verdicts)
    worst = max((p.discrepancy for p in m.products if np.isfinite(p.discrepancy)), default=float("nan"))
    claims.append(Claim.check("delegation product: C_root = (product of alignments) * C_leaf on every chain of every "
                              "example", {"largest relative discrepancy": worst}, lambda n: n["largest relative "
                              "discrepancy"] < 1e-9, rule="relative discrepancy < 1e-09"))
    seconds = time.perf_counter() - start
    tables = (verdict_table(outcomes), agreement_table(outcomes), evidence_table(outcomes))
    checked = [c for c in claims[:-1]]
    notes = [f"{sum(c.holds for c in checked)} of {len(checked)} cells where seed 002 states a verdict agree with "
             f"the run; the whole comparison took {seconds:.1f} s"]
    for o in outcomes:
        for v in o.verdicts:
            if agrees_with_seed_002(o.number, v) is False:
                want = seed_002_expectation(o.number, v.definition)
                notes.append(f"finding: Example {o.number}, {v.definition}: seed 002 argues {want[0]}"
                             + (f" ({want[1]})" if want[1] else "") + f", the run gives {v.verdict}"
                             + (f" ({v.kind})" if v.kind else "") + f" by the rule: {v.rule}")
    th = outcomes[0].thresholds
    choices = {"estimator": str(options.estimator),
               "thresholds": f"impact {th.impact:g}, capability {th.capability:g}, similarity {th.similarity:g}, "
                             f"drop {th.drop:g}, alpha {th.alpha:g}, alpha_change {th.alpha_change:g}",
               "population": params.population, "evaluation mazes": params.eval_mazes,
               "example evidence": "medians over copies; verdicts by hierarchy.inner_alignment.judge_all"}
    for o in outcomes:
        choices[f"example {o.number}"] = "; ".join(f"{k}: {v}" for k, v in o.choices.items()
                                                   if k in ("training distribution", "deployment distribution",
                                                            "stop rule", "training"))
    report = build_report("compare-definitions", graph, runs, options.estimator, seed=options.seed,
                          steps=params.train_steps, choices=choices, claims=claims, tables=tables, notes=notes,
                          node_attributes=node_attrs, edge_attributes=edge_attrs, measurements=m)
    plots = {f"maze-example-{o.number}.png": maze_png(o) for o in outcomes}
    result = ScenarioResult(report, graph, trajectory_arrays(runs), plots)
    return Comparison(tuple(outcomes), result, seconds)


def resolve_compare_params(overrides, quick: bool = False) -> CompareParams:
    """CompareParams from ``--set`` overrides (strings), on top of :data:`QUICK` when ``quick``.

    Example:
        >>> resolve_compare_params({"population": "3"}, quick=True).population
        3
    """
    from .registry import apply_overrides  # the same conversion as `mesastack run --set`

    base = attrs.evolve(CompareParams(), **QUICK) if quick else CompareParams()
    return apply_overrides(base, dict(overrides), "compare-definitions")
