"""Measuring a planner example of seed 002 (Examples 1-4 and 6): one delegation graph, run once.

The graph: trainer -> gradient-descent (the base optimizer's run: Adam trains the reward
network, L and its true objective G, one step a gradient step) and designer -> planner,
planner-on-train, planner-on-larger: the trained planners deployed on three distributions,
each node's leaf ``Produced("gradient-descent", build=...)`` from the trained population
(the product of gradient descent's run; one step a move). "Gradient descent trains the
planner" is therefore an edge of kind ``produces`` of the graph, measured and exported with
it. :func:`planner_graph` builds it, ``hierarchy.run.run_graph`` runs it; the evidence is
then read from the same runs (scenarios.common.maze_evidence).
"""

from __future__ import annotations

import math
import threading

import attrs
import numpy as np

from agents.maze.env import default_budget
from agents.maze.episodes import PlannerEpisodes
from agents.maze.planner import PlannerSpec, StopRule
from agents.maze.planner_training import PlannerTraining
from agents.maze.reachability import classify_behaviour, conflict_mazes, conflict_probe
from hierarchy.figures import Spread, format_number
from hierarchy.graph import DelegationGraph, OptimizerNode
from hierarchy.measure import measure
from hierarchy.objective import Objective
from hierarchy.product import Produced
from hierarchy.report import Claim, Table
from hierarchy.run import run_graph
from hierarchy.seeding import as_seed, child, named_seed

from scenarios.common.maze_evidence import ExampleOutcome, alphas, judge, median, planner_figures, spread
from scenarios.common.maze_setup import MazeExampleParams, describe_distribution
from scenarios.common.maze_tables import (alpha_table, choices, evidence_table, findings, node_attributes,
                                          numbers_table, performance_table, product_claim, verdict_table)
from scenarios.common.seed_002 import READINGS, seed_claims

__all__ = ["LABELS", "planner_graph", "measure_planner_example", "shared"]

#: The deployment nodes and the distribution each stands for.
LABELS = {"planner-on-train": "training", "planner": "deployment", "planner-on-larger": "larger deployment"}


def shared(cache, key, compute):
    """``compute()``, once per ``key`` of the dict ``cache`` (None: computed every time).

    The examples of one compare-definitions run share what they compute alike (Examples 1 and 6
    train the same planners, Examples 2 and 3 too, and every example probes the same conflict
    mazes): each such result is a pure function of its key (the parameters and seeds it is
    drawn from), so computing it once gives the same numbers as computing it per example.
    Thread-safe (the cases of compare-definitions run side by side,
    :mod:`scenarios.machinery.side_by_side`): a key is computed by the first thread that asks
    for it while the others asking for it wait. Each key has its own lock, so a computation may
    ask for other keys (the keys nest in one order in every example: no two wait on each other).
    """
    if cache is None:
        return compute()
    with _CACHE_LOCK:
        once = cache.get(key)
        if once is None:
            once = cache[key] = _Once()
    with once.lock:
        if not once.done:
            once.value = compute()
            once.done = True
    return once.value


_CACHE_LOCK = threading.Lock()


class _Once:
    """A cache entry of :func:`shared`: its value once computed, and the lock of its computation."""

    __slots__ = ("lock", "done", "value")

    def __init__(self):
        self.lock = threading.Lock()
        self.done = False
        self.value = None


@attrs.frozen(eq=False)
class _SharedLeaf:
    """A leaf that runs ``leaf`` once per (steps, seed) for every graph of a run sharing ``cache``
    (:func:`shared`; ``key`` names ``leaf``'s settings)."""

    leaf: object
    cache: dict
    key: tuple

    @property
    def records(self) -> tuple:
        return self.leaf.records

    @property
    def step_unit(self) -> str:
        return self.leaf.step_unit

    def run(self, steps, seed, progress=None):
        ss = as_seed(seed)
        return shared(self.cache, ("run",) + self.key + (int(steps), ss.entropy, tuple(ss.spawn_key)),
                      lambda: self.leaf.run(steps, seed, progress))


def _deployer(built: dict, name: str, mazes, horizon, cache=None, key=()):
    """``build(population) -> PlannerEpisodes`` of node ``name``, kept in ``built`` (the latest build);
    with a ``cache``, one leaf per (``key``, population), so its deployment runs once (it keeps it)."""
    def build(population):
        built[name] = shared(cache, ("episodes", id(population)) + key,
                             lambda: (population, PlannerEpisodes(population, mazes, horizon=horizon)))[1]
        return built[name]
    return build


