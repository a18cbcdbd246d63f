"""Scenario ``annealing``: gradient descent with random jumps against plain gradient descent A.

The comment on seed 000 asks whether annealing ("jump at random, jump further when the
loss is higher, and lower the jumping rate over time") already gives weak alignment,
at a short-term price (a strong-alignment question). Here optimizer A (seed 000's
gradient descent, the data of ``harris-abc``) and annealing optimizers
(``agents.language_model.annealing``: theta <- theta - eps_t grad L + sigma_t sqrt(L) xi,
sigma_t = jump / (1 + t / jump_tau)) with a few jump sizes run on the same data from
the same starts: a population of ``copies`` starts, copy k of every optimizer from the
same theta_0. Both are measured on the base objective L and on their true objectives.

Which true objective for annealing (definitions.md: "annealing adds a term to the true
objective")? By default J = G + (sigma_t / eps_t)^2 * P * L: plain gradient descent is
at rest only where its expected squared move eps_t^2 G vanishes; annealing's expected
squared move is eps_t^2 G + sigma_t^2 P L, so it is at rest only where both terms
vanish, and J is that quantity in the units of G. With ``jump_tau`` equal to the
schedule's decay time, (sigma_t / eps_t)^2 is a constant and J a fixed function of the
state. Alignment against G (which ignores the jump term) is reported beside it, and the
normalized alignment makes the two comparable across that choice.
"""

from __future__ import annotations


import attrs
import numpy as np

from agents.language_model.annealing import Annealing
from agents.language_model.gradient_descent import GradientDescent
from agents.language_model.schedules import Decay
from hierarchy.alignment import Normalization, alignment, normalized_alignment
from hierarchy.capability import capability, tail_length
from hierarchy.errors import ParameterError
from hierarchy.decision import combined_error
from hierarchy.figures import Spread
from hierarchy.graph import DelegationGraph, OptimizerNode
from hierarchy.objective import Objective
from hierarchy.report import Claim, Table, build_report

from scenarios.machinery.progress import run_graph_with_progress
from scenarios.common.markov_setup import MarkovSetup
from scenarios.machinery.registry import check_fields, RunOptions, ScenarioResult, parameter, scenario
from hierarchy.seeding import named_seed

TRUE_OBJECTIVES = {
    "G": "G = sum_i (dL/dtheta_i)^2, the squared gradient norm (plain gradient descent's true objective; "
         "it ignores the jump term)",
    "G1": "G1 = sum_i |dL/dtheta_i|, the L1 gradient size (ignores the jump term)",
    "J": "J = G + (sigma_t / eps_t)^2 * P * L: the annealing process rests only where its expected squared move "
         "eps_t^2 G + sigma_t^2 P L vanishes; J is that move in the units of G (the jump term added to the true "
         "objective, definitions.md)",
}


@attrs.frozen
class AnnealingParams(MarkovSetup):
    """Parameters of ``annealing`` (change with ``--set name=value``; tuples as 0.01,0.03)."""

    width: int = parameter(3, 'hidden width of the MLP')
    copies: int = parameter(16, 'copies per run')
    jumps: tuple = parameter((0.01, 0.03, 0.1), 'initial jump sizes sigma_0 of the annealing runs')
    jump_tau: float = parameter(2000.0, "time scale of the jumps' decay sigma_t = jump / (1 + t / jump_tau)")
    anneal_true_objective: str = parameter("J", 'true objective of the annealing process: J, G or G1')
    true_objective: str = parameter("G", "plain gradient descent's true objective: G or G1")
    transient_horizon: int = parameter(500, 'horizon of the transient (strong-alignment) figures, in steps')

    def __attrs_post_init__(self):
        if self.anneal_true_objective not in TRUE_OBJECTIVES:
            raise ParameterError(f"anneal_true_objective={self.anneal_true_objective!r}; choose J, G or G1")
        if self.true_objective not in ("G", "G1"):
            raise ParameterError(f"true_objective={self.true_objective!r}; choose G or G1 for plain gradient descent")
        self.check_setup()
        check_fields(self, {"width": "count", "copies": "count", "transient_horizon": "count", "jumps": "positives",
                            "jump_tau": "positive"})
        if len(set(self.jumps)) != len(self.jumps):
            raise ParameterError(f"jumps={self.jumps} repeats a size; give each jump size once", parameter="jumps")
        self.check_copies(self.copies * (len(self.jumps) + 1), self.width, "the annealing runs", "copies")
        Decay(self.lr, self.tau)


