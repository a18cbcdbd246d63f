"""The lane kernel's own promises (agents.language_model.lane_kernel): a copy's numbers do not depend on the
other copies of its group, on K, on where the groups start, on the threads or on the block; tiles of 16
contexts (a partial last one), two hidden layers and dense shared inputs give the eager engine's numbers;
what it cannot run is refused in one line.

Independent truth: the eager engine (PopulationMLP's hand-written passes through the one loop), to float
rounding. Its agreement on the cases shared with the other block engines (rates per copy, a last partial
block, divergence, an exploding copy, float32, progress, the caller's parameters not written) is in
test_compiled.py.
"""

import numpy as np
import pytest
import torch

from agents.language_model.gradient_descent import GradientDescent, descend
from agents.language_model.lane_kernel import LaneSteps, lane_kernel_available, lanes_per_group
from agents.language_model.markov import MarkovChain
from agents.language_model.mlp import PopulationMLP, init_parameters
from agents.language_model.schedules import Constant, Decay
from hierarchy.errors import ParameterError
from tests.agents.language_model.helpers import assert_records_close

pytestmark = pytest.mark.skipif(not lane_kernel_available(), reason="the lane kernel does not build here (no C++ compiler)")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_copy_does_not_depend_on_its_group_K_threads_or_block(data, dtype):
    """20 copies (one full group and a partial one in float32, two and a half in float64): copy k alone, or in
    calls that start its group elsewhere, on 1 or 2 threads, in blocks of 3 or 128, gives bitwise the same."""
    G = lanes_per_group(getattr(torch, dtype))
    K = 20
    kw = dict(data=data, hidden=(5,), schedule=Decay(0.5, 20.0), dtype=dtype, engine="lanes")
    gd = GradientDescent(population=K, lr_scale=np.linspace(0.3, 2.0, K), threads=1, **kw)
    theta0 = gd.initial_parameters(4)
    full = gd.run(30, 4)
    again = GradientDescent(population=K, init=theta0, lr_scale=gd.lr_scale, threads=2, block=3, **kw).run(30, 0)
    for name in full.values:
        assert np.array_equal(full[name], again[name]), name
    for k in (0, G - 1, G, K - 1):
        alone = GradientDescent(population=1, init=theta0[k:k + 1], lr_scale=gd.lr_scale[k:k + 1], **kw).run(30, 0)
        for name in full.values:
            assert np.array_equal(alone[name][0], full[name][k]), (k, name)
        assert np.array_equal(alone.copy_meta["final_parameters"][0], full.copy_meta["final_parameters"][k])
    shifted = GradientDescent(population=K - 3, init=theta0[3:], lr_scale=gd.lr_scale[3:], **kw).run(30, 0)
    for name in full.values:  # every group now starts three copies later
        assert np.array_equal(shifted[name], full[name][3:]), name


@pytest.mark.parametrize("examples,hidden", [(300, (7, 4)), (3000, (9,)), (180, (12, 10)), (500, (5,))])
def test_tiles_of_contexts_and_two_hidden_layers_equal_the_eager_engine(examples, hidden):
    """Order 3 over 6 tokens: up to 216 distinct contexts, so many tiles of 16 and a partial last one, run as a
    tile of 16, 4, 8 and 12 columns (141, 212, 104 and 171 contexts). The widths take the kernel's blocks of 8
    units in registers whole, with a remainder (9, 12 -> 10) and alone (7, 4, 10 -> 6, 5)."""
    d = MarkovChain.random(6, 3, 0.5, seed=2).sample(examples, seed=3)
    M = len(d.context_counts()[0])
    assert M > 16 and M % 16 == {300: 13, 3000: 4, 180: 8, 500: 11}[examples]
    kw = dict(data=d, hidden=hidden, population=3, schedule=Constant(0.4), lr_scale=[1.0, 0.5, 2.0])
    eager = GradientDescent(**kw).run(12, 1)
    lanes = GradientDescent(engine="lanes", **kw).run(12, 1)
    assert_records_close(eager, lanes, 1e-12)
    np.testing.assert_allclose(lanes.copy_meta["final_parameters"], eager.copy_meta["final_parameters"], rtol=1e-12,
                               atol=1e-14)


def test_dense_inputs_shared_by_the_copies_equal_the_eager_engine():
    """Inputs that are not one-hot (every entry nonzero, some exact zeros): the first layer over all of them."""
    gen = torch.Generator().manual_seed(4)
    M, D, V, K = 40, 6, 5, 3
    x = torch.randn(M, D, generator=gen, dtype=torch.float64)
    x[::3, 2] = 0.0
    y = torch.randint(0, V, (M,), generator=gen)
    sizes = (D, 7, V)
    theta0 = init_parameters(sizes, np.random.SeedSequence(8).spawn(K))
    lrs = np.full(10, 0.2)
    eager = descend(PopulationMLP(sizes, x, y, K), theta0, lrs, None, 10)
    lanes = descend(PopulationMLP(sizes, x, y, K), theta0, lrs, None, 10, block=("lanes", 4))
    for name in eager[0]:
        np.testing.assert_allclose(lanes[0][name], eager[0][name], rtol=1e-12, err_msg=name)
    np.testing.assert_allclose(lanes[2], eager[2], rtol=1e-12, atol=1e-14)


def test_what_it_cannot_run_is_refused_in_one_line(data):
    with pytest.raises(ParameterError, match="engine='lanes' runs the cross-entropy, not loss='brier'; use engine='kernel'"):
        GradientDescent(data, loss="brier", engine="lanes")
    chains = [MarkovChain.random(6, 1, 0.5, seed=s) for s in range(2)]
    per_copy = tuple(c.sample(40, seed=10 + i) for i, c in enumerate(chains))
    with pytest.raises(ParameterError, match="engine='lanes' runs copies that share their inputs and targets.*use engine='kernel'"):
        GradientDescent(per_copy, hidden=(3,), population=2, engine="lanes").run(4, 0)
    with pytest.raises(ParameterError, match="block=0"):
        LaneSteps(PopulationMLP((16, 3, 8), torch.from_numpy(data.inputs(np.float64)), torch.from_numpy(data.targets), 1), 0)


def test_a_lane_engine_off_the_cpu_is_refused_under_its_own_name(data):
    net = PopulationMLP((16, 3, 8), torch.from_numpy(data.inputs(np.float64)), torch.from_numpy(data.targets), 1)
    net.device = torch.device("meta")  # any device but the CPU
    with pytest.raises(ParameterError, match=r"^engine='lanes' runs on the CPU, not on meta; use engine='eager' on a GPU$"):
        LaneSteps(net, 4)
