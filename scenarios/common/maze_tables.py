"""The tables, claims and node attributes of a measured maze example.

Each function turns measured figures (scenarios.common.maze_evidence) into report parts:
the verdict table with seed 002's verdict beside each, the numbers behind each verdict,
base-objective performance and capability, alpha per distribution, the evidence, the
delegation-product claim and the run's choices.
"""

from __future__ import annotations

import math
from typing import Sequence

import attrs

from agents.maze.soft_kernel import soft_engine
from hierarchy.figures import format_number
from hierarchy.inner_alignment import SPLIT, Evidence, Thresholds
from hierarchy.measure import Measurements
from hierarchy.report import Claim, Table

from scenarios.common.maze_evidence import DistributionFigures, median, spread
from scenarios.common.maze_setup import describe_distribution
from scenarios.common.seed_002 import agrees_with_seed_002, seed_002_expectation

__all__ = ["DECIDING", "seed_text", "verdict_table", "numbers_table", "product_claim", "node_attributes",
           "performance_table", "alpha_table", "evidence_table", "choices", "findings"]


def seed_text(want) -> str:
    return "no claim" if want is None else want[0] + (f" ({want[1]})" if want[1] else "")


def verdict_table(number, verdicts, copy_verdicts) -> Table:
    rows = []
    for v in verdicts:
        agree = agrees_with_seed_002(number, v)
        lo, hi = v.interval
        rows.append([v.definition, v.verdict, v.kind or "" if v.verdict != SPLIT else "", v.shares(),
                     f"[{lo:.2f}, {hi:.2f}]", seed_text(seed_002_expectation(number, v.definition)),
                     "" if agree is None else ("agrees" if agree else "split" if v.verdict == SPLIT else "DISAGREES")])
    return Table("verdicts decided copy by copy: the example's verdict is the majority verdict when the Wilson 95% "
                 "interval of its share of copies excludes 1/2, split otherwise; seed 002's verdict beside each",
                 ("definition", "verdict", "kind", "copies", "majority 95%", "seed 002", "run vs seed"), tuple(rows))


#: The numbers that decide each definition's verdict (keys of its Verdict.numbers), shown in tables.
DECIDING = {
    "objective-focused": ("ratio_train", "ratio_deploy"),
    "generalization-focused": ("objective_train", "objective_deploy", "capability_generalization"),
    "optimization-focused": ("ratio_train", "ratio_deploy", "capability_generalization"),
    "alpha-robust": ("min_alpha", "worst_relative_change", "undefined"),
}


def numbers_table(verdicts) -> Table:
    rows = [[v.definition, ", ".join(f"{k} = {format_number(v.numbers[k])}" for k in DECIDING[v.definition]
                                     if k in v.numbers), "; ".join(v.reasons)] for v in verdicts]
    return Table("the numbers behind each definition's verdicts (median over copies; the verdicts are per copy) "
                 "and the reasons of undecided copies", ("definition", "numbers", "undecided because"), tuple(rows))


def product_claim(m: Measurements) -> Claim:
    worst = max((p.discrepancy for p in m.products), default=math.nan)
    return Claim.exact("delegation product: C_root = (product of alignments) * C_leaf on every chain",
                       {f"discrepancy {' -> '.join(p.chain)}": p.discrepancy for p in m.products},
                       1e-9 - worst, rule="largest relative discrepancy below 1e-09 (float rounding)")


def node_attributes(verdicts, copy_verdicts, extra: dict) -> dict:
    out = dict(extra)
    for v in verdicts:
        out[f"verdict[{v.definition}]"] = v.verdict
        if v.kind and v.verdict != SPLIT:
            out[f"kind[{v.definition}]"] = v.kind
        out[f"copies[{v.definition}]"] = v.shares()
        out[f"copies_agreeing[{v.definition}]"] = f"{v.count(v.majority)}/{v.n}"
    return out