def largest_setback(L) -> np.ndarray:
    """The largest setback on the way: S = max_t [ L(t) - min_{t' <= t} L(t') ], per copy.

    How much worse than its best so far the objective ever gets (0 for a monotone
    descent): a transient, strong-alignment figure (definitions.md, "Weak and strong
    alignment"). NaN for a copy with a NaN value.

    Example:
        >>> largest_setback([[3.0, 1.0, 2.5, 0.5], [3.0, 2.0, 1.0, 0.0]]).tolist()
        [1.5, 0.0]
    """
    L = np.atleast_2d(np.asarray(L, dtype=np.float64))
    bad = ~np.isfinite(L).all(axis=1)
    safe = np.where(np.isfinite(L), L, 0.0)
    s = (safe - np.minimum.accumulate(safe, axis=1)).max(axis=1)
    return np.where(bad, np.nan, s)


#: Relative float-rounding bound of "the same start": identical trials in different populations agree to a few
#: ulps (1e-15 seen), far below this.
START_BOUND = 1e-12


def paired_claim(text: str, high, high_error, low, low_error, numbers: dict, what: str) -> Claim:
    """Claim "high > low" over a population of paired copies (copy k with copy k).

    margin = median over copies of d_k = high_k - low_k; standard error = that of the
    median (:class:`~hierarchy.figures.Spread`: bootstrap over copies combined with the
    per-copy estimator error sqrt(e_high^2 + e_low^2); None: exact per copy). Decided
    against twice the standard error (:func:`hierarchy.decision.decide`); fewer than two
    defined copies leave the spread over copies unknown: undecided.

    Example:
        >>> c = paired_claim("x > y", [2.0, 2.1, 1.9, 2.0], None, [1.0, 1.1, 0.9, 1.0], None, {}, "x - y")
        >>> c.verdict, c.margin
        ('holds', 1.0)
    """
    d = np.asarray(high, dtype=np.float64) - np.asarray(low, dtype=np.float64)
    if high_error is None and low_error is None:
        e = None
    else:
        z = lambda x: np.zeros(d.shape) if x is None else np.asarray(x, dtype=np.float64)
        e = np.array([combined_error(a, b) for a, b in zip(z(high_error), z(low_error))])
    sp = Spread.of(d, e)
    se = sp.standard_error if sp.n >= 2 else float("nan")
    return Claim.compare(text, {**numbers, f"median paired difference ({what})": sp.median,
                                "copies compared": sp.n}, sp.median, se,
                         rule=f"{what}, paired copy by copy: median over copies > 2 standard errors (bootstrap over "
                              f"copies and the estimator's error); < -2 fails")


def _median(v) -> float:
    v = np.asarray(v, dtype=float)
    return float(np.nanmedian(v)) if np.isfinite(v).any() else float("nan")


def leaf_name(jump: float) -> str:
    """The node name of the annealing optimizer with jump size ``jump``."""
    return f"annealing {jump:g}"


@scenario("annealing", "annealing (random jumps that grow with the loss and shrink over time) against plain "
                       "gradient descent A: capability, alignment, distance to the optimum", AnnealingParams,
          default_steps=6000)
