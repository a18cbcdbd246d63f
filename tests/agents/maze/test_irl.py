import numpy as np
import pytest

from agents.maze.irl import (designer_features, expected_feature_counts, irl_dynamics, maxent_irl, sample_paths,
                        soft_backward)
from agents.maze.grid import MazeDistribution
from agents.maze.policies import ShortestPath
from agents.maze.rollout import rollout
from agents.maze.planner import PlannerSpec
from agents.maze.planner_training import train_planners
from agents.maze.planning import action_values, greedy_paths, optimal_values
from agents.maze.reachability import conflict_probe
from hierarchy.errors import ParameterError


def all_paths(succ, valid, start, H):
    """Every H-move path from ``start`` (a move = one valid action)."""
    paths = [(start,)]
    for _ in range(H):
        paths = [p + (int(succ[p[-1], a]),) for p in paths for a in range(5) if valid[p[-1], a]]
    return paths


@pytest.mark.parametrize("absorbing", [False, True])
def test_partition_function_and_expected_counts_match_enumeration(absorbing):
    rng = np.random.default_rng(0)
    for seed in range(3):
        m = MazeDistribution(size=3, extra_green=1).sample(1, seed=seed)[0]
        succ, valid = irl_dynamics([m], absorbing)
        phi = designer_features(m).reshape(m.n_cells, -1)
        w = rng.normal(size=3)
        H = 4
        r = phi @ w
        V0, values = soft_backward(r[None], succ, valid, H)
        start = m.index(m.entrance)
        paths = all_paths(succ[0], valid[0], start, H)
        scores = np.array([r[list(p)].sum() for p in paths])
        assert V0[0, start] == pytest.approx(np.log(np.exp(scores).sum()), rel=1e-12)
        probs = np.exp(scores - scores.max())
        probs /= probs.sum()
        feats = np.array([phi[list(p)].sum(0) for p in paths])
        expected = expected_feature_counts(phi[None], r[None], values, succ, valid, np.array([start]))
        assert np.allclose(expected[0], probs @ feats, atol=1e-10)


def test_the_fitted_gradient_is_expert_minus_expected_counts():
    mazes = MazeDistribution(size=4, extra_green=1).sample(5, seed=2)
    pos = rollout(ShortestPath(), mazes).positions
    res = maxent_irl(mazes, pos, steps=0)  # at w = 0
    succ, valid = irl_dynamics(mazes)
    phi = np.stack([designer_features(m).reshape(m.n_cells, -1) for m in mazes])
    H = pos.shape[1] - 1
    r = np.zeros(phi.shape[:2])
    _, values = soft_backward(r, succ, valid, H)
    starts = np.array([m.index(m.entrance) for m in mazes])
    expected = expected_feature_counts(phi, r, values, succ, valid, starts).mean(0)
    idx = pos[..., 0] * 4 + pos[..., 1]
    expert = np.stack([phi[j, idx[j]].sum(0) for j in range(5)]).mean(0)
    assert res.grad_norm[0] == pytest.approx(np.linalg.norm(expert - expected), rel=1e-9)


def test_the_gradient_away_from_zero_is_expert_minus_expected_counts_minus_l2_w():
    mazes = MazeDistribution(size=4, extra_green=1).sample(5, seed=2)
    pos = rollout(ShortestPath(), mazes).positions
    l2 = 0.3
    res = maxent_irl(mazes, pos, steps=3, l2=l2)  # grad_norm at the weights after 3 steps
    w = res.weights[0]
    assert np.linalg.norm(w) > 0.1
    succ, valid = irl_dynamics(mazes)
    phi = np.stack([designer_features(m).reshape(m.n_cells, -1) for m in mazes])
    H = pos.shape[1] - 1
    r = phi @ w
    _, values = soft_backward(r, succ, valid, H)
    starts = np.array([m.index(m.entrance) for m in mazes])
    expected = expected_feature_counts(phi, r, values, succ, valid, starts).mean(0)
    idx = pos[..., 0] * 4 + pos[..., 1]
    expert = np.stack([phi[j, idx[j]].sum(0) for j in range(5)]).mean(0)
    assert res.grad_norm[0] == pytest.approx(np.linalg.norm(expert - expected - l2 * w), rel=1e-9)
    log_z = values[0][np.arange(5), starts]
    ll = np.mean([phi[j, idx[j]].sum(0) @ w for j in range(5)] - log_z) - 0.5 * l2 * w @ w
    assert res.log_likelihood[0] == pytest.approx(ll, rel=1e-12)


