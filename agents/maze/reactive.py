"""A reactive maze policy: a trained system that is not a mesa-optimizer (no search inside).

An MLP maps what the agent sees around it to action logits; nothing in it plans or
evaluates futures. The local observation (``OBS_SIZE`` = 36 numbers) is:

- the features ``[green, right_of_green, exit_visible]`` of the 3x3 block of cells
  around the agent (27; cells outside the grid read 0),
- which moves are open from its cell (up, down, left, right: 4),
- its previous action, one-hot (5; ``stay`` at the start).

Policy: logits = W2 tanh(W1 o + b1) + b2, walled moves masked to -inf; the agent samples
from the soft-max (seeded) or, with ``greedy``, takes the arg-max.

Training (behaviour cloning, the base objective):

    L_b(theta) = mean over expert pairs (o, a*) of -log softmax(logits(o))[a*] + (weight_decay / 2) |theta|^2

on the shortest-path expert's moves (the expert's own previous action in o), by Adam through
the one training loop (agents.training.train), K copies batched as flat per-copy parameters;
each step records L_b and G = |grad L_b|^2.
"""

from __future__ import annotations

import time
from typing import Optional, Sequence

import attrs
import numpy as np
import torch

from hierarchy.errors import ParameterError
from hierarchy.trajectory import Trajectory
from hierarchy.validators import non_negative_int, positive_int

from agents.maze.grid import Maze, MazeDistribution
from agents.maze.env import default_budget
from agents.maze.rollout import PopulationRollout
from agents.threads import torch_threads
from agents.training import adam, train
from hierarchy.seeding import as_seed, child, SeedLike

OBS_SIZE = 36
_DR = np.repeat(np.arange(3), 3)
_DC = np.tile(np.arange(3), 3)


def local_observations(mazes: Sequence[Maze], maze_index: np.ndarray, cells: np.ndarray, prev: np.ndarray) -> np.ndarray:
    """Local observations ``[B, 36]`` of agents in ``mazes[maze_index[b]]`` at ``cells [B, 2]``
    with previous actions ``prev [B]`` (see the module docstring for the layout).

    Example:
        >>> m = MazeDistribution(size=4).sample(1, seed=0)[0]
        >>> o = local_observations([m], np.array([0]), np.array([m.exit]), np.array([0]))
        >>> o.shape, float(o[0, 4 * 3 + 2])      # the centre cell's exit_visible feature
        ((1, 36), 1.0)
    """
    n = mazes[0].size
    padded = np.zeros((len(mazes), n + 2, n + 2, 3))
    for j, m in enumerate(mazes):
        padded[j, 1:-1, 1:-1] = m.features()[..., :3]
    passages = np.stack([m.passages for m in mazes])
    r, c = cells[:, 0], cells[:, 1]
    block = padded[maze_index[:, None], r[:, None] + _DR, c[:, None] + _DC]  # [B, 9, 3]
    walls = passages[maze_index, r, c, 1:]
    onehot = np.eye(5)[prev]
    return np.concatenate([block.reshape(len(cells), 27), walls, onehot], axis=1)


@attrs.frozen
class ReactiveSpec:
    """Settings of the reactive policies and their behaviour-cloning training.

    Example:
        >>> ReactiveSpec().hidden
        32
    """

    hidden: int = attrs.field(default=32, validator=positive_int)
    steps: int = attrs.field(default=150, validator=non_negative_int)
    lr: float = attrs.field(default=0.02)
    weight_decay: float = attrs.field(default=1e-3)
    n_mazes: int = attrs.field(default=16, validator=positive_int)
    greedy: bool = attrs.field(default=False)
    threads: Optional[int] = attrs.field(default=1)

    @lr.validator
    def _lr(self, attribute, value):
        if not float(value) > 0:
            raise ParameterError(f"learning rate lr={value!r} must be positive; use e.g. 0.02")

    @weight_decay.validator
    def _wd(self, attribute, value):
        if not float(value) >= 0:
            raise ParameterError(f"weight_decay={value!r} must be >= 0")


def _logits_np(params: dict, obs: np.ndarray) -> np.ndarray:
    """obs [K, B, 36] -> logits [K, B, 5]."""
    h = np.tanh(np.einsum("kbo,koh->kbh", obs, params["W1"]) + params["b1"][:, None, :])
    return np.einsum("kbh,kha->kba", h, params["W2"]) + params["b2"][:, None, :]


def _act(logits: np.ndarray, valid: np.ndarray, greedy: bool, u: Optional[np.ndarray]) -> np.ndarray:
    """Actions from logits [..., 5] with walled moves masked; sampled by inverse CDF with uniforms u [...]."""
    z = np.where(valid, logits, -np.inf)
    if greedy:
        return z.argmax(-1)
    p = np.exp(z - z.max(-1, keepdims=True))
    cdf = np.cumsum(p, -1)
    a = (cdf < u[..., None] * cdf[..., -1:]).sum(-1)
    a = np.minimum(a, 4)
    return np.where(np.take_along_axis(valid, a[..., None], -1)[..., 0], a, 0)


