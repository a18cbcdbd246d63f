import attrs
import numpy as np
import pytest

from agents.maze.grid import Maze, MazeDistribution, stack_mazes
from agents.maze.rollout import rollout
from agents.maze.planner import PlannerSpec, StopRule
from agents.maze.planner_training import PlannerTraining, train_planners
from agents.maze.planning import (action_values, discounted_return, finite_horizon_values, greedy_paths, optimal_values,
                                  value_iteration)
from agents.maze.reachability import classify_behaviour, conflict_kind, conflict_mazes, conflict_probe, reachability
from agents.maze.reward_network import imitation_batch, imitation_loss, init_params, reward_of
from hierarchy.errors import ParameterError
from hierarchy.objective import Objective
from hierarchy.protocol import check_leaf
from hierarchy.seeding import as_seed, child

PROXY = MazeDistribution(size=7, extra_green=0, green_by_exit="always", exit_visible=0.5)
EXIT = MazeDistribution(size=7, extra_green=2, green_by_exit="always", exit_visible=1.0)


# --- planning against brute force ----------------------------------------------------------------

def open_extra(m: Maze, count: int, rng) -> Maze:
    """The maze with ``count`` more walls opened, so that it has loops."""
    p = np.array(m.passages)
    n = m.size
    for _ in range(count):
        r, c = int(rng.integers(n)), int(rng.integers(n - 1))
        p[r, c, 4] = p[r, c + 1, 3] = True
    return Maze(p, m.entrance, m.exit, m.green, m.exit_visible)


def brute_force_best(m: Maze, r: np.ndarray, gamma: float) -> tuple:
    """Best J over all simple paths from the entrance, each followed by staying at its end."""
    best, best_path = -np.inf, None
    stack = [(m.index(m.entrance),)]
    while stack:
        path = stack.pop()
        j = float(discounted_return(r[None], np.array([path]), gamma)[0])
        if j > best:
            best, best_path = j, path
        for t in m.successors[path[-1]][1:]:
            if t not in path:
                stack.append(path + (int(t),))
    return best, best_path


@pytest.mark.parametrize("size,extra", [(3, 0), (3, 4), (4, 3), (4, 6)])
def test_greedy_path_maximizes_the_planners_objective_exactly(size, extra):
    gamma = 0.9
    for s in range(6):
        rng = np.random.default_rng(100 * size + s)
        m = open_extra(MazeDistribution(size=size).sample(1, seed=s)[0], extra, rng)
        r = rng.normal(size=m.n_cells)  # continuous: the optimum is unique
        V = optimal_values(r, m.successors, gamma)
        q = action_values(r, V, m.successors, m.valid, gamma)
        path, _, _ = greedy_paths(q[None], m.successors[None], np.array([m.index(m.entrance)]), None,
                                  2 * m.n_cells, np.random.default_rng(0))
        got = float(discounted_return(r[None], path, gamma)[0])
        best, best_path = brute_force_best(m, r, gamma)
        assert got == pytest.approx(best, abs=1e-9)
        assert got == pytest.approx(V[m.index(m.entrance)], abs=1e-9)
        k = len(best_path)
        assert tuple(path[0, :k]) == best_path and (path[0, k:] == best_path[-1]).all()


def test_policy_iteration_matches_value_iteration():
    mazes = MazeDistribution(size=6, extra_green=2).sample(20, seed=3)
    f, succ, valid = stack_mazes(mazes)
    r = np.random.default_rng(0).normal(size=f.shape[:2]) * 3
    assert np.allclose(optimal_values(r, succ, 0.95), value_iteration(r, succ, valid, 0.95), atol=1e-6)


def test_a_path_that_meets_the_exit_stops_there():
    m = MazeDistribution(size=5).sample(1, seed=4)[0]
    r = np.zeros(m.n_cells)
    far = max(range(m.n_cells), key=lambda i: m.distances(m.entrance).reshape(-1)[i])
    r[far] = 1.0
    V = optimal_values(r, m.successors, 0.95)
    q = action_values(r, V, m.successors, m.valid, 0.95)
    args = (q[None], m.successors[None], np.array([m.index(m.entrance)]))
    free, _, _ = greedy_paths(*args, None, 50, np.random.default_rng(1))
    cut, ok, n = greedy_paths(*args, np.array([m.index(m.exit)]), 50, np.random.default_rng(1))
    if m.index(m.exit) in free[0]:
        t = list(free[0]).index(m.index(m.exit))
        assert ok[0] and n[0] == t and (cut[0, t:] == m.index(m.exit)).all() and (cut[0, :t] == free[0, :t]).all()
    else:
        assert not ok[0] and (cut == free).all()


