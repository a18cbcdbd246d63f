"""Markov-chain data: checked against direct counting, closed forms and trained models."""

import math
import pickle
from collections import defaultdict

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.language_model.gradient_descent import GradientDescent
from agents.language_model.markov import MarkovChain, TokenDataset, context_index
from agents.language_model.schedules import Constant
from hierarchy.errors import MesastackError, ParameterError


def entropy_by_dict(data: TokenDataset) -> float:
    """H(next | context) by a plain dictionary count, one example at a time."""
    pair, ctx = defaultdict(int), defaultdict(int)
    for c, y in zip(map(tuple, data.contexts.tolist()), data.targets.tolist()):
        pair[(c, y)] += 1
        ctx[c] += 1
    return -sum(n * math.log(n / ctx[c]) for (c, _), n in pair.items()) / data.N


def cross_entropy_of_table(data: TokenDataset, table: dict) -> float:
    """Mean -log q(y | c) of a model given as {context tuple: probability vector}."""
    return -float(np.mean([math.log(table[tuple(c)][y]) for c, y in zip(data.contexts.tolist(), data.targets.tolist())]))


def frequency_table(data: TokenDataset) -> dict:
    counts = defaultdict(lambda: np.zeros(data.vocab))
    for c, y in zip(map(tuple, data.contexts.tolist()), data.targets.tolist()):
        counts[c][y] += 1
    return {c: v / v.sum() for c, v in counts.items()}


# -- the chain -------------------------------------------------------------------------

def test_random_chain_rows_are_distributions_and_reproducible():
    a = MarkovChain.random(6, 2, 0.3, seed=4)
    assert a.transition.shape == (36, 6)
    assert np.all(a.transition >= 0) and np.allclose(a.transition.sum(1), 1.0)
    b = MarkovChain.random(6, 2, 0.3, seed=np.random.SeedSequence(4))
    assert np.array_equal(a.transition, b.transition)
    assert not np.array_equal(a.transition, MarkovChain.random(6, 2, 0.3, seed=5).transition)
    assert pickle.loads(pickle.dumps(a)).transition.tolist() == a.transition.tolist()


def test_small_concentration_gives_peaked_rows():
    peaked = MarkovChain.random(8, 1, 0.05, seed=0).transition.max(1).mean()
    flat = MarkovChain.random(8, 1, 100.0, seed=0).transition.max(1).mean()
    assert peaked > 0.7 and flat < 0.2


@pytest.mark.parametrize(
    "kwargs",
    [dict(vocab=1, order=1), dict(vocab=4, order=0), dict(vocab=4, order=1, concentration=0.0),
     dict(vocab=4, order=1, concentration=-1.0), dict(vocab=1000, order=3)],
)
def test_random_chain_rejects_impossible_parameters(kwargs):
    args = dict(concentration=1.0, seed=0) | kwargs
    with pytest.raises(ParameterError) as err:
        MarkovChain.random(**args)
    assert "\n" not in str(err.value) and ";" in str(err.value)  # one line: problem; fix


def test_hand_made_chain_is_validated():
    with pytest.raises(ParameterError):
        MarkovChain(3, 1, np.ones((3, 3)))  # rows sum to 3
    with pytest.raises(ParameterError):
        MarkovChain(3, 1, np.full((2, 3), 1 / 3))  # wrong shape
    assert issubclass(ParameterError, MesastackError)


def test_long_sequence_follows_the_transition_matrix():
    chain = MarkovChain.random(3, 1, 1.0, seed=1)
    data = chain.sample(60_000, seed=2)
    # consecutive examples overlap: the context of example s+1 is the target of example s
    assert np.array_equal(data.contexts[1:, 0], data.targets[:-1])
    counts = np.zeros((3, 3))
    np.add.at(counts, (data.contexts[:, 0], data.targets), 1)
    freq = counts / counts.sum(1, keepdims=True)
    se = np.sqrt(chain.transition * (1 - chain.transition) / counts.sum(1, keepdims=True))
    assert np.all(np.abs(freq - chain.transition) < 5 * se + 1e-9)


def test_order_two_contexts_and_independent_windows():
    chain = MarkovChain.random(4, 2, 0.5, seed=3)
    data = chain.sample(500, seed=1)
    assert np.array_equal(data.contexts[1:, 0], data.contexts[:-1, 1])
    assert np.array_equal(data.contexts[1:, 1], data.targets[:-1])
    # independent windows with no burn-in: contexts uniform over the 16, targets from P
    ind = chain.sample(40_000, seed=2, burn_in=0, independent=True)
    idx = context_index(ind.contexts, 4)
    share = np.bincount(idx, minlength=16) / ind.N
    assert np.all(np.abs(share - 1 / 16) < 5 * np.sqrt(1 / 16 * 15 / 16 / ind.N))
    counts = np.zeros((16, 4))
    np.add.at(counts, (idx, ind.targets), 1)
    assert np.abs(counts / counts.sum(1, keepdims=True) - chain.transition).max() < 0.05


def test_sample_is_reproducible_and_validated():
    chain = MarkovChain.random(5, 2, 0.3, seed=0)
    a, b = chain.sample(100, seed=9), chain.sample(100, seed=np.random.SeedSequence(9))
    assert np.array_equal(a.contexts, b.contexts) and np.array_equal(a.targets, b.targets)
    for bad in (dict(n_examples=0), dict(n_examples=10, burn_in=-1)):
        with pytest.raises(ParameterError):
            chain.sample(seed=0, **bad)


