"""The block engines (blocks of steps in one torch.compile'd program, or in the C++ kernel) against the eager engine.

The eager engine (the hand-written PopulationMLP through the one loop) is the plain
computation; the compiled engine and the kernel must give the same records and final
parameters to float rounding (they sum in other orders), the same divergence and runaway
steps, and the same refusals. The first compile of a shape takes 10 to 25 s: the tests
share a few shapes (torch caches a compiled shape). The kernel's own properties (threads,
tiles, its build) are in test_kernel.py.
"""

import numpy as np
import pytest
import torch

import agents.language_model.compiled as compiled_module
from agents.language_model.annealing import Annealing
from agents.language_model.compiled import CompiledSteps, compiler_available
from agents.language_model.gradient_descent import GradientDescent
from agents.language_model.kernel import KernelSteps, kernel_available
from agents.language_model.lane_kernel import LaneSteps, lane_kernel_available
from agents.language_model.markov import MarkovChain
from agents.language_model.mlp import PopulationMLP
from agents.language_model.schedules import Constant, Decay
from agents.language_model.gradient_descent import descend
from agents.training.loop import train_blocks
from hierarchy.errors import ParameterError
from tests.agents.language_model.helpers import assert_records_close

needs_compiler = pytest.mark.skipif(not compiler_available(), reason="no working C++ compiler for torch.compile here")
needs_kernel = pytest.mark.skipif(not kernel_available(), reason="the C++ kernel does not build here (no C++ compiler)")
BLOCK_ENGINES = [pytest.param("compiled", marks=needs_compiler), pytest.param("kernel", marks=needs_kernel)]
needs_lanes = pytest.mark.skipif(not lane_kernel_available(), reason="the lane kernel does not build here (no C++ compiler)")
#: with the lane kernel, which runs the cross-entropy of copies sharing their data only
SHARED_DATA_ENGINES = BLOCK_ENGINES + [pytest.param("lanes", marks=needs_lanes)]
#: the C++ kernels' engines and their step classes
NATIVE_ENGINES = [pytest.param("kernel", KernelSteps, marks=needs_kernel), pytest.param("lanes", LaneSteps, marks=needs_lanes)]


def test_a_broken_toolchain_is_caught_by_the_probe(monkeypatch):
    """A compiler on the PATH that cannot build (here: torch.compile raising) means the engine is not offered."""
    def broken(*args, **kwargs):
        raise RuntimeError("cannot find Python.h")

    monkeypatch.setattr(compiled_module, "_PROBE", None)
    monkeypatch.setattr(compiled_module.torch, "compile", broken)
    assert compiler_available() is False


def _both(steps, engine="compiled", **kw):
    eager = GradientDescent(**kw).run(steps, 3)
    fused = GradientDescent(engine=engine, block=4, **kw).run(steps, 3)
    return eager, fused


def _assert_close(eager, fused, rtol):
    assert sorted(eager.values) == sorted(fused.values)
    assert_records_close(eager, fused, rtol)
    assert np.allclose(fused.copy_meta["final_parameters"], eager.copy_meta["final_parameters"], rtol=rtol, atol=1e-14)
    assert np.array_equal(fused.diverged_at, eager.diverged_at)


@pytest.mark.parametrize("engine", SHARED_DATA_ENGINES)
def test_block_engine_equals_eager_with_rates_per_copy_and_a_last_partial_block(data, engine):
    """21 steps in blocks of 4 (the last block padded), per-copy rate multipliers, a decaying schedule."""
    eager, fused = _both(21, engine, data=data, hidden=(3,), population=3, schedule=Decay(0.5, 10.0), lr_scale=[1.0, 0.5, 2.0])
    _assert_close(eager, fused, 1e-12)
    assert eager.T == fused.T == 22
    assert fused.meta["divergence"] == eager.meta["divergence"]


@pytest.mark.parametrize("engine", SHARED_DATA_ENGINES)
def test_block_engine_freezes_diverging_copies_at_the_same_step(data, engine):
    """A huge rate for copy 1 sends its L up without overflow: the runaway rule freezes it at the same step."""
    eager, fused = _both(21, engine, data=data, hidden=(3,), population=3, schedule=Constant(0.5), lr_scale=[1.0, 1e6, 1.0])
    assert eager.diverged_at[1] >= 0 and eager.diverged_at[0] == eager.diverged_at[2] == -1
    _assert_close(eager, fused, 1e-12)
    frozen = eager.diverged_at[1]
    assert np.isnan(fused["L"][1, frozen:]).all()


@pytest.mark.parametrize("engine,steps", NATIVE_ENGINES)
def test_a_kernel_freezes_an_exploding_copy_at_the_eager_engines_step(data, engine, steps):
    """A rate of 1e300 throws copy 1's parameters out at its first update (L not finite, no runaway needed)."""
    kw = dict(data=data, hidden=(3,), population=2, schedule=Constant(0.5), lr_scale=[1.0, 1e300])
    eager = GradientDescent(**kw).run(15, 6)
    fused = GradientDescent(engine=engine, **kw).run(15, 6)
    assert eager.diverged_at[1] >= 0 and eager.diverged_at[0] == -1
    _assert_close(eager, fused, 1e-12)


