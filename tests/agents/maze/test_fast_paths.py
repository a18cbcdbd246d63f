"""The maze code's fast paths against the plain computations they replace (issue 13).

Each optimized function is checked bit for bit against a plain version written here:
policy iteration evaluating every maze every round, the soft value iteration's torch engine
against its sweeps recorded one by one by autograd (the C++ kernel, equal to float rounding:
test_soft_kernel.py), a deployment that plans again, a fresh breadth-first search, and an
example measured without the run's shared cache.
"""

from collections import deque

import numpy as np
import pytest
import torch

from agents.maze.grid import MazeDistribution, stack_mazes
from agents.maze.irl import designer_features, irl_dynamics
from agents.maze.objectives import mesa_optimum_attained
from agents.maze.planner import PlannerSpec, StopRule
from agents.maze.planner_training import train_planners
from agents.maze.planning import optimal_values, soft_value_iteration as any_engine


def soft_value_iteration(*args, **kw):
    """The torch engine, whose promise is autograd's numbers bit for bit."""
    return any_engine(*args, **kw, engine="torch")


def plain_optimal_values(reward, successors, gamma):
    """Policy iteration with pointer doubling over every state every round (the former code)."""
    r = np.asarray(reward, dtype=np.float64)
    N = r.shape[-1]
    rf = r.reshape(-1)
    succ = successors.reshape(-1, 5) + (np.arange(rf.size) // N * N)[:, None]
    doublings = int(np.ceil(np.log2(np.log(1e-18) / np.log(gamma)))) + 1
    pi = np.zeros(rf.size, dtype=np.int64)
    rows = np.arange(rf.size)
    while True:
        acc, jump, disc = rf.copy(), succ[rows, pi], gamma
        for _ in range(doublings):
            acc = acc + disc * acc[jump]
            jump = jump[jump]
            disc = disc * disc
        q = acc[succ]
        best = q.argmax(-1)
        better = q[rows, best] > q[rows, pi] + 1e-12 * (1.0 + np.abs(acc))
        if not better.any():
            return acc.reshape(r.shape)
        pi = np.where(better, best, pi)


def recorded_soft_value_iteration(reward, successors, valid, gamma, iterations, initial=None):
    """The sweeps one by one, each recorded by autograd (the former code)."""
    V = torch.zeros_like(reward) if initial is None else initial
    idx = successors.reshape(*successors.shape[:-2], -1)
    for _ in range(iterations):
        nxt = torch.gather(V, -1, idx).reshape(successors.shape)
        V = reward + torch.logsumexp(torch.where(valid, gamma * nxt, torch.tensor(-torch.inf, dtype=V.dtype)), -1)
    return V


def _mazes(size, n, seed, **knobs):
    return MazeDistribution(size=size, **knobs).sample(n, seed)


@pytest.mark.parametrize("size,n,scale,gamma", [(4, 6, 1.0, 0.95), (7, 30, 0.3, 0.95), (5, 10, 2.0, 0.8),
                                                (9, 8, 0.5, 0.99)])
def test_optimal_values_equal_plain_policy_iteration_bit_for_bit(size, n, scale, gamma):
    rng = np.random.default_rng(size * 100 + n)
    _, succ, _ = stack_mazes(_mazes(size, n, int(rng.integers(1000)), extra_green=1))
    K = 3
    r = rng.normal(size=(K, n, size * size)) * scale
    s = np.broadcast_to(succ, (K,) + succ.shape)
    assert np.array_equal(optimal_values(r, s, gamma), plain_optimal_values(r, s, gamma))


def test_optimal_values_with_ties_and_single_maze_equal_plain():
    m = _mazes(6, 1, 3)[0]
    for r in (np.zeros(m.n_cells), np.ones(m.n_cells), np.where(np.arange(m.n_cells) % 7 == 0, 1.0, 0.0)):
        assert np.array_equal(optimal_values(r, m.successors, 0.9), plain_optimal_values(r, m.successors, 0.9))


def test_optimal_values_is_the_bellman_fixed_point():
    m = _mazes(5, 1, 1)[0]
    r = np.random.default_rng(0).normal(size=m.n_cells)
    V = optimal_values(r, m.successors, 0.9)
    assert np.allclose(V, r + 0.9 * V[m.successors].max(-1), atol=1e-12)


def _irl_problem(size, M, S, seed):
    mazes = _mazes(size, M, seed, extra_green=2, green_by_exit="never")
    succ, valid = irl_dynamics(mazes)
    phi = torch.as_tensor(np.stack([designer_features(m).reshape(m.n_cells, -1) for m in mazes]))
    return phi, torch.as_tensor(np.tile(succ, (S, 1, 1))), torch.as_tensor(np.tile(valid, (S, 1, 1)))


@pytest.mark.parametrize("size,M,S", [(4, 3, 2), (7, 6, 3)])
def test_soft_value_iteration_from_the_reward_equals_autograd_sweep_by_sweep(size, M, S):
    phi, succ, valid = _irl_problem(size, M, S, size)
    H = size * size
    rng = np.random.default_rng(1)
    for _ in range(3):
        w = rng.normal(size=(S, 3)) * 2
        out = []
        for svi in (soft_value_iteration, recorded_soft_value_iteration):
            wt = torch.tensor(w, requires_grad=True)
            r = torch.einsum("mnf,sf->smn", phi, wt).reshape(S * M, -1)
            V = svi(r, succ, valid, 1.0, H, initial=r)
            (g,) = torch.autograd.grad((V[:, :3] * torch.arange(3.0, dtype=V.dtype)).sum() + V.sum(), wt)
            out.append((V.detach(), g))
        assert torch.equal(out[0][0], out[1][0]) and torch.equal(out[0][1], out[1][1])


def test_soft_value_iteration_from_zero_with_discount_equals_autograd_on_four_dims():
    mazes = [_mazes(5, 3, s, extra_green=1) for s in (0, 1)]
    stacked = [stack_mazes(ms) for ms in mazes]
    succ = torch.as_tensor(np.stack([s[1] for s in stacked]))
    valid = torch.as_tensor(np.stack([s[2] for s in stacked]))
    base = torch.as_tensor(np.random.default_rng(2).normal(size=(2, 3, 25)))
    out = []
    for svi in (soft_value_iteration, recorded_soft_value_iteration):
        r = base.clone().requires_grad_(True)
        V = svi(r, succ, valid, 0.95, 35)
        (g,) = torch.autograd.grad((V ** 2).sum(), r)
        out.append((V.detach(), g))
    assert torch.equal(out[0][0], out[1][0]) and torch.equal(out[0][1], out[1][1])
    with torch.no_grad():  # without a graph: the same values
        assert torch.equal(soft_value_iteration(base, succ, valid, 0.95, 35), out[1][0])


def test_soft_value_iteration_trace_and_other_starts_are_unchanged():
    phi, succ, valid = _irl_problem(4, 2, 1, 0)
    r = torch.einsum("mnf,f->mn", phi, torch.tensor([0.3, -0.2, 1.0], dtype=torch.float64))
    trace = soft_value_iteration(r, succ, valid, 1.0, 5, initial=r, trace=True)
    assert len(trace) == 6 and torch.equal(trace[-1], recorded_soft_value_iteration(r, succ, valid, 1.0, 5, initial=r))
    start = torch.ones_like(r)
    assert torch.equal(soft_value_iteration(r, succ, valid, 0.9, 4, initial=start),
                       recorded_soft_value_iteration(r, succ, valid, 0.9, 4, initial=start))


@pytest.fixture(scope="module")
def population():
    return train_planners(MazeDistribution(size=5, extra_green=1), K=2, seed=0,
                          spec=PlannerSpec(stop=StopRule(max_steps=3)))


def test_an_exact_deployment_carries_its_optimal_values_and_reusing_them_changes_nothing(population):
    mazes = MazeDistribution(size=5, extra_green=1).sample(6, seed=4)
    dep = population.deploy(mazes, seed=1)
    K, M, N = dep.reward.shape
    _, succ, _ = stack_mazes(mazes)
    want = plain_optimal_values(dep.reward.reshape(K * M, N), np.tile(succ, (K, 1, 1)), population.spec.gamma)
    assert np.array_equal(dep.optimal, want.reshape(K, M, N))
    again = population.deploy(mazes, seed=2, budget=60)
    reused = population.deploy(mazes, seed=2, budget=60, values=dep.optimal)
    for field in ("positions", "success", "lengths", "mesa_return", "oracle_mesa_return", "optimal"):
        assert np.array_equal(getattr(again, field), getattr(reused, field))
    assert population.deploy(mazes, seed=1, horizon=3).optimal is None


def test_mesa_optimum_attained_with_given_values_equals_computing_them(population):
    mazes = MazeDistribution(size=5, extra_green=1).sample(6, seed=5)
    dep = population.deploy(mazes, seed=1, horizon=2)  # planned with a budget: no optimal values carried
    exact = population.deploy(mazes, seed=3)
    assert np.array_equal(mesa_optimum_attained(dep, 1e-6, exact.optimal), mesa_optimum_attained(dep, 1e-6))
    assert np.array_equal(mesa_optimum_attained(exact), mesa_optimum_attained(exact, values=exact.optimal))


def test_maze_distances_are_a_fresh_breadth_first_search_every_time():
    m = _mazes(6, 1, 7)[0]
    for target in (None, m.entrance, (2, 3)):
        t = m.exit if target is None else target
        dist = np.full(m.n_cells, -1)
        dist[m.index(t)] = 0
        queue = deque([m.index(t)])
        while queue:
            s = queue.popleft()
            for a in range(1, 5):
                nxt = m.successors[s, a]
                if m.valid[s, a] and dist[nxt] < 0:
                    dist[nxt] = dist[s] + 1
                    queue.append(nxt)
        first = m.distances(target)
        assert np.array_equal(first, dist.reshape(m.size, m.size))
        first[:] = 99  # the caller's copy: the maze's own answer is unchanged
        assert np.array_equal(m.distances(target), dist.reshape(m.size, m.size))


def test_examples_sharing_a_run_cache_measure_what_they_measure_alone():
    from scenarios.maze_examples import Example2Params, Example3Params, measure_example
    from scenarios.machinery.registry import RunOptions

    small = dict(population=2, eval_mazes=6, irl_mazes=3, irl_steps=10, probe_mazes=2)
    options = RunOptions(steps=3, progress=False)
    alone = measure_example(3, options, Example3Params(**small))
    cache = {}
    measure_example(2, options, Example2Params(**small), cache)  # Example 3 trains as Example 2 does
    shared = measure_example(3, options, Example3Params(**small), cache)
    assert any(k[0] == "run" for k in cache)
    for name, f in alone.figures.items():
        g = shared.figures[name]
        for field in ("success", "attainment", "mesa_optimal", "similarity", "irl_weights", "mesa_gap"):
            a, b = getattr(f, field), getattr(g, field)
            assert (a is None and b is None) or np.array_equal(a, b, equal_nan=True)
    assert [v.verdict for v in alone.verdicts] == [v.verdict for v in shared.verdicts]
    for name, run in alone.runs.items():
        for k, v in run.trajectory.values.items():
            assert np.array_equal(v, shared.runs[name].trajectory.values[k], equal_nan=True)
