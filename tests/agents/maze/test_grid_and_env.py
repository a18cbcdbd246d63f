import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from agents.maze.grid import ACTIONS, MOVES, Maze, MazeDistribution, carve_passages, stack_mazes
from hierarchy.errors import MesastackError, ParameterError
from agents.maze.env import MazeEnv
from agents.maze.env_checker import CHECKS, check_env, check_reset_seed, check_seed_changes
from agents.maze.errors import EnvironmentProtocolError
from agents.maze.objectives import exit_distance_objective, proxy_objective
from agents.maze.policies import RandomWalk, ShortestPath
from agents.maze.rollout import outcome_of, rollout, run_episode


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
    ss = np.random.SeedSequence(6)
    c = d.sample(10, seed=ss)
    c2 = d.sample(10, seed=ss)  # sampling does not consume the SeedSequence
    assert all(np.array_equal(x.passages, y.passages) for x, y in zip(c, c2))
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


# --- the environment (agents/maze/env.py, env_checker.py, rollout.py) ---------------------------------------------------

def legal_step(m, p, q):
    return tuple(q) == tuple(p) or tuple(q) in m.neighbours(tuple(p))


def test_invalid_moves_keep_the_agent_in_place():
    m = MazeDistribution(size=5).sample(1, seed=3)[0]
    env = MazeEnv(m)
    for a in range(5):
        _, info = env.reset()
        start = info["position"]
        _, _, _, _, info = env.step(a)
        if a == 0 or a not in m.valid_actions(start):
            assert info["position"] == start
        else:
            assert info["position"] in m.neighbours(start)


def test_seen_reward_is_kept_apart_from_performance():
    for visible in (0.0, 1.0):
        m = MazeDistribution(size=5, exit_visible=visible).sample(1, seed=0)[0]
        env = MazeEnv(m)
        _, info = env.reset()
        act = ShortestPath().start(m, np.random.default_rng(0))
        seen = perf = 0.0
        terminated = truncated = False
        while not (terminated or truncated):
            _, r, terminated, truncated, info = env.step(act(info["position"]))
            seen += r
            perf += info["performance"]
        assert perf == 1.0 and info["at_exit"] and terminated and not truncated
        assert seen == visible


def test_budget_truncates_and_finished_episode_refuses_steps():
    m = MazeDistribution(size=4).sample(1, seed=0)[0]
    env = MazeEnv(m, budget=3)
    env.reset()
    out = [env.step(0) for _ in range(3)]
    assert [o[3] for o in out] == [False, False, True] and not any(o[2] for o in out)
    with pytest.raises(EnvironmentProtocolError):
        env.step(0)
    with pytest.raises(EnvironmentProtocolError):
        MazeEnv(m).step(0)
    with pytest.raises(ParameterError):
        MazeEnv(m, budget=0)


def test_distribution_env_draws_the_maze_from_the_seed():
    env = MazeEnv(MazeDistribution(size=6))
    a, _ = env.reset(seed=4)
    b, _ = env.reset(seed=4)
    c, _ = env.reset(seed=5)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.shape == (6, 6, 9) and a[..., 8].sum() == 1
    # seed=None continues: the next episodes play mazes 1, 2 of the seed's sample
    env.reset(seed=4)
    mazes = MazeDistribution(size=6).sample(3, seed=4)
    for m in mazes[1:]:
        env.reset()
        assert np.array_equal(env.maze.passages, m.passages)


def test_check_env_accepts_the_maze_env():
    assert check_env(MazeEnv(MazeDistribution(size=5, extra_green=1))) == (5, 5, 9)
    assert check_env(MazeEnv(MazeDistribution(size=2)), steps=40) == (2, 2, 9)  # episodes end and restart
    fixed = MazeDistribution(size=4).sample(1, seed=0)[0]
    with pytest.raises(EnvironmentProtocolError, match="ignores its seed"):
        check_env(MazeEnv(fixed))  # nothing random in a fixed maze: the seed check must be skipped by name
    assert check_env(MazeEnv(fixed), random=False) == (4, 4, 9)
    assert [c.__name__ for c in CHECKS][-2:] == ["check_reset_seed", "check_seed_changes"]