@pytest.mark.parametrize("engine,steps", NATIVE_ENGINES)
def test_a_kernel_in_float32_equals_the_eager_engine_to_float32_rounding(data, engine, steps):
    """18 copies: a whole group of the lane kernel's 16 and a partial one."""
    kw = dict(data=data, hidden=(8,), population=18, schedule=Constant(0.1), dtype="float32")
    eager = GradientDescent(**kw).run(40, 5)
    fused = GradientDescent(engine=engine, **kw).run(40, 5)
    for name in eager.values:
        np.testing.assert_allclose(fused[name], eager[name], rtol=2e-5, atol=0, err_msg=name)


@pytest.mark.parametrize("engine,steps", NATIVE_ENGINES)
def test_a_kernel_does_not_write_the_starting_parameters(data, engine, steps):
    net = PopulationMLP((16, 3, 8), torch.from_numpy(data.inputs(np.float64)), torch.from_numpy(data.targets), 2)
    theta0 = torch.randn(2, net.P, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    before = theta0.clone()
    theta, *_ = steps(net, 4)(theta0, torch.full((4,), 0.5, dtype=torch.float64), torch.ones(2, 1, dtype=torch.float64),
                              torch.zeros(2, dtype=torch.bool), torch.full((2,), float("nan"), dtype=torch.float64),
                              torch.tensor(1e4, dtype=torch.float64))
    assert torch.equal(theta0, before) and not torch.equal(theta, before)


@pytest.mark.parametrize("engine", BLOCK_ENGINES)
def test_block_engine_brier_smoothing_two_layers_and_data_per_copy(engine):
    chains = [MarkovChain.random(6, 1, 0.5, seed=s) for s in range(2)]
    per_copy = tuple(c.sample(40, seed=10 + i) for i, c in enumerate(chains))
    eager, fused = _both(8, engine, data=per_copy, hidden=(4, 3), population=2, loss="brier", label_smoothing=0.1,
                         schedule=Constant(0.3))
    _assert_close(eager, fused, 1e-12)


@pytest.mark.parametrize("engine", SHARED_DATA_ENGINES)
def test_block_engine_progress_counts_every_step(data, engine):
    seen = []
    GradientDescent(data, hidden=(3,), population=3, engine=engine, block=4).run(10, 0, progress=seen.append)
    assert seen == [4, 8, 10]


def test_engine_choice_is_checked_in_one_line(data):
    with pytest.raises(ParameterError, match="engine=.fast.; choose one of eager, compiled, kernel"):
        GradientDescent(data, engine="fast")
    with pytest.raises(ParameterError, match="block=0"):
        GradientDescent(data, engine="compiled", block=0)
    with pytest.raises(ParameterError, match="block=True; give a positive number of steps per call, such as 128"):
        GradientDescent(data, engine="kernel", block=True)
    for engine in ("compiled", "kernel", "lanes"):
        with pytest.raises(ParameterError, match=f"engine='{engine}' runs plain gradient descent, but Annealing has its own "
                                                 f"optimizer; use engine='eager'"):
            Annealing(data, engine=engine)


def test_a_missing_compiler_is_one_line(data, monkeypatch):
    monkeypatch.setattr(compiled_module, "_PROBE", None)
    monkeypatch.setattr(compiled_module.shutil, "which", lambda name: None)
    with pytest.raises(ParameterError, match=r"needs a C\+\+ compiler .* install g\+\+ \(or clang\+\+\) and Python's headers, "
                                             r"or use engine='eager'"):
        GradientDescent(data, hidden=(3,), engine="compiled").run(4, 0)


@pytest.mark.parametrize("runaway", [1e4, None])
def test_the_block_rules_without_the_compiler_equal_the_eager_loop(data, runaway):
    """The block function run op by op (no compiler needed) through train_blocks: the eager loop's
    records, frozen copies and final parameters, with and without the runaway rule."""
    gd = GradientDescent(data, hidden=(3,), population=3, schedule=Constant(0.5), lr_scale=[1.0, 1e6, 1.0])
    theta0 = gd.initial_parameters(2)
    lrs = np.full(13, 0.5)
    eager = descend(gd._network(), theta0, lrs, gd.lr_scale, 13)
    net = gd._network()
    r = train_blocks(CompiledSteps(net, 5, compile=False), torch.from_numpy(theta0), lrs, 13, scale=gd.lr_scale,
                     runaway=runaway)
    if runaway is None:  # overflow only: copy 1 runs on (its L grows but stays finite)
        assert r.diverged_at[1] == -1 and eager[1][1] >= 0
        np.testing.assert_allclose(r.values["L"][[0, 2]], eager[0]["L"][[0, 2]], rtol=1e-12)
        return
    assert np.array_equal(r.diverged_at, eager[1]) and eager[1][1] >= 0
    for name in ("L", "G", "G1"):
        a, b = eager[0][name], r.values[name]
        assert np.array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_allclose(b[~np.isnan(a)], a[~np.isnan(a)], rtol=1e-12)
    np.testing.assert_allclose(r.params, eager[2], rtol=1e-12, atol=1e-14)


def test_every_shape_gets_a_code_object_of_its_own(monkeypatch):
    """torch.compile stops at 8 programs per code object (recompile_limit): a run of many shapes in one
    process (a sweep of widths, the peers benchmark) needs one code object per shape."""
    monkeypatch.setattr(compiled_module, "_COMPILED", {})
    fns = []
    for n in range(10):
        fn = compiled_module._compile((4, 2 + n, 4), True, "cross_entropy", 4.0, 0.0, 2, True)
        compiled_module._COMPILED[n] = fn
        fns.append(fn._torchdynamo_orig_callable.__code__)
    assert len({id(c) for c in fns}) == 10
