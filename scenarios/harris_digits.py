"""Scenario ``harris-digits``: Harris's companion experiment to seed 000 on real digits, offline, measured.

Scikit-learn's bundled 8x8 digits (no download), 3 vs 7 by default (``--set
classes=0,1,2,3,4,5,6,7,8,9`` for all ten), an MLP 64 -> 32 -> classes with ReLU units
(``--set activation=tanh`` for tanh), trained full batch through the one training loop
(:class:`agents.torch_training.TorchLeaf`, K copies batched) on a stratified training split.
Three levels, seed 003's reading:

    intended goal (E_test: 0-1 error on the held-out split)
      -> the designer (L: training cross-entropy, the base objective)
        -> an optimizer (its true objective)

with capability on every level (Definition 1), alignment on both edges (Definition 2) and
the delegation product C(E_test) = alpha(E_test over L) alpha(L over T) C(T) on every
chain. The optimizers are seed 000's A, B and C, as in ``harris-abc`` but on real data:

* A: the best of ``init_population`` random starts (gradient descent, lr / (1 + t / tau),
  lr = 0.1 as Harris);
* B: theta_A plus perturbations of fixed norm, found by search: every candidate that
  settles at a clearly higher L is a copy of B;
* C: theta_A at the constant learning rate ``lr_c`` (2 by default: on ReLU networks it kills
  every hidden unit, a fixed point of gradient descent that is no minimum of L);

and, side by side, the same chain trained by Adam and by heavy-ball momentum from theta_A,
each with its own true objective as the loop records it (``G_adam``, ``G_momentum``).
Replicate r uses scenario seed ``seed + r`` (its own starts and search; one data split).
Every claim is decided per seed three ways and pooled over the seeds.
"""

from __future__ import annotations

import math
import time
from typing import Optional

import attrs
import numpy as np

from agents.language_model.schedules import Constant, Decay
from hierarchy.decision import combined_error
from hierarchy.delegation import delegation_product
from hierarchy.errors import LeafError, ParameterError
from hierarchy.figures import Spread
from hierarchy.graph import DelegationGraph, OptimizerNode
from hierarchy.objective import Objective
from hierarchy.product import Produced
from hierarchy.report import Claim, Table, build_report
from hierarchy.seeding import generator, named_seed
from hierarchy.trajectory import Trajectory
from scenarios.common.digits_setup import DigitsSetup, torch_leaf, with_dead_units
from scenarios.machinery.api import objective_descriptions
from scenarios.common.seed_000 import TRUE_OBJECTIVES, seed_claims, subset as _subset, tail_fraction, tail_mean
from scenarios.machinery.progress import progress_bar, run_graph_with_progress
from scenarios.machinery.registry import RunOptions, ScenarioResult, check_fields, parameter, scenario

#: Harris's run: full-batch gradient descent for this many epochs (one epoch = one step here).
HARRIS_EPOCHS = 10_000

#: The side-by-side optimizers and their own true objective, as the training loop names it
#: (:mod:`agents.training.true_objectives`; U, the squared update size, where it records none).
OWN_TRUE = {"Adam": "G_adam", "momentum": "G_momentum"}


@attrs.frozen
class HarrisDigitsParams(DigitsSetup):
    """Parameters of ``harris-digits`` (change with ``--set name=value``).

    ``seeds`` replicates, each with ``init_population`` random starts for A and ``candidates``
    perturbations per search norm for B; the default run (1000 steps, 157 copies in all)
    takes about a minute on 2 cores. The data and model fields are :class:`DigitsSetup`'s.

    Raises
    ------
    ParameterError
        In one line naming the field, for any value that cannot run.

    Examples
    --------
    >>> p = HarrisDigitsParams()
    >>> p.classes, p.width, p.activation, p.lr, p.lr_c
    ((3, 7), 32, 'relu', 0.1, 2.0)
    >>> HarrisDigitsParams(beta=1.0)
    Traceback (most recent call last):
    ...
    hierarchy.errors.ParameterError: beta=1.0 must be a number in [0, 1) (heavy-ball momentum coefficient); e.g. --set beta=0.9
    """

    lr_c: float = parameter(2.0, "constant learning rate of optimizer C (2 kills ReLU networks)")
    seeds: int = parameter(8, "independent scenario seeds (replicates), run as one batched population")
    init_population: int = parameter(4, "random starts per seed from which A's start theta_A is chosen")
    candidates: int = parameter(4, "candidates per search norm of B's search around theta_A")
    b_copies: int = parameter(4, "most settled-worse candidates kept per seed as B's copies")
    search_norms: tuple = parameter((0.3, 1.0, 3.0), "norms of B's search perturbations, tried in order")
    lr_c_scan: tuple = parameter((0.1, 0.5, 1.0, 2.0, 4.0), "constant learning rates of the scan table")
    adam_lr: float = parameter(0.01, "Adam's initial learning rate (decayed like A's: adam_lr / (1 + t / tau))")
    momentum_lr: float = parameter(0.01, "heavy-ball momentum's initial learning rate (decayed like A's)")
    beta: float = parameter(0.9, "heavy-ball momentum coefficient")
    worse_by: float = parameter(0.02, "B's candidates settle at a loss at least this much worse than A's")
    settle: float = parameter(1e-3, "settled: tail mean of the true objective below this fraction of its start")
    agree: float = parameter(0.05, "relative tolerance of the 'equally capable on G' claim")
    max_discrepancy: float = parameter(1e-9, "bound of the delegation-product checks")
    true_objective: str = parameter("G", "gradient descent's true objective: G (squared gradient norm) or G1 (L1)")

    def __attrs_post_init__(self):
        if self.true_objective not in TRUE_OBJECTIVES:
            raise ParameterError(f"true_objective={self.true_objective!r}; choose G or G1", parameter="true_objective")
        self.check_setup()
        check_fields(self, {"lr_c": "positive", "seeds": "count", "init_population": "count", "candidates": "count",
                            "b_copies": "count", "search_norms": "positives", "lr_c_scan": "positives",
                            "adam_lr": "positive", "momentum_lr": "positive", "beta": "smoothing",
                            "worse_by": "non-negative", "settle": "fraction", "agree": "positive",
                            "max_discrepancy": "positive"})
        self.check_copies(self.seeds * self.init_population, "A's random starts", "init_population")
        self.check_copies(self.seeds * self.candidates, "B's search", "candidates")
        Decay(self.lr, self.tau)
        Constant(self.lr_c)


