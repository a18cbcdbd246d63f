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

__all__ = ["run", "judgements", "closing_notes", "plot_inner", "plot_training"]


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


def plot_inner(path, o) -> None:
    """L_ctx and the query loss against the applications k: trained layers (median, IQR) against damped GD."""
    from scenarios.machinery.plots import _pyplot, save_drawing

    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    lay, gd = o.runs["mesa-optimizer"].trajectory, o.runs["gradient-descent-on-L_ctx"].trajectory

    def draw():
        k = np.arange(lay.T)
        for ax, name in zip(axes, ("L_ctx", "query_loss")):
            v = lay[name]
            ax.fill_between(k, np.percentile(v, 25, 0), np.percentile(v, 75, 0), alpha=0.3, label="trained (IQR)")
            ax.plot(k, np.median(v, 0), label="trained layer (median)")
            ax.plot(k, gd[name][0], "k--", label="GD at lambda eta*")
            ax.set_yscale("log")
            ax.set_xlabel("k (applications / GD steps)")
            ax.set_ylabel(name)
            ax.legend()
    save_drawing(plt, fig, path, draw, f"icl-gradient-descent: the mesa-optimizer's own run (damping {o.params.damping:g})")


def plot_training(path, o) -> None:
    """The match over training: cosine of implied weights and the loss ratio to one GD step, per copy."""
    from scenarios.machinery.plots import _pyplot, save_drawing

    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    steps, cos, ratio = o.over_training
    tr = o.runs["base-optimizer"].trajectory

    def draw():
        for k in range(cos.shape[1] if cos.ndim == 2 else 0):
            axes[0].plot(steps, cos[:, k], label=f"copy {k}")
            axes[1].plot(steps, ratio[:, k], label=f"copy {k}")
        axes[0].set_ylabel("cosine(w, w_gd)")
        axes[1].set_ylabel("L / L_gd")
        axes[1].set_yscale("log")
        for k in range(tr.K):
            axes[2].plot(tr["query_loss"][k], lw=0.5)
        axes[2].set_ylabel("query loss (training batch)")
        for ax in axes:
            ax.set_xlabel("training step")
        axes[0].legend()
    save_drawing(plt, fig, path, draw, "icl-gradient-descent: the match to gradient descent over training")


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
    plots = {"inner-run.png": lambda path: plot_inner(path, o), "match-over-training.png": lambda path: plot_training(path, o)}
    return ScenarioResult(report, o.graph, arrays, plots)
