"""The strategy-game policy: a population of K small MLPs with stacked parameters [K, ...]."""

from __future__ import annotations

import math
from typing import Sequence

import attrs
import numpy as np
import torch

from agents.torch_random import torch_generator
from agents.strategy_game.episodes import Actor
from agents.strategy_game.game import APPEARANCE_FEATURES, GameRules, GameState, StrategyGame

__all__ = ["init_params", "StrategyPolicy"]

def init_params(rules: GameRules, hidden: int, seeds: Sequence[np.random.SeedSequence]) -> dict:
    """Stacked parameters [K, ...]; copy k drawn from its own seed (so it does not depend on K)."""
    J = len(rules.troop_kinds)
    Dg, Dv = 4 + J, 2 + len(APPEARANCE_FEATURES)  # as StrategyGame.observe lays them out
    shapes = {
        "Wg1": (Dg, hidden), "bg1": (hidden,), "Wg2": (hidden, 1 + J), "bg2": (1 + J,),
        "Wv1": (Dg + Dv, hidden), "bv1": (hidden,), "Wv2": (hidden, 1), "bv2": (1,),
    }
    scale = {"Wg1": 1 / math.sqrt(Dg), "Wg2": 0.1 / math.sqrt(hidden), "Wv1": 1 / math.sqrt(Dg + Dv), "Wv2": 0.1 / math.sqrt(hidden)}
    per_copy = []
    for seed in seeds:
        gen = torch_generator(seed)
        per_copy.append(
            {n: (torch.randn(shape, generator=gen) * scale[n] if n in scale else torch.zeros(shape)) for n, shape in shapes.items()}
        )
    return {n: torch.stack([p[n] for p in per_copy]) for n in shapes}


@attrs.frozen(eq=False)
class StrategyPolicy:
    """A population of K policies: ``params`` (stacked [K, ...] tensors), the objective and
    opponents it was trained on, and the game rules.

    Logits over actions (idle, recruit j, attack v): a global MLP of the global features g
    gives the first 1 + J; a target MLP of (g, v_v), shared over target villages, gives
    attack v (tanh hidden layers of width ``hidden``); destroyed villages are masked. No
    search happens inside: the policy is a learned reactive controller, not a
    mesa-optimizer.
    """

    params: dict
    rules: GameRules
    objective: str = ""
    opponents: tuple = ()

    @property
    def K(self) -> int:
        """Number of copies in the population."""
        return next(iter(self.params.values())).shape[0]

    def logits(self, g: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Action logits [K, B, A] from g [K, B, Dg], v [K, B, V, Dv], mask [K, B, A] (masked: -inf)."""
        p = self.params
        K, B, V = v.shape[0], v.shape[1], v.shape[2]
        h = torch.tanh(torch.baddbmm(p["bg1"][:, None, :], g, p["Wg1"]))
        base = torch.baddbmm(p["bg2"][:, None, :], h, p["Wg2"])
        x = torch.cat([g[:, :, None, :].expand(K, B, V, g.shape[-1]), v], dim=-1).reshape(K, B * V, -1)
        hv = torch.tanh(torch.baddbmm(p["bv1"][:, None, :], x, p["Wv1"]))
        # the one-column output layer as a product and a sum over the hidden units, not a batched matrix
        # product: MKL's matrix-vector path for one copy rounds differently from the batched one, and copy
        # k must compute the same numbers whatever K is (tests/agents/strategy_game/test_training.py)
        att = ((hv * p["Wv2"][:, None, :, 0]).sum(-1) + p["bv2"]).reshape(K, B, V)
        return torch.cat([base, att], dim=-1).masked_fill(~mask, float("-inf"))

    def actor(self, game: StrategyGame, greedy: bool = False) -> Actor:
        """The population as an actor for :func:`play` (rows copy-major, K copies).

        Samples a ~ softmax(logits) by inverting the cumulative distribution at u
        (``greedy``: the most probable action); returns (action, log pi(a), entropy).
        """
        K = self.K

        def act(s: GameState, u: torch.Tensor):
            g, v, mask = game.observe(s)
            N = g.shape[0]
            B = N // K
            m = mask.reshape(K, B, -1)
            logp_all = torch.log_softmax(self.logits(g.reshape(K, B, -1), v.reshape(K, B, *v.shape[1:]), m), dim=-1)
            probs = logp_all.exp()
            if greedy:
                a = probs.argmax(-1)
            else:
                a = (u.reshape(K, B, 1) > probs.detach().cumsum(-1)).sum(-1).clamp(max=probs.shape[-1] - 1)
                # rounding at the top of the cumulative sum can land on a masked action: take the likeliest instead
                a = torch.where(m.gather(-1, a[..., None])[..., 0], a, probs.argmax(-1))
            logp = logp_all.gather(-1, a[..., None])[..., 0]
            entropy = -(probs * logp_all.masked_fill(~m, 0.0)).sum(-1)
            return a.reshape(N), logp.reshape(N), entropy.reshape(N)

        return act