def _run(leaf, steps: int, seed, desc: str, enabled: bool) -> Trajectory:
    with progress_bar(desc, steps, enabled) as bar:
        return leaf.run(steps, seed, bar)


def _stack(parts) -> Trajectory:
    """Trajectories stacked copy after copy, with the per-copy facts every part has."""
    parts = list(parts)
    keys = [k for k in parts[0].copy_meta if all(k in t.copy_meta for t in parts)]
    return Trajectory({k: np.concatenate([t[k] for t in parts]) for k in parts[0].values},
                      diverged_at=np.concatenate([t.diverged_at for t in parts]),
                      copy_meta={k: np.concatenate([t.copy_meta[k] for t in parts]) for k in keys})


def _settled(tr: Trajectory, T: str, tail: float, settle: float) -> np.ndarray:
    """[K] bool: healthy copies whose tail mean of ``T`` is below ``settle`` of its start."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return tr.ok & (tail_mean(tr[T], tail) / tr[T][:, 0] < settle)


class BestStart:
    """Optimizer A's leaf: per replicate seed, ``init_population`` random starts trained by
    gradient descent as one population; returns, per seed, the copy with the lowest tail
    loss among those that settled (any healthy one if none did), and as its product each
    seed's theta_A. A runs once: B, C, Adam and momentum are built from its product.

    Parameters
    ----------
    p : HarrisDigitsParams
    split : DigitsSplit
    seeds : list of int
        The replicate seeds (copy r's starts from ``named_seed(seeds[r], "A-population")``).
    options : RunOptions
    records : tuple of str
        What its torch leaf records.

    Examples
    --------
    >>> BestStart(HarrisDigitsParams(), None, [0, 1], RunOptions(), ("L", "G")).records
    ('L', 'G')
    """

    step_unit = "gradient step"
    deterministic = True  # the starts are drawn from the replicate seeds when it runs

    def __init__(self, p: HarrisDigitsParams, split, seeds, options: RunOptions, records):
        self.p, self.split, self.seeds, self.options, self.records = p, split, seeds, options, tuple(records)

    def run(self, steps, seed=None, progress=None) -> Trajectory:
        from agents.training import sgd

        p, n, tail = self.p, self.p.init_population, self.options.estimator.tail
        probe = torch_leaf(p, self.split, sgd(p.decay()), n)
        inits = np.concatenate([probe.initial_parameters(named_seed(s, "A-population")) for s in self.seeds])
        pop = torch_leaf(p, self.split, sgd(p.decay()), len(inits), init=inits)
        tr = with_dead_units(_run(pop, steps, named_seed(self.options.seed, "A-population"), "choose A",
                                  self.options.progress), p, self.split)
        L_end = tail_mean(tr["L"], tail)
        settled = _settled(tr, p.true_objective, tail, p.settle)
        reps, rows = [], []
        for r, s in enumerate(self.seeds):
            idx = np.arange(r * n, (r + 1) * n)
            pool = idx[settled[idx]] if settled[idx].any() else idx[tr.ok[idx]]
            if pool.size == 0:
                reps.append(None)
                continue
            best = int(pool[np.argmin(L_end[pool])])
            reps.append({"seed": s, "theta_a": np.asarray(inits[best]), "L_a": float(L_end[best])})
            rows.append(best)
        if not rows:
            raise LeafError("no random start of A stayed healthy on any seed (every one diverged: overflow or "
                            "runaway); lower the learning rate (lr)")
        live = [r for r, rep in enumerate(reps) if rep is not None]
        chosen = tr.select(rows)
        return attrs.evolve(chosen, product={"reps": reps, "live": live, "population": tr})


class SettledWorseSearch:
    """Optimizer B's leaf, built from A's product: perturbations of each seed's theta_A of fixed
    norm, each norm in turn (every seed still searching in one population); the copies of B
    are the candidates that settled at a tail loss at least ``worse_by`` above A's, the first
    ``b_copies`` per seed at the first norm that yields any. Its product: each copy's seed
    index and the search's counts. With none found on any seed it returns one undefined copy.

    Parameters
    ----------
    product : dict
        A's product: ``reps`` (per seed: seed, theta_A, A's tail loss) and ``live``.
    p : HarrisDigitsParams
    split : DigitsSplit
    options : RunOptions
    records : tuple of str

    Examples
    --------
    >>> b = SettledWorseSearch({"reps": [], "live": []}, HarrisDigitsParams(), None, RunOptions(), ("L", "G"))
    >>> tr = b.run(3)
    >>> tr.K, tr.ok.tolist(), tr.product["owners"]
    (1, [False], [])
    """

    step_unit = "gradient step"
    deterministic = True

    def __init__(self, product: dict, p: HarrisDigitsParams, split, options: RunOptions, records):
        self.reps, self.live = product["reps"], product["live"]
        self.p, self.split, self.options, self.records = p, split, options, tuple(records)

    def run(self, steps, seed=None, progress=None) -> Trajectory:
        from agents.training import sgd

        p, tail, reps = self.p, self.options.estimator.tail, self.reps
        found, counts = {}, {r: [] for r in self.live}
        for i, norm in enumerate(p.search_norms):
            todo = [r for r in self.live if r not in found]
            if not todo:
                break
            starts = []
            for r in todo:
                d = generator(named_seed(reps[r]["seed"], f"B-search-{i}")).normal(
                    size=(p.candidates, reps[r]["theta_a"].size))
                starts.append(reps[r]["theta_a"][None, :] + d * (norm / np.linalg.norm(d, axis=1, keepdims=True)))
            pop = torch_leaf(p, self.split, sgd(p.decay()), p.candidates * len(todo), init=np.concatenate(starts))
            tr = with_dead_units(_run(pop, steps, named_seed(self.options.seed, f"B-search-{i}"),
                                      f"search for B (norm {norm:g})", self.options.progress), p, self.split)
            L_end = tail_mean(tr["L"], tail)
            settled = _settled(tr, p.true_objective, tail, p.settle)
            for j, r in enumerate(todo):
                idx = np.arange(j * p.candidates, (j + 1) * p.candidates)
                worse = settled[idx] & (L_end[idx] >= reps[r]["L_a"] + p.worse_by)
                chosen = idx[worse][:p.b_copies]
                counts[r].append((norm, p.candidates, int(settled[idx].sum()), int(worse.sum()),
                                  int((settled[idx] & (L_end[idx] < reps[r]["L_a"] - 1e-9)).sum()), len(chosen)))
                if chosen.size:
                    found[r] = tr.select(chosen)
        owners = [r for r in self.live if r in found for _ in range(found[r].K)]
        product = {"owners": owners, "counts": counts}
        if not owners:  # nothing found on any seed: one undefined copy, named so in the notes
            nan = {k: np.full((1, steps + 1), np.nan) for k in self.records}
            return Trajectory(nan, diverged_at=np.array([0]), product=product)
        return attrs.evolve(_stack(found[r] for r in self.live if r in found), product=product)


def _from_a(p, split, optimizer_of, lr_scale=None, first_only=False):
    """build(product) -> the torch leaf from each live seed's theta_A (or the first seed's, tiled)."""

    def build(product):
        thetas = [product["reps"][r]["theta_a"] for r in product["live"]]
        if first_only:
            k = 1 if lr_scale is None else len(lr_scale)
            return _Dead(torch_leaf(p, split, optimizer_of(), k, init=np.tile(thetas[0], (k, 1)), lr_scale=lr_scale),
                         p, split)
        return _Dead(torch_leaf(p, split, optimizer_of(), len(thetas), init=np.stack(thetas)), p, split)

    return build


class _Dead:
    """A torch leaf whose trajectory also counts its dead hidden units at the end."""

    step_unit = "gradient step"

    def __init__(self, leaf, p, split):
        self.leaf, self.p, self.split = leaf, p, split
        self.records = tuple(leaf.records)

    def run(self, steps, seed, progress=None) -> Trajectory:
        return with_dead_units(self.leaf.run(steps, seed, progress), self.p, self.split)


def _own_objective(records, name: str) -> tuple:
    """(objective name, description) of optimizer ``name``'s own true objective, by what its leaf records."""
    from agents.training.true_objectives import describe

    own = OWN_TRUE[name]
    if own in records:
        return own, describe(own) + " (recorded by the training loop)"
    if "U" in records:
        return "U", describe("U") + f" ({own} is not recorded by the loop)"
    raise LeafError(f"the torch leaf of {name} records neither {own} nor U; it records {', '.join(records)}")


