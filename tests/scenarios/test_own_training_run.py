"""Issue "Measure your own training run": a user's nn.Module trained by Adam, measured two ways.

Through the torch leaf (K copies in one batched run, through the graph) and through the live
monitor inside the user's own plain-torch loop (torch.optim.Adam, one module per copy), from
the same starting parameters: the trajectories agree to float rounding of two different
implementations of Adam, and so do capability, alignment and the delegation product.
"""

import numpy as np
import pytest
import torch
from torch import nn

from agents.torch_training import TorchLeaf, true_objective
from agents.training import adam
from hierarchy import DelegationGraph, Objective, OptimizerNode
from hierarchy.seeding import generator, named_seed
from scenarios import Monitor, run_hierarchy

K, STEPS, LR = 3, 150, 0.02
CHAIN = [("designer", "E_test"), ("base", "L"), ("adam", "G")]


def model():
    return nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 2))


def data():
    rng = generator(7)
    x = rng.normal(size=(120, 5))
    y = (x[:, 0] - 0.5 * x[:, 1] + 0.3 * rng.normal(size=120) > 0).astype(np.int64)
    t = lambda a: torch.from_numpy(a)
    return (t(x[:80]), t(y[:80])), (t(x[80:]), t(y[80:]))


def through_the_leaf(train, test):
    leaf = TorchLeaf(model, train, heldout=test, objectives=("E_test",), optimizer=adam(LR, 0.9, 0.999, 1e-8),
                     population=K)
    graph = DelegationGraph.chain(OptimizerNode("designer", Objective("E_test")), OptimizerNode("base", Objective("L")),
                                  OptimizerNode("adam", Objective("G"), leaf=leaf))
    return leaf, run_hierarchy(graph, steps=STEPS, seed=0, name="leaf", progress=False)


def through_the_monitor(leaf, train, test):
    """The user's own loop: one module per copy, torch.optim.Adam, loss.backward(), monitor.record."""
    start = leaf.initial_parameters(named_seed(0, "adam"))  # the leaf's seed under run_hierarchy
    nets = [leaf.module(row) for row in start]
    opts = [torch.optim.Adam(n.parameters(), lr=LR, betas=(0.9, 0.999), eps=1e-8) for n in nets]
    (x, y), (xt, yt) = train, test
    mon = Monitor(CHAIN, copies=K, name="monitor")
    adam_true = np.full((K, STEPS + 1), np.nan)
    for step in range(STEPS + 1):
        L, G, E = np.empty(K), np.empty(K), np.empty(K)
        for k, (net, opt) in enumerate(zip(nets, opts)):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(net(x), y)
            loss.backward()
            L[k] = loss.item()
            G[k] = sum(float((p.grad ** 2).sum()) for p in net.parameters())
            with torch.no_grad():
                E[k] = float((net(xt).argmax(1) != yt).double().mean())
            if step < STEPS:
                opt.step()
                adam_true[k, step] = true_objective(opt)  # the step just taken from theta_t
        mon.record(step, L=L, G=G, E_test=E)
    mon.adam_true = adam_true
    return mon


@pytest.fixture(scope="module")
def both():
    train, test = data()
    leaf, result = through_the_leaf(train, test)
    return result, through_the_monitor(leaf, train, test)


def test_the_two_ways_record_the_same_run(both):
    result, mon = both
    for name in ("L", "G", "E_test"):
        np.testing.assert_allclose(mon.values(name), result.arrays[f"adam/{name}"], rtol=1e-7, atol=1e-12, err_msg=name)


def test_adams_true_objective_read_off_torch_optim_equals_the_leafs_record(both):
    result, mon = both
    np.testing.assert_allclose(mon.adam_true[:, :STEPS], result.arrays["adam/G_adam"][:, :STEPS], rtol=1e-6)


def test_the_two_ways_give_the_same_capabilities_alignments_and_product(both):
    result, mon = both
    by_leaf, by_monitor = result.report.measurements, mon.measurements()
    for obj in ("E_test", "L", "G"):
        a, b = by_leaf.capability("adam", obj).capability, by_monitor.capability("adam", obj).capability
        np.testing.assert_allclose(b.per_copy, a.per_copy, rtol=1e-6, atol=1e-12, err_msg=obj)
    for parent, child in (("designer", "base"), ("base", "adam")):
        a = by_leaf.alignment(parent, child, "adam").alignment
        b = by_monitor.alignment(parent, child, "adam").alignment
        np.testing.assert_allclose(b.per_copy, a.per_copy, rtol=1e-6, atol=1e-12, err_msg=f"{parent}->{child}")
    assert result.report.max_discrepancy < 1e-9 and mon.report().max_discrepancy < 1e-9


def test_the_leaf_trains_all_copies_in_one_batched_run():
    train, test = data()
    leaf = TorchLeaf(model, train, heldout=test, objectives=("E_test",), optimizer=adam(LR), population=K)
    assert leaf.run(2, 0).meta["engine"] == "vmap"
