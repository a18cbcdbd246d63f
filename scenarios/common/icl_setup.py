"""The in-context learner of ``icl-gradient-descent``: its parameters, its graph, one run of everything.

:func:`run_icl` trains three populations as **one** batched computation through the one
training loop (``agents.in_context.training``): ``copies`` models on clean tasks (the
judged mesa-optimizers; copy k seeded by ``children(named_seed(seed, "population"), K)[k]``),
the same ``copies`` seeds on tasks with ``m_train`` distractor pairs (paired starts and
inputs: the "distractors in training" placement) and ``control_copies`` controls on
tasks whose context labels are shuffled (the labels carry no pairing with their inputs).
The delegation graph holds the clean population:

    designer (query loss) -> base-optimizer (Adam on the attention weights; true objective G)
    designer (query loss) -> mesa-optimizer (the trained layers, applied k times; L_ctx)
    designer (query loss) -> gradient-descent-on-L_ctx (the reference, at damping * eta*)

the mesa-optimizer's leaf being ``Produced("base-optimizer", ...)`` (an edge of kind
``produces``): two time axes, training steps and layer applications. Everything else
(match, controls, shifts) is measured on the products and returned as :class:`IclOutcome`.
"""

from __future__ import annotations

import functools

import math
import time

import attrs
import numpy as np

from agents.in_context.attention import ENGINES, LinearSelfAttention
from agents.in_context.inner_run import STEP_UNIT, GradientDescentRun, InnerRun, evaluation_tasks
from agents.in_context.match import MatchRule, decide_match, measure_match
from agents.in_context.reference import eta_star
from agents.in_context.shifts import families, member_figures
from agents.in_context.tasks import TaskDistribution
from agents.in_context.training import OPTIMIZERS, InContextTraining
from agents.threads import torch_threads
from agents.torch_random import torch_generator
from hierarchy.errors import LeafError, ParameterError
from hierarchy.graph import DelegationGraph, OptimizerNode
from hierarchy.measure import measure
from hierarchy.objective import Objective
from hierarchy.product import Produced
from hierarchy.seeding import children, named_seed

from scenarios.common.maze_setup import ThresholdParams
from scenarios.machinery.progress import run_graph_with_progress
from scenarios.machinery.registry import RunOptions, check_fields, parameter

__all__ = ["IclParams", "IclOutcome", "run_icl", "TRUE_OBJECTIVES", "PAPER"]

TRUE_OBJECTIVES = {
    "G": "G = |grad L|^2, the squared gradient norm (the loop's default true objective)",
    "G1": "G1 = |grad L|_1",
    "G_adam": "G_adam = |m_hat / (sqrt(v_hat) + eps)|^2, Adam's own fixed-point quantity",
    "U": "U = |theta_{t+1} - theta_t|^2, the squared update size",
}

#: The paper's full setting (``--set paper=true``): 2048 tasks per step, 5000 steps.
PAPER = {"batch": 2048, "steps": 5000}