def _optimizers(p: HarrisDigitsParams) -> dict:
    """name -> a function making the optimizer value of that node (fresh state each call)."""
    from agents.training import adam, momentum, sgd

    return {"A": lambda: sgd(p.decay()), "C": lambda: sgd(Constant(p.lr_c)),
            "C-scan": lambda: sgd(Constant(1.0)),
            "Adam": lambda: adam(Decay(p.adam_lr, p.tau)),
            "momentum": lambda: momentum(Decay(p.momentum_lr, p.tau), p.beta)}


def _fig(m, runs, owners, name, r, T, own, fracs, tail):
    """Per-seed Spreads of node ``name`` for replicate ``r`` (None when it has no copy there)."""
    idx = [k for k, o in enumerate(owners[name]) if o == r]
    if not idx:
        return {}
    f = {}
    for obj in dict.fromkeys(("L", "E_test", T, own)):
        f[f"{name}/C({obj})"] = _subset(m.capability(name, obj).capability, idx)
    f[f"{name}/alpha"] = _subset(m.alignment("designer", name).alignment, idx)
    f[f"{name}/alpha_goal"] = _subset(m.alignment("goal", "designer", chain=name).alignment, idx)
    for obj in dict.fromkeys((T, own)):
        frac, up, down = fracs[(name, obj)]
        f[f"{name}/frac" + ("" if obj == T else "_own")] = Spread.of(frac[idx], up[idx])
        if obj == T:
            f[f"{name}/frac_down"] = Spread.of(frac[idx], down[idx])
    return f


