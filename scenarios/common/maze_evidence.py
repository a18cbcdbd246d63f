"""The evidence the definitions of inner alignment read, measured on the maze examples' runs.

Per copy and distribution: base-objective performance against the shortest-path oracle,
capability (attaining the optimum of its own objective), the behavioral objective recovered
by max-ent IRL and its similarity to the base objective, the mesa-objective's own impact
alignment (an exact planner on the learned reward), and alpha on each distribution; then
every copy's :class:`~hierarchy.inner_alignment.Evidence` judged by every definition.
"""

from __future__ import annotations

import math
from typing import Optional

import attrs
import numpy as np

from agents.maze.env import default_budget
from agents.maze.episodes import PlannerEpisodes
from agents.maze.grid import MazeDistribution
from agents.maze.irl import designer_features, maxent_irl
from agents.maze.objectives import centered_cosine, mesa_optimum_attained, objective_similarity, weight_cosine
from agents.maze.policies import ShortestPath
from agents.maze.rollout import rollout
from hierarchy.figures import Spread
from hierarchy.graph import DelegationGraph
from hierarchy.inner_alignment import DEFINITIONS, Evidence, Thresholds, judge_all, population_verdict
from hierarchy.measure import Measurements
from hierarchy.seeding import named_seed

from scenarios.common.maze_plots import MazePanel
from scenarios.common.seed_002 import agrees_with_seed_002

__all__ = ["DistributionFigures", "ExampleOutcome", "median", "spread", "path_panels", "irl_figures",
           "planner_figures", "alphas", "evidence", "judge"]


@attrs.frozen(eq=False)
class DistributionFigures:
    """What one system population did on one distribution (per copy arrays ``[K]``)."""

    label: str
    leaf: str
    distribution: MazeDistribution
    success: np.ndarray
    reference: float
    attainment: np.ndarray
    outcomes: dict
    base_similarity: Optional[np.ndarray] = None
    optimizer_similarity: Optional[np.ndarray] = None
    similarity_reference: str = "optimizer"
    reference_similarity: Optional[float] = None
    mesa_similarity: Optional[np.ndarray] = None
    weight_cos: Optional[np.ndarray] = None
    irl_weights: Optional[np.ndarray] = None
    optimizer_weights: Optional[np.ndarray] = None
    panels: tuple = ()
    mesa_gap: Optional[np.ndarray] = None
    mesa_optimal: Optional[np.ndarray] = None

    @property
    def ratio(self) -> np.ndarray:
        return self.success / self.reference

    @property
    def similarity(self) -> Optional[np.ndarray]:
        """The similarity the evidence reads: to the base-objective optimizer's recovered objective
        (``similarity_reference = "optimizer"``) or to the base objective itself (``"base"``)."""
        return self.optimizer_similarity if self.similarity_reference == "optimizer" else self.base_similarity


@attrs.frozen(eq=False)
class ExampleOutcome:
    """Everything one maze example measured: the evidence (per copy and median), the verdicts,
    the graph and its chain runs, figures, tables and claims."""

    number: int
    system: str
    params: object
    thresholds: Thresholds
    evidence: Evidence
    copy_evidence: tuple
    verdicts: tuple
    copy_verdicts: tuple
    graph: DelegationGraph
    runs: dict
    measurements: Measurements
    figures: dict
    tables: tuple
    claims: tuple
    notes: tuple
    node_attributes: dict
    edge_attributes: dict
    panels: tuple
    choices: dict
    steps: int
    seconds: float = 0.0

    def copies_agreeing(self, definition: str) -> tuple:
        """(number of copies with the majority verdict, K) under ``definition``."""
        v = self.verdicts[list(DEFINITIONS).index(definition)]
        return v.count(v.majority), v.n

    def seed_agreement(self, definition: str) -> tuple:
        """(number of copies whose own verdict agrees with seed 002's, K), or None where the seed makes no claim."""
        i = list(DEFINITIONS).index(definition)
        got = [agrees_with_seed_002(self.number, cv[i]) for cv in self.copy_verdicts]
        return None if got[0] is None else (sum(got), len(got))


def median(x) -> float:
    """The median of the finite entries of ``x`` (NaN when none is)."""
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else math.nan


def spread(x) -> str:
    """``x`` over copies as a table cell: median, error, IQR (hierarchy.figures.Spread)."""
    return str(Spread.of(x))


def path_panels(mazes, positions, success, count: int = 4) -> tuple:
    """The first ``count`` mazes with every copy's path, for the example's PNG."""
    out = []
    for j in range(min(count, len(mazes))):
        s = np.asarray(success)[:, j]
        out.append(MazePanel(mazes[j], f"maze {j}: exit reached by {int(s.sum())}/{len(s)}",
                             paths=np.asarray(positions)[:, j]))
    return tuple(out)