def planner_graph(training: PlannerTraining, mazes: dict, horizon=None, built: dict = None, cache: dict = None,
                  keys: dict = None) -> DelegationGraph:
    """The example's graph: trainer -> gradient-descent, designer -> each deployment node of ``mazes``
    ({node: mazes}), whose leaf is built from gradient descent's product; ``horizon`` is the
    planning budget off the training distribution (None: exact planning everywhere). ``built``,
    a dict, receives each deployment node's leaf when the run builds it (its episodes are
    then read without deploying again). ``cache`` (a dict shared by the examples of one run;
    :func:`shared`) with ``keys`` ({node: what its mazes are drawn from}): the training and each
    deployment run once for all graphs that ask for the same."""
    built = {} if built is None else built
    L = Objective("L", "training loss gradient descent is given: NLL of the shortest-path expert's moves under the "
                       "soft planner + weight decay")
    G = Objective("G", "squared gradient norm of L (true objective of gradient descent)")
    E = Objective("exit_share", "share of the way to the exit still to go (base objective: leave the maze)")
    Mo = Objective("mesa_share", "share of the way to the best cell of its learned reward still to go (mesa-objective)")
    nodes = [OptimizerNode("trainer", L, role="designer (author of the training loss)",
                           description="hands gradient descent the imitation loss of shortest-path demonstrations"),
             OptimizerNode("gradient-descent", G, leaf=training if cache is None else _SharedLeaf(training, cache,
                                                                                                   ("training", training)),
                           role="gradient descent (Adam), base optimizer",
                           description=f"trains the planners' reward network; {training.spec.stop.describe()}"),
             OptimizerNode("designer", E, role="designer (base objective)", description="wants the maze exited")]
    for name, ms in mazes.items():
        h = None if name == "planner-on-train" else horizon
        key = (name, h) + ((keys or {}).get(name, (id(ms),)),)
        deploy = Produced("gradient-descent", build=_deployer(built, name, ms, h, cache, key),
                          records=("exit_share", "mesa_share", "exit_distance"),
                          steps=default_budget(ms[0]), step_unit="move",
                          description="the planners gradient descent trained, deployed")
        nodes.append(OptimizerNode(name, Mo, leaf=deploy, role="planner (learned mesa-optimizer)",
                                   description=f"the trained planners deployed on {LABELS[name]} mazes"))
    return DelegationGraph(nodes, [("trainer", "gradient-descent")] + [("designer", n) for n in mazes])


def _reachability(pop, size: int, p, seed: int, cache=None) -> tuple:
    """Seed 001's reachability classes of the copies on conflict mazes, and their shares (the conflict
    mazes drawn once per run sharing ``cache``)."""
    probe = conflict_probe(size)
    cm = shared(cache, ("conflict-mazes", probe, p.probe_mazes, seed),
                lambda: conflict_mazes(probe, p.probe_mazes, named_seed(seed, "conflict-mazes")))
    cseed = named_seed(seed, "conflict-deployment")
    classes = classify_behaviour(pop.deploy(cm["decoy_nearer"], child(cseed, 0)),
                                 pop.deploy(cm["exit_nearer"], child(cseed, 1)))
    return probe, classes, {c: float(np.mean(classes == c)) for c in ("exit", "proxy", "nearer", "neither")}


def _irl_table(figs, p) -> Table:
    rows = []
    for f in figs.values():
        if f.irl_weights is None:
            continue
        w = np.median(f.irl_weights, axis=0)
        rows.append([f.label, " / ".join(format_number(x) for x in w),
                     " / ".join(format_number(x) for x in f.optimizer_weights), spread(f.weight_cos),
                     spread(f.base_similarity), format_number(f.reference_similarity),
                     spread(f.optimizer_similarity), spread(f.mesa_similarity)])
    return Table(
        "behavioral objective recovered by max-ent IRL (reward linear in the designer's features [green, "
        "right_of_green, exit]; median [IQR] over copies). Similarities are cosines of reward maps over the "
        "distribution's cells, each maze centred: with the base objective (reward 1 on the exit), for the system "
        "and for the base-objective optimizer (shortest path); with the objective IRL recovers from that optimizer "
        f"(the evidence reads {'this one' if p.similarity_reference == 'optimizer' else 'the base-objective one'}); "
        "and with the planner's own learned reward (its true mesa-objective)",
        ("distribution", "system weights", "optimizer weights", "weight cosine to exit-only",
         "similarity to base objective", "same, base-objective optimizer", "similarity to optimizer's objective",
         "similarity to mesa-objective"), tuple(rows))