def test_ties_are_broken_by_the_seeded_generator():
    m = MazeDistribution(size=5).sample(1, seed=0)[0]
    q = action_values(np.zeros(m.n_cells), np.zeros(m.n_cells), m.successors, m.valid, 0.95)  # all valid moves tie
    args = (q[None], m.successors[None], np.array([m.index(m.entrance)]), None, 40)
    a = greedy_paths(*args, np.random.default_rng(3))[0]
    b = greedy_paths(*args, np.random.default_rng(3))[0]
    c = [greedy_paths(*args, np.random.default_rng(s))[0] for s in range(4, 10)]
    assert np.array_equal(a, b) and any(not np.array_equal(a, x) for x in c)


# --- training -----------------------------------------------------------------------------------

def numpy_loss(params, mazes, k, gamma, iterations, wd):
    """An independent numpy implementation of the base objective L_b for copy k."""
    W1, b1, W2 = (params[n][k] for n in ("W1", "b1", "W2"))
    total, count = 0.0, 0
    for m in mazes:
        r = (np.tanh(m.features().reshape(-1, 4) @ W1 + b1) @ W2)[:, 0]
        V = np.zeros(m.n_cells)
        for _ in range(iterations + 1):
            q = np.where(m.valid, gamma * V[m.successors], -np.inf)
            lse = np.log(np.exp(q - q.max(1, keepdims=True)).sum(1)) + q.max(1)
            newV = r + lse
            if _ < iterations:
                V = newV
        logp = q - lse[:, None]
        s, a = m.expert_moves()
        total -= logp[s, a].sum()
        count += len(s)
    l2 = sum((params[n][k] ** 2).sum() for n in ("W1", "b1", "W2"))
    return total / count + 0.5 * wd * l2


def test_recorded_L_and_G_match_an_independent_computation():
    spec = PlannerSpec(stop=StopRule(max_steps=0), n_mazes=3, soft_iterations=12)
    pop = train_planners(MazeDistribution(size=4, extra_green=1, exit_visible=0.5), K=2, seed=1, spec=spec)
    for k in range(2):
        mazes = pop.training_mazes[k]
        L = numpy_loss(pop.params, mazes, k, spec.gamma, spec.soft_iterations, spec.weight_decay)
        assert pop.training["L"][k, 0] == pytest.approx(L, rel=1e-10)
        # G by central finite differences
        g2, h = 0.0, 1e-6
        for name, arr in pop.params.items():
            for idx in np.ndindex(arr[k].shape):
                plus = {n: v.copy() for n, v in pop.params.items()}
                minus = {n: v.copy() for n, v in pop.params.items()}
                plus[name][(k,) + idx] += h
                minus[name][(k,) + idx] -= h
                d = (numpy_loss(plus, mazes, k, spec.gamma, spec.soft_iterations, spec.weight_decay)
                     - numpy_loss(minus, mazes, k, spec.gamma, spec.soft_iterations, spec.weight_decay)) / (2 * h)
                g2 += d * d
        assert pop.training["G"][k, 0] == pytest.approx(g2, rel=1e-5)


def hand_unrolled_adam(pop, seed, spec):
    """The planners' training written out in torch (the reference, not agents.training): Adam per
    tensor, step theta - (lr * m_hat) / (sqrt(v_hat) + eps), copy k moving for steps t <
    ``pop.stopped_at[k]`` only. Returns (params, L, nll, G) with G = sum of squared gradients."""
    import torch
    lr = spec.lr
    ss, K, steps = as_seed(seed), pop.K, spec.stop.max_steps
    params = init_params([child(ss, k, 0) for k in range(K)], spec.hidden, spec.init_scale)
    batch = imitation_batch(pop.training_mazes)
    m = {n: torch.zeros_like(p) for n, p in params.items()}
    v = {n: torch.zeros_like(p) for n, p in params.items()}
    count = torch.zeros(K, dtype=torch.float64)
    L, nll, G = np.zeros((K, steps + 1)), np.zeros((K, steps + 1)), np.zeros((K, steps + 1))
    for t in range(steps + 1):
        leaves = {n: p.detach().requires_grad_(True) for n, p in params.items()}
        loss, n_ll = imitation_loss(leaves, batch, spec.gamma, spec.soft_iterations, spec.weight_decay)
        grads = dict(zip(leaves, torch.autograd.grad(loss.sum(), list(leaves.values()))))
        L[:, t], nll[:, t] = loss.detach().numpy(), n_ll.detach().numpy()
        G[:, t] = sum((g.numpy() ** 2).reshape(K, -1).sum(1) for g in grads.values())
        if t == steps:
            break
        on = torch.from_numpy(t < pop.stopped_at)
        count = count + on.to(count.dtype)
        for n, p in params.items():
            shape = (-1,) + (1,) * (p.dim() - 1)
            act, c = on.reshape(shape), count.reshape(shape)
            m_new = 0.9 * m[n] + (1 - 0.9) * grads[n]
            v_new = 0.999 * v[n] + (1 - 0.999) * grads[n] * grads[n]
            step = (lr * (m_new / (1 - 0.9 ** c))) / (torch.sqrt(v_new / (1 - 0.999 ** c)) + 1e-8)
            m[n], v[n] = torch.where(act, m_new, m[n]), torch.where(act, v_new, v[n])
            params[n] = torch.where(act, p - step, p)
    return {n: p.numpy() for n, p in params.items()}, L, nll, G


