"""Tables and claims of ``icl-gradient-descent`` from an :class:`~scenarios.common.icl_setup.IclOutcome`."""

from __future__ import annotations

import math

import numpy as np

from agents.in_context.match import verdict_word
from hierarchy.alignment import alignment
from hierarchy.capability import capability
from hierarchy.decision import combined_error
from hierarchy.estimator import Estimator
from hierarchy.figures import Spread
from hierarchy.inner_alignment import DEFINITIONS
from hierarchy.report import Claim, Table
from hierarchy.robustness import alignment_robustness, capability_robustness

__all__ = ["match_table", "level_table", "inner_table", "true_objective_table", "shift_table", "robustness_table",
           "verdict_table", "claims", "negated", "CHECKPOINTS"]

#: Applications at which the inner-run table shows the curves.
CHECKPOINTS = (0, 1, 2, 5, 10, 20, 50)

GROUP_TEXT = {"clean": "trained (clean tasks)", "distractors": "trained with distractors",
              "control": "control (shuffled context labels)", "untrained": "control (untrained start)"}


def _f(x, digits=4) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}g}"


def _spread(values) -> str:
    return str(Spread.of(np.asarray(values, dtype=np.float64)))


def match_table(o) -> Table:
    """Per copy: the match to one GD step at eta* and the measured verdict."""
    rows = []
    for name, (f, cl) in o.match.items():
        eta = o.eta if name != "distractors" else o.eta_distractors
        for k in range(f.K):
            rows.append([GROUP_TEXT[name], k, _f(float(f.loss[k])), _f(f.reference_loss), _f(float(f.loss_ratio[k])),
                         _f(float(f.prediction[k]), 3), _f(float(f.cosine[k])), _f(float(f.distance[k]), 3),
                         _f(float(f.eta_ratio[k] * eta)), _f(float(f.barrier[k]), 3), verdict_word(cl[k])])
    return Table(f"is it an optimizer? each copy against one GD step on L_ctx at eta* = {o.eta:.4g} (distractor tasks: "
                 f"{o.eta_distractors:.4g}) on {o.params.eval_tasks} held-out tasks; zero predictor "
                 f"{o.match['clean'][0].zero_loss:.4g}; rule: {o.params.rule().describe()}",
                 ("model", "copy", "query loss", "GD step", "L/L_gd", "rho", "cosine", "|w - w_gd|/|w_gd|",
                  "eta_eff", "interp. barrier", "verdict"), tuple(rows))


def level_table(o) -> Table:
    """The three levels: capability and alignment of each optimizer on its own time axis."""
    m, T = o.measurements, o.params.true_objective
    row = lambda level, node, axis, obj, mesa: [
        level, node, axis, f"C({obj}) {m.capability(node, obj).capability}",
        f"C({mesa}) {m.capability(node, mesa).capability}", f"{m.alignment('designer', node).alignment}"]
    rows = [row("base optimizer", "base-optimizer", f"{o.steps} training steps", "query_loss", T),
            row("mesa-optimizer", "mesa-optimizer", f"{o.params.inner_steps} layer applications", "query_loss", "L_ctx"),
            row("reference", "gradient-descent-on-L_ctx", f"{o.params.inner_steps} GD steps", "query_loss", "L_ctx")]
    return Table(f"three levels (median ±se over {o.params.copies} copies; {m.estimator}): the designer's query loss on "
                 "each optimizer's states, the optimizer's own objective, and alpha = C(query loss) / C(own)",
                 ("level", "node", "time axis", "designer's objective", "own objective", "alpha (designer)"),
                 tuple(rows))


def inner_table(o) -> Table:
    """L_ctx and the query loss against the applications k: the trained layer against damped GD."""
    lay, gd = o.runs["mesa-optimizer"].trajectory, o.runs["gradient-descent-on-L_ctx"].trajectory
    rows = []
    for k in CHECKPOINTS:
        if k >= lay.T:
            continue
        rows.append([k, _spread(lay["L_ctx"][:, k]), _f(float(gd["L_ctx"][0, k])), _spread(lay["query_loss"][:, k]),
                     _f(float(gd["query_loss"][0, k]))])
    return Table(f"the mesa-optimizer's own run: k damped applications (lambda {o.params.damping:g}) of the trained "
                 f"layer against k GD steps at lambda eta* on {o.params.shift_tasks} tasks (means over tasks; trained: "
                 "median ±se over copies)", ("k", "L_ctx trained", "L_ctx GD", "query loss trained", "query loss GD"),
                 tuple(rows))