def digits_claims(p: HarrisDigitsParams, T: str, own: dict, f: dict) -> list:
    """The nine claims decided on one replicate's figures ``f``.

    Seed 000's first five (:func:`scenarios.common.seed_000.seed_claims`: A and B settle, C_A(T) =
    C_B(T), alpha_B < alpha_A, C capability-limited, C never settles), then: the base
    objective serves the intended goal (alpha(E_test over L) > 0 for A); C stops at a fixed
    point that is no minimum (tail T / T(0) < settle and C_A(L) - C_C(L) > worse_by); Adam and
    momentum settle on their own true objectives; the delegation product on the three-level
    chain (relative discrepancy < max_discrepancy). Margins are positive when a claim holds.

    Parameters
    ----------
    p : HarrisDigitsParams
    T : str
        Gradient descent's true objective ("G" or "G1").
    own : dict
        Optimizer name -> its own true objective's name ("Adam" -> "G_adam", ...).
    f : dict
        Spreads keyed "A/C(L)", "A/alpha", "A/alpha_goal", "C/frac", "Adam/frac_own", ...,
        and "discrepancy" (a float).

    Returns
    -------
    list of Claim

    Examples
    --------
    >>> from hierarchy.figures import Spread
    >>> f = {"A/C(L)": Spread.of([0.69], [0.001]), "C/C(L)": Spread.of([0.0], [0.001]),
    ...      "C/frac": Spread.of([1e-32], [0.0]), "A/alpha_goal": Spread.of([0.7], [0.01]), "discrepancy": 1e-16}
    >>> claims = digits_claims(HarrisDigitsParams(), "G", {"Adam": "G_adam"}, f)
    >>> len(claims), claims[6].verdict, claims[5].verdict, claims[8].verdict, claims[1].label
    (9, 'holds', 'holds', 'holds', 'undecided (undefined)')
    """
    nan = math.nan
    med = lambda k: f[k].median if k in f else nan  # noqa: E731
    se = lambda k: f[k].standard_error if k in f else nan  # noqa: E731
    first = seed_claims(p, T, f)[:5]
    goal = Claim.compare("the designer's base objective serves the intended goal: alpha(E_test over L) > 0 for A",
                         {"alpha(E_test over L) of A": med("A/alpha_goal")}, med("A/alpha_goal"), se("A/alpha_goal"),
                         "A's alpha(E_test over L) against 2 se")
    dead = Claim.all_of(
        f"C (constant learning rate {p.lr_c:g}) stops at a fixed point that is no minimum: its {T} settles while its "
        f"L stays at least {p.worse_by:g} above A's",
        [Claim.compare(f"C's {T} settles", {"C tail fraction": med("C/frac")}, p.settle - med("C/frac"),
                       se("C/frac"), f"{p.settle:g} - C's tail fraction against 2 upward se"),
         Claim.compare("C's L stays above A's", {"C_A(L) - C_C(L)": med("A/C(L)") - med("C/C(L)")},
                       med("A/C(L)") - med("C/C(L)") - p.worse_by, combined_error(se("A/C(L)"), se("C/C(L)")),
                       f"C_A(L) - C_C(L) - {p.worse_by:g} (same start, so the difference of the tail losses) "
                       f"against 2 se")],
        rule="both (seed 000: gradient descent achieves its true objective at a point that does not minimize L)")
    side = Claim.all_of(
        f"Adam and momentum drive their own true objectives ({', '.join(own[n] for n in own)}) to near zero "
        f"(tail mean below {p.settle:g} of the start)",
        [Claim.compare(f"{n} settles on {own[n]}", {f"{n} tail fraction": med(f"{n}/frac_own")},
                       p.settle - med(f"{n}/frac_own"), se(f"{n}/frac_own"),
                       f"{p.settle:g} - {n}'s tail fraction of {own[n]} against 2 upward se") for n in own],
        rule="both settle")
    prod = Claim.exact("delegation product on the three-level chain: C(E_test) = alpha(E_test over L) * "
                       "alpha(L over T) * C(T) for every optimizer",
                       {"largest discrepancy": f["discrepancy"], "bound": p.max_discrepancy},
                       p.max_discrepancy - f["discrepancy"], f"relative discrepancy < {p.max_discrepancy:g}")
    return first + [goal, dead, side, prod]


