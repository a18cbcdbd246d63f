"""Scenarios ``maze-example-1`` ... ``maze-example-6``: seed 002's maze examples, measured.

Seed 002 asks of five trained maze systems "is it inner aligned?" and shows that three
camps answer differently (definitions.md, "Inner alignment: the competing definitions").
Each scenario trains a population of K copies on a training distribution of mazes,
deploys them on the training distribution (fresh mazes) and on a deployment
distribution, measures the evidence the definitions read, and lets every definition
judge it (hierarchy/inner_alignment.py). Nothing here knows an example's answer.

The systems:

* Examples 1-4 and 6: a learned mesa-optimizer (agents/maze/planner.py): gradient descent trains
  a reward network on shortest-path demonstrations; the planner maximizes that learned
  reward by value iteration. What it learns (the exit, or the green-cell proxy "step
  right of green") comes out of training; the knobs that decide it (exit visibility,
  decoy greens, green by the exit) are parameters.
* Example 5: the self-replicator (agents/maze/replicator.py), not a mesa-optimizer. Its
  training is a search over its copy limit: each copy gets the smallest limit that
  reaches the exit in every one of its small training mazes.
* Example 6: seed 002's aside on Example 1, a pure capability failure: Example 1's
  planners, deployed with a planning budget of 8 moves of look-ahead
  (agents.maze.planning.finite_horizon_values) on mazes whose exits lie about 17 moves away;
  training planned exactly. Its mesa-objective (the learned reward) stays aligned: an
  exact planner on it still exits.

Measured per copy and distribution (training / deployment / a larger deployment):

* base-objective performance: the share of mazes whose exit the system reaches, and the
  same for the base-objective optimizer (the shortest-path oracle) and for an optimal
  policy of the planner's mesa-objective (exact value iteration on its learned reward,
  ``mesa_budget_factor`` x cells moves);
* capability: the share of episodes in which the system attains the optimum of its own
  objective (planner: its path's discounted learned reward equals the optimal value at
  the entrance; replicator: it replicates up to its limit, or until a copy is at the
  exit, where it stops);
* the behavioral objective, by maximum-entropy IRL (agents/maze/irl.py) with a reward linear in
  the designer's features [green, right_of_green, exit], compared with the base objective
  (reward 1 on the exit) by :func:`objective_similarity`: the cosine of the two reward
  maps over the distribution's cells, each maze's mean removed. Two objectives that
  coincide on every cell that occurs count as the same (impact alignment: a proxy that
  coincides with the exit wherever deployed is the exit there). For the planner the
  recovered objective is also compared with its true mesa-objective (its learned
  reward). IRL over single paths does not apply to the replicator, whose state is a set
  of cells: its objective measure is the base-objective ratio, as the
  generalization-focused rule states when no similarity is measured;
* alpha (Definition 2, hierarchy.alignment via hierarchy.measure) of the designer's base
  objective with the system's own objective on the episode states, on the training
  distribution and on the dataset variations (the deployment distribution and a larger
  one). Both objectives are expressed as the share of the way to their optimum still to
  go (``exit_share``: summed distance to the exit over the entrance's; ``mesa_share``:
  summed shortfall of the learned reward from its best cell over the entrance's
  shortfall; ``replicate_share``: copies missing to the limit over limit - 1): positive
  affine maps of the raw objectives per copy (an explicit choice; definitions.md,
  "open"), so alpha reads "share of the way to the exit per share of the way to its own
  optimum";
* reachability (seed 001): over the K copies, the share whose behaviour pursues the
  exit, the green-cell proxy, the nearer target, or neither, on conflict mazes;
* the gradient-descent run that trained the planners' reward network: L (the training
  loss) and its true objective G (squared gradient norm), measured like the foundation.
  It is a node of the same graph, and the planners are its product: each deployment node's
  leaf is ``Produced("gradient-descent", ...)`` (an edge of kind ``produces``), so one
  ``run_graph`` runs training and deployments and the export carries the relation.

Evidence (hierarchy.inner_alignment.Evidence) is built for every copy and judged by every
definition copy by copy; the example's verdict under a definition is the majority of its
copies' verdicts when the Wilson 95% interval of that share excludes 1/2, and "split"
otherwise (hierarchy.inner_alignment.population_verdict). The medians over copies are
shown as a description, never judged.

Seed 002 read as it reads: the objective- and optimization-focused rules judge the
mesa-objective's impact alignment (``mesa_optimal_*``: what an exact planner on the
learned reward achieves with an ample move budget), apart from the system's own
capability, so a pure capability failure (Example 6: Example 1's planner deployed with a
planning budget too small for its mazes) stays inner aligned under both. Where the run
simplifies the text or takes one of two readings, :data:`READINGS` says so (Examples 2,
5 and 6).

Where each part lives: parameters and titles in scenarios.common.maze_setup, seed 002's
verdicts and readings in scenarios.common.seed_002, the evidence in
scenarios.common.maze_evidence, tables and claims in scenarios.common.maze_tables, the
planner examples' graph and measurement in scenarios.common.planner_example, Example 5's in
scenarios.common.replicator_example; this module registers the scenarios.
"""

