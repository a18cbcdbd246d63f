"""The peers of benchmarks/peers.py compute what mesastack's engine computes.

Autograd (torch.func's vmap over stacked modules, a loop of nn.Modules, JAX) is the
independent truth for the engine's hand-written batched backward: L and G = |grad L|^2
at every step of a short SGD run agree to float32 tolerance.
"""

import numpy as np
import pytest

from agents.language_model.kernel import kernel_available
from agents.language_model.lane_kernel import lane_kernel_available
from agents.language_model.one_hot import one_hot_available
from benchmarks.peers import (jax_available, jax_engine, jax_gather_engine, kernel_engine, lanes_engine, mesastack_engine,
                              naive_engine,
                              problem, start, torchfunc_engine)

STEPS = 4


@pytest.fixture(scope="module")
def tiny():
    x, y, sizes = problem("tiny")
    theta0 = start(sizes, 3)
    return x, y, sizes, theta0, mesastack_engine(x, y, sizes, theta0, STEPS)()


def test_mesastack_records_every_step(tiny):
    out = tiny[-1]
    assert out.shape == (2, 3, STEPS + 1)
    assert np.all(np.isfinite(out)) and np.all(out[1] > 0)
    assert np.all(out[0, :, -1] < out[0, :, 0])  # SGD at lr 0.1 lowers L on this problem


@pytest.mark.parametrize("engine", [torchfunc_engine, naive_engine])
def test_torch_peers_agree_with_mesastack(tiny, engine):
    x, y, sizes, theta0, ref = tiny
    out = engine(x, y, sizes, theta0, STEPS)()
    np.testing.assert_allclose(out, ref, rtol=2e-5, atol=1e-7)


@pytest.mark.parametrize("engine,available", [(kernel_engine, kernel_available), (lanes_engine, lane_kernel_available)],
                         ids=["kernel", "lanes"])
def test_the_c_kernel_rows_agree_with_autograd(tiny, engine, available):
    """The per-copy and lane kernels' rows against the loop of nn.Modules (autograd), not against the eager engine
    they were checked on."""
    if not available():
        pytest.skip("the C++ kernel does not build here (no C++ compiler)")
    x, y, sizes, theta0, _ = tiny
    np.testing.assert_allclose(engine(x, y, sizes, theta0, STEPS)(), naive_engine(x, y, sizes, theta0, STEPS)(),
                               rtol=2e-5, atol=1e-7)


def test_jax_agrees_with_mesastack(tiny):
    if not jax_available():
        pytest.skip("JAX is not installed (optional extra: pip install 'mesastack[bench]')")
    x, y, sizes, theta0, ref = tiny
    out = jax_engine(x, y, sizes, theta0, STEPS)()
    np.testing.assert_allclose(out, ref, rtol=2e-5, atol=1e-7)


@pytest.fixture(scope="module")
def wide():
    """A one-hot problem of 32 features (vocabulary 16, order 2): mesastack's eager engine gathers its first layer."""
    import torch

    from agents.language_model.markov import MarkovChain
    from agents.language_model.mlp import layer_sizes

    data = MarkovChain.random(16, 2, 0.3, seed=0).sample(96, seed=1)
    x, y = torch.from_numpy(data.inputs(np.float32)), torch.from_numpy(data.targets)
    sizes = layer_sizes(x.shape[1], (8,), 16)
    theta0 = start(sizes, 3)
    return x, y, sizes, theta0, naive_engine(x, y, sizes, theta0, STEPS)()


def test_the_gathered_first_layer_agrees_with_autograd(wide):
    if not one_hot_available():
        pytest.skip("the one-hot kernel does not build here (no C++ compiler)")
    from agents.language_model.mlp import PopulationMLP

    x, y, sizes, theta0, ref = wide
    assert PopulationMLP(sizes, x, y, 3, "float32").first_layer == "gather"
    np.testing.assert_allclose(mesastack_engine(x, y, sizes, theta0, STEPS)(), ref, rtol=2e-5, atol=1e-7)


def test_jax_gather_agrees_with_autograd(wide):
    if not jax_available():
        pytest.skip("JAX is not installed (optional extra: pip install 'mesastack[bench]')")
    x, y, sizes, theta0, ref = wide
    np.testing.assert_allclose(jax_gather_engine(x, y, sizes, theta0, STEPS)(), ref, rtol=2e-5, atol=1e-7)


def test_the_transcendental_limit_counts_each_hidden_tanh_output_exp_and_row_log():
    from benchmarks.peers import transcendentals_per_step, transcendental_stepper

    # tiny: 64 rows, one hidden layer of 8 (tanh), 8 outputs (exp) and one log per row
    assert transcendentals_per_step((16, 8, 8), 64) == (64 * 8, 64 * 8 + 64)
    assert transcendentals_per_step((128, 128, 128, 64), 2048) == (2048 * 256, 2048 * 65)
    out = transcendental_stepper(n=1000)()
    assert out.shape == (1000,) and bool((out.abs() < 1).all())
