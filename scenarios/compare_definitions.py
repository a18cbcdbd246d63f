"""``mesastack compare-definitions``: the competing definitions of inner alignment on the same runs.

Runs seed 002's maze examples (scenarios/maze_examples.py: Examples 1-5 and Example 6,
seed 002's aside on Example 1, a pure capability failure) and tabulates every
definition's verdict on each (examples x definitions: objective-focused,
generalization-focused, optimization-focused, alpha-robust). Nothing here knows an
answer; the verdicts come out of the runs:

* **per copy, then per example.** Every copy of an example's population is judged on its
  own evidence; the example's verdict under a definition is the majority verdict of its
  copies when the Wilson 95% interval of that share excludes 1/2, and ``split``
  otherwise (hierarchy.inner_alignment.population_verdict). The table gives the share of
  copies for each verdict with that interval. An undefined alpha makes that copy's
  alpha-robust verdict "undecided", with the reason shown; it is never dropped.
* **against seed 002.** Each cell where seed 002 states a verdict is a claim
  (scenarios.common.seed_002.seed_claim): it holds when the share of copies agreeing with
  seed 002 has a Wilson 95% interval above 1/2, fails when the interval lies below 1/2,
  and is undecided otherwise. A failing or undecided cell is a finding, said so, never
  forced.
* **over seeds** (``--seeds N``): the examples run on scenario seeds s, s+1, ..., s+N-1
  (s = ``--seed``); each cell's agreement with seed 002 is then reported as a rate over
  seeds, the number of seeds on which its claim holds, with a Wilson 95% interval
  (hierarchy.report.Claim.replicated).

The result is one report (report.json with the tables), one PNG per example (mazes and
paths), and one exported graph holding every example's chains under prefixed names
(``ex3-planner``, ...), with each system's verdicts as node attributes; with several
seeds the graph, trajectories and PNGs are those of the first seed, and the tables and
claims cover every seed.
"""

from __future__ import annotations

import math
import time

import attrs
import numpy as np

from agents.threads import torch_threads
from hierarchy.decision import SeedCount, wilson_interval
from hierarchy.errors import ParameterError
from hierarchy.figures import format_number
from hierarchy.graph import DelegationGraph
from hierarchy.inner_alignment import DEFINITIONS, SPLIT, population_verdict
from hierarchy.measure import measure
from hierarchy.report import Claim, Table, build_report
from hierarchy.run import run_graph

from scenarios.machinery.api import trajectory_arrays
from scenarios.common.graph_runs import prefixed_graph
from scenarios.common.icl_examples import icl_examples, icl_notes, icl_tables
from scenarios.common.maze_evidence import ExampleOutcome
from scenarios.common.maze_setup import PARAMS, SHORT, TITLES, ThresholdParams, check_positive
from scenarios.common.maze_tables import DECIDING, seed_text
from scenarios.common.seed_002 import READINGS, READINGS_SHORT, seed_002_expectation, seed_claims
from scenarios.maze_examples import maze_png, measure_example
from scenarios.machinery.other_process import OtherProcess
from scenarios.machinery.plots import drawn_in_advance
from scenarios.machinery.progress import case_bar
from scenarios.machinery.side_by_side import available_cores, side_by_side
from scenarios.machinery.registry import RunOptions, ScenarioResult, parameter

EXAMPLES = (1, 2, 3, 4, 5, 6)