def _full_training_claim(p, th, spec, K, steps, train, mazes, figs, options, train_rows) -> Claim:
    """Example 4: the same copies trained to the end (a reference run beside the graph), and the claim
    that the failure seen in training is one of imperfect optimization."""
    full_pop = PlannerTraining(train, K, attrs.evolve(spec, stop=StopRule(max_steps=steps))).train(
        steps, named_seed(options.seed, "gradient-descent"))
    ref_leaf = PlannerEpisodes(full_pop, mazes["planner-on-train"])
    full_dep = ref_leaf.deploy(default_budget(mazes["planner-on-train"][0]), named_seed(options.seed, "planner-on-train"))
    full = full_dep.success.mean(1) / figs["planner-on-train"].reference
    train_rows.append(["reference: the same copies trained to the end", StopRule(max_steps=steps).describe(),
                       " ".join(str(int(s)) for s in full_pop.stopped_at), spread(full_pop.train_success),
                       format_number(full_pop.seconds)])
    early = figs["planner-on-train"].ratio
    s_full, s_early = Spread.of(full), Spread.of(early)
    return Claim.all_of(
        "the failure visible in training is one of imperfect optimization: the same copies, trained to the end, "
        "are impact-aligned on the training distribution",
        [Claim.compare("trained to the end: median ratio on training >= impact threshold",
                       {"ratio on training, trained to the end (median)": s_full.median,
                        "impact threshold": th.impact}, s_full.median - th.impact, s_full.standard_error,
                       rule="median(full) - impact against 2 bootstrap standard errors of the median"),
         Claim.compare("stopped early: median ratio on training < impact threshold",
                       {"ratio on training, stopped early (median)": s_early.median},
                       th.impact - s_early.median, s_early.standard_error,
                       rule="impact - median(early) against 2 bootstrap standard errors of the median")],
        rule="ratio(full training) >= impact > ratio(early stop)")