@pytest.mark.parametrize("rule", [StopRule(max_steps=6),
                                  StopRule(max_steps=12, success_at_least=0.75, check_every=2, min_steps=1)])
def test_training_is_adam_through_the_loop_bit_for_bit(rule):
    """The loop's Adam (rate in the numerator) on the planners equals the hand-written Adam of that
    order bit for bit, stopped copies included; G equals the sum of squared gradients to rounding."""
    spec = PlannerSpec(n_mazes=3, soft_iterations=10, hidden=6, stop=rule)
    pop = train_planners(PROXY, K=3, seed=6, spec=spec)
    params, L, nll, G = hand_unrolled_adam(pop, 6, spec)
    for n in params:
        np.testing.assert_array_equal(pop.params[n], params[n])
    np.testing.assert_array_equal(pop.training["L"], L)
    np.testing.assert_array_equal(pop.training["nll"], nll)
    np.testing.assert_allclose(pop.training["G"], G, rtol=1e-13, atol=0)
    if rule.success_at_least is not None:
        assert (pop.stopped_at < 12).any() and (pop.stopped_at == 12).any()  # the case has both kinds of copy
        assert sorted(pop.training.values) == ["G", "L", "nll", "train_success"]
    else:
        assert sorted(pop.training.values) == ["G", "L", "nll"] and (pop.stopped_at == 6).all()


def test_copies_that_all_stop_at_step_0_keep_their_initial_parameters():
    rule = StopRule(max_steps=8, success_at_least=0.0)
    spec = PlannerSpec(n_mazes=2, soft_iterations=6, hidden=4, stop=rule)
    pop = train_planners(MazeDistribution(size=4), K=2, seed=3, spec=spec)
    start = init_params([child(as_seed(3), k, 0) for k in range(2)], 4, 1.0)
    for n, p in start.items():
        np.testing.assert_array_equal(pop.params[n], p.numpy())
    assert pop.stopped_at.tolist() == [0, 0]
    for name in ("L", "G", "nll", "train_success"):
        assert (pop.training[name] == pop.training[name][:, :1]).all()
    assert pop.training["L"].shape == (2, 9)
    assert [StopRule(success_at_least=0.5, check_every=3, min_steps=2).checks_at(t) for t in range(7)] == \
        [False, False, True, False, False, True, False]
    assert not StopRule().checks_at(0)


def test_training_reproduces_from_the_seed_and_copies_are_independent():
    spec = PlannerSpec(stop=StopRule(max_steps=6), n_mazes=4)
    d = MazeDistribution(size=5, exit_visible=0.5)
    a = train_planners(d, K=3, seed=7, spec=spec)
    b = train_planners(d, K=3, seed=7, spec=spec)
    one = train_planners(d, K=1, seed=7, spec=spec)
    for name in a.params:
        assert np.array_equal(a.params[name], b.params[name])
        assert np.allclose(a.params[name][:1], one.params[name], rtol=0, atol=1e-12)
    assert np.array_equal(a.training["L"], b.training["L"])
    assert np.allclose(a.training["L"][:1], one.training["L"], atol=1e-12)
    c = train_planners(d, K=3, seed=8, spec=spec)
    assert not np.allclose(a.params["W1"], c.params["W1"])
    assert (a.training["L"][:, -1] < a.training["L"][:, 0]).all()


