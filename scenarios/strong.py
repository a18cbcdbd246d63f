"""The strong-alignment table that ``--horizon N`` adds to any scenario's report."""

from __future__ import annotations


from hierarchy.figures import Spread
from hierarchy.report import Table
from hierarchy.transient import worst_from


def strong_alignment(runs: dict, objective: str, horizon: int, graph=None) -> Table:
    """For each chain and a few start steps s (0, T/4, T/2, 3T/4), the worst value of the base
    objective over the next ``horizon`` steps, median over copies."""
    rows = []
    for leaf, run in runs.items():
        obj = objective if objective in run.trajectory.values else graph.node(run.chain[0]).objective.name
        L = run.trajectory[obj]
        T = L.shape[1]
        for s in sorted({0, T // 4, T // 2, (3 * T) // 4}):
            w = worst_from(L, s, horizon)
            rows.append([" -> ".join(run.chain), s, min(s + horizon, T) - 1, str(Spread.of(w)),
                         f"at worst {Spread.of(w).median:.4g} on {obj} over steps {s}..{min(s + horizon, T) - 1}"])
    return Table(f"strong alignment: worst base-objective value over a horizon of {horizon} steps",
                 ("chain", "from step", "to step", "worst", "statement"), tuple(rows))
