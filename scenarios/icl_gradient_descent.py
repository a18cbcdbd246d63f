"""Scenario ``icl-gradient-descent``: a mesa-optimizer that gradient descent really finds.

In-context linear regression by one linear self-attention layer (von Oswald et al. 2023):
Adam trains K independently seeded layers on fresh tasks (the base optimizer, through the
one training loop); each trained layer is then measured as an optimizer in its own right.

* **Is it an optimizer?** Each copy against the reference, one step of gradient descent on
  L_ctx at the line-searched eta* (the constructed weights): query losses, prediction
  difference, cosine and distance of the implied weights d y_hat / d x_q, the effective
  step and the loss along the interpolation to the constructed weights; a stated rule
  (agents.in_context.match) turns them into a measured verdict, shown on the trained copies
  and on two controls (trained on shuffled context labels; untrained).
* **Three levels**: the base optimizer's run (training steps; the designer's query loss and
  its true objective), the mesa-optimizer's own run (damped applications of the trained
  layer; its state the implied weights w_k, its objective L_ctx, the designer's query loss
  on its states) and the reference gradient descent over the same k; the delegation graph
  has the base optimizer producing the mesa-optimizer (an edge of kind ``produces``), and
  the delegation product is checked on each time axis.
* **Misalignment under shift**: input scale, noisy context labels, distractor pairs present
  in training or only in deployment; robustness (Definitions 3 and 4) and the four
  definitions of inner alignment, with ``is_mesa_optimizer`` measured.

Every claim is decided per copy (each copy its own seed) three ways and pooled over the
copies (hierarchy.report.Claim.replicated).
"""

from __future__ import annotations

import numpy as np

from hierarchy.report import build_report

from scenarios.common.icl_evidence import judge_family
from scenarios.common.icl_setup import PAPER, TRUE_OBJECTIVES, IclParams, run_icl
from scenarios.common.icl_tables import (claims, inner_table, level_table, match_table, robustness_table, shift_table,
                                         true_objective_table, verdict_table)
from scenarios.machinery.registry import RunOptions, ScenarioResult, scenario

__all__ = ["run", "judgements", "closing_notes", "plot_inner", "plot_base", "plot_training"]


def judgements(o, th) -> list:
    """The definitions' judgements of every shift family (scenarios.common.icl_evidence)."""
    out = []
    for fam in o.families:
        base, members = o.shift[fam.name]
        system = "in-context learner" + (" (trained with distractors)" if fam.group == "distractors" else "")
        out.append(judge_family(fam, base, members, o.match[fam.group], th, system))
    return out


def closing_notes(o, js) -> list:
    """The closing lines: the anchor comparison and the headline numbers, quoted from the tables."""
    f, cl = o.match["clean"]
    med = lambda x: float(np.median(x))
    holds = sum(c.verdict == "holds" for c in cl)
    notes = [f"anchor (the paper's central comparison): the trained layers reach query loss {med(f.loss):.4g} (median "
             f"of {f.K}) against {f.reference_loss:.4g} for one GD step at eta* = {o.eta:.4g} (zero predictor "
             f"{f.zero_loss:.4g}); cosine of implied weights {med(f.cosine):.4g}, rho {med(f.prediction):.3g}, "
             f"effective step {med(f.eta_ratio) * o.eta:.4g}; {holds} of {f.K} copies implement GD by the rule"]
    for name in ("control", "untrained"):
        if name in o.match:
            g, cc = o.match[name]
            notes.append(f"{name}: loss ratio {med(g.loss_ratio):.4g}, cosine {med(g.cosine):.4g}, effective step "
                         f"{med(g.eta_ratio) * o.eta:.3g}: {sum(c.verdict == 'fails' for c in cc)} of {g.K} rejected "
                         f"by the rule")
    lay = o.runs["mesa-optimizer"].trajectory
    gd = o.runs["gradient-descent-on-L_ctx"].trajectory
    k = lay.T - 1
    notes.append(f"inner run at k = {k}: L_ctx {med(lay['L_ctx'][:, k]):.4g} (GD {gd['L_ctx'][0, k]:.4g}), query loss "
                 f"{med(lay['query_loss'][:, k]):.4g} (GD {gd['query_loss'][0, k]:.4g})")
    for j in js:
        notes.append(f"{j.family}: " + "; ".join(f"{v.definition} {v.verdict}" + (f" [{v.kind}]" if v.kind else "")
                                                 for v in j.verdicts))
    if not o.params.paper:
        notes.append(f"training at {o.params.training_batch()} tasks per step for {o.steps} steps (the paper: "
                     f"{PAPER['batch']} for {PAPER['steps']}; --set paper=true): see the match table for what that buys")
    notes.append("cost (s): " + ", ".join(f"{k} {v:.1f}" for k, v in o.seconds.items()))
    return notes