def test_shared_mazes_give_every_copy_the_same_training_set():
    spec = PlannerSpec(stop=StopRule(max_steps=1), n_mazes=3, shared_mazes=True)
    pop = train_planners(MazeDistribution(size=4), K=3, seed=0, spec=spec)
    assert pop.training_mazes[0] is pop.training_mazes[2]


def test_early_stopping_rule_is_applied_per_copy_and_reported():
    rule = StopRule(max_steps=30, success_at_least=0.75, check_every=2, min_steps=1)
    pop = train_planners(PROXY, K=4, seed=3, spec=PlannerSpec(stop=rule, n_mazes=4))
    succ = pop.training["train_success"]
    assert pop.training.meta["stop_rule"] == rule.describe()
    assert np.isnan(succ[:, 0]).all()  # not checked before min_steps
    for k in range(4):
        checked = [t for t in range(1, 31, 2) if t <= pop.stopped_at[k]]
        reached = [t for t in checked if succ[k, t] >= 0.75]
        if reached:
            assert pop.stopped_at[k] == reached[0]
        else:
            assert pop.stopped_at[k] == 30
        s = pop.stopped_at[k]
        assert (pop.training["L"][k, s:] == pop.training["L"][k, s]).all()  # frozen after stopping
    assert (pop.stopped_at < 30).any()


def test_weight_decay_keeps_the_learned_reward_bounded():
    spec = PlannerSpec(stop=StopRule(max_steps=60), n_mazes=4)
    probe = np.array([[0, 1, 0, 1], [0, 0, 1, 1], [0, 0, 0, 1], [1, 0, 0, 1]], float)
    free = train_planners(PROXY, K=3, seed=0, spec=attrs.evolve(spec, weight_decay=0.0, lr=0.2))
    held = train_planners(PROXY, K=3, seed=0, spec=attrs.evolve(spec, weight_decay=0.1, lr=0.2))
    assert np.abs(held.reward(probe)).max() < np.abs(free.reward(probe)).max()


def _corridor(n):
    """n cells in a row; actions (stay, stay, stay, left, right); walls lead back to the cell."""
    return np.array([[i, i, i, max(i - 1, 0), min(i + 1, n - 1)] for i in range(n)])


@pytest.mark.parametrize("H", [1, 3, 5, 8, 30])
def test_finite_horizon_values_closed_form_on_a_corridor(H):
    """Reward 1 on the last of 8 cells: from distance d the best H-step sum is
    sum_{t=d}^{H-1} gamma^t = gamma^d (1 - gamma^(H-d)) / (1 - gamma) when d < H, else 0."""
    n, g = 8, 0.9
    r = np.zeros(n)
    r[-1] = 1.0
    d = n - 1 - np.arange(n)
    want = np.where(d < H, g ** d * (1 - g ** np.maximum(H - d, 0)) / (1 - g), 0.0)
    assert np.allclose(finite_horizon_values(r, _corridor(n), g, H), want, atol=1e-12)


def test_finite_horizon_values_tend_to_the_optimal_values():
    mazes = MazeDistribution(size=5, extra_green=2).sample(6, seed=4)
    f, succ, _ = stack_mazes(mazes)
    r = np.random.default_rng(1).normal(size=f.shape[:2])
    exact = optimal_values(r, succ, 0.8)
    for H in (10, 40, 160):
        # |V_H - V| <= gamma^H max|r| / (1 - gamma)
        assert np.abs(finite_horizon_values(r, succ, 0.8, H) - exact).max() <= 0.8 ** H * np.abs(r).max() / 0.2 + 1e-12
    with pytest.raises(ParameterError, match="horizon"):
        finite_horizon_values(r, succ, 0.8, 0)


def test_a_short_planning_budget_cannot_see_a_far_exit():
    """With H moves of look-ahead a planner whose reward is the exit alone cannot tell moves apart
    farther than H - 1 moves from the exit: all Q-values there are equal (the search is bounded)."""
    n, g, H = 12, 0.95, 4
    r = np.zeros(n)
    r[-1] = 1.0
    succ = _corridor(n)
    V = finite_horizon_values(r, succ, g, H)
    far = (n - 1 - np.arange(n)) >= H  # at H moves or more from the exit
    assert far.sum() == n - H and np.all(V[far] == 0.0) and np.all(V[~far] > 0)


# --- deployment ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def proxy_population():
    return train_planners(PROXY, K=4, seed=0)


