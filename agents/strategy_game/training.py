"""Training the strategy-game policy: REINFORCE with a per-turn batch baseline, K copies at once."""

from __future__ import annotations

import math
from typing import Sequence

import attrs
import numpy as np
import torch

from agents.training import adam, train
from hierarchy.errors import ParameterError
from hierarchy.seeding import child, children, generator
from hierarchy.trajectory import Trajectory
from agents.strategy_game.copy_noise import step_noise
from agents.strategy_game.episodes import one_thread, play_drawn
from agents.strategy_game.game import GameRules, SeedLike, StrategyGame, check_objective
from agents.strategy_game.policy import StrategyPolicy, init_params

__all__ = ["reinforce_loss", "check_counts", "train_policy", "case_seeds", "StrategyTrainer"]

def reinforce_loss(values: torch.Tensor, logp: torch.Tensor, entropy: torch.Tensor, K: int, entropy_coef: float) -> torch.Tensor:
    """Per-copy REINFORCE loss [K] from objective values [T + 1, N], log-probabilities and entropies [T, N].

    reward_t = objective(s_{t+1}) - objective(s_t) (so the rewards sum to the final
    objective minus the start); return-to-go R_t = sum_{t' >= t} reward_t'; advantage
    A_t = (R_t - mean_b R_t) / (std_b R_t + 1e-6) over the copy's batch b (the baseline);
    loss_k = -mean_b sum_t A_t log pi(a_t | s_t) - entropy_coef * mean_{t, b} entropy.
    Rows of N are copy-major (K copies of B games).

    Example:
        >>> import torch
        >>> v = torch.tensor([[0.0, 0.0], [1.0, 0.0]])     # T = 1 turn, 2 games of one copy: rewards 1 and 0
        >>> lp = torch.log(torch.tensor([[0.8, 0.5]]))   # advantages +-1/sqrt(2)
        >>> round(float(reinforce_loss(v, lp, torch.zeros(1, 2), 1, 0.0)[0]), 4)   # -(log .8 - log .5) / (2 sqrt 2)
        -0.1662
    """
    T, N = logp.shape
    B = N // K
    rew = (values[1:] - values[:-1]).reshape(T, K, B)
    togo = rew.flip(0).cumsum(0).flip(0)
    adv = (togo - togo.mean(-1, keepdim=True)) / (togo.std(-1, keepdim=True) + 1e-6)
    return -(adv * logp.reshape(T, K, B)).sum(0).mean(-1) - entropy_coef * entropy.reshape(T, K, B).mean((0, 2))


def check_counts(**counts):
    """Refuse impossible counts: ``steps`` below 0, any other count below 1 (ParameterError)."""
    bad = {k: v for k, v in counts.items() if v < (0 if k == "steps" else 1)}
    if bad:
        raise ParameterError(f"impossible {bad}; give steps >= 0 and population, episodes >= 1")