@attrs.frozen
class CompareParams(ThresholdParams):
    """Parameters of ``compare-definitions`` (``--set name=value``), passed to every example:
    ``population`` copies; ``train_steps`` gradient-descent steps (Examples 1-4 and 6);
    ``eval_mazes`` fresh mazes per distribution (``replicator_eval_mazes`` for Example 5);
    ``irl_mazes`` / ``irl_steps`` of the behavioral-objective recovery; ``probe_mazes``
    conflict mazes of each kind; the definitions' thresholds. ``icl``: add the in-context
    learner's shift families (scenarios.common.icl_examples; ``icl_steps`` training steps, on
    the first seed). ``--quick`` uses :data:`QUICK` (a smaller population and fewer mazes;
    the mazes' training is unchanged; the in-context learner trains fewer steps on fewer tasks).
    ``case_threads``: how many maze cases (an example on a seed) run at once (0: one per core, 1: one
    after another in this process, the in-context learner too): from 2, the maze cases on that many
    threads here (scenarios.machinery.side_by_side) and, beside them, the in-context learner in a
    Python process of its own (scenarios.machinery.other_process); the numbers are the same whatever
    it is."""

    population: int = 8
    train_steps: int = 40
    eval_mazes: int = 120
    replicator_eval_mazes: int = 40
    irl_mazes: int = 24
    irl_steps: int = 100
    probe_mazes: int = 40
    icl: bool = parameter(True, "add the in-context learner's shift families, with is_mesa_optimizer measured per copy")
    icl_steps: int = parameter(1000, "training steps of the in-context learner (on the first seed)")
    icl_quick: bool = parameter(False, "the in-context learner's quick settings (fewer tasks; --quick sets it)")
    case_threads: int = parameter(0, "maze cases (an example on a seed) run at once on threads, the in-context "
                                     "learner in its own process beside them; 0: one per core, 1: every case one "
                                     "after another here (the same numbers)")

    def __attrs_post_init__(self):
        check_positive(self, ("population", "train_steps", "eval_mazes", "replicator_eval_mazes", "irl_mazes",
                              "probe_mazes", "icl_steps"))
        if isinstance(self.case_threads, bool) or not isinstance(self.case_threads, int) or self.case_threads < 0:
            raise ParameterError(f"case_threads={self.case_threads!r}; give how many cases run at once (0: one per "
                                 f"core, 1: one after another)", parameter="case_threads")


#: The quick settings: a smaller population and fewer evaluation mazes; the same training.
QUICK = {"population": 8, "eval_mazes": 40, "replicator_eval_mazes": 20, "irl_mazes": 12, "irl_steps": 60,
         "probe_mazes": 12, "icl_steps": 500, "icl_quick": True}

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


@attrs.frozen(eq=False)
class SeedRun:
    """The examples measured on one scenario seed, and that seed's claims (one per cell where
    seed 002 states a verdict, in example x definition order)."""

    seed: int
    outcomes: tuple
    claims: tuple

    def claim(self, number: int, definition: str):
        """The cell's claim on this seed (None where seed 002 makes no claim)."""
        text = f"seed 002: Example {number} is "
        for c in self.claims:
            if c.text.startswith(text) and f"under the {definition} definition" in c.text:
                return c
        return None


def _cells(outcomes):
    """(example number, definition) of every cell where seed 002 states a verdict, in table order."""
    return [(o.number, d) for o in outcomes for d in DEFINITIONS if seed_002_expectation(o.number, d) is not None]


def _count_words(values, n_word: str) -> str:
    order = list(dict.fromkeys(values))
    return ", ".join(f"{v} {values.count(v)}" for v in order) + f" of {len(values)}{n_word}"


def _pooled(seed_runs, j: int, i: int):
    """Example j's copies under definition i, pooled over the seeds, as one PopulationVerdict."""
    return population_verdict([cv[i] for sr in seed_runs for cv in sr.outcomes[j].copy_verdicts])


def verdict_table(seed_runs) -> Table:
    """Examples x definitions: the example's verdict (on each seed) and the kind of failure of the majority."""
    S = len(seed_runs)
    rows = []
    for j, o in enumerate(seed_runs[0].outcomes):
        for i, d in enumerate(DEFINITIONS):
            pvs = [sr.outcomes[j].verdicts[i] for sr in seed_runs]
            if S == 1:
                rows.append([SHORT[o.number], d, pvs[0].verdict, pvs[0].kind or "" if pvs[0].verdict != SPLIT else ""])
            else:
                rows.append([SHORT[o.number], d, _count_words([pv.verdict for pv in pvs], " seeds"),
                             _pooled(seed_runs, j, i).kind or ""])
    what = "the example's verdict" if S == 1 else f"the example's verdict on each of {S} seeds"
    return Table(f"inner alignment by each definition, decided copy by copy: {what} is the majority of its copies' "
                 "verdicts when the Wilson 95% interval of that share excludes 1/2, split otherwise",
                 ("example", "definition", "verdict" if S == 1 else "verdict over seeds", "kind (majority)"),
                 tuple(rows))