def irl_figures(dep, mazes, expert_positions, p) -> dict:
    """Max-ent IRL of every copy and of the base-objective optimizer on the first ``irl_mazes`` mazes."""
    m = min(p.irl_mazes, len(mazes))
    sub = list(mazes[:m])
    T = dep.positions.shape[2]
    horizon = max(1, min(T - 1, sub[0].n_cells))
    res = maxent_irl(sub, dep.positions[:, :m], steps=p.irl_steps, tol=p.irl_tol, horizon=horizon)
    exp = maxent_irl(sub, expert_positions[:m], steps=p.irl_steps, tol=p.irl_tol, horizon=horizon)
    phi = np.stack([designer_features(x).reshape(x.n_cells, -1) for x in sub])
    maps = np.einsum("mnf,sf->smn", phi, res.weights)
    optimizer_map = np.einsum("mnf,f->mn", phi, exp.weights[0])
    return {"base_similarity": objective_similarity(res.weights, sub),
            "reference_similarity": float(objective_similarity(exp.weights, sub)[0]),
            "optimizer_similarity": centered_cosine(maps, optimizer_map[None]),
            "mesa_similarity": centered_cosine(maps, np.asarray(dep.reward)[:, :m]),
            "weight_cos": weight_cosine(res.weights), "irl_weights": res.weights, "optimizer_weights": exp.weights[0]}


def planner_figures(label: str, leaf_name: str, leaf: PlannerEpisodes, distribution, seed: int, p,
                    irl: bool = True) -> DistributionFigures:
    """What the planners deployed by ``leaf`` (node ``leaf_name``, already run by the graph with a
    budget of 2 x cells: its deployment is the leaf's, not a second one) did on ``distribution``."""
    mazes = leaf.mazes
    budget = default_budget(mazes[0])
    dep = leaf.deploy(budget, named_seed(seed, leaf_name))
    expert = rollout(ShortestPath(), mazes, seed=named_seed(seed, f"{leaf_name}-expert"), budget=budget)
    irl = irl_figures(dep, mazes, expert.positions, p) if irl else {}
    # the mesa-objective's own impact alignment: an exact planner on the learned reward, ample moves
    # (planned exactly, the leaf's own deployment already holds the optimal values: computed once)
    optimal = leaf.population.deploy(mazes, named_seed(seed, f"{leaf_name}-mesa-optimal"),
                                     budget=p.mesa_budget_factor * mazes[0].n_cells, values=dep.optimal)
    return DistributionFigures(label, leaf_name, distribution, dep.success.mean(1), float(expert.success.mean()),
                               mesa_optimum_attained(dep, p.optimum_tolerance, optimal.optimal).mean(1), dep.rates(),
                               panels=path_panels(mazes, dep.positions, dep.success),
                               mesa_gap=np.median(dep.mesa_return - dep.oracle_mesa_return, axis=1),
                               similarity_reference=p.similarity_reference, mesa_optimal=optimal.success.mean(1),
                               **irl)


def alphas(m: Measurements, designer: str, leaf: str) -> np.ndarray:
    """alpha (Definition 2) of edge designer -> ``leaf`` on that chain, per copy."""
    return np.asarray(m.alignment(designer, leaf).alignment.per_copy, dtype=np.float64)


def evidence(system, is_mesa, tr: DistributionFigures, dp: DistributionFigures, alpha_train, variations,
              pick) -> Evidence:
    """Evidence from per-copy arrays reduced by ``pick`` (an index, or the median). An undefined
    alpha stays NaN (counted by the alpha-robust rule, never dropped)."""
    sim = tr.similarity is not None and dp.similarity is not None
    opt = tr.mesa_optimal is not None and dp.mesa_optimal is not None
    return Evidence(system, is_mesa, pick(tr.success), tr.reference, pick(dp.success), dp.reference,
                    pick(dp.attainment),
                    similarity_train=pick(tr.similarity) if sim else None,
                    similarity_deploy=pick(dp.similarity) if sim else None,
                    mesa_optimal_train=pick(tr.mesa_optimal) if opt else None,
                    mesa_optimal_deploy=pick(dp.mesa_optimal) if opt else None,
                    alpha=pick(alpha_train), alpha_variations=tuple(pick(x) for x in variations))


def judge(system, is_mesa, tr, dp, alpha_train, variations, th, K):
    """The median evidence (a description), each copy's evidence and verdicts, and the example's
    verdicts decided copy by copy (hierarchy.inner_alignment.population_verdict)."""
    typical = evidence(system, is_mesa, tr, dp, alpha_train, variations, median)
    copies = tuple(evidence(f"{system} copy {k}", is_mesa, tr, dp, alpha_train, variations,
                             lambda x, k=k: float(np.asarray(x, dtype=np.float64)[k])) for k in range(K))
    copy_verdicts = tuple(judge_all(e, th) for e in copies)
    verdicts = tuple(population_verdict([cv[i] for cv in copy_verdicts]) for i in range(len(DEFINITIONS)))
    return typical, copies, verdicts, copy_verdicts