class Broken(MazeEnv):
    def __init__(self, flaw):
        super().__init__(MazeDistribution(size=4))
        self.flaw = flaw
        self.calls = 0

    def reset(self, seed=None, options=None):
        if self.flaw == "no_options" and options is not None:
            raise TypeError("unexpected keyword options")
        if self.flaw == "ignores_seed":
            seed = 0
        obs, info = super().reset(seed=seed)
        self.calls += 1
        if self.flaw == "irreproducible":
            obs = obs + self.calls
        if self.flaw == "old_reset":
            return obs
        return obs, info

    def step(self, action):
        obs, r, terminated, truncated, info = super().step(action)
        if self.flaw == "shape":
            return obs[:2], r, terminated, truncated, info
        if self.flaw == "no_performance":
            return obs, r, terminated, truncated, {"position": info["position"]}
        if self.flaw == "arity":
            return obs, r, terminated or truncated, info  # the pre-0.26 4-tuple
        if self.flaw == "reward":
            return obs, float("nan"), terminated, truncated, info
        if self.flaw == "flag":
            return obs, r, 1, truncated, info
        if self.flaw == "crash":
            raise RuntimeError("boom")
        return obs, r, terminated, truncated, info


@pytest.mark.parametrize("flaw", ["shape", "no_performance", "arity", "reward", "flag", "irreproducible", "crash",
                                  "old_reset", "no_options", "ignores_seed"])
def test_check_env_names_each_flaw_in_one_line(flaw):
    with pytest.raises(EnvironmentProtocolError) as info:
        check_env(Broken(flaw))
    assert "\n" not in str(info.value)


def test_check_env_refuses_objects_without_the_protocol():
    with pytest.raises(EnvironmentProtocolError, match="reset"):
        check_env(object())


class Corridor:
    """A user's environment, written here: a corridor of ``length`` cells; the agent starts at a
    seeded random cell, moves left (0) or right (1); the designer wants the right end; the agent
    sees a reward only on even cells."""

    n_actions = 2

    def __init__(self, length=6, ignore_seed=False):
        self.length, self.ignore_seed, self.rng = length, ignore_seed, None

    def reset(self, seed=None, options=None):
        if seed is not None or self.rng is None:
            self.rng = np.random.default_rng(0 if (seed is None or self.ignore_seed) else seed)
        self.x = int(self.rng.integers(0, self.length - 1))
        self.t = 0
        return np.array([self.x], dtype=np.float64), {"position": self.x}

    def step(self, action):
        self.x = min(max(self.x + (1 if action == 1 else -1), 0), self.length - 1)
        self.t += 1
        at_end = self.x == self.length - 1
        info = {"position": self.x, "performance": float(at_end)}
        return np.array([self.x], dtype=np.float64), float(self.x % 2 == 0), at_end, self.t >= 20, info


def test_a_user_environment_passes_the_checker_and_runs_in_an_episode():
    env = Corridor()
    assert check_env(env) == (1,)
    ep = run_episode(env, lambda obs, info: 1, seed=3)
    start = ep.infos[0]["position"]
    # always right: reaches the end in length - 1 - start moves, seen reward on every even cell passed
    assert ep.terminated and not ep.truncated and ep.length == 5 - start
    assert ep.performance.tolist() == [0.0] * (ep.length - 1) + [1.0]
    assert ep.rewards.tolist() == [float(x % 2 == 0) for x in range(start + 1, 6)]