def performance_table(figs: Sequence[DistributionFigures], own: str) -> Table:
    rows = []
    for f in figs:
        rows.append([f.label, describe_distribution(f.distribution), spread(f.success), format_number(f.reference),
                     spread(f.ratio), spread(f.attainment),
                     " / ".join(format_number(median(f.outcomes[k])) for k in ("exit", "decoy", "elsewhere"))])
    return Table(f"base-objective performance (share of mazes whose exit is reached; median [IQR] over copies) and "
                 f"capability (share of episodes attaining the optimum of {own})",
                 ("distribution", "mazes", "system success", "base-objective optimizer", "ratio",
                  "attains own optimum", "ends at exit / decoy / elsewhere"), tuple(rows))


def alpha_table(rows) -> Table:
    return Table("alignment (Definition 2) of the base objective exit_share with the system's own objective, per "
                 "distribution: the family Harris's alpha-robust measure reads (median [IQR] over copies; relative "
                 "change of the median from the training distribution's)",
                 ("distribution", "edge", "alpha", "relative change"), tuple(rows))


def choices(options, th: Thresholds, p, system: str) -> dict:
    out = {"estimator": str(options.estimator),
           "thresholds": f"impact {th.impact:g}, capability {th.capability:g}, similarity {th.similarity:g}, "
                         f"drop {th.drop:g}, alpha {th.alpha:g}, alpha_change {th.alpha_change:g}",
           "evidence of the example": "medians over copies of each measured number; verdicts by "
                                      "hierarchy.inner_alignment.judge_all",
           "base-objective optimizer": "shortest path to the exit (sees the exit, hidden or not)",
           "alpha objectives": "exit_share and the system's own objective as shares of the way to their optimum"}
    if system == "planner":
        out["behavioral objective"] = (f"max-ent IRL on the first {p.irl_mazes} mazes, at most {p.irl_steps} BFGS steps "
                                       f"(gradient norm tolerance {p.irl_tol:g}), horizon min(T - 1, cells); "
                                       "similarity = centred cosine of reward maps with the objective recovered "
                                       + ("from the base-objective optimizer" if p.similarity_reference == "optimizer"
                                          else "the base objective (exit)"))
        out["capability"] = f"share of episodes attaining the optimum of its learned reward (tolerance {p.optimum_tolerance:g})"
        out["planning budget"] = ("exact value iteration everywhere" if not p.deploy_planning_horizon else
                                  f"exact on the training distribution; {p.deploy_planning_horizon} moves of look-ahead "
                                  f"on the deployment distributions")
        out["mesa-objective's impact alignment"] = (f"success of exact planning on the learned reward with "
                                                    f"{p.mesa_budget_factor} x cells moves (mesa_optimal_*)")
        out["soft value iteration"] = soft_engine()  # of the planners' training and of IRL (equal to float rounding)
    else:
        out["behavioral objective"] = ("the number of copies (replicate_share); IRL over paths does not apply to a "
                                       "set of cells: the generalization-focused rule reads performance / reference")
        out["capability"] = "share of episodes replicating up to the limit (or stopped at the exit)"
    return out


def evidence_table(e: Evidence, copies) -> Table:
    rows = []
    for f in attrs.fields(Evidence):
        if f.name == "system":
            continue
        v = getattr(e, f.name)
        per = [getattr(c, f.name) for c in copies]
        fmt = lambda x: ("(" + ", ".join(format_number(y) for y in x) + ")" if isinstance(x, tuple) else
                         "none" if x is None else str(x) if isinstance(x, bool) else format_number(x))
        rows.append([f.name, fmt(v), " ".join(fmt(x) for x in per)])
    return Table("evidence (hierarchy.inner_alignment.Evidence): the example's (medians over copies) and each copy's",
                 ("field", "example", "per copy"), tuple(rows))




def findings(claims) -> list:
    """A note for every claim the run does not support or leaves undecided."""
    out = []
    for c in claims:
        if c.holds is False:
            out.append(f"finding: the run does not support: {c.text}")
        elif c.holds is None:
            out.append(f"finding: the run leaves undecided: {c.text}")
    return out
