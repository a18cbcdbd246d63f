"""Strong alignment for any scenario: what ``--horizon N`` adds to a report and its plots.

For every chain of the result's graph, the chain's root objective (the base objective
of the top of the hierarchy, evaluated on the leaf's states) is read from the result's
arrays (``<leaf>/<objective>``); the table states, from a few start steps s, "at worst W on
the base objective over the next N steps" (hierarchy.transient), and the plot draws the
objective with its worst-over-horizon envelope W_N(s) dashed.
"""

from __future__ import annotations

import attrs
import numpy as np

from hierarchy.errors import ParameterError
from hierarchy.figures import Spread
from hierarchy.report import Table
from hierarchy.transient import worst_from, worst_over_horizon


def _root_series(graph, arrays) -> dict:
    """{chain label: (objective name, values [K, T])} for every chain whose root objective was kept."""
    out = {}
    for chain in graph.chains():
        obj = graph.node(chain[0]).objective.name
        key = f"{chain[-1]}/{obj}"
        if key in arrays and np.ndim(arrays[key]) == 2:
            out[" -> ".join(chain)] = (obj, np.asarray(arrays[key], dtype=np.float64))
    return out


def strong_alignment_table(graph, arrays, horizon: int) -> Table:
    """Per chain and start step s in {0, T/4, T/2, 3T/4}: the worst root-objective value over
    steps s .. s + N - 1 (median and IQR over copies)."""
    check_horizon(horizon)
    rows, short = [], []
    for label, (obj, L) in _root_series(graph, arrays).items():
        T = L.shape[1]
        if T < horizon:
            short.append(f"{label} ({T} values)")
        for s in sorted({0, T // 4, T // 2, (3 * T) // 4}):
            end = min(s + horizon, T) - 1
            w = Spread.of(worst_from(L, s, horizon))
            rows.append([label, obj, s, end, str(w), f"at worst {w.median:.4g} on {obj} over steps {s}..{end}"])
    title = f"strong alignment: worst base-objective value over a horizon of {horizon} steps"
    if short:  # never a silent clip: the title says where the horizon ran past a run's end
        title += f" (cut at the run's end, as 'to step' shows, on the chains shorter than that: {', '.join(short)})"
    else:
        title += " (cut at the run's end from the later start steps, as 'to step' shows)" if rows and any(
            r[3] - r[2] + 1 < horizon for r in rows) else ""
    return Table(title, ("chain", "base objective", "from step", "to step", "worst", "statement"), tuple(rows))


def check_horizon(horizon) -> int:
    """``horizon`` if it is a positive integer number of steps; a ParameterError naming it otherwise.

    Examples
    --------
    >>> check_horizon(0)
    Traceback (most recent call last):
    ...
    hierarchy.errors.ParameterError: horizon=0 must be a positive number of steps
    """
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ParameterError(f"horizon={horizon!r} must be a positive number of steps", parameter="horizon")
    return int(horizon)


def strong_alignment_plot(graph, arrays, horizon: int):
    """A function(path) drawing each chain's root objective (median, IQR band) and, dashed, the
    median over copies of its worst value over the next ``horizon`` steps."""
    from scenarios.machinery.plots import plot_objectives

    series, envelopes, objectives = {}, {}, []
    for label, (obj, L) in _root_series(graph, arrays).items():
        series[label] = {obj: L}
        envelopes[label] = {obj: np.nanmedian(worst_over_horizon(L, min(horizon, L.shape[1])), axis=0)}
        objectives.append(obj)
    objectives = list(dict.fromkeys(objectives))
    return lambda path: plot_objectives(path, series, objectives, envelopes=envelopes, log=(),
                                        title=f"strong alignment: worst over the next {horizon} steps")


def with_strong_alignment(result, horizon: int):
    """``result`` with the strong-alignment table added to its report and ``strong_alignment.png`` to its plots."""
    table = strong_alignment_table(result.graph, result.arrays, horizon)
    if not table.rows:
        return result
    report = attrs.evolve(result.report, tables=tuple(result.report.tables) + (table,),
                          choices={**result.report.choices, "strong-alignment horizon": horizon})
    plots = {**result.plots, "strong_alignment.png": strong_alignment_plot(result.graph, result.arrays, horizon)}
    return attrs.evolve(result, report=report, plots=plots)
