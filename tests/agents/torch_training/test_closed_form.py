"""The torch leaf against closed forms: gradient descent on a quadratic, weight decay, hand-counted errors."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from agents.torch_training import TorchLeaf
from agents.training import sgd

F64 = torch.float64


def linear():
    return nn.Linear(1, 1, bias=False)


@pytest.fixture
def line():
    """y = 3 x on five points: L(w) = m2 (w - 3)^2 with m2 = mean x^2."""
    x = torch.tensor([[-2.0], [-1.0], [0.5], [1.0], [3.0]], dtype=F64)
    return x, 3.0 * x[:, 0]


def test_gradient_descent_on_a_quadratic_follows_the_closed_form(line):
    x, y = line
    m2 = float((x ** 2).mean())
    a = 2 * m2  # L'' : grad = a (w - 3)
    lr, s = 0.05, np.array([0.5, 1.0, 2.0])
    w0 = np.array([[0.0], [1.0], [-4.0]])
    leaf = TorchLeaf(linear, (x, y), loss="mse", optimizer=sgd(lr), population=3, init=w0, lr_scale=s)
    tr = leaf.run(40, 0)
    t = np.arange(41)
    e = (w0 - 3.0) * (1 - lr * s[:, None] * a) ** t  # w_t - w* = (1 - lr s a)^t (w_0 - w*)
    # rounding: L sums squares of residuals w x - y (|y| up to 9), so agreement to 1e-13 of the start's scale
    np.testing.assert_allclose(tr["L"], m2 * e ** 2, rtol=1e-10, atol=1e-13 * tr["L"][:, 0].max())
    np.testing.assert_allclose(tr["G"], (a * e) ** 2, rtol=1e-10, atol=1e-13 * tr["G"][:, 0].max())
    np.testing.assert_allclose(tr["G1"], np.abs(a * e), rtol=1e-10, atol=1e-13 * tr["G1"][:, 0].max())
    # U(t) = |w_{t+1} - w_t|^2 = (lr s a e_t)^2
    np.testing.assert_allclose(tr["U"], (lr * s[:, None] * a * e) ** 2, rtol=1e-9, atol=1e-13 * tr["U"][:, 0].max())
    assert tr["L"][0, 0] == pytest.approx(m2 * 9.0, rel=1e-14) and tr["L"][2, -1] < 1e-6 * tr["L"][2, 0]
    np.testing.assert_allclose(tr.copy_meta["final_parameters"], 3.0 + e[:, -1:], rtol=1e-10)
    np.testing.assert_array_equal(tr.copy_meta["initial_parameters"], w0)


def test_per_copy_weight_decay_is_the_decayed_recurrence(line):
    x, y = line
    a = 2 * float((x ** 2).mean())
    lr, wd = 0.05, np.array([0.0, 0.01, 0.1])
    leaf = TorchLeaf(linear, (x, y), loss="mse", optimizer=sgd(lr), population=3, init=np.ones((3, 1)),
                     weight_decay=wd)
    tr = leaf.run(25, 0)
    w = np.ones(3)
    for _ in range(25):  # w <- w - lr a (w - 3) - wd w
        w = w - lr * a * (w - 3.0) - wd * w
    np.testing.assert_allclose(tr.copy_meta["final_parameters"][:, 0], w, rtol=1e-10)
    # the decayed fixed point: lr a (w - 3) + wd w = 0
    assert tr.copy_meta["final_parameters"][2, 0] < tr.copy_meta["final_parameters"][1, 0] < 3.0


def test_heldout_objectives_count_by_hand():
    """A fixed classifier z = (x, -x): class 0 where x > 0; errors counted by hand."""
    x_test = torch.tensor([[1.0], [2.0], [-1.0], [-3.0], [0.5]], dtype=F64)
    y_test = torch.tensor([0, 1, 1, 0, 0])   # right, wrong, right, wrong, right: E = 2/5
    x_train = torch.tensor([[1.0], [-2.0], [4.0], [-1.0]], dtype=F64)
    y_train = torch.tensor([0, 0, 0, 1])     # right, wrong, right, right: E = 1/4
    init = np.array([[1.0, -1.0, 0.0, 0.0]])  # weight [[1], [-1]], bias [0, 0]
    leaf = TorchLeaf(lambda: nn.Linear(1, 2), (x_train, y_train), heldout=(x_test, y_test), init=init,
                     objectives=("E_test", "A_test", "L_test", "E_train"), optimizer=sgd(1e-9))
    tr = leaf.run(2, 0)
    assert tr["E_test"][0, 0] == pytest.approx(0.4)
    assert tr["A_test"][0, 0] == pytest.approx(0.6)
    assert tr["E_train"][0, 0] == pytest.approx(0.25)
    # cross-entropy of logits (x, -x) for class c: log(1 + exp(-2 x)) for c = 0, log(1 + exp(2 x)) for c = 1
    xs, ys = x_test[:, 0].numpy(), y_test.numpy()
    ce = np.where(ys == 0, np.log1p(np.exp(-2 * xs)), np.log1p(np.exp(2 * xs)))
    assert tr["L_test"][0, 0] == pytest.approx(ce.mean(), rel=1e-12)
    xt, yt = x_train[:, 0].numpy(), y_train.numpy()
    assert tr["L"][0, 0] == pytest.approx(np.where(yt == 0, np.log1p(np.exp(-2 * xt)), np.log1p(np.exp(2 * xt))).mean(),
                                          rel=1e-12)


def test_a_user_objective_and_label_smoothing_by_hand():
    x = torch.tensor([[1.0], [-1.0]], dtype=F64)
    y = torch.tensor([0, 1])
    init = np.array([[1.0, -1.0, 0.0, 0.0]])  # logits (x, -x): p(correct) = 1 / (1 + e^-2) on both
    s = 0.2
    leaf = TorchLeaf(lambda: nn.Linear(1, 2), (x, y), heldout=(x, y), init=init, label_smoothing=s,
                     objectives={"margin": lambda z, t: (z[:, 0] - z[:, 1]).abs().min()}, optimizer=sgd(1e-9))
    tr = leaf.run(1, 0)
    p = 1 / (1 + math.exp(-2))
    q = (1 - s) + s / 2  # target mass on the right class
    assert tr["L"][0, 0] == pytest.approx(-(q * math.log(p) + (1 - q) * math.log(1 - p)), rel=1e-12)
    assert tr["margin"][0, 0] == pytest.approx(2.0)


def test_a_users_objective_is_batched_when_vmap_can_trace_it_and_looped_when_not():
    """The same per-copy numbers either way: the mean output of copy k, [K] = 3 copies with known weights."""
    x_test = torch.tensor([[1.0], [2.0], [-1.0]], dtype=F64)
    y_test = torch.tensor([0, 1, 1])
    init = np.array([[1.0, -1.0, 0.0, 0.0], [2.0, 0.0, 1.0, 0.0], [0.0, 3.0, 0.0, -1.0]])
    traced = lambda z, t: z.mean()
    untraced = lambda z, t: float(z.mean().item())  # .item(): vmap cannot batch it
    for fn in (traced, untraced):
        leaf = TorchLeaf(lambda: nn.Linear(1, 2), (x_test, y_test), heldout=(x_test, y_test), init=init,
                         objectives={"mean_out": fn}, optimizer=sgd(1e-12), population=3)
        tr = leaf.run(1, 0)
        # z = x W^T + b; mean over the 3 inputs (mean x = 2/3) and the 2 outputs
        expected = [(w1 + w2) / 2 * (2 / 3) + (b1 + b2) / 2 for w1, w2, b1, b2 in init]
        np.testing.assert_allclose(tr["mean_out"][:, 0], expected, rtol=1e-12)


def test_with_weight_decay_the_optimizers_own_quantity_is_not_recorded_as_its_true_objective(line):
    """Decayed Adam stops where u - w theta vanishes: G_adam is then not its true objective; U is recorded."""
    from agents.training import adam

    x, y = line
    plain = TorchLeaf(linear, (x, y), loss="mse", optimizer=adam(0.01), init=np.ones((1, 1)))
    decayed = TorchLeaf(linear, (x, y), loss="mse", optimizer=adam(0.01), init=np.ones((1, 1)), weight_decay=0.01)
    assert "G_adam" in plain.records and "G_adam" not in decayed.records and "U" in decayed.records
    assert "G_adam" not in decayed.run(3, 0).values
