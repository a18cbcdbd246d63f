"""PNG plots, drawn with matplotlib's Agg backend (no display needed).

Each function takes the data and a path and writes one PNG; scenarios hand them to the
output writer as ``{file name: lambda path: ...}`` so drawing stays at the edge.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import warnings

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def finite_values(*arrays) -> np.ndarray:
    """All finite numbers among ``arrays``, flattened (empty when there are none)."""
    parts = [np.asarray(a, dtype=float).reshape(-1) for a in arrays if a is not None]
    v = np.concatenate(parts) if parts else np.zeros(0)
    return v[np.isfinite(v)]


def mark_empty(ax, what: str = "no finite values") -> None:
    """Say on an empty panel why it is empty (every copy diverged, or nothing was defined)."""
    ax.text(0.5, 0.5, what, transform=ax.transAxes, ha="center", va="center", fontsize=10, color="0.4")


def log_scale_if_positive(ax, values, axis: str = "y", **kw) -> bool:
    """A log axis where every finite plotted value is positive and there is at least one;
    a linear one otherwise (a log axis of values <= 0 cannot be drawn). ``values``: an array or
    a list of arrays (of any shapes). Returns whether it is log."""
    v = finite_values(*values) if isinstance(values, (list, tuple)) else finite_values(values)
    ok = v.size > 0 and bool(np.all(v > 0))
    if ok:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log", **kw)
    return ok


def save_drawing(plt, fig, path, draw, title: str = "", dpi: int = 110) -> None:
    """Draw with ``draw()``, title and save ``fig`` to ``path``; the figure is closed whatever happens."""
    try:
        draw()
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(path, dpi=dpi)
    finally:
        plt.close(fig)


def plot_objectives(path, series: Mapping[str, Mapping[str, np.ndarray]], objectives: Sequence[str],
                    title: str = "", log: Sequence[str] = ("G", "G1"), reference: Optional[Mapping[str, float]] = None,
                    envelopes: Optional[Mapping[str, Mapping[str, np.ndarray]]] = None) -> None:
    """One panel per objective: each optimizer's values (median over copies, band = interquartile range)
    against the step. ``reference`` draws a horizontal line per objective (e.g. the optimum of L);
    ``envelopes`` draws a dashed worst-case curve per optimizer (strong alignment)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(objectives), figsize=(5.2 * len(objectives), 4.0), squeeze=False)
    save_drawing(plt, fig, path, lambda: _draw_objectives(axes[0], series, objectives, log, reference, envelopes),
                 title)


def _draw_objectives(axes, series, objectives, log, reference, envelopes) -> None:
    for ax, obj in zip(axes, objectives):
        shown = [np.asarray(values[obj], dtype=float) for values in series.values() if obj in values]
        if finite_values(*shown).size == 0:
            mark_empty(ax)
            ax.set_title(obj)
            continue
        for name, values in series.items():
            if obj not in values:
                continue
            v = np.atleast_2d(np.asarray(values[obj], dtype=float))
            if not np.isfinite(v).any():
                continue
            t = np.arange(v.shape[1])
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                med = np.nanmedian(v, axis=0)
            (line,) = ax.plot(t, med, label=name, lw=1.2)
            if v.shape[0] > 1:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    q25, q75 = np.nanpercentile(v, [25, 75], axis=0)
                ax.fill_between(t, q25, q75, color=line.get_color(), alpha=0.2, lw=0)
            if envelopes and name in envelopes and obj in envelopes[name]:
                env = np.asarray(envelopes[name][obj], dtype=float)
                ax.plot(np.arange(env.shape[-1]), env, ls="--", lw=0.9, color=line.get_color(),
                        label=f"{name}: worst over horizon")
        if reference and obj in reference:
            ax.axhline(reference[obj], color="k", ls=":", lw=1, label="optimum")
        if obj in log:
            log_scale_if_positive(ax, shown)
        ax.set_xlabel("step")
        ax.set_ylabel(obj)
        ax.set_title(obj)
        ax.legend(fontsize=8)