def test_a_systems_fit_does_not_depend_on_the_others_fitted_with_it():
    """Bit for bit, on one machine: each system's rows are reduced on their own (no matrix product over the
    batch, whose rounding changed with the batch's shape: 1.8e-15 in a gradient norm here before)."""
    mazes = MazeDistribution(size=7, extra_green=2).sample(12, seed=1)
    rng = np.random.default_rng(0)
    pos = np.stack([sample_paths(mazes, w, 20, rng) for w in rng.normal(size=(8, 3))])
    together = maxent_irl(mazes, pos, steps=15)
    for k in range(8):
        alone = maxent_irl(mazes, pos[[k]], steps=15)
        for name in ("weights", "log_likelihood", "grad_norm"):
            assert np.array_equal(getattr(alone, name)[0], getattr(together, name)[k]), (k, name)
        assert np.array_equal(alone.history[0], together.history[k][: alone.history.shape[1]])
    two = maxent_irl(mazes, pos[[5, 2]], steps=15)  # another order, another batch
    assert np.array_equal(two.weights, together.weights[[5, 2]])


def test_irl_recovers_a_boltzmann_experts_reward():
    mazes = MazeDistribution(size=5, extra_green=2, green_by_exit=0.5).sample(60, seed=0)
    w_true = np.array([-0.4, 0.5, 0.8])
    pos = sample_paths(mazes, w_true, 30, np.random.default_rng(1))
    res = maxent_irl(mazes, pos, l2=0.0)
    w = res.weights[0]
    assert w @ w_true / np.linalg.norm(w) / np.linalg.norm(w_true) > 0.9
    assert res.grad_norm[0] < 1e-4
    assert np.all(np.diff(res.history[0]) >= -1e-9)  # the ascent never lowers the objective


def planner_rollout(mazes, w, gamma=0.95, seed=0):
    """A deterministic planner maximizing the linear reward w . designer features."""
    phi = np.stack([designer_features(m).reshape(m.n_cells, -1) for m in mazes])
    r = phi @ w
    succ = np.stack([m.successors for m in mazes])
    valid = np.stack([m.valid for m in mazes])
    q = action_values(r, optimal_values(r, succ, gamma), succ, valid, gamma)
    starts = np.array([m.index(m.entrance) for m in mazes])
    exits = np.array([m.index(m.exit) for m in mazes])
    path, ok, _ = greedy_paths(q, succ, starts, exits, 2 * mazes[0].n_cells, np.random.default_rng(seed))
    n = mazes[0].size
    return np.stack([path // n, path % n], -1), ok


@pytest.mark.parametrize("w_true", [(-0.2, 0.0, 1.0), (-0.2, 1.0, 0.0)])
def test_irl_of_a_deterministic_planner_reproduces_its_behaviour(w_true):
    w_true = np.array(w_true)
    probe = conflict_probe(5)
    train, held = probe.sample(30, seed=3), probe.sample(40, seed=4)
    pos, _ = planner_rollout(train, w_true)
    res = maxent_irl(train, pos)
    w = res.weights[0]
    assert int(np.argmax(w)) == int(np.argmax(w_true))
    a, ok_a = planner_rollout(held, w_true)
    b, ok_b = planner_rollout(held, w)
    same = [(x[-1] == y[-1]).all() for x, y in zip(a, b)]
    assert np.mean(same) >= 0.9 and np.mean(ok_a == ok_b) >= 0.9


def test_behavioral_objective_of_trained_planners():
    pm = conflict_probe(7).sample(20, seed=5)
    for dist, winner in ((MazeDistribution(size=7, exit_visible=0.5), "right_of_green"),
                         (MazeDistribution(size=7, extra_green=2), "exit")):
        pop = train_planners(dist, K=2, seed=0, spec=PlannerSpec(n_mazes=8))
        res = maxent_irl(pm, pop.deploy(pm).positions)
        for row in res.as_dict():
            other = "exit" if winner == "right_of_green" else "right_of_green"
            assert row[winner] > row[other]


def test_identical_systems_get_identical_answers_and_errors_are_named():
    mazes = MazeDistribution(size=4).sample(4, seed=0)
    pos = rollout(ShortestPath(), mazes).positions
    res = maxent_irl(mazes, np.stack([pos, pos, pos]), steps=20)
    assert res.weights.shape == (3, 3) and np.array_equal(res.weights[0], res.weights[2])
    assert res.reward_map(mazes[0]).shape == (3, 4, 4)
    bad = pos.copy()
    bad[0, 1] = (0, 0) if tuple(bad[0, 0]) != (0, 0) else (3, 3)  # a jump
    with pytest.raises(ParameterError):
        maxent_irl(mazes, bad)
    with pytest.raises(ParameterError):
        maxent_irl(mazes[:3], pos)
    with pytest.raises(ParameterError):
        maxent_irl(mazes, pos, horizon=10_000)
