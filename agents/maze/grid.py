"""Procedurally generated mazes with green cells (seed 002, Examples 1-5).

A maze is an ``n x n`` grid of cells carved by depth-first search (the recursive
backtracker), so every cell is reachable from every other. Cells are ``(row, col)``
with row 0 at the top: the entrance is on the bottom row, the exit on the top row.
A green cell may sit just left of the exit (the passage between them is always
open), and ``extra_green`` decoy green cells sit elsewhere.

Actions are ``stay, up, down, left, right`` (indices 0-4); a move into a wall keeps
the agent where it is, and ``stay`` is always valid.

What an agent sees of a cell is its feature vector (``FEATURES``):
``[green, right_of_green, exit_visible, 1]``. ``right_of_green`` marks the cell just
right of a green cell (the green-cell proxy "step right of green"); ``exit_visible``
is 1 on the exit only when the exit is visible to the agent. The designer's view
(``view="designer"``) marks the exit whether or not the agent sees it.
"""

from __future__ import annotations

from collections import deque
from typing import Sequence, Union

import attrs
import numpy as np

from hierarchy.errors import ParameterError
from hierarchy.seeding import as_seed, child

ACTIONS = ("stay", "up", "down", "left", "right")
MOVES = np.array([[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]], dtype=np.int64)
OPPOSITE = np.array([0, 2, 1, 4, 3], dtype=np.int64)
FEATURES = ("green", "right_of_green", "exit_visible", "bias")

Cell = tuple

SeedLike = Union[int, np.random.SeedSequence]


def carve_passages(size: int, rng: np.random.Generator) -> np.ndarray:
    """Passages of a perfect maze by depth-first search (recursive backtracker).

    Rule: start at a random cell; repeatedly step from the cell on top of the stack to a
    random unvisited neighbour, opening the wall between them; pop when none is left.
    Draws ``n*n`` uniforms from ``rng`` up front (one for the start, one per carving).
    Returns ``open [n, n, 5]`` bool: ``open[r, c, a]`` is True when action ``a`` from
    ``(r, c)`` leads to another cell (``a = 0``, stay, is always True). The result is a
    spanning tree of the grid: ``n*n - 1`` passages.

    Example:
        >>> p = carve_passages(4, np.random.default_rng(0))
        >>> int(p[..., 1:].sum()) // 2   # passages of a spanning tree of 16 cells
        15
    """
    n = int(size)
    u = rng.random(n * n + 1)  # one uniform for the start and one per carving decision
    steps = ((-1, 0, 1), (1, 0, 2), (0, -1, 3), (0, 1, 4))  # (d_row, d_col, action)
    opposite = (0, 2, 1, 4, 3)
    carved = []
    visited = [[False] * n for _ in range(n)]
    start = min(int(u[0] * n * n), n * n - 1)
    r0, c0 = divmod(start, n)
    visited[r0][c0] = True
    stack = [(r0, c0)]
    k = 1
    while stack:
        r, c = stack[-1]
        options = [(r + dr, c + dc, a) for dr, dc, a in steps
                   if 0 <= r + dr < n and 0 <= c + dc < n and not visited[r + dr][c + dc]]
        if not options:
            stack.pop()
            continue
        rr, cc, a = options[min(int(u[k] * len(options)), len(options) - 1)]
        k += 1
        carved.append((r, c, a, rr, cc))
        visited[rr][cc] = True
        stack.append((rr, cc))
    passages = np.zeros((n, n, 5), dtype=bool)
    passages[..., 0] = True
    for r, c, a, rr, cc in carved:
        passages[r, c, a] = True
        passages[rr, cc, opposite[a]] = True
    return passages


def _cell(value, n: int, what: str) -> Cell:
    try:
        r, c = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ParameterError(f"{what} {value!r} is not a (row, col) pair; pass e.g. (0, 3)") from None
    if not (0 <= r < n and 0 <= c < n):
        raise ParameterError(f"{what} {(r, c)} lies outside the {n}x{n} maze; use rows and columns in 0..{n - 1}")
    return (r, c)


def _frozen_array(a: np.ndarray) -> np.ndarray:
    a = np.array(a)
    a.setflags(write=False)
    return a


