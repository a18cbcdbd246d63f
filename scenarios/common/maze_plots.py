"""Pictures of mazes with what a system did in them (matplotlib, Agg backend: no display needed).

One figure per maze example: a row of mazes from the training distribution and a row
from the deployment distribution, each with the paths the trained copies took (one
colour per copy; identical paths overlap) or, for the self-replicator, the cells its
copies occupied at the end. Walls are black lines, green cells green, the exit a gold
square (hatched when the agent cannot see it), the entrance a blue square; a path ends
in a dot.
"""

from __future__ import annotations

from typing import Optional, Sequence

import attrs
import numpy as np

from agents.maze.grid import Maze

from scenarios.machinery.plots import _pyplot


@attrs.frozen(eq=False)
class MazePanel:
    """One maze to draw: the maze, a subtitle, and either ``paths`` (positions ``[S, T, 2]``,
    one row per copy) or ``occupied`` (``[n, n]`` bool, the replicator's cells)."""

    maze: Maze
    subtitle: str = ""
    paths: Optional[np.ndarray] = None
    occupied: Optional[np.ndarray] = None


def draw_maze(ax, panel: MazePanel, x0: float = 0.0, y0: float = 0.0) -> None:
    """Draw ``panel`` on the matplotlib axes ``ax`` with its top-left corner at (x0, y0): cell (r, c)
    is the unit square at x = x0 + c, y = y0 - r - 1; its subtitle centred above it. Cells, walls
    and paths go in as one collection each (a figure of eight mazes draws in a fraction of the time
    one artist a square or a path took)."""
    from matplotlib.collections import LineCollection, PatchCollection
    from matplotlib.patches import Rectangle

    m = panel.maze
    n = m.size
    cells, colours = [], []
    if panel.occupied is not None:
        for r, c in zip(*np.nonzero(np.asarray(panel.occupied))):
            cells.append(Rectangle((x0 + c, y0 - r - 1), 1, 1))
            colours.append("#c9b3e6")
    for r, c in m.green:
        cells.append(Rectangle((x0 + c + 0.1, y0 - r - 0.9), 0.8, 0.8))
        colours.append("#3cb043")
    sr, sc = m.entrance
    cells.append(Rectangle((x0 + sc + 0.1, y0 - sr - 0.9), 0.8, 0.8))
    colours.append("#4a7bd0")
    ax.add_collection(PatchCollection(cells, facecolors=colours, linewidths=0, zorder=1))
    er, ec = m.exit
    ax.add_patch(Rectangle((x0 + ec + 0.1, y0 - er - 0.9), 0.8, 0.8, facecolor="#f2c500" if m.exit_visible else "none",
                           edgecolor="#d4a000", hatch=None if m.exit_visible else "////", lw=1.5, zorder=1))
    walls = []
    for r in range(n):
        for c in range(n):
            top, bottom, left, right = y0 - r, y0 - r - 1, x0 + c, x0 + c + 1
            if not m.passages[r, c, 1]:
                walls.append(((left, top), (right, top)))
            if not m.passages[r, c, 2]:
                walls.append(((left, bottom), (right, bottom)))
            if not m.passages[r, c, 3]:
                walls.append(((left, bottom), (left, top)))
            if not m.passages[r, c, 4]:
                walls.append(((right, bottom), (right, top)))
    ax.add_collection(LineCollection(walls, colors="black", linewidths=1.2, capstyle="projecting", zorder=2))
    if panel.paths is not None and len(panel.paths):
        paths = np.asarray(panel.paths)
        tab10 = _pyplot().get_cmap("tab10")
        lines, ends, hues = [], [], []
        for k, p in enumerate(paths):
            off = 0.06 * (k - (len(paths) - 1) / 2) / max(1, len(paths))
            xy = np.column_stack([x0 + p[:, 1] + 0.5 + off, y0 - p[:, 0] - 0.5 + off])
            lines.append(xy)
            ends.append(xy[-1])
            hues.append(tab10(k % 10))
        ax.add_collection(LineCollection(lines, colors=hues, linewidths=1.6, alpha=0.75, zorder=3))
        ends = np.asarray(ends)
        ax.scatter(ends[:, 0], ends[:, 1], s=16, c=hues, zorder=4, linewidths=0)
    if panel.subtitle:
        ax.text(x0 + n / 2, y0 + 0.25, panel.subtitle, fontsize=8, ha="center", va="bottom")