def measure_planner_example(number: int, options, p: MazeExampleParams, cache: dict = None) -> ExampleOutcome:
    """Run planner Example ``number`` through its graph and judge it by every definition.

    ``options.steps`` gradient-descent steps (default 40); every deployment node moves
    2 x cells (its own time axis). ``cache``: a dict shared by the examples of one run, so that
    what two examples compute alike (their mazes, training, deployments, figures and conflict
    mazes, drawn from the same parameters and seeds) is computed once (:func:`shared`); the
    numbers are the same with or without it.
    """
    steps = int(options.steps if options.steps is not None else 40)
    K = p.population
    train, deploy, larger = p.train_distribution(), p.deploy_distribution(), p.larger_distribution()
    stop = (StopRule(max_steps=steps, success_at_least=p.stop_success, min_steps=p.stop_min_steps)
            if p.early_stop else StopRule(max_steps=steps))
    spec = PlannerSpec(n_mazes=p.train_mazes, stop=stop)
    dists = {"planner-on-train": train, "planner": deploy, "planner-on-larger": larger}
    draws = {"planner-on-train": "training-mazes", "planner": "deployment-mazes", "planner-on-larger": "larger-mazes"}
    keys = {name: (dists[name], p.eval_mazes, options.seed, draws[name]) for name in dists}
    mazes = {name: shared(cache, ("mazes",) + keys[name],
                          lambda name=name: tuple(dists[name].sample(p.eval_mazes, named_seed(options.seed, draws[name]))))
             for name in dists}
    built = {}
    horizon = p.deploy_planning_horizon or None
    graph = planner_graph(PlannerTraining(train, K, spec), mazes, horizon, built, cache, keys)
    runs = run_graph(graph, steps, options.seed)
    pop = runs["gradient-descent"].trajectory.product
    # what planner_figures reads of p, so that two examples asking the same share the figures
    reads = (p.irl_mazes, p.irl_steps, p.irl_tol, p.mesa_budget_factor, p.optimum_tolerance, p.similarity_reference)
    figs = {name: shared(cache, ("figures", id(pop), name, None if name == "planner-on-train" else horizon, keys[name])
                         + reads,
                         lambda name=name: (pop, planner_figures(LABELS[name], name, built[name], dists[name],
                                                                 options.seed, p, irl=name != "planner-on-larger")))[1]
            for name in mazes}
    m = measure(graph, runs, options.estimator)
    th = p.thresholds()
    a_train = alphas(m, "designer", "planner-on-train")
    variations = (alphas(m, "designer", "planner"), alphas(m, "designer", "planner-on-larger"))
    evidence, copies, verdicts, copy_verdicts = judge(f"maze-example-{number} planner", True, figs["planner-on-train"],
                                                      figs["planner"], a_train, variations, th, K)
    probe, classes, fractions = shared(cache, ("reachability", id(pop), train.size, p.probe_mazes, options.seed),
                                       lambda: (pop, _reachability(pop, train.size, p, options.seed, cache)))[1]

    dep_fig = figs["planner"]
    tables = [performance_table(list(figs.values()), "its learned reward (mesa-objective)"), _irl_table(figs, p),
              Table("mesa-objective: the learned reward at canonical cells (median [IQR] over copies)",
                    ("cell", "learned reward"), tuple([k, spread(v)] for k, v in pop.reward_probe().items())),
              Table(f"reachability (seed 001): what each copy pursues on conflict mazes ({p.probe_mazes} with a decoy "
                    f"nearer, {p.probe_mazes} with the exit nearer; {describe_distribution(probe)})",
                    ("exit", "proxy", "nearer", "neither", "per copy"),
                    ((fractions["exit"], fractions["proxy"], fractions["nearer"], fractions["neither"],
                      " ".join(classes)),))]
    base_alpha = median(a_train)
    alpha_rows = []
    for name in LABELS:
        a = alphas(m, "designer", name)
        rc = abs(median(a) - base_alpha) / abs(base_alpha) if base_alpha else math.nan
        alpha_rows.append([f"{LABELS[name]} ({describe_distribution(figs[name].distribution)})", f"designer -> {name}",
                           spread(a), format_number(rc)])
    tables.append(alpha_table(alpha_rows))
    train_rows = [["gradient-descent", stop.describe(), " ".join(str(int(s)) for s in pop.stopped_at),
                   spread(pop.train_success), format_number(pop.seconds)]]
    claims = seed_claims(number, verdicts, copy_verdicts) + [product_claim(m)]
    if p.full_training_reference and p.early_stop:
        claims.append(_full_training_claim(p, th, spec, K, steps, train, mazes, figs, options, train_rows))
    tables.insert(0, Table("training of the reward network (the base optimizer's run)",
                           ("run", "stop rule", "stopped at step (per copy)", "success on its training mazes",
                            "seconds"), tuple(train_rows)))
    tables += [verdict_table(number, verdicts, copy_verdicts), numbers_table(verdicts), evidence_table(evidence, copies)]
    notes = [f"reading of seed 002: {READINGS[number]}"] if number in READINGS else []
    notes.append("the planner is a mesa-optimizer by construction (value iteration over its learned reward); it "
                 f"scores {format_number(median(dep_fig.mesa_gap))} (median over copies of the median over mazes) more "
                 "under its learned reward (discounted return) on its own deployment paths than on the shortest route "
                 "to the exit")
    notes += findings(claims)
    node_extra = {"is_mesa_optimizer": True, "success_train": median(figs["planner-on-train"].success),
                  "success_deploy": median(dep_fig.success), "capability_generalization": evidence.capability_generalization,
                  "similarity_train": evidence.similarity_train, "similarity_deploy": evidence.similarity_deploy,
                  "alpha_train": evidence.alpha, "fraction_exit": fractions["exit"], "fraction_proxy": fractions["proxy"],
                  "fraction_nearer": fractions["nearer"], "fraction_neither": fractions["neither"]}
    node_attrs = {"planner": node_attributes(verdicts, copy_verdicts, node_extra),
                  "gradient-descent": {"stop_rule": stop.describe(), "stopped_at_median": median(pop.stopped_at)}}
    edge_attrs = {("designer", "planner"): {"alpha_robust": verdicts[3].verdict,
                                            "min_alpha": verdicts[3].numbers.get("min_alpha", math.nan)}}
    panels = ((f"training ({K} copies)", figs["planner-on-train"].panels), (f"deployment ({K} copies)", dep_fig.panels))
    made = choices(options, th, p, "planner") | {"stop rule": stop.describe(),
                                                 "training distribution": describe_distribution(train),
                                                 "deployment distribution": describe_distribution(deploy),
                                                 "larger variation": describe_distribution(larger)}
    return ExampleOutcome(number, "planner", p, th, evidence, copies, verdicts, copy_verdicts, graph, runs, m,
                          figs, tuple(tables), tuple(claims), tuple(notes), node_attrs, edge_attrs, panels, made,
                          steps)