def test_shift_interpolates_towards_a_fresh_draw():
    chain = MarkovChain.random(4, 2, 0.3, seed=0)
    assert np.allclose(chain.shift(0.0, seed=7).transition, chain.transition)
    fresh = MarkovChain.random(4, 2, 0.3, seed=7)  # the same Dirichlet draw as shift's Q
    assert np.allclose(chain.shift(1.0, seed=7).transition, fresh.transition)
    half = chain.shift(0.25, seed=7).transition
    assert np.allclose(half, 0.75 * chain.transition + 0.25 * fresh.transition)
    assert np.allclose(half.sum(1), 1.0)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ParameterError):
            chain.shift(bad, seed=0)


# -- the dataset -----------------------------------------------------------------------

def test_inputs_are_concatenated_one_hot_contexts():
    data = MarkovChain.random(5, 3, 0.5, seed=0).sample(40, seed=1)
    x = data.inputs(np.float32)
    assert x.shape == (40, 15) and x.dtype == np.float32
    assert np.all(x.sum(1) == 3)
    for n in range(40):
        for j in range(3):
            block = x[n, 5 * j : 5 * (j + 1)]
            assert block[data.contexts[n, j]] == 1 and block.sum() == 1


@pytest.mark.parametrize(
    "contexts,targets,vocab",
    [(np.zeros((3, 2)), np.zeros(2), 4),  # N mismatch
     (np.zeros(3), np.zeros(3), 4),  # contexts not 2-D
     (np.array([[5]]), np.array([0]), 4),  # token out of range
     (np.array([[0]]), np.array([-1]), 4),
     (np.array([[0.5]]), np.array([0]), 4),  # not integers
     (np.array([[0]]), np.array([0]), 1)],  # vocabulary too small
)
def test_dataset_rejects_malformed_arrays(contexts, targets, vocab):
    with pytest.raises(ParameterError):
        TokenDataset(contexts, targets, vocab)


def test_context_counts_match_a_direct_count():
    data = MarkovChain.random(4, 2, 0.3, seed=2).sample(300, seed=3)
    ctx, counts = data.context_counts()
    assert counts.sum() == data.N and len({tuple(c) for c in ctx.tolist()}) == ctx.shape[0]
    for c, row in zip(ctx.tolist(), counts):
        mask = np.all(data.contexts == c, axis=1)
        assert np.array_equal(row, np.bincount(data.targets[mask], minlength=4))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_conditional_entropy_equals_dict_count_and_is_the_minimum(draw):
    vocab = draw.draw(st.integers(2, 4))
    order = draw.draw(st.integers(1, 2))
    n = draw.draw(st.integers(1, 40))
    toks = st.lists(st.integers(0, vocab - 1), min_size=n, max_size=n)
    contexts = np.array([draw.draw(toks) for _ in range(order)]).T
    targets = np.array(draw.draw(toks))
    data = TokenDataset(contexts, targets, vocab)
    h = data.conditional_entropy()
    assert h == pytest.approx(entropy_by_dict(data), abs=1e-12)
    # the empirical frequencies reach it exactly ...
    freq = frequency_table(data)
    assert cross_entropy_of_table(data, freq) == pytest.approx(h, abs=1e-12)
    # ... and every other model of the context does no better
    rng = np.random.default_rng(draw.draw(st.integers(0, 2**32 - 1)))
    for _ in range(5):
        other = {c: 0.5 * p + 0.5 * rng.dirichlet(np.ones(vocab)) for c, p in freq.items()}
        assert cross_entropy_of_table(data, other) >= h - 1e-12


def test_softmax_table_trained_long_approaches_the_entropy_from_above():
    # every (context, next token) pair present: the optimum is reachable with finite logits
    rng = np.random.default_rng(0)
    contexts = np.repeat(np.arange(3), 20)[:, None]
    targets = np.concatenate([rng.permutation(np.repeat(np.arange(3), k)) for k in ([7, 7, 6], [14, 3, 3], [2, 9, 9])])
    data = TokenDataset(contexts, targets, 3)
    h = data.conditional_entropy()
    logits = torch.zeros(3, 3, dtype=torch.float64, requires_grad=True)  # one row of logits per context
    x, y = torch.from_numpy(contexts[:, 0]), torch.from_numpy(targets)
    losses = []
    for _ in range(400):
        loss = torch.nn.functional.cross_entropy(logits[x], y)
        (g,) = torch.autograd.grad(loss, logits)
        with torch.no_grad():
            logits -= 3.0 * g
        losses.append(loss.item())
    assert min(losses) >= h - 1e-12
    assert losses[-1] - h < 1e-6


def test_wide_mlp_trained_long_approaches_the_entropy_from_above():
    chain = MarkovChain.random(3, 1, 2.0, seed=5)
    data = chain.sample(90, seed=6)
    _, counts = data.context_counts()
    assert np.all(counts > 0)  # finite optimum
    h = data.conditional_entropy()
    tr = GradientDescent(data, hidden=(16,), schedule=Constant(2.0), population=2).run(1500, np.random.SeedSequence(1))
    assert np.all(tr["L"] >= h - 1e-12)
    assert np.all(tr["L"][:, -1] - h < 1e-3)
