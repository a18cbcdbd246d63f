"""The engines and optimizers of the torch leaf: batched = loop, fallback, torch.optim = agents.training, divergence."""

import functools
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hierarchy.errors import LeafError
from agents.torch_training import TorchLeaf
from agents.training import adam, momentum, sgd
from tests.agents.torch_training.helpers import classification, mlp

F64 = torch.float64


def assert_same_run(a, b, rtol=1e-10):
    assert set(a.values) == set(b.values)
    for name in a.values:
        np.testing.assert_allclose(a[name], b[name], rtol=rtol, atol=1e-12, err_msg=name)


def test_vmap_and_loop_engines_agree(data, heldout):
    kw = dict(heldout=heldout, objectives=("L_test", "E_test", "E_train"), population=3, optimizer=momentum(0.1, 0.9))
    a = TorchLeaf(mlp, data, engine="vmap", **kw).run(15, 4)
    b = TorchLeaf(mlp, data, engine="loop", **kw).run(15, 4)
    assert (a.meta["engine"], b.meta["engine"]) == ("vmap", "loop")
    assert_same_run(a, b)
    assert "G_momentum" in a.values


def test_auto_runs_one_copy_on_the_loop_without_a_warning(data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one = TorchLeaf(CallsItem, data).run(3, 0)
    assert one.meta["engine"] == "loop"
    assert TorchLeaf(mlp, data, population=2).run(1, 0).meta["engine"] == "vmap"


def test_per_copy_datasets_match_single_copy_runs():
    d0, d1 = classification(30, 5), classification(30, 6)
    both = TorchLeaf(mlp, (d0, d1), population=2)
    init = both.initial_parameters(0)
    tr = both.run(10, 0)
    for k, d in enumerate((d0, d1)):
        one = TorchLeaf(mlp, d, init=init[k:k + 1]).run(10, 0)
        np.testing.assert_allclose(tr["L"][k], one["L"][0], rtol=1e-12)
        np.testing.assert_allclose(tr["G"][k], one["G"][0], rtol=1e-10)


def test_lr_scale_gives_each_copy_the_run_of_its_learning_rate(data):
    s = np.array([0.5, 1.0, 3.0])
    leaf = TorchLeaf(mlp, data, population=3, optimizer=adam(0.01), lr_scale=s)
    init = leaf.initial_parameters(1)
    tr = leaf.run(12, 1)
    for k in range(3):
        one = TorchLeaf(mlp, data, init=init[k:k + 1], optimizer=adam(0.01 * s[k])).run(12, 1)
        for name in ("L", "G", "G_adam"):
            np.testing.assert_allclose(tr[name][k], one[name][0], rtol=1e-9, err_msg=name)


def test_torch_adam_class_matches_the_loops_adam(data):
    kw = dict(population=2, record_update=True)
    ours = TorchLeaf(mlp, data, optimizer=adam(0.02, b1=0.8, b2=0.99, eps=1e-7), **kw).run(20, 3)
    theirs = TorchLeaf(mlp, data, optimizer=functools.partial(torch.optim.Adam, lr=0.02, betas=(0.8, 0.99), eps=1e-7),
                       **kw).run(20, 3)
    for name in ("L", "G", "G1", "U"):
        np.testing.assert_allclose(theirs[name], ours[name], rtol=1e-8, atol=1e-14, err_msg=name)
    assert theirs.meta["optimizer"].startswith("torch.optim.Adam(")


def test_torch_sgd_momentum_matches_heavy_ball(data):
    ours = TorchLeaf(mlp, data, optimizer=momentum(0.05, 0.9), population=2).run(15, 2)
    theirs = TorchLeaf(mlp, data, optimizer=functools.partial(torch.optim.SGD, lr=0.05, momentum=0.9),
                       population=2).run(15, 2)
    np.testing.assert_allclose(theirs["L"], ours["L"], rtol=1e-10)


def test_copy_k_start_does_not_depend_on_K_and_seeds_repeat(data):
    big = TorchLeaf(mlp, data, population=4)
    small = TorchLeaf(mlp, data, population=2)
    np.testing.assert_array_equal(big.initial_parameters(7)[:2], small.initial_parameters(7))
    a, b, c = big.run(5, 7), big.run(5, 7), big.run(5, 8)
    for name in a.values:
        np.testing.assert_array_equal(a[name], b[name])
    assert not np.array_equal(a["L"], c["L"])
    np.testing.assert_array_equal(a["L"][:2], small.run(5, 7)["L"])


def test_the_global_random_state_is_untouched(data):
    before = torch.get_rng_state()
    TorchLeaf(mlp, data, population=2).run(3, 0)
    assert torch.equal(before, torch.get_rng_state())


def test_module_holds_a_trained_copy(data):
    leaf = TorchLeaf(mlp, data, population=2)
    tr = leaf.run(10, 0)
    net = leaf.module(tr.copy_meta["final_parameters"][1])
    x, y = data
    with torch.no_grad():
        L = F.cross_entropy(net(x), y).item()
    # the last recorded L is at the final parameters
    assert L == pytest.approx(tr["L"][1, -1], rel=1e-12)
    np.testing.assert_array_equal(tr.copy_meta["initial_parameters"], leaf.initial_parameters(0))


class CallsItem(nn.Module):
    """A module vmap cannot batch: its forward reads a value with .item()."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 2)

    def forward(self, x):
        scale = 1.0 + 0.0 * self.lin.weight.sum().item()
        return self.lin(x) * scale


def with_batchnorm():
    return nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Linear(5, 2))


@pytest.mark.parametrize("factory", [CallsItem, with_batchnorm])
def test_a_module_vmap_cannot_batch_falls_back_with_one_warning(data, factory):
    leaf = TorchLeaf(factory, data, population=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tr = leaf.run(3, 0)
    msgs = [str(w.message) for w in caught]
    assert len(msgs) == 1 and "vmap cannot batch" in msgs[0] and "\n" not in msgs[0]
    assert tr.meta["engine"] == "loop"
    # independent truth: the module itself, loaded with copy 1's start, through plain autograd
    x, y = data
    net = leaf.module(leaf.initial_parameters(0)[1])
    net.train()
    L = F.cross_entropy(net(x), y)
    G = sum(float((g ** 2).sum()) for g in torch.autograd.grad(L, list(net.parameters())))
    assert tr["L"][1, 0] == pytest.approx(L.item(), rel=1e-12)
    assert tr["G"][1, 0] == pytest.approx(G, rel=1e-10)
    with pytest.raises(LeafError, match="engine='vmap' cannot batch"):
        TorchLeaf(factory, data, population=2, engine="vmap").run(2, 0)


def test_overflow_in_a_users_model_is_marked_diverged_not_a_crash():
    x, y = classification(20, 0)
    leaf = TorchLeaf(lambda: nn.Linear(4, 1), (x, y.to(F64) * 1e3), loss="mse", optimizer=sgd(1e3),
                     population=2, lr_scale=[1.0, 1e-6])
    tr = leaf.run(60, 0)
    assert tr.diverged_at[0] >= 1 and tr.diverged_at[1] == -1
    assert np.isnan(tr["L"][0, -1]) and np.isfinite(tr["L"][1]).all()
    assert "diverged" in tr.meta["divergence"]


def test_progress_is_called_as_the_loop_does(data):
    seen = []
    TorchLeaf(mlp, data).run(250, 0, progress=seen.append)
    assert seen == [100, 200, 250]


def test_float32_runs_and_says_so(data):
    tr = TorchLeaf(mlp, data, dtype="float32", population=2).run(5, 0)
    assert tr.meta["dtype"] == "float32" and np.isfinite(tr["L"]).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")
def test_the_gpu_path_gives_the_cpu_numbers(data, heldout):
    kw = dict(heldout=heldout, objectives=("E_test",), population=3, optimizer=adam(0.01))
    a = TorchLeaf(mlp, data, device="cuda", **kw).run(10, 0)
    b = TorchLeaf(mlp, data, **kw).run(10, 0)
    assert a.meta["device"] == "cuda"
    assert_same_run(a, b, rtol=1e-8)