CLAIM_SHORT = ("A, B settle", "C_A = C_B on T", "alpha_B < alpha_A", "C capability-limited", "C never settles",
               "goal served", "dead fixed point", "Adam, momentum settle", "delegation product")


@scenario("harris-digits", "Harris's digits experiment offline: goal -> designer -> A, B, C, Adam, momentum",
          HarrisDigitsParams, default_steps=1000)
def run(options: RunOptions, p: HarrisDigitsParams) -> ScenarioResult:
    """Run ``harris-digits`` (module docstring): the graph goal -> designer -> {A, B, C, C-scan,
    Adam, momentum}, its figures, the nine claims per seed and pooled, the tables and plots.

    Parameters
    ----------
    options : RunOptions
    p : HarrisDigitsParams

    Returns
    -------
    ScenarioResult

    Raises
    ------
    ScenarioError
        When scikit-learn is missing (one line: ``pip install -e ".[data]"``).
    ParameterError
        When the populations cannot fit in memory.
    LeafError
        When every start of A diverged.

    Examples
    --------
    >>> from scenarios.machinery.registry import run_scenario
    >>> res = run_scenario("harris-digits", RunOptions(steps=20, progress=False, params={
    ...     "seeds": "1", "init_population": "1", "candidates": "1", "search_norms": "1.0", "lr_c_scan": "2.0"}))
    >>> len(res.report.claims), sorted(res.arrays)[:3]
    (9, ['A/E_test', 'A/G', 'A/G1'])
    """
    started = time.perf_counter()
    steps, tail, T = int(options.steps), options.estimator.tail, p.true_objective
    seeds = [int(options.seed) + r for r in range(p.seeds)]
    split = p.split()
    p.check_copies(p.seeds * max(p.init_population, p.candidates), "the largest population", "candidates",
                   steps=steps, n_train=split.sizes[0])
    opts = _optimizers(p)
    records = {name: tuple(torch_leaf(p, split, make(), 1).records) for name, make in opts.items()}
    own = {name: _own_objective(records[name], name) for name in OWN_TRUE}
    own_name = {n: o[0] for n, o in own.items()}

    obj_E = Objective("E_test", "0-1 error on the held-out split (the intended goal)", lower_bound=0.0)
    obj_L = Objective("L", "cross-entropy on the training split (the designer's base objective)", lower_bound=0.0)
    obj_T = Objective(T, TRUE_OBJECTIVES[T], lower_bound=0.0)
    gd = "gradient descent"

    def produced(build, name):
        return Produced("A", build=build, records=records[name], step_unit="gradient step")

    nodes = [
        OptimizerNode("goal", obj_E, role="intended goal (human)",
                      description="wants digits classified correctly on images it has not seen"),
        OptimizerNode("designer", obj_L, role="designer (base optimizer)",
                      description=f"chooses the {p.model().describe()} and the training split, delegates the training"),
        OptimizerNode("A", obj_T, leaf=BestStart(p, split, seeds, options, records["A"]), role=gd,
                      description=f"init theta_A: the best of {p.init_population} random starts per seed; "
                                  f"{p.decay().describe()}"),
        OptimizerNode("B", obj_T, role=gd, leaf=produced(lambda prod: SettledWorseSearch(prod, p, split, options,
                                                                                         records["A"]), "A"),
                      description=f"init theta_A + delta, every candidate settled at least {p.worse_by:g} worse "
                                  f"(at most {p.b_copies} per seed); {p.decay().describe()}"),
        OptimizerNode("C", obj_T, role=gd, leaf=produced(_from_a(p, split, opts["C"]), "C"),
                      description=f"init theta_A of each seed; {Constant(p.lr_c).describe()}"),
        OptimizerNode("C-scan", obj_T, role=gd,
                      leaf=produced(_from_a(p, split, opts["C-scan"], np.asarray(p.lr_c_scan, dtype=float), True),
                                    "C-scan"),
                      description=f"init theta_A of seed {seeds[0]}; constant rates "
                                  f"{', '.join(map(str, p.lr_c_scan))}"),
        OptimizerNode("Adam", Objective(own["Adam"][0], own["Adam"][1], lower_bound=0.0), role="Adam",
                      leaf=produced(_from_a(p, split, opts["Adam"]), "Adam"),
                      description=f"init theta_A of each seed; Adam, {Decay(p.adam_lr, p.tau).describe()}"),
        OptimizerNode("momentum", Objective(own["momentum"][0], own["momentum"][1], lower_bound=0.0),
                      role="heavy-ball momentum", leaf=produced(_from_a(p, split, opts["momentum"]), "momentum"),
                      description=f"init theta_A of each seed; momentum beta {p.beta:g}, "
                                  f"{Decay(p.momentum_lr, p.tau).describe()}"),
    ]
    edges = [("goal", "designer")] + [("designer", n.name) for n in nodes[2:]]
    graph = DelegationGraph(nodes, edges)
    runs = run_graph_with_progress(graph, steps, options)
    trained = time.perf_counter() - started
    prod_a, prod_b = runs["A"].trajectory.product, runs["B"].trajectory.product
    reps, live = prod_a["reps"], prod_a["live"]
    if not prod_b["owners"]:
        runs.pop("B")
    scan = runs.pop("C-scan")

    from hierarchy.measure import measure

    m = measure(graph, runs, options.estimator, reference="A")
    owners = {"A": live, "B": prod_b["owners"], "C": live, "Adam": live, "momentum": live}
    own_of = {n: own_name.get(n, T) for n in runs}
    fracs = {}
    for name in runs:
        for obj in dict.fromkeys((T, own_of[name])):
            fracs[(name, obj)] = tail_fraction(runs[name].trajectory[obj], tail)
    discrepancy = {name: delegation_product([runs[name].trajectory[o] for o in ("E_test", "L", own_of[name])],
                                            ("goal", "designer", name), options.estimator).discrepancy
                   for name in runs}

    per_seed = []
    for r in live:
        fig = {}
        for name in runs:
            fig.update(_fig(m, runs, owners, name, r, T, own_of[name], fracs, tail))
        disc = [float(np.nanmax(discrepancy[n][idx])) for n in runs
                for idx in [[k for k, o in enumerate(owners[n]) if o == r]] if idx and np.isfinite(discrepancy[n][idx]).any()]
        fig["discrepancy"] = max(disc) if disc else math.nan
        per_seed.append((r, digits_claims(p, T, own_name, fig)))
    claims = []
    for j in range(len(CLAIM_SHORT)):
        seed_list = [c[j] for _, c in per_seed]
        claims.append(Claim.replicated(seed_list[0].text, seed_list, rule=seed_list[0].rule))

    n_train, n_test = split.sizes
    searched = sum(row[1] for r in live for row in prod_b["counts"][r])
    copies = prod_a["population"].K + searched + scan.trajectory.K + sum(runs[n].trajectory.K
                                                                       for n in ("C", "Adam", "momentum"))
    notes = [f"budget: {steps} full-batch steps (Harris: {HARRIS_EPOCHS:,} epochs) for {copies} copies in all took "
             f"{trained:.1f} s ({1e3 * trained / steps:.2f} ms per step of every population together, "
             f"{1e6 * trained / (steps * copies):.1f} us per copy-step); at that rate Harris's {HARRIS_EPOCHS:,} "
             f"steps would take {trained * HARRIS_EPOCHS / steps:.0f} s, and one minute affords about "
             f"{60.0 * steps / trained:.0f} steps"]
    if len(live) < len(seeds):
        notes.append(f"{len(seeds) - len(live)} seeds had no usable start for A and are left out")
    no_b = [seeds[r] for r in live if not any(row[-1] for row in prod_b["counts"][r])]
    if no_b:
        notes.append(f"the search for B found no settled-worse perturbation on seeds {no_b} (norms "
                     f"{', '.join(map(str, p.search_norms))}, {p.candidates} candidates each): their claims about B are "
                     f"undecided (undefined)")

    tables = [_optimizer_table(p, runs, m, owners, fracs, T, own_of, split, tail),
              Table("claims per seed: verdict (margin / resolution)", ("seed",) + CLAIM_SHORT,
                    tuple([seeds[r]] + [f"{c.verdict} ({c.margin:+.3g} / {c.resolution:.2g})"
                                        if math.isfinite(c.margin) else c.label for c in cl] for r, cl in per_seed)),
              Table(f"search for B per seed: {p.candidates} candidates of fixed norm around theta_A, {steps} steps",
                    ("seed", "norm", "candidates", "settled", f"settled >= {p.worse_by:g} worse", "settled better than A",
                     f"copies of B (at most {p.b_copies})"),
                    tuple([seeds[r], *row] for r in live for row in prod_b["counts"][r])),
              _scan_table(p, scan.trajectory, reps[live[0]], split, tail, T, options.estimator),
              _side_by_side(runs, m, own_of, T, tail)]

    arrays = {f"{name}/{obj}": v for name, r in list(runs.items()) + [("C-scan", scan)]
              for obj, v in r.trajectory.values.items()}
    for name, r in list(runs.items()) + [("C-scan", scan)]:
        if "dead_units" in r.trajectory.copy_meta:
            arrays[f"extra/{name}/dead_units"] = np.asarray(r.trajectory.copy_meta["dead_units"])
    choices = {"data": split.describe(), "model": p.model().describe(),
               "true objective": TRUE_OBJECTIVES[T],
               "true objective of Adam": own["Adam"][1], "true objective of momentum": own["momentum"][1],
               "intended goal": "E_test, the 0-1 error on the held-out split (evaluated every step on the states)",
               "estimator": str(options.estimator),
               "replication": f"{len(seeds)} scenario seeds {seeds[0]}..{seeds[-1]} (seed + r): their own random "
                              f"starts and search; one data split (split_seed {p.split_seed})",
               "settled": f"tail mean of the true objective < {p.settle:g} of its start",
               "A chosen": f"lowest tail loss among {p.init_population} random starts that settled, per seed",
               "B copies": f"every settled candidate >= {p.worse_by:g} worse than A (first {p.b_copies} per seed) at "
                           f"the first norm that yields any",
               "dead unit": "a ReLU unit whose pre-activation is <= 0 on every training image at the end",
               "claim decision": "per seed: margin against 2 standard errors (hierarchy.decision); pooled over seeds"}
    report = build_report("harris-digits", graph, runs, options.estimator, seed=options.seed, steps=steps,
                          choices=choices, claims=claims, tables=tables, notes=notes, measurements=m,
                          node_attributes={n: {"copy_seeds": [seeds[r] for r in owners[n]]} for n in runs},
                          edge_attributes={})
    from agents.digits.model import label_entropy

    H = label_entropy(split.y_train, split.n_classes)
    title = f"harris-digits ({split.describe().split(':')[0]}; seeds {seeds[0]}..{seeds[-1]}, {steps} steps)"
    verdicts = ["claims (pooled over seeds):"] + [f"[{c.label}] {c.text}" + (f": {c.seeds.describe()}" if c.seeds
                                                                             is not None else "") for c in claims]
    desc = {"U": "|theta_{t+1} - theta_t|^2, the squared update size", "L_test": "cross-entropy on the held-out split"}
    desc |= dict(TRUE_OBJECTIVES) | objective_descriptions(graph)
    plots = {"objectives.png": lambda path: plot_digits(path, {n: r.trajectory for n, r in runs.items()}, m, graph, "C", H, p, desc, options.estimator,
                                                        title + ": median and IQR over copies", verdicts),
             "constant_rates.png": lambda path: plot_digits(
                 path, {f"lr {lr:g}": scan.trajectory.select([k]) for k, lr in enumerate(p.lr_c_scan)}, None, graph,
                 f"lr {p.lr_c:g}" if p.lr_c in p.lr_c_scan else None, H, p, desc, options.estimator,
                 f"harris-digits: constant learning rates from theta_A of seed {seeds[0]} (one copy each)")}
    return ScenarioResult(report, graph, arrays, plots)


