import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from agents.maze import ACTIONS, MOVES, Maze, MazeDistribution, carve_passages, stack_mazes
from hierarchy.errors import MesastackError, ParameterError


def as_graph(m: Maze) -> nx.Graph:
    """An independent graph of the maze's open passages."""
    g = nx.Graph()
    n = m.size
    g.add_nodes_from((r, c) for r in range(n) for c in range(n))
    for r in range(n):
        for c in range(n):
            if m.passages[r, c, 4]:
                g.add_edge((r, c), (r, c + 1))
            if m.passages[r, c, 2]:
                g.add_edge((r, c), (r + 1, c))
    return g


@pytest.mark.parametrize("size", [2, 3, 7, 12])
def test_every_maze_is_solvable_and_a_tree_plus_at_most_one_passage(size):
    for m in MazeDistribution(size=size, extra_green=min(2, MazeDistribution.max_extra_green(size))).sample(60, seed=size):
        g = as_graph(m)
        assert nx.is_connected(g)
        assert nx.has_path(g, m.entrance, m.exit)
        assert g.number_of_edges() in (size * size - 1, size * size)
        assert m.distances()[m.entrance] == nx.shortest_path_length(g, m.entrance, m.exit)
        assert m.entrance[0] == size - 1 and m.exit[0] == 0 and m.exit[1] >= 1
        # the passage from the cell left of the exit to the exit is always open
        assert g.has_edge((0, m.exit[1] - 1), m.exit)


def test_carve_passages_is_a_spanning_tree():
    for s in range(20):
        p = carve_passages(6, np.random.default_rng(s))
        m = Maze(p, (5, 0), (0, 1))
        g = as_graph(m)
        assert nx.is_tree(g)


def test_green_by_exit_knob():
    for value, expect in (("always", 1.0), ("never", 0.0)):
        mazes = MazeDistribution(size=6, green_by_exit=value).sample(50, seed=1)
        assert np.mean([m.green_by_exit for m in mazes]) == expect
    mazes = MazeDistribution(size=6, green_by_exit=0.3).sample(600, seed=2)
    frac = np.mean([m.green_by_exit for m in mazes])
    assert abs(frac - 0.3) < 4 * np.sqrt(0.3 * 0.7 / 600)


def test_exit_visible_knob():
    mazes = MazeDistribution(size=5, exit_visible=0.5).sample(600, seed=3)
    frac = np.mean([m.exit_visible for m in mazes])
    assert abs(frac - 0.5) < 4 * np.sqrt(0.25 / 600)
    for m in mazes:
        assert m.features()[..., 2].sum() == float(m.exit_visible)
        assert m.features("designer")[m.exit + (2,)] == 1.0
    assert not any(m.exit_visible for m in MazeDistribution(size=5, exit_visible=0.0).sample(40, seed=3))


@pytest.mark.parametrize("extra", [0, 1, 2, 5])
def test_extra_green_knob(extra):
    for m in MazeDistribution(size=7, extra_green=extra, green_by_exit="never").sample(40, seed=extra):
        assert len(m.decoys) == extra == len(m.green)
        for r, c in m.decoys:
            assert c + 1 < m.size
            assert (r, c + 1) not in (m.exit, m.entrance)
            assert (r, c) not in (m.exit, m.entrance)


def test_knobs_change_only_what_they_govern():
    a = MazeDistribution(size=7, extra_green=0, green_by_exit="always", exit_visible=1.0).sample(20, seed=9)
    b = MazeDistribution(size=7, extra_green=2, green_by_exit="never", exit_visible=0.5).sample(20, seed=9)
    for x, y in zip(a, b):
        assert np.array_equal(x.passages, y.passages)
        assert x.entrance == y.entrance and x.exit == y.exit


def test_seeds_reproduce_and_differ():
    d = MazeDistribution(size=7, extra_green=2, exit_visible=0.5, green_by_exit=0.5)
    a, b = d.sample(10, seed=5), d.sample(10, seed=5)
    for x, y in zip(a, b):
        assert np.array_equal(x.passages, y.passages)
        assert (x.entrance, x.exit, x.green, x.exit_visible) == (y.entrance, y.exit, y.green, y.exit_visible)
    c = d.sample(10, seed=np.random.SeedSequence(6))
    assert any(not np.array_equal(x.passages, z.passages) for x, z in zip(a, c))


def test_features_match_their_definition():
    for m in MazeDistribution(size=6, extra_green=3, exit_visible=0.5).sample(30, seed=4):
        f = m.features()
        assert f.shape == (6, 6, 4)
        assert np.all(f[..., 3] == 1)
        for r in range(6):
            for c in range(6):
                assert f[r, c, 0] == ((r, c) in m.green)
                assert f[r, c, 1] == (c > 0 and (r, c - 1) in m.green)
        if m.green_by_exit:
            assert f[m.exit + (1,)] == 1
        with pytest.raises(ValueError):
            f[0, 0, 0] = 3.0  # read-only


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), r=st.integers(0, 4), c=st.integers(0, 4), a=st.integers(0, 4))
def test_moves_follow_passages(seed, r, c, a):
    m = MazeDistribution(size=5).sample(1, seed=seed)[0]
    nxt = m.move((r, c), a)
    g = as_graph(m)
    if a == 0:
        assert nxt == (r, c)
    elif g.has_edge((r, c), (r + MOVES[a, 0], c + MOVES[a, 1])):
        assert nxt == (r + MOVES[a, 0], c + MOVES[a, 1])
        assert a in m.valid_actions((r, c))
    else:
        assert nxt == (r, c)
        assert a not in m.valid_actions((r, c))
    assert set(m.neighbours((r, c))) == set(g.neighbors((r, c)))


def test_expert_moves_replay_a_shortest_path():
    for m in MazeDistribution(size=7, extra_green=2).sample(30, seed=8):
        states, actions = m.expert_moves()
        pos = m.entrance
        for s, a in zip(states, actions):
            assert m.index(pos) == s
            pos = m.move(pos, a)
        assert pos == m.exit
        assert len(states) == m.distances()[m.entrance] + 1 and actions[-1] == 0


def test_stack_mazes_shapes_and_errors():
    mazes = MazeDistribution(size=4).sample(2, seed=0)
    f, s, v = stack_mazes(mazes)
    assert f.shape == (2, 16, 4) and s.shape == (2, 16, 5) and v[..., 0].all()
    with pytest.raises(ParameterError):
        stack_mazes(mazes + MazeDistribution(size=5).sample(1, seed=0))


@pytest.mark.parametrize(
    "kwargs",
    [dict(size=1), dict(extra_green=-1), dict(green_by_exit="sometimes"), dict(green_by_exit=1.5), dict(exit_visible=2.0),
     dict(size=3, extra_green=2)],
)
def test_bad_knobs_raise_one_line_errors(kwargs):
    with pytest.raises(MesastackError) as info:
        MazeDistribution(**kwargs)
    assert "\n" not in str(info.value)


def test_malformed_maze_is_refused():
    p = np.zeros((3, 3, 5), dtype=bool)
    p[..., 0] = True
    p[0, 0, 4] = True  # one-sided passage
    with pytest.raises(ParameterError):
        Maze(p, (2, 0), (0, 1))
    assert len(ACTIONS) == 5


@pytest.mark.parametrize("size", [3, 4, 5, 6, 8])
def test_the_most_decoys_promised_always_fit(size):
    k = MazeDistribution.max_extra_green(size)
    for m in MazeDistribution(size=size, extra_green=k, green_by_exit=0.5).sample(100, seed=size):
        assert len(m.decoys) == k