@attrs.frozen(eq=False)
class ReactivePolicy:
    """One trained reactive policy (copy ``k`` of a population); implements the maze-policy protocol.

    Example:
        >>> pop = train_reactive(MazeDistribution(size=4), K=1, seed=0, spec=ReactiveSpec(steps=2, n_mazes=2))
        >>> from agents.maze.rollout import rollout
        >>> rollout(pop.copy(0), MazeDistribution(size=4).sample(2, seed=1)).positions.shape
        (2, 33, 2)
    """

    params: dict
    greedy: bool = False

    def start(self, maze: Maze, rng: np.random.Generator):
        prev = [0]

        def act(position):
            obs = local_observations([maze], np.array([0]), np.array([position]), np.array([prev[0]]))
            logits = _logits_np(self.params, obs[None])[0, 0]
            valid = maze.passages[position[0], position[1]]
            u = None if self.greedy else np.array(rng.random())
            a = int(_act(logits, valid, self.greedy, u))
            prev[0] = a
            return a
        return act


@attrs.frozen(eq=False)
class ReactivePopulation:
    """K trained reactive policies and the record of their training.

    ``params``: ``W1 [K, 36, H]``, ``b1 [K, H]``, ``W2 [K, H, 5]``, ``b2 [K, 5]``;
    ``training``: Trajectory with ``L`` (cross-entropy + weight decay), ``G`` (squared
    gradient norm) and ``nll``, each ``[K, steps + 1]``; ``training_mazes`` per copy;
    ``seconds`` of training.
    """

    params: dict
    spec: ReactiveSpec
    distribution: MazeDistribution
    training: Trajectory
    training_mazes: tuple
    seconds: float

    @property
    def K(self) -> int:
        return self.params["W1"].shape[0]

    def copy(self, k: int) -> ReactivePolicy:
        """Copy ``k`` as a single :class:`ReactivePolicy`."""
        return ReactivePolicy({name: v[k: k + 1] for name, v in self.params.items()}, self.spec.greedy)

    def deploy(self, mazes: Sequence[Maze], seed: SeedLike = 0, budget: Optional[int] = None) -> PopulationRollout:
        """Run every copy once in each of ``mazes`` (one size), batched; copy k samples with
        ``default_rng(child(seed, k))``. Reaching the exit ends an episode.

        Example:
            >>> pop = train_reactive(MazeDistribution(size=4), K=2, seed=0, spec=ReactiveSpec(steps=2, n_mazes=2))
            >>> pop.deploy(MazeDistribution(size=4).sample(3, seed=1)).positions.shape
            (2, 3, 33, 2)
        """
        mazes = tuple(mazes)
        if not mazes or len({m.size for m in mazes}) != 1:
            raise ParameterError("deploy needs a non-empty list of mazes of one size")
        K, M = self.K, len(mazes)
        n = mazes[0].size
        steps = default_budget(mazes[0]) if budget is None else int(budget)
        ss = as_seed(seed)
        rngs = [np.random.default_rng(child(ss, k)) for k in range(K)]
        passages = np.stack([m.passages for m in mazes])
        maze_index = np.tile(np.arange(M), K)
        exits = np.array([m.exit for m in mazes])
        cells = np.tile(np.array([m.entrance for m in mazes]), (K, 1))  # [K * M, 2]
        prev = np.zeros(K * M, dtype=np.int64)
        done = (cells == exits[maze_index]).all(-1)
        lengths = np.zeros(K * M, dtype=np.int64)
        path = np.zeros((K * M, steps + 1), dtype=np.int64)
        path[:, 0] = cells[:, 0] * n + cells[:, 1]
        moves = np.array([[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]])
        for t in range(1, steps + 1):
            obs = local_observations(mazes, maze_index, cells, prev).reshape(K, M, OBS_SIZE)
            logits = _logits_np(self.params, obs)
            valid = passages[maze_index, cells[:, 0], cells[:, 1]].reshape(K, M, 5)
            u = None if self.spec.greedy else np.stack([g.random(M) for g in rngs])
            a = _act(logits, valid, self.spec.greedy, u).reshape(-1)
            a = np.where(done, 0, a)
            cells = cells + moves[a]
            prev = a
            lengths += ~done
            done = done | (cells == exits[maze_index]).all(-1)
            path[:, t] = cells[:, 0] * n + cells[:, 1]
        return PopulationRollout.from_paths(mazes, path.reshape(K, M, -1), done.reshape(K, M), lengths.reshape(K, M))


