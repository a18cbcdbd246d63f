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


def draw_maze(ax, panel: MazePanel) -> None:
    """Draw ``panel`` on the matplotlib axes ``ax`` (cell (r, c) is the unit square at x = c, y = -r)."""
    m = panel.maze
    n = m.size
    from matplotlib.patches import Rectangle

    if panel.occupied is not None:
        for r, c in zip(*np.nonzero(np.asarray(panel.occupied))):
            ax.add_patch(Rectangle((c, -r - 1), 1, 1, color="#c9b3e6", lw=0))
    for r, c in m.green:
        ax.add_patch(Rectangle((c + 0.1, -r - 0.9), 0.8, 0.8, color="#3cb043", lw=0))
    er, ec = m.exit
    ax.add_patch(Rectangle((ec + 0.1, -er - 0.9), 0.8, 0.8, facecolor="#f2c500" if m.exit_visible else "none",
                           edgecolor="#d4a000", hatch=None if m.exit_visible else "////", lw=1.5))
    sr, sc = m.entrance
    ax.add_patch(Rectangle((sc + 0.1, -sr - 0.9), 0.8, 0.8, color="#4a7bd0", lw=0))
    segments = []
    for r in range(n):
        for c in range(n):
            y0, y1, x0, x1 = -r - 1, -r, c, c + 1
            if not m.passages[r, c, 1]:
                segments.append(((x0, x1), (y1, y1)))
            if not m.passages[r, c, 2]:
                segments.append(((x0, x1), (y0, y0)))
            if not m.passages[r, c, 3]:
                segments.append(((x0, x0), (y0, y1)))
            if not m.passages[r, c, 4]:
                segments.append(((x1, x1), (y0, y1)))
    from matplotlib.collections import LineCollection

    ax.add_collection(LineCollection([list(zip(xs, ys)) for xs, ys in segments], colors="black", linewidths=1.2,
                                     capstyle="projecting"))
    if panel.paths is not None:
        paths = np.asarray(panel.paths)
        colours = _pyplot().get_cmap("tab10")
        for k, p in enumerate(paths):
            off = 0.06 * (k - (len(paths) - 1) / 2) / max(1, len(paths))
            x = p[:, 1] + 0.5 + off
            y = -p[:, 0] - 0.5 + off
            ax.plot(x, y, color=colours(k % 10), lw=1.6, alpha=0.75)
            ax.plot(x[-1], y[-1], "o", color=colours(k % 10), ms=4)
    ax.set_xlim(-0.1, n + 0.1)
    ax.set_ylim(-n - 0.1, 0.1)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if panel.subtitle:
        ax.set_title(panel.subtitle, fontsize=8)


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
    height = 2.9 * len(rows) + footer
    fig, axes = plt.subplots(len(rows), cols, figsize=(width, height), squeeze=False)
    try:
        for i, (label, panels) in enumerate(rows):
            for j in range(cols):
                ax = axes[i][j]
                if j < len(panels):
                    draw_maze(ax, panels[j])
                else:
                    ax.axis("off")
            axes[i][0].set_ylabel(label, fontsize=10)
        fig.legend(handles=maze_key(occupied), loc="lower center", ncol=3 if occupied else 5, fontsize=7,
                   frameon=False, bbox_to_anchor=(0.5, (0.14 * len(lines) + 0.02) / height))
        if lines:
            fig.text(0.01, 0.01, "\n".join(lines), ha="left", va="bottom", fontsize=7, family="monospace")
        if title:
            fig.suptitle(title, fontsize=10)
        fig.tight_layout(rect=(0, footer / height, 1, 1))
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
