"""Each training copy's own randomness (agents/strategy_game/copy_noise.py) and play on drawn noise.

Independent truth: the block layout written out by hand from each copy's generator, the
extremes of the inversion, the skip-the-enemy rule, frequencies of the drawn defenses, and
``play`` (noise drawn turn by turn) against ``play_drawn`` on the same noise.
"""

import numpy as np
import pytest
import torch

from agents.strategy_game.copy_noise import actor_noise, block_size, games_from_uniforms, step_noise, to_grid24
from agents.strategy_game.episodes import play, play_drawn
from agents.strategy_game.game import GameRules, StrategyGame
from hierarchy.errors import ParameterError
from hierarchy.seeding import child, generator

RULES = GameRules()
V, M, E, T = RULES.targets, RULES.neutral_villages, RULES.enemy_villages, RULES.turns


def test_copy_k_noise_is_its_own_block_laid_out_as_documented():
    B = 3
    game = StrategyGame()
    noise = step_noise(game, ("Aurora",), [generator(child(0, k, 0)) for k in range(2)], B)
    lo, hi = RULES.defense
    for k in range(2):
        u = generator(child(0, k, 0)).random(B * (V + 1 + M + T * E + T))  # copy k's block, alone
        rows = slice(k * B, (k + 1) * B)
        for i in range(B):
            w = u[i * (V + 1 + M):(i + 1) * (V + 1 + M)]
            assert noise.start.defense[k * B + i].tolist() == [lo + int(x * (hi - lo + 1)) for x in w[:V]]
        raid = u[B * (V + 1 + M):B * (V + 1 + M) + T * B * E].reshape(T, B, E)
        actor = u[B * (V + 1 + M) + T * B * E:].reshape(T, B)
        assert np.array_equal(noise.raid_u[:, rows].numpy(), np.floor(raid * 2 ** 24).astype(np.float32) / 2 ** 24)
        assert np.array_equal(noise.u[:, rows].numpy(), np.floor(actor * 2 ** 24).astype(np.float32) / 2 ** 24)
    assert np.all(noise.start.alliance[:, :E].numpy() == 0)  # at war with Aurora


def test_a_copy_noise_does_not_depend_on_the_other_copies():
    game = StrategyGame()
    both = step_noise(game, ("Aurora", "Brotherhood"), [generator(5), generator(6)], 4)
    alone = step_noise(game, ("Aurora", "Brotherhood"), [generator(6)], 4)
    assert torch.equal(both.start.defense[4:], alone.start.defense)
    assert torch.equal(both.start.alliance[4:], alone.start.alliance)
    assert torch.equal(both.raid_u[:, 4:], alone.raid_u) and torch.equal(both.u[:, 4:], alone.u)


def test_inversion_reaches_both_ends_and_never_makes_a_neutral_the_enemy():
    game = StrategyGame()
    top = 1 - 2.0 ** -40
    u = np.array([[0.0] * V + [0.49] + [0.0] * M,
                  [top] * V + [0.51] + [top] * M])
    s = games_from_uniforms(game, ("Aurora", "Brotherhood"), u)
    assert s.defense.tolist() == [[RULES.defense[0]] * V, [RULES.defense[1]] * V]
    # Aurora (0) then Brotherhood (1) at war; neutrals: the lowest other alliance, then the highest
    assert s.alliance.tolist() == [[0] * E + [1] * M, [1] * E + [2] * M]
    many = games_from_uniforms(game, ("Aurora", "Brotherhood", "Concord"), generator(1).random((4000, V + 1 + M)))
    assert not (many.alliance[:, E:] == many.alliance[:, :1]).any()
    counts = np.bincount(many.defense.flatten().numpy() - RULES.defense[0])
    n_values = RULES.defense[1] - RULES.defense[0] + 1
    expected = many.defense.numel() / n_values
    assert len(counts) == n_values and np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))


def test_grid24_stays_below_one_and_on_torch_grid():
    x = to_grid24(np.array([1 - 2.0 ** -53, 0.25 + 2.0 ** -30]))
    assert x.dtype == torch.float32 and x.tolist() == [1 - 2.0 ** -24, 0.25]


def test_play_drawn_equals_play_on_the_same_noise():
    game = StrategyGame()
    n = 6
    start = game.sample_start(("Aurora",), n, torch.Generator().manual_seed(0))
    rng = torch.Generator().manual_seed(9)
    weights = torch.rand(RULES.n_actions, generator=rng)

    def act(s, u):  # a fixed stochastic actor that uses u: sample from softmax(weights) by inversion
        probs = torch.softmax(weights, 0).expand(len(u), -1)
        a = (u[:, None] > probs.cumsum(-1)).sum(-1).clamp(max=RULES.n_actions - 1)
        a = torch.where(game.observe(s)[2].gather(1, a[:, None])[:, 0], a, torch.zeros_like(a))
        return a, torch.zeros(len(u)), torch.zeros(len(u))

    ep = play(game, start, act, torch.Generator().manual_seed(1), torch.Generator().manual_seed(2))
    w, a = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
    raid, u = [], []
    for _ in range(T):
        raid.append(torch.rand(n, E, generator=w))
        u.append(torch.rand(n, generator=a))
    drawn = play_drawn(game, start, act, torch.stack(raid), torch.stack(u))
    for o in ep.values:
        assert torch.equal(ep.values[o], drawn.values[o])
    assert torch.equal(ep.final.attacks, drawn.final.attacks)
    with pytest.raises(ParameterError):
        play_drawn(game, start, act, torch.stack(raid)[:-1], torch.stack(u))


def test_block_size_counts_every_draw():
    assert block_size(RULES, 1) == V + 1 + M + T * E + T
    with pytest.raises(ParameterError):
        games_from_uniforms(StrategyGame(), ("Aurora",), np.zeros((2, V)))
    with pytest.raises(ParameterError):
        games_from_uniforms(StrategyGame(), (), np.zeros((2, V + 1 + M)))


def test_evaluation_actor_noise_is_each_copy_own_block():
    n, seed = 5, np.random.SeedSequence(8)
    u = actor_noise(seed, 3, T, n)
    for k in range(3):
        own = generator(child(seed, k)).random(T * n).reshape(T, n)
        assert np.array_equal(u[:, k * n:(k + 1) * n].numpy(), np.floor(own * 2 ** 24).astype(np.float32) / 2 ** 24)