def test_batched_deployment_equals_the_single_planner_policy(proxy_population):
    mazes = conflict_probe(7).sample(15, seed=2)
    dep = proxy_population.deploy(mazes, seed=0)
    for k in range(proxy_population.K):
        r = rollout(proxy_population.copy(k), mazes, seed=5)
        assert np.array_equal(r.positions, dep.positions[k])
        assert np.array_equal(r.success, dep.success[k])


def test_the_planner_optimizes_its_mesa_objective(proxy_population):
    dep = proxy_population.deploy(conflict_probe(7).sample(30, seed=3), seed=0)
    unfinished = ~dep.success
    # a path not cut short by the exit is optimal for the learned reward: no worse than the oracle's route
    assert (dep.mesa_return[unfinished] >= dep.oracle_mesa_return[unfinished] - 1e-9).all()
    assert (dep.mesa_return.mean(1) > dep.oracle_mesa_return.mean(1)).all()


def test_deployment_trajectory_evaluates_objectives_on_states(proxy_population):
    mazes = EXIT.sample(5, seed=1)
    dep = proxy_population.deploy(mazes, seed=0)
    tr = dep.trajectory()
    assert tr["exit_distance"].shape == (4, 99) and tr.states.shape == (4, 99, 5, 2)
    assert np.allclose(tr["exit_distance"][:, 0], np.mean([m.distances()[m.entrance] for m in mazes]))
    ent = np.array([m.index(m.entrance) for m in mazes])
    assert np.allclose(tr["mesa"][:, 0], -dep.reward[:, np.arange(5), ent].mean(1))


def test_reward_of_matches_the_population_reward(proxy_population):
    f = np.random.default_rng(0).random((3, 7, 4))
    p = proxy_population.params
    direct = np.tanh(np.einsum("abf,kfh->kabh", f, p["W1"]) + p["b1"][:, None, None]) @ p["W2"][:, None]
    assert np.allclose(reward_of(p, f), direct[..., 0])


# --- what training reaches ----------------------------------------------------------------------

def test_proxy_training_reaches_the_proxy_and_exit_training_the_exit():
    proxy = reachability(PROXY, K=4, seed=0, n_probe=20)
    assert proxy.fraction_proxy >= 0.75
    probe = proxy.population.reward_probe()
    assert (probe["right_of_green"] > probe["exit"]).mean() >= 0.75
    assert (proxy.population.train_success == 1.0).mean() >= 0.75  # impact-aligned on the training set (Example 2)
    ex = reachability(EXIT, K=4, seed=0, n_probe=20)
    assert ex.fraction_exit >= 0.75
    probe = ex.population.reward_probe()
    assert (probe["exit"] > probe["right_of_green"]).mean() >= 0.75


def test_conflict_mazes_have_the_kind_they_claim():
    c = conflict_mazes(conflict_probe(7), 5, seed=1)
    for kind, mazes in c.items():
        assert len(mazes) == 5
        for m in mazes:
            d = m.distances(m.entrance)
            targets = [x for g in m.decoys for x in (g, (g[0], g[1] + 1))]
            if kind == "decoy_nearer":
                assert min(d[t] for t in targets) < d[m.exit]
            else:
                assert d[m.exit] < min(d[t] for t in targets)
            assert conflict_kind(m) == kind


def test_leaf_protocol_and_errors():
    leaf = PlannerTraining(MazeDistribution(size=4), K=2, spec=PlannerSpec(n_mazes=2))
    tr = check_leaf(leaf, [Objective("L"), Objective("G")], steps=3)
    assert tr.K == 2 and tr.T == 4
    with pytest.raises(ParameterError):
        PlannerSpec(gamma=1.0)
    with pytest.raises(ParameterError):
        StopRule(success_at_least=1.5)
    with pytest.raises(ParameterError):
        train_planners(MazeDistribution(size=4), K=0)
    with pytest.raises(ParameterError):
        classify_behaviour(None, None, threshold=0.4)


def test_a_long_planning_budget_deploys_like_exact_planning(proxy_population):
    """H far beyond every distance: the same moves as exact planning (ties broken by the same seed)."""
    mazes = conflict_probe(7).sample(6, seed=4)
    a = proxy_population.deploy(mazes, seed=1)
    b = proxy_population.deploy(mazes, seed=1, horizon=2000)
    assert np.array_equal(a.positions, b.positions) and np.array_equal(a.success, b.success)
    short = proxy_population.deploy(mazes, seed=1, horizon=1)
    assert short.positions.shape == a.positions.shape