def dead_caption(tr: Trajectory, name: str, H: float, width: int, tail: float) -> str:
    """What the dead-network fixed point of run ``name`` is, from its run: how many copies end with
    every hidden ReLU unit off (pre-activation <= 0 on every training image), the step from which
    their gradient size stays below 1e-20 of its start, and their tail L against the label entropy H
    (the loss of the best constant output, which a dead network computes)."""
    dead = np.asarray(tr.copy_meta.get("dead_units", np.full(tr.K, -1)))
    idx = np.flatnonzero(dead == width)
    if idx.size == 0:
        return f"{name}: no copy ends with every hidden unit dead ({_dead_text(tr, width)} dead units)"
    T = next(o for o in ("G", "G1") if o in tr.values)
    g = tr[T][idx]
    below = g < 1e-20 * g[:, :1]
    start = [int(np.flatnonzero(~r)[-1] + 1) if (~r).any() else 0 for r in below if r[-1]]
    L_end = float(np.median(tail_mean(tr["L"][idx], tail)))
    return (f"{name}: dead-network fixed point on {idx.size} of {tr.K} copies: every one of the {width} hidden ReLU "
            f"units is off on every training image, so the network outputs a constant; L sits at the label entropy "
            f"H = {H:.6f} (tail mean {L_end:.6f}: the best constant output), {T} ~ "
            f"{float(np.median(g[:, -1])):.2g} (float rounding)" + (f" from step {int(np.median(start))} on (median)" if start
                                                                     else "") + ": the descent has stopped, not converged")