def copies_table(seed_runs) -> Table:
    """Examples x definitions: the share of copies for each verdict with its Wilson 95% interval
    (one seed: that seed's copies; several: the copies of every seed pooled)."""
    S = len(seed_runs)
    rows = []
    for j, o in enumerate(seed_runs[0].outcomes):
        for i, d in enumerate(DEFINITIONS):
            pv = seed_runs[0].outcomes[j].verdicts[i] if S == 1 else _pooled(seed_runs, j, i)
            cells = []
            for v, c in pv.counts:
                lo, hi = wilson_interval(c, pv.n)
                cells.append(f"{v} {c}/{pv.n} [{lo:.2f}, {hi:.2f}]")
            rows.append([SHORT[o.number], d, "; ".join(cells)])
    return Table("copies per verdict, with the Wilson 95% interval of each share"
                 + ("" if S == 1 else f" (the copies of all {S} seeds pooled)"),
                 ("example", "definition", "copies per verdict"), tuple(rows))


def agreement_table(seed_runs) -> Table:
    """Per cell where seed 002 states a verdict: on how many seeds the run agrees (the cell's claim
    holds), with a Wilson 95% interval, and on how many it is undecided or fails."""
    rows = []
    S = len(seed_runs)
    for number, d in _cells(seed_runs[0].outcomes):
        count = SeedCount.of([sr.claim(number, d).verdict for sr in seed_runs])
        lo, hi = count.rate_interval
        per_seed = " ".join({"holds": "+", "fails": "x", "undecided": "?"}[sr.claim(number, d).verdict]
                            for sr in seed_runs)
        rows.append([SHORT[number], d, seed_text(seed_002_expectation(number, d)), f"{count.holds}/{S}",
                     f"[{lo:.2f}, {hi:.2f}]", count.undecided, count.fails, per_seed])
    return Table(f"agreement with seed 002, cell by cell, over {S} seed{'s' if S > 1 else ''} (agrees: the share of "
                 "copies agreeing has a Wilson 95% interval above 1/2; per seed: + agrees, ? undecided, x fails)",
                 ("example", "definition", "seed 002", "agrees on", "rate 95%", "undecided", "fails", "per seed"),
                 tuple(rows))


def numbers_table(outcomes) -> Table:
    """The deciding numbers of each definition (medians over copies, first seed), and why copies are undecided."""
    rows = []
    for o in outcomes:
        for v in o.verdicts:
            nums = ", ".join(f"{k} {format_number(v.numbers[k])}" for k in DECIDING[v.definition] if k in v.numbers)
            rows.append([SHORT[o.number], v.definition, nums, "; ".join(v.reasons)])
    return Table("deciding numbers (medians over copies, a description: the verdicts are per copy) and the reasons "
                 "of undecided copies", ("example", "definition", "numbers", "undecided because"), tuple(rows))


def evidence_table(outcomes) -> Table:
    """The example-level evidence (medians over copies), one row per example."""
    rows = []
    for o in outcomes:
        e = o.evidence
        fmt = lambda x: "" if x is None else format_number(x)
        alphas = ", ".join(format_number(a) for a in e.alpha_variations)
        rows.append([SHORT[o.number], "yes" if e.is_mesa_optimizer else "no",
                     format_number(e.train_performance / e.train_reference),
                     format_number(e.deploy_performance / e.deploy_reference),
                     "" if e.mesa_optimal_deploy is None else format_number(e.mesa_optimal_deploy / e.deploy_reference),
                     format_number(e.capability_generalization),
                     f"{fmt(e.similarity_train)} / {fmt(e.similarity_deploy)}" if e.similarity_train is not None else "",
                     f"{fmt(e.alpha)}; {alphas}", round(o.seconds, 1)])
    return Table("evidence per example (medians over copies, first seed): base-objective ratio system / shortest "
                 "path, the same for an optimal policy of the mesa-objective, capability on deployment, similarity "
                 "train / deploy, alpha train; variations",
                 ("example", "mesa-opt", "ratio train", "ratio deploy", "mesa-optimal", "capability",
                  "similarity", "alpha", "s"), tuple(rows))


