"""Task sampling (seeded, with its shifts) and the shift families' figures against closed forms."""

import attrs
import numpy as np
import pytest
import torch

from agents.in_context.attention import LinearSelfAttention
from agents.in_context.inner_run import diverged, evaluation_tasks
from agents.in_context.reference import constructed_parameters
from agents.in_context.shifts import families, least_squares_weights, member_figures, r_squared
from agents.in_context.tasks import TaskDistribution
from hierarchy.errors import ParameterError


def test_same_seed_same_tasks_and_the_shifts_change_what_they_say():
    d = TaskDistribution(d=3, N=6)
    a, b = evaluation_tasks(d, 50, 1), evaluation_tasks(d, 50, 1)
    assert torch.equal(a.X, b.X) and torch.equal(a.y, b.y)
    s = evaluation_tasks(attrs.evolve(d, scale=2.0), 50, 1)
    assert torch.equal(s.X, 2 * a.X) and torch.equal(s.w, a.w)          # same draws, scaled inputs
    m = evaluation_tasks(attrs.evolve(d, distractors=2), 50, 1)
    assert torch.equal(m.y[:, :4], a.y[:, :4]) and not torch.allclose(m.y[:, 4:], a.y[:, 4:])
    assert m.clean.tolist() == [True] * 4 + [False] * 2
    n = evaluation_tasks(attrs.evolve(d, noise=0.5), 2000, 1)
    resid = n.y - torch.einsum("bnd,bd->bn", n.X, n.w)
    assert abs(float(resid.std()) - 0.5) < 0.02
    assert torch.equal(n.yq, torch.einsum("bd,bd->b", n.xq, n.w))      # the query's target stays noiseless
    sh = evaluation_tasks(attrs.evolve(d, shuffled=True), 50, 1)
    assert torch.equal(sh.y.sort(1).values, a.y.sort(1).values) and not torch.equal(sh.y, a.y)


@pytest.mark.parametrize("kwargs, parameter", [({"d": 0}, "d"), ({"N": -1}, "N"), ({"scale": 0.0}, "scale"),
                                               ({"noise": -0.1}, "noise"), ({"distractors": 11}, "distractors"),
                                               ({"half_width": float("inf")}, "half_width")])
def test_bad_distributions_are_one_line_errors(kwargs, parameter):
    with pytest.raises(ParameterError) as e:
        TaskDistribution(**kwargs)
    assert e.value.parameter == parameter and "\n" not in str(e.value)


def test_least_squares_and_r_squared_closed_forms():
    t = evaluation_tasks(TaskDistribution(d=3, N=8), 30, 2)
    np.testing.assert_allclose(least_squares_weights(t).numpy(), t.w.numpy(), atol=1e-10)
    assert float(r_squared(t.yq, t)) == 1.0 and float(r_squared(torch.zeros_like(t.yq), t)) == 0.0


def test_families_are_built_around_the_training_distribution():
    fams = families(TaskDistribution(), (0.5, 2.0), (1.0,), (3,), m_train=2)
    assert [f.members[f.deploy][0] for f in fams] == ["x2", "sigma 1", "3 of 10", "3 of 10"]
    assert fams[3].training.distractors == 2 and fams[3].group == "distractors"
    with pytest.raises(ParameterError):
        families(TaskDistribution(), scales=())


def test_member_figures_of_the_constructed_layer_equal_gradient_descent():
    m = LinearSelfAttention(d=3)
    f = member_figures("x0.5", m, constructed_parameters(m, 1.0), TaskDistribution(d=3, N=6, scale=0.5), 300, 0,
                       1.0, 0.75, 10)
    np.testing.assert_allclose(f.alpha, f.alpha_gd, rtol=1e-10)
    np.testing.assert_allclose(f.r2, f.r2_gd_fixed, rtol=1e-10)
    assert f.r2_mesa_optimal == pytest.approx(1.0, abs=1e-9) and not f.diverged.any()


def test_an_overflowing_inner_run_is_marked_diverged_not_dropped():
    v, dead = diverged({"L_ctx": np.array([[1.0, 2.0, np.nan], [1.0, 0.5, 0.2]]), "query_loss": np.ones((2, 3))})
    assert dead.tolist() == [2, -1] and np.isnan(v["query_loss"][0, 2]) and v["query_loss"][1, 2] == 1.0
