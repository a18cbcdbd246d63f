"""The C++ kernel's own promises (agents.language_model.kernel): a copy's numbers do not depend on K,
on the threads or on the block; tiles of 64 contexts (with a partial last tile) give the eager
engine's numbers; the build is cached, atomic and refused in one line where it cannot happen.

Its agreement with the eager engine on the shared cases (rates per copy, divergence, an exploding
copy, float32, Brier, data per copy, progress) and that the caller's parameters are not written
are in test_compiled.py, parametrized over the block engines.
"""

import numpy as np
import pytest
import torch

import agents.language_model.kernel as kernel_module
import agents.native as native
from agents.language_model.gradient_descent import GradientDescent
from agents.language_model.kernel import KernelSteps, kernel_available
from agents.language_model.markov import MarkovChain
from agents.language_model.gradient_descent import descend
from agents.language_model.mlp import PopulationMLP, init_parameters
from agents.language_model.schedules import Constant, Decay
from hierarchy.errors import ParameterError
from tests.agents.language_model.helpers import assert_records_close

pytestmark = pytest.mark.skipif(not kernel_available(), reason="the C++ kernel does not build here (no C++ compiler)")


def test_a_copy_does_not_depend_on_K_threads_or_block(data):
    """Copy k alone, in a population of 5, on 1 or 2 threads, in blocks of 3 or 128: bitwise the same."""
    gd = GradientDescent(data, hidden=(5,), population=5, schedule=Decay(0.5, 20.0), lr_scale=[1.0, 0.3, 2.0, 0.7, 1.5],
                         engine="kernel", threads=1)
    theta0 = gd.initial_parameters(4)
    full = GradientDescent(data, hidden=(5,), population=5, schedule=Decay(0.5, 20.0), init=theta0,
                           lr_scale=gd.lr_scale, engine="kernel", threads=2, block=3).run(30, 0)
    again = gd.run(30, 4)
    for name in full.values:
        assert np.array_equal(full[name], again[name]), name
    for k in (0, 3):
        alone = GradientDescent(data, hidden=(5,), population=1, schedule=Decay(0.5, 20.0), init=theta0[k:k + 1],
                                lr_scale=gd.lr_scale[k:k + 1], engine="kernel").run(30, 0)
        for name in full.values:
            assert np.array_equal(alone[name][0], full[name][k]), (k, name)
        assert np.array_equal(alone.copy_meta["final_parameters"][0], full.copy_meta["final_parameters"][k])


def test_a_block_cut_into_calls_of_a_few_copies_gives_the_same_numbers(data, monkeypatch):
    """CALL_FLOPS so small that every call runs one copy (Python sees a Ctrl-C between calls): bitwise the same."""
    kw = dict(data=data, hidden=(4,), population=5, schedule=Constant(0.3), engine="kernel", threads=2)
    whole = GradientDescent(**kw).run(20, 7)
    calls = []
    real = KernelSteps.__call__

    def counted(self, *args):
        before = self._fn
        self._fn = lambda *a: (calls.append(a[2:4]), before(*a))[1]
        try:
            return real(self, *args)
        finally:
            self._fn = before

    monkeypatch.setattr(kernel_module, "CALL_FLOPS", 1.0)
    monkeypatch.setattr(KernelSteps, "__call__", counted)
    cut = GradientDescent(**kw).run(20, 7)
    assert sorted(set(calls)) == [(0, 2), (2, 4), (4, 5)]  # two copies a call: one per thread
    for name in whole.values:
        assert np.array_equal(whole[name], cut[name]), name


@pytest.mark.parametrize("examples", [400, 3000])
def test_more_contexts_than_a_tile_equal_the_eager_engine(examples):
    """Order 3 over 6 tokens: up to 216 distinct contexts, so several tiles of 64 and a partial last one."""
    chain = MarkovChain.random(6, 3, 0.5, seed=2)
    d = chain.sample(examples, seed=3)
    M = len(d.context_counts()[0])
    assert M > 64 and M % 64 != 0
    kw = dict(data=d, hidden=(7, 4), population=3, schedule=Constant(0.4), lr_scale=[1.0, 0.5, 2.0])
    eager = GradientDescent(**kw).run(12, 1)
    kern = GradientDescent(engine="kernel", **kw).run(12, 1)
    assert_records_close(eager, kern, 1e-12)
    np.testing.assert_allclose(kern.copy_meta["final_parameters"], eager.copy_meta["final_parameters"], rtol=1e-12,
                               atol=1e-14)


@pytest.mark.parametrize("loss", ["cross_entropy", "brier"])
def test_inputs_and_targets_per_copy_equal_the_eager_engine(loss):
    """Each copy its own dense inputs [K, M, D] and targets [K, M] (no shared product), 90 rows: two tiles."""
    gen = torch.Generator().manual_seed(3)
    K, M, D, V = 3, 90, 5, 4
    x = torch.randn(K, M, D, generator=gen, dtype=torch.float64)
    y = torch.randint(0, V, (K, M), generator=gen)
    sizes = (D, 6, V)
    theta0 = init_parameters(sizes, np.random.SeedSequence(5).spawn(K))
    lrs = np.full(9, 0.3)
    eager = descend(PopulationMLP(sizes, x, y, K, loss=loss), theta0, lrs, None, 9)
    kern = descend(PopulationMLP(sizes, x, y, K, loss=loss), theta0, lrs, None, 9, block=("kernel", 4))
    for name in eager[0]:
        np.testing.assert_allclose(kern[0][name], eager[0][name], rtol=1e-12, err_msg=name)
    np.testing.assert_allclose(kern[2], eager[2], rtol=1e-12, atol=1e-14)