@attrs.frozen
class IclParams(ThresholdParams):
    """Parameters of ``icl-gradient-descent`` (``--set name=value``); the definitions' thresholds
    are those of :class:`~scenarios.common.maze_setup.ThresholdParams`."""

    d: int = parameter(10, "input dimension of the regression tasks")
    N: int = parameter(10, "context pairs per task")
    half_width: float = parameter(1.0, "inputs x ~ U(-a, a), a = half_width (the paper's code: 0.5)")
    layers: int = parameter(1, "linear self-attention layers (applications) in the trained model")
    shared: bool = parameter(False, "one weight set shared by all layers")
    copies: int = parameter(4, "independently seeded models trained per population (the replicates of every claim)")
    control_copies: int = parameter(2, "controls trained on shuffled context labels")
    batch: int = parameter(2048, "fresh tasks per copy and training step (the paper's 2048; at 256-1024 some seeds "
                                 "stay at a rank-one solution)")
    paper: bool = parameter(False, "the paper's full setting: 2048 tasks per step and 5000 steps (overrides batch, steps)")
    optimizer: str = parameter("adam", "base optimizer: adam (the paper's) or sgd (plain gradient descent)")
    lr: float = parameter(1e-3, "learning rate of the base optimizer")
    b1: float = parameter(0.9, "Adam's first-moment constant")
    b2: float = parameter(0.98, "Adam's second-moment constant")
    clip: float = parameter(1e-3, "global-norm gradient clip per copy (0: none)")
    dtype: str = parameter("float32", "training precision (evaluation is float64)")
    engine: str = parameter("auto", "the one-layer model's loss and gradient: auto (the C++ kernel where it builds, "
                                    "sums in float64), kernel or torch (the same to float rounding)")
    true_objective: str = parameter("G", "the base optimizer's true objective: G, G1, G_adam (Adam) or U")
    eval_tasks: int = parameter(4000, "held-out tasks of the match measurements")
    shift_tasks: int = parameter(1000, "evaluation tasks per distribution of the inner runs and shifts")
    line_search_tasks: int = parameter(20000, "tasks of the line search for eta*")
    damping: float = parameter(0.75, "damping lambda of the repeated application (and GD at lambda eta*)")
    inner_steps: int = parameter(50, "applications of the trained layer in the mesa-optimizer's run (the paper: 50)")
    shift_steps: int = parameter(20, "applications of the trained layer in the inner runs of the shift families")
    snapshot_every: int = parameter(100, "training steps between the match measurements over training")
    interpolation_points: int = parameter(11, "points of the loss along the interpolation to the constructed weights")
    scales: tuple = parameter((0.5, 0.75, 1.5, 2.0), "deployment input scales (the last is the deployment)")
    noises: tuple = parameter((0.25, 0.5, 1.0), "context label noise sigmas (the last is the deployment)")
    distractor_counts: tuple = parameter((1, 2, 3), "distractor pairs at deployment (the last is the deployment)")
    m_train: int = parameter(3, "distractor pairs in the training tasks of the 'in training' placement")
    match_loss: float = parameter(0.05, "rule: query loss at most this fraction above one GD step's")
    match_cosine: float = parameter(0.99, "rule: least mean cosine of the implied weights with the step's")
    match_prediction: float = parameter(0.1, "rule: largest relative RMS prediction difference")
    match_step: float = parameter(0.1, "rule: largest relative deviation of the effective step from eta*")
    inner_tolerance: float = parameter(0.05, "the mesa-optimizer's C(L_ctx) and alpha agree with GD's within this fraction")

    def __attrs_post_init__(self):
        check_fields(self, {"d": "count", "N": "count", "half_width": "positive", "layers": "count",
                            "copies": "count", "batch": "count", "lr": "positive", "eval_tasks": "count",
                            "shift_tasks": "count", "line_search_tasks": "count", "damping": "positive",
                            "inner_steps": "count", "shift_steps": "count", "interpolation_points": "count", "scales": "positives", "noises": "positives",
                            "inner_tolerance": "positive", "match_loss": "positive", "match_cosine": "positive",
                            "match_prediction": "positive", "match_step": "positive"})
        if self.optimizer not in OPTIMIZERS:
            raise ParameterError(f"optimizer={self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}",
                                 parameter="optimizer")
        if self.true_objective not in TRUE_OBJECTIVES:
            raise ParameterError(f"true_objective={self.true_objective!r}; choose one of {', '.join(TRUE_OBJECTIVES)}",
                                 parameter="true_objective")
        if self.true_objective == "G_adam" and self.optimizer != "adam":
            raise ParameterError("true_objective=G_adam needs optimizer=adam; choose G, G1 or U for sgd",
                                 parameter="true_objective")
        if self.dtype not in ("float32", "float64"):
            raise ParameterError(f"dtype={self.dtype!r}; choose float32 or float64", parameter="dtype")
        if self.engine not in ENGINES:
            raise ParameterError(f"engine={self.engine!r}; choose one of {', '.join(ENGINES)}", parameter="engine")
        for name in ("control_copies", "snapshot_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ParameterError(f"{name}={v!r}; give a whole number >= 0", parameter=name)
        if not (isinstance(self.clip, (int, float)) and math.isfinite(self.clip) and self.clip >= 0):
            raise ParameterError(f"clip={self.clip!r}; give a clip >= 0 (0: none)", parameter="clip")
        if not self.distractor_counts or any(not isinstance(m, int) or not 1 <= m <= self.N
                                             for m in self.distractor_counts):
            raise ParameterError(f"distractor_counts={self.distractor_counts!r}; give counts in 1..N={self.N}",
                                 parameter="distractor_counts")
        if isinstance(self.m_train, bool) or not isinstance(self.m_train, int) or not 1 <= self.m_train <= self.N:
            raise ParameterError(f"m_train={self.m_train!r}; give a count of distractor pairs in 1..N={self.N}",
                                 parameter="m_train")
        self.distribution()
        self.model()

    def distribution(self) -> TaskDistribution:
        """The clean training distribution."""
        return TaskDistribution(d=self.d, N=self.N, half_width=self.half_width)

    def model(self) -> LinearSelfAttention:
        """The trained model's shape."""
        return LinearSelfAttention(d=self.d, layers=self.layers, shared=self.shared)

    def rule(self) -> MatchRule:
        """The "is it an optimizer?" rule's thresholds."""
        return MatchRule(self.match_loss, self.match_cosine, self.match_prediction, self.match_step)

    def training_batch(self) -> int:
        """Tasks per step (the paper's 2048 with ``paper``)."""
        return PAPER["batch"] if self.paper else self.batch


@attrs.frozen(eq=False)
class IclOutcome:
    """Everything :func:`run_icl` measured (see the module docstring).

    ``groups``: name -> copy indices of the training population ("clean", "distractors",
    "control"); ``match``: name -> (MatchFigures, per-copy Claims) for "clean",
    "distractors", "control", "untrained"; ``shift``: family name -> (baseline
    MemberFigures, member figures tuple); ``over_training``: (steps, cosine [S, K], loss
    ratio [S, K]); ``seconds``: part -> wall seconds.
    """

    params: IclParams
    graph: DelegationGraph
    runs: dict
    measurements: object
    population: object
    groups: dict
    eta: float
    eta_distractors: float
    match: dict
    shift: dict
    families: tuple
    over_training: tuple
    seconds: dict
    steps: int


class TrainedPopulation:
    """The base optimizer's leaf: every population trained as one batched run; it reports the
    clean copies and hands on all the trained parameters as its product."""

    deterministic = True
    step_unit = "training step"

    def __init__(self, training: InContextTraining, clean, base_name: str):
        self.training, self.clean = training, list(clean)
        self.records = (base_name, "G", "G1")
        self.full = None

    def run(self, steps, seed=None, progress=None):
        full = self.training.run(steps, seed, progress)
        bad = [k for k in self.clean if not full.ok[k]]
        if len(bad) == len(self.clean):
            raise LeafError("every clean copy diverged during training; lower the learning rate (lr)")
        self.full = full
        return attrs.evolve(full.select(self.clean), product=full.product)


def _inner_run(model, clean, tasks, damping, steps, product) -> InnerRun:
    """The mesa-optimizer's leaf from the base optimizer's product: the trained clean copies applied to
    ``tasks`` (a module-level function, so that an outcome can be sent to another process)."""
    return InnerRun(model, product["params"][clean], tasks, damping, own_steps=steps)


def run_icl(options: RunOptions, p: IclParams, progress: bool = True) -> IclOutcome:
    """Train, build the graph, run it, and measure the match, the controls and the shifts.

    Parameters
    ----------
    options : RunOptions
        ``steps`` training steps (default 1000; ``paper``: 5000), ``seed``, ``estimator``.
    p : IclParams
    progress : bool

    Returns
    -------
    IclOutcome
    """
    seconds = {}
    t0 = time.perf_counter()
    steps = PAPER["steps"] if p.paper else int(options.steps if options.steps is not None else 1000)
    seed = int(options.seed)
    train = p.distribution()
    model = p.model()
    K, C = p.copies, p.control_copies
    pop_seeds = children(named_seed(seed, "population"), K)
    ctl_seeds = children(named_seed(seed, "control"), C)
    dist_d = attrs.evolve(train, distractors=p.m_train)
    dists = (train,) * K + (dist_d,) * K + (attrs.evolve(train, shuffled=True),) * C
    groups = {"clean": list(range(K)), "distractors": list(range(K, 2 * K)), "control": list(range(2 * K, 2 * K + C))}
    training = InContextTraining(model, dists, batch=p.training_batch(), optimizer=p.optimizer, lr=p.lr, b1=p.b1,
                                 b2=p.b2, clip=p.clip or None, copy_seeds=tuple(pop_seeds * 2 + ctl_seeds),
                                 snapshot_every=p.snapshot_every, dtype=p.dtype, base="query_loss", engine=p.engine)
    leaf = TrainedPopulation(training, groups["clean"], "query_loss")

    eta = eta_star(train, torch_generator(named_seed(seed, "line-search")), p.line_search_tasks)
    eta_d = eta_star(dist_d, torch_generator(named_seed(seed, "line-search-distractors")), p.line_search_tasks)
    inner_tasks = evaluation_tasks(train, p.shift_tasks, named_seed(seed, "inner-run"))
    T = p.true_objective
    obj_q = Objective("query_loss", "the designer's base objective: (1/2)(y_hat - w . x_q)^2, mean over tasks",
                      lower_bound=0.0)
    obj_T = Objective(T, TRUE_OBJECTIVES[T], lower_bound=0.0)
    obj_c = Objective("L_ctx", "the in-context loss (1/2N) sum_i (w_k . x_i - y_i)^2 at the implied weights w_k "
                               "(mesa-objective)", lower_bound=0.0)
    mesa = Produced("base-optimizer", build=functools.partial(_inner_run, model, groups["clean"], inner_tasks, p.damping,
                                                              p.inner_steps),
                    records=InnerRun.records, steps=p.inner_steps, step_unit=STEP_UNIT,
                    description="the trained layers, applied repeatedly with damping")
    nodes = [
        OptimizerNode("designer", obj_q, role="designer (human)", description="wants the query predicted: "
                      "chooses the attention model, the task distribution and the query loss"),
        OptimizerNode("base-optimizer", obj_T, leaf=leaf, role=f"base optimizer ({p.optimizer})",
                      description=f"{training.describe()}; {K} seeds"),
        OptimizerNode("mesa-optimizer", obj_c, leaf=mesa, role="learned in-context optimizer (mesa-optimizer)",
                      description=f"{p.inner_steps} damped applications (lambda {p.damping:g}) of each trained layer; "
                                  f"state: the implied weights w_k = d y_hat / d x_q"),
        OptimizerNode("gradient-descent-on-L_ctx", obj_c,
                      leaf=GradientDescentRun(inner_tasks, p.damping * eta, own_steps=p.inner_steps),
                      role="reference optimizer", description=f"explicit gradient descent on L_ctx from 0 at step "
                                                              f"lambda eta* = {p.damping * eta:.4g}"),
    ]
    graph = DelegationGraph(nodes, [("designer", "base-optimizer"), ("designer", "mesa-optimizer"),
                                    ("designer", "gradient-descent-on-L_ctx")])
    seconds["line search"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    runs = run_graph_with_progress(graph, steps, attrs.evolve(options, progress=progress and options.progress))
    if T not in runs["base-optimizer"].trajectory.values:  # G_adam is Adam's only (IclParams refuses it for sgd)
        raise ParameterError(f"true_objective={T!r} is not recorded by this run (records: "
                             f"{', '.join(sorted(runs['base-optimizer'].trajectory.values))}); choose one of those",
                             parameter="true_objective")
    seconds["training"] = time.perf_counter() - t1
    m = measure(graph, runs, options.estimator)

    with torch_threads(1):  # small batched tensors: one thread is fastest, and on a busy machine much faster
        return _measure(options, p, seed, graph, runs, m, leaf, groups, eta, eta_d, train, dist_d, model, steps,
                        seconds)


def _measure(options, p, seed, graph, runs, m, leaf, groups, eta, eta_d, train, dist_d, model, steps, seconds):
    """The match, the match over training and the shift families of the trained populations."""
    full = leaf.full
    product = full.product
    params, initial = product["params"], product["initial"]
    t2 = time.perf_counter()
    rule = p.rule()
    ev = evaluation_tasks(train, p.eval_tasks, named_seed(seed, "match"))
    ev_d = evaluation_tasks(dist_d, p.eval_tasks, named_seed(seed, "match-distractors"))
    match = {}
    for name, pp, tasks, e in (("clean", params[groups["clean"]], ev, eta),
                               ("distractors", params[groups["distractors"]], ev_d, eta_d),
                               ("control", params[groups["control"]], ev, eta),
                               ("untrained", initial[groups["clean"]], ev, eta)):
        if not len(pp):
            continue
        f = measure_match(model, pp, tasks, e, points=max(2, p.interpolation_points))
        match[name] = (f, tuple(decide_match(f, k, rule, f"{name} copy {k}") for k in range(f.K)))
    seconds["match"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    snaps, snap_steps = product["snapshots"], product["snapshot_steps"]
    small = evaluation_tasks(train, min(500, p.eval_tasks), named_seed(seed, "match-over-training"))
    cos, ratio = [], []
    for s in snaps:
        f = measure_match(model, s[groups["clean"]], small, eta, points=2)
        cos.append(f.cosine)
        ratio.append(f.loss_ratio)
    over = (snap_steps, np.asarray(cos), np.asarray(ratio))
    seconds["match over training"] = time.perf_counter() - t3

    t4 = time.perf_counter()
    fams = families(train, p.scales, p.noises, p.distractor_counts, p.m_train)
    shift = {}
    for i, fam in enumerate(fams):
        pp = params[groups[fam.group]]
        e_fixed = eta if fam.group == "clean" else eta_d
        fs = named_seed(seed, f"shift-{fam.name}")
        base = member_figures("training", model, pp, fam.training, p.shift_tasks, children(fs, 1 + len(fam.members))[0],
                              e_fixed, p.damping, p.shift_steps, options.estimator)
        members = tuple(member_figures(lab, model, pp, dist, p.shift_tasks, children(fs, 1 + len(fam.members))[1 + j],
                                       e_fixed, p.damping, p.shift_steps, options.estimator)
                        for j, (lab, dist) in enumerate(fam.members))
        shift[fam.name] = (base, members)
    seconds["shifts"] = time.perf_counter() - t4
    return IclOutcome(p, graph, runs, m, full, groups, eta, eta_d, match, shift, fams, over, seconds, steps)
