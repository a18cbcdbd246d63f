"""Scenario ``capacity``: does alignment improve as neurons are added, and is there an inflection?

Seed 000 suggests that adding neurons need not make gradient descent more capable on
its true objective (it drives G to zero on a small network as on a large one), but
makes it better aligned with the base objective L; and asks whether there is a
capacity beyond which alignment declines (definitions.md, "Capacity").

The sweep: hidden widths (default 1 to 256, doubling) times seeds (default 5 per
width), on the data of ``harris-abc`` (a Markov chain of order 2 over 8 tokens, 256
examples, the same chain and sample for the same ``--seed``), every run a full-batch
gradient descent with the decaying learning rate of optimizer A. One trial per (width,
seed): its initialization comes from its own id (``hierarchy.sweep.trial_seed``), and
the seeds of one width run as one batched population (``batch_key`` = width), so the
sweep resumes (``--resume``) and runs on Dask (``--executor dask``) unchanged.

The report is the ordinary delegation report of a designer (objective L) delegating to
one gradient-descent node per width, each node's population being the seeds: every
width gets C(L), C(G), C(G1), alpha and the normalized alignment with their median,
standard error (bootstrap over seeds combined with the limit estimator's own error) and
interquartile range over seeds, and the delegation-product check. The normalized
alignment is on one shared scale: the **reference** width's runs (default the largest
width; ``--set reference_width=W``), each objective's best improvement L(0) - min L,
median over that width's seeds (``hierarchy.alignment.Normalization``). One factor
multiplies every width's alpha, so every ordering of raw alphas, the trend and the
inflection are those of alpha (the normalized claims repeat alpha's verdicts by
construction: that is the invariance it was built for).

On top, the shape of each curve against log2(width) is measured
(``hierarchy.inflection``): a Spearman trend and a change-point test for an inflection,
both with a bootstrap over seeds in which every value is also moved by its own
estimator error, and the change-point test on every seed's own curve. Every claim is
three-valued (``hierarchy.decision``): a margin, positive when it holds, against twice
its standard error:

* flat C(true objective): margin = tolerance - (max - min) / median of the per-width
  medians; standard error = the bootstrap standard deviation of that variation;
* alignment rises with width: margin = Spearman rho of the median curve; standard
  error = its bootstrap standard deviation;
* an inflection: every rule of ``hierarchy.inflection`` as a margin (BIC(line) -
  BIC(hinge) - margin, the rise fraction, BIC(plateau) - BIC(hinge) - margin, the fall
  fraction - the effect-size floor), each against its bootstrap standard error, joined
  by ``Claim.all_of``; the share of seeds whose own curve shows it is reported beside;
* the delegation product: exact, margin = 1e-9 - the largest relative discrepancy.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from agents.gradient_descent import GradientDescent
from agents.markov import TokenDataset
from agents.schedules import Decay
from hierarchy.alignment import Normalization, alignment, normalized_alignment
from hierarchy.capability import capability, tail_length
from hierarchy.errors import ParameterError
from hierarchy.estimator import Estimator
from hierarchy.figures import SPREAD_LEGEND, Spread, format_number
from hierarchy.graph import DelegationGraph, OptimizerNode
from hierarchy.inflection import MIN_FALL, bootstrap_medians, inflection, median_curve, trend
from hierarchy.measure import measure
from hierarchy.objective import Objective
from hierarchy.report import Claim, Table, build_report
from hierarchy.run import ChainRun, node_seed
from hierarchy.sweep import Trial, TrialResult, results_frame, trial_seed
from hierarchy.trajectory import Trajectory

from .markov_setup import MarkovSetup
from .registry import RunOptions, ScenarioResult, scenario
from .sweep_exec import run_sweep

TRUE_OBJECTIVES = {
    "G": "G = sum_i (dL/dtheta_i)^2, the squared gradient norm (default true objective of gradient descent)",
    "G1": "G1 = sum_i |dL/dtheta_i|, the L1 gradient size (an equally valid true objective)",
}
RECORDED = ("L", "G", "G1")


@attrs.frozen
class CapacityParams(MarkovSetup):
    """Parameters of ``capacity`` (change with ``--set name=value``; ``widths`` as ``1,2,4``).

    ``flat_tolerance``: C(true objective) counts as flat when (max - min) / median of its
    per-width medians is at most this (the claim: tolerance - variation against twice its
    bootstrap standard error). ``trend_level``: the answer paragraph says C(L) rises
    (falls) when its Spearman correlation with width is positive (negative) on the median
    curve and in at least this fraction of bootstrap samples (the claims are decided by
    margins, not by this level). ``bootstrap``: samples over seeds. ``bic_margin``,
    ``min_support`` and ``min_fall`` (effect-size floor): the inflection rule of
    ``hierarchy.inflection``. ``reference_width``: the width whose runs scale the
    normalized alignment (0: the largest width). ``chunk``: trials per batched population
    (0: all seeds of a width together).
    """

    widths: tuple = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    seeds: int = 5
    init_scale: float = 1.0
    true_objective: str = "G"
    flat_tolerance: float = 0.25
    trend_level: float = 0.95
    bootstrap: int = 1000
    bic_margin: float = 2.0
    min_support: float = 0.5
    min_fall: float = MIN_FALL
    reference_width: int = 0
    chunk: int = 0
    dtype: str = "float64"

    def __attrs_post_init__(self):
        if self.true_objective not in TRUE_OBJECTIVES:
            raise ParameterError(f"true_objective={self.true_objective!r}; choose G or G1")
        w = tuple(self.widths)
        if not w or any(not isinstance(x, (int, np.integer)) or x < 1 for x in w) or list(w) != sorted(set(w)):
            raise ParameterError(f"widths={w}; give increasing positive widths, e.g. --set widths=1,2,4,8")
        for name in ("seeds", "vocab", "order", "examples", "bootstrap"):
            if getattr(self, name) < 1:
                raise ParameterError(f"{name}={getattr(self, name)} must be at least 1")
        if self.chunk < 0:
            raise ParameterError(f"chunk={self.chunk}; give 0 (all seeds of a width together) or a positive size")
        if not (self.flat_tolerance > 0 and 0 < self.trend_level <= 1 and 0 <= self.min_support <= 1):
            raise ParameterError("flat_tolerance must be > 0, trend_level in (0, 1], min_support in [0, 1]")
        if not (0 <= self.min_fall < 1):
            raise ParameterError(f"min_fall={self.min_fall}; give the effect-size floor as a fraction of the curve's "
                                 f"range in [0, 1), e.g. {MIN_FALL}")
        if self.reference_width and self.reference_width not in w:
            raise ParameterError(f"reference_width={self.reference_width} is not among the widths {w}; give one of "
                                 f"them, or 0 for the largest")
        Decay(self.lr, self.tau)

    @property
    def reference(self) -> int:
        """The width whose runs scale the normalized alignment (``reference_width``, or the largest).

        Example:
            >>> CapacityParams(widths=(1, 4, 16)).reference, CapacityParams(widths=(1, 4), reference_width=1).reference
            (16, 1)
        """
        return int(self.reference_width or self.widths[-1])


def trial_id(width: int, seed_index: int) -> str:
    """The id of the trial (width, seed index), e.g. ``w16-s3``.

    Example:
        >>> trial_id(16, 3)
        'w16-s3'
    """
    return f"w{int(width)}-s{int(seed_index)}"


FIGURES = ("C_L", "C_G", "C_G1", "C_L_error", "C_G_error", "C_G1_error", "alpha_G", "alpha_G1", "alpha_G_error",
           "alpha_G1_error", "final_L", "G_tail_fraction", "G_peak_fraction", "L_rises", "converged")


def trial_figures(L, G, G1, estimator: Estimator) -> dict:
    """Per-trial figures from one run's values L, G, G1 [T] (Definitions 1 and 2).

    C_L, C_G, C_G1 (capability) and their estimator errors C_*_error (the limit estimator's
    standard error; NaN under ``finite``), alpha_G = C(L) / C(G) and alpha_G1 (alignment)
    with alpha_*_error (delta method), final_L and G_tail_fraction (tail mean of L, and of
    G over G(0)), G_peak_fraction (max_t G / G(0): above 1 when the gradient grew on the
    way), L_rises (the number of steps with L(t+1) > L(t): gradient descent with a small
    enough step never raises L, so a positive count marks an unstable phase), converged
    (1 when the limit estimates of L and G both converged). NaN where undefined (a
    diverged run). The normalized alignment is not a per-trial figure: its scale comes
    from the reference width's runs (see ``run``).

    Example:
        >>> t = np.arange(41.0)
        >>> f = trial_figures(1 + np.exp(-t / 4), np.exp(-t / 2), np.exp(-t / 4), Estimator("limit"))
        >>> round(f["C_L"], 3), round(f["alpha_G1"], 3), f["converged"]
        (1.0, 1.0, 1.0)
    """
    vals = {k: np.asarray(v, dtype=np.float64)[None, :] for k, v in (("L", L), ("G", G), ("G1", G1))}
    out = {}
    for k, v in vals.items():
        c = capability(v, estimator)
        out[f"C_{k}"] = float(c.value[0])
        out[f"C_{k}_error"] = float(c.error[0])
    for k in ("G", "G1"):
        a = alignment(vals["L"], vals[k], estimator)
        out[f"alpha_{k}"] = float(a.value[0])
        out[f"alpha_{k}_error"] = float(a.error[0])
    n = tail_length(vals["L"].shape[1], estimator.tail)
    out["final_L"] = float(vals["L"][0, -n:].mean())
    out["G_tail_fraction"] = float(vals["G"][0, -n:].mean() / vals["G"][0, 0])
    out["G_peak_fraction"] = float(np.max(vals["G"][0]) / vals["G"][0, 0])
    out["L_rises"] = float(np.sum(np.diff(vals["L"][0]) > 0)) if np.all(np.isfinite(vals["L"])) else math.nan
    conv = [capability(vals[k], Estimator("limit", estimator.tail, estimator.tolerance)).converged[0] for k in ("L", "G")]
    out["converged"] = float(all(conv))
    # an infinite error (a limit out of this run's reach) is kept: it says the value is unknown
    return {k: (v if np.isfinite(v) or (k.endswith("_error") and v == math.inf) else math.nan) for k, v in out.items()}


@attrs.frozen(eq=False)
class CapacityBatch:
    """Runs one chunk of capacity trials (all of one width) as one gradient-descent population.

    Copy k starts from ``GradientDescent(...).initial_parameters(trial_seed(seed, id_k))``
    (rule of ``agents.mlp.init_parameters``), so a trial's numbers depend on its id, not on
    which other trials share its batch. Picklable: Dask workers receive it.
    """

    data: TokenDataset
    steps: int
    seed: int
    schedule: Decay
    init_scale: float
    dtype: str
    estimator: Estimator

    def leaf(self, width: int, ids) -> GradientDescent:
        """The gradient-descent population of ``width`` whose copies are the trials ``ids``.

        Example:
            >>> from agents.markov import MarkovChain
            >>> data = MarkovChain.random(8, 2, 0.3, 0).sample(64, 1)
            >>> b = CapacityBatch(data, 10, 0, Decay(1.0, 2000.0), 1.0, "float64", Estimator())
            >>> b.leaf(4, ["w4-s0", "w4-s1"]).init.shape
            (2, 108)
        """
        one = GradientDescent(self.data, hidden=(int(width),), init_scale=self.init_scale, dtype=self.dtype)
        init = np.concatenate([one.initial_parameters(trial_seed(self.seed, i)) for i in ids])
        return GradientDescent(self.data, hidden=(int(width),), schedule=self.schedule, population=len(ids),
                               init_scale=self.init_scale, init=init, dtype=self.dtype)

    def __call__(self, chunk: list) -> list:
        widths = {t.params["width"] for t in chunk}
        if len(widths) != 1:
            raise ParameterError(f"a capacity batch holds one width, got {sorted(widths)}; batch trials by width")
        width = widths.pop()
        tr = self.leaf(width, [t.id for t in chunk]).run(self.steps, trial_seed(self.seed, chunk[0].id))
        out = []
        for k, t in enumerate(chunk):
            arrays = {name: tr[name][k] for name in RECORDED}
            arrays["diverged_at"] = np.array(tr.diverged_at[k])
            figs = trial_figures(arrays["L"], arrays["G"], arrays["G1"], self.estimator)
            figs["diverged_at"] = float(tr.diverged_at[k])
            out.append(TrialResult(t.id, t.params, arrays, figs))
        return out


def capacity_trials(p: CapacityParams, steps: int, seed: int, estimator: Estimator) -> list:
    """One trial per (width, seed index), widths in order; batch_key = width; cost = parameters.

    The params name everything the trial's numbers depend on, so a resumed sweep with other
    settings is refused rather than mixed.

    Example:
        >>> ts = capacity_trials(CapacityParams(widths=(1, 2), seeds=2), 100, 0, Estimator())
        >>> [(t.id, t.batch_key, t.params["steps"]) for t in ts]
        [('w1-s0', 1, 100), ('w1-s1', 1, 100), ('w2-s0', 2, 100), ('w2-s1', 2, 100)]
    """
    common = {"steps": int(steps), "root_seed": int(seed), "vocab": p.vocab, "order": p.order,
              "examples": p.examples, "concentration": p.concentration, "lr": p.lr, "tau": p.tau,
              "init_scale": p.init_scale, "dtype": p.dtype,
              "estimator": {"kind": estimator.kind, "tail": estimator.tail, "tolerance": estimator.tolerance}}
    trials = []
    for w in p.widths:
        cost = (p.order * p.vocab + 1) * w + (w + 1) * p.vocab
        for s in range(p.seeds):
            trials.append(Trial(trial_id(w, s), {"width": int(w), "seed_index": s, **common}, batch_key=int(w),
                                cost=cost))
    return trials


def _matrix(results: list, p: CapacityParams, figure: str) -> np.ndarray:
    by_id = {r.trial_id: r for r in results}
    return np.array([[by_id[trial_id(w, s)].figures[figure] for s in range(p.seeds)] for w in p.widths])


def _bands(m: np.ndarray) -> tuple:
    q = np.full((m.shape[0], 3), np.nan)
    for i, row in enumerate(m):
        f = row[np.isfinite(row)]
        if f.size:
            q[i] = np.percentile(f, [25, 50, 75])
    return q[:, 0], q[:, 1], q[:, 2]


def plot_capacity(path, widths, curves: dict, inflections: dict, title: str = "") -> None:
    """One panel per figure against width (log2 axis): the median over seeds, band = IQR;
    a detected inflection is drawn as a vertical line with its bootstrap 90% interval.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "c.png"
        >>> plot_capacity(path, (1, 2, 4), {"C(G)": np.ones((3, 2))}, {})
        >>> path.stat().st_size > 0
        True
    """
    from .plots import _pyplot

    plt = _pyplot()
    fig, axes = plt.subplots(1, len(curves), figsize=(4.4 * len(curves), 3.8), squeeze=False)
    w = np.asarray(widths, dtype=float)
    for ax, (label, m) in zip(axes[0], curves.items()):
        lo, med, hi = _bands(m)
        (line,) = ax.plot(w, med, marker="o", lw=1.3, label="median over seeds")
        ax.fill_between(w, lo, hi, color=line.get_color(), alpha=0.25, lw=0, label="interquartile range")
        est = inflections.get(label)
        if est is not None and est.found:
            a, _, b = (2.0 ** v for v in est.interval)
            ax.axvspan(a, b, color="tab:red", alpha=0.1, lw=0, label="inflection, 90% bootstrap")
            ax.axvline(2.0 ** est.observed.break_x, color="tab:red", ls="--", lw=1)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("hidden width")
        ax.set_title(label, fontsize=10)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@scenario("capacity", "seed 000: sweep the hidden width; capability on G, alignment with L, inflection",
          CapacityParams, default_steps=4000)
def run(options: RunOptions, p: CapacityParams) -> ScenarioResult:
    steps = int(options.steps)
    est = options.estimator
    T = p.true_objective
    chain, data = p.markov_data(options.seed)
    optimum = data.conditional_entropy()
    batch = CapacityBatch(data, steps, int(options.seed), Decay(p.lr, p.tau), p.init_scale, p.dtype, est)
    trials = capacity_trials(p, steps, options.seed, est)
    results = run_sweep(trials, batch, out=options.out, resume=options.resume, executor=options.executor,
                        scheduler=options.scheduler, workers=options.workers, progress=options.progress,
                        chunk=p.chunk or None)
    by_id = {r.trial_id: r for r in results}

    # the delegation graph: a designer delegating to one gradient-descent population per width
    obj_L = Objective("L", "cross-entropy of the next token on the training set (the designer's base objective)")
    obj_T = Objective(T, TRUE_OBJECTIVES[T])
    nodes = [OptimizerNode("designer", obj_L, role="designer (human)",
                           description="chooses the width, delegates the training to gradient descent")]
    runs = {}
    arrays = {"widths": np.asarray(p.widths)}
    for w in p.widths:
        ids = [trial_id(w, s) for s in range(p.seeds)]
        name = f"w{w}"
        nodes.append(OptimizerNode(name, obj_T, leaf=batch.leaf(w, ids), role="gradient descent",
                                   description=f"hidden width {w}, {p.seeds} seeds, {Decay(p.lr, p.tau).describe()}"))
        values = {k: np.stack([by_id[i].arrays[k] for i in ids]) for k in RECORDED}
        diverged = np.array([int(by_id[i].arrays["diverged_at"]) for i in ids])
        runs[name] = ChainRun(("designer", name), Trajectory(values, diverged_at=diverged, meta={"width": w}))
        for k, v in values.items():
            arrays[f"{name}/{k}"] = v
    graph = DelegationGraph(nodes, [("designer", n.name) for n in nodes[1:]])
    m = measure(graph, runs, est)

    x = np.log2(np.asarray(p.widths, dtype=float))
    curves = {f"C({T})": _matrix(results, p, f"C_{T}"), "C(L)": _matrix(results, p, "C_L"),
              f"alpha(L | {T})": _matrix(results, p, f"alpha_{T}"),
              f"normalized alignment (L | {T})": _matrix(results, p, f"normalized_{T}")}
    trends, inflections = {}, {}
    for label, mat in curves.items():
        trends[label] = trend(x, mat, p.bootstrap, node_seed(options.seed, f"bootstrap-trend-{label}"))
        inflections[label] = inflection(x, mat, p.bootstrap, node_seed(options.seed, f"bootstrap-inflection-{label}"),
                                        p.bic_margin, p.min_support)
    keyC, keyA, keyN = f"C({T})", f"alpha(L | {T})", f"normalized alignment (L | {T})"

    # claims, decided on the measured numbers
    medC = median_curve(curves[keyC])
    finite = medC[np.isfinite(medC)]
    variation = float((finite.max() - finite.min()) / abs(np.median(finite))) if finite.size else math.nan
    lvl = p.trend_level

    def trend_numbers(label):
        t = trends[label]
        return {"Spearman rho of median curve": t.rho, "bootstrap P(rho > 0)": t.positive,
                "bootstrap P(rho < 0)": t.negative}

    def inflection_numbers(label):
        e = inflections[label]
        return {"found": e.found, "break width": 2.0 ** e.observed.break_x if e.observed.hinge else math.nan,
                "BIC(line) - BIC(hinge)": e.observed.delta_bic, "bootstrap support": e.support}

    claims = [
        Claim.check(f"capability on the true objective stays flat in width: C({T}) varies by at most "
                    f"{p.flat_tolerance:.0%} across widths",
                    {"min median": float(finite.min()) if finite.size else math.nan,
                     "max median": float(finite.max()) if finite.size else math.nan,
                     "(max - min) / median": variation, "tolerance": p.flat_tolerance},
                    lambda n: n["(max - min) / median"] <= p.flat_tolerance,
                    rule=f"(max - min) / median of the per-width medians <= {p.flat_tolerance:g}"),
        Claim.check(f"alignment rises with width: alpha(L | {T}) increases with width", trend_numbers(keyA),
                    lambda n: trends[keyA].rises(lvl),
                    rule=f"Spearman rho > 0 on the median curve and in >= {lvl:.0%} of {p.bootstrap} bootstrap samples"),
        Claim.check(f"scale-free alignment rises with width: the normalized alignment (L | {T}) increases with width",
                    trend_numbers(keyN), lambda n: trends[keyN].rises(lvl),
                    rule=f"Spearman rho > 0 on the median curve and in >= {lvl:.0%} of {p.bootstrap} bootstrap samples"),
        Claim.check(f"there is an inflection beyond which alpha(L | {T}) falls", inflection_numbers(keyA),
                    lambda n: inflections[keyA].found, rule=inflection_rule(p)),
        Claim.check(f"there is an inflection beyond which the normalized alignment (L | {T}) falls",
                    inflection_numbers(keyN), lambda n: inflections[keyN].found, rule=inflection_rule(p)),
        Claim.check(f"delegation product: C_designer(L) = alpha * C_w({T}) at every width",
                    {"max discrepancy": max((pf.discrepancy for pf in m.products), default=math.nan), "bound": 1e-9},
                    lambda n: n["max discrepancy"] < 1e-9, rule="relative discrepancy < 1e-9"),
    ]

    # tables
    rows = []
    for w in p.widths:
        name = f"w{w}"
        f = lambda fig: str(Spread.of(_matrix(results, p, fig)[list(p.widths).index(w)]))
        div = sum(int(by_id[trial_id(w, s)].arrays["diverged_at"]) >= 0 for s in range(p.seeds))
        conv = np.nanmean(_matrix(results, p, "converged")[list(p.widths).index(w)])
        rows.append([w, graph.node(name).leaf.parameter_count(), f(f"C_{T}"), f("C_L"), f(f"alpha_{T}"),
                     f(f"normalized_{T}"), f("final_L"), f("G_tail_fraction"), f("G_peak_fraction"), f("L_rises"),
                     f"{conv:.0%}", div])
    tables = [
        Table(f"capacity: median [interquartile range] over {p.seeds} seeds per width (optimum of L: H = "
              f"{optimum:.4f})",
              ("width", "parameters", f"C({T})", "C(L)", f"alpha(L | {T})", f"normalized (L | {T})", "final L",
               "tail G/G(0)", "max G/G(0)", "steps L rose", "converged", "diverged"), tuple(rows)),
        Table(f"shape against log2(width): Spearman trend and inflection, bootstrap over seeds "
              f"({p.bootstrap} samples)",
              ("curve", "Spearman rho", "rho 90% interval", "P(rho > 0)", "verdict"),
              tuple([label, trends[label].rho,
                     f"[{format_number(trends[label].interval[0])}, {format_number(trends[label].interval[1])}]",
                     trends[label].positive, inflections[label].describe()] for label in curves)),
    ]

    notes = [answer(p, T, variation, trends, inflections, keyC, keyA, keyN)]
    notes += explanations(p, results, optimum)
    if any(int(r.arrays["diverged_at"]) >= 0 for r in results):
        notes.append("some runs diverged (see the table); their figures are left out of every median and bootstrap")
    extra = {}
    try:
        extra["trials.csv"] = results_frame(results).to_csv(index=False)
    except ParameterError:
        notes.append("pandas is not installed: trials.csv was not written")
    choices = {"true objective": TRUE_OBJECTIVES[T], "estimator": str(est),
               "curve": "median over seeds per width, spread = interquartile range",
               "trend": f"Spearman rank correlation with log2(width), bootstrap over seeds, level {lvl:g}",
               "inflection": inflection_rule(p),
               "flat": f"(max - min) / median of the per-width medians of C({T}) <= {p.flat_tolerance:g}",
               "data": f"Markov chain order {p.order} over {p.vocab} tokens (Dirichlet {p.concentration:g}), "
                       f"{p.examples} examples (same as harris-abc)"}
    report = build_report("capacity", graph, runs, est, seed=options.seed, steps=steps, choices=choices,
                          claims=claims, tables=tables, notes=notes, measurements=m,
                          node_attributes={f"w{w}": {"width": int(w)} for w in p.widths})
    for label, e in inflections.items():
        key = "".join(ch if ch.isalnum() else "_" for ch in label).strip("_")
        arrays[f"bootstrap/{key}/inflection_locations"] = np.asarray(e.locations, dtype=float)
    plots = {"capacity.png": lambda path: plot_capacity(
        path, p.widths, curves, inflections,
        title=f"capacity sweep (seed {options.seed}, {steps} steps, {p.seeds} seeds per width)")}
    return ScenarioResult(report, graph, arrays, plots, extra)


def inflection_rule(p: CapacityParams) -> str:
    """The inflection rule in words, with this run's thresholds.

    Example:
        >>> inflection_rule(CapacityParams())[:40]
        'median curve against log2(width): a cont'
    """
    return (f"median curve against log2(width): a continuous two-segment fit beats a line and a rise-then-plateau "
            f"by BIC margin > {p.bic_margin:g}, rising before and falling after the break; found when the median "
            f"curve shows it and >= {p.min_support:.0%} of {p.bootstrap} bootstrap samples over seeds do")


def explanations(p: CapacityParams, results: list, optimum: float) -> list:
    """Measured facts that explain the curves: the width from which the median final L stays
    within 0.01 nats of its optimum H (so C(L) can hardly grow further), and the widths where
    gradient descent went through an unstable phase (median number of steps on which L rose > 0).
    (No example: it reads a whole sweep's results; the CLI tests run it.)"""
    notes = []
    final = median_curve(_matrix(results, p, "final_L")) - optimum
    near = np.isfinite(final) & (final < 0.01)
    if near[-1]:
        first = int(np.flatnonzero(~near)[-1] + 1) if (~near).any() else 0
        notes.append(f"from width {p.widths[first]} on the median final L is within 0.01 nats of the optimum "
                     f"H = {optimum:.4f} (largest distance there {format_number(float(np.max(final[first:])))}): "
                     f"C(L) cannot grow much beyond it, so alpha = C(L) / C(true objective) then moves with "
                     f"C(true objective) alone")
    rises = _matrix(results, p, "L_rises")
    peaks = _matrix(results, p, "G_peak_fraction")
    unstable = [(w, int(np.nanmedian(rises[i])), float(np.nanmedian(peaks[i])))
                for i, w in enumerate(p.widths) if np.nanmedian(rises[i]) > 0]
    if unstable:
        notes.append("gradient descent went through an unstable phase at width " + ", ".join(
            f"{w} (L rose on {r} steps, G peaked at {format_number(g)} x G(0))" for w, r, g in unstable)
            + f" (medians over seeds): learning rate {p.lr:g} is too large for these widths at the start; their "
            f"runs are chaotic there, so their figures move with rounding (e.g. across executors)")
    return notes


def answer(p, T, variation, trends, inflections, keyC, keyA, keyN) -> str:
    """Seed 000's question answered in one paragraph from the measured numbers (the trends
    and inflections computed by ``run``; no example: it needs a whole sweep's results)."""
    def direction(label):
        t = trends[label]
        return "rises" if t.rises(p.trend_level) else "falls" if t.falls(p.trend_level) else "shows no monotone trend"

    flat = "stays flat" if variation <= p.flat_tolerance else "is not flat"
    return (f"answer from the data: capability on the true objective C({T}) {flat} in width (its per-width medians "
            f"vary by {format_number(100 * variation)}% of their median); C(L) {direction('C(L)')} with width; "
            f"alpha(L | {T}) {direction(keyA)} with width; the normalized alignment {direction(keyN)} with width. "
            f"alpha: {inflections[keyA].describe()}. normalized alignment: {inflections[keyN].describe()}.")
