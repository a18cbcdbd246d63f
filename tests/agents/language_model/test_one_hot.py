"""The first layer of one-hot inputs as gathers and scatters computes the matrix product's numbers.

Independent truths: numpy's float64 products x W + b and x^T delta, numpy's tanh, autograd (in
benchmarks' peers test), and invariants the kernel promises (a copy's numbers do not depend on K,
on the thread count or on the chunk).
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.language_model.gradient_descent import GradientDescent
from agents.language_model.markov import MarkovChain
from agents.language_model.mlp import PopulationMLP
from agents.language_model.one_hot import (MIN_FEATURES, choose_first_layer, gather_first_layer, one_hot_available,
                                           one_hot_indices, scatter_first_layer)
from agents.language_model.schedules import Constant
from hierarchy.errors import ParameterError

needs_kernel = pytest.mark.skipif(not one_hot_available(), reason="the one-hot kernel does not build here (no C++ compiler)")


def one_hot_rows(rng, M, blocks, V):
    """[M, blocks * V] with one 1 in each block of V features, and the ids of those ones."""
    ids = rng.integers(0, V, size=(M, blocks)) + V * np.arange(blocks)
    x = np.zeros((M, blocks * V))
    np.put_along_axis(x, ids, 1.0, axis=1)
    return x, ids


@given(st.integers(1, 40), st.integers(1, 3), st.integers(1, 9), st.integers(0, 2**31 - 1))
@settings(max_examples=60, deadline=None)
def test_indices_name_the_ones_of_every_row(M, blocks, V, seed):
    x, ids = one_hot_rows(np.random.default_rng(seed), M, blocks, V)
    idx = one_hot_indices(torch.from_numpy(x))
    assert idx.dtype == torch.int32 and idx.shape == (blocks, M)
    assert np.array_equal(idx.numpy().T, ids)


@pytest.mark.parametrize("rows", [
    [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]],   # two ones, then one
    [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]],   # not 0 or 1
    [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]],
    [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],   # no one at all
])
def test_rows_that_are_not_one_hot_have_no_indices(rows):
    assert one_hot_indices(torch.tensor(rows)) is None


@needs_kernel
@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-14), (torch.float32, 1e-6)])
@pytest.mark.parametrize("H", [1, 5, 8, 13])  # lanes of 8 floats or 4 doubles, with partial blocks
def test_gather_is_the_product_and_scatter_its_transpose(dtype, rtol, H):
    rng = np.random.default_rng(H)
    K, M, V, r = 3, 37, 7, 3
    x, _ = one_hot_rows(rng, M, r, V)
    D = x.shape[1]
    P = D * H + H + 5  # other parameters after the first layer, as in the engine's flat layout
    theta = torch.from_numpy(rng.normal(size=(K, P))).to(dtype)
    W, b = theta[:, :D * H].view(K, D, H), theta[:, D * H:D * H + H]
    idx = one_hot_indices(torch.from_numpy(x))
    z = torch.empty(K, H, M, dtype=dtype)
    gather_first_layer(idx, W, b, 1.5, z)
    Wn, bn = W.double().numpy(), b.double().numpy()
    want = 1.5 * (np.einsum("md,kdh->khm", x, Wn) + bn[:, :, None])
    np.testing.assert_allclose(z.double().numpy(), want, rtol=rtol, atol=rtol)
    h = torch.empty(K, H + 3, M, dtype=dtype)[:, :H]  # rows of a wider buffer, as the engine's h
    gather_first_layer(idx, W, b, 1.0, h, tanh=True)
    np.testing.assert_allclose(h.double().numpy(), np.tanh(want / 1.5), rtol=4 * rtol, atol=4 * rtol)

    d = torch.from_numpy(rng.normal(size=(K, H, M))).to(dtype)
    g = torch.zeros(K, P, dtype=dtype)
    gW, gb = g[:, :D * H].view(K, D, H), g[:, D * H:D * H + H]
    scatter_first_layer(idx, d, 0.25, gW, gb)
    dn = d.double().numpy()
    np.testing.assert_allclose(gW.double().numpy(), 0.25 * np.einsum("khm,md->kdh", dn, x), rtol=10 * rtol, atol=10 * rtol)
    np.testing.assert_allclose(gb.double().numpy(), 0.25 * dn.sum(2), rtol=10 * rtol, atol=10 * rtol)
    assert torch.all(g[:, D * H + H:] == 0)  # nothing written past the first layer

    # with the hidden layer's tanh given, the scatter takes its derivative: delta (1 - y^2), delta unchanged
    y = torch.from_numpy(np.tanh(rng.normal(size=(K, H + 3, M)))).to(dtype)[:, :H]  # rows of a wider buffer
    before = d.clone()
    scatter_first_layer(idx, d, 0.25, gW, gb, tanh_out=y)
    dy = dn * (1.0 - y.double().numpy() ** 2)
    np.testing.assert_allclose(gW.double().numpy(), 0.25 * np.einsum("khm,md->kdh", dy, x), rtol=10 * rtol, atol=10 * rtol)
    np.testing.assert_allclose(gb.double().numpy(), 0.25 * dy.sum(2), rtol=10 * rtol, atol=10 * rtol)
    assert torch.equal(d, before)


@needs_kernel
def test_scatter_refuses_a_tanh_output_of_another_shape_or_layout():
    idx = torch.tensor([[0, 1], [2, 2]], dtype=torch.int32)
    d, gW, gb = torch.ones(1, 2, 2), torch.empty(1, 3, 2), torch.empty(1, 2)
    for y in (torch.ones(1, 3, 2), torch.ones(1, 2, 2, dtype=torch.float64), torch.ones(1, 2, 4)[:, :, ::2]):
        with pytest.raises(ParameterError, match="tanh_out"):
            scatter_first_layer(idx, d, 1.0, gW, gb, tanh_out=y)


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_columns_numbers_do_not_depend_on_the_columns_beside_it(dtype):
    """Columns taken a vector's width at a time (through an in-register transpose) and the last ones taken
    one at a time give the same numbers, bit for bit: the first 5 columns of 37 against those 5 alone (without
    the tanh, whose vectorized and scalar forms may differ in the last bit)."""
    rng = np.random.default_rng(7)
    K, H, M, few = 2, 13, 37, 5
    x, _ = one_hot_rows(rng, M, 2, 6)
    idx = one_hot_indices(torch.from_numpy(x))
    D = x.shape[1]
    W = torch.from_numpy(rng.normal(size=(K, D, H))).to(dtype)
    b = torch.from_numpy(rng.normal(size=(K, H))).to(dtype)
    d = torch.zeros(K, H, M, dtype=dtype)
    d[:, :, :few] = torch.from_numpy(rng.normal(size=(K, H, few))).to(dtype)  # the other columns add zeros

    def both(cols):
        z = torch.empty(K, H, cols, dtype=dtype)
        gW, gb = torch.empty(K, D, H, dtype=dtype), torch.empty(K, H, dtype=dtype)
        sub = idx[:, :cols].contiguous()
        gather_first_layer(sub, W, b, 2.0, z, 1)
        scatter_first_layer(sub, d[:, :, :cols].contiguous(), 0.5, gW, gb, 1)
        return z[:, :, :few], gW, gb

    for a, c in zip(both(M), both(few)):
        assert torch.equal(a, c)


@needs_kernel
def test_a_copys_numbers_do_not_depend_on_K_or_the_threads():
    rng = np.random.default_rng(0)
    K, H, M = 4, 128, 4100  # enough work (K H M >= 2^21) for the kernel to split it over two threads
    x, _ = one_hot_rows(rng, M, 2, 16)
    idx = one_hot_indices(torch.from_numpy(x))
    D = x.shape[1]
    W = torch.from_numpy(rng.normal(size=(K, D, H))).float()
    b = torch.from_numpy(rng.normal(size=(K, H))).float()
    d = torch.from_numpy(rng.normal(size=(K, H, M))).float()

    def both(k0, k1, threads):
        z = torch.empty(k1 - k0, H, M)
        gW, gb = torch.empty(k1 - k0, D, H), torch.empty(k1 - k0, H)
        gather_first_layer(idx, W[k0:k1], b[k0:k1], 2.0, z, threads, tanh=True)
        scatter_first_layer(idx, d[k0:k1].contiguous(), 0.5, gW, gb, threads)
        return z, gW, gb

    whole = both(0, K, 2)
    for a, c in zip(whole, both(0, K, 1)):
        assert torch.equal(a, c)
    for a, c in zip(whole, both(2, 3, 1)):
        assert torch.equal(a[2:3], c)


@needs_kernel
@pytest.mark.parametrize("loss", ["cross_entropy", "brier"])
@pytest.mark.parametrize("hidden", [(6,), (9, 4)])
def test_the_engine_gathers_what_it_multiplies(loss, hidden):
    rng = np.random.default_rng(1)
    x, _ = one_hot_rows(rng, 50, 2, 20)
    counts = torch.from_numpy(rng.integers(0, 3, size=(50, 5)).astype(float))
    counts[:, 0] += 1  # every row has an example
    sizes = (x.shape[1], *hidden, 5)
    nets = {fl: PopulationMLP(sizes, torch.from_numpy(x), counts, 3, loss=loss, first_layer=fl) for fl in ("gather", "product")}
    assert nets["gather"].first_layer == "gather" and nets["product"].first_layer == "product"
    theta = torch.from_numpy(rng.normal(size=(3, nets["gather"].P)))
    for net in nets.values():
        net.theta.copy_(theta)
    L = {fl: net.loss_and_gradient().clone() for fl, net in nets.items()}
    torch.testing.assert_close(L["gather"], L["product"], rtol=1e-12, atol=0)
    torch.testing.assert_close(nets["gather"].grad, nets["product"].grad, rtol=1e-12, atol=1e-15)


def test_auto_gathers_only_shared_one_hot_inputs_of_enough_features():
    cpu = torch.device("cpu")
    rng = np.random.default_rng(2)
    wide, _ = one_hot_rows(rng, 30, 2, MIN_FEATURES // 2)
    narrow, _ = one_hot_rows(rng, 30, 2, MIN_FEATURES // 2 - 1)
    assert (choose_first_layer("auto", torch.from_numpy(wide), cpu) is not None) == one_hot_available()
    assert choose_first_layer("auto", torch.from_numpy(narrow), cpu) is None
    assert choose_first_layer("auto", None, cpu) is None  # inputs per copy
    assert choose_first_layer("auto", torch.from_numpy(wide) * 0.5, cpu) is None
    assert choose_first_layer("product", torch.from_numpy(wide), cpu) is None


@pytest.mark.parametrize("first_layer,inputs,match", [
    ("gather", torch.full((4, 40), 0.5), "not one-hot rows"),
    ("gather", None, "per copy"),
    ("sparse", torch.eye(40), "first_layer='sparse'; give one of"),
])
def test_a_first_layer_that_cannot_run_is_refused_in_one_line(first_layer, inputs, match):
    with pytest.raises(ParameterError, match=match) as err:
        choose_first_layer(first_layer, inputs, torch.device("cpu"))
    assert "\n" not in str(err.value)


def test_gradient_descent_refuses_a_first_layer_it_cannot_run():
    data = MarkovChain.random(4, 1, 0.3, seed=0).sample(20, seed=1)
    with pytest.raises(ParameterError, match="first_layer='dense'; choose one of"):
        GradientDescent(data, first_layer="dense")
    with pytest.raises(ParameterError, match="runs on the CPU, not on cuda"):
        GradientDescent(data, first_layer="gather", device="cuda")


@needs_kernel
def test_a_gathered_run_equals_the_product_run_and_its_chunks():
    data = MarkovChain.random(16, 2, 0.3, seed=0).sample(300, seed=1)  # 32 features: "auto" gathers
    gd = GradientDescent(data, hidden=(12,), population=5, schedule=Constant(0.5))
    run = gd.run(15, 3)
    assert run.meta["first_layer"] == "gather"
    product = GradientDescent(data, hidden=(12,), population=5, schedule=Constant(0.5), first_layer="product").run(15, 3)
    assert product.meta["first_layer"] == "product"
    for n in run.values:
        np.testing.assert_allclose(run.values[n], product.values[n], rtol=1e-12)
    np.testing.assert_allclose(run.copy_meta["final_parameters"], product.copy_meta["final_parameters"], rtol=1e-11,
                               atol=1e-14)
    for chunk in (1, 2):  # the engine's promise for chunks (its batched products may round with K)
        parts = gd.run(15, 3, chunk=chunk)
        assert parts.meta["first_layer"] == "gather"
        for n in run.values:
            np.testing.assert_allclose(parts.values[n], run.values[n], rtol=1e-12)
    again = gd.run(15, 3, chunk=2)  # reruns: bitwise
    assert all(np.array_equal(again.values[n], parts.values[n]) for n in run.values)