def plot_digits(path, trajectories: dict, m, graph, dead: Optional[str], H: float, p, descriptions: dict, est,
                title: str, notes=()) -> None:
    """A harris-digits figure (:func:`scenarios.machinery.plots.plot_objectives`) of ``trajectories``
    ({name: Trajectory}): a panel per recorded objective (median and IQR over copies, the estimator's tail window, each run's tail mean X(0) - C
    with ``m``), and, for the run ``dead`` (optimizer C, lr 2), a panel of its gradient size per copy
    with the dead-network fixed point marked and captioned (:func:`dead_caption`)."""
    from scenarios.machinery.api import capability_levels
    from scenarios.machinery.plots import plot_objectives

    objectives = list(dict.fromkeys(o for tr in trajectories.values() for o in tr.values))
    series = {name: {o: tr[o] for o in objectives if o in tr.values} for name, tr in trajectories.items()}
    tail = est.tail if est.kind == "limit" else None
    caps = capability_levels(m, trajectories, objectives) if m is not None and tail is not None else {}
    extra, captions = [], []
    if dead is not None and dead in trajectories and p.activation == "relu":
        tr = trajectories[dead]
        captions.append(dead_caption(tr, dead, H, p.width, est.tail))
        T = next(o for o in ("G", "G1") if o in tr.values)

        def dead_panel(ax):
            d = np.asarray(tr.copy_meta.get("dead_units", np.full(tr.K, -1)))
            for k in range(tr.K):
                ax.plot(tr[T][k], lw=1.0, label=f"copy {k}: {int(d[k])}/{p.width} units dead at the end")
            g = tr[T][d == p.width]
            if g.size:
                level = float(np.median(g[:, -1]))
                ax.axhline(level, color="k", ls=":", lw=1)
                ax.annotate(f"dead-network fixed point: {T} ~ {level:.2g}\n(every ReLU off: constant output,\n"
                            f"L = label entropy H = {H:.4f})", xy=(0.98 * tr.T, level), xytext=(0.35, 0.45),
                            textcoords="axes fraction", fontsize=8, arrowprops={"arrowstyle": "->", "lw": 0.8})
            ax.set_yscale("log")
            ax.set_title(f"{dead}: {T} per copy (constant learning rate {p.lr_c:g})\nthe dead-ReLU fixed point",
                         fontsize=9)
            ax.set_xlabel("step")
            ax.set_ylabel(T)
            ax.legend(fontsize=7, loc="upper right")

        extra.append(dead_panel)
    plot_objectives(path, series, objectives, title=title, descriptions=descriptions, tail=tail, capabilities=caps,
                    extra_panels=extra, notes=captions + list(notes))


