"""A population run in chunks of copies computes what it computes in one piece.

Independent truths: a copy run alone (a population of one from the same start), and the
unchunked run to 1e-12 relative (a batched product may round a copy's numbers differently in
the last bits with the number of copies beside it); same-chunk reruns are bitwise equal.
"""

import numpy as np
import pytest

import agents.language_model.gradient_descent as gd_module
from agents.language_model.annealing import Annealing
from agents.language_model.gradient_descent import CACHE_CHUNK_BYTES, CHUNK_MEMORY_FRACTION, GradientDescent
from agents.language_model.markov import MarkovChain
from agents.language_model.schedules import Constant
from hierarchy.errors import ParameterError

STEPS = 12


@pytest.fixture(scope="module")
def data():
    return MarkovChain.random(6, 2, 0.3, seed=0).sample(80, seed=1)


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300)


def assert_same_run(a, b):
    assert sorted(a.values) == sorted(b.values)
    for n in a.values:
        close(a.values[n], b.values[n])
    assert np.array_equal(a.diverged_at, b.diverged_at)
    close(a.copy_meta["final_parameters"], b.copy_meta["final_parameters"])
    assert np.array_equal(a.copy_meta["initial_parameters"], b.copy_meta["initial_parameters"])


def test_chunks_agree_with_one_population(data):
    gd = GradientDescent(data, hidden=(5,), population=7, schedule=Constant(0.5))
    whole = gd.run(STEPS, 3, chunk=7)
    for chunk in (1, 3, 6):
        assert_same_run(gd.run(STEPS, 3, chunk=chunk), whole)


def test_a_chunk_of_one_is_the_copy_run_alone(data):
    gd = GradientDescent(data, hidden=(4,), population=3, schedule=Constant(0.3))
    run = gd.run(STEPS, 5, chunk=1)
    theta0 = run.copy_meta["initial_parameters"]
    for k in range(3):
        alone = GradientDescent(data, hidden=(4,), population=1, schedule=Constant(0.3), init=theta0[k:k + 1]).run(STEPS, 0)
        for n in run.values:
            assert np.array_equal(run.values[n][k:k + 1], alone.values[n])
        assert np.array_equal(run.copy_meta["final_parameters"][k:k + 1], alone.copy_meta["final_parameters"])


def test_per_copy_data_and_rates_follow_their_copies(data):
    chain = MarkovChain.random(6, 2, 0.3, seed=0)
    datasets = tuple(chain.sample(80, seed=10 + k) for k in range(5))
    scale = np.array([0.5, 1.0, 2.0, 1e9, 1.5])  # copy 3 diverges (runaway or overflow) in both runs alike
    gd = GradientDescent(datasets, hidden=(4,), population=5, schedule=Constant(1.0), lr_scale=scale)
    whole, parts = gd.run(STEPS, 1, chunk=5), gd.run(STEPS, 1, chunk=2)
    assert whole.diverged_at.tolist().count(-1) == 4 and whole.diverged_at[3] >= 0
    assert_same_run(parts, whole)


def test_same_chunk_reruns_are_bitwise_equal(data):
    gd = GradientDescent(data, hidden=(5,), population=5)
    a, b = gd.run(STEPS, 9, chunk=2), gd.run(STEPS, 9, chunk=2)
    for n in a.values:
        assert np.array_equal(a.values[n], b.values[n])


def test_automatic_chunk_comes_from_the_memory_a_copy_needs(data, monkeypatch):
    gd = GradientDescent(data, hidden=(5,), population=9)
    assert gd.chunk_size(STEPS) == 9  # this machine holds nine tiny copies
    fixed = gd.memory(STEPS, chunk=0)
    # a machine with room for exactly 4 copies' working memory next to the fixed part
    total = (fixed + 4.5 * gd.copy_memory()) / CHUNK_MEMORY_FRACTION
    monkeypatch.setattr(gd_module, "total_memory", lambda: total)
    assert gd.chunk_size(STEPS) == 4
    calls = []
    auto = gd.run(STEPS, 2, progress=calls.append)
    monkeypatch.undo()
    assert_same_run(auto, gd.run(STEPS, 2))
    assert calls == sorted(calls) and calls[-1] == STEPS


@pytest.mark.parametrize("dtype,itemsize", [("float64", 8), ("float32", 4)])
def test_the_eager_engine_runs_as_many_copies_as_fit_the_cache_budget(dtype, itemsize):
    big = MarkovChain.random(16, 2, 0.3, seed=0).sample(400, seed=1)  # a copy's activations: about 0.5 MB in float64
    gd = GradientDescent(big, hidden=(64,), population=500, dtype=dtype)
    C, per = gd.chunk_size(STEPS), gd.copy_memory() * itemsize / 8
    assert 1 <= C < 500 and C * per <= CACHE_CHUNK_BYTES < (C + 1) * per  # the most copies whose activations fit
    assert GradientDescent(big, hidden=(64,), population=500, dtype=dtype, engine="kernel").chunk_size(STEPS) == 500
    assert GradientDescent(big, hidden=(64,), population=C, dtype=dtype).chunk_size(STEPS) == C


def test_cache_chunks_compute_what_one_population_computes(data, monkeypatch):
    gd = GradientDescent(data, hidden=(5,), population=7, schedule=Constant(0.5))
    whole = gd.run(STEPS, 4, chunk=7)
    monkeypatch.setattr(gd_module, "CACHE_CHUNK_BYTES", 3.5 * gd.copy_memory())  # room for 3 copies at a time
    assert gd.chunk_size(STEPS) == 3
    assert_same_run(gd.run(STEPS, 4), whole)


def test_copy_memory_is_the_stated_formula(data):
    gd = GradientDescent(data, hidden=(5, 3), population=2)
    M = min(data.N, data.vocab ** data.order)
    assert gd.copy_memory() == 3 * 8 * M * (5 + 3 + 6)
    assert gd.memory(STEPS, chunk=2) - gd.memory(STEPS, chunk=1) == gd.copy_memory()


@pytest.mark.parametrize("chunk", [0, -1, 1.5, True, "2"])
def test_bad_chunk_is_refused_in_one_line(data, chunk):
    with pytest.raises(ParameterError, match="chunk=") as err:
        GradientDescent(data, population=2).run(3, 0, chunk=chunk)
    assert err.value.parameter == "chunk" and "\n" not in str(err.value)


def test_a_subclass_with_its_own_optimizer_is_not_chunked(data):
    an = Annealing(data, jump=0.01, population=3)
    assert not an.chunkable() and an.chunk_size(5) == 3
    with pytest.raises(ParameterError, match="own optimizer"):
        GradientDescent.run(an, 5, 0, chunk=2)
    assert GradientDescent.run(an, 5, 0, chunk=3)["L"].shape == (3, 6)