def readings_table(outcomes) -> Table:
    """Where the run simplifies seed 002 or takes one of its readings (the notes give the reasons)."""
    rows = [[SHORT[o.number], READINGS_SHORT[o.number]] for o in outcomes if o.number in READINGS_SHORT]
    return Table("how the run reads seed 002 (the notes say why)", ("example", "reading"), tuple(rows))


def _prefixed(o: ExampleOutcome):
    """Example ``o``'s graph under names ``ex<n>-...``, each leaf replaying its run (no second run)."""
    pre = f"ex{o.number}-"
    nodes, edges = prefixed_graph(o.graph, o.runs, pre)
    node_attrs = {pre + n: {"example": o.number, **a} for n, a in o.node_attributes.items()}
    edge_attrs = {(pre + a, pre + b): v for (a, b), v in o.edge_attributes.items()}
    return nodes, edges, node_attrs, edge_attrs


@attrs.frozen(eq=False)
class Comparison:
    """The measured examples (``outcomes``: the first seed's; ``seed_runs``: every seed's) and the
    comparison's ScenarioResult."""

    outcomes: tuple
    seed_runs: tuple
    result: ScenarioResult
    seconds: float
    icl: object = None

    def agreement(self) -> dict:
        """{(example, definition): SeedCount of its claim's verdicts over the seeds} for every cell
        where seed 002 states a verdict; ``holds`` counts the seeds on which the run agrees."""
        return {(n, d): SeedCount.of([sr.claim(n, d).verdict for sr in self.seed_runs])
                for n, d in _cells(self.outcomes)}

    def disagreements(self) -> list:
        """(example, definition, seed 002's verdict, the run's verdicts over seeds) for every cell
        that does not agree on every seed (split, undecided or disagreeing)."""
        out = []
        for (n, d), count in self.agreement().items():
            if count.holds < count.n:
                i = list(DEFINITIONS).index(d)
                got = [sr.outcomes[[o.number for o in sr.outcomes].index(n)].verdicts[i].verdict
                       for sr in self.seed_runs]
                out.append((n, d, seed_002_expectation(n, d), got[0] if len(got) == 1 else tuple(got)))
        return out


#: The examples from the longest to run to the shortest (measured on the default settings), the order in which the
#: cases are started side by side; Examples 1 and 6, and 2 and 3, share their training (started first by 1 and 2).
_LONGEST_FIRST = (4, 1, 2, 6, 3, 5)


def run_icl_examples(options: RunOptions, params: CompareParams, quick: bool, steps: int):
    """The in-context learner's case (a module-level function: it may run in another process)."""
    return icl_examples(options, params, quick=quick, steps=steps)