def true_objective_table(o) -> Table:
    """The base optimizer's capability and alignment under every true objective the loop recorded."""
    tr = o.runs["base-optimizer"].trajectory
    est = o.measurements.estimator
    rows = []
    Cq = capability(tr["query_loss"], est, 0.0)
    for name in ("G", "G1", "G_adam", "U"):
        if name not in tr.values:
            continue
        C = capability(tr[name], est, 0.0)
        a = alignment(tr["query_loss"], tr[name], est, bounds=(0.0, 0.0))
        rows.append([name, _spread(C.value), _spread(a.value), _spread(tr[name][:, 0]), _spread(tr[name][:, -1]),
                     "default" if name == o.params.true_objective else ""])
    return Table(f"the base optimizer under each recorded true objective (C(query loss) {_spread(Cq.value)}; median "
                 "±se over copies): alpha depends on the choice (units), so compare orderings, not values",
                 ("true objective", "C", "alpha (query loss over it)", "at step 0", "at the end", "graph"), tuple(rows))


def shift_table(o, family: str) -> Table:
    """One family: the base-objective scores and the inner run's figures per member (medians over copies)."""
    base, members = o.shift[family]
    rows = []
    for mf in (base,) + members:
        rows.append([mf.label, _spread(mf.r2), _f(float(np.median(mf.r2_gd_fixed))), _f(mf.r2_reference),
                     _f(mf.r2_mesa_optimal), _spread(mf.C_ctx), _spread(mf.relative_capability), _spread(mf.alpha),
                     _spread(mf.alpha_gd)])
    return Table(f"shift '{family}': R^2 = 1 - L_q / L_q(zero) of the layer applied once, of GD at the training eta*, "
                 "of GD re-tuned to the member (reference) and of the exact L_ctx minimizer (mesa-optimal); the inner "
                 f"run ({o.params.shift_steps} damped applications): C(L_ctx), C(L_ctx)/L_ctx(0), alpha; and GD's alpha",
                 ("member", "R^2 layer", "R^2 GD (train eta*)", "R^2 reference", "R^2 mesa-optimal", "C(L_ctx)",
                  "relative C", "alpha", "alpha GD"), tuple(rows))


def robustness_table(o) -> Table:
    """Definitions 3 and 4 over each family: capability and alignment robustness of the mesa-optimizer."""
    rows = []
    tol = o.params.alpha_change
    for fam in o.families:
        base, members = o.shift[fam.name]
        for q, r in (("C(L_ctx)", capability_robustness(base.C_ctx, {m.label: m.C_ctx for m in members}, tol, "L_ctx")),
                     ("alpha", alignment_robustness(base.alpha, {m.label: m.alpha for m in members}, tol))):
            rows.append([fam.name, q, r.verdict, _f(r.worst, 3), r.worst_name, ", ".join(r.undefined)])
    return Table(f"robustness of the mesa-optimizer over each family (Definition 3; relative change per copy, median; "
                 f"tolerance {tol:g})", ("family", "figure", "verdict", "worst change", "worst member", "undefined"),
                 tuple(rows))


def verdict_table(judgements) -> Table:
    """Families x definitions: the population's verdict, its copies and the kind of failure."""
    rows = []
    for j in judgements:
        for v in j.verdicts:
            rows.append([j.family, v.definition, v.verdict, v.kind or "", v.shares()])
    return Table("inner alignment of the learned optimizer under each definition, per shift family (decided copy by "
                 "copy; the majority when its Wilson 95% interval excludes 1/2, split otherwise)",
                 ("family", "definition", "verdict", "kind (majority)", "copies"), tuple(rows))


def negated(text: str, c: Claim) -> Claim:
    """The claim "not c" (holds where c fails, fails where c holds; margin negated).

    Examples
    --------
    >>> negated("x <= 0", Claim.exact("x > 0", {"x": 1.0}, 1.0)).verdict
    'fails'
    """
    verdict = {"holds": "fails", "fails": "holds"}.get(c.verdict, c.verdict)
    return Claim(text, dict(c.numbers), verdict, -c.margin, c.resolution, f"not ({c.rule})", c.undefined)


def _by_copy(name, parts, rule=""):
    return Claim.replicated(name, list(parts), rule=rule) if parts else None