@attrs.frozen(eq=False)
class Maze:
    """One maze: passages, entrance, exit, green cells, and whether the exit is visible.

    ``passages[r, c, a]`` says whether action ``a`` (``ACTIONS``) from ``(r, c)`` leads to
    another cell; a move it forbids keeps the agent in place. Cells are indexed
    ``i = row * n + col`` in the flat arrays (``successors``, ``valid``, ``features``).

    Example:
        >>> m = MazeDistribution(size=5).sample(1, seed=0)[0]
        >>> m.entrance[0], m.exit[0], m.green_by_exit
        (4, 0, True)
        >>> m.features().shape, m.features()[m.exit].tolist()
        ((5, 5, 4), [0.0, 1.0, 1.0, 1.0])
    """

    passages: np.ndarray = attrs.field(converter=_frozen_array)
    entrance: Cell = attrs.field()
    exit: Cell = attrs.field()
    green: tuple = attrs.field(default=(), converter=lambda g: tuple(tuple(int(v) for v in x) for x in g))
    exit_visible: bool = attrs.field(default=True, converter=bool)
    _successors: np.ndarray = attrs.field(init=False, repr=False)
    _features: dict = attrs.field(init=False, repr=False)
    _distances: dict = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self):
        p = self.passages
        if p.ndim != 3 or p.shape[0] != p.shape[1] or p.shape[2] != 5 or p.dtype != bool or p.shape[0] < 2:
            raise ParameterError(
                f"maze passages must be a bool array [n, n, 5] with n >= 2, got {p.dtype} {p.shape}; build mazes with MazeDistribution.sample"
            )
        n = p.shape[0]
        object.__setattr__(self, "entrance", _cell(self.entrance, n, "entrance"))
        object.__setattr__(self, "exit", _cell(self.exit, n, "exit"))
        for g in self.green:
            _cell(g, n, "green cell")
        if not p[..., 0].all():
            raise ParameterError("maze passages must keep 'stay' (action 0) valid in every cell; set passages[..., 0] = True")
        if p[0, :, 1].any() or p[-1, :, 2].any() or p[:, 0, 3].any() or p[:, -1, 4].any():
            raise ParameterError("maze passages lead out of the grid; close the outer walls")
        if (p[1:, :, 1] != p[:-1, :, 2]).any() or (p[:, 1:, 3] != p[:, :-1, 4]).any():
            raise ParameterError("maze passages are not symmetric; open each passage from both sides")
        idx = np.arange(n * n)
        delta = np.array([0, -n, n, -1, 1])
        succ = np.where(p.reshape(n * n, 5), idx[:, None] + delta, idx[:, None])
        object.__setattr__(self, "_successors", _frozen_array(succ))
        object.__setattr__(self, "_features", {})
        object.__setattr__(self, "_distances", {})

    # --- geometry -------------------------------------------------------------------
    @property
    def size(self) -> int:
        """Side length n of the grid."""
        return self.passages.shape[0]

    @property
    def n_cells(self) -> int:
        """Number of cells n * n."""
        return self.size * self.size

    def index(self, cell) -> int:
        """Flat index ``row * n + col`` of a cell."""
        r, c = cell
        return int(r) * self.size + int(c)

    def cell(self, index: int) -> Cell:
        """The ``(row, col)`` of a flat index."""
        return divmod(int(index), self.size)

    @property
    def successors(self) -> np.ndarray:
        """``[n*n, 5]`` int: flat index reached by each action (itself when the move is walled)."""
        return self._successors

    @property
    def valid(self) -> np.ndarray:
        """``[n*n, 5]`` bool: which actions move (stay is always valid)."""
        return self.passages.reshape(self.n_cells, 5)

    def move(self, cell, action: int) -> Cell:
        """The cell reached from ``cell`` by ``action``; an invalid move stays put.

        Example:
            >>> m = MazeDistribution(size=4).sample(1, seed=1)[0]
            >>> m.move(m.entrance, 0) == m.entrance
            True
        """
        a = int(action)
        if not 0 <= a < 5:
            raise ParameterError(f"action {action!r} is not one of 0..4 ({', '.join(ACTIONS)})")
        return self.cell(self._successors[self.index(cell), a])

    def valid_actions(self, cell) -> tuple:
        """Actions that are allowed in ``cell`` (stay first, then the open moves)."""
        r, c = cell
        return tuple(int(a) for a in np.flatnonzero(self.passages[r, c]))

    def neighbours(self, cell) -> tuple:
        """Cells reachable from ``cell`` in one move (stay excluded)."""
        r, c = cell
        return tuple((int(r + MOVES[a, 0]), int(c + MOVES[a, 1])) for a in range(1, 5) if self.passages[r, c, a])

    # --- green cells and features --------------------------------------------------------
    @property
    def green_by_exit(self) -> bool:
        """Whether a green cell sits just left of the exit."""
        return (self.exit[0], self.exit[1] - 1) in self.green

    @property
    def decoys(self) -> tuple:
        """Green cells other than the one just left of the exit."""
        by_exit = (self.exit[0], self.exit[1] - 1)
        return tuple(g for g in self.green if g != by_exit)

    def features(self, view: str = "agent") -> np.ndarray:
        """Cell features ``[n, n, 4]`` = ``[green, right_of_green, exit_visible, 1]``.

        ``right_of_green[r, c] = green[r, c - 1]``; ``exit_visible`` is 1 on the exit when
        the exit is visible (``view="agent"``), or always (``view="designer"``).

        Example:
            >>> m = MazeDistribution(size=5, exit_visible=0.0).sample(1, seed=0)[0]
            >>> float(m.features()[..., 2].sum()), float(m.features("designer")[..., 2].sum())
            (0.0, 1.0)
        """
        if view not in ("agent", "designer"):
            raise ParameterError(f"feature view {view!r} is unknown; use 'agent' or 'designer'")
        if view not in self._features:
            n = self.size
            f = np.zeros((n, n, len(FEATURES)))
            for r, c in self.green:
                f[r, c, 0] = 1.0
                if c + 1 < n:
                    f[r, c + 1, 1] = 1.0
            if view == "designer" or self.exit_visible:
                f[self.exit + (2,)] = 1.0
            f[..., 3] = 1.0
            self._features[view] = _frozen_array(f)
        return self._features[view]

    def right_of_green(self) -> np.ndarray:
        """``[n, n]`` bool: cells just right of a green cell (where the proxy is satisfied)."""
        return self.features()[..., 1] > 0

    # --- distances and the expert -----------------------------------------------------------
    def distances(self, target=None) -> np.ndarray:
        """Breadth-first distances ``[n, n]`` (in moves) to ``target`` (default: the exit); -1 if unreachable.

        Example:
            >>> m = MazeDistribution(size=4).sample(1, seed=2)[0]
            >>> int(m.distances()[m.exit]), bool((m.distances() >= 0).all())
            (0, True)
        """
        target = self.exit if target is None else _cell(target, self.size, "target")
        if target not in self._distances:  # the maze never changes: one search per target
            self._distances[target] = _frozen_array(self._search(target))
        return self._distances[target].copy()

    def _search(self, target: Cell) -> np.ndarray:
        """Breadth-first distances ``[n, n]`` to ``target`` (a valid cell), -1 where unreachable."""
        dist = np.full(self.n_cells, -1, dtype=np.int64)
        start = self.index(target)
        dist[start] = 0
        queue = deque([start])
        succ, valid = self._successors, self.valid
        while queue:
            s = queue.popleft()
            for a in range(1, 5):
                if valid[s, a]:
                    t = succ[s, a]
                    if dist[t] < 0:
                        dist[t] = dist[s] + 1
                        queue.append(t)
        return dist.reshape(self.size, self.size)

    def shortest_path(self, start=None, goal=None) -> list:
        """A shortest path of cells from ``start`` (entrance) to ``goal`` (exit), both included.

        Rule: from each cell take the first action (in ``ACTIONS`` order) that lowers the
        breadth-first distance to the goal by one.
        """
        start = self.entrance if start is None else _cell(start, self.size, "start")
        goal = self.exit if goal is None else goal
        dist = self.distances(goal).reshape(-1)
        s = self.index(start)
        if dist[s] < 0:
            raise ParameterError(f"no path from {start} to {goal}; the maze is not connected there")
        path = [s]
        while dist[s] > 0:
            s = next(int(t) for a, t in enumerate(self._successors[s]) if a and self.valid[s, a] and dist[t] == dist[s] - 1)
            path.append(s)
        return [self.cell(i) for i in path]

    def expert_moves(self) -> tuple:
        """The shortest-path expert's (state index, action) pairs, ending with one stay at the exit.

        Returns ``(states [P], actions [P])`` int arrays, P = shortest distance + 1.

        Example:
            >>> m = MazeDistribution(size=4).sample(1, seed=2)[0]
            >>> s, a = m.expert_moves()
            >>> bool(len(s) == m.distances()[m.entrance] + 1), int(a[-1])
            (True, 0)
        """
        path = [self.index(c) for c in self.shortest_path()]
        states, actions = [], []
        for s, t in zip(path[:-1], path[1:]):
            states.append(s)
            actions.append(int(np.flatnonzero((self._successors[s] == t) & self.valid[s])[0]))
        states.append(path[-1])
        actions.append(0)
        return np.array(states, dtype=np.int64), np.array(actions, dtype=np.int64)

    def ascii(self) -> str:
        """A text picture: ``S`` entrance, ``E`` exit (``e`` when hidden), ``G`` green, walls as ``#``.

        Example:
            >>> print(MazeDistribution(size=2).sample(1, seed=0)[0].ascii().splitlines()[0])
            #####
        """
        n = self.size
        rows = []
        canvas = [["#"] * (2 * n + 1) for _ in range(2 * n + 1)]
        for r in range(n):
            for c in range(n):
                ch = " "
                if (r, c) in self.green:
                    ch = "G"
                if (r, c) == self.entrance:
                    ch = "S"
                if (r, c) == self.exit:
                    ch = "E" if self.exit_visible else "e"
                canvas[2 * r + 1][2 * c + 1] = ch
                if self.passages[r, c, 4]:
                    canvas[2 * r + 1][2 * c + 2] = " "
                if self.passages[r, c, 2]:
                    canvas[2 * r + 2][2 * c + 1] = " "
        for line in canvas:
            rows.append("".join(line))
        return "\n".join(rows)


