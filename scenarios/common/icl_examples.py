"""The in-context learner's shift families as further examples of ``compare-definitions``.

Beside seed 002's maze examples (whose ``is_mesa_optimizer`` is a structural fact: the
planner is built as value iteration, the replicator without a search), the in-context
learner's four shift families (input scale, noisy labels, distractors only in deployment,
distractors in training; scenarios.common.icl_setup) are judged by the same four
definitions, with ``is_mesa_optimizer`` **measured** per copy (agents.in_context.match).
They run once, on the comparison's first seed (their replication is over the population's
K copies, each with its own seed).
"""

from __future__ import annotations

import attrs
import numpy as np

from hierarchy.decision import wilson_interval
from hierarchy.figures import format_number
from hierarchy.report import Table

from scenarios.common.icl_setup import IclParams, run_icl
from scenarios.common.icl_evidence import judge_family

__all__ = ["ICL_COMPARE", "ICL_QUICK", "IclExamples", "icl_examples", "icl_tables", "icl_notes"]

#: The in-context learner's settings in a full comparison: 4 copies (the fewest whose unanimous
#: verdict has a Wilson 95% interval above 1/2), no trained control (the untrained one is kept),
#: two members per family (the milder and the deployment one), fewer evaluation tasks.
ICL_COMPARE = {"copies": 4, "control_copies": 0, "batch": 1024, "eval_tasks": 1000, "shift_tasks": 300,
               "line_search_tasks": 10000, "snapshot_every": 0, "inner_steps": 20, "interpolation_points": 2,
               "scales": (0.5, 2.0), "noises": (0.5, 1.0), "distractor_counts": (1, 3)}
#: The same with ``--quick``.
ICL_QUICK = ICL_COMPARE | {"batch": 256, "eval_tasks": 500, "shift_tasks": 200, "line_search_tasks": 5000}


@attrs.frozen(eq=False)
class IclExamples:
    """The in-context learner measured for the comparison: its outcome and each family's judgement."""

    outcome: object
    judgements: tuple


def icl_examples(options, thresholds, quick: bool = False, steps: int = 1000) -> IclExamples:
    """Train and measure the in-context learner and judge its shift families (module docstring).

    Parameters
    ----------
    options : RunOptions
        Its seed and estimator.
    thresholds : ThresholdParams
        The comparison's thresholds of the definitions (shared with the maze examples).
    quick : bool
        :data:`ICL_QUICK` instead of :data:`ICL_COMPARE`.
    steps : int
        Training steps.

    Returns
    -------
    IclExamples
    """
    shared = {n: getattr(thresholds, n) for n in ("impact", "capability", "similarity", "drop", "alpha", "alpha_change")}
    p = IclParams(**(ICL_QUICK if quick else ICL_COMPARE), **shared)
    o = run_icl(attrs.evolve(options, steps=steps, progress=False), p, progress=False)
    th = p.thresholds()
    js = []
    for fam in o.families:
        base, members = o.shift[fam.name]
        js.append(judge_family(fam, base, members, o.match[fam.group], th,
                               "in-context learner" + (" (trained with distractors)" if fam.group == "distractors"
                                                       else "")))
    return IclExamples(o, tuple(js))


def icl_tables(ex: IclExamples) -> tuple:
    """The ICL examples' verdict table (with the copies per verdict) and evidence table."""
    rows, erows = [], []
    for j in ex.judgements:
        for v in j.verdicts:
            cells = []
            for word, c in v.counts:
                lo, hi = wilson_interval(c, v.n)
                cells.append(f"{word} {c}/{v.n} [{lo:.2f}, {hi:.2f}]")
            rows.append([f"ICL: {j.family}", v.definition, v.verdict, v.kind or "" if v.verdict != "split" else "",
                         "; ".join(cells)])
        e = j.typical
        erows.append([f"ICL: {j.family}", e.mesa_optimizer_text(), format_number(e.train_performance / e.train_reference),
                      format_number(e.deploy_performance / e.deploy_reference),
                      format_number(e.mesa_optimal_deploy / e.deploy_reference),
                      format_number(e.capability_generalization), format_number(e.alpha),
                      ", ".join(format_number(a) for a in e.alpha_variations)])
    o = ex.outcome
    return (Table(f"in-context learner (linear self-attention, {o.params.copies} copies, {o.steps} training steps at "
                  f"{o.params.training_batch()} tasks) under each definition, per shift family, decided copy by copy "
                  "(the majority when its Wilson 95% interval excludes 1/2, split otherwise); is_mesa_optimizer "
                  "measured per copy", ("example", "definition", "verdict", "kind (majority)", "copies per verdict"),
                  tuple(rows)),
            Table("evidence of the in-context learner's examples (medians over copies): is_mesa_optimizer and where it "
                  "comes from; R^2 ratio to GD re-tuned to the distribution on training / deployment; the same for the "
                  "exact L_ctx minimizer on deployment; capability generalization; alpha train; alpha over the family",
                  ("example", "mesa-opt", "ratio train", "ratio deploy", "mesa-optimal", "capability", "alpha",
                   "variations"), tuple(erows)))


def icl_notes(ex: IclExamples) -> list:
    """Where each example's is_mesa_optimizer comes from, the in-context learner's measured verdicts, its cost."""
    o = ex.outcome
    lines = ["is_mesa_optimizer: the maze planners (Examples 1-4, 6) and the replicator (Example 5): structural facts "
             "(value iteration over a learned reward; no search); the in-context learner: measured per copy by the "
             f"rule '{o.params.rule().describe()}'"]
    for name in ("clean", "distractors", "untrained"):
        if name in o.match:
            f, cl = o.match[name]
            lines.append(f"in-context learner, {name}: {sum(c.verdict == 'holds' for c in cl)} of {f.K} copies implement "
                         f"GD on L_ctx (median L/L_gd {float(np.median(f.loss_ratio)):.4g}, cosine "
                         f"{float(np.median(f.cosine)):.4g})")
    for j in ex.judgements:
        lines.append(f"ICL {j.family}: " + "; ".join(f"{v.definition} {v.verdict}" + (f" [{v.kind}]" if v.kind else "")
                                                   for v in j.verdicts))
    lines.append("ICL cost (s): " + ", ".join(f"{k} {v:.1f}" for k, v in o.seconds.items()))
    return lines
