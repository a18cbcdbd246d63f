import networkx as nx
import numpy as np
import pytest

from agents.maze.grid import MazeDistribution
from agents.maze.replicator import Replicator, replicate_objective
from hierarchy.errors import ParameterError


def graph(m):
    g = nx.Graph()
    g.add_nodes_from(range(m.n_cells))
    for s in range(m.n_cells):
        for a in range(1, 5):
            if m.valid[s, a]:
                g.add_edge(s, int(m.successors[s, a]))
    return g


def test_fills_small_mazes_and_reaches_the_exit():
    mazes = MazeDistribution(size=5, extra_green=1).sample(30, seed=0)
    run = Replicator(limit=25).run(mazes)
    assert run.success.all()
    for k, m in enumerate(mazes):
        # it reaches the exit exactly when the breadth-first wave does (no choice is needed below the limit)
        assert run.reached_at[k] == m.distances()[m.entrance]


def test_fails_when_the_exit_is_beyond_its_limit():
    mazes = MazeDistribution(size=12).sample(40, seed=1)
    limit = 30
    run = Replicator(limit=limit).run(mazes, seed=3)
    for k, m in enumerate(mazes):
        if m.distances()[m.entrance] + 1 > limit:
            assert not run.success[k]
    far = [m.distances()[m.entrance] + 1 > limit for m in mazes]
    assert any(far) and run.success.mean() < 0.5


def test_copies_never_exceed_the_limit_and_stay_connected():
    mazes = MazeDistribution(size=8).sample(20, seed=2)
    for limit in (1, 7, 20, 64):
        run = Replicator(limit=limit).run(mazes, seed=limit)
        assert (run.counts <= limit).all() and (np.diff(run.counts, axis=1) >= 0).all()
        assert (run.counts[:, 0] == 1).all()
        for k, m in enumerate(mazes):
            occ = run.occupied[k, -1].reshape(-1)
            cells = np.flatnonzero(occ)
            assert m.index(m.entrance) in cells
            assert nx.is_connected(graph(m).subgraph(cells))
            if limit == 64:
                assert run.success[k]
            if not run.success[k]:
                assert run.counts[k, -1] == min(limit, m.n_cells)  # it stopped because of its limit


def test_reproducible_and_objectives_on_states():
    mazes = MazeDistribution(size=9).sample(10, seed=4)
    a = Replicator(limit=15).run(mazes, seed=5)
    b = Replicator(limit=15).run(mazes, seed=5)
    c = Replicator(limit=15).run(mazes, seed=6)
    assert np.array_equal(a.occupied, b.occupied) and not np.array_equal(a.occupied, c.occupied)
    tr = a.trajectory()
    assert np.array_equal(tr["replicate"], -a.counts)
    assert np.array_equal(replicate_objective()(a.states), tr["replicate"])
    for k, m in enumerate(mazes):
        d = m.distances()
        assert tr["exit_distance"][k, 0] == d[m.entrance]
        assert (tr["exit"][k] == -a.occupied[k, :, m.exit[0], m.exit[1]].astype(float)).all()
    with pytest.raises(ParameterError):
        Replicator(limit=0)
