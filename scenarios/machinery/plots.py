"""PNG plots, drawn with matplotlib's Agg backend (no display needed).

Each function takes the data and a path and writes one PNG; scenarios hand them to the
output writer as ``{file name: lambda path: ...}`` so drawing stays at the edge.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_objectives(path, series: Mapping[str, Mapping[str, np.ndarray]], objectives: Sequence[str],
                    title: str = "", log: Sequence[str] = ("G", "G1"), reference: Optional[Mapping[str, float]] = None,
                    envelopes: Optional[Mapping[str, Mapping[str, np.ndarray]]] = None) -> None:
    """One panel per objective: each optimizer's values (median over copies, band = interquartile range)
    against the step. ``reference`` draws a horizontal line per objective (e.g. the optimum of L);
    ``envelopes`` draws a dashed worst-case curve per optimizer (strong alignment)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(objectives), figsize=(5.2 * len(objectives), 4.0), squeeze=False)
    for ax, obj in zip(axes[0], objectives):
        for name, values in series.items():
            if obj not in values:
                continue
            v = np.atleast_2d(np.asarray(values[obj], dtype=float))
            t = np.arange(v.shape[1])
            med = np.nanmedian(v, axis=0)
            (line,) = ax.plot(t, med, label=name, lw=1.2)
            if v.shape[0] > 1:
                q25, q75 = np.nanpercentile(v, [25, 75], axis=0)
                ax.fill_between(t, q25, q75, color=line.get_color(), alpha=0.2, lw=0)
            if envelopes and name in envelopes and obj in envelopes[name]:
                env = np.asarray(envelopes[name][obj], dtype=float)
                ax.plot(np.arange(env.shape[-1]), env, ls="--", lw=0.9, color=line.get_color(),
                        label=f"{name}: worst over horizon")
        if reference and obj in reference:
            ax.axhline(reference[obj], color="k", ls=":", lw=1, label="optimum")
        if obj in log:
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel(obj)
        ax.set_title(obj)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