def run(options: RunOptions, p: AnnealingParams) -> ScenarioResult:
    steps = int(options.steps)
    est = options.estimator
    chain, data = p.markov_data(options.seed)
    optimum = data.conditional_entropy()
    decay = Decay(p.lr, p.tau)
    start = GradientDescent(data, hidden=(p.width,), schedule=decay, population=p.copies)
    theta0 = start.initial_parameters(named_seed(options.seed, "A-population"))

    TA, TJ = p.true_objective, p.anneal_true_objective
    obj_L = Objective("L", "mean cross-entropy of the next token on the training set (the designer's base objective)")
    nodes = [OptimizerNode("designer", obj_L, role="designer (human)", description="intends the cross-entropy L"),
             OptimizerNode("A", Objective(TA, TRUE_OBJECTIVES[TA]),
                           leaf=attrs.evolve(start, init=theta0), role="gradient descent",
                           description=f"plain gradient descent; {decay.describe()}")]
    for j in p.jumps:
        leaf = Annealing(data, hidden=(p.width,), schedule=decay, population=p.copies, init=theta0, jump=j,
                         jump_tau=p.jump_tau)
        nodes.append(OptimizerNode(leaf_name(j), Objective(TJ, TRUE_OBJECTIVES[TJ]), leaf=leaf,
                                   role="gradient descent with annealing",
                                   description=f"jumps sigma_t sqrt(L) xi, sigma_t = {j:g} / (1 + t / {p.jump_tau:g}); "
                                               f"{decay.describe()}"))
    graph = DelegationGraph(nodes, [("designer", n.name) for n in nodes[1:]])
    runs = run_graph_with_progress(graph, steps, options)

    from hierarchy.measure import measure

    m = measure(graph, runs, est, reference="A")
    n_tail = tail_length(steps + 1, est.tail)
    s0 = (steps + 1) // 4
    trA = runs["A"].trajectory
    okA = trA.ok
    # the shared scale of every normalized alignment: plain gradient descent A's best improvement of
    # each objective (J of an annealing optimizer evaluated on A's states: its own weight, A's run)
    scales = {"G": Normalization.of("A", trA["L"][okA], trA["G"][okA])}
    for j in p.jumps:
        leaf = graph.node(leaf_name(j)).leaf
        own = graph.node(leaf_name(j)).objective.name
        values = trA[own] if own != "J" else leaf.jump_objective(trA["L"], trA["G"], trA.meta["learning_rates"])
        scales[leaf_name(j)] = Normalization.of("A", trA["L"][okA], values[okA])
    figs = {}
    for name, r in runs.items():
        tr = r.trajectory
        ok = tr.ok
        own = graph.node(name).objective.name
        nan = lambda v: np.where(ok, v, np.nan)
        cL = capability(tr["L"], est)
        a_own = alignment(tr["L"], tr[own], est)
        a_G = alignment(tr["L"], tr["G"], est)
        n_own = normalized_alignment(tr["L"], tr[own], scales["G" if name == "A" else name], est)
        n_G = normalized_alignment(tr["L"], tr["G"], scales["G"], est)
        figs[name] = {
            "true objective": own,
            "C(L)": nan(cL.value), "C(L) error": nan(cL.error),
            "C(own)": nan(capability(tr[own], est).value),
            "alpha": nan(a_own.value),
            "normalized": nan(n_own.value), "normalized error": nan(n_own.error),
            "alpha vs G": nan(a_G.value), "alpha vs G error": nan(a_G.error),
            "normalized vs G": nan(n_G.value),
            "final L": nan(tr["L"][:, -n_tail:].mean(axis=1)),
            "setback": nan(largest_setback(tr["L"])),
            "worst L": nan(tr["L"][:, s0:s0 + p.transient_horizon].max(axis=1)),
            "L(0)": tr["L"][:, 0],
        }
    A = figs["A"]
    rows = []
    for name, f in figs.items():
        lower = "-" if name == "A" else f"{int(np.sum(f['final L'] < A['final L']))}/{p.copies}"
        rows.append([name, f["true objective"], str(Spread.of(f["C(L)"], f["C(L) error"])), str(Spread.of(f["C(own)"])),
                     str(Spread.of(f["alpha"])), str(Spread.of(f["normalized"], f["normalized error"])),
                     _median(f["alpha vs G"]), _median(f["normalized vs G"]), str(Spread.of(f["final L"], f["C(L) error"])),
                     optimum, _median(f["final L"]) - optimum, lower, _median(f["setback"]), _median(f["worst L"])])
    table = Table(
        f"A against annealing, same data and same {p.copies} starts (median ±standard error [IQR] over copies; alpha "
        f"and normalized against each optimizer's own true objective, then against G for all; normalized on the "
        f"scale of reference A: A's best improvement of each objective; final L = tail mean of L; "
        f"distance = final L - optimum H)",
        ("optimizer", "true objective", "C(L)", "C(true)", "alpha", "normalized (reference A)", "alpha vs G",
         "normalized vs G (reference A)", "final L", "optimum H", "distance", "copies below A", "largest setback",
         f"worst L over steps {s0}..{min(s0 + p.transient_horizon, steps + 1) - 1}"), tuple(rows))
    tables = [table]

    same_start = float(max(np.max(np.abs(f["L(0)"] - A["L(0)"])) for f in figs.values()))
    bound = START_BOUND * max(1.0, float(np.max(np.abs(A["L(0)"]))))
    claims = [Claim.exact("every optimizer starts from the same state as A (equal L(0), copy by copy)",
                          {"largest |L(0) - L_A(0)|": same_start, "float-rounding bound": bound},
                          margin=bound - same_start,
                          rule=f"largest |L(0) - L_A(0)| below the float-rounding bound {START_BOUND:g} * max(1, |L_A(0)|)")]
    for j in p.jumps:
        f = figs[leaf_name(j)]
        claims += [
            paired_claim(f"annealing {j:g} reaches a lower base objective than A (ends closer to the optimum)",
                         A["final L"], A["C(L) error"], f["final L"], f["C(L) error"],
                         {"final L annealing": _median(f["final L"]), "final L A": _median(A["final L"]),
                          "optimum H": optimum}, "final L A - final L annealing"),
            paired_claim(f"annealing {j:g} is better aligned with L than A (normalized alignment on reference A's "
                         f"scale, each against its own true objective: {TJ} and {TA})",
                         f["normalized"], f["normalized error"], A["normalized"], A["normalized error"],
                         {"normalized annealing": _median(f["normalized"]), "normalized A": _median(A["normalized"])},
                         "normalized annealing - normalized A"),
            paired_claim(f"annealing {j:g} is better aligned with L than A measured against the same true objective G",
                         f["alpha vs G"], f["alpha vs G error"], A["alpha vs G"], A["alpha vs G error"],
                         {"alpha vs G annealing": _median(f["alpha vs G"]), "alpha vs G A": _median(A["alpha vs G"])},
                         "alpha vs G annealing - alpha vs G A"),
            paired_claim(f"annealing {j:g} pays on the way (strong alignment): its largest setback on L exceeds A's",
                         f["setback"], None, A["setback"], None,
                         {"setback annealing": _median(f["setback"]), "setback A": _median(A["setback"])},
                         "setback annealing - setback A (exact per copy: the spread is over copies only)"),
        ]
    notes = []
    undecided = [c for c in claims if c.holds is None]
    failing = [c for c in claims if c.holds is False]
    if failing or undecided:
        notes.append(f"of {len(claims)} claims, {len(failing)} fail and {len(undecided)} are undecided on this run "
                     f"(margins within their resolution)")
    unnamed = [a for a in m.alignments if "own chain" in a.normalization]
    if unnamed:
        notes.append("the report's alignment figures for the annealing edges (against J) are normalized on their own "
                     "run (A does not record J); the table above uses J evaluated on A's states, reference A")
    if TJ == "J" and p.jump_tau != p.tau:
        notes.append(f"jump_tau {p.jump_tau:g} differs from the schedule's tau {p.tau:g}: the weight (sigma_t/eps_t)^2 "
                     f"of the jump term in J changes over the run, so J is not a fixed function of the state")
    choices = {
        "annealing true objective": TRUE_OBJECTIVES[TJ],
        "why": "definitions.md: annealing adds a term to the true objective; J adds the expected squared jump "
               "to gradient descent's G, so it vanishes exactly where the annealing process would stop moving. "
               "Alignment against G is shown beside it (same units as A's), and the normalized alignment compares "
               "across the two choices",
        "A true objective": TRUE_OBJECTIVES[TA],
        "normalization reference": "A (plain gradient descent): every normalized alignment divides each capability "
                                   "by A's best improvement L(0) - min L of that objective (for an annealing "
                                   "optimizer's J: J evaluated on A's states), one scale for all compared runs, so "
                                   "orderings of the raw alpha against the same objective are kept",
        "claims": "paired over copies: copy k of annealing against copy k of A (same start); margin = median over "
                  "copies of the paired difference, against twice its standard error (bootstrap over copies "
                  "combined with the estimator's error of each copy)",
        "estimator": str(est),
        "same start": f"copy k of every optimizer starts from theta_0[k] ({p.copies} random starts, seed "
                      f"'A-population'); each annealing optimizer draws its own jumps",
        "final L": f"tail mean of L (last {est.tail:g} of the run), with the limit estimator's error of C(L) as its "
                   f"error; optimum H = the data's conditional entropy",
        "largest setback": "max_t [L(t) - min_{t' <= t} L(t')]: how much worse than its best so far L gets",
    }
    arrays = {f"{name}/{obj}": v for name, r in runs.items() for obj, v in r.trajectory.values.items()}
    report = build_report("annealing", graph, runs, est, seed=options.seed, steps=steps, choices=choices,
                          claims=claims, tables=tables, notes=notes, measurements=m,
                          node_attributes={r[0]: {"final_L": _median(figs[r[0]]["final L"]),
                                                  "distance_to_optimum": r[10],
                                                  "largest_setback": r[12]} for r in rows})
    title = f"annealing vs gradient descent A (seed {options.seed}, {p.copies} copies: median and IQR over copies)"
    plots = {
        "objectives.png": lambda path: plot_curves(path, runs, m, claims, optimum, est, title),
        "final_L.png": lambda path: plot_final(path, figs, optimum,
                                               f"final L per copy (seed {options.seed}); optimum H = {optimum:.4g}"),
    }
    return ScenarioResult(report, graph, arrays, plots)