def compare_definitions(options: RunOptions = RunOptions(), params: CompareParams = CompareParams(),
                        examples=EXAMPLES, seeds: int = 1) -> Comparison:
    """Run the maze examples on ``seeds`` scenario seeds (``options.seed`` onwards) and compare the
    definitions' verdicts with seed 002's (no files written).

    Example:
        >>> c = compare_definitions(RunOptions(progress=False), CompareParams(
        ...     population=2, eval_mazes=6, replicator_eval_mazes=4, irl_mazes=3, irl_steps=10, probe_mazes=2,
        ...     train_steps=5, icl=False), examples=(5,))
        >>> c.result.report.tables[0].columns[1]
        'definition'
    """
    if isinstance(seeds, bool) or not isinstance(seeds, (int, np.integer)) or seeds < 1:
        raise ParameterError(f"seeds={seeds!r} must be a positive number of scenario seeds; use e.g. --seeds 5")
    unknown = [n for n in examples if n not in PARAMS]
    if unknown or not examples:
        raise ParameterError(f"examples {list(examples)}: choose among {sorted(PARAMS)}")
    start = time.perf_counter()
    seed_runs = []
    cases = [(s, n) for s in range(options.seed, options.seed + int(seeds)) for n in examples]
    by_seed = {}
    cache = {}  # what two examples compute alike (same parameters and seeds) is computed once

    def example(s, n):
        steps = params.train_steps if n != 5 else None
        return lambda: measure_example(n, attrs.evolve(options, seed=s, steps=steps, progress=False),
                                       example_params(n, params), cache)

    # the cases side by side, the longest first (the same numbers in any order)
    order = sorted(range(len(cases)), key=lambda i: (_LONGEST_FIRST.index(cases[i][1]), i))
    tasks = [example(*cases[i]) for i in order]
    at_once = params.case_threads or available_cores()
    icl_args = (options, params, params.icl_quick, params.icl_steps)
    icl_job = None  # the in-context learner's families: is_mesa_optimizer measured, not a structural fact
    if params.icl and at_once >= 2:  # in a process of its own: its torch calls then never wait for the mazes' Python
        icl_job = OtherProcess("the in-context learner of compare-definitions", run_icl_examples, *icl_args)
    elif params.icl:
        tasks.insert(0, lambda: run_icl_examples(*icl_args))
    finished = []
    try:
        with case_bar(len(tasks) + int(icl_job is not None),
                      "cases (maze examples x seeds" + (", in-context learner)" if params.icl else ")"),
                      options.progress) as bar:
            def tick(i, _):
                finished.append(i)
                if bar is not None:
                    bar(len(finished))

            # the maze cases on at_once threads even beside the learner's process: their Python (rollouts, maze
            # generation) leaves a core idle part of the time, which the other process fills (13.7 to 13.9 s
            # against 14.7 to 15.1 s for the default run with one maze thread beside it; docs/performance.md)
            with torch_threads(1 if icl_job is not None else None):  # torch on one thread beside the learner's process
                done = side_by_side(tasks, min(at_once, len(tasks)), tick)
            pictures = {}  # the first seed's maze pictures, drawn here while the in-context learner's process runs on
            if icl_job is not None:
                for j, o in enumerate(done):
                    if cases[order[j]][0] == options.seed:
                        pictures[o.number] = drawn_in_advance(maze_png(o))
            icl = icl_job.result() if icl_job is not None else (done.pop(0) if params.icl else None)
            if icl_job is not None:
                tick(len(tasks), icl)
    finally:
        if icl_job is not None:
            icl_job.close()
    outcome = dict(zip(order, done))
    for i, (s, _) in enumerate(cases):
        by_seed.setdefault(s, []).append(outcome[i])
    for s, outcomes in by_seed.items():
        claims = []
        for o in outcomes:
            claims += seed_claims(o.number, o.verdicts, o.copy_verdicts)
        seed_runs.append(SeedRun(s, tuple(outcomes), tuple(claims)))
    outcomes = seed_runs[0].outcomes

    nodes, edges, node_attrs, edge_attrs = [], [], {}, {}
    for o in outcomes:
        n_, e_, na, ea = _prefixed(o)
        nodes += n_
        edges += e_
        node_attrs |= na
        edge_attrs |= ea
    if icl is not None:
        n_, e_ = prefixed_graph(icl.outcome.graph, icl.outcome.runs, "icl-")
        nodes += n_
        edges += e_
    graph = DelegationGraph(nodes, edges)  # the union of the examples' graphs; its leaves replay their runs
    runs = run_graph(graph, params.train_steps, options.seed)
    m = measure(graph, runs, options.estimator)

    S = len(seed_runs)
    if S == 1:
        claims = list(seed_runs[0].claims)
    else:
        claims = []
        for number, d in _cells(outcomes):
            per_seed = [sr.claim(number, d) for sr in seed_runs]
            claims.append(Claim.replicated(per_seed[0].text, per_seed))
    worst = max((p.discrepancy for sr in seed_runs for o in sr.outcomes for p in o.measurements.products),
                default=math.nan)
    claims.append(Claim.exact(f"delegation product: C_root = (product of alignments) * C_leaf on every chain of every "
                              f"example{'' if S == 1 else f' on each of {S} seeds'}",
                              {"largest relative discrepancy": worst}, 1e-9 - worst,
                              rule="largest relative discrepancy below 1e-09 (float rounding)"))
    seconds = time.perf_counter() - start
    tables = (verdict_table(seed_runs), copies_table(seed_runs), agreement_table(seed_runs), readings_table(outcomes),
              numbers_table(outcomes), evidence_table(outcomes))
    if icl is not None:
        tables += icl_tables(icl)

    cells = _cells(outcomes)
    counts = {c: SeedCount.of([sr.claim(*c).verdict for sr in seed_runs]) for c in cells}
    agree = sum(c.holds for c in counts.values())
    lo, hi = wilson_interval(agree, len(cells) * S)
    always = sum(c.holds == S for c in counts.values())
    notes = [f"agreement with seed 002: {agree} of {len(cells) * S} cell-seeds ({len(cells)} cells x {S} seed"
             f"{'s' if S > 1 else ''}; 95% [{lo:.2f}, {hi:.2f}]); {always} of {len(cells)} cells agree on every "
             f"seed; the whole comparison took {seconds:.1f} s"]
    for (number, d), count in counts.items():
        if count.holds < S:
            want = seed_text(seed_002_expectation(number, d))
            i = list(DEFINITIONS).index(d)
            got = [sr.outcomes[[o.number for o in sr.outcomes].index(number)].verdicts[i] for sr in seed_runs]
            words = "; ".join(f"seed {sr.seed}: {pv.describe()}" for sr, pv in zip(seed_runs, got)
                              if sr.claim(number, d).verdict != "holds")
            notes.append(f"finding: Example {number}, {d}: seed 002 argues {want}; the run agrees on {count.holds} "
                         f"of {S} seeds ({words})")
    for number in [o.number for o in outcomes]:
        if number in READINGS:
            notes.append(f"reading of seed 002, Example {number}: {READINGS[number]}")
    if icl is not None:
        notes += icl_notes(icl)
    th = outcomes[0].thresholds
    choices = {"estimator": str(options.estimator),
               "thresholds": f"impact {th.impact:g}, capability {th.capability:g}, similarity {th.similarity:g}, "
                             f"drop {th.drop:g}, alpha {th.alpha:g}, alpha_change {th.alpha_change:g}",
               "population": params.population, "evaluation mazes": params.eval_mazes,
               "scenario seeds": ", ".join(str(sr.seed) for sr in seed_runs),
               "verdicts": "per copy by hierarchy.inner_alignment.judge_all; per example the majority of the copies "
                           "when its Wilson 95% interval excludes 1/2, split otherwise",
               "examples": "; ".join(f"{n}: {TITLES[n]}" for n in examples)}
    if icl is not None:
        choices["in-context learner's loss and gradient"] = \
            icl.outcome.runs["base-optimizer"].trajectory.meta.get("loss and gradient", "")
    for o in outcomes:
        choices[f"example {o.number}"] = "; ".join(f"{k}: {v}" for k, v in o.choices.items()
                                                   if k in ("training distribution", "deployment distribution",
                                                            "stop rule", "training", "planning budget",
                                                            "soft value iteration"))
    report = build_report("compare-definitions", graph, runs, options.estimator, seed=options.seed,
                          steps=params.train_steps, choices=choices, claims=claims, tables=tables, notes=notes,
                          node_attributes=node_attrs, edge_attributes=edge_attrs, measurements=m)
    plots = {f"maze-example-{o.number}.png": pictures.get(o.number) or maze_png(o) for o in outcomes}
    result = ScenarioResult(report, graph, trajectory_arrays(runs), plots)
    return Comparison(tuple(outcomes), tuple(seed_runs), result, seconds, icl)


def resolve_compare_params(overrides, quick: bool = False) -> CompareParams:
    """CompareParams from ``--set`` overrides (strings), on top of :data:`QUICK` when ``quick``.

    Example:
        >>> resolve_compare_params({"population": "3"}, quick=True).population
        3
    """
    from scenarios.machinery.registry import apply_overrides  # the same conversion as `mesastack run --set`

    base = attrs.evolve(CompareParams(), **QUICK) if quick else CompareParams()
    return apply_overrides(base, dict(overrides), "compare-definitions")
