"""The fused softmax cross-entropy computes torch's L and delta in one pass.

Independent truths: float64 torch.logsumexp and torch.softmax, autograd of
torch.nn.functional.cross_entropy, and invariants the kernel promises (a copy's numbers do not
depend on K or on the thread count; reruns are bitwise).
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.language_model.fused_loss import MIN_OUTPUTS, choose_loss_pass, fused_loss, fused_loss_available
from agents.language_model.gradient_descent import GradientDescent
from agents.language_model.markov import MarkovChain
from agents.language_model.mlp import PopulationMLP, split_parameters
from agents.language_model.schedules import Constant
from hierarchy.errors import ParameterError

needs_kernel = pytest.mark.skipif(not fused_loss_available(), reason="the fused loss does not build here (no C++ compiler)")


def problem(rng, K, V, M, Kq, dtype):
    z = torch.from_numpy(rng.normal(scale=4.0, size=(K, V, M))).to(dtype)
    q = torch.from_numpy(rng.integers(0, 3, size=(Kq, V, M)) * (rng.random((Kq, V, M)) < 0.3)).to(dtype)
    n = q.sum(1, keepdim=True).contiguous()
    return z, q, n, float(n[0].sum()) or 1.0


def reference(z, q, n, N):
    z, q, n = z.double(), q.double(), n.double()
    L = ((n * torch.logsumexp(z, 1, keepdim=True)).sum((1, 2)) - (q * z).sum((1, 2))) / N
    return L, n * torch.softmax(z, 1) - q


@needs_kernel
@given(st.integers(1, 4), st.integers(1, 70), st.integers(1, 600), st.booleans(), st.sampled_from(["float64", "float32"]),
       st.integers(0, 2**31 - 1))
@settings(max_examples=40, deadline=None)
def test_the_kernel_is_logsumexp_and_softmax(K, V, M, per_copy, dtype, seed):
    dt = getattr(torch, dtype)
    tol = 1e-13 if dt == torch.float64 else 2e-6  # the exp and log of libmvec (4 ulp), the sums' order
    z, q, n, N = problem(np.random.default_rng(seed), K, V, M, K if per_copy else 1, dt)
    delta, L = torch.empty_like(z), torch.empty(K, dtype=dt)
    fused_loss(z, q, n, 1.0 / N, delta, L, threads=2)
    L_ref, d_ref = reference(z, q, n, N)
    scale = float(n.max()) + 1.0
    np.testing.assert_allclose(L.double().numpy(), L_ref.numpy(), rtol=tol, atol=tol * scale * M / N)
    np.testing.assert_allclose(delta.double().numpy(), d_ref.numpy(), rtol=0, atol=tol * scale)


@needs_kernel
def test_a_copys_numbers_do_not_depend_on_K_or_the_threads():
    rng = np.random.default_rng(0)
    K, V, M = 6, 64, 3000  # 12 chunks a copy, enough work for two threads
    z, q, n, N = problem(rng, K, V, M, 1, torch.float32)

    def run(k0, k1, threads):
        d, L = torch.empty(k1 - k0, V, M), torch.empty(k1 - k0)
        fused_loss(z[k0:k1].contiguous(), q, n, 1.0 / N, d, L, threads)
        return d, L

    d, L = run(0, K, 2)
    for a, b in zip((d, L), run(0, K, 1)):
        assert torch.equal(a, b)
    for a, b in zip((d[3:5], L[3:5]), run(3, 5, 2)):
        assert torch.equal(a, b)


@needs_kernel
def test_non_finite_logits_give_a_non_finite_loss():
    z = torch.zeros(2, 40, 5, dtype=torch.float64)
    z[0, 3, 2] = float("nan")
    z[1, 0, 0] = float("inf")
    q = torch.zeros(1, 40, 5, dtype=torch.float64)
    q[0, 1] = 1.0
    delta, L = torch.empty_like(z), torch.empty(2, dtype=torch.float64)
    fused_loss(z, q, q.sum(1, keepdim=True).contiguous(), 0.2, delta, L)
    assert not torch.isfinite(L).any()


@needs_kernel
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_the_engine_with_the_fused_loss_is_autograds_cross_entropy(label_smoothing):
    rng = np.random.default_rng(1)
    V, M, D = 40, 70, 12
    x = torch.from_numpy(rng.normal(size=(M, D)))
    y = torch.from_numpy(rng.integers(0, V, size=M))
    sizes = (D, 9, V)
    net = PopulationMLP(sizes, x, y, 3, label_smoothing=label_smoothing)
    assert net.loss_pass == "fused"
    theta = torch.from_numpy(rng.normal(size=(3, net.P)))
    net.theta.copy_(theta)
    L = net.loss_and_gradient().clone()
    t = theta.clone().requires_grad_(True)
    want = []
    layers = split_parameters(t, sizes)
    for k in range(3):
        h = torch.tanh(x @ layers[0][0][k] + layers[0][1][k])
        logits = h @ layers[1][0][k] + layers[1][1][k]
        want.append(torch.nn.functional.cross_entropy(logits, y, label_smoothing=label_smoothing))
    want = torch.stack(want)
    want.sum().backward()
    torch.testing.assert_close(L, want.detach(), rtol=1e-12, atol=0)
    torch.testing.assert_close(net.grad, t.grad, rtol=1e-10, atol=1e-13)


@needs_kernel
def test_a_fused_run_equals_torchs_run_and_its_chunks():
    data = MarkovChain.random(32, 1, 0.3, seed=0).sample(300, seed=1)  # 32 tokens: "auto" fuses
    gd = GradientDescent(data, hidden=(12,), population=5, schedule=Constant(0.5))
    run = gd.run(15, 3)
    assert run.meta["loss_pass"] == "fused"
    plain = GradientDescent(data, hidden=(12,), population=5, schedule=Constant(0.5), loss_pass="torch").run(15, 3)
    assert plain.meta["loss_pass"] == "torch"
    for name in run.values:
        np.testing.assert_allclose(run.values[name], plain.values[name], rtol=1e-12)
    np.testing.assert_allclose(run.copy_meta["final_parameters"], plain.copy_meta["final_parameters"], rtol=1e-11,
                               atol=1e-14)
    parts = gd.run(15, 3, chunk=2)
    assert parts.meta["loss_pass"] == "fused"
    for name in run.values:
        np.testing.assert_allclose(parts.values[name], run.values[name], rtol=1e-12)
    again = gd.run(15, 3, chunk=2)  # reruns: bitwise
    assert all(np.array_equal(again.values[name], parts.values[name]) for name in run.values)


def test_auto_fuses_only_the_cross_entropy_of_enough_tokens_on_the_cpu():
    assert choose_loss_pass("auto", "cross_entropy", MIN_OUTPUTS, "cpu") == fused_loss_available()
    assert not choose_loss_pass("auto", "cross_entropy", MIN_OUTPUTS - 1, "cpu")
    assert not choose_loss_pass("auto", "brier", 64, "cpu")
    assert not choose_loss_pass("auto", "cross_entropy", 64, "cuda")
    assert not choose_loss_pass("torch", "cross_entropy", 64, "cpu")
    data = MarkovChain.random(8, 2, 0.3, seed=0).sample(64, seed=1)  # the scenarios' vocabulary keeps torch's passes
    assert GradientDescent(data).run(2, 0).meta["loss_pass"] == "torch"


@pytest.mark.parametrize("loss_pass,loss,device,match", [
    ("fused", "brier", "cpu", "but the loss is 'brier'"),
    ("fused", "cross_entropy", "cuda", "not the CPU"),
    ("one-pass", "cross_entropy", "cpu", "loss_pass='one-pass'; give one of"),
])
def test_a_loss_pass_that_cannot_run_is_refused_in_one_line(loss_pass, loss, device, match):
    with pytest.raises(ParameterError, match=match) as err:
        choose_loss_pass(loss_pass, loss, 64, device)
    assert "\n" not in str(err.value)


def test_gradient_descent_refuses_a_loss_pass_it_cannot_run():
    data = MarkovChain.random(4, 1, 0.3, seed=0).sample(20, seed=1)
    with pytest.raises(ParameterError, match="loss_pass='fast'; choose one of"):
        GradientDescent(data, loss_pass="fast")
    with pytest.raises(ParameterError, match="but this run is the brier on cpu"):
        GradientDescent(data, loss_pass="fused", loss="brier")


@needs_kernel
@pytest.mark.parametrize("order,examples", [(1, 400), (2, 60)])  # the contexts shared by the copies, or padded per copy
def test_per_copy_datasets_fuse_to_torchs_numbers(order, examples):
    chain = MarkovChain.random(32, order, 0.3, seed=2)
    data = tuple(chain.sample(examples, seed=10 + k) for k in range(3))
    runs = {lp: GradientDescent(data, hidden=(7,), population=3, schedule=Constant(0.3), loss_pass=lp).run(10, 5)
            for lp in ("fused", "torch")}
    assert runs["fused"].meta["loss_pass"] == "fused"
    for name in runs["fused"].values:
        np.testing.assert_allclose(runs["fused"].values[name], runs["torch"].values[name], rtol=1e-12)


def test_a_delta_that_overlaps_the_logits_is_refused_in_one_line():
    from agents.language_model.fused_loss import bound_fused_loss

    K, V, M = 1, 40, 6
    buf = torch.zeros(2 * K * V * M, dtype=torch.float64)
    z, delta = buf[: K * V * M].view(K, V, M), buf[1 : 1 + K * V * M].view(K, V, M)  # one element apart
    q, n = torch.zeros(1, V, M, dtype=torch.float64), torch.ones(1, 1, M, dtype=torch.float64)
    with pytest.raises(ParameterError, match="delta overlaps the logits' buffer") as err:
        bound_fused_loss(z, q, n, 1.0 / M, delta, torch.empty(K, dtype=torch.float64))
    assert "\n" not in str(err.value)
