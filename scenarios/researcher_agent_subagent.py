"""Scenario ``researcher-agent-subagent``: seed 003's three levels of optimizers, measured on a maze.

Seed 003: a researcher wants an intended goal; it builds an agent and gives it an
objective; the agent ends up with a sub-agent (a mesa-optimizer) that pursues its own
objective. Every level is an optimizer, so the same measures apply at every edge.

Here, on the planners of seed 002's maze (agents/maze/planner.py):

* researcher: the intended goal, leave the maze: ``exit_distance`` = moves from the
  agent's cell to the exit, mean over mazes (the designer's view: hidden exits count).
* agent: the objective the researcher gives it, the exit as the agent can see it:
  ``seen_exit_distance`` = the same distance in mazes whose exit is visible, 0 (no
  signal) where it is hidden. It differs from the intended goal whenever the exit is
  hidden.
* planner (the sub-agent inside the trained agent): its mesa-objective ``mesa`` = minus
  its learned reward of its cell, mean over mazes; its own optimizer is value iteration.

One run is the planners' deployment: the leaf (:class:`agents.maze.episodes.PlannerEpisodes`)
returns the episode states ``[K, T, M, 2]`` and records ``mesa``; the researcher's and the
agent's objectives are evaluated on those states (hierarchy.run). hierarchy.measure then
gives both edges' alignments (Definition 2) and the delegation product

    C_researcher = alpha(researcher -> agent) * alpha(agent -> planner) * C_planner

computed on each side independently. The gradient-descent run that trained the
planners' reward network is a second chain (designer -> gradient-descent: L and its
true objective G), measured as in the foundation, and the planner is its product: the
planner node's leaf is ``Produced("gradient-descent", ...)`` (an edge of kind
``produces``), so one ``run_graph`` trains and deploys.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from agents.maze.env import default_budget
from agents.maze.episodes import PlannerEpisodes
from agents.maze.grid import MazeDistribution
from agents.maze.objectives import cell_objective, exit_distance_objective
from agents.maze.planner import PlannerSpec, StopRule
from agents.maze.planner_training import PlannerTraining
from hierarchy.errors import ParameterError
from hierarchy.figures import Spread
from hierarchy.graph import DelegationGraph, OptimizerNode
from hierarchy.measure import measure
from hierarchy.objective import Objective
from hierarchy.report import Claim, Table, build_report
from hierarchy.product import Produced
from hierarchy.run import run_graph

from scenarios.machinery.api import objective_plots, trajectory_arrays
from scenarios.common.maze_setup import check_positive, describe_distribution, knob_distribution
from scenarios.common.maze_plots import MazePanel, plot_maze_rows
from scenarios.machinery.registry import RunOptions, ScenarioResult, scenario
from hierarchy.seeding import named_seed


@attrs.frozen
class ThreeLevelsParams:
    """Parameters of ``researcher-agent-subagent`` (``--set name=value``): ``population``
    planners trained on ``train_mazes`` mazes each from the training distribution
    (``train_*`` knobs, green by the exit: always / never / a probability), deployed on
    ``eval_mazes`` mazes of the deployment distribution (``deploy_*``), all of ``size``;
    ``max_discrepancy``: the bound of the product checks."""

    population: int = 8
    train_mazes: int = 8
    eval_mazes: int = 60
    size: int = 7
    train_exit_visible: float = 0.5
    train_extra_green: int = 0
    train_green_by_exit: str = "always"
    deploy_exit_visible: float = 0.5
    deploy_extra_green: int = 1
    deploy_green_by_exit: str = "0.5"
    max_discrepancy: float = 1e-9

    def __attrs_post_init__(self):
        check_positive(self, ("population", "train_mazes", "eval_mazes", "size"))
        if not self.max_discrepancy > 0:
            raise ParameterError(f"max_discrepancy={self.max_discrepancy!r} must be positive, e.g. 1e-9")
        self.train_distribution()
        self.deploy_distribution()

    def train_distribution(self) -> MazeDistribution:
        return knob_distribution(self, "train", self.size)

    def deploy_distribution(self) -> MazeDistribution:
        return knob_distribution(self, "deploy", self.size)


def intended_goal(mazes) -> Objective:
    """The researcher's objective on states ``[K, T, M, 2]``: moves to the exit, mean over mazes.

    Example:
        >>> m = MazeDistribution(size=3).sample(1, seed=0)
        >>> float(intended_goal(m)(np.array([[[m[0].exit]]]))[0, 0])
        0.0
    """
    return exit_distance_objective(mazes, description="moves from the agent's cell to the exit, mean over mazes "
                                                      "(intended goal: leave the maze)")


def seen_goal(mazes) -> Objective:
    """The objective the researcher gives the agent: the exit distance where the agent sees the exit,
    0 (no signal) in mazes whose exit is hidden; mean over mazes, states ``[K, T, M, 2]``.

    Example:
        >>> m = MazeDistribution(size=3, exit_visible=0.0).sample(1, seed=0)
        >>> float(seen_goal(m)(np.array([[[m[0].entrance]]]))[0, 0])
        0.0
    """
    return cell_objective("seen_exit_distance", mazes, lambda m: m.distances() * float(m.exit_visible),
                          "moves to the exit where the agent can see it, 0 where hidden (the objective given to the agent)")


def _edge_identity(m, chain_leaf: str, parent: str, child: str, po: str, co: str) -> float:
    """max over copies of |C(parent objective) - alpha * C(child objective)| / |C(parent objective)|."""
    a = np.asarray(m.alignment(parent, child, chain_leaf).alignment.per_copy)
    Cp = np.asarray(m.capability(chain_leaf, po).capability.per_copy)
    Cc = np.asarray(m.capability(chain_leaf, co).capability.per_copy)
    ok = np.isfinite(a) & np.isfinite(Cp) & np.isfinite(Cc)
    if not ok.any():
        return math.nan
    err = np.abs(Cp[ok] - a[ok] * Cc[ok]) / np.maximum(np.abs(Cp[ok]), np.finfo(float).tiny)
    return float(err.max())


def every_copy_positive(text: str, name: str, figure: Spread) -> Claim:
    """Claim "x_k > 0 in every copy k" of a figure with per-copy errors: the conjunction of the
    copies' claims x_k > 2 e_k (:meth:`hierarchy.report.Claim.all_of`: fails when one copy is
    clearly <= 0, undecided when one is within its error). Margin and resolution: the
    least decided copy's. An undefined copy leaves it undecided (undefined).

    Example:
        >>> every_copy_positive("x > 0", "x", Spread.of([1.0, 2.0], [0.1, 0.1])).verdict
        'holds'
        >>> every_copy_positive("x > 0", "x", Spread.of([1.0, -2.0], [0.1, 0.1])).verdict
        'fails'
    """
    v = np.asarray(figure.per_copy, dtype=np.float64)
    e = np.asarray(figure.error_per_copy, dtype=np.float64) if len(figure.error_per_copy) else np.zeros(v.shape)
    if v.size == 0:
        return Claim.compare(text, {f"smallest {name}": math.nan}, math.nan, math.nan)
    parts = [Claim.compare(f"{name} of copy {k} > 0", {}, float(x), float(s), rule="")
             for k, (x, s) in enumerate(zip(v, e))]
    joined = Claim.all_of(text, parts, rule=f"every copy's {name} > 2 of its standard errors")
    return attrs.evolve(joined, numbers={f"smallest {name}": float(np.nanmin(v)) if np.isfinite(v).any() else math.nan,
                                         f"copies with {name} undefined": float(np.sum(~np.isfinite(v))),
                                         "copies": float(v.size)},
                        rule=f"every copy's {name} > 2 of its own standard errors (the limit estimator's); the "
                             f"least decided copy's margin and resolution")


def every_copy_defined(text: str, figure: Spread) -> Claim:
    """Claim "defined in every copy": a count, exact. margin = defined - (K - 1/2) (counts are
    integers: positive iff every copy is defined).

    Example:
        >>> every_copy_defined("a defined", Spread.of([1.0, float("nan")])).verdict
        'fails'
    """
    K, n = figure.K, figure.n
    return Claim.exact(text, {f"copies defined ({text})": float(n), "copies": float(K)}, margin=n - (K - 0.5),
                       rule="copies defined = copies (an integer count: margin defined - (copies - 1/2))")


@scenario("researcher-agent-subagent", "seed 003: researcher -> agent -> planner sub-agent on the maze, "
          "capability propagated as the product of alignments", ThreeLevelsParams, default_steps=40)
def run(options: RunOptions, p: ThreeLevelsParams) -> ScenarioResult:
    steps = int(options.steps)
    K = p.population
    train, deploy = p.train_distribution(), p.deploy_distribution()
    gd = PlannerTraining(train, K, PlannerSpec(n_mazes=p.train_mazes, stop=StopRule(max_steps=steps)))
    mazes = tuple(deploy.sample(p.eval_mazes, named_seed(options.seed, "deployment-mazes")))
    budget = default_budget(mazes[0])
    built = {}

    def deploy_planners(population):
        built["planner"] = PlannerEpisodes(population, mazes, records=("mesa",))
        return built["planner"]

    graph = DelegationGraph([
        OptimizerNode("researcher", intended_goal(mazes), role="researcher (human)",
                      description="intended goal: leave the maze"),
        OptimizerNode("agent", seen_goal(mazes), role="trained agent",
                      description="the objective the researcher gives it: reach the exit as it sees it"),
        OptimizerNode("planner", Objective("mesa", "minus the planner's learned reward of its cell, mean over mazes"),
                      leaf=Produced("gradient-descent", build=deploy_planners, records=("mesa",), steps=budget,
                                    step_unit="move", description="the planners gradient descent trained, deployed"),
                      role="planner (sub-agent, mesa-optimizer)",
                      description="value iteration over the reward network gradient descent trained"),
        OptimizerNode("designer", Objective("L", "training loss: NLL of the shortest-path expert's moves + weight decay"),
                      role="researcher as the author of the training loss"),
        OptimizerNode("gradient-descent", Objective("G", "squared gradient norm of L (true objective of gradient descent)"),
                      leaf=gd, role="gradient descent (Adam)", description="trains the planner's reward network"),
    ], [("researcher", "agent"), ("agent", "planner"), ("designer", "gradient-descent")])
    runs = run_graph(graph, steps, options.seed)
    pop, leaf = runs["gradient-descent"].trajectory.product, built["planner"]
    m = measure(graph, runs, options.estimator)

    prod = [x for x in m.products if x.chain[-1] == "planner"][0]
    gd_prod = [x for x in m.products if x.chain[-1] == "gradient-descent"][0]
    a1 = m.alignment("researcher", "agent")
    a2 = m.alignment("agent", "planner")
    C = {o: m.capability("planner", o).capability for o in ("exit_distance", "seen_exit_distance", "mesa")}
    e1 = _edge_identity(m, "planner", "researcher", "agent", "exit_distance", "seen_exit_distance")
    e2 = _edge_identity(m, "planner", "agent", "planner", "seen_exit_distance", "mesa")
    bound = p.max_discrepancy
    gd_C = {o: m.capability("gradient-descent", o).capability for o in ("L", "G")}
    claims = [
        Claim.exact("capability propagates up the chain: C_researcher = alpha(researcher -> agent) * "
                    "alpha(agent -> planner) * C_planner (each side computed independently)",
                    {"C_researcher (median)": prod.direct.median, "product side (median)": prod.product.median,
                     "alpha researcher->agent (median)": a1.alignment.median,
                     "alpha agent->planner (median)": a2.alignment.median, "C_planner (median)": C["mesa"].median,
                     "relative discrepancy (worst copy)": prod.discrepancy, "float-rounding bound": bound},
                    margin=bound - prod.discrepancy,
                    rule=f"an identity up to float rounding: worst copy's relative discrepancy < {bound:g}"),
        Claim.exact("each edge carries capability up one level: C_researcher = alpha(researcher -> agent) * C_agent "
                    "and C_agent = alpha(agent -> planner) * C_planner, copy by copy",
                    {"worst relative error, researcher -> agent": e1, "worst relative error, agent -> planner": e2,
                     "float-rounding bound": bound},
                    margin=bound - max(e1, e2) if math.isfinite(e1) and math.isfinite(e2) else math.nan,
                    rule=f"an identity up to float rounding: worst relative error < {bound:g}"),
        Claim.all_of("the planner makes progress on its own mesa-objective in every copy, so both alignments are "
                     "defined",
                     [every_copy_positive("C_planner > 0 in every copy", "C_planner", C["mesa"]),
                      every_copy_defined("alpha(agent -> planner) defined in every copy", a2.alignment),
                      every_copy_defined("alpha(researcher -> agent) defined in every copy", a1.alignment)],
                     rule="every copy's C_planner > 0 against its error, and every alpha defined (a count)"),
        Claim.all_of("the gradient-descent run that trained the reward network lowered its loss L and its true "
                     "objective G in every copy, and its own delegation product holds",
                     [every_copy_positive("C(L) > 0 in every copy", "C(L)", gd_C["L"]),
                      every_copy_positive("C(G) > 0 in every copy", "C(G)", gd_C["G"]),
                      Claim.exact("delegation product of the training chain",
                                  {"alpha designer->gradient-descent (median)":
                                       m.alignment("designer", "gradient-descent").alignment.median,
                                   "relative discrepancy": gd_prod.discrepancy},
                                  margin=bound - gd_prod.discrepancy, rule=f"relative discrepancy < {bound:g}")],
                     rule=f"every copy's C(L) and C(G) > 0 against their errors, discrepancy < {bound:g}"),
    ]
    edges = Table("alignment of each level with the one above (Definition 2) on the deployment run, median [IQR] "
                  "over copies",
                  ("edge", "base objective", "mesa-objective", "alpha", "normalized alpha", "reads as"),
                  (("researcher -> agent", "exit_distance", "seen_exit_distance", str(a1.alignment), str(a1.normalized),
                    "intent alignment of the agent's given objective with the intended goal (seed 003)"),
                   ("agent -> planner", "seen_exit_distance", "mesa", str(a2.alignment), str(a2.normalized),
                    "inner alignment between the agent and the mesa-optimizer inside it (seed 003)")))
    product = Table("the delegation product on the three-level chain (Definition 2, delegation product)",
                    ("C_researcher (direct)", "alpha1 * alpha2 * C_planner", "relative discrepancy (worst copy)",
                     "C_agent", "C_planner"),
                    ((str(prod.direct), str(prod.product), prod.discrepancy, str(C["seen_exit_distance"]),
                      str(C["mesa"])),))
    dep = leaf.deploy(budget, named_seed(options.seed, "planner"))
    kinds = []
    for vis in (True, False):
        for green in (True, False):
            idx = [j for j, mz in enumerate(mazes) if mz.exit_visible == vis and mz.green_by_exit == green]
            if idx:
                s = dep.success[:, idx].mean(1)
                kinds.append([f"exit {'visible' if vis else 'hidden'}, {'green' if green else 'no green'} by the exit",
                              len(idx), str(Spread.of(s))])
    behaviour = Table("what the planners did on the deployment mazes: share of mazes whose exit they reach, by kind "
                      "(median [IQR] over copies)", ("mazes", "count", "exit reached"), tuple(kinds))
    probe = pop.reward_probe()
    mesa_table = Table("the planner's mesa-objective: learned reward at canonical cells (median [IQR] over copies)",
                       ("cell", "learned reward"), tuple([k, str(Spread.of(v))] for k, v in probe.items()))
    tables = [edges, product, behaviour, mesa_table]
    notes = [f"claim {c.label} on this run: {c.text}" for c in claims if c.holds is not True]
    choices = {"estimator": str(options.estimator), "training distribution": describe_distribution(train),
               "deployment distribution": describe_distribution(deploy),
               "objectives": "raw (moves; minus learned reward): alpha is not scale-free, the normalized alpha is "
                             "shown beside it", "planner deployment budget": f"{budget} moves"}
    node_attrs = {"planner": {"C_mesa_median": C["mesa"].median},
                  "researcher": {"C_exit_distance_median": C["exit_distance"].median,
                                 "product_of_alphas_times_C_planner": prod.product.median}}
    edge_attrs = {("researcher", "agent"): {"reads_as": "intent alignment (seed 003)"},
                  ("agent", "planner"): {"reads_as": "inner alignment (seed 003)"}}
    report = build_report("researcher-agent-subagent", graph, runs, options.estimator, seed=options.seed, steps=steps,
                          choices=choices, claims=claims, tables=tables, notes=notes, measurements=m,
                          node_attributes=node_attrs, edge_attributes=edge_attrs)
    panels = tuple(MazePanel(mazes[j], f"maze {j}: exit reached by {int(dep.success[:, j].sum())}/{K}",
                             paths=dep.positions[:, j]) for j in range(min(4, len(mazes))))
    plots = objective_plots(graph, runs, f"researcher-agent-subagent (seed {options.seed}, {K} copies): median and IQR "
                                         f"over copies", m,
                            descriptions={"nll": "NLL of the shortest-path expert's moves (L without the weight decay)"})
    verdicts = ["claims:"] + [f"[{c.label}] {c.text}" for c in claims]
    plots["mazes.png"] = lambda path: plot_maze_rows(path, [("deployment", panels)], notes=verdicts,
                                                     title="researcher -> agent -> planner: the planners' paths "
                                                           "on deployment mazes")
    return ScenarioResult(report, graph, trajectory_arrays(runs), plots)