def _check_green_by_exit(instance, attribute, value):
    if isinstance(value, str):
        if value not in ("always", "never"):
            raise ParameterError(f"green_by_exit={value!r} is unknown; use 'always', 'never' or a probability in [0, 1]")
    elif not (isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0):
        raise ParameterError(f"green_by_exit={value!r} is not usable; use 'always', 'never' or a probability in [0, 1]")


def _check_probability(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ParameterError(f"{attribute.name}={value!r} is not a probability; pass a number in [0, 1]")


@attrs.frozen
class MazeDistribution:
    """A distribution over mazes: size, decoy green cells, green by the exit, exit visibility.

    - ``size``: the grid is ``size x size`` cells (at least 2).
    - ``extra_green``: number of decoy green cells, away from the exit, each with a cell to
      its right that is neither the exit nor the entrance.
    - ``green_by_exit``: ``"always"``, ``"never"`` or the probability that a green cell sits
      just left of the exit (the passage from it to the exit is always open).
    - ``exit_visible``: probability that the exit is visible to the agent (its
      ``exit_visible`` feature is set).

    Every random quantity of maze ``i`` is drawn, in a fixed order, from
    ``child(seed, i)`` (the i-th spawned child), so changing a knob changes only what it governs:
    the passages, entrance and exit of maze ``i`` stay the same.

    Example:
        >>> mazes = MazeDistribution(size=7, extra_green=2, green_by_exit="never").sample(3, seed=0)
        >>> [len(m.decoys) for m in mazes], [m.green_by_exit for m in mazes]
        ([2, 2, 2], [False, False, False])
    """

    size: int = attrs.field(default=7)
    extra_green: int = attrs.field(default=0)
    green_by_exit: Union[str, float] = attrs.field(default="always", validator=_check_green_by_exit)
    exit_visible: float = attrs.field(default=1.0, validator=_check_probability)

    @size.validator
    def _check_size(self, attribute, value):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
            raise ParameterError(f"maze size {value!r} is too small; use an integer size >= 2")

    @extra_green.validator
    def _check_extra(self, attribute, value):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ParameterError(f"extra_green={value!r} is not a count; use an integer >= 0")
        if value > self.max_extra_green(self.size):
            raise ParameterError(
                f"extra_green={value} decoys do not always fit a {self.size}x{self.size} maze; "
                f"use at most {self.max_extra_green(self.size)} or a larger size"
            )

    @staticmethod
    def max_extra_green(size: int) -> int:
        """Decoys that always fit: ``(size - 2) * ceil((size - 1) / 3)``.

        Each row below the top and above the bottom offers columns ``0..size-2``; a decoy
        blocks at most itself and its two horizontal neighbours, so at least
        ``ceil((size - 1) / 3)`` fit per such row whatever the placement order.

        Example:
            >>> MazeDistribution.max_extra_green(7)
            10
        """
        return max(0, (int(size) - 2) * -(-(int(size) - 1) // 3))

    @property
    def p_green_by_exit(self) -> float:
        """The probability that a green cell sits left of the exit."""
        g = self.green_by_exit
        return 1.0 if g == "always" else 0.0 if g == "never" else float(g)

    def sample(self, n: int, seed: SeedLike = 0) -> list:
        """``n`` mazes drawn from ``seed`` (an int or SeedSequence); maze ``i`` depends only on ``child(seed, i)``.

        Example:
            >>> d = MazeDistribution(size=5)
            >>> a, b = d.sample(2, seed=4), d.sample(3, seed=4)
            >>> bool((a[1].passages == b[1].passages).all())
            True
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ParameterError(f"number of mazes {n!r} is not a count; pass an integer >= 0")
        ss = as_seed(seed)
        return [self._one(np.random.default_rng(child(ss, i))) for i in range(int(n))]

    def maze(self, seed: SeedLike = 0, i: int = 0) -> Maze:
        """Maze ``i`` of ``sample(n, seed)`` (any n > i), drawn alone from ``child(seed, i)``.

        Example:
            >>> d = MazeDistribution(size=5)
            >>> bool((d.maze(4, 2).passages == d.sample(3, seed=4)[2].passages).all())
            True
        """
        return self._one(np.random.default_rng(child(as_seed(seed), int(i))))

    def _one(self, rng: np.random.Generator) -> Maze:
        n = self.size
        passages = carve_passages(n, rng)
        exit_col = int(rng.integers(1, n))
        entrance_col = int(rng.integers(0, n))
        u_green, u_visible = rng.random(2)
        order = rng.permutation(n * n)
        exit, entrance = (0, exit_col), (n - 1, entrance_col)
        by_exit = (0, exit_col - 1)
        # the passage from the green-by-exit cell to the exit is always open
        passages[0, exit_col - 1, 4] = True
        passages[0, exit_col, 3] = True
        green = [by_exit] if u_green < self.p_green_by_exit else []
        taken = {exit, entrance, by_exit}
        decoys = []
        for i in order:
            if len(decoys) == self.extra_green:
                break
            r, c = divmod(int(i), n)
            right = (r, c + 1)
            if c + 1 >= n or (r, c) in taken or right in taken or (r, c - 1) in decoys or right in decoys:
                continue
            decoys.append((r, c))
        if len(decoys) < self.extra_green:  # pragma: no cover - guarded by the extra_green validator
            raise ParameterError(f"could not place {self.extra_green} decoys in a {n}x{n} maze; ask for fewer")
        return Maze(passages, entrance, exit, tuple(green + decoys), bool(u_visible < self.exit_visible))


def stack_mazes(mazes: Sequence[Maze], view: str = "agent") -> tuple:
    """Stacked arrays of mazes of one size: ``(features [M, N, 4], successors [M, N, 5], valid [M, N, 5])``.

    Example:
        >>> f, s, v = stack_mazes(MazeDistribution(size=4).sample(3, seed=0))
        >>> f.shape, s.shape, v.shape
        ((3, 16, 4), (3, 16, 5), (3, 16, 5))
    """
    mazes = list(mazes)
    if not mazes:
        raise ParameterError("no mazes to stack; pass at least one maze")
    sizes = {m.size for m in mazes}
    if len(sizes) != 1:
        raise ParameterError(f"mazes of sizes {sorted(sizes)} cannot be stacked; use mazes of one size")
    N = mazes[0].n_cells
    feats = np.stack([m.features(view).reshape(N, -1) for m in mazes])
    succ = np.stack([m.successors for m in mazes])
    valid = np.stack([m.valid for m in mazes])
    return feats, succ, valid

