"""The optimal values' C++ kernel: the numpy code's numbers bit for bit, and the Bellman equation.

Independent truth: the values are the fixed point of V(s) = r(s) + gamma max_a V(next(s, a))
(checked to float rounding), and on a corridor with one rewarding cell they are the
geometric sums gamma^k / (1 - gamma) in closed form. The kernel promises the numpy engine's
numbers exactly (the same elementwise operations in the same order, maze by maze).
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import agents.maze.planning_kernel as planning_module
import agents.native as native
from agents.maze.grid import MazeDistribution, stack_mazes
from agents.maze.planning import greedy_paths, optimal_values
from agents.maze.planning_kernel import kernel_optimal_values, planning_kernel_available
from hierarchy.errors import ParameterError

needs_kernel = pytest.mark.skipif(not planning_kernel_available(), reason="no C++ compiler for the kernel")


def corridor(n):
    """n cells in a row: successors of stay, up, down, left, right (walls lead back to the cell)."""
    return np.array([[i, i, i, max(i - 1, 0), min(i + 1, n - 1)] for i in range(n)])


@needs_kernel
@settings(max_examples=30, deadline=None)
@given(size=st.integers(2, 8), M=st.integers(1, 6), K=st.integers(1, 3), seed=st.integers(0, 10 ** 6),
       gamma=st.sampled_from([0.3, 0.9, 0.95, 0.99]), ties=st.booleans(), scale=st.sampled_from([1e-3, 1.0, 50.0]))
def test_the_kernel_gives_the_numpy_numbers_bit_for_bit(size, M, K, seed, gamma, ties, scale):
    _, succ, _ = stack_mazes(MazeDistribution(size=size).sample(M, seed))
    r = np.random.default_rng(seed).normal(size=(K, M, size * size)) * scale
    if ties:
        r = np.round(r)
    sc = np.broadcast_to(succ, (K,) + succ.shape)
    a = optimal_values(r, sc, gamma, engine="numpy")
    b = optimal_values(r, sc, gamma, engine="kernel")
    assert a.shape == b.shape == r.shape
    assert np.array_equal(a, b)
    # the fixed point of the Bellman equation (walls lead back to the cell: no mask needed)
    q = np.take_along_axis(b[..., None, :], sc.reshape(K, M, 1, -1), axis=-1).reshape(sc.shape)
    assert np.allclose(b, r + gamma * q.max(-1), rtol=1e-9, atol=1e-9 * scale)


@needs_kernel
def test_a_corridor_has_its_geometric_sums():
    n, gamma = 6, 0.9
    r = np.zeros(n)
    r[4] = 1.0
    V = optimal_values(r, corridor(n), gamma, engine="kernel")
    want = np.array([gamma ** abs(4 - i) / (1 - gamma) for i in range(n)])
    assert np.allclose(V, want, rtol=1e-12)


@needs_kernel
def test_bad_input_is_one_line():
    succ = corridor(3)[None]
    with pytest.raises(ParameterError, match=r"^successors must be cell indices in 0..2, got 0..3; build them with "
                                             r"agents.maze.grid.stack_mazes$"):
        kernel_optimal_values(np.zeros((1, 3)), np.where(succ == 2, 3, succ), 0.9, 10, 100)
    with pytest.raises(ParameterError, match=r"^successors of shape \(1, 3, 4\), not \(1, 3, 5\)"):
        kernel_optimal_values(np.zeros((1, 3)), succ[..., :4], 0.9, 10, 100)
    with pytest.raises(ParameterError, match=r"^policy iteration did not settle in 1 rounds; check the rewards are "
                                             r"finite$"):
        optimal_values(np.array([0.0, 0.0, 1.0]), corridor(3), 0.9, max_rounds=1, engine="kernel")
    with pytest.raises(ParameterError, match=r"^engine='fast'; choose one of auto, kernel, numpy$"):
        optimal_values(np.zeros(3), corridor(3), 0.9, engine="fast")


@needs_kernel
def test_empty_and_non_finite_rewards():
    assert optimal_values(np.zeros((0, 3)), np.zeros((0, 3, 5), dtype=np.int64), 0.9, engine="kernel").shape == (0, 3)
    r = np.array([0.0, np.inf, 1.0])  # not finite: the plain numpy code, whatever the engine
    assert np.array_equal(optimal_values(r, corridor(3), 0.9, engine="kernel"),
                          optimal_values(r, corridor(3), 0.9, engine="numpy"), equal_nan=True)


def test_without_a_compiler_auto_runs_numpy_and_kernel_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(planning_module._KERNEL, "loaded", None)
    monkeypatch.setattr(planning_module._KERNEL, "failure", None)
    monkeypatch.setenv("MESASTACK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(native.shutil, "which", lambda name: None)
    r = np.random.default_rng(0).normal(size=6)
    assert not planning_kernel_available()
    assert np.array_equal(optimal_values(r, corridor(6), 0.9), optimal_values(r, corridor(6), 0.9, engine="numpy"))
    with pytest.raises(ParameterError, match=r"^engine='kernel' needs the planner's C\+\+ kernel, and no C\+\+ "
                                             r"compiler \(g\+\+, c\+\+ or clang\+\+\) is on the PATH; install g\+\+ "
                                             r"\(or clang\+\+\), or use engine='numpy'$"):
        optimal_values(r, corridor(6), 0.9, engine="kernel")


@needs_kernel
@settings(max_examples=30, deadline=None)
@given(size=st.integers(2, 6), M=st.integers(1, 4), G=st.integers(1, 3), seed=st.integers(0, 10 ** 6),
       budget=st.integers(0, 25), with_exits=st.booleans(), nan=st.booleans())
def test_greedy_walks_give_the_numpy_numbers_and_leave_the_generators_alike(size, M, G, seed, budget, with_exits, nan):
    _, succ, valid = stack_mazes(MazeDistribution(size=size).sample(M, seed))
    rng = np.random.default_rng(seed)
    sc, vl = np.tile(succ, (G, 1, 1)), np.tile(valid, (G, 1, 1))
    q = np.where(vl, np.round(rng.normal(size=sc.shape) * 2) / 2, -np.inf)  # halves: many ties
    if nan:
        q[0, :, 1] = np.nan
    starts = rng.integers(0, size * size, M * G)
    exits = rng.integers(0, size * size, M * G) if with_exits else None
    runs = []
    for engine in ("numpy", "kernel"):
        gens = [np.random.default_rng(seed + 1 + g) for g in range(G)]
        out = greedy_paths(q, sc, starts, exits, budget, gens if G > 1 else gens[0], engine=engine)
        runs.append(out + (tuple(g.random() for g in gens),))
    for a, b in zip(*runs):
        assert np.array_equal(a, b)


def test_greedy_walks_without_an_exit_and_tied_moves_are_uniform():
    # two cells, both moves of cell 0 tie: about half the walks move right at once
    q = np.zeros((4000, 2, 5))
    q[:, :, 1:3] = -np.inf
    q[:, 0, 3] = -np.inf
    q[:, 1, 4] = -np.inf
    succ = np.broadcast_to(corridor(2), (4000, 2, 5)).copy()
    path, ok, n = greedy_paths(q, succ, np.zeros(4000, dtype=np.int64), None, 1, np.random.default_rng(0))
    assert not ok.any() and (n == 1).all()
    assert abs(path[:, 1].mean() - 0.5) < 0.05
