"""Every ready-made perturbation on the torch leaf: it applies and changes what it says."""

import numpy as np
import pytest
import torch

from hierarchy.errors import ParameterError
from hierarchy.perturbation import Replace
from hierarchy.protocol import check_leaf
from agents.language_model.perturbations import Capacity, ChangeObjective, InitNoise, InitScale, ScaleLR
from agents.torch_training import Bootstrap, TorchLeaf
from agents.training import sgd
from tests.agents.torch_training.helpers import fixed_mlp, mlp


@pytest.fixture
def leaf(data, heldout):
    return TorchLeaf(mlp, data, heldout=heldout, objectives=("E_test",), population=2, optimizer=sgd(0.2))


def test_check_leaf_passes(leaf):
    tr = check_leaf(leaf)
    assert set(leaf.records) <= set(tr.values)
    explicit = TorchLeaf(mlp, leaf.data, init=leaf.initial_parameters(0), population=2)
    assert explicit.deterministic
    check_leaf(explicit)


def test_scale_lr_is_the_run_at_that_learning_rate(leaf):
    moved = ScaleLR(2.0).apply(leaf)
    assert moved.lr_scale.tolist() == [2.0, 2.0]
    a = moved.run(8, 0)
    b = TorchLeaf(mlp, leaf.data, heldout=leaf.heldout, objectives=("E_test",), population=2, optimizer=sgd(0.4)).run(8, 0)
    np.testing.assert_allclose(a["L"], b["L"], rtol=1e-12)


def test_init_noise_and_init_scale_move_the_start(leaf):
    start = leaf.initial_parameters(0)
    explicit = TorchLeaf(mlp, leaf.data, heldout=leaf.heldout, objectives=("E_test",), population=2, init=start)
    noisy = InitNoise(0.3, seed=1).apply(explicit)
    np.testing.assert_allclose(np.linalg.norm(noisy.init - start, axis=1), [0.3, 0.3], rtol=1e-12)
    np.testing.assert_allclose(noisy.run(1, 0).copy_meta["initial_parameters"], noisy.init)
    scaled = InitScale(2.0).apply(leaf)
    assert scaled.init_scale == 2.0
    np.testing.assert_allclose(scaled.initial_parameters(0), 2.0 * start, rtol=1e-15)


def test_per_copy_init_scale():
    leaf = TorchLeaf(mlp, (torch.zeros(3, 4, dtype=torch.float64), torch.zeros(3, dtype=torch.long)), population=3,
                     init_scale=[0.0, 1.0, 2.0])
    start = leaf.initial_parameters(0)
    one = TorchLeaf(mlp, leaf.data, population=3).initial_parameters(0)
    np.testing.assert_allclose(start, one * np.array([[0.0], [1.0], [2.0]]))


def test_capacity_changes_the_width(leaf):
    wide = Capacity((9,)).apply(leaf)
    assert wide.hidden == (9,) and wide.init is None
    assert wide.parameter_count() == (4 + 1) * 9 + (9 + 1) * 2
    assert wide.run(3, 0)["L"].shape == (2, 4)


def test_capacity_is_refused_by_a_factory_without_hidden(data):
    with pytest.raises(ParameterError, match="takes no hidden= argument"):
        Capacity(4).apply(TorchLeaf(fixed_mlp, data))


@pytest.mark.parametrize("p, expect", [(ChangeObjective("brier"), "brier"), (ChangeObjective(label_smoothing=0.1), None)])
def test_change_objective_records_the_new_loss_as_L(leaf, p, expect):
    moved = p.apply(leaf)
    tr = moved.run(2, 0)
    assert (moved.loss, moved.label_smoothing) == (p.loss, p.label_smoothing)
    x, y = leaf.data
    net = leaf.module(leaf.initial_parameters(0)[0])
    with torch.no_grad():
        z = net(x)
    prob = torch.softmax(z, 1).numpy()
    q = np.eye(2)[y.numpy()] * (1 - p.label_smoothing) + p.label_smoothing / 2
    want = ((prob - q) ** 2).sum(1).mean() if expect == "brier" else -(q * np.log(prob)).sum(1).mean()
    assert tr["L"][0, 0] == pytest.approx(want, rel=1e-12)


def test_bootstrap_resamples_the_training_examples(leaf):
    moved = Bootstrap(3).apply(leaf)
    x, y = leaf.data
    bx, by = moved.data
    assert bx.shape == x.shape
    rows = {tuple(r) for r in x.numpy()}
    assert all(tuple(r) in rows for r in bx.numpy())          # drawn from the original examples
    assert len({tuple(r) for r in bx.numpy()}) < len(rows)     # with replacement: some repeat (40 of 40)
    assert not np.array_equal(moved.run(3, 0)["L"], leaf.run(3, 0)["L"])
    again = Bootstrap(3).apply(leaf).data
    assert torch.equal(again[0], bx)


def test_bootstrap_refuses_a_leaf_without_tensor_pairs():
    @__import__("attrs").frozen
    class Other:
        data: str = "tokens"

    with pytest.raises(ParameterError, match="Bootstrap resamples"):
        Bootstrap(0).apply(Other())


def test_replace_sets_any_field(leaf):
    moved = Replace("sgd 0.5", {"optimizer": sgd(0.5)}).apply(leaf)
    assert str(moved.optimizer) == "sgd" and moved.run(2, 0)["L"].shape == (2, 3)