def test_a_seed_ignoring_environment_fails_the_seed_check():
    env = Corridor(ignore_seed=True)
    check_reset_seed(env)  # it repeats itself ...
    with pytest.raises(EnvironmentProtocolError, match="ignores its seed"):
        check_seed_changes(env)  # ... but no seed changes anything
    with pytest.raises(EnvironmentProtocolError, match="ignores its seed"):
        check_env(env)


def test_rollout_accepts_any_environment_that_passes_the_checker():
    class Hurried(MazeEnv):
        """A user's maze environment with its own time limit: every episode is cut after 4 steps."""

        def step(self, action):
            obs, r, terminated, truncated, info = super().step(action)
            return obs, r, terminated, truncated or (not terminated and info["t"] >= 4), info

    mazes = MazeDistribution(size=5).sample(12, seed=2)
    r = rollout(ShortestPath(), mazes, env=Hurried)
    d = np.array([int(m.distances()[m.entrance]) for m in mazes])
    assert r.lengths.tolist() == np.minimum(d, 4).tolist()
    assert r.success.tolist() == (d <= 4).tolist() and 0 < r.success.sum() < len(mazes)

    class NoInfo(MazeEnv):
        def reset(self, seed=None, options=None):
            return super().reset(seed=seed, options=options)[0]

    with pytest.raises(EnvironmentProtocolError, match="reset"):
        rollout(ShortestPath(), mazes, env=NoInfo)


def test_shortest_path_rollout_is_optimal_and_padded():
    mazes = MazeDistribution(size=7, extra_green=2).sample(20, seed=1)
    r = rollout(ShortestPath(), mazes)
    assert r.positions.shape == (20, 99, 2)
    assert r.success.all() and (r.performance == 1).all()
    assert r.lengths.tolist() == [int(m.distances()[m.entrance]) for m in mazes]
    for m, p, n in zip(mazes, r.positions, r.lengths):
        assert (p[n:] == m.exit).all()
    D = exit_distance_objective(mazes)(r.positions)
    assert D.shape == (20, 99)
    # the distance falls by exactly one per step until the exit
    for d, n in zip(D, r.lengths):
        assert np.array_equal(d[: n + 1], d[0] - np.arange(n + 1)) and (d[n:] == 0).all()
    assert set(r.outcomes()) == {"exit"}


def test_random_walk_moves_legally_and_reproduces():
    mazes = MazeDistribution(size=6).sample(10, seed=2)
    a = rollout(RandomWalk(), mazes, seed=7)
    b = rollout(RandomWalk(), mazes, seed=7)
    c = rollout(RandomWalk(), mazes, seed=8)
    assert np.array_equal(a.positions, b.positions) and not np.array_equal(a.positions, c.positions)
    for m, p in zip(mazes, a.positions):
        assert tuple(p[0]) == m.entrance
        assert all(legal_step(m, p[t], p[t + 1]) for t in range(len(p) - 1))
    assert ((a.lengths == 72) | a.success).all()


def test_objectives_on_population_states_average_over_mazes():
    mazes = MazeDistribution(size=5).sample(3, seed=0)
    r = rollout(ShortestPath(), mazes)
    D = exit_distance_objective(mazes)
    states = np.stack([r.positions.transpose(1, 0, 2)] * 2)  # [K=2, T, M=3, 2]
    assert np.allclose(D(states)[0], D(r.positions).mean(0))
    P = proxy_objective(mazes)(r.positions)
    assert (P[:, -1] == -1).all()  # the exit is right of the green cell by the exit
    with pytest.raises(ParameterError):
        D(np.zeros((4, 3, 2)))


def test_outcomes_classify_where_episodes_end():
    m = MazeDistribution(size=6, extra_green=2, green_by_exit="never").sample(1, seed=0)[0]
    g = m.decoys[0]
    assert outcome_of(m, g, False) == "decoy"
    assert outcome_of(m, (g[0], g[1] + 1), False) == "decoy"
    assert outcome_of(m, m.entrance, False) == "elsewhere"
    assert outcome_of(m, m.exit, True) == "exit"