def _dead_text(tr: Trajectory, width: int) -> str:
    dead = tr.copy_meta.get("dead_units")
    if dead is None:
        return "n/a"
    d = np.asarray(dead)
    return f"{int(np.median(d))}/{width} (all dead on {int((d == width).sum())}/{d.size})"


def _optimizer_table(p, runs, m, owners, fracs, T, own_of, split, tail) -> Table:
    """Where each optimizer ended over the seeds: tail L and test errors, C on every level, alpha on both edges."""
    rows = []
    n_test = split.sizes[1]
    for name in ("A", "B", "C", "Adam", "momentum"):
        if name not in runs:
            rows.append([name, "not found"] + [""] * 9 + ["absent"])
            continue
        tr = runs[name].trajectory
        own = own_of[name]
        cap = lambda obj: str(m.capability(name, obj).capability)  # noqa: E731
        rows.append([name, tr.K, str(Spread.of(tail_mean(tr["L"], tail))),
                     str(Spread.of(np.round(tr["E_test"][:, -1] * n_test))),
                     str(Spread.of(fracs[(name, own)][0], fracs[(name, own)][1])) + f" ({own})",
                     cap("E_test"), cap("L"), cap(own) + f" ({own})",
                     str(m.alignment("goal", "designer", chain=name).alignment),
                     str(m.alignment("designer", name).alignment), _dead_text(tr, p.width),
                     f"{int(tr.ok.sum())}/{tr.K} ok"])
    return Table(f"optimizers over the seeds (median ±se IQR over copies): tail means, held-out errors of {n_test} "
                 f"at the last step, capability on every level, alignment on both edges",
                 ("optimizer", "copies", "final L", "test errors", "tail T/T(0) (T)", "C(E_test)", "C(L)",
                  "C(T) (T)", "alpha(E_test over L)", "alpha(L over T)", "dead units", "status"), tuple(rows))


def _scan_table(p, tr: Trajectory, rep: dict, split, tail, T, est) -> Table:
    """Constant learning rates from one seed's theta_A: where each ends, whether the ReLU units die."""
    from agents.digits.model import label_entropy

    H = label_entropy(split.y_train, split.n_classes)
    frac = tail_fraction(tr[T], tail)[0]
    dead = tr.copy_meta.get("dead_units", np.full(tr.K, -1))
    rows = []
    for k, lr in enumerate(p.lr_c_scan):
        if not tr.ok[k]:
            rows.append([lr, math.nan, math.nan, "", "", "", tr.status()[k]])
            continue
        L_end = float(tail_mean(tr["L"][k], tail))
        if dead[k] == p.width and p.activation == "relu":
            what = (f"dead: every unit off, {T} ~ 0, L = {L_end:.6f} (label entropy {H:.6f})" if frac[k] < p.settle
                    else f"dead: every unit off; the output bias keeps moving ({T} not ~ 0)")
        else:
            what = "settles" if frac[k] < p.settle else "keeps moving"
        rows.append([lr, f"{L_end:.4g}", f"{frac[k]:.3g}", f"{tr[T][k, -1]:.3g}",
                     f"{int(round(tr['E_test'][k, -1] * split.sizes[1]))}", f"{int(dead[k])}/{p.width}", what])
    return Table(f"constant learning rates from theta_A of seed {rep['seed']} ({split.sizes[0]} training images; "
                 f"label entropy {H:.6f}, ln {split.n_classes} = {math.log(split.n_classes):.6f})",
                 ("lr", "tail L", f"tail {T}/{T}(0)", f"final {T}", "test errors", "dead units", "behaviour"),
                 tuple(rows))


def _side_by_side(runs, m, own_of, T, tail) -> Table:
    """A, Adam and momentum from the same starts: each measured on its own true objective and on G."""
    rows = []
    for name in ("A", "Adam", "momentum"):
        own = own_of[name]
        tr = runs[name].trajectory
        rows.append([name, own, str(m.capability(name, own).capability), str(m.capability(name, "G").capability),
                     str(m.capability(name, "L").capability), str(m.alignment("designer", name).alignment),
                     str(m.alignment("designer", name, chain=name).normalized),
                     str(Spread.of(tail_mean(tr["L"], tail)))])
    return Table("the same chain trained by gradient descent (A), Adam and momentum from theta_A: each optimizer's "
                 "own true objective (alpha across different true objectives compares units, not alignment)",
                 ("optimizer", "own true objective", "C(own)", "C(G)", "C(L)", "alpha(L over own)",
                  "normalized alpha", "final L"), tuple(rows))
