"""PNG plots, drawn with matplotlib's Agg backend (no display needed).

Each function takes the data and a path and writes one PNG; scenarios hand them to the
output writer as ``{file name: lambda path: ...}`` so drawing stays at the edge.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

import warnings


import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def drawn_in_advance(draw: Callable) -> Callable:
    """Run the plot function ``draw`` (``path -> None``) now, into memory, and return a plot function that
    writes those bytes: for pictures that can be drawn while other work runs (``compare-definitions`` draws
    the maze examples' pictures while the in-context learner's process runs on). What ``draw`` raises is
    raised again by the returned function, so the writer reports it as any plot that could not be drawn.

    Parameters
    ----------
    draw : callable
        ``draw(target)``: writes one PNG to ``target`` (a path or a binary file object, as matplotlib's savefig).

    Returns
    -------
    callable
        ``path -> None``.

    Examples
    --------
    >>> import tempfile, os
    >>> w = drawn_in_advance(lambda f: f.write(b"png"))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     w(os.path.join(d, "x.png")); open(os.path.join(d, "x.png"), "rb").read()
    b'png'
    """
    buffer = io.BytesIO()
    try:
        draw(buffer)
    except Exception as exc:
        error = exc

        def fail(path):
            raise error
        return fail
    data = buffer.getvalue()

    def write(path) -> None:
        Path(path).write_bytes(data)
    return write


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


def spans_decades(values, decades: float = 2.0) -> bool:
    """Whether the finite values are all positive and the largest is at least ``10 ** decades`` times
    the smallest (a log axis then shows what a linear one flattens).

    Examples
    --------
    >>> spans_decades([[1.0, 0.5, 1e-3]]), spans_decades([[1.0, 0.5]]), spans_decades([[1.0, -1e-3]])
    (True, False, False)
    """
    v = finite_values(*values) if isinstance(values, (list, tuple)) else finite_values(values)
    return v.size > 0 and bool(np.all(v > 0)) and float(v.max()) >= 10 ** decades * float(v.min())


def running_alignment(base, mesa, tail: float) -> np.ndarray:
    """The limit estimator's alignment on every prefix of a run: alpha(t) for t = 0 .. T-1 (Definition 2).

    alpha(t) = (Lb(0) - mean of Lb over the last n(t) values of Lb(0..t)) /
    (Lm(0) - the same for Lm), with n(t) = tail_length(t + 1, tail): exactly what
    :func:`hierarchy.alignment.alignment` gives on the prefix ``[:, :t + 1]`` with
    ``Estimator("limit", tail)`` (the estimator's value; its error is not computed), in one
    O(K T) pass of cumulative sums instead of T calls. NaN at t = 0 and where the mesa
    capability is zero.

    Parameters
    ----------
    base, mesa : array-like [K, T]
        Base objective and mesa-objective of the same run.
    tail : float
        The estimator's tail fraction.

    Returns
    -------
    numpy.ndarray [K, T]

    Examples
    --------
    >>> t = np.arange(5.0)
    >>> running_alignment([3 * 0.5 ** t], [0.5 ** t], 0.25)[0, 1:].round(6).tolist()
    [3.0, 3.0, 3.0, 3.0]
    """
    from hierarchy.capability import tail_length

    b, m = np.atleast_2d(np.asarray(base, dtype=float)), np.atleast_2d(np.asarray(mesa, dtype=float))
    T = b.shape[-1]
    n = np.array([tail_length(t + 1, tail) for t in range(T)])
    end = np.arange(1, T + 1)

    def prefix_capability(v):
        c = np.concatenate([np.zeros((v.shape[0], 1)), np.cumsum(v, axis=1)], axis=1)
        return v[:, :1] - (c[:, end] - c[:, end - n]) / n

    with np.errstate(divide="ignore", invalid="ignore"):
        cb, cm = prefix_capability(b), prefix_capability(m)
        out = np.where(cm != 0, cb / np.where(cm != 0, cm, 1.0), np.nan)
    out[:, 0] = np.nan
    return out


def plot_panels(path, panels: Sequence, title: str = "", notes: Sequence[str] = (), columns: int = 3) -> None:
    """Panels in a grid of at most ``columns`` per row, each drawn by ``panel(ax)``, with ``notes``
    (captions, the claims and their verdicts) as a block of text under them."""
    import textwrap

    plt = _pyplot()
    n = max(len(panels), 1)
    cols = min(columns, n)
    rows = -(-n // cols)
    lines = [w for x in notes for w in textwrap.wrap(x, 80 * cols, subsequent_indent="    ")]
    height = 4.4 * rows + 0.15 * len(lines) + (0.3 if lines else 0)
    fig, axes = plt.subplots(rows, cols, figsize=(5.6 * cols, height), squeeze=False)
    try:
        for ax, panel in zip(axes.flat, panels):
            panel(ax)
        for ax in list(axes.flat)[len(panels):]:
            ax.set_visible(False)
        if lines:
            fig.text(0.01, 0.01, "\n".join(lines), ha="left", va="bottom", fontsize=8, family="monospace")
        if title:
            fig.suptitle(title)
        fig.tight_layout(rect=(0, (0.15 * len(lines) + 0.3) / height if lines else 0, 1, 1))
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)


def plot_objectives(path, series: Mapping[str, Mapping[str, np.ndarray]], objectives: Sequence[str],
                    title: str = "", log: Sequence[str] = ("G", "G1"), reference: Optional[Mapping[str, float]] = None,
                    envelopes: Optional[Mapping[str, Mapping[str, np.ndarray]]] = None,
                    descriptions: Optional[Mapping[str, str]] = None, tail: Optional[float] = None,
                    capabilities: Optional[Mapping[str, Mapping[str, float]]] = None,
                    extra_panels: Sequence = (), notes: Sequence[str] = ()) -> None:
    """One panel per objective: each optimizer's values (median over copies, band = interquartile
    range over copies, labelled) against the step.

    Each panel is titled with the objective's meaning (``descriptions``); ``tail`` shades the
    window the limit estimator averages over (the last ``tail`` fraction); an objective whose
    values are positive and span two decades or more, or that is named in ``log``, gets a log
    axis. ``capabilities`` ({optimizer: {objective: C}}, Definition 1's C = X(0) - tail mean)
    draws each optimizer's tail mean X(0) - C as a dashed level over the tail window and lists
    the Cs in the panel, so that "ends lower" is not read as "more capable". ``reference``
    draws a horizontal line per objective (e.g. the optimum of L); ``envelopes`` a dashed
    worst-case curve per optimizer (strong alignment); ``extra_panels`` more panels
    (functions of an axis); ``notes`` lines of text under the figure."""
    panels = [lambda ax, o=o: _draw_objective(ax, series, o, log, reference, envelopes, descriptions, tail, capabilities)
              for o in objectives]
    plot_panels(path, panels + list(extra_panels), title, notes)


def panel_title(name: str, description: Optional[str], width: int = 48) -> str:
    """``name: description`` wrapped to two lines at most (the name alone without a description)."""
    import textwrap

    if not description or description == name:
        return name
    lines = textwrap.wrap(f"{name}: {description}", width)
    return "\n".join(lines[:2]) + (" ..." if len(lines) > 2 else "")


def nan_quantiles(v, qs: Sequence[float]) -> np.ndarray:
    """Quantiles over the first axis ignoring NaN, for every column at once: ``[len(qs), ...]``.

    The rule of ``numpy.nanpercentile(v, 100 * qs, axis=0)`` (its default "linear" method):
    with x_0 <= ... <= x_{n-1} the n non-NaN values of a column, the q-quantile is
    x_j + (h - j) (x_{j+1} - x_j) at h = q (n - 1), j = floor(h); NaN for a column with no
    value. numpy computes it one column at a time (``apply_along_axis``), about 60 us a column;
    this sorts the whole array once (NaN sorts last), so a [K, T] band of 10^4 steps costs one sort.

    Parameters
    ----------
    v : array_like
        [n, ...] values (NaN: missing).
    qs : sequence of float
        Quantiles in [0, 1].

    Returns
    -------
    numpy.ndarray
        [len(qs), ...] float64.

    Examples
    --------
    >>> nan_quantiles(np.array([[1.0, np.nan], [3.0, 2.0], [np.nan, 4.0]]), [0.5, 0.25]).tolist()
    [[2.0, 3.0], [1.5, 2.5]]
    """
    x = np.sort(np.asarray(v, dtype=np.float64), axis=0)
    n = np.sum(~np.isnan(x), axis=0)
    out = np.full((len(qs),) + x.shape[1:], np.nan)
    has = n > 0
    for i, q in enumerate(qs):
        h = q * (n - 1)
        j = np.floor(h).astype(np.int64)
        j1 = np.minimum(j + 1, np.maximum(n - 1, 0))
        j = np.clip(j, 0, None)
        a = np.take_along_axis(x, j[None], axis=0)[0]
        b = np.take_along_axis(x, j1[None], axis=0)[0]
        t = h - j
        with np.errstate(invalid="ignore"):
            d = b - a
            val = np.where(t >= 0.5, b - d * (1.0 - t), a + d * t)  # numpy's own interpolation
        out[i] = np.where(has, val, np.nan)
    return out


#: Points a drawn curve keeps at most (:func:`thin`): a panel is about 600 pixels wide.
DRAWN_POINTS = 1200


def thin(t, *curves, points: int = DRAWN_POINTS, lower: int = -1):
    """Curves of more than ``points`` values cut to about ``points`` for drawing, extremes kept.

    The steps are cut into ``points // 2`` bins of equal length; each bin keeps the step of
    its smallest and of its largest value (NaN ignored; in step order), so no spike or dip
    is lost at any resolution the panel can show. Drawing and placing a legend
    (``loc="best"`` looks at every vertex) cost in proportion to the vertices: a 4001-step
    run drawn whole took twice as long. With ``lower`` = i, curve i keeps each bin's
    smallest value at both of its steps (the lower edge of a band) and the others their
    largest, so a band drawn thinned contains the whole band.

    Parameters
    ----------
    t : array_like
        [T] steps.
    *curves : array_like
        [T] values each.
    points : int
        The most points kept.
    lower : int
        The index of a band's lower edge among ``curves`` (-1: none).

    Returns
    -------
    tuple
        (t, *curves), thinned alike (unchanged when T <= points).

    Examples
    --------
    >>> t, y = thin(np.arange(10), np.array([0, 5, 1, 1, 1, 1, 1, -3, 1, 1.0]), points=4)
    >>> t.tolist(), y.tolist()
    ([0, 1, 5, 7], [0.0, 5.0, 1.0, -3.0])
    """
    t = np.asarray(t)
    curves = [np.asarray(c, dtype=float) for c in curves]
    T = t.shape[0]
    if T <= points or not curves:
        return (t, *curves)
    width = -(-T // max(1, points // 2))  # steps per bin (the last bin may be shorter)
    bins = -(-T // width)

    def binned(c, fill):
        pad = np.full(bins * width, fill)
        pad[:T] = np.where(np.isfinite(c), c, fill)
        return pad.reshape(bins, width)

    start = np.arange(bins) * width
    idx = np.unique(np.concatenate([start + binned(curves[0], np.inf).argmin(1),
                                    start + binned(curves[0], -np.inf).argmax(1)]))
    idx = idx[idx < T]
    if len(curves) == 1:
        return t[idx], curves[0][idx]
    out = []  # bands: each bin's extreme of each edge, at the kept steps of that bin
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a bin with no finite value stays NaN
        for i, c in enumerate(curves):
            ext = np.nanmin(binned(c, np.nan), 1) if i == lower else np.nanmax(binned(c, np.nan), 1)
            out.append(ext[idx // width])
    return (t[idx], *out)


def _median_band(v):
    """The median and the 25-75% band over copies (axis 0), NaN ignored."""
    q = nan_quantiles(v, [0.5, 0.25, 0.75])
    return q[0], (q[1:] if np.shape(v)[0] > 1 else None)


def _draw_objective(ax, series, obj, log, reference, envelopes, descriptions, tail, capabilities) -> None:
    from matplotlib.patches import Patch

    ax.set_title(panel_title(obj, (descriptions or {}).get(obj)), fontsize=9)
    shown = [np.asarray(values[obj], dtype=float) for values in series.values() if obj in values]
    if finite_values(*shown).size == 0:
        mark_empty(ax)
        return
    handles = []
    if tail is not None:  # one window per run length (runs on their own time axes may differ)
        from hierarchy.capability import tail_length

        for j, T_run in enumerate(sorted({np.atleast_2d(v).shape[-1] for v in shown})):
            n_run = tail_length(T_run, tail)
            span = ax.axvspan(T_run - n_run, T_run - 1, color="0.88", alpha=0.8, lw=0, zorder=0,
                              label=f"tail window: the estimator's mean (last {tail:g} of each run)")
            if j == 0:
                handles.append(span)
    banded = False
    caps = []
    for i, (name, values) in enumerate(series.items()):  # colour by position in series: the same in every panel
        if obj not in values:
            continue
        v = np.atleast_2d(np.asarray(values[obj], dtype=float))
        if not np.isfinite(v).any():
            continue
        t = np.arange(v.shape[1])
        med, q = _median_band(v)
        c = (capabilities or {}).get(name, {}).get(obj)
        label = f"{name} (median over {v.shape[0]} copies)" if v.shape[0] > 1 else name
        if c is not None and np.isfinite(c) and tail is not None:
            label += f"; C({obj}) = {c:.4g}"
        (line,) = ax.plot(*thin(t, med), label=label, lw=1.2, color=f"C{i % 10}")
        handles.append(line)
        if q is not None:
            ax.fill_between(*thin(t, q[0], q[1], lower=0), color=line.get_color(), alpha=0.2, lw=0)
            banded = True
        if c is not None and np.isfinite(c) and tail is not None:
            x0 = float(med[0])
            T, n = v.shape[1], tail_length(v.shape[1], tail)
            ax.hlines(x0 - c, T - n, T - 1, colors=line.get_color(), linestyles="--", lw=1.6)
            ax.plot([0], [x0], marker="o", color=line.get_color(), ms=4)
            caps.append(name)
        if envelopes and name in envelopes and obj in envelopes[name]:
            env = np.asarray(envelopes[name][obj], dtype=float)
            (e,) = ax.plot(np.arange(env.shape[-1]), env, ls="--", lw=0.9, color=line.get_color(),
                           label=f"{name}: worst over horizon")
            handles.append(e)
    if banded:
        handles.append(Patch(color="0.5", alpha=0.3, label="band: IQR over copies (25-75%)"))
    if reference and obj in reference:
        handles.append(ax.axhline(reference[obj], color="k", ls=":", lw=1, label="optimum"))
    if caps:
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color="0.3", ls="--", lw=1.6,
                              label="dashed: tail mean X(0) - C(X); dot: X(0) (C is the drop, not the end)"))
    if obj in log or spans_decades(shown):
        log_scale_if_positive(ax, shown)
    ax.set_xlabel("step")
    ax.set_ylabel(obj)
    ax.legend(handles=handles, fontsize=7, loc="best", framealpha=0.7)


def plot_relative_changes(path, members: Sequence[str], changes: Mapping[str, Sequence[float]],
                          curves: Mapping[str, np.ndarray], tolerance: float, title: str = "",
                          curve_label: str = "base objective", baseline: str = "A",
                          dashed: Sequence[str] = (), floor: float = 1e-6) -> None:
    """A perturbation family at a glance (Definitions 3 and 4). Left: each figure's relative change
    |x' - x| / |x| per member (median over copies, log scale, values below ``floor`` drawn at it),
    with the tolerance line. Right: ``curves`` ({name: values [K, T]}) against the step, median over
    copies; ``baseline`` drawn thick and black, the names in ``dashed`` dashed (a changed objective).

    Parameters
    ----------
    members : sequence of str
        The perturbations, one group of bars each.
    changes : mapping
        {figure label: one relative change per member} (NaN: undefined, no bar).
    curves : mapping
        {trial name: its objective's values [K, T]}.
    """
    plt = _pyplot()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(14, 5.2), gridspec_kw={"width_ratios": [1.6, 1]})

    def draw():
        x = np.arange(len(members))
        w = 0.8 / max(len(changes), 1)
        for j, (lab, vals) in enumerate(changes.items()):
            vals = np.asarray(vals, dtype=float)
            shown = np.where(np.isfinite(vals), np.maximum(vals, floor), np.nan)
            ax.bar(x + (j - (len(changes) - 1) / 2) * w, shown, w, label=lab)
        ax.axhline(tolerance, color="k", ls="--", lw=1, label=f"tolerance {tolerance:g}")
        ax.set_yscale("log")
        ax.set_xticks(x)
        ax.set_xticklabels(list(members), rotation=45, ha="right", fontsize=8)
        ax.set_ylabel("relative change |x' - x| / |x| (median over copies)")
        ax.set_title(f"relative change against {baseline} (bars below {floor:g} drawn at it)", fontsize=9)
        ax.legend(fontsize=8)
        colours = plt.get_cmap("tab20")
        for i, (name, v) in enumerate(curves.items()):
            med, _ = _median_band(np.atleast_2d(np.asarray(v, dtype=float)))
            ax2.plot(np.arange(med.size), med, lw=2.2 if name == baseline else 0.9,
                     color="k" if name == baseline else colours(i % 20), label=name,
                     ls="--" if name in dashed else "-")
        if spans_decades([np.asarray(v, dtype=float) for v in curves.values()]):
            log_scale_if_positive(ax2, [np.asarray(v, dtype=float) for v in curves.values()])
        ax2.set_xlabel("step")
        ax2.set_ylabel(f"{curve_label} (median over copies)")
        ax2.set_title("every trial" + (" (dashed: changed objective)" if dashed else ""), fontsize=9)
        ax2.legend(fontsize=6, ncol=2)

    save_drawing(plt, fig, path, draw, title)
