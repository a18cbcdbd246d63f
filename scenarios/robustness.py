"""Scenario ``robustness``: optimizer A under a family of perturbations (Definitions 3 and 4).

Optimizer A is seed 000's gradient descent with the data of ``harris-abc`` (a Markov
chain of order 2 over 8 tokens, 256 examples, width 3, decaying learning rate), run as a
population of ``copies`` starts (copy k is the same start as copy k of harris-abc's
population of random starts). A family of perturbations changes one part of A's setup:

* dataset: fresh samples of the same chain; shifts of the chain by a few amounts (the
  same direction Q for all; A's own examples relabelled by a maximal coupling, so a
  slight shift changes few targets);
* initialization: a random direction of a few norms added to every start; the start
  rescaled;
* learning rate: multiplied by a few factors;
* capacity: a wider layer, a second layer;
* objective: label-smoothed cross-entropy, the Brier score (generalization, Definition 4).

Every trial that a population can hold per copy (datasets of equal size, starts,
learning-rate multipliers) runs in ONE batched population with A; the others run
separately. For every trial: C(L), C(G), alpha and the normalized alignment, their
relative changes against A (per copy, paired, median over copies), the worst case and
the spread over the family with a verdict against a tolerance the user sets, and inner
alignment quantified over the dataset variations (seed 000).
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from agents.language_model.gradient_descent import GradientDescent
from agents.language_model.markov import MarkovChain
from agents.language_model.mlp import describe_loss
from agents.language_model.perturbations import (Capacity, ChangeObjective, InitNoise, InitScale, Resample, ScaleLR, Shift,
                                  materialize, run_family)
from agents.language_model.schedules import Decay
from hierarchy.alignment import Normalization, alignment, normalized_alignment
from hierarchy.capability import capability, tail_length
from hierarchy.decision import combined_error
from hierarchy.errors import ParameterError
from hierarchy.figures import Spread
from hierarchy.graph import DelegationGraph, OptimizerNode
from hierarchy.objective import Objective
from hierarchy.perturbation import Family, Identity, changes_objective, check_perturbation, kind_of
from hierarchy.report import Claim, Table, build_report
from hierarchy.robustness import (alignment_generalization, alignment_robustness, capability_generalization,
                                  capability_robustness, harris_inner_alignment, relative_change, robustness)
from hierarchy.batch import Batch
from hierarchy.run import run_graph

from scenarios.machinery.progress import progress_bar
from scenarios.common.markov_setup import MarkovSetup
from scenarios.machinery.registry import RunOptions, ScenarioResult, check_fields, parameter, scenario
from hierarchy.seeding import named_seed

TRUE_OBJECTIVES = {
    "G": "G = sum_i (dL/dtheta_i)^2, the squared gradient norm (default true objective of gradient descent)",
    "G1": "G1 = sum_i |dL/dtheta_i|, the L1 gradient size (an equally valid true objective)",
}
BASELINE = "A"


@attrs.frozen
class RobustnessParams(MarkovSetup):
    """Parameters of ``robustness`` (change with ``--set name=value``; tuples as 0.05,0.1)."""

    width: int = parameter(3, "hidden width of optimizer A's MLP")
    copies: int = parameter(8, 'copies of A per family member')
    resamples: int = parameter(3, 'dataset resamples in the family')
    shifts: tuple = parameter((0.05, 0.1, 0.2), 'sizes of the dataset shifts (distribution shift of the chain)')
    init_norms: tuple = parameter((0.1, 0.3), 'norms of the initial-parameter noise')
    init_scales: tuple = parameter((0.5,), 'factors of the initial-parameter scale')
    lr_scales: tuple = parameter((0.5, 2.0), 'factors of the learning rate')
    widths: tuple = parameter((6,), 'other hidden widths (capacity perturbations)')
    depths: tuple = parameter((2,), 'numbers of hidden layers of width `width` (capacity perturbations)')
    label_smoothing: float = parameter(0.1, 'label smoothing of the changed cross-entropy objective')
    brier: bool = parameter(True, 'also change the objective to the Brier score')
    tolerance: float = parameter(0.1, 'robustness tolerance: largest relative change that counts as robust')
    min_alpha: float = parameter(0.5, 'inner alignment needs normalized alpha at least this on every variation')
    true_objective: str = parameter("G", "gradient descent's true objective: G or G1")

    def __attrs_post_init__(self):
        if self.true_objective not in TRUE_OBJECTIVES:
            raise ParameterError(f"true_objective={self.true_objective!r}; choose G or G1")
        self.check_setup()
        check_fields(self, {"width": "count", "copies": "count", "resamples": "count0", "tolerance": "non-negative",
                            "min_alpha": "finite", "shifts": "fractions*", "init_norms": "positives*",
                            "init_scales": "positives*", "lr_scales": "positives*", "widths": "counts*",
                            "depths": "counts*", "label_smoothing": "smoothing"})
        self.check_copies(self.copies, max((self.width,) + tuple(self.widths)), "a family member's copies", "copies")
        Decay(self.lr, self.tau)


def build_family(chain: MarkovChain, p: RobustnessParams, seed: int) -> Family:
    """The perturbation family of the scenario (see the module docstring), seeded from ``seed``."""
    members = [Resample(chain, named_seed(seed, f"resample-{i}"), label=f"resample {i + 1}") for i in range(p.resamples)]
    members += [Shift(chain, a, shift_seed=named_seed(seed, "shift"), seed=named_seed(seed, "shift-coupling"))
                for a in p.shifts]
    members += [InitNoise(n, named_seed(seed, "init-noise")) for n in p.init_norms]
    members += [InitScale(f) for f in p.init_scales]
    members += [ScaleLR(f) for f in p.lr_scales]
    members += [Capacity((w,)) for w in p.widths if w != p.width]
    members += [Capacity((p.width,) * d) for d in p.depths if d != 1]
    if p.label_smoothing > 0:
        members.append(ChangeObjective("cross_entropy", p.label_smoothing))
    if p.brier:
        members.append(ChangeObjective("brier"))
    return Family("robustness family", members)


def spec_loss(spec) -> str:
    """The description of the objective a spec trains on."""
    return describe_loss(spec.loss, spec.label_smoothing)


def objective_name(perturbation) -> str:
    """The name of the base objective a trial trains on: L, or L' for a change of objective."""
    return getattr(perturbation, "objective_name", "L") if changes_objective(perturbation) else "L"


