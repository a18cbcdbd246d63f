"""The linear self-attention's C++ kernel against autograd and against the torch engine.

Independent truth: autograd through ``query_loss`` (the forward pass written out with
torch's own products) in float64. The kernel promises autograd's loss and gradient to float
rounding: 1e-12 relative in float64; in float32 it sums in float64, so it stays within float32
rounding of the float64 truth for the same float32 inputs (the torch engine, rounding every
partial sum to float32, is the looser of the two).
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import agents.in_context.attention_kernel as kernel_module
import agents.native as native
from agents.in_context.attention import LinearSelfAttention
from agents.in_context.attention_kernel import attention_engine, attention_kernel_available, fits
from agents.in_context.tasks import TaskDistribution, sample_tasks
from agents.in_context.training import InContextTraining, stack_tasks
from agents.torch_random import torch_generator
from hierarchy.errors import ParameterError

needs_kernel = pytest.mark.skipif(not attention_kernel_available(), reason="no C++ compiler for the kernel")


def setting(d, N, K, B, seed, dtype=torch.float64, scale=0.3):
    m = LinearSelfAttention(d=d)
    dists = [TaskDistribution(d=d, N=N, distractors=k % 2, noise=0.5 * (k % 3 == 2)) for k in range(K)]
    tasks = stack_tasks(sample_tasks(dd, torch_generator(seed + k), B, dtype) for k, dd in enumerate(dists))
    params = (torch.randn(K, m.parameter_count(), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
              * scale).to(dtype)
    return m, params, tasks


def autograd(m, params, tasks):
    p = params.detach().double().clone().requires_grad_(True)
    t64 = type(tasks)(*(getattr(tasks, f).double() for f in ("X", "y", "xq", "yq", "w")), tasks.clean, tasks.noise)
    loss = m.query_loss(p, t64)
    (g,) = torch.autograd.grad(loss.sum(), p)
    return loss.detach(), g


def rel(a, b):
    return float((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-300))


@needs_kernel
@settings(max_examples=25, deadline=None)
@given(d=st.integers(1, 12), N=st.integers(1, 12), K=st.integers(1, 4), B=st.integers(1, 40), seed=st.integers(0, 10 ** 6))
def test_loss_and_gradient_equal_autograd_in_float64(d, N, K, B, seed):
    # B from 1 to 40: whole groups of eight tasks and the lanes past the last task
    m, params, tasks = setting(d, N, K, B, seed)
    loss, grad = m.loss_and_gradient(params, tasks, engine="kernel")
    want_loss, want_grad = autograd(m, params, tasks)
    assert loss.dtype == grad.dtype == torch.float64 and grad.shape == params.shape
    assert rel(loss, want_loss) < 1e-12 and rel(grad, want_grad) < 1e-12
    torch_loss, torch_grad = m.loss_and_gradient(params, tasks, engine="torch")
    assert rel(loss, torch_loss) < 1e-12 and rel(grad, torch_grad) < 1e-12


@needs_kernel
def test_float32_stays_within_float32_rounding_of_the_float64_truth():
    m, params, tasks = setting(10, 10, 8, 1024, 3, dtype=torch.float32)
    want_loss, want_grad = autograd(m, params, tasks)  # float64 on the same float32 numbers
    loss, grad = m.loss_and_gradient(params, tasks, engine="kernel")
    torch_loss, torch_grad = m.loss_and_gradient(params, tasks, engine="torch")
    assert loss.dtype == grad.dtype == torch.float32
    assert rel(loss, want_loss) < 1e-6 and rel(grad, want_grad) < 1e-6
    assert rel(loss, want_loss) <= rel(torch_loss, want_loss) + 1e-7


@needs_kernel
def test_training_runs_with_either_engine_to_float_rounding():
    tr = InContextTraining(LinearSelfAttention(d=3), (TaskDistribution(d=3, N=5),) * 3, batch=20, lr=1e-2)
    a = tr.run(30, 4)
    b = InContextTraining(tr.model, tr.distributions, batch=20, lr=1e-2, engine="torch").run(30, 4)
    assert np.allclose(a["L"], b["L"], rtol=1e-9) and np.allclose(a.product["params"], b.product["params"], rtol=1e-8,
                                                                   atol=1e-12)
    assert a.meta["loss and gradient"].startswith("C++ kernel") and b.meta["loss and gradient"] == "torch operations"


def test_what_the_kernel_cannot_take_runs_in_torch_or_is_one_line():
    m, params, tasks = setting(3, 4, 2, 5, 0)
    shared = sample_tasks(TaskDistribution(d=3, N=4), torch_generator(0), 5)
    assert fits(m, params, shared) == "tasks without a copy axis (shared by the copies)"
    assert fits(LinearSelfAttention(d=3, layers=2), params, tasks) == "2 layers (the kernel computes one)"
    assert fits(m, params.float(), tasks).startswith("dtypes ['torch.float32', 'torch.float64']")
    assert fits(m, params[:1], tasks) == "tasks for 2 copies, parameters for 1"
    loss, grad = m.loss_and_gradient(params, shared)  # auto: the torch engine
    assert torch.equal(grad, m.loss_and_gradient(params, shared, engine="torch")[1])
    with pytest.raises(ParameterError, match=r"^engine='kernel' cannot take tasks without a copy axis \(shared by the "
                                             r"copies\); use engine='auto'$"):
        m.loss_and_gradient(params, shared, engine="kernel")
    with pytest.raises(ParameterError, match=r"^engine='fast'; choose one of auto, kernel, torch$"):
        m.loss_and_gradient(params, tasks, engine="fast")
    with pytest.raises(ParameterError, match=r"^engine='fast'; choose one of auto, kernel, torch$"):
        InContextTraining(m, (TaskDistribution(d=3, N=4),), engine="fast")


def test_without_a_compiler_auto_runs_torch_and_kernel_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(kernel_module._KERNEL, "loaded", None)
    monkeypatch.setattr(kernel_module._KERNEL, "failure", None)
    monkeypatch.setenv("MESASTACK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(native.shutil, "which", lambda name: None)
    m, params, tasks = setting(3, 4, 2, 9, 1)
    assert not attention_kernel_available() and attention_engine().startswith("torch operations")
    assert torch.equal(m.loss_and_gradient(params, tasks)[1], m.loss_and_gradient(params, tasks, engine="torch")[1])
    with pytest.raises(ParameterError, match=r"^engine='kernel' needs the linear self-attention's C\+\+ kernel, and no "
                                             r"C\+\+ compiler \(g\+\+, c\+\+ or clang\+\+\) is on the PATH; install "
                                             r"g\+\+ \(or clang\+\+\), or use engine='torch'$"):
        m.loss_and_gradient(params, tasks, engine="kernel")
