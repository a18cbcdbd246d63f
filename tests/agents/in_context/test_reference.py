"""The reference construction is explicit gradient descent on L_ctx (the same computation)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.torch_random import torch_generator
from agents.in_context.attention import LinearSelfAttention
from agents.in_context.implied import implied_weights
from agents.in_context.inner_run import GradientDescentRun, InnerRun, evaluation_tasks
from agents.in_context.reference import (constructed_parameters, eta_star, gd_weights, in_context_loss,
                                         one_step_statistic, query_loss_at)
from agents.in_context.tasks import TaskDistribution, sample_tasks
from hierarchy.errors import ParameterError


def _explicit_gd(X, y, eta, steps):
    """Gradient descent on (1/2N)|X w - y|^2 from 0, written out in numpy (independent of the module)."""
    N, d = X.shape
    w = np.zeros(d)
    out = [w.copy()]
    for _ in range(steps):
        w = w - eta * X.T @ (X @ w - y) / N
        out.append(w.copy())
    return np.stack(out, -1)


@settings(max_examples=15, deadline=None)
@given(d=st.integers(1, 6), N=st.integers(1, 8), eta=st.floats(0.05, 3.0), seed=st.integers(0, 2 ** 16))
def test_constructed_layer_is_one_gd_step_exactly(d, N, eta, seed):
    t = sample_tasks(TaskDistribution(d=d, N=N), torch_generator(seed), 7)
    m = LinearSelfAttention(d=d)
    p = torch.from_numpy(constructed_parameters(m, eta))
    y = m.predict(p, t)[0].numpy()
    w1 = np.stack([_explicit_gd(t.X[b].numpy(), t.y[b].numpy(), eta, 1)[:, 1] for b in range(7)])
    np.testing.assert_allclose(y, (w1 * t.xq.numpy()).sum(-1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(implied_weights(m, p, t)[0].numpy(), w1, rtol=0, atol=1e-12)


def test_gd_weights_match_explicit_numpy_gd():
    t = sample_tasks(TaskDistribution(d=4, N=6), torch_generator(1), 5)
    w = gd_weights(t, 0.7, 9).numpy()
    for b in range(5):
        np.testing.assert_allclose(w[b], _explicit_gd(t.X[b].numpy(), t.y[b].numpy(), 0.7, 9), atol=1e-13)


@pytest.mark.parametrize("damping", [1.0, 0.75, 0.3])
def test_damped_repeated_application_of_the_constructed_layer_is_k_damped_gd_steps(damping):
    m = LinearSelfAttention(d=5)
    t = evaluation_tasks(TaskDistribution(d=5, N=7), 40, 3)
    lay = InnerRun(m, constructed_parameters(m, 1.2), t, damping)
    gd = GradientDescentRun(t, damping * 1.2)
    np.testing.assert_allclose(lay.states(12)[0].numpy(), gd.states(12)[0].numpy(), rtol=0, atol=1e-12)
    a, b = lay.run(12), gd.run(12)
    for name in ("L_ctx", "query_loss"):
        np.testing.assert_allclose(a[name], b[name], rtol=1e-12, atol=1e-14)


def test_stacked_constructed_layers_are_several_gd_steps():
    for shared in (False, True):
        m = LinearSelfAttention(d=3, layers=4, shared=shared)
        t = sample_tasks(TaskDistribution(d=3, N=5), torch_generator(2), 6)
        y = m.predict(torch.from_numpy(constructed_parameters(m, 0.6)), t)[0]
        w4 = gd_weights(t, 0.6, 4)[..., 4]
        np.testing.assert_allclose(y.numpy(), (w4 * t.xq).sum(-1).numpy(), atol=1e-12)


def test_eta_star_is_the_minimum_of_a_grid_line_search():
    dist = TaskDistribution()
    t = sample_tasks(dist, torch_generator(0), 4000)
    eta = eta_star(dist, None, tasks=t)
    grid = np.linspace(0.5, 2.5, 2001)
    s, yq = one_step_statistic(t).numpy(), t.yq.numpy()
    losses = [0.5 * np.mean((g * s - yq) ** 2) for g in grid]
    assert abs(grid[int(np.argmin(losses))] - eta) <= 1e-3
    assert 1.4 < eta < 1.6  # findings: 1.50 for U(-1, 1), d = N = 10


def test_losses_of_known_weights():
    t = sample_tasks(TaskDistribution(d=3, N=4), torch_generator(0), 6)
    # the true w fits noiseless labels: zero up to the rounding of two einsum paths (squared: <= 1e-24)
    assert float(in_context_loss(t.w, t).abs().max()) <= 1e-24
    assert float(query_loss_at(t.w, t).abs().max()) <= 1e-24


def test_bad_inputs():
    t = sample_tasks(TaskDistribution(d=2, N=3), torch_generator(0), 2)
    with pytest.raises(ParameterError, match="steps=-1"):
        gd_weights(t, 0.1, -1)
    with pytest.raises(ParameterError, match="eta="):
        gd_weights(t, float("nan"), 1)