def reference_scale(name: str, L, T):
    """The :class:`~hierarchy.alignment.Normalization` of run ``name`` (values [K, T] of its good
    copies), or None where it improves neither objective (the normalized alignment is then undefined)."""
    try:
        return Normalization.of(name, L, T)
    except ParameterError:
        return None


def trial_figures(tr, L: str, T: str, estimator, normalization) -> dict:
    """Per-copy figures of one trial: C(L), C(T), alpha, normalized alignment (on ``normalization``,
    the baseline A's scale), final L, tail T / T(0), and ``"<figure> error"``: the estimator's
    standard error of each of the first four (NaN for diverged copies)."""
    ok = tr.ok
    n = tail_length(tr.T, estimator.tail)
    nan = lambda v: np.where(ok, v, np.nan)
    cL, cT = capability(tr[L], estimator), capability(tr[T], estimator)
    a = alignment(tr[L], tr[T], estimator)
    if normalization is not None:
        na = normalized_alignment(tr[L], tr[T], normalization, estimator)
    else:
        na = attrs.evolve(a, value=np.full(a.value.shape, np.nan), error=np.full(a.value.shape, np.nan))
    return {
        "C(L)": nan(cL.value), "C(L) error": nan(cL.error),
        "C(T)": nan(cT.value), "C(T) error": nan(cT.error),
        "alpha": nan(a.value), "alpha error": nan(a.error),
        "normalized": nan(na.value), "normalized error": nan(na.error),
        "final L": nan(tr[L][:, -n:].mean(axis=1)),
        "tail T/T(0)": nan(tr[T][:, -n:].mean(axis=1) / tr[T][:, 0]),
    }


