"""The implied weight vector is d y_hat / d x_q: checked against autograd on arbitrary weights."""

import numpy as np
import pytest
import torch

from agents.torch_random import torch_generator
from agents.in_context.attention import LinearSelfAttention
from agents.in_context.implied import implied_weights
from agents.in_context.tasks import TaskDistribution, sample_tasks


@pytest.mark.parametrize("layers, shared, y_only, damping", [(1, False, False, 1.0), (3, False, False, 1.0),
                                                             (2, True, True, 0.75), (1, False, True, 0.5)])
def test_implied_weights_equal_autograd_sensitivity(layers, shared, y_only, damping):
    d = 3
    m = LinearSelfAttention(d=d, layers=layers, shared=shared)
    g = torch_generator(4)
    p = 0.5 * torch.randn(2, m.parameter_count(), generator=g, dtype=torch.float64)
    t = sample_tasks(TaskDistribution(d=d, N=5), g, 4)
    xq = t.xq.clone().requires_grad_(True)
    tt = type(t)(t.X, t.y, xq, t.yq, t.w, t.clean)
    y = m.predict(p, tt, damping=damping, y_only=y_only)          # [K, B]
    grads = []
    for k in range(2):
        (gk,) = torch.autograd.grad(y[k].sum(), xq, retain_graph=True)
        grads.append(gk)
    w = implied_weights(m, p, t, damping=damping, y_only=y_only)
    np.testing.assert_allclose(w.numpy(), torch.stack(grads).numpy(), rtol=1e-10, atol=1e-12)
    # and the prediction is exactly linear in x_q: y_hat = w . x_q
    np.testing.assert_allclose(y.detach().numpy(), (w * t.xq).sum(-1).numpy(), rtol=1e-10, atol=1e-12)


def test_every_application_is_read_out():
    m = LinearSelfAttention(d=2)
    p = 0.3 * torch.randn(1, m.parameter_count(), generator=torch_generator(0), dtype=torch.float64)
    t = sample_tasks(TaskDistribution(d=2, N=4), torch_generator(1), 3)
    w = implied_weights(m, p, t, applications=4, damping=0.5, y_only=True, every=True)
    assert w.shape == (1, 3, 2, 5) and float(w[..., 0].abs().max()) == 0.0
    np.testing.assert_allclose(w[..., 2].numpy(), implied_weights(m, p, t, 2, 0.5, True).numpy(), atol=1e-14)


def test_the_hand_written_one_layer_gradient_equals_autograd():
    m = LinearSelfAttention(d=3)
    g = torch_generator(7)
    p = 0.4 * torch.randn(3, m.parameter_count(), generator=g, dtype=torch.float64)
    t = sample_tasks(TaskDistribution(d=3, N=5), g, 9)
    loss, grad = m.loss_and_gradient(p, t)
    q = p.clone().requires_grad_(True)
    auto = torch.autograd.grad(m.query_loss(q, t).sum(), q)[0]
    np.testing.assert_allclose(grad.numpy(), auto.numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(loss.numpy(), m.query_loss(p, t).numpy(), rtol=1e-13)
