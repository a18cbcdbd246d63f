"""Scenario ``harris-abc``: seed 000's optimizers A, B and C under one designer.

A designer whose objective is the cross-entropy L (the base objective) delegates to three
alternative gradient-descent optimizers, each of which pursues its true objective (the
gradient size G, or G1 by choice):

* A: initialization theta_A (the best of a small population of random starts, since a
  single start can itself sit in a poor local minimum), decaying learning rate.
* B: theta_A plus a perturbation of fixed small norm, found by search: many candidates
  run as one population, and one that settles (G near 0) at a clearly higher L is kept.
* C: theta_A with a constant learning rate: it never settles.

The claims of seed 000 are then checked on the measured numbers, never assumed.
"""

from __future__ import annotations

import attrs
import numpy as np

from agents.gradient_descent import GradientDescent
from agents.schedules import Constant, Decay
from hierarchy.capability import tail_length
from hierarchy.errors import ParameterError
from hierarchy.graph import DelegationGraph, OptimizerNode
from hierarchy.objective import Objective
from hierarchy.report import Claim, Table, build_report
from hierarchy.run import node_seed

from .progress import progress_bar, run_graph_with_progress
from .markov_setup import MarkovSetup
from .registry import RunOptions, ScenarioResult, scenario

TRUE_OBJECTIVES = {
    "G": "G = sum_i (dL/dtheta_i)^2, the squared gradient norm (default true objective of gradient descent)",
    "G1": "G1 = sum_i |dL/dtheta_i|, the L1 gradient size (an equally valid true objective)",
}


@attrs.frozen
class HarrisParams(MarkovSetup):
    """Parameters of ``harris-abc`` (change with ``--set name=value``)."""

    width: int = 3
    lr_c: float = 2.0
    init_population: int = 32
    candidates: int = 128
    search_norms: tuple = (0.6, 1.0, 1.5)
    lr_c_scan: tuple = (0.5, 1.0, 2.0, 3.0, 4.0, 6.0)
    worse_by: float = 0.02
    settle: float = 1e-3
    agree: float = 0.05
    max_discrepancy: float = 1e-9
    true_objective: str = "G"

    def __attrs_post_init__(self):
        if self.true_objective not in TRUE_OBJECTIVES:
            raise ParameterError(f"true_objective={self.true_objective!r}; choose G or G1")
        for name in ("vocab", "order", "examples", "width", "init_population", "candidates"):
            if getattr(self, name) < 1:
                raise ParameterError(f"{name}={getattr(self, name)} must be at least 1")
        if not self.search_norms or min(self.search_norms) <= 0:
            raise ParameterError(f"search_norms={self.search_norms} must be positive norms, e.g. 0.6,1.0")
        Decay(self.lr, self.tau)
        Constant(self.lr_c)


def tail_mean(values: np.ndarray, tail: float) -> np.ndarray:
    """Mean over the last ``tail`` fraction of each row (the limit estimator's window)."""
    n = tail_length(values.shape[-1], tail)
    return values[..., -n:].mean(axis=-1)


def _run_population(leaf, steps, seed, desc, enabled):
    with progress_bar(desc, steps, enabled) as bar:
        return leaf.run(steps, seed, bar)


def search_b(data, theta_a, L_a_end, p: HarrisParams, steps: int, options: RunOptions, G0_a: float):
    """Search for B: perturbations of theta_A at each norm in turn, run as one population;
    keep a candidate that settled (tail G / G(0) < settle) at a tail loss at least
    ``worse_by`` above A's, choosing among them the one whose G(0) is closest to A's."""
    rows = []
    tail = options.estimator.tail
    for i, norm in enumerate(p.search_norms):
        rng = np.random.default_rng(node_seed(options.seed, f"B-search-{i}"))
        d = rng.normal(size=(p.candidates, theta_a.size))
        d *= norm / np.linalg.norm(d, axis=1, keepdims=True)
        pop = GradientDescent(data, hidden=(p.width,), schedule=Decay(p.lr, p.tau), population=p.candidates,
                              init=theta_a[None, :] + d)
        tr = _run_population(pop, steps, node_seed(options.seed, f"B-search-{i}"), f"search for B (norm {norm:g})",
                             options.progress)
        L_end = tail_mean(tr["L"], tail)
        frac = tail_mean(tr["G"], tail) / tr["G"][:, 0]
        settled = tr.ok & (frac < p.settle)
        worse = settled & (L_end >= L_a_end + p.worse_by)
        chosen = None
        if worse.any():
            idx = np.flatnonzero(worse)
            chosen = int(idx[np.argmin(np.abs(tr["G"][idx, 0] - G0_a))])
        rows.append((norm, p.candidates, int(settled.sum()), int(worse.sum()),
                     int((settled & (L_end < L_a_end - 1e-9)).sum()), "none" if chosen is None else chosen))
        if chosen is not None:
            return theta_a + d[chosen], norm, rows, float(L_end[chosen])
    return None, None, rows, float("nan")