from __future__ import annotations

import time

import attrs

from hierarchy.errors import ParameterError
from hierarchy.report import build_report

from scenarios.common.maze_evidence import DistributionFigures, ExampleOutcome, judge
from scenarios.common.maze_plots import plot_maze_rows
from scenarios.common.maze_setup import (Example1Params, Example2Params, Example3Params, Example4Params, Example5Params,
                                         Example6Params, MazeExampleParams, PARAMS, SHORT, TITLES, ThresholdParams)
from scenarios.common.maze_tables import DECIDING
from scenarios.common.planner_example import measure_planner_example
from scenarios.common.replicator_example import measure_replicator_example
from scenarios.common.seed_002 import (READINGS, READINGS_SHORT, SEED_002, agrees_with_seed_002, seed_002_expectation,
                                       seed_claim, seed_claims)
from scenarios.machinery.api import objective_plots, trajectory_arrays
from scenarios.machinery.registry import RunOptions, ScenarioResult, scenario

__all__ = ["measure_example", "example_result", "maze_png", "ExampleOutcome", "DistributionFigures", "PARAMS",
           "TITLES", "SHORT", "READINGS", "READINGS_SHORT", "SEED_002", "DECIDING", "seed_002_expectation",
           "agrees_with_seed_002", "seed_claim", "seed_claims", "ThresholdParams", "MazeExampleParams",
           "Example1Params", "Example2Params", "Example3Params", "Example4Params", "Example5Params", "Example6Params",
           "judge"]


def measure_example(number: int, options: RunOptions, params=None, cache: dict = None) -> ExampleOutcome:
    """Run Example ``number`` (1-6; 6 is the aside on Example 1, a capability failure) of seed 002 and judge it by
    every definition.

    ``params`` defaults to the example's own parameter class (:data:`PARAMS`);
    ``options.steps`` is the number of gradient-descent steps for Examples 1-4 and 6 (default
    40) and the largest copy limit the training search tries for Example 5 (default 100).
    ``cache``: a dict shared by the examples of one run (compare-definitions), so that what two
    planner examples compute alike is computed once (scenarios.common.planner_example.shared);
    the numbers are the same with or without it.

    Example:
        >>> o = measure_example(3, RunOptions(steps=20, progress=False), Example3Params(
        ...     population=2, eval_mazes=6, irl_mazes=3, irl_steps=20, probe_mazes=2))
        >>> [v.definition for v in o.verdicts][:2]
        ['objective-focused', 'generalization-focused']
    """
    if number not in PARAMS:
        raise ParameterError(f"maze example {number!r} does not exist; use 1 to 5 (seed 002's examples) or 6 "
                             f"(its capability-failure aside on Example 1)")
    p = PARAMS[number]() if params is None else params
    start = time.perf_counter()
    out = (measure_replicator_example(options, p) if number == 5
           else measure_planner_example(number, options, p, cache))
    return attrs.evolve(out, seconds=time.perf_counter() - start)


def maze_png(outcome: ExampleOutcome):
    """The PNG writer ``path -> None`` of an example: its mazes with the systems' paths (or cells)."""
    title = f"maze-example-{outcome.number}: {TITLES[outcome.number]}"
    verdicts = [f"[{c.label}] {c.text}" for c in outcome.claims]
    return lambda path: plot_maze_rows(path, outcome.panels, title=title, notes=verdicts)


def example_result(outcome: ExampleOutcome, options: RunOptions) -> ScenarioResult:
    """The ScenarioResult of a measured example: report, graph, arrays ``<leaf>/<objective>``, plots."""
    name = f"maze-example-{outcome.number}"
    report = build_report(name, outcome.graph, outcome.runs, options.estimator, seed=options.seed, steps=outcome.steps,
                          choices=outcome.choices, claims=outcome.claims, tables=outcome.tables, notes=outcome.notes,
                          node_attributes=outcome.node_attributes, edge_attributes=outcome.edge_attributes,
                          measurements=outcome.measurements)
    plots = {f"{name}.png": maze_png(outcome)}
    plots |= objective_plots(outcome.graph, outcome.runs, name, outcome.measurements, options.estimator,
                             notes=[f"[{c.label}] {c.text}" for c in outcome.claims])
    return ScenarioResult(report, outcome.graph, trajectory_arrays(outcome.runs), plots)


def _register(number: int, default_steps: int):
    where = f"seed 002, Example {number}" if number <= 5 else "seed 002's aside on Example 1"

    @scenario(f"maze-example-{number}", f"{where}: {TITLES[number]}", PARAMS[number], default_steps)
    def run(options: RunOptions, p) -> ScenarioResult:
        return example_result(measure_example(number, options, p), options)

    return run


for _n in (1, 2, 3, 4, 6):
    _register(_n, 40)
_register(5, 100)
