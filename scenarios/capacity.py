"""Scenario ``capacity``: does alignment improve as neurons are added, and is there an inflection?

Seed 000 suggests that adding neurons need not make gradient descent more capable on
its true objective (it drives G to zero on a small network as on a large one), but
makes it better aligned with the base objective L; and asks whether there is a
capacity beyond which alignment declines (definitions.md, "Capacity").

The sweep: hidden widths (default 1 to 256, doubling) times seeds (default 5 per
width), on the data of ``harris-abc`` (a Markov chain of order 2 over 8 tokens, 256
examples, the same chain and sample for the same ``--seed``), every run a full-batch
gradient descent with the decaying learning rate of optimizer A. One trial per (width,
seed): its initialization comes from its own id (``hierarchy.sweep.named_seed``), and
the seeds of one width run as one batched population (``batch_key`` = width), so the
sweep resumes (``--resume``) and runs on Dask (``--executor dask``) unchanged.

The report is the ordinary delegation report of a designer (objective L) delegating to
one gradient-descent node per width, each node's population being the seeds: every
width gets C(L), C(G), C(G1), alpha and the normalized alignment with their median,
standard error (bootstrap over seeds combined with the limit estimator's own error) and
interquartile range over seeds, and the delegation-product check. The normalized
alignment is on one shared scale: the **reference** width's runs (default the middle
width of the sweep, 16; ``--set reference_width=W``), each objective's best improvement L(0) - min L,
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
* an inflection: the detector's bootstrap support (holds above 95% with the median curve
  showing it, fails below 5%) and its effect size (the fall fraction minus the floor,
  against twice its bootstrap standard error), both required; the share of seeds whose
  own curve shows it is reported beside;
* the delegation product: exact, margin = 1e-9 - the largest relative discrepancy.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from agents.language_model.gradient_descent import GradientDescent
from agents.language_model.markov import TokenDataset
from agents.language_model.schedules import Decay
from hierarchy.alignment import Normalization, alignment, normalized_alignment
from hierarchy.capability import capability, tail_length
from hierarchy.errors import ParameterError
from hierarchy.estimator import Estimator
from hierarchy.figures import Spread, format_number
from hierarchy.graph import DelegationGraph, OptimizerNode
from hierarchy.inflection import MIN_FALL, bootstrap_medians, inflection, median_curve, trend
from hierarchy.measure import measure
from hierarchy.objective import Objective
from hierarchy.report import Claim, Table, build_report
from hierarchy.batch import Batch
from hierarchy.run import run_graph
from hierarchy.sweep import Trial, TrialResult, results_frame
from hierarchy.trajectory import Trajectory

from scenarios.common.markov_setup import MarkovSetup
from scenarios.machinery.registry import SWEEP_OPTIONS, RunOptions, ScenarioResult, check_fields, parameter, scenario
from scenarios.machinery.sweeps import run_sweep
from hierarchy.seeding import named_seed

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
    normalized alignment (0: the middle width of the sweep, 16 by default: away from the
    narrow end, where L hardly improves, and from the wide end, where learning rate 1 is
    unstable at the start and the figures move with rounding). ``chunk``: trials per batched population
    (0: all seeds of a width together).
    """

    widths: tuple = parameter((1, 2, 4, 8, 16, 32, 64, 128, 256), 'hidden widths of the sweep')
    seeds: int = parameter(5, 'seeds per width (trained as one batched population)')
    init_scale: float = parameter(1.0, 'scale of the random initial parameters')
    true_objective: str = parameter("G", "gradient descent's true objective: G or G1")
    flat_tolerance: float = parameter(0.25, 'C(true objective) counts as flat when its relative range is at most this')
    trend_level: float = parameter(0.95, 'share of bootstrap samples the C(L) trend needs in the answer paragraph')
    bootstrap: int = parameter(1000, 'bootstrap samples over seeds')
    bic_margin: float = parameter(2.0, 'BIC margin of the inflection rule')
    min_support: float = parameter(0.5, 'share of bootstrap samples an inflection needs')
    min_fall: float = parameter(MIN_FALL, "least fall (share of the curve's range) an inflection needs")
    reference_width: int = parameter(0, 'width whose runs scale the normalized alignment (0: the middle width)')
    chunk: int = parameter(0, 'trials per batched population (0: all seeds of a width together)')
    dtype: str = parameter("float64", 'torch dtype of the training (float64 or float32)')

    def __attrs_post_init__(self):
        if self.true_objective not in TRUE_OBJECTIVES:
            raise ParameterError(f"true_objective={self.true_objective!r}; choose G or G1")
        w = tuple(self.widths)
        if not w or any(not isinstance(x, (int, np.integer)) or x < 1 for x in w) or list(w) != sorted(set(w)):
            raise ParameterError(f"widths={w}; give increasing positive widths, e.g. --set widths=1,2,4,8")
        self.check_setup()
        check_fields(self, {"seeds": "count", "bootstrap": "count", "init_scale": "non-negative",
                            "flat_tolerance": "positive", "bic_margin": "non-negative", "reference_width": "count0"})
        if not isinstance(self.chunk, int) or self.chunk < 0:
            raise ParameterError(f"chunk={self.chunk}; give 0 (all seeds of a width together) or a positive size",
                                 parameter="chunk")
        if self.dtype not in ("float64", "float32"):
            raise ParameterError(f"dtype={self.dtype!r} is not supported; give float64 or float32", parameter="dtype")
        check_fields(self, {"trend_level": "fraction", "min_support": "probability"})
        if not (0 <= self.min_fall < 1):
            raise ParameterError(f"min_fall={self.min_fall}; give the effect-size floor as a fraction of the curve's "
                                 f"range in [0, 1), e.g. {MIN_FALL}", parameter="min_fall")
        if self.reference_width and self.reference_width not in w:
            raise ParameterError(f"reference_width={self.reference_width} is not among the widths {w}; give one of "
                                 f"them, or 0 for the middle one")
        self.check_copies(self.chunk or self.seeds, w[-1], f"a batch of width {w[-1]}", "widths")
        from hierarchy.memory import check_memory
        check_memory(8.0 * 4 * self.bootstrap * len(w) * self.seeds, f"{self.bootstrap} bootstrap samples of "
                     f"{len(w)} widths x {self.seeds} seeds", "draw fewer bootstrap samples", parameter="bootstrap")
        Decay(self.lr, self.tau)

    @property
    def reference(self) -> int:
        """The width whose runs scale the normalized alignment (``reference_width``, or the middle
        width: the lower of the two middle ones for an even count).

        Example:
            >>> CapacityParams().reference, CapacityParams(widths=(1, 4, 16, 64)).reference
            (16, 4)
            >>> CapacityParams(widths=(1, 4), reference_width=1).reference
            1
        """
        return int(self.reference_width or self.widths[(len(self.widths) - 1) // 2])


def trial_id(width: int, seed_index: int) -> str:
    """The id of the trial (width, seed index), e.g. ``w16-s3``.

    Example:
        >>> trial_id(16, 3)
        'w16-s3'
    """
    return f"w{int(width)}-s{int(seed_index)}"


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

    Copy k starts from ``GradientDescent(...).initial_parameters(named_seed(seed, id_k))``
    (rule of ``agents.language_model.mlp.init_parameters``), so a trial's numbers depend on its id, not on
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
            >>> from agents.language_model.markov import MarkovChain
            >>> data = MarkovChain.random(8, 2, 0.3, 0).sample(64, 1)
            >>> b = CapacityBatch(data, 10, 0, Decay(1.0, 2000.0), 1.0, "float64", Estimator())
            >>> b.leaf(4, ["w4-s0", "w4-s1"]).init.shape
            (2, 108)
        """
        one = GradientDescent(self.data, hidden=(int(width),), init_scale=self.init_scale, dtype=self.dtype)
        init = np.concatenate([one.initial_parameters(named_seed(self.seed, i)) for i in ids])
        return GradientDescent(self.data, hidden=(int(width),), schedule=self.schedule, population=len(ids),
                               init_scale=self.init_scale, init=init, dtype=self.dtype)

    def __call__(self, chunk: list) -> list:
        widths = {t.params["width"] for t in chunk}
        if len(widths) != 1:
            raise ParameterError(f"a capacity batch holds one width, got {sorted(widths)}; batch trials by width")
        width = widths.pop()
        tr = self.leaf(width, [t.id for t in chunk]).run(self.steps, named_seed(self.seed, chunk[0].id))
        out = []
        for k, t in enumerate(chunk):
            arrays = {name: tr[name][k] for name in RECORDED}
            arrays["diverged_at"] = np.array(tr.diverged_at[k])
            figs = trial_figures(arrays["L"], arrays["G"], arrays["G1"], self.estimator)
            # the trial store keeps finite numbers or null: an infinite error is stored as NaN (unknown);
            # the report recomputes the figures from the stored arrays, infinities included
            figs = {f: (v if math.isfinite(v) else math.nan) for f, v in figs.items()}
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


def _figures(result: TrialResult, estimator: Estimator) -> dict:
    """A trial's figures, recomputed from its stored arrays (bit for bit what the batch computed;
    the trial store's JSON keeps an infinite error as null, and an older store may lack a figure)."""
    a = result.arrays
    return trial_figures(a["L"], a["G"], a["G1"], estimator)


def _matrix(figures: dict, p: CapacityParams, figure: str) -> np.ndarray:
    return np.array([[figures[trial_id(w, s)][figure] for s in range(p.seeds)] for w in p.widths])


def _bands(m: np.ndarray) -> tuple:
    q = np.full((m.shape[0], 3), np.nan)
    for i, row in enumerate(m):
        f = row[np.isfinite(row)]
        if f.size:
            q[i] = np.percentile(f, [25, 50, 75])
    return q[:, 0], q[:, 1], q[:, 2]


def plot_capacity(path, widths, curves: dict, inflections: dict, title: str = "", descriptions=None,
                  notes=()) -> None:
    """One panel per figure against width (log2 axis), titled with its meaning (``descriptions``):
    the median over seeds, band = IQR over seeds (labelled); a detected inflection is drawn as a
    vertical line with its bootstrap 90% interval; a log y axis where the values are positive and
    span two decades; ``notes`` (the claims with their verdicts) under the panels
    (:func:`scenarios.machinery.plots.plot_panels`).

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "c.png"
        >>> plot_capacity(path, (1, 2, 4), {"C(G)": np.ones((3, 2))}, {}, notes=["[holds] a claim"])
        >>> path.stat().st_size > 0
        True
    """
    from scenarios.machinery.plots import plot_panels

    w = np.asarray(widths, dtype=float)
    panels = [lambda ax, label=label, m=m: _draw_capacity(ax, w, label, m, inflections.get(label),
                                                          (descriptions or {}).get(label)) for label, m in curves.items()]
    plot_panels(path, panels, title, notes, columns=4)


def _draw_capacity(ax, w, label, m, est, description) -> None:
    from scenarios.machinery.plots import finite_values, log_scale_if_positive, mark_empty, panel_title, spans_decades

    ax.set_xscale("log", base=2)
    ax.set_xlabel("hidden width")
    ax.set_ylabel(label)
    ax.set_title(panel_title(label, description, 44), fontsize=9)
    if finite_values(m).size == 0:  # every seed diverged, or the figure is undefined everywhere
        mark_empty(ax)
        return
    lo, med, hi = _bands(m)
    (line,) = ax.plot(w, med, marker="o", lw=1.3, label=f"median over {m.shape[1]} seeds")
    ax.fill_between(w, lo, hi, color=line.get_color(), alpha=0.25, lw=0, label="band: IQR over seeds (25-75%)")
    if est is not None and est.found:
        a, _, b = (2.0 ** v for v in est.interval)
        ax.axvspan(a, b, color="tab:red", alpha=0.1, lw=0, label="inflection: its bootstrap 90% interval")
        ax.axvline(2.0 ** est.observed.break_x, color="tab:red", ls="--", lw=1, label="inflection (fitted)")
    if spans_decades([m]):
        log_scale_if_positive(ax, [m])
    ax.legend(fontsize=7)


# -- the claims, as pure functions of the measured numbers ------------------------------------

def relative_variation(medians) -> float:
    """(max - min) / |median| of the finite per-width medians (NaN when none is finite or the median is 0).

    Example:
        >>> relative_variation([1.0, 1.2, 0.9, float("nan")])
        0.3
    """
    m = np.asarray(medians, dtype=np.float64)
    f = m[np.isfinite(m)]
    if not f.size or np.median(f) == 0:
        return math.nan
    return float(round((f.max() - f.min()) / abs(np.median(f)), 15))


def flat_claim(text: str, values, errors, tolerance: float, n_boot: int, seed) -> Claim:
    """"C stays flat across widths": margin = tolerance - v, v = :func:`relative_variation` of
    the median curve of ``values`` [W, S]; standard error = the standard deviation of v
    over ``n_boot`` bootstrap median curves (seeds resampled at each width, each value moved
    by its estimator ``errors``, :func:`hierarchy.inflection.bootstrap_medians`). Holds when
    v is below the tolerance by more than twice that, fails when above by more.

    A max - min over noisy medians is biased upward (the largest of W noisy numbers), so
    the claim errs towards "not flat"; the bootstrap spread includes that noise.

    Example:
        >>> v = np.array([[1.0, 1.01, 0.99], [1.02, 1.0, 1.01], [0.99, 1.0, 1.0]])
        >>> c = flat_claim("flat", v, None, 0.25, 200, 0)
        >>> c.verdict, round(c.margin, 2)
        ('holds', 0.24)
    """
    v = np.asarray(values, dtype=np.float64)
    med = median_curve(v)
    var = relative_variation(med)
    boot = np.array([relative_variation(c) for c in bootstrap_medians(v, n_boot, seed, errors)])
    boot = boot[np.isfinite(boot)]
    se = float(boot.std(ddof=1)) if boot.size >= 2 else math.nan
    f = med[np.isfinite(med)]
    numbers = {"min median": float(f.min()) if f.size else math.nan,
               "max median": float(f.max()) if f.size else math.nan,
               "(max - min) / median": var, "its bootstrap standard error": se, "tolerance": float(tolerance)}
    return Claim.compare(text, numbers, float(tolerance) - var, se,
                         rule=f"margin = {tolerance:g} - (max - min) / median of the per-width medians, against "
                              f"2 bootstrap standard errors ({n_boot} samples over seeds, values moved by their "
                              f"estimator errors)")


def trend_claim(text: str, t) -> Claim:
    """"y rises with x": margin = Spearman rho of the median curve (:class:`hierarchy.inflection.Trend`),
    standard error = the standard deviation of the bootstrap rho. Holds when rho > 2 se,
    fails when rho < -2 se (it falls), undecided otherwise (no trend resolved).

    Example:
        >>> from hierarchy.inflection import Trend
        >>> trend_claim("rises", Trend(0.9, 1.0, 0.0, (0.8, 1.0), 100, 0.05)).verdict
        'holds'
    """
    numbers = {"Spearman rho of median curve": t.rho, "bootstrap standard error of rho": t.error,
               "bootstrap P(rho > 0)": t.positive, "bootstrap P(rho < 0)": t.negative}
    return Claim.compare(text, numbers, t.rho, t.error,
                         rule=f"margin = Spearman rho of the median curve with log2(width), against 2 bootstrap "
                              f"standard errors ({t.n_boot} samples over seeds, values moved by their estimator "
                              f"errors); rho < -2 standard errors fails")


#: Bootstrap support at or above 1 - SUPPORT_BAND (with the median curve showing it) decides an inflection;
#: at or below SUPPORT_BAND rules it out; between, undecided.
SUPPORT_BAND = 0.05


def inflection_claim(text: str, est, to_width=lambda x: 2.0 ** x, band: float = SUPPORT_BAND) -> Claim:
    """"There is an inflection beyond which y falls", from an :class:`hierarchy.inflection.Inflection`:
    the detector's bootstrap support and its effect size, both required (:meth:`Claim.all_of`).

    1. **Support**: margin = support - 1/2, resolution = 1/2 - ``band`` (0.45): holds when the
       median curve shows the inflection and more than 1 - band (95%) of the testable
       bootstrap median curves do; fails when fewer than ``band`` (5%) do; undecided between,
       and undecided (undefined) when the median curve or fewer than half of the bootstrap
       samples can be tested (values whose limit is out of reach are left out). The bootstrap
       support is the detector's own measure of how robust its decision is to resampling
       the seeds (and to each value's estimator error).
    2. **Effect size**: margin = fall fraction - ``min_fall`` on the median curve, against
       twice its bootstrap standard error (:meth:`Inflection.error`): the fall must exceed
       the floor by more than its uncertainty.

    Beside it (numbers, not the verdict: the claim is about the typical, median run): the
    BIC differences, the break width, and how many seeds' own curves show the
    inflection, with the Wilson 95% interval of that share.

    Example:
        >>> from hierarchy.inflection import inflection
        >>> x = np.arange(9.0)
        >>> rng = np.random.default_rng(0)
        >>> rising = x[:, None] + 0.05 * rng.standard_normal((9, 5))
        >>> inflection_claim("inflection", inflection(x, rising, n_boot=100)).verdict
        'fails'
        >>> peak = np.minimum(x, 5.0) - 2.0 * np.maximum(x - 5.0, 0.0)
        >>> inflection_claim("inflection", inflection(x, peak[:, None] + 0.1 * rng.standard_normal((9, 5)))).verdict
        'holds'
    """
    if not (0 < band < 0.5):
        raise ParameterError(f"band={band!r}; give the support band as a fraction in (0, 1/2), e.g. 0.05")
    cp = est.observed
    s = est.support
    testable = cp.analysed and est.tested >= est.n_boot / 2
    if testable and cp.inflection and s > 1 - band:
        verdict = "holds"
    elif testable and s < band:
        verdict = "fails"
    else:
        verdict = "undecided"
    support = Claim("the detector finds it robustly", {"detector finds it on the median curve": cp.inflection,
                                                      "bootstrap support": s, "bootstrap samples tested": est.tested},
                    verdict, s - 0.5, 0.5 - band,
                    f"bootstrap support - 1/2 against {0.5 - band:g}: holds when the median curve shows it and > "
                    f"{1 - band:.0%} of the testable bootstrap samples ({est.n_boot} drawn) do, fails when < "
                    f"{band:.0%} do; undecided (undefined) when the median curve or half of the samples cannot be "
                    f"tested", not testable)
    effect = Claim.compare("the fall is large enough", {"fall fraction": cp.fall_fraction,
                                                        "fall fraction standard error": est.error("fall_fraction"),
                                                        "effect-size floor": cp.min_fall},
                           cp.fall_fraction - cp.min_fall, est.error("fall_fraction"),
                           rule=f"fall / fitted range - {cp.min_fall:g} against 2 bootstrap standard errors")
    c = Claim.all_of(text, [support, effect], rule="support and effect size")
    lo, hi = est.seed_interval
    extra = {"BIC(line) - BIC(hinge)": cp.delta_bic if cp.analysed else None,
             "BIC(plateau) - BIC(hinge)": cp.delta_bic_fall if cp.analysed else None,
             "break width": to_width(cp.break_x) if cp.analysed else None,
             "seeds whose own curve shows it": est.seed_hits, "seeds tested": est.seed_n,
             "share of seeds 95% interval low": lo, "share of seeds 95% interval high": hi}
    return attrs.evolve(c, numbers={**c.numbers, **extra},
                        rule=c.rule + "; the seeds' own curves (same detector) are reported beside, not in the verdict")


def product_claim(text: str, discrepancy: float, bound: float = 1e-9) -> Claim:
    """The delegation product is an identity of the estimator: exact, margin = bound - the largest
    relative discrepancy (float rounding only).

    Example:
        >>> product_claim("product", 1e-15).verdict, product_claim("product", 1e-3).verdict
        ('holds', 'fails')
    """
    return Claim.exact(text, {"max discrepancy": discrepancy, "bound": bound}, bound - discrepancy,
                       rule=f"relative discrepancy < {bound:g}")


@scenario("capacity", "seed 000: sweep the hidden width; capability on G, alignment with L, inflection",
          CapacityParams, default_steps=4000, takes=SWEEP_OPTIONS)
def run(options: RunOptions, p: CapacityParams) -> ScenarioResult:
    steps = int(options.steps)
    est = options.estimator
    T = p.true_objective
    chain, data = p.markov_data(options.seed)
    optimum = data.conditional_entropy()
    batch = CapacityBatch(data, steps, int(options.seed), Decay(p.lr, p.tau), p.init_scale, p.dtype, est)
    trials = capacity_trials(p, steps, options.seed, est)
    by_id, figs = {}, {}

    def compute(n_steps, progress):
        """The whole sweep (batched per width, resumable, in-process or on Dask), once: every
        width's population is a member of this batch."""
        results = run_sweep(trials, batch, out=options.out, resume=options.resume, executor=options.executor,
                            scheduler=options.scheduler, workers=options.workers, progress=options.progress,
                            chunk=p.chunk or None)
        by_id.update({r.trial_id: r for r in results})
        figs.update({r.trial_id: _figures(r, est) for r in results})
        out = {}
        for w in p.widths:
            ids = [trial_id(w, s) for s in range(p.seeds)]
            values = {k: np.stack([by_id[i].arrays[k] for i in ids]) for k in RECORDED}
            diverged = np.array([int(by_id[i].arrays["diverged_at"]) for i in ids])
            out[f"w{w}"] = Trajectory(values, diverged_at=diverged, meta={"width": w})
        return out

    sweep = Batch(compute, "the capacity sweep")

    # the delegation graph: a designer delegating to one gradient-descent population per width,
    # each a member of the sweep's batch
    obj_L = Objective("L", "cross-entropy of the next token on the training set (the designer's base objective)")
    obj_T = Objective(T, TRUE_OBJECTIVES[T])
    nodes = [OptimizerNode("designer", obj_L, role="designer (human)",
                           description="chooses the width, delegates the training to gradient descent")]
    for w in p.widths:
        nodes.append(OptimizerNode(f"w{w}", obj_T, leaf=sweep.member(f"w{w}", RECORDED, "gradient step"),
                                   role="gradient descent",
                                   description=f"hidden width {w}, {p.seeds} seeds, {Decay(p.lr, p.tau).describe()}"))
    graph = DelegationGraph(nodes, [("designer", n.name) for n in nodes[1:]])
    runs = run_graph(graph, steps, options.seed)
    results = [by_id[t.id] for t in trials]
    arrays = {"extra/widths": np.asarray(p.widths)}
    for name, r in runs.items():
        for k in RECORDED:
            arrays[f"{name}/{k}"] = r.trajectory[k]
    ref = f"w{p.reference}"
    m = measure(graph, runs, est, reference=ref)

    # the shared scale of the normalized alignment: the reference width's best improvements
    tr_ref = runs[ref].trajectory
    try:
        norm = Normalization.of(ref, tr_ref["L"][tr_ref.ok], tr_ref[T][tr_ref.ok])
    except ParameterError as exc:  # the reference did not improve: the normalized figure is undefined
        norm, norm_note = None, f"the normalized alignment is undefined: {exc}"
    norm_text = norm.describe() if norm is not None else "undefined: the reference did not improve"
    norm_values, norm_errors = [], []
    for w in p.widths:
        tr = runs[f"w{w}"].trajectory
        if norm is None:
            norm_values.append(np.full(tr.K, np.nan))
            norm_errors.append(np.full(tr.K, np.nan))
            continue
        na = normalized_alignment(tr["L"], tr[T], norm, est)
        norm_values.append(np.where(tr.ok, na.value, np.nan))
        norm_errors.append(np.where(tr.ok, na.error, np.nan))

    x = np.log2(np.asarray(p.widths, dtype=float))
    keyC, keyA, keyN = f"C({T})", f"alpha(L | {T})", f"normalized alignment (L | {T})"
    curves = {keyC: _matrix(figs, p, f"C_{T}"), "C(L)": _matrix(figs, p, "C_L"),
              keyA: _matrix(figs, p, f"alpha_{T}"), keyN: np.array(norm_values)}
    finite_est = est.kind == "finite"
    errors = {keyC: _matrix(figs, p, f"C_{T}_error"), "C(L)": _matrix(figs, p, "C_L_error"),
              keyA: _matrix(figs, p, f"alpha_{T}_error"), keyN: np.array(norm_errors)}
    errors = {k: (None if finite_est else v) for k, v in errors.items()}
    # alpha and its normalized form share one bootstrap stream: one factor apart, they get one verdict
    stream = {keyC: f"C-{T}", "C(L)": "C-L", keyA: f"alpha-{T}", keyN: f"alpha-{T}"}
    trends, inflections = {}, {}
    for label, mat in curves.items():
        trends[label] = trend(x, mat, p.bootstrap, named_seed(options.seed, f"bootstrap-trend-{stream[label]}"),
                              errors[label])
        inflections[label] = inflection(x, mat, p.bootstrap,
                                        named_seed(options.seed, f"bootstrap-inflection-{stream[label]}"),
                                        p.bic_margin, p.min_support, p.min_fall, errors[label])

    # claims, decided on the measured numbers (margins against twice their standard errors)
    same = "; the normalized alignment is alpha times one factor, so this repeats alpha's verdict by construction"
    claims = [
        flat_claim(f"capability on the true objective stays flat in width: C({T}) varies by at most "
                   f"{p.flat_tolerance:.0%} across widths", curves[keyC], errors[keyC], p.flat_tolerance,
                   p.bootstrap, named_seed(options.seed, f"bootstrap-flat-{T}")),
        trend_claim(f"alignment rises with width: alpha(L | {T}) increases with width", trends[keyA]),
        _also(trend_claim(f"scale-free alignment rises with width: the normalized alignment (L | {T}) increases "
                          f"with width", trends[keyN]), same),
        inflection_claim(f"there is an inflection beyond which alpha(L | {T}) falls", inflections[keyA]),
        _also(inflection_claim(f"there is an inflection beyond which the normalized alignment (L | {T}) falls",
                               inflections[keyN]), same),
        product_claim(f"delegation product: C_designer(L) = alpha * C_w({T}) at every width",
                      max((pf.discrepancy for pf in m.products), default=math.nan)),
    ]

    # tables
    rows = []
    for i, w in enumerate(p.widths):
        name = f"w{w}"
        f = lambda fig, err=None: str(Spread.of(_matrix(figs, p, fig)[i],
                                                None if err is None or finite_est else _matrix(figs, p, err)[i]))
        div = sum(int(by_id[trial_id(w, s)].arrays["diverged_at"]) >= 0 for s in range(p.seeds))
        conv = np.nanmean(_matrix(figs, p, "converged")[i])
        rows.append([w, batch.leaf(w, [trial_id(w, 0)]).parameter_count(), f(f"C_{T}", f"C_{T}_error"), f("C_L", "C_L_error"),
                     f(f"alpha_{T}", f"alpha_{T}_error"),
                     str(Spread.of(curves[keyN][i], None if finite_est else errors[keyN][i])),
                     f("final_L"), f("G_tail_fraction"), f("G_peak_fraction"), f("L_rises"), f"{conv:.0%}", div])
    to_w = lambda v: 2.0 ** v
    shape_rows = []
    for label in curves:
        t, e = trends[label], inflections[label]
        lo, hi = e.seed_interval
        shape_rows.append([label, f"{format_number(t.rho)} ±{format_number(t.error)}",
                           f"[{format_number(t.interval[0])}, {format_number(t.interval[1])}]", t.positive,
                           f"{format_number(e.observed.fall_fraction)} ±{format_number(e.error('fall_fraction'))}",
                           f"{e.seed_hits} of {e.seed_n} [{lo:.2f}, {hi:.2f}]",
                           e.describe("width", to_w)])
    tables = [
        Table(f"capacity: median ±standard error IQR [interquartile range] over {p.seeds} seeds per width; "
              f"normalized on reference {ref} (width {p.reference}: {norm_text}); optimum of L: H = "
              f"{optimum:.4f}",
              ("width", "parameters", f"C({T})", "C(L)", f"alpha(L | {T})", f"normalized (L | {T}), ref {ref}",
               "final L", "tail G/G(0)", "max G/G(0)", "steps L rose", "converged", "diverged"), tuple(rows)),
        Table(f"shape against log2(width): Spearman trend and inflection (effect-size floor {p.min_fall:.0%} of the "
              f"fitted range), bootstrap over seeds ({p.bootstrap} samples), and each seed's own curve",
              ("curve", "Spearman rho ±se", "rho 90% interval", "P(rho > 0)", "fall fraction ±se",
               "seeds showing an inflection [95% interval]", "verdict"), tuple(shape_rows)),
    ]

    variation = claims[0].numbers["(max - min) / median"]
    notes = [answer(p, T, claims, trends, keyC)]
    if norm is None:
        notes.append(norm_note)
    notes += explanations(p, figs, optimum)
    if any(int(r.arrays["diverged_at"]) >= 0 for r in results):
        notes.append("some runs diverged (see the table); their figures are left out of every median and bootstrap")
    inf_err = [label for label, e in errors.items() if e is not None and np.any(np.isinf(e))]
    if inf_err:
        notes.append("the limit is out of this run's reach for some seeds (infinite estimator error) in "
                     + ", ".join(inf_err) + ": those values are left out of the bootstraps (longer runs resolve them)")
    extra = {}
    try:
        extra["trials.csv"] = results_frame(results).to_csv(index=False)
    except ParameterError:
        notes.append("pandas is not installed: trials.csv was not written")
    choices = {"true objective": TRUE_OBJECTIVES[T], "estimator": str(est),
               "curve": "median over seeds per width, ± its standard error (bootstrap over seeds and the "
                        "estimator's error), spread = interquartile range",
               "normalization": (f"reference {ref} (hidden width {p.reference}): {norm.describe()}, median over its "
                                 f"{p.seeds} seeds (s_L = {format_number(norm.scale_base)}, s_{T} = "
                                 f"{format_number(norm.scale_mesa)}); one scale for every width") if norm is not None
                                else f"reference {ref} (hidden width {p.reference}): {norm_note}",
               "trend": "Spearman rank correlation with log2(width) against 2 bootstrap standard errors",
               "inflection": inflection_rule(p),
               "flat": f"(max - min) / median of the per-width medians of C({T}) below {p.flat_tolerance:g} by more "
                       f"than 2 bootstrap standard errors",
               "data": f"Markov chain order {p.order} over {p.vocab} tokens (Dirichlet {p.concentration:g}), "
                       f"{p.examples} examples (same as harris-abc)"}
    report = build_report("capacity", graph, runs, est, seed=options.seed, steps=steps, choices=choices,
                          claims=claims, tables=tables, notes=notes, measurements=m,
                          node_attributes={f"w{w}": {"width": int(w)} for w in p.widths})
    del variation
    for label, e in inflections.items():
        key = "".join(ch if ch.isalnum() else "_" for ch in label).strip("_")
        arrays[f"extra/bootstrap/{key}/inflection_locations"] = np.asarray(e.locations, dtype=float)
    arrays[f"extra/normalized_{T}"] = curves[keyN]
    meaning = {keyC: f"capability on the true objective, {T}(0) - tail mean of {T} (Definition 1)",
               "C(L)": "capability on the base objective, L(0) - tail mean of L (Definition 1)",
               keyA: f"alignment C(L) / C({T}) (Definition 2)",
               keyN: f"alpha * s_{T} / s_L, s: {ref}'s best improvements"}
    verdicts = ["claims:"] + [f"[{c.label}] {c.text}" for c in claims]
    sweep_title = f"capacity sweep (seed {options.seed}, {steps} steps, {p.seeds} seeds per width)"
    plots = {"capacity.png": lambda path: plot_capacity(path, p.widths, curves, inflections, title=sweep_title,
                                                        descriptions=meaning, notes=verdicts),
             "objectives.png": lambda path: plot_runs(path, runs, m, est, optimum, T,
                                                      sweep_title + ": every width's run, median and IQR over seeds")}
    return ScenarioResult(report, graph, arrays, plots, extra)


def plot_runs(path, runs: dict, m, est: Estimator, optimum: float, T: str, title: str) -> None:
    """objectives.png (:func:`scenarios.machinery.plots.plot_objectives`): every recorded objective (L, G,
    G1) against the step, one line per width (median over seeds, IQR band), the estimator's tail
    window, each width's tail mean X(0) - C (Definition 1) and the optimum H of L."""
    from scenarios.machinery.api import capability_levels
    from scenarios.machinery.plots import plot_objectives

    objectives = list(RECORDED)
    series = {name: {o: r.trajectory[o] for o in objectives} for name, r in runs.items()}
    tail = est.tail if est.kind == "limit" else None
    desc = {"L": "next-token cross-entropy (the designer's base objective); dotted: its optimum H"}
    desc |= {o: d for o, d in TRUE_OBJECTIVES.items() if o != "L"}
    plot_objectives(path, series, objectives, title=title, descriptions=desc, tail=tail, reference={"L": optimum},
                    capabilities=capability_levels(m, runs, objectives) if tail is not None else {})


def _also(claim: Claim, text: str) -> Claim:
    return attrs.evolve(claim, rule=claim.rule + text)


def inflection_rule(p: CapacityParams) -> str:
    """The inflection rule in words, with this run's thresholds.

    Example:
        >>> inflection_rule(CapacityParams())[:40]
        'median curve against log2(width): a cont'
    """
    return (f"median curve against log2(width): a continuous two-segment fit beats a line and a rise-then-plateau "
            f"by BIC margin > {p.bic_margin:g}, rising before and falling after the break, the fall giving back more "
            f"than {p.min_fall:.0%} of the fitted range; the claim holds when the median curve shows it and > "
            f"{1 - SUPPORT_BAND:.0%} of {p.bootstrap} bootstrap samples over seeds do and the fall fraction exceeds "
            f"the floor by 2 bootstrap standard errors, fails when < {SUPPORT_BAND:.0%} of the samples show it or the "
            f"fall is below the floor by 2 standard errors; the table's detector verdict needs >= "
            f"{p.min_support:.0%} support; the share of seeds whose own curve shows it is reported beside")


def explanations(p: CapacityParams, figs: dict, optimum: float) -> list:
    """Measured facts that explain the curves: the width from which the median final L stays
    within 0.01 nats of its optimum H (so C(L) can hardly grow further), and the widths where
    gradient descent went through an unstable phase (median number of steps on which L rose > 0).
    (No example: it reads a whole sweep's figures; the CLI tests run it.)"""
    notes = []
    final = median_curve(_matrix(figs, p, "final_L")) - optimum
    near = np.isfinite(final) & (final < 0.01)
    if near[-1]:
        first = int(np.flatnonzero(~near)[-1] + 1) if (~near).any() else 0
        notes.append(f"from width {p.widths[first]} on the median final L is within 0.01 nats of the optimum "
                     f"H = {optimum:.4f} (largest distance there {format_number(float(np.max(final[first:])))}): "
                     f"C(L) cannot grow much beyond it, so alpha = C(L) / C(true objective) then moves with "
                     f"C(true objective) alone")
    rises = _matrix(figs, p, "L_rises")
    peaks = _matrix(figs, p, "G_peak_fraction")
    unstable = [(w, int(np.nanmedian(rises[i])), float(np.nanmedian(peaks[i])))
                for i, w in enumerate(p.widths)
                if np.isfinite(rises[i]).any() and np.isfinite(peaks[i]).any() and np.nanmedian(rises[i]) > 0]
    if unstable:
        notes.append("gradient descent went through an unstable phase at width " + ", ".join(
            f"{w} (L rose on {r} steps, G peaked at {format_number(g)} x G(0))" for w, r, g in unstable)
            + f" (medians over seeds): learning rate {p.lr:g} is too large for these widths at the start; their "
            f"runs are chaotic there, so their figures move with rounding (e.g. across executors)")
    return notes


def answer(p, T, claims, trends, keyC) -> str:
    """Seed 000's question answered in one paragraph from the claims' verdicts (no example:
    it needs a whole sweep's results)."""
    flat, rises, nrises, infl, ninfl = claims[:5]
    t = trends["C(L)"]
    direction = ("rises" if t.rises(p.trend_level) else "falls" if t.falls(p.trend_level)
                 else "shows no monotone trend")
    word = {"holds": "yes", "fails": "no", "undecided": "undecided"}
    var = flat.numbers["(max - min) / median"]
    return (f"answer from the data: C({T}) stays flat in width (variation {format_number(100 * var)}% of its "
            f"median, tolerance {p.flat_tolerance:.0%}): {word[flat.verdict]}; C(L) {direction} with width; "
            f"alpha(L | {T}) rises with width: {word[rises.verdict]} (rho {format_number(rises.margin)} vs "
            f"resolution {format_number(rises.resolution)}); an inflection beyond which alpha falls: "
            f"{word[infl.verdict]} ({inflection_words(infl)}); the normalized alignment, on one shared scale, "
            f"gives the same answers ({word[nrises.verdict]}, {word[ninfl.verdict]}).")


def inflection_words(c: Claim) -> str:
    """The per-seed replication of an inflection claim in words.

    Example:
        >>> inflection_words(Claim.exact("x", {"seeds whose own curve shows it": 2, "seeds tested": 5}, 1.0))
        "2 of 5 seeds' own curves show one"
    """
    return f"{c.numbers['seeds whose own curve shows it']:g} of {c.numbers['seeds tested']:g} seeds' own curves show one"