#: the panel titles of objectives.png: what each objective is, short enough for a panel
PLOT_DESCRIPTIONS = {
    "L": "next-token cross-entropy (the designer's base objective); dotted: its optimum H",
    "G": "squared gradient norm sum_i (dL/dtheta_i)^2 (A's true objective)",
    "G1": "L1 gradient size sum_i |dL/dtheta_i|",
    "J": "G + (sigma_t / eps_t)^2 P L: the annealing runs' true objective (not recorded for A)",
}


def plot_curves(path, runs: dict, m, claims, optimum: float, estimator, title: str) -> None:
    """objectives.png (:func:`scenarios.machinery.plots.plot_objectives`): one panel per recorded
    objective (L, G, G1, J), each optimizer's median over copies with its labelled interquartile
    band, the estimator's tail window shaded, each optimizer's tail mean X(0) - C (Definition 1),
    the optimum H of L as a dotted line, and the claims with their verdicts under the panels."""
    from scenarios.machinery.api import capability_levels
    from scenarios.machinery.plots import plot_objectives

    objectives = list(dict.fromkeys(o for r in runs.values() for o in r.trajectory.values))
    # A last: it records no J, and a panel colours its lines in order, so every optimizer keeps its colour
    order = [n for n in runs if n != "A"] + ["A"]
    series = {n: {o: runs[n].trajectory[o] for o in objectives if o in runs[n].trajectory.values} for n in order}
    tail = estimator.tail if estimator.kind == "limit" else None
    caps = capability_levels(m, runs, objectives) if tail is not None else {}
    notes = ["claims:"] + [f"[{c.label}] {c.text}" for c in claims]
    plot_objectives(path, series, objectives, title=title, descriptions=PLOT_DESCRIPTIONS, tail=tail,
                    capabilities=caps, reference={"L": optimum}, notes=notes)


def plot_final(path, figs: dict, optimum: float, title: str) -> None:
    """Each copy's final L (tail mean) under annealing against the same copy's under A (below the
    diagonal: annealing ended lower), one colour per jump size; the optimum H is named in the title."""
    from scenarios.machinery.plots import _pyplot, save_drawing

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 5.2))

    def draw():
        a = figs["A"]["final L"]
        lo = np.nanmin([np.nanmin(f["final L"]) for f in figs.values()])
        hi = np.nanmax([np.nanmax(f["final L"]) for f in figs.values()])
        for i, name in enumerate(n for n in figs if n != "A"):  # the colours of objectives.png
            ax.scatter(a, figs[name]["final L"], s=18, label=f"{name} (one point per copy)", color=f"C{i}")
        ax.plot([lo, hi], [lo, hi], color="k", lw=0.8, label="equal (below: annealing ended lower)")
        ax.set_xlabel("final L of A (tail mean of L, same copy)")
        ax.set_ylabel("final L of the annealing optimizer")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=8)

    save_drawing(plt, fig, path, draw)