def change_error(x, x_error, x_perturbed, x_perturbed_error) -> np.ndarray:
    """Per-copy standard error of r = |x' - x| / |x| by the delta method (independent errors):
    sqrt(e'^2 + (x' / x)^2 e^2) / |x|; NaN where x = 0 or a value is undefined.

    Example:
        >>> round(float(change_error(2.0, 0.2, 3.0, 0.1)), 6)  # sqrt(0.1^2 + 1.5^2 * 0.2^2) / 2
        0.158114
    """
    x, e = np.asarray(x, dtype=np.float64), np.asarray(x_error, dtype=np.float64)
    xp, ep = np.asarray(x_perturbed, dtype=np.float64), np.asarray(x_perturbed_error, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = np.sqrt(ep ** 2 + (xp / x) ** 2 * e ** 2) / np.abs(x)
    return np.where(np.isfinite(x) & np.isfinite(xp) & (x != 0), out, np.nan)


def _median(v) -> float:
    v = np.asarray(v, dtype=float)
    return float(np.nanmedian(v)) if np.isfinite(v).any() else float("nan")


def _ok(change: float, tol: float) -> str:
    return "undefined" if not math.isfinite(change) else ("yes" if change <= tol else "no")


def _summary_row(r) -> list:
    return [r.definition, r.quantity, len(r.changes), r.worst, r.worst_name or "-", r.median, f"[{r.q25:.4g}, {r.q75:.4g}]",
            r.range, r.tolerance, r.verdict + (f" (undefined: {', '.join(r.undefined)})" if r.undefined else "")]


def family_plan(base, family, baseline: str, seed) -> list:
    """(name, perturbation, spec) of every member, baseline first, as ``run_family`` will run them
    (the same starts, drawn from the same seed by ``materialize``), known before the run."""
    perturbations = (Identity(baseline),) + tuple(check_perturbation(p) for p in family)
    start = materialize(base, seed)
    return [(pt.name, pt, pt.apply(start)) for pt in perturbations]


@scenario("robustness", "Definitions 3 and 4: A's capability and alignment under a perturbation family",
          RobustnessParams, default_steps=6000)
def run(options: RunOptions, p: RobustnessParams) -> ScenarioResult:
    steps = int(options.steps)
    est = options.estimator
    tol = p.tolerance
    T = p.true_objective
    chain, data = p.markov_data(options.seed)
    family = build_family(chain, p, options.seed)
    base = GradientDescent(data, hidden=(p.width,), schedule=Decay(p.lr, p.tau), population=p.copies)

    def runner(j, batch, n, seed):
        with progress_bar(f"run {j + 1} ({len(batch.members)} trials, {batch.population} copies)", n,
                          options.progress) as bar:
            return batch.spec.run(n, seed, bar)

    families = {}

    def compute(n_steps, progress):
        """The whole family, batched where shapes allow (agents' run_family), once: every member
        is a leaf of this batch; a changed objective L' is recorded under its own name."""
        fam = run_family(base, family, n_steps, named_seed(options.seed, "A-population"), runner=runner,
                         baseline=BASELINE)
        families["fam"] = fam
        out = {}
        for name, pert, tr in zip(fam.names, fam.perturbations, fam.trajectories):
            values = dict(tr.values)
            values[objective_name(pert)] = values.pop("L")
            out[name] = attrs.evolve(tr, values=values)
        return out

    members = Batch(compute, "the perturbation family")
    # the family's members are known before it runs: its names, perturbations and specs
    plan = family_plan(base, family, BASELINE, named_seed(options.seed, "A-population"))

    # -- graph: a designer per base objective, one leaf per member ------------------------------
    obj_T = Objective(T, TRUE_OBJECTIVES[T])
    designers = {"L": OptimizerNode("designer", Objective("L", "mean cross-entropy of the next token (base objective)"),
                                    role="designer (human)", description="intends the cross-entropy L")}
    nodes, edges, arrays = [], [], {}
    figs, Lname = {}, {}
    for name, pert, spec in plan:
        L = objective_name(pert)
        Lname[name] = L
        if L not in designers:
            designers[L] = OptimizerNode(f"designer {L}", Objective(L, spec_loss(spec)), role="designer (human)",
                                         description=f"intends {L}: A' = A with objective {L} (Definition 4)")
        rec = tuple(L if k == "L" else k for k in spec.records)
        nodes.append(OptimizerNode(name, obj_T, leaf=members.member(name, rec, "gradient step"), role="gradient descent",
                                   description=pert.describe() if name != BASELINE else "optimizer A, unperturbed"))
        edges.append((designers[L].name, name))
    graph = DelegationGraph(list(designers.values()) + nodes, edges)
    runs = run_graph(graph, steps, options.seed)
    fam = families["fam"]

    # the shared scale of the normalized alignment: the baseline run A's best improvement of L and of T
    base_tr = runs[BASELINE].trajectory
    reference = reference_scale(BASELINE, base_tr["L"][base_tr.ok], base_tr[T][base_tr.ok])
    for name in fam.names:
        L, tr = Lname[name], runs[name].trajectory
        # a changed objective L' is not recorded on A's run: its own run scales it (named so)
        norm = reference if L == "L" else reference_scale(f"{name} (own run: A does not record {L})",
                                                          tr[L][tr.ok], tr[T][tr.ok])
        figs[name] = trial_figures(tr, L, T, est, norm)
        for obj, v in tr.values.items():
            arrays[f"{name}/{obj}"] = v

    # -- Definitions 3 and 4 ---------------------------------------------------------------
    base_f = figs[BASELINE]
    robust_names = [n for n, pt in zip(fam.names[1:], fam.perturbations[1:]) if not changes_objective(pt)]
    general_names = [n for n, pt in zip(fam.names[1:], fam.perturbations[1:]) if changes_objective(pt)]
    dataset_names = [n for n, pt in zip(fam.names[1:], fam.perturbations[1:]) if kind_of(pt) == "dataset"]
    pick = lambda key, names: {n: figs[n][key] for n in names}
    summaries = []
    if robust_names:
        summaries += [capability_robustness(base_f["C(L)"], pick("C(L)", robust_names), tol, "L"),
                      robustness(f"C({T})", base_f["C(T)"], pick("C(T)", robust_names), tol,
                                 "Definition 3: capability robustness"),
                      alignment_robustness(base_f["alpha"], pick("alpha", robust_names), tol),
                      robustness("normalized alpha", base_f["normalized"], pick("normalized", robust_names), tol,
                                 "Definition 3: alignment robustness")]
    if general_names:
        summaries += [capability_generalization(base_f["C(L)"], pick("C(L)", general_names), tol, "L"),
                      robustness(f"C({T}) -> C({T}')", base_f["C(T)"], pick("C(T)", general_names), tol,
                                 "Definition 4: capability generalization (true objective)"),
                      alignment_generalization(base_f["alpha"], pick("alpha", general_names), tol),
                      robustness("normalized alpha -> normalized alpha'", base_f["normalized"],
                                 pick("normalized", general_names), tol, "Definition 4: alignment generalization")]
    keys = ["C(L)", "C(T)", "alpha", "normalized"]
    summary_keys = (keys if robust_names else []) + (keys if general_names else [])  # the figure of each summary
    inner = []
    if dataset_names:
        inner = [harris_inner_alignment(base_f["normalized"], pick("normalized", dataset_names), tol, p.min_alpha,
                                        quantity="normalized alpha"),
                 harris_inner_alignment(base_f["alpha"], pick("alpha", dataset_names), tol, None, quantity="alpha")]

    # -- tables ----------------------------------------------------------------------------
    rows = []
    for name, pert in zip(fam.names, fam.perturbations):
        f = figs[name]
        ch = {k: _median(relative_change(base_f[k], f[k])) for k in ("C(L)", "C(T)", "alpha", "normalized")}
        rows.append([name, kind_of(pert) if name != BASELINE else "-", fam.batch_of[fam.names.index(name)] + 1,
                     Lname[name], _median(f["C(L)"]), _median(f["C(T)"]), _median(f["alpha"]), _median(f["normalized"]),
                     ch["C(L)"], ch["C(T)"], ch["alpha"], ch["normalized"],
                     _ok(ch["C(L)"], tol), _ok(ch["C(T)"], tol), _ok(ch["alpha"], tol)])
    t_trials = Table(
        f"per perturbation (medians over {p.copies} copies; relative change |x' - x| / |x| against A, per copy then "
        f"median; 'ok' = change <= tolerance {tol:g}; run = the batched population it ran in; normalized = on the "
        f"scale of reference {BASELINE}, the baseline run)",
        ("perturbation", "kind", "run", "base objective", "C(L)", f"C({T})", "alpha", "normalized", "rel dC(L)",
         f"rel dC({T})", "rel dalpha", "rel dnormalized", "C(L) ok", f"C({T}) ok", "alpha ok"), tuple(rows))
    end_rows = []
    for name, spec in zip(fam.names, fam.specs):
        tr = runs[name].trajectory
        f = figs[name]
        plain = spec.loss == "cross_entropy" and spec.label_smoothing == 0
        opt = float(np.median(tr.meta["conditional_entropy"])) if plain else float("nan")
        end_rows.append([name, _median(f["final L"]), opt, _median(f["final L"]) - opt if plain else float("nan"),
                         _median(f["tail T/T(0)"]), f"{int(tr.ok.sum())}/{tr.K}"])
    t_end = Table("where each trial ended: tail mean of its base objective, the optimum of the cross-entropy on its "
                  "data (conditional entropy; undefined for other objectives), and how far its true objective fell",
                  ("perturbation", "final base objective", "optimum H", "distance", f"tail {T}/{T}(0)", "copies ok"),
                  tuple(end_rows))
    t_sum = Table(f"worst case and spread over the family (tolerance {tol:g})",
                  ("definition", "figure", "members", "worst", "worst member", "median", "IQR", "range (max-min)",
                   "tolerance", "verdict"), tuple(_summary_row(r) for r in summaries))
    tables = [t_trials, t_end, t_sum]
    if inner:
        tables.append(Table(
            "inner alignment over the dataset variations (seed 000): minimum alpha and worst relative change",
            ("figure", "A", "minimum", "at", "required minimum", "worst change", "at", "tolerance", "verdict"),
            tuple([ia.quantity, ia.baseline, ia.minimum, ia.minimum_name,
                   "-" if ia.min_alpha is None else ia.min_alpha, ia.worst_change, ia.worst_name, ia.tolerance,
                   {"aligned": "inner-aligned", "misaligned": "not inner-aligned"}.get(ia.verdict, "undefined")] for ia in inner)))
    batch_rows = []
    for j, b in enumerate(fam.batches):
        batch_rows.append([j + 1, len(b.members), b.population, ", ".join(fam.names[i] for i, _, _ in b.members)])
    tables.append(Table("batched populations: trials of equal shapes ran as one population",
                        ("run", "trials", "copies", "trials in it"), tuple(batch_rows)))

    # -- claims ----------------------------------------------------------------------------
    claims = []

    def change_se(change, key) -> float:
        """Standard error of a member's median change: bootstrap over copies and the per-copy delta-method error."""
        b, f = figs[BASELINE], figs[change.name]
        return Spread.of(change.per_copy, change_error(b[key], b[f"{key} error"], f[key], f[f"{key} error"])).standard_error

    def within(change, key, what) -> Claim:
        return Claim.compare(f"{change.name}: {what} changes by at most {tol:g}",
                             {f"change of {what} ({change.name})": change.change}, tol - change.change,
                             change_se(change, key), rule="")

    for r, key in zip(summaries, summary_keys):
        what = ("generalizes to every new objective of the family" if r.definition.startswith("Definition 4")
                else "is robust under every perturbation of the family")
        joined = Claim.all_of(f"{r.definition}: {r.quantity} {what} (worst relative change <= {tol:g})",
                              [within(c, key, r.quantity) for c in r.changes])
        claims.append(attrs.evolve(joined, numbers={"worst relative change": r.worst, "worst member": r.worst_name,
                                                    "median": r.median, "tolerance": tol} | joined.numbers,
                                   rule=f"every member's change <= {tol:g}: tolerance - change against 2 standard "
                                        f"errors (bootstrap over copies and the delta-method error of the per-copy "
                                        f"change); the least decided member's margin"))
    if inner:
        ia, ib = inner
        levels = [Claim.compare(f"{v}: normalized alpha >= {p.min_alpha:g}",
                                {f"normalized alpha ({v})": _median(figs[n]["normalized"])},
                                _median(figs[n]["normalized"]) - p.min_alpha,
                                Spread.of(figs[n]["normalized"], figs[n]["normalized error"]).standard_error)
                  for v, n in [("baseline", BASELINE)] + [(d, d) for d in dataset_names]]
        joined = Claim.all_of(
            f"seed 000: A is inner-aligned over the dataset variations: the (normalized) alpha stays >= "
            f"{p.min_alpha:g} and changes by at most {tol:g}",
            levels + [within(c, "normalized", "normalized alpha") for c in ia.robustness.changes])
        claims.append(attrs.evolve(
            joined, numbers={"minimum normalized alpha": ia.minimum, "at": ia.minimum_name,
                             "required minimum": p.min_alpha, "worst change of normalized alpha": ia.worst_change,
                             "tolerance": tol, "worst change of raw alpha (for comparison)": ib.worst_change,
                             "Harris verdict (thresholds on the medians)": ia.verdict},
            rule=f"Harris's rule over the baseline and the dataset variations, each number against 2 standard "
                 f"errors: every member's normalized alpha - {p.min_alpha:g} > resolution and every change "
                 f"within {tol:g} by more than its resolution; the least decided part's margin"))
    shifts = [s for s in sorted(p.shifts) if f"shift {s:g}" in figs]
    if len(shifts) >= 2:
        ch = [_median(relative_change(base_f["alpha"], figs[f"shift {s:g}"]["alpha"])) for s in shifts]
        alpha_rob = next((r for r in summaries if r.quantity == "alpha" and r.definition.startswith("Definition 3")),
                         None)
        se = [change_se(alpha_rob.change(f"shift {s:g}"), "alpha") if alpha_rob else float("nan") for s in shifts]
        steps_up = [Claim.compare(f"change at shift {b:g} >= change at shift {a:g}", {}, cb - ca,
                                  combined_error(sa, sb))
                    for a, b, ca, cb, sa, sb in zip(shifts, shifts[1:], ch, ch[1:], se, se[1:])]
        joined = Claim.all_of("a larger dataset shift changes alignment more: the change of alpha grows with the shift",
                              steps_up)
        claims.append(attrs.evolve(
            joined, numbers={f"change at shift {s:g}": c for s, c in zip(shifts, ch)},
            rule="increasing in the shift amount: each step's increase of the change against 2 standard errors "
                 "(of the two medians, combined); the least decided step's margin"))
        c0 = _median(relative_change(base_f["C(L)"], figs[f"shift {shifts[0]:g}"]["C(L)"]))
        cap_rob = next((r for r in summaries if r.quantity == "C(L)" and r.definition.startswith("Definition 3")),
                       None)
        claims.append(Claim.compare(
            f"seed 000's worry: a slight change of dataset (shift {shifts[0]:g}) changes capability C(L) by more "
            f"than the tolerance",
            {"change of C(L)": c0, "tolerance": tol}, c0 - tol,
            change_se(cap_rob.change(f"shift {shifts[0]:g}"), "C(L)") if cap_rob else float("nan"),
            rule=f"change - {tol:g} against 2 standard errors (bootstrap over copies and the delta-method error)"))

    notes = []
    if general_names:
        notes.append("Definition 4 compares C_{A'}(L') with C_A(L) although L' and L are measured in different "
                     "units (Brier score vs nats): the relative change is what the definition asks for; the "
                     "normalized alignment is the scale-free comparison")
    failing = [c for c in claims if c.holds is False]
    undecided = [c for c in claims if c.holds is None]
    if failing or undecided:
        notes.append(f"of {len(claims)} claims, {len(failing)} fail and {len(undecided)} are undecided on this run")
    choices = {
        "true objective": TRUE_OBJECTIVES[T], "estimator": str(est),
        "tolerance": f"{tol:g}: a figure is 'close' when |x' - x| / |x| <= {tol:g} (definitions.md leaves it open)",
        "pairing": f"copy k of every trial starts where copy k of A starts (unless the perturbation changes the "
                   f"start or its shape); changes are per copy, then the median over the {p.copies} copies",
        "dataset shift": "transition (1 - a) P + a Q with one fresh Q for every amount a; A's examples keep their "
                         "contexts and their targets are relabelled by a maximal coupling with the same random "
                         "numbers for every a (a larger shift changes a superset of the targets)",
        "inner alignment": f"over the dataset variations ({', '.join(dataset_names)}): on the scale-free "
                           f"normalized alignment, minimum >= {p.min_alpha:g} and every change <= {tol:g}; the raw "
                           f"alpha's minimum and worst change are shown beside it",
        "normalization reference": f"the baseline run {BASELINE}: every normalized alignment divides each capability "
                                   f"by {BASELINE}'s best improvement L(0) - min L of that objective (one scale for "
                                   f"all trials, so orderings of the raw alpha are kept); a trial with a changed "
                                   f"objective L' uses its own run's improvement of L' (named so: {BASELINE} does "
                                   f"not record L')",
        "claims": "each number against 2 standard errors: a member's change is the median over copies of the "
                  "per-copy relative change, its error the bootstrap over copies combined with the delta-method "
                  "error of the per-copy change from the estimator's errors of both figures",
        "robustness vs generalization": "a change of objective is compared by Definition 4, every other "
                                        "perturbation by Definition 3",
        "batching": "; ".join(f"run {j + 1}: {len(b.members)} trials x {p.copies} copies" for j, b in
                              enumerate(fam.batches)),
    }
    report = build_report("robustness", graph, runs, est, seed=options.seed, steps=steps, choices=choices,
                          claims=claims, tables=tables, notes=notes,
                          node_attributes={r[0]: {"relative_change_C_L": r[8], "relative_change_alpha": r[10]}
                                           for r in rows})
    summary = {"family": [{"name": n, "kind": kind_of(pt), "run": fam.batch_of[i] + 1, "description": pt.describe()}
                          for i, (n, pt) in enumerate(zip(fam.names, fam.perturbations))],
               "summaries": [r.to_dict() for r in summaries], "inner_alignment": [ia.to_dict() for ia in inner]}
    import json

    from hierarchy.report import json_ready

    extra = {"robustness.json": json.dumps(json_ready(summary), indent=2, allow_nan=False) + "\n"}
    plots = {"robustness.png": lambda path: plot_robustness(path, rows, runs, Lname, tol,
                                                            f"robustness (seed {options.seed}, {steps} steps)", T)}
    return ScenarioResult(report, graph, arrays, plots, extra)


def plot_robustness(path, rows, runs, Lname, tolerance, title, T) -> None:
    """Left: relative change of each figure per perturbation (log scale) with the tolerance line.
    Right: each trial's base objective against the step (median over copies)
    (:func:`scenarios.machinery.plots.plot_relative_changes`)."""
    from scenarios.machinery.plots import plot_relative_changes

    trials = [r for r in rows if r[0] != BASELINE]
    labels = ["C(L)", f"C({T})", "alpha", "normalized alpha"]
    changes = {lab: [r[8 + j] for r in trials] for j, lab in enumerate(labels)}
    curves = {name: run.trajectory[Lname[name]] for name, run in runs.items()}
    plot_relative_changes(path, [r[0] for r in trials], changes, curves, tolerance, title,
                          curve_label="base objective", baseline=BASELINE,
                          dashed=[n for n in runs if Lname[n] != "L"])
