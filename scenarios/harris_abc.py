"""Scenario ``harris-abc``: seed 000's optimizers A, B and C under one designer, replicated over seeds.

A designer whose objective is the cross-entropy L (the base objective) delegates to three
alternative gradient-descent optimizers, each of which pursues its true objective (the
gradient size G, or G1 by choice):

* A: initialization theta_A (the best of a small population of random starts, since a
  single start can itself sit in a poor local minimum), decaying learning rate.
* B: theta_A plus a perturbation of fixed small norm, found by search: candidates run as
  one population, and *every* candidate that settles (G near 0) at a clearly higher L is
  a copy of B (up to ``b_copies`` per seed, in the search's order): B is a distribution,
  and its claims are decided over it, not over one chosen candidate.
* C: theta_A with a constant learning rate: it never settles.

The experiment is **replicated** over ``seeds`` independent scenario seeds (replicate r
uses scenario seed ``seed + r``: its own Markov data, theta_A and search), all of them as
batched populations with one dataset per copy. Every claim of seed 000 is decided per seed
three ways (holds / fails / undecided: its margin against twice its standard error, the
estimator's own error and the spread over B's copies combined) and pooled over the seeds
(:data:`hierarchy.decision.POOLED_RULE`). The claims are checked, never assumed.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from agents.language_model.gradient_descent import GradientDescent
from agents.language_model.schedules import Constant, Decay
from hierarchy.capability import capability
from hierarchy.decision import combined_error
from hierarchy.delegation import delegation_product
from hierarchy.errors import ParameterError
from hierarchy.figures import Spread
from hierarchy.graph import DelegationGraph, OptimizerNode
from hierarchy.objective import Objective
from hierarchy.report import Claim, Table, build_report
from hierarchy.product import Produced
from hierarchy.trajectory import Trajectory
from hierarchy.errors import LeafError

from scenarios.common.markov_setup import MarkovSetup
from scenarios.common.seed_000 import (CLAIM_SHORT, TRUE_OBJECTIVES, seed_claims, subset as _subset, tail_fraction,
                                      tail_mean)
from scenarios.machinery.progress import progress_bar, run_graph_with_progress
from scenarios.machinery.registry import RunOptions, ScenarioResult, check_fields, parameter, scenario
from hierarchy.seeding import named_seed

@attrs.frozen
class HarrisParams(MarkovSetup):
    """Parameters of ``harris-abc`` (change with ``--set name=value``).

    ``seeds`` replicates (16: the default run then takes about a minute on 2 cores; see
    docs/architecture.md), each with ``init_population`` random starts for A and
    ``candidates`` perturbations per search norm for B, of which at most ``b_copies``
    settled-worse ones are B's copies.
    """

    width: int = parameter(3, 'hidden width of the MLP')
    lr_c: float = parameter(2.0, 'constant learning rate of optimizer C')
    seeds: int = parameter(16, 'independent scenario seeds (replicates), run as one batched population')
    init_population: int = parameter(16, "random starts per seed from which A's start theta_A is chosen")
    candidates: int = parameter(32, "candidates per search norm of B's search around theta_A")
    b_copies: int = parameter(8, "most settled-worse candidates kept per seed as B's copies")
    search_norms: tuple = parameter((0.6, 1.0, 1.5), "norms of B's search perturbations, tried in order")
    lr_c_scan: tuple = parameter((0.5, 1.0, 2.0, 3.0, 4.0, 6.0), 'constant learning rates of the scan table')
    worse_by: float = parameter(0.02, "B's candidates settle at a loss at least this much worse than A's")
    settle: float = parameter(1e-3, 'settled: tail mean of the true objective below this fraction of its start')
    agree: float = parameter(0.05, "relative tolerance of the 'equally capable on G' claim")
    max_discrepancy: float = parameter(1e-9, 'bound of the delegation-product checks')
    true_objective: str = parameter("G", "gradient descent's true objective: G (squared gradient norm) or G1 (L1)")

    def __attrs_post_init__(self):
        if self.true_objective not in TRUE_OBJECTIVES:
            raise ParameterError(f"true_objective={self.true_objective!r}; choose G or G1")
        self.check_setup()
        check_fields(self, {"width": "count", "lr_c": "positive", "seeds": "count", "init_population": "count",
                            "candidates": "count", "b_copies": "count", "search_norms": "positives",
                            "lr_c_scan": "positives", "worse_by": "non-negative", "settle": "fraction",
                            "agree": "positive", "max_discrepancy": "positive"})
        self.check_copies(self.seeds * self.init_population, self.width, "A's random starts", "init_population")
        self.check_copies(self.seeds * self.candidates, self.width, "B's search", "candidates")
        Decay(self.lr, self.tau)
        Constant(self.lr_c)


def _run_population(leaf, steps, seed, desc, enabled):
    with progress_bar(desc, steps, enabled) as bar:
        return leaf.run(steps, seed, bar)


@attrs.frozen
class Replicate:
    """One scenario seed's setup: its data, optimum, theta_A and B's starts."""

    seed: int
    data: object
    optimum: float
    theta_a: np.ndarray
    L_a: float
    G0_a: float
    b_starts: np.ndarray  # [n_b, P]
    b_norm: float
    search_rows: tuple


def choose_a(reps_data, p: HarrisParams, steps: int, options: RunOptions, seeds) -> tuple:
    """theta_A per replicate: the lowest tail loss among ``init_population`` random starts that
    settled, all replicates' starts run as one population (one dataset per copy). Returns
    ([(theta_A, tail L, G(0), row) or None per replicate], the population's trajectory)."""
    n = p.init_population
    inits, datas = [], []
    for s, data in zip(seeds, reps_data):
        probe = GradientDescent(data, hidden=(p.width,), population=n)
        inits.append(probe.initial_parameters(named_seed(s, "A-population")))
        datas += [data] * n
    pop = GradientDescent(tuple(datas), hidden=(p.width,), schedule=p.decay(), population=len(datas),
                          init=np.concatenate(inits))
    tr = _run_population(pop, steps, named_seed(options.seed, "A-population"), "choose A", options.progress)
    tail = options.estimator.tail
    L_end = tail_mean(tr["L"], tail)
    frac = tail_mean(tr["G"], tail) / tr["G"][:, 0]
    out = []
    for r in range(len(seeds)):
        idx = np.arange(r * n, (r + 1) * n)
        usable = idx[tr.ok[idx] & (frac[idx] < p.settle)]
        pool = usable if usable.size else idx[tr.ok[idx]]
        if pool.size == 0:
            out.append(None)
            continue
        best = int(pool[np.argmin(L_end[pool])])
        out.append((np.asarray(tr.copy_meta["initial_parameters"][best]), float(L_end[best]), float(tr["G"][best, 0]),
                    best))
    return out, tr


def search_b(reps, p: HarrisParams, steps: int, options: RunOptions) -> list:
    """B's starts per replicate: perturbations of theta_A at each norm in turn (all replicates
    still searching run as one population); the copies of B are the candidates that settled
    (tail G / G(0) < settle) at a tail loss at least ``worse_by`` above A's, the first
    ``b_copies`` of them in the search's order, at the first norm that yields any."""
    tail = options.estimator.tail
    found = {r: None for r in range(len(reps))}
    rows = {r: [] for r in range(len(reps))}
    for i, norm in enumerate(p.search_norms):
        todo = [r for r in found if found[r] is None and reps[r] is not None]
        if not todo:
            break
        starts, datas, deltas = [], [], []
        for r in todo:
            rep = reps[r]
            rng = np.random.default_rng(named_seed(rep["seed"], f"B-search-{i}"))
            d = rng.normal(size=(p.candidates, rep["theta_a"].size))
            d *= norm / np.linalg.norm(d, axis=1, keepdims=True)
            deltas.append(d)
            starts.append(rep["theta_a"][None, :] + d)
            datas += [rep["data"]] * p.candidates
        pop = GradientDescent(tuple(datas), hidden=(p.width,), schedule=p.decay(), population=len(datas),
                              init=np.concatenate(starts))
        tr = _run_population(pop, steps, named_seed(options.seed, f"B-search-{i}"),
                             f"search for B (norm {norm:g})", options.progress)
        L_end = tail_mean(tr["L"], tail)
        frac = tail_mean(tr["G"], tail) / tr["G"][:, 0]
        for j, r in enumerate(todo):
            idx = np.arange(j * p.candidates, (j + 1) * p.candidates)
            settled = tr.ok[idx] & (frac[idx] < p.settle)
            worse = settled & (L_end[idx] >= reps[r]["L_a"] + p.worse_by)
            better = settled & (L_end[idx] < reps[r]["L_a"] - 1e-9)
            chosen = np.flatnonzero(worse)[:p.b_copies]
            rows[r].append((norm, p.candidates, int(settled.sum()), int(worse.sum()), int(better.sum()), len(chosen)))
            if chosen.size:
                found[r] = (reps[r]["theta_a"][None, :] + deltas[j][chosen], norm, rows_of(tr, idx[chosen]))
    return [(found[r], tuple(rows[r])) for r in range(len(reps))]


def rows_of(tr: Trajectory, idx) -> Trajectory:
    """The copies ``idx`` of a population's trajectory (values and divergence only)."""
    idx = np.asarray(idx, dtype=int)
    return Trajectory({k: v[idx] for k, v in tr.values.items()}, diverged_at=tr.diverged_at[idx])


def concat_rows(parts) -> Trajectory:
    """Populations stacked copy after copy (same objectives and length)."""
    parts = list(parts)
    return Trajectory({k: np.concatenate([t[k] for t in parts]) for k in parts[0].values},
                      diverged_at=np.concatenate([t.diverged_at for t in parts]))


class BestOfStarts:
    """Optimizer A's leaf: per replicate seed, ``init_population`` random starts trained by
    gradient descent as one population (one dataset per copy); its run returns, per seed, the
    copy with the lowest tail loss among those that settled (so A is never run twice), and
    as its product each seed's theta_A (for B's search and for C)."""

    records = ("L", "G", "G1")
    step_unit = "gradient step"
    deterministic = True  # the starts are drawn from the scenario seed when it is built

    def __init__(self, datas, seeds, p: "HarrisParams", options: RunOptions):
        self.datas, self.seeds, self.p, self.options = datas, seeds, p, options

    def run(self, steps, seed=None, progress=None) -> Trajectory:
        chosen, tr = choose_a(self.datas, self.p, steps, self.options, self.seeds)
        live = [r for r, c in enumerate(chosen) if c is not None]
        if not live:
            raise LeafError("no random start of A stayed healthy on any seed (every one diverged: overflow or runaway); lower the learning rate (lr)")
        reps = [None if c is None else {"seed": s, "data": d, "theta_a": c[0], "L_a": c[1], "G0_a": c[2]}
                for s, d, c in zip(self.seeds, self.datas, chosen)]
        return attrs.evolve(rows_of(tr, [chosen[r][3] for r in live]), product={"reps": reps, "live": live})


class SettledWorseSearch:
    """Optimizer B's leaf, built from A's product: the search around each seed's theta_A
    (:func:`search_b`); its run returns the candidates that settled at least ``worse_by``
    worse than A (the copies of B, straight from the search's populations: never run twice),
    and as its product which seed each copy belongs to and the search's counts."""

    records = ("L", "G", "G1")
    step_unit = "gradient step"
    deterministic = True

    def __init__(self, product: dict, p: "HarrisParams", options: RunOptions):
        self.reps, self.live, self.p, self.options = product["reps"], product["live"], p, options

    def run(self, steps, seed=None, progress=None) -> Trajectory:
        searched = search_b(self.reps, self.p, steps, self.options)
        owners = [r for r in self.live if searched[r][0] is not None for _ in range(len(searched[r][0][0]))]
        product = {"owners": owners, "searched": searched}
        if not owners:  # nothing found on any seed: one undefined copy, named so in the notes
            T = steps + 1
            nan = {k: np.full((1, T), np.nan) for k in self.records}
            return Trajectory(nan, diverged_at=np.array([0]), product=product)
        tr = concat_rows(searched[r][0][2] for r in self.live if searched[r][0] is not None)
        return attrs.evolve(tr, product=product)


def _leaf(datas, p, schedule, init):
    return GradientDescent(tuple(datas), hidden=(p.width,), schedule=schedule, population=len(datas),
                           init=np.asarray(init))


@scenario("harris-abc", "seed 000: optimizers A, B, C under a designer; true objective vs base objective",
          HarrisParams, default_steps=6000)
def run(options: RunOptions, p: HarrisParams) -> ScenarioResult:
    steps = int(options.steps)
    tail = options.estimator.tail
    T = p.true_objective
    seeds = [int(options.seed) + r for r in range(p.seeds)]
    setups = [p.markov_data(s) for s in seeds]
    datas = [d for _, d in setups]
    optima = [d.conditional_entropy() for d in datas]

    # known lower bounds: a gradient size is >= 0; the cross-entropy is >= the lowest conditional
    # entropy of the seeds' data (the exact optimum, by counting)
    obj_L = Objective("L", "cross-entropy of the next token on the training set (the designer's base objective)",
                      lower_bound=float(min(optima)))
    obj_T = Objective(T, TRUE_OBJECTIVES[T], lower_bound=0.0)
    decay, const = p.decay(), Constant(p.lr_c)

    def c_leaf(product):
        live = product["live"]
        return _leaf([datas[r] for r in live], p, const, [product["reps"][r]["theta_a"] for r in live])

    def scan_leaf(product):
        rep = product["reps"][product["live"][0]]
        lrs = np.asarray(p.lr_c_scan, dtype=float)
        return GradientDescent(rep["data"], hidden=(p.width,), schedule=Constant(1.0), population=len(lrs),
                               init=np.tile(rep["theta_a"], (len(lrs), 1)), lr_scale=lrs)

    gd = "gradient descent"
    nodes = [
        OptimizerNode("designer", obj_L, role="designer (human)",
                      description="chooses the model and the data, delegates the training"),
        OptimizerNode("A", obj_T, leaf=BestOfStarts(datas, seeds, p, options), role=gd,
                      description=f"init theta_A: the best of {p.init_population} random starts per seed; "
                                  f"{decay.describe()}"),
        OptimizerNode("B", obj_T, role=gd, leaf=Produced("A", build=lambda prod: SettledWorseSearch(prod, p, options),
                                                        records=BestOfStarts.records, step_unit="gradient step"),
                      description=f"init theta_A + delta, every candidate settled at least {p.worse_by:g} worse "
                                  f"(at most {p.b_copies} per seed); {decay.describe()}"),
        OptimizerNode("C", obj_T, role=gd, leaf=Produced("A", build=c_leaf, records=BestOfStarts.records,
                                                        step_unit="gradient step"),
                      description=f"init theta_A of each seed; {const.describe()}"),
        OptimizerNode("C-scan", obj_T, role=gd, leaf=Produced("A", build=scan_leaf, records=BestOfStarts.records,
                                                             step_unit="gradient step"),
                      description=f"init theta_A of seed {seeds[0]}; constant rates {', '.join(map(str, p.lr_c_scan))}"),
    ]
    graph = DelegationGraph(nodes, [("designer", n.name) for n in nodes[1:]])
    runs = run_graph_with_progress(graph, steps, options)
    prod_a, prod_b = runs["A"].trajectory.product, runs["B"].trajectory.product
    reps, live, searched = prod_a["reps"], prod_a["live"], prod_b["searched"]
    if not prod_b["owners"]:
        runs.pop("B")

    from hierarchy.measure import measure

    scan = runs.pop("C-scan")
    m = measure(graph, runs, options.estimator, reference="A")
    owners = {"A": live, "B": prod_b["owners"], "C": live}

    # per-replicate figures, from the graph's per-copy measurements
    fracs = {name: tail_fraction(runs[name].trajectory[T], tail) for name in runs}
    discrepancy = {name: delegation_product([runs[name].trajectory["L"], runs[name].trajectory[T]], ("designer", name),
                                            options.estimator).discrepancy for name in runs}
    per_seed = []
    for r in live:
        fig = {}
        for name in runs:
            idx = [k for k, o in enumerate(owners[name]) if o == r]
            if not idx:
                continue
            for obj in ("L", T):
                fig[f"{name}/C({obj})"] = _subset(m.capability(name, obj).capability, idx)
            fig[f"{name}/alpha"] = _subset(m.alignment("designer", name).alignment, idx)
            fig[f"{name}/frac"] = Spread.of(fracs[name][0][idx], fracs[name][1][idx])  # upward error
            fig[f"{name}/frac_down"] = Spread.of(fracs[name][0][idx], fracs[name][2][idx])
        disc = [float(np.nanmax(discrepancy[name][idx])) for name in runs
                for idx in [[k for k, o in enumerate(owners[name]) if o == r]]
                if idx and np.isfinite(discrepancy[name][idx]).any()]
        fig["discrepancy"] = max(disc) if disc else math.nan
        per_seed.append((r, seed_claims(p, T, fig)))

    claims = []
    for j, short in enumerate(CLAIM_SHORT):
        seed_list = [c[j] for _, c in per_seed]
        if not seed_list:
            continue
        claims.append(Claim.replicated(seed_list[0].text, seed_list, rule=seed_list[0].rule))

    notes = []
    if len(live) < len(seeds):
        notes.append(f"{len(seeds) - len(live)} seeds had no usable start for A and are left out")
    no_b = [seeds[r] for r in live if searched[r][0] is None]
    if no_b:
        notes.append(f"the search for B found no settled-worse perturbation on seeds {no_b} (norms "
                     f"{', '.join(map(str, p.search_norms))}, {p.candidates} candidates each): their claims about B "
                     f"are undecided (undefined)")

    # tables: optimizers over seeds, claims per seed, B's search per seed, C's learning-rate scan
    opt_rows = []
    for name in ("A", "B", "C"):
        if name not in runs:
            opt_rows.append([name, "not found", "", "", "", "", "", "absent"])
            continue
        tr = runs[name].trajectory
        L_end = tail_mean(tr["L"], tail)
        dist = L_end - np.asarray([optima[r] for r in owners[name]])
        conv = m.capability(name, "L").converged_fraction
        start = {"A": f"theta_A of each of {len(live)} seeds", "C": f"theta_A of each of {len(live)} seeds",
                 "B": f"theta_A + delta, {len(owners['B'])} copies over {len(set(owners['B']))} seeds"}[name]
        opt_rows.append([name, start, runs[name].trajectory.K, str(Spread.of(L_end)), str(Spread.of(dist)),
                         str(Spread.of(fracs[name][0], fracs[name][1])), f"{conv:.2f}",
                         f"{int(tr.ok.sum())}/{tr.K} ok"])
    seed_rows = []
    for r, cl in per_seed:
        seed_rows.append([seeds[r]] + [f"{c.verdict} ({c.margin:+.3g} / {c.resolution:.2g})" if math.isfinite(c.margin)
                                       else c.label for c in cl])
    search_rows = []
    for r in live:
        for row in searched[r][1]:
            search_rows.append([seeds[r], *row])
    tables = [
        Table(f"optimizers over {len(live)} seeds: where each ended (tail means) and how far from the global "
              f"optimum of L (median ±se IQR over copies)",
              ("optimizer", "start", "copies", "final L", "distance to optimum", f"tail {T}/{T}(0)",
               "C(L) converged (share)", "status"), tuple(opt_rows)),
        Table("claims per seed: verdict (margin / resolution)", ("seed",) + CLAIM_SHORT, tuple(seed_rows)),
        Table(f"search for B per seed: {p.candidates} candidates of fixed norm around theta_A, run {steps} steps "
              f"as one population", ("seed", "norm", "candidates", "settled", f"settled >= {p.worse_by:g} worse",
                                     "settled better than A", f"copies of B (at most {p.b_copies})"),
              tuple(search_rows)),
    ]
    tables.append(scan_constant_lr(reps[live[0]], scan.trajectory, p, m, T, options.estimator))

    arrays = {}
    for name, r in list(runs.items()) + [("C-scan", scan)]:
        for obj, v in r.trajectory.values.items():
            arrays[f"{name}/{obj}"] = v
    choices = {"true objective": TRUE_OBJECTIVES[T], "estimator": str(options.estimator),
               "replication": f"{len(seeds)} scenario seeds {seeds[0]}..{seeds[-1]} (seed + r), run as batched "
                              f"populations with one dataset per copy",
               "settled": f"tail mean of {T} < {p.settle:g} * {T}(0)", "agreement tolerance": p.agree,
               "A chosen": f"lowest tail loss among {p.init_population} random starts that settled, per seed",
               "B copies": f"every settled candidate >= {p.worse_by:g} worse than A (first {p.b_copies} per seed) at "
                           f"the first norm that yields any",
               "normalized alignment": "alpha scaled by A's best improvements of L and of the true objective "
                                       "(median over A's copies): one factor for A, B and C",
               "claim decision": "per seed: margin against 2 standard errors (hierarchy.decision); pooled over seeds"}
    report = build_report("harris-abc", graph, runs, options.estimator, seed=options.seed, steps=steps,
                          choices=choices, claims=claims, tables=tables, notes=notes, measurements=m,
                          node_attributes={n: {"copy_seeds": [seeds[r] for r in owners[n]]} for n in runs},
                          edge_attributes={})
    plots = {"objectives.png": lambda path: plot_abc(path, runs, m, claims, options.estimator, T,
                                                     {"L": obj_L.description} | TRUE_OBJECTIVES,
                                                     f"harris-abc (seeds {seeds[0]}..{seeds[-1]}, {steps} steps)")}
    return ScenarioResult(report, graph, arrays, plots)


def orbit_caption(L: np.ndarray, G: np.ndarray, tail: float, name: str = "C", jump: float = 10.0) -> str:
    """What a constant-rate optimizer's jump of its gradient size is, from its run: per copy, the first
    step at which G exceeds ``jump`` times its running minimum (after step 20), and the share of
    tail steps at which L's change flips sign (1: L alternates up, down, up: a period-2 orbit across
    the valley instead of a descent along it)."""
    from hierarchy.capability import tail_length

    L, G = np.atleast_2d(L), np.atleast_2d(G)
    late = (G > jump * np.minimum.accumulate(G, axis=1)) & (np.arange(G.shape[1]) > 20)
    steps = np.array([np.flatnonzero(r)[0] for r in late if r.any()])
    n = tail_length(L.shape[1], tail)
    d = np.diff(L[:, -n:], axis=1)
    flips = float(np.nanmedian(np.mean(np.sign(d[:, 1:]) != np.sign(d[:, :-1]), axis=1)))
    ratio = float(np.nanmedian(G[:, -n:].mean(axis=1) / np.nanmin(G, axis=1)))
    if steps.size == 0:
        return f"{name}: its gradient size never jumps above {jump:g}x its running minimum"
    return (f"{name}'s jump: on {steps.size} of {G.shape[0]} copies the gradient size rises above {jump:g}x its "
            f"running minimum, first at step {int(np.median(steps))} (median; range {int(steps.min())}-"
            f"{int(steps.max())}), and stays there (tail mean {ratio:.3g}x the minimum). It is no divergence: at a "
            f"constant learning rate the descent stops following the valley floor and settles on a period-2 orbit "
            f"across it (L changes sign every step on {flips:.0%} of tail steps, median over copies) while L still "
            f"falls slowly.")


def plot_abc(path, runs, m, claims, estimator, T: str, descriptions: dict, title: str) -> None:
    """harris-abc's figure: a panel per recorded objective (L, G, G1: median and IQR over copies, the
    estimator's tail window, each optimizer's tail mean X(0) - C), the running alignment alpha(t) of
    each optimizer with the designer (the limit estimator on every prefix,
    :func:`~scenarios.machinery.plots.running_alignment`, ending at the report's alpha), and the
    claims with their pooled verdicts and the explanation of C's jump under the panels."""
    from scenarios.machinery.api import capability_levels
    from scenarios.machinery.plots import nan_quantiles, plot_objectives, running_alignment

    objectives = list(dict.fromkeys(["L", T] + [o for r in runs.values() for o in r.trajectory.values]))
    series = {name: {o: r.trajectory[o] for o in objectives if o in r.trajectory.values} for name, r in runs.items()}
    tail = estimator.tail if estimator.kind == "limit" else None
    caps = capability_levels(m, runs, objectives) if tail is not None else {}

    def alpha_panel(ax):
        handles = []
        for name, r in runs.items():
            a = running_alignment(r.trajectory["L"], r.trajectory[T], estimator.tail)
            med, *q = nan_quantiles(a, [0.5, 0.25, 0.75])  # one sort for the median and the band
            t = np.arange(med.size)
            (line,) = ax.plot(t, med, lw=1.2, label=f"{name}: alpha(t), median over {a.shape[0]} copies")
            ax.fill_between(t, q[0], q[1], color=line.get_color(), alpha=0.15, lw=0)
            final = m.alignment("designer", name).alignment.median
            ax.axhline(final, color=line.get_color(), ls=":", lw=1)
            handles.append(line)
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        handles += [Patch(color="0.5", alpha=0.3, label="band: IQR over copies"),
                    Line2D([], [], color="0.3", ls=":", label="the report's alpha (whole run)")]
        late = [np.asarray(h.get_ydata())[len(h.get_ydata()) // 10:] for h in handles[:-2]]
        late = np.concatenate([v[np.isfinite(v)] for v in late]) if late else np.zeros(0)
        if late.size:  # the first tenth of the run (a ratio of two small numbers) may leave any range
            lo, hi = np.percentile(late, [2, 98])  # a median crossing 0/0 in C's jump is clipped, not scaled to
            ax.set_ylim(min(0.0, float(lo)), 1.25 * float(hi))
        ax.set_title("running alignment alpha(t) = C_[0,t](L) / C_[0,t](" + T + ")\n(the limit estimator on the run "
                     "up to step t; Definition 2)", fontsize=9)
        ax.set_xlabel("step t")
        ax.set_ylabel("alpha")
        ax.legend(handles=handles, fontsize=7)

    notes = [f"[{c.label}] {c.text}" + (f": {c.seeds.describe()}" if c.seeds is not None else "") for c in claims]
    if "C" in runs:
        notes.append(orbit_caption(runs["C"].trajectory["L"], runs["C"].trajectory[T], estimator.tail))
    plot_objectives(path, series, objectives, title=title + ": median and IQR over copies; claims under the panels",
                    descriptions=descriptions, tail=tail, capabilities=caps, extra_panels=[alpha_panel],
                    notes=["claims (pooled over seeds):"] + notes)


def scan_constant_lr(rep: dict, tr: Trajectory, p: HarrisParams, m, T: str, est) -> Table:
    """C's claim "capability-limited on both objectives" against its learning rate, on the first
    seed: every constant rate of ``lr_c_scan`` from that seed's theta_A, run as one population
    (per-copy learning rates: the graph's node C-scan), decided like the main claim against
    that seed's A."""
    lrs = np.asarray(p.lr_c_scan, dtype=float)
    cL, cT = capability(tr["L"], est, rep["data"].conditional_entropy()), capability(tr[T], est, 0.0)
    a_L = _subset(m.capability("A", "L").capability, [0])
    a_T = _subset(m.capability("A", T).capability, [0])
    frac = tail_fraction(tr[T], est.tail)[0]
    rows = []
    for k, lr in enumerate(lrs):
        if not tr.ok[k]:
            rows.append([lr, math.nan, math.nan, math.nan, math.nan, tr.status()[k], "undecided (diverged)"])
            continue
        claim = Claim.all_of("C capability-limited", [
            Claim.compare("T", {}, a_T.median - cT.value[k], combined_error(a_T.standard_error, cT.error[k])),
            Claim.compare("L", {}, a_L.median - cL.value[k], combined_error(a_L.standard_error, cL.error[k]))])
        rows.append([lr, float(tail_mean(tr["L"][k], est.tail)), float(frac[k]), f"{cL.value[k]:.4g} ±{cL.error[k]:.2g}",
                     f"{cT.value[k]:.4g} ±{cT.error[k]:.2g}", "settles" if frac[k] < p.settle else "keeps moving",
                     f"{claim.label} (margin {claim.margin:+.3g} / {claim.resolution:.2g})"])
    return Table(f"C against its constant learning rate (seed {rep['seed']}, from its theta_A; A has C(L) = "
                 f"{a_L.median:.4g} ±{a_L.standard_error:.2g}, C({T}) = {a_T.median:.4g} ±{a_T.standard_error:.2g})",
                 ("lr", "tail L", f"tail {T}/{T}(0)", "C(L) ±se", f"C({T}) ±se", "behaviour",
                  "capability-limited on both"), tuple(rows))