def test_a_kernel_that_cannot_allocate_is_a_one_line_memory_error(data):
    """The kernel returns 1 when its buffers or threads cannot be had (no C++ exception reaches Python)."""
    net = PopulationMLP((16, 3, 8), torch.from_numpy(data.inputs(np.float64)), torch.from_numpy(data.targets), 2)
    steps = KernelSteps(net, 4)
    steps._fn = lambda *args: 1
    with pytest.raises(MemoryError, match=r"^the kernel could not allocate its working buffers for copies 0 onwards; "
                                          r"free some memory, or use engine='eager'$"):
        steps(torch.zeros(2, net.P, dtype=torch.float64), torch.full((4,), 0.5, dtype=torch.float64),
              torch.ones(2, 1, dtype=torch.float64), torch.zeros(2, dtype=torch.bool),
              torch.full((2,), float("nan"), dtype=torch.float64), torch.tensor(1e4, dtype=torch.float64))


def test_bad_inputs_are_one_line(data):
    net = PopulationMLP((16, 3, 8), torch.from_numpy(data.inputs(np.float64)), torch.from_numpy(data.targets), 1)
    with pytest.raises(ParameterError, match=r"block=0; give a positive number of steps per kernel call, such as 128"):
        KernelSteps(net, 0)
    net.device = torch.device("meta")  # any device but the CPU
    with pytest.raises(ParameterError, match=r"engine='kernel' runs on the CPU, not on meta; use engine='eager' on a GPU"):
        KernelSteps(net, 4)


@pytest.fixture
def fresh_build(monkeypatch, tmp_path):
    """The module as if nothing were built yet, building into an empty cache folder."""
    monkeypatch.setattr(kernel_module._KERNEL, "loaded", None)
    monkeypatch.setattr(kernel_module._KERNEL, "failure", None)
    monkeypatch.setenv("MESASTACK_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_the_build_is_cached_and_leaves_only_the_library(fresh_build):
    lib = kernel_module.kernel_library()
    assert lib.mesastack_kernel_version() == 2
    files = sorted(p.name for p in fresh_build.iterdir())
    assert len(files) == 1 and files[0].startswith("kernel-") and files[0].endswith(".so")  # no temporary folder left
    built = (fresh_build / files[0]).stat().st_mtime_ns
    kernel_module._KERNEL.loaded = None
    kernel_module.kernel_library()
    assert [p.name for p in fresh_build.iterdir()] == files and (fresh_build / files[0]).stat().st_mtime_ns == built


def test_an_unwritable_cache_folder_falls_back_to_the_temporary_folder(fresh_build, monkeypatch, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("MESASTACK_CACHE", str(blocked / "cache"))  # cannot be made: a file is in the way
    monkeypatch.setattr(native.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    assert kernel_module.kernel_library().mesastack_kernel_version() == 2
    assert len(list((tmp_path / "tmp").glob("mesastack-*/kernel-*.so"))) == 1


def test_a_changed_source_builds_anew(fresh_build, monkeypatch, tmp_path):
    kernel_module.kernel_library()
    here = kernel_module.SOURCE.parent  # the copy beside copies of the headers it includes
    (tmp_path / "language_model").mkdir()
    for header in [*here.parent.glob("*.h"), *here.glob("*.h")]:
        (tmp_path / header.relative_to(here.parent)).write_bytes(header.read_bytes())
    changed = tmp_path / "language_model" / "kernel.cpp"
    changed.write_text(kernel_module.SOURCE.read_text() + "\n// changed\n")
    monkeypatch.setattr(kernel_module, "SOURCE", changed)
    kernel_module._KERNEL.loaded = None
    kernel_module.kernel_library()
    assert len([p for p in fresh_build.iterdir() if p.suffix == ".so"]) == 2


@pytest.mark.skipif(native.compiler() is None, reason="no C++ compiler here")
def test_a_changed_header_builds_anew(tmp_path):
    (tmp_path / "src").mkdir()
    source = tmp_path / "src" / "k.cpp"
    source.write_text('#include "../h.h"\n#ifndef MESASTACK_VECTOR_MATH\n'  # built twice, as every kernel
                      'extern "C" int mesastack_answer() { return ANSWER; }\n#endif\n')
    header = tmp_path / "h.h"
    header.write_text("#define ANSWER 41\n")
    first = native.build(source, native.compiler(), tmp_path / "cache")
    header.write_text("#define ANSWER 42\n")
    second = native.build(source, native.compiler(), tmp_path / "cache")
    assert first != second and first.exists()
    assert native.ctypes.CDLL(str(second)).mesastack_answer() == 42


def test_a_missing_compiler_is_one_line(fresh_build, monkeypatch, data):
    monkeypatch.setattr(native.shutil, "which", lambda name: None)
    assert kernel_available() is False
    with pytest.raises(ParameterError, match=r"^engine='kernel' needs its C\+\+ kernel, and no C\+\+ compiler \(g\+\+, c\+\+ "
                                             r"or clang\+\+\) is on the PATH; install g\+\+ \(or clang\+\+\), or use "
                                             r"engine='eager'$"):
        GradientDescent(data, hidden=(3,), engine="kernel").run(4, 0)


def test_a_failing_build_is_one_line_and_leaves_nothing(fresh_build, monkeypatch, tmp_path):
    broken = tmp_path / "kernel.cpp"
    broken.write_text("this is not C++\n")
    monkeypatch.setattr(kernel_module, "SOURCE", broken)
    with pytest.raises(ParameterError) as err:
        kernel_module.kernel_library()
    message = str(err.value)
    assert "\n" not in message and message.startswith("engine='kernel' needs its C++ kernel, and building the kernel with ")
    assert message.endswith("; install g++ (or clang++), or use engine='eager'")
    assert [p.name for p in fresh_build.iterdir()] == []