def scan_constant_lr(data, theta_a, p: HarrisParams, steps: int, options: RunOptions, CA_L: float, CA_T: float) -> Table:
    """C's claims against its learning rate: every constant rate of ``lr_c_scan`` from theta_A,
    run as one population (per-copy learning rates), measured with the report's estimator."""
    from hierarchy.capability import capability

    lrs = np.asarray(p.lr_c_scan, dtype=float)
    pop = GradientDescent(data, hidden=(p.width,), schedule=Constant(1.0), population=len(lrs),
                          init=np.tile(theta_a, (len(lrs), 1)), lr_scale=lrs)
    tr = _run_population(pop, steps, node_seed(options.seed, "C-scan"), "constant-rate scan", options.progress)
    T = p.true_objective
    CL = capability(tr["L"], options.estimator).value
    CT = capability(tr[T], options.estimator).value
    rows = []
    for k, lr in enumerate(lrs):
        if not tr.ok[k]:
            rows.append([lr, float("nan"), float("nan"), float("nan"), float("nan"), tr.status()[k], "no"])
            continue
        frac = float(tail_mean(tr[T][k], options.estimator.tail) / tr[T][k, 0])
        limited = bool(CT[k] < CA_T and CL[k] < CA_L)
        rows.append([lr, float(tail_mean(tr["L"][k], options.estimator.tail)), frac, float(CL[k]), float(CT[k]),
                     "settles" if frac < p.settle else "keeps moving", "yes" if limited else "no"])
    return Table(f"C against its constant learning rate (from theta_A; A has C(L) = {CA_L:.4g}, C({T}) = {CA_T:.4g})",
                 ("lr", "tail L", f"tail {T}/{T}(0)", "C(L)", f"C({T})", "behaviour", "capability-limited on both"),
                 tuple(rows))


@scenario("harris-abc", "seed 000: optimizers A, B, C under a designer; true objective vs base objective",
          HarrisParams, default_steps=6000)