def maze_key(occupied: bool = False) -> list:
    """Legend handles saying what the colours of :func:`draw_maze` mean (``occupied``: add the
    replicator's cells)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Patch(color="#4a7bd0", label="entrance"), Patch(facecolor="#f2c500", edgecolor="#d4a000", label="exit"),
               Patch(facecolor="none", edgecolor="#d4a000", hatch="////", label="exit, hidden from the agent"),
               Patch(color="#3cb043", label="green cell"),
               Line2D([], [], color="0.3", lw=1.6, marker="o", ms=4, markevery=[-1],
                      label="a copy's path (one colour per copy; dot: where it ended)")]
    if occupied:
        handles.append(Patch(color="#c9b3e6", label="cells its copies occupied at the end"))
    return handles


def plot_maze_rows(path, rows: Sequence[tuple], title: str = "", notes: Sequence[str] = ()) -> None:
    """Write a PNG with one row of mazes per ``(row label, [MazePanel, ...])`` in ``rows``, a key of
    the colours under them and ``notes`` (the claims with their verdicts, captions) under the key.

    Example:
        >>> import tempfile, os
        >>> from agents.maze.grid import MazeDistribution
        >>> from agents.maze.policies import ShortestPath
        >>> from agents.maze.rollout import rollout
        >>> mazes = MazeDistribution(size=4).sample(2, seed=0)
        >>> r = rollout(ShortestPath(), mazes)
        >>> panels = [MazePanel(m, "expert", paths=r.positions[j:j + 1]) for j, m in enumerate(mazes)]
        >>> with tempfile.TemporaryDirectory() as d:
        ...     plot_maze_rows(os.path.join(d, "m.png"), [("training", panels)], title="t", notes=["[holds] x"])
        ...     os.path.getsize(os.path.join(d, "m.png")) > 0
        True
    """
    import textwrap

    plt = _pyplot()
    rows = [(label, list(panels)) for label, panels in rows if panels]
    cols = max(len(p) for _, p in rows)
    width = max(2.7 * cols, 8.0)
    lines = [w for x in notes for w in textwrap.wrap(x, int(15 * width), subsequent_indent="    ")]
    occupied = any(pn.occupied is not None for _, panels in rows for pn in panels)
    footer = (0.7 if occupied else 0.45) + 0.14 * len(lines)  # inches: the key's rows and the notes
    # one axes for every maze (each maze on its own axes made the axes a third of the time), every maze at the
    # same scale (a larger deployment maze looks larger): columns as wide as the widest maze, each row as high
    # as its highest, with room above each for the subtitles; the figure as high as that needs
    n = max(pn.maze.size for _, panels in rows for pn in panels)
    step_x, gap = n + 0.6, 1.1 + 0.04 * n
    heights = [max(pn.maze.size for pn in panels) for _, panels in rows]
    x_span = (cols - 1) * step_x + n + 0.3
    y_span = sum(heights) + gap * len(rows) + 0.15
    left, right, top, bottom = 0.4, 0.1, 0.45 if title else 0.15, footer + 0.1  # inches
    height = top + bottom + y_span * (width - left - right) / x_span
    fig = plt.figure(figsize=(width, height))
    try:
        ax = fig.add_axes((left / width, bottom / height, 1 - (left + right) / width, 1 - (top + bottom) / height))
        y0 = 0.0
        for i, ((label, panels), h) in enumerate(zip(rows, heights)):
            y0 -= 0 if i == 0 else gap
            for j, panel in enumerate(panels):
                draw_maze(ax, panel, j * step_x, y0)
            ax.text(-0.4, y0 - h / 2, label, fontsize=10, rotation=90, ha="right", va="center")
            y0 -= h
        ax.set_xlim(-0.15, x_span - 0.15)
        ax.set_ylim(y0 - 0.15, gap)
        ax.set_aspect("equal")
        ax.set_axis_off()
        fig.legend(handles=maze_key(occupied), loc="lower center", ncol=3 if occupied else 5, fontsize=7,
                   frameon=False, bbox_to_anchor=(0.5, (0.14 * len(lines) + 0.02) / height))
        if lines:
            fig.text(0.01, 0.01, "\n".join(lines), ha="left", va="bottom", fontsize=7, family="monospace")
        if title:
            fig.suptitle(title, fontsize=10)
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
