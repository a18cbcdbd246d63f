"""Measuring seed 002's Example 5: the self-replicator, a trained system that is not a mesa-optimizer.

Its training is a search over its copy limit (each copy gets the smallest limit that reaches
the exit in every one of its small training mazes); the graph deploys the trained
replicators on the training distribution, the deployment distribution and a larger one, one
step a division. IRL over single paths does not apply to a set of occupied cells, so the
generalization-focused rule reads the base-objective ratio.
"""

from __future__ import annotations

import math

import numpy as np

from agents.maze.env import default_budget
from agents.maze.episodes import ReplicatorEpisodes, select_limits
from agents.maze.policies import ShortestPath
from agents.maze.rollout import rollout
from hierarchy.figures import format_number
from hierarchy.graph import DelegationGraph, OptimizerNode
from hierarchy.measure import measure
from hierarchy.objective import Objective
from hierarchy.report import Table
from hierarchy.seeding import named_seed

from hierarchy.run import run_graph
from scenarios.common.maze_evidence import DistributionFigures, ExampleOutcome, alphas, judge, median, spread
from scenarios.common.maze_plots import MazePanel
from scenarios.common.maze_setup import Example5Params, describe_distribution
from scenarios.common.maze_tables import (alpha_table, choices, evidence_table, findings, node_attributes,
                                          numbers_table, performance_table, product_claim, verdict_table)
from scenarios.common.seed_002 import READINGS, seed_claims

__all__ = ["measure_replicator_example"]