def _expert_data(mazes_per_copy):
    obs, act, mask = [], [], []
    P = 0
    rows = []
    for ms in mazes_per_copy:
        o_all, a_all = [], []
        for j, m in enumerate(ms):
            states, actions = m.expert_moves()
            cells = np.array([m.cell(s) for s in states])
            prev = np.r_[0, actions[:-1]]
            o_all.append(local_observations([m], np.zeros(len(states), np.int64), cells, prev))
            a_all.append(actions)
        o, a = np.concatenate(o_all), np.concatenate(a_all)
        rows.append((o, a))
        P = max(P, len(a))
    for o, a in rows:
        po = np.zeros((P, OBS_SIZE))
        pa = np.zeros(P, np.int64)
        pm = np.zeros(P, bool)
        po[: len(a)], pa[: len(a)], pm[: len(a)] = o, a, True
        obs.append(po), act.append(pa), mask.append(pm)
    valid = torch.as_tensor(np.stack(obs)[..., 27:31] > 0)
    valid = torch.cat([torch.ones(valid.shape[:-1] + (1,), dtype=torch.bool), valid], -1)
    return torch.as_tensor(np.stack(obs)), torch.as_tensor(np.stack(act)), torch.as_tensor(np.stack(mask)), valid


def _unflatten(flat: torch.Tensor, shapes: dict) -> dict:
    """Views ``{name: [K, *shape]}`` of flat per-copy parameters ``[K, P]`` (in ``shapes``' order)."""
    out, i = {}, 0
    for name, shape in shapes.items():
        n = int(np.prod(shape))
        out[name] = flat[:, i: i + n].reshape((flat.shape[0],) + shape)
        i += n
    return out


def train_reactive(distribution: MazeDistribution, K: int = 8, seed: SeedLike = 0,
                   spec: ReactiveSpec = ReactiveSpec(), progress=None) -> ReactivePopulation:
    """Train K reactive policies by behaviour cloning on shortest-path expert moves (see the module docstring).

    Copy k draws its initial parameters from ``child(seed, k, 0)`` and its training
    mazes from ``child(seed, k, 1)``. Adam (agents.training.adam, per element) keeps the
    copies independent. Same seed, same numbers.

    Example:
        >>> pop = train_reactive(MazeDistribution(size=5), K=2, seed=0, spec=ReactiveSpec(steps=5, n_mazes=4))
        >>> pop.training["L"].shape, bool((pop.training["L"][:, -1] < pop.training["L"][:, 0]).all())
        ((2, 6), True)
    """
    if not isinstance(distribution, MazeDistribution):
        raise ParameterError(f"train_reactive needs a MazeDistribution, got {type(distribution).__name__}")
    if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 1:
        raise ParameterError(f"K={K!r} copies is not a positive integer; pass e.g. K=8")
    ss = as_seed(seed)
    t0 = time.perf_counter()
    mazes = [tuple(distribution.sample(spec.n_mazes, child(ss, k, 1))) for k in range(K)]
    H = spec.hidden
    with torch_threads(spec.threads):
        W1, W2 = [], []
        for k in range(K):
            g = torch.Generator().manual_seed(int(child(ss, k, 0).generate_state(1)[0]))
            W1.append(torch.randn(OBS_SIZE, H, generator=g, dtype=torch.float64) / np.sqrt(OBS_SIZE))
            W2.append(torch.randn(H, 5, generator=g, dtype=torch.float64) / np.sqrt(H))
        params = {"W1": torch.stack(W1), "b1": torch.zeros(K, H, dtype=torch.float64),
                  "W2": torch.stack(W2), "b2": torch.zeros(K, 5, dtype=torch.float64)}
        shapes = {k: tuple(v.shape[1:]) for k, v in params.items()}
        theta = torch.cat([v.reshape(K, -1) for v in params.values()], 1)
        obs, act, mask, valid = _expert_data(mazes)
        neg = torch.tensor(-torch.inf, dtype=torch.float64)

        def step(flat, t):
            with torch.enable_grad():
                x = flat.detach().requires_grad_(True)
                p = _unflatten(x, shapes)
                h = torch.tanh(torch.baddbmm(p["b1"][:, None, :], obs, p["W1"]))
                logits = torch.baddbmm(p["b2"][:, None, :], h, p["W2"])
                logp = torch.log_softmax(torch.where(valid, logits, neg), -1)
                lp = torch.gather(logp, 2, act[..., None])[..., 0]
                nll = -(lp * mask).sum(1) / mask.sum(1)
                loss = nll + 0.5 * spec.weight_decay * (x ** 2).sum(1)
                (grad,) = torch.autograd.grad(loss.sum(), x)
            return loss.detach(), grad, {"nll": nll.detach()}

        if spec.steps:
            run = train(step, theta, adam(spec.lr), spec.steps, progress=progress, progress_every=1)
            final_flat, values = torch.as_tensor(run.params), run.values
        else:  # no step: the untrained policies and their record at step 0
            loss, grad, rec = step(theta, 0)
            final_flat = theta
            values = {"L": loss.numpy()[:, None], "G": (grad ** 2).sum(1).numpy()[:, None],
                      "nll": rec["nll"].numpy()[:, None]}
        final = {k: v.detach().numpy().copy() for k, v in _unflatten(final_flat, shapes).items()}
        L, G, NLL = values["L"], values["G"], values["nll"]
    training = Trajectory({"L": L, "G": G, "nll": NLL}, meta={"spec": attrs.asdict(spec), "distribution": attrs.asdict(distribution)})
    return ReactivePopulation(final, spec, distribution, training, tuple(mazes), time.perf_counter() - t0)