def train_policy(
    objective: str,
    opponents: Sequence[str],
    steps: int = 100,
    seed: SeedLike = 0,
    population: int = 1,
    episodes: int = 128,
    hidden: int = 32,
    lr: float = 0.02,
    entropy_coef: float = 0.01,
    rules: GameRules = GameRules(),
    progress=None,
):
    """Train a population of ``population`` policies on ``objective`` against ``opponents``.

    Gradient descent on :func:`reinforce_loss` with Adam (``agents.training.adam``, the
    one training loop :func:`agents.training.train`; elementwise, so the K copies stay
    independent), ``episodes`` fresh games per copy per step, each game's enemy
    drawn uniformly from ``opponents``. Returns ``(policy, trajectory)`` (the trajectory's
    ``product`` is the trained policy, frozen); the trajectory
    records, per copy, ``L`` = -(mean base objective over the step's games) (a reward
    enters as L = -R; index 0 is the initial policy) and ``G`` = squared norm of the
    gradient of the training loss at the same parameters (definitions.md, "The true
    objective of gradient descent"; the REINFORCE estimate, entropy term included).

    Randomness, per copy (so copy k's numbers do not depend on ``population`` nor on the other
    copies): copy k's initial parameters come from ``child(seed, k)``, its games and sampling
    noise from a numpy Generator of ``child(seed, k, 0)``, one block per step
    (:func:`~agents.strategy_game.copy_noise.step_noise`). Runs on one torch thread (:func:`one_thread`).

    Example:
        >>> pol, tr = train_policy("troops", ("Aurora",), steps=2, seed=0, population=2, episodes=8)
        >>> pol.K, tr["L"].shape, tr["G"].shape
        (2, (2, 3), (2, 3))
    """
    check_objective(objective)
    check_counts(steps=steps, population=population, episodes=episodes - 1)
    opponents = tuple(opponents)
    game = StrategyGame(rules)
    for o in opponents:
        rules.alliance_index(o)
    K = population
    init = init_params(rules, hidden, [child(seed, k) for k in range(K)])
    streams = [generator(child(seed, k, 0)) for k in range(K)]  # copy k's games and sampling noise
    shapes = {n: tuple(t.shape[1:]) for n, t in init.items()}
    theta = torch.cat([t.reshape(K, -1) for t in init.values()], dim=1)  # flat [K, P] (float32)

    def unflatten(flat: torch.Tensor) -> dict:
        out, i = {}, 0
        for n, shape in shapes.items():
            size = math.prod(shape)
            out[n] = flat[:, i:i + size].view(K, *shape)
            i += size
        return out

    def step(params: torch.Tensor, t: int):
        """L = -(mean base objective over the step's games) [K] and the REINFORCE estimate of its gradient."""
        with torch.enable_grad():
            leaf = params.detach().requires_grad_()
            act = StrategyPolicy(unflatten(leaf), rules, objective, opponents).actor(game)
            noise = step_noise(game, opponents, streams, episodes)
            ep = play_drawn(game, noise.start, act, noise.raid_u, noise.u)
            loss = reinforce_loss(ep.values[objective], ep.logp, ep.entropy, K, entropy_coef)
            (grad,) = torch.autograd.grad(loss.sum(), leaf)
        return -ep.values[objective][-1].reshape(K, episodes).double().mean(-1).to(params.dtype), grad

    with one_thread():
        if steps == 0:
            L, g = step(theta, 0)
            values = {"L": L.double().numpy()[:, None], "G": (g.double() ** 2).sum(-1).numpy()[:, None]}
        else:
            result = train(step, theta, adam(lr), steps, progress=progress, progress_every=1)
            values = {"L": result.values["L"], "G": result.values["G"]}
    L, G = values["L"], values["G"]
    params = unflatten(theta)
    frozen = StrategyPolicy({n: p.detach().clone() for n, p in params.items()}, rules, objective, opponents)
    traj = Trajectory({"L": L, "G": G}, meta={"objective": objective, "opponents": opponents, "episodes": episodes},
                      product=frozen)
    return frozen, traj


def case_seeds(seed: SeedLike) -> tuple:
    """(training seed, evaluation seed) of one training case: the two children of ``seed``.

    The training run draws from the first; evaluating its product (the deployment games,
    the reference optima) from the second, so that evaluating never changes the training.

    Examples
    --------
    >>> train, evaluation = case_seeds(0)
    >>> train.spawn_key, evaluation.spawn_key
    ((0,), (1,))
    """
    return tuple(children(seed, 2))


@attrs.frozen
class StrategyTrainer:
    """The training process as a leaf optimizer (hierarchy.protocol.Leaf): ``run`` trains a
    population and returns its trajectory of L and G, with the trained
    :class:`~agents.strategy_game.policy.StrategyPolicy` as its ``product`` (see
    :func:`train_policy`). One step is one gradient step (one Adam update on a batch of
    ``episodes`` games per copy). The run's seed is split by :func:`case_seeds`: training
    draws from the first child, so that :func:`~agents.strategy_game.cases.run_case` with
    the same seed trains the same policy.

    Example:
        >>> from hierarchy.protocol import check_leaf
        >>> check_leaf(StrategyTrainer("destroyed", ("Aurora",), population=2, episodes=8), steps=2).product.K
        2
    """

    objective: str
    opponents: tuple = attrs.field(converter=tuple)
    population: int = 1
    episodes: int = 128
    hidden: int = 32
    lr: float = 0.02
    entropy_coef: float = 0.01
    rules: GameRules = GameRules()
    records = ("L", "G")
    step_unit = "gradient step"

    def run(self, steps: int, seed: np.random.SeedSequence, progress=None) -> Trajectory:
        """Train for ``steps`` steps from the training child of ``seed``; the trajectory of
        :func:`train_policy`, the trained policy as its product."""
        return train_policy(
            self.objective, self.opponents, steps, case_seeds(seed)[0], self.population, self.episodes, self.hidden,
            self.lr, self.entropy_coef, self.rules, progress,
        )[1]
