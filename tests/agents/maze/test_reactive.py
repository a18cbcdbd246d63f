import numpy as np
import pytest

from agents.maze.grid import MazeDistribution
from agents.maze.policies import RandomWalk
from agents.maze.rollout import rollout
from agents.maze.reactive import OBS_SIZE, ReactiveSpec, local_observations, train_reactive
from hierarchy.errors import ParameterError

DIST = MazeDistribution(size=6)
SPEC = ReactiveSpec(steps=80, n_mazes=12)


@pytest.fixture(scope="module")
def population():
    return train_reactive(DIST, K=3, seed=0, spec=SPEC)


def test_local_observation_layout():
    m = MazeDistribution(size=5, extra_green=2).sample(1, seed=1)[0]
    f = m.features()
    for r in range(5):
        for c in range(5):
            o = local_observations([m], np.array([0]), np.array([[r, c]]), np.array([3]))[0]
            assert o.shape == (OBS_SIZE,)
            block = o[:27].reshape(3, 3, 3)
            for dr in range(3):
                for dc in range(3):
                    rr, cc = r + dr - 1, c + dc - 1
                    inside = 0 <= rr < 5 and 0 <= cc < 5
                    assert np.array_equal(block[dr, dc], f[rr, cc, :3] if inside else np.zeros(3))
            assert np.array_equal(o[27:31], m.passages[r, c, 1:]) and o[31:].tolist() == [0, 0, 0, 1, 0]


def test_learns_to_solve_mazes_better_than_chance(population):
    train_success = np.mean([population.deploy(population.training_mazes[k], seed=1).success[k].mean()
                             for k in range(population.K)])
    test = DIST.sample(60, seed=123)
    chance = rollout(RandomWalk(), test, seed=0).success.mean()
    learned = population.deploy(test, seed=0).success.mean(1)
    assert train_success > chance + 0.3
    assert (learned > chance + 0.2).all()
    assert (population.training["L"][:, -1] < population.training["L"][:, 0]).all()


def test_deterministic_from_the_seed(population):
    again = train_reactive(DIST, K=3, seed=0, spec=SPEC)
    for name in population.params:
        assert np.array_equal(population.params[name], again.params[name])
    mazes = DIST.sample(5, seed=7)
    a, b = population.deploy(mazes, seed=2), again.deploy(mazes, seed=2)
    assert np.array_equal(a.positions, b.positions)
    other = train_reactive(DIST, K=3, seed=1, spec=SPEC)
    assert not np.allclose(other.params["W1"], population.params["W1"])


def test_batched_greedy_deployment_equals_the_single_policy():
    pop = train_reactive(DIST, K=2, seed=0, spec=ReactiveSpec(steps=30, n_mazes=6, greedy=True))
    mazes = DIST.sample(8, seed=9)
    dep = pop.deploy(mazes)
    for k in range(2):
        r = rollout(pop.copy(k), mazes)
        assert np.array_equal(r.positions, dep.positions[k]) and np.array_equal(r.success, dep.success[k])


def numpy_loss(params, mazes, wd):
    """An independent numpy implementation of the behaviour-cloning loss of one copy."""
    total, count = 0.0, 0
    for m in mazes:
        states, actions = m.expert_moves()
        prev = 0
        for s, a in zip(states, actions):
            r, c = m.cell(s)
            o = local_observations([m], np.array([0]), np.array([[r, c]]), np.array([prev]))[0]
            z = np.tanh(o @ params["W1"][0] + params["b1"][0]) @ params["W2"][0] + params["b2"][0]
            z = np.where(m.passages[r, c], z, -np.inf)
            total -= z[a] - (np.log(np.exp(z - z.max()).sum()) + z.max())
            count += 1
            prev = a
    return total / count + 0.5 * wd * sum((v ** 2).sum() for v in params.values())


def test_recorded_L_and_G_match_an_independent_computation():
    spec = ReactiveSpec(steps=1, n_mazes=2, hidden=4)
    pop = train_reactive(MazeDistribution(size=4), K=1, seed=4, spec=spec)
    init = train_reactive(MazeDistribution(size=4), K=1, seed=4, spec=ReactiveSpec(steps=0, n_mazes=2, hidden=4))
    mazes = pop.training_mazes[0]
    assert pop.training["L"][0, 0] == pytest.approx(numpy_loss(init.params, mazes, spec.weight_decay), rel=1e-10)
    g2, h = 0.0, 1e-6
    for name, arr in init.params.items():
        for idx in np.ndindex(arr.shape):
            plus = {n: v.copy() for n, v in init.params.items()}
            minus = {n: v.copy() for n, v in init.params.items()}
            plus[name][idx] += h
            minus[name][idx] -= h
            d = (numpy_loss(plus, mazes, spec.weight_decay) - numpy_loss(minus, mazes, spec.weight_decay)) / (2 * h)
            g2 += d * d
    assert pop.training["G"][0, 0] == pytest.approx(g2, rel=1e-5)


def test_moves_are_legal_and_errors_are_named():
    pop = train_reactive(DIST, K=1, seed=4, spec=ReactiveSpec(steps=1, n_mazes=3))
    mazes = DIST.sample(4, seed=5)
    dep = pop.deploy(mazes, seed=0)
    for m, p in zip(mazes, dep.positions[0]):
        assert all(tuple(p[t + 1]) == tuple(p[t]) or tuple(p[t + 1]) in m.neighbours(tuple(p[t])) for t in range(len(p) - 1))
    with pytest.raises(ParameterError):
        ReactiveSpec(lr=0)
    with pytest.raises(ParameterError):
        train_reactive(DIST, K=0)