def run(options: RunOptions, p: HarrisParams) -> ScenarioResult:
    steps = int(options.steps)
    tail = options.estimator.tail
    chain, data = p.markov_data(options.seed)
    optimum = data.conditional_entropy()

    # A: the best of a population of random starts
    pop = GradientDescent(data, hidden=(p.width,), schedule=Decay(p.lr, p.tau), population=p.init_population)
    tr_pop = _run_population(pop, steps, node_seed(options.seed, "A-population"), "choose A", options.progress)
    L_pop = tail_mean(tr_pop["L"], tail)
    frac_pop = tail_mean(tr_pop["G"], tail) / tr_pop["G"][:, 0]
    usable = tr_pop.ok & (frac_pop < p.settle)
    pool = np.flatnonzero(usable) if usable.any() else np.flatnonzero(tr_pop.ok)
    best = int(pool[np.argmin(L_pop[pool])])
    theta_a = np.asarray(tr_pop.meta["initial_parameters"][best])
    theta_b, norm_b, search_rows, L_b_search = search_b(data, theta_a, float(L_pop[best]), p, steps, options,
                                                        float(tr_pop["G"][best, 0]))

    obj_L = Objective("L", "cross-entropy of the next token on the training set (the designer's base objective)")
    obj_T = Objective(p.true_objective, TRUE_OBJECTIVES[p.true_objective])
    decay, const = Decay(p.lr, p.tau), Constant(p.lr_c)
    leaves = {"A": (theta_a, decay, "theta_A"),
              "B": (theta_b, decay, f"theta_A + delta, |delta| = {norm_b:g}" if theta_b is not None else None),
              "C": (theta_a, const, "theta_A")}
    nodes = [OptimizerNode("designer", obj_L, role="designer (human)",
                           description="chooses the model and the data, delegates the training")]
    for name, (init, sched, init_text) in leaves.items():
        if init is None:
            continue
        leaf = GradientDescent(data, hidden=(p.width,), schedule=sched, population=1, init=init[None, :])
        nodes.append(OptimizerNode(name, obj_T, leaf=leaf, role="gradient descent",
                                   description=f"init {init_text}; {sched.describe()}"))
    graph = DelegationGraph(nodes, [("designer", n.name) for n in nodes[1:]])

    runs = run_graph_with_progress(graph, steps, options)

    from hierarchy.measure import measure

    m = measure(graph, runs, options.estimator)
    T = p.true_objective

    def cap(leaf, obj):
        try:
            return m.capability(leaf, obj).capability.median
        except KeyError:
            return float("nan")

    def alpha(leaf):
        try:
            return m.alignment("designer", leaf).alignment.median
        except KeyError:
            return float("nan")

    def frac(leaf):
        if leaf not in runs:
            return float("nan")
        g = runs[leaf].trajectory[T][0]
        return float(tail_mean(g, tail) / g[0])

    claims = [
        Claim.check(f"A and B both drive the true objective {T} to near zero (tail mean below {p.settle:g} of {T}(0))",
                    {"A tail fraction": frac("A"), "B tail fraction": frac("B"), "threshold": p.settle},
                    lambda n: n["A tail fraction"] < p.settle and n["B tail fraction"] < p.settle,
                    rule=f"both tail fractions < {p.settle:g}"),
        Claim.check(f"A and B are equally capable on the true objective: C_A({T}) and C_B({T}) agree",
                    {f"C_A({T})": cap("A", T), f"C_B({T})": cap("B", T),
                     "relative difference": abs(cap("B", T) - cap("A", T)) / abs(cap("A", T)),
                     "tolerance": p.agree},
                    lambda n: n["relative difference"] <= p.agree, rule=f"|C_B - C_A| / |C_A| <= {p.agree:g}"),
        Claim.check("B is worse aligned with the base objective: alpha_B < alpha_A",
                    {"alpha_A": alpha("A"), "alpha_B": alpha("B")}, lambda n: n["alpha_B"] < n["alpha_A"],
                    rule="alpha_B < alpha_A"),
        Claim.check(f"C is capability-limited: C_C({T}) < C_A({T}) and C_C(L) < C_A(L)",
                    {f"C_C({T})": cap("C", T), f"C_A({T})": cap("A", T), "C_C(L)": cap("C", "L"),
                     "C_A(L)": cap("A", "L")},
                    lambda n: n[f"C_C({T})"] < n[f"C_A({T})"] and n["C_C(L)"] < n["C_A(L)"],
                    rule="both strict inequalities"),
        Claim.check(f"C never settles: its tail mean of {T} stays above {p.settle:g} of {T}(0)",
                    {"C tail fraction": frac("C"), "threshold": p.settle},
                    lambda n: n["C tail fraction"] >= p.settle, rule=f"tail fraction >= {p.settle:g}"),
        Claim.check(f"delegation product: C_designer(L) = alpha * C_optimizer({T}) on every edge",
                    {f"discrepancy {pf.chain[-1]}": pf.discrepancy for pf in m.products} | {"bound": p.max_discrepancy},
                    lambda n: all(v < p.max_discrepancy for k, v in n.items() if k != "bound"),
                    rule=f"relative discrepancy < {p.max_discrepancy:g}"),
    ]

    notes = []
    if theta_b is None:
        notes.append(f"the search for B found no perturbation (norms {', '.join(map(str, p.search_norms))}, "
                     f"{p.candidates} candidates each) that settled at a loss at least {p.worse_by:g} above A's: "
                     f"B is absent and the claims about B fail")
    failing = [c.text for c in claims if not c.holds]
    if failing:
        notes.append("claims of seed 000 not supported by this run: " + "; ".join(failing))

    rows = []
    for name in ("A", "B", "C"):
        if name not in runs:
            rows.append([name, "not found", "", float("nan"), optimum, float("nan"), float("nan"), "", "absent"])
            continue
        tr = runs[name].trajectory
        L_end = float(tail_mean(tr["L"][0], tail))
        f = m.capability(name, "L")
        rows.append([name, graph.node(name).description.split(";")[0].replace("init ", ""),
                     graph.node(name).leaf.schedule.describe(), L_end, optimum, L_end - optimum, frac(name),
                     "yes" if f.converged_fraction == 1.0 else "no", tr.status()[0]])
    tables = [
        Table("optimizers: where each ended (tail means) and how far from the global optimum of L",
              ("optimizer", "init", "schedule", "final L", "optimum H", "distance", f"tail {T}/{T}(0)",
               "C(L) estimate converged", "status"), tuple(rows)),
        Table(f"search for B: candidates of fixed norm around theta_A, run {steps} steps as one population "
              f"(A ended at L = {float(L_pop[best]):.4f})",
              ("norm", "candidates", "settled", f"settled >= {p.worse_by:g} worse", "settled better than A", "chosen"),
              tuple(search_rows)),
    ]
    tables.append(scan_constant_lr(data, theta_a, p, steps, options, cap("A", "L"), cap("A", T)))
    arrays = {}
    for name, r in runs.items():
        for obj, v in r.trajectory.values.items():
            arrays[f"{name}/{obj}"] = v
    arrays["A-population/final_L"] = L_pop
    choices = {"true objective": TRUE_OBJECTIVES[T], "estimator": str(options.estimator),
               "settled": f"tail mean of {T} < {p.settle:g} * {T}(0)", "agreement tolerance": p.agree,
               "B chosen": "the settled candidate >= worse_by above A whose G(0) is closest to A's",
               "A chosen": f"lowest tail loss among {p.init_population} random starts that settled"}
    report = build_report("harris-abc", graph, runs, options.estimator, seed=options.seed, steps=steps,
                          choices=choices, claims=claims, tables=tables, notes=notes, measurements=m,
                          node_attributes={n: {"final_L": r[3], "distance_to_optimum": r[5]}
                                           for n, r in zip(("A", "B", "C"), rows) if n in runs},
                          edge_attributes={})
    from .plots import plot_objectives

    series = {name: {obj: r.trajectory[obj] for obj in ("L", T)} for name, r in runs.items()}
    plots = {"objectives.png": lambda path: plot_objectives(
        path, series, ["L", T], title=f"harris-abc (seed {options.seed})", reference={"L": optimum})}
    return ScenarioResult(report, graph, arrays, plots)