def claims(o, judgements) -> list:
    """The scenario's claims, each decided per copy (its own seed) and pooled over the copies."""
    p = o.params
    out = []
    f, cl = o.match["clean"]
    out.append(_by_copy("the trained single layer implements one step of gradient descent on L_ctx at eta* (the "
                        "paper's anchor: its query loss is that of the step and its implied weights align with the "
                        "step's)", cl, p.rule().describe()))
    rejected = [negated(f"{name} copy {k} is rejected", c) for name in ("control", "untrained") if name in o.match
                for k, c in enumerate(o.match[name][1])]
    out.append(_by_copy("the rule discriminates: the controls (trained on shuffled context labels; untrained) are not "
                        "optimizers of L_ctx", rejected, "per control copy: the rule fails"))
    lay, gd = o.runs["mesa-optimizer"].trajectory, o.runs["gradient-descent-on-L_ctx"].trajectory
    est = Estimator("finite")  # the claim is about the same finite run of k steps on the same tasks
    Cl, Cg = capability(lay["L_ctx"], est, 0.0), capability(gd["L_ctx"], est, 0.0)
    al = alignment(lay["query_loss"], lay["L_ctx"], est, bounds=(0.0, 0.0))
    ag = alignment(gd["query_loss"], gd["L_ctx"], est, bounds=(0.0, 0.0))
    tol = p.inner_tolerance
    parts = []
    for k in range(lay.K):
        rc = Cl.value[k] / Cg.value[0] - 1
        ra = al.value[k] / ag.value[0] - 1
        se_c = combined_error(Cl.error[k], Cg.error[0]) / abs(Cg.value[0])
        se_a = combined_error(al.error[k], ag.error[0]) / abs(ag.value[0])
        parts.append(Claim.all_of(f"copy {k}", [
            Claim.compare("C(L_ctx) as GD's", {"C(L_ctx) layer / GD": 1 + rc}, tol - abs(rc), se_c),
            Claim.compare("alpha as GD's", {"alpha layer / GD": 1 + ra}, tol - abs(ra), se_a)]))
    out.append(_by_copy(f"the mesa-optimizer is as capable on L_ctx and as aligned with the query loss as damped "
                        f"gradient descent over the same {p.inner_steps} steps (within {tol:g})", parts,
                        f"|ratio - 1| <= {tol:g}, C and alpha by the finite estimator over the {p.inner_steps} steps of "
                        f"both runs on the same tasks (exact: no estimator error)"))
    base, members = o.shift["input scale"]
    top = members[-1]
    out.append(_by_copy(f"at input scale {top.label} the learned step overshoots: the mesa-optimizer's run on L_ctx "
                        f"diverges or its capability on L_ctx is negative (a capability failure)",
                        [Claim.exact(f"copy {k}", {"diverged": 1.0} if top.diverged[k] else
                                     {"diverged": 0.0, "C(L_ctx)": float(top.C_ctx[k])},
                                     1.0 if top.diverged[k] else -float(top.C_ctx[k]),
                                     "inner run overflowed, or C(L_ctx) < 0") for k in range(len(top.C_ctx))]))
    base, members = o.shift["noisy labels"]
    top = members[-1]
    out.append(_by_copy(f"noisy context labels ({top.label}) lower the mesa-optimizer's alignment with the query loss",
                        [Claim.exact(f"copy {k}", {"alpha clean": float(base.alpha[k]), "alpha noisy": float(top.alpha[k])},
                                     float(base.alpha[k] - top.alpha[k]), "alpha(noisy) < alpha(clean)")
                         for k in range(len(top.alpha))]))
    js = {j.family: j for j in judgements}
    i = list(DEFINITIONS).index("optimization-focused")
    tr, dp = js.get("distractors in training"), js.get("distractors only in deployment")
    if tr is not None and dp is not None:
        parts = []
        for k in range(min(len(tr.copy_verdicts), len(dp.copy_verdicts))):
            a, b = tr.copy_verdicts[k][i].verdict, dp.copy_verdicts[k][i].verdict
            ok = a == "misaligned" and b == "aligned"
            parts.append(Claim.exact(f"copy {k}", {"misaligned in training": float(a == "misaligned"),
                                                   "aligned only in deployment": float(b == "aligned")}, 1.0 if ok else -1.0,
                                     "misaligned with the distractors in training, aligned with them only in deployment"))
        out.append(_by_copy("seed 002's Examples 3 and 4 on a found mesa-optimizer: the optimization-focused definition "
                            "calls the distractors misaligned when present in training and a generalization failure "
                            "(aligned) when present only in deployment", parts))
    worst = max((pf.discrepancy for pf in o.measurements.products), default=math.nan)
    out.append(Claim.exact("delegation product on each time axis: C_designer(query loss) = alpha * C_leaf(own objective) "
                           "on every chain", {"largest relative discrepancy": worst}, 1e-9 - worst,
                           "largest relative discrepancy below 1e-09 (float rounding)"))
    return [c for c in out if c is not None]