def _claim_notes(claims) -> list:
    return [f"[{c.label}] {c.text}" + (f": {c.seeds.describe()}" if c.seeds is not None else "") for c in claims]


def _levels(o, names: dict, objectives) -> dict:
    """{series label: {objective: median C}} of the leaves ``names`` ({leaf: label}), for the tail levels."""
    from scenarios.machinery.api import capability_levels

    caps = capability_levels(o.measurements, {n: o.runs[n] for n in names}, objectives)
    return {names[n]: c for n, c in caps.items()}


def plot_inner(path, o, claims=()) -> None:
    """inner-run.png (:func:`scenarios.machinery.plots.plot_objectives`): the mesa-optimizer's own run,
    L_ctx and the query loss against the applications k of the trained layer (median and IQR over
    copies), against damped gradient descent at lambda eta* on the same tasks; the estimator's
    tail window and each run's tail mean X(0) - C (Definition 1); the claims under the panels."""
    from scenarios.machinery.api import objective_descriptions
    from scenarios.machinery.plots import plot_objectives

    names = {"mesa-optimizer": "trained layer (mesa-optimizer)", "gradient-descent-on-L_ctx": "GD at lambda eta*"}
    objectives = ["L_ctx", "query_loss"]
    series = {names[n]: {obj: o.runs[n].trajectory[obj] for obj in objectives} for n in names}
    est = o.measurements.estimator
    tail = est.tail if est.kind == "limit" else None
    lay, gd = o.runs["mesa-optimizer"].trajectory, o.runs["gradient-descent-on-L_ctx"].trajectory
    k = lay.T - 1
    notes = [f"step = k, one application of the trained layer / one GD step (damping {o.params.damping:g}); at k = {k}: "
             f"L_ctx {np.median(lay['L_ctx'][:, k]):.4g} (GD {gd['L_ctx'][0, k]:.4g}), query loss "
             f"{np.median(lay['query_loss'][:, k]):.4g} (GD {gd['query_loss'][0, k]:.4g})", "claims:"]
    plot_objectives(path, series, objectives, title="icl-gradient-descent: the mesa-optimizer's own run against "
                    "gradient descent", log=objectives, descriptions=objective_descriptions(o.graph), tail=tail,
                    capabilities=_levels(o, names, objectives) if tail is not None else {},
                    notes=notes + _claim_notes(claims))


def plot_base(path, o) -> None:
    """objectives.png (:func:`scenarios.machinery.plots.plot_objectives`): every objective the base
    optimizer recorded over training (query loss, its true objectives), median and IQR over copies,
    the tail window and the tail mean X(0) - C."""
    from scenarios.machinery.api import objective_descriptions
    from scenarios.machinery.plots import plot_objectives

    tr = o.runs["base-optimizer"].trajectory
    objectives = list(tr.values)
    est = o.measurements.estimator
    tail = est.tail if est.kind == "limit" else None
    caps = _levels(o, {"base-optimizer": "base optimizer"}, objectives) if tail is not None else {}
    desc = {o_: TRUE_OBJECTIVES[o_] for o_ in objectives if o_ in TRUE_OBJECTIVES} | objective_descriptions(o.graph)
    plot_objectives(path, {"base optimizer": {obj: tr[obj] for obj in objectives}}, objectives,
                    title=f"icl-gradient-descent: the base optimizer's run ({tr.meta.get('optimizer', '')})",
                    descriptions=desc, tail=tail, capabilities=caps)


