"""Gradient descent on a GPU: the same numbers as on the CPU (float tolerance), or a one-line refusal without one."""

import numpy as np
import pytest
import torch

from agents.language_model.compiled import compiler_available
from agents.language_model.gradient_descent import GradientDescent
from agents.language_model.schedules import Constant
from hierarchy.errors import ParameterError

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_a_gpu_is_refused_in_one_line(data):
    with pytest.raises(ParameterError, match="device='cuda' but torch sees no CUDA GPU here; use device='cpu'"):
        GradientDescent(data, device="cuda")


def test_a_bad_device_name_is_refused(data):
    with pytest.raises(ParameterError, match="device='gpu'; give 'cpu' or 'cuda'"):
        GradientDescent(data, device="gpu")


def test_the_device_and_engine_are_in_the_meta(data):
    tr = GradientDescent(data, population=2).run(3, 0)
    assert tr.meta["device"] == "cpu" and tr.meta["engine"] == "eager"


def _cpu_and_gpu(data, **kw):
    common = dict(data=data, hidden=(5,), population=3, schedule=Constant(0.5), lr_scale=[1.0, 1e6, 0.5], **kw)
    return GradientDescent(**common).run(30, 4), GradientDescent(device="cuda", **common).run(30, 4)


def _assert_same(cpu, gpu):
    assert np.array_equal(cpu.diverged_at, gpu.diverged_at)
    for name in cpu.values:
        a, b = cpu[name], gpu[name]
        assert np.array_equal(np.isnan(a), np.isnan(b)), name
        assert np.allclose(b[~np.isnan(a)], a[~np.isnan(a)], rtol=1e-9), name
    assert np.allclose(gpu.copy_meta["final_parameters"], cpu.copy_meta["final_parameters"], rtol=1e-9, atol=1e-12)


@needs_gpu
def test_eager_engine_on_the_gpu_equals_the_cpu(data):
    """Copy 1's huge rate diverges it (runaway): frozen at the same step on both devices."""
    cpu, gpu = _cpu_and_gpu(data)
    assert gpu.meta["device"] == "cuda"
    _assert_same(cpu, gpu)


@needs_gpu
@pytest.mark.skipif(not compiler_available(), reason="no C++ compiler for torch.compile")
def test_compiled_engine_on_the_gpu_equals_the_cpu(data):
    cpu, gpu = _cpu_and_gpu(data, engine="compiled", block=4)
    _assert_same(cpu, gpu)


@needs_gpu
def test_annealing_jumps_stay_on_the_gpu(data):
    from agents.language_model.annealing import Annealing

    cpu = Annealing(data, hidden=(5,), population=2).run(20, 1)
    gpu = Annealing(data, hidden=(5,), population=2, device="cuda").run(20, 1)
    _assert_same(cpu, gpu)


@needs_gpu
def test_the_kernel_is_refused_on_the_gpu_in_one_line(data):
    with pytest.raises(ParameterError, match=r"^engine='kernel' runs on the CPU, not on cuda; use engine='eager' on a GPU$"):
        GradientDescent(data, engine="kernel", device="cuda")