def measure_replicator_example(options, p: Example5Params) -> ExampleOutcome:
    """Run Example 5 (the self-replicator) through its graph and judge it by every definition.

    Training is the limit search (agents.maze.episodes.select_limits, ``options.steps``
    the largest limit tried, default 100); the graph designer -> replicator-on-train,
    replicator, replicator-on-larger deploys the trained replicators, each leaf for 2 x cells
    divisions of its own mazes (each leaf's ``own_steps``, through ``run_graph``).
    """
    steps = int(options.steps if options.steps is not None else 100)
    K = p.population
    train, deploy, larger = p.train_distribution(), p.deploy_distribution(), p.larger_distribution()
    search = select_limits(train, K, p.train_mazes, named_seed(options.seed, "limit-search"), steps)
    mazes = {"replicator-on-train": tuple(train.sample(p.eval_mazes, named_seed(options.seed, "training-mazes"))),
             "replicator": tuple(deploy.sample(p.eval_mazes, named_seed(options.seed, "deployment-mazes"))),
             "replicator-on-larger": tuple(larger.sample(p.eval_mazes, named_seed(options.seed, "larger-mazes")))}
    labels = {"replicator-on-train": "training", "replicator": "deployment", "replicator-on-larger": "larger deployment"}
    dists = {"replicator-on-train": train, "replicator": deploy, "replicator-on-larger": larger}
    E = Objective("exit_share", "share of the way to the exit still to go, nearest copy (base objective)")
    R = Objective("replicate_share", "share of copies missing to its limit (behavioral objective: replicate)")
    leaves = {name: ReplicatorEpisodes(tuple(search.limits), ms, own_steps=default_budget(ms[0]))
              for name, ms in mazes.items()}
    nodes = [OptimizerNode("designer", E, role="designer (base objective)", description="wants the maze exited")]
    for name, leaf in leaves.items():
        nodes.append(OptimizerNode(name, R, leaf=leaf, role="self-replicator (not a mesa-optimizer)",
                                   description=f"the trained replicators on {labels[name]} mazes"))
    graph = DelegationGraph(nodes, [("designer", n) for n in leaves])
    budgets = {name: leaf.own_steps for name, leaf in leaves.items()}
    runs = run_graph(graph, max(budgets.values()), options.seed)
    figs = {}
    for name, leaf in leaves.items():
        dep = leaf.deploy(budgets[name], named_seed(options.seed, name))
        expert = rollout(ShortestPath(), leaf.mazes, seed=named_seed(options.seed, f"{name}-expert"), budget=budgets[name])
        succ = dep.success.mean(1)
        outcomes = {"exit": succ, "decoy": np.zeros(K), "elsewhere": 1.0 - succ}
        panels = tuple(MazePanel(leaf.mazes[j], f"maze {j}: exit {'reached' if dep.success[0, j] else 'missed'}",
                                 occupied=dep.occupied[0, -1, j]) for j in range(min(4, len(leaf.mazes))))
        figs[name] = DistributionFigures(labels[name], name, dists[name], succ, float(expert.success.mean()),
                                         dep.attained().mean(1), outcomes, panels=panels)
    m = measure(graph, runs, options.estimator)
    th = p.thresholds()
    a_train = alphas(m, "designer", "replicator-on-train")
    variations = (alphas(m, "designer", "replicator"), alphas(m, "designer", "replicator-on-larger"))
    evidence, copies, verdicts, copy_verdicts = judge("maze-example-5 self-replicator", False,
                                                       figs["replicator-on-train"], figs["replicator"],
                                                       a_train, variations, th, K)
    tables = [Table("training: the smallest copy limit that reaches the exit in all of its training mazes",
                    ("copy", "limit", "success on its training mazes", "candidates tried"),
                    tuple([k, int(search.limits[k]), float(search.train_success[k]),
                           int(np.isfinite(search.failure[k]).sum())] for k in range(K))),
              performance_table(list(figs.values()), "its behavioral objective (replicate up to its limit)")]
    base_alpha = median(a_train)
    alpha_rows = []
    for name in leaves:
        a = alphas(m, "designer", name)
        rc = abs(median(a) - base_alpha) / abs(base_alpha) if base_alpha else math.nan
        alpha_rows.append([f"{labels[name]} ({describe_distribution(dists[name])})", f"designer -> {name}", spread(a),
                           format_number(rc)])
    tables.append(alpha_table(alpha_rows))
    tables.append(verdict_table(5, verdicts, copy_verdicts))
    tables.append(numbers_table(verdicts))
    tables.append(evidence_table(evidence, copies))
    claims = seed_claims(5, verdicts, copy_verdicts) + [product_claim(m)]
    notes = ["the self-replicator searches for nothing (agents/replicator.py): it is not a mesa-optimizer; IRL over "
             "single paths does not apply to a set of occupied cells, so no similarity is measured and the "
             "generalization-focused rule reads the base-objective ratio", f"reading of seed 002: {READINGS[5]}"]
    notes += findings(claims)
    node_extra = {"is_mesa_optimizer": False, "limit_median": median(search.limits),
                  "success_train": median(figs["replicator-on-train"].success),
                  "success_deploy": median(figs["replicator"].success),
                  "capability_generalization": evidence.capability_generalization, "alpha_train": evidence.alpha}
    node_attrs = {"replicator": node_attributes(verdicts, copy_verdicts, node_extra)}
    edge_attrs = {("designer", "replicator"): {"alpha_robust": verdicts[3].verdict,
                                               "min_alpha": verdicts[3].numbers.get("min_alpha", math.nan)}}
    who = f"copy 0, limit {int(search.limits[0])}"
    panels = ((f"training ({who})", figs["replicator-on-train"].panels),
              (f"deployment ({who})", figs["replicator"].panels))
    made = choices(options, th, p, "replicator") | {"training": "smallest limit reaching every training exit",
                                                        "training distribution": describe_distribution(train),
                                                        "deployment distribution": describe_distribution(deploy),
                                                        "larger variation": describe_distribution(larger)}
    return ExampleOutcome(5, "replicator", p, th, evidence, copies, verdicts, copy_verdicts, graph, runs, m, figs,
                          tuple(tables), tuple(claims), tuple(notes), node_attrs, edge_attrs, panels, made, steps)