def plot_training(path, o, claims=()) -> None:
    """match-over-training.png (:func:`scenarios.machinery.plots.plot_panels`): the match rule's
    figures at the snapshots over training, the cosine of the implied weights with one GD step's and
    the query-loss ratio L / L_gd (median, IQR over copies, each copy thin), with the rule's thresholds."""
    from scenarios.machinery.plots import _median_band, log_scale_if_positive, plot_panels, spans_decades

    steps, cos, ratio = o.over_training
    rule = o.params.rule()

    def panel(values, threshold, what, ylabel, relation):
        def draw(ax):
            v = np.atleast_2d(np.asarray(values, dtype=float).T)
            ax.set_title(what, fontsize=9)
            ax.set_xlabel("training step")
            ax.set_ylabel(ylabel)
            if v.size == 0:
                return
            med, q = _median_band(v)
            for row in v:
                ax.plot(steps, row, lw=0.5, color="0.6")
            (line,) = ax.plot(steps, med, marker="o", lw=1.4, label=f"median over {v.shape[0]} copies (grey: each copy)")
            if q is not None:
                ax.fill_between(steps, q[0], q[1], color=line.get_color(), alpha=0.2, lw=0,
                                label="band: IQR over copies (25-75%)")
            ax.axhline(threshold, color="k", ls="--", lw=1, label=f"match rule: {ylabel} {relation} {threshold:g}")
            if spans_decades([v, np.array([threshold])]):
                log_scale_if_positive(ax, [v, np.array([threshold])])
            ax.legend(fontsize=7)
        return draw

    panels = [panel(cos, rule.cosine, "cosine of the trained layer's implied weights with one GD step's\n"
                                      "(1: the same direction)", "cosine", ">="),
              panel(ratio, 1 + rule.loss, "query loss of the trained layer over one GD step's at eta*\n"
                                          "(1: as good as GD)", "L / L_gd", "<=")]
    notes = [f"is it an optimizer (the rule, at the end of training): {rule.describe()}", "claims:"]
    plot_panels(path, panels, "icl-gradient-descent: the match to gradient descent over training",
                notes + _claim_notes(claims), columns=2)


@scenario("icl-gradient-descent", "a mesa-optimizer gradient descent finds: in-context learning by linear "
          "self-attention, three levels, measured", IclParams, default_steps=1000)
def run(options: RunOptions, p: IclParams) -> ScenarioResult:
    o = run_icl(options, p, progress=options.progress)
    js = judgements(o, p.thresholds())
    tables = [match_table(o), level_table(o), inner_table(o), true_objective_table(o)]
    tables += [shift_table(o, fam.name) for fam in o.families]
    tables += [robustness_table(o), verdict_table(js)]
    cl = claims(o, js)
    choices = {"task distribution": o.families[0].training.describe() + ", w ~ N(0, I), noiseless labels, tokens "
                                    "[x_i, y_i] and [x_q, 0]",
               "model": f"linear self-attention, {p.layers} layer(s){' shared' if p.shared else ''}, one head, key size "
                        f"{p.d + 1}, no softmax / layer norm / MLP / bias; keys and values from the context only; "
                        f"1/N inside the attention; y_hat = -(query's y slot)",
               "base optimizer": o.runs["base-optimizer"].trajectory.meta.get("optimizer", ""),
               "loss and gradient": o.runs["base-optimizer"].trajectory.meta.get("loss and gradient", ""),
               "true objective": TRUE_OBJECTIVES[p.true_objective],
               "reference": f"one GD step on L_ctx from 0 at eta* = {o.eta:.4g} (exact line search on "
                            f"{p.line_search_tasks} tasks); constructed weights W_K = W_Q = [[I, 0], [0, 0]], "
                            f"W_V = [[0, 0], [0, -1]], P = eta* I",
               "is it an optimizer": p.rule().describe(),
               "inner run": f"{p.inner_steps} applications, damping {p.damping:g}, y slots only; state: implied weights",
               "estimator": str(options.estimator),
               "replication": f"{p.copies} copies, each its own seed (children of named_seed(seed, 'population'))",
               "evidence": "scenarios.common.icl_evidence (R^2 against GD re-tuned to each distribution; mesa-optimal: "
                           "least squares on the context)"}
    report = build_report("icl-gradient-descent", o.graph, o.runs, options.estimator, seed=options.seed, steps=o.steps,
                          choices=choices, claims=cl, tables=tables, notes=closing_notes(o, js),
                          measurements=o.measurements,
                          node_attributes={"mesa-optimizer": {"is_mesa_optimizer": "measured",
                                                              "verdicts": [c.verdict for c in o.match["clean"][1]]}},
                          edge_attributes={})
    arrays = {}
    for name, r in o.runs.items():
        for obj, v in r.trajectory.values.items():
            arrays[f"{name}/{obj}"] = v
    steps, cos, ratio = o.over_training
    if len(steps):
        arrays["extra/match-over-training/step"] = steps.astype(float)
        arrays["extra/match-over-training/cosine"] = cos
        arrays["extra/match-over-training/loss_ratio"] = ratio
    plots = {"inner-run.png": lambda path: plot_inner(path, o, cl), "objectives.png": lambda path: plot_base(path, o),
             "match-over-training.png": lambda path: plot_training(path, o, cl)}
    return ScenarioResult(report, o.graph, arrays, plots)
