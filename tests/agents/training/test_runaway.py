"""The runaway rule of the one training loop (issue 10, item 5): a copy whose base objective
grows past L(0) + R max(|L(0)|, 1) without overflowing is diverged like an overflow.

Independent truth: gradient descent on L = theta^2 / 2 with step size s multiplies theta by
(1 - s) per step, so L(t) = L(0) (1 - s)^(2t) in closed form; and the median over a
population's healthy copies is recomputed from a separate run of those copies alone, with
the finite estimator's formula C = L(0) - mean_t L(t) written out in numpy.
"""

import math

import numpy as np
import pytest
import torch

from agents.language_model.gradient_descent import GradientDescent
from agents.language_model.markov import MarkovChain
from agents.training import sgd, train
from agents.training.loop import RUNAWAY, divergence_rule
from hierarchy import DelegationGraph, Objective, OptimizerNode
from hierarchy.errors import ParameterError
from hierarchy.estimator import Estimator
from scenarios.machinery.api import run_hierarchy


def half_square(p, t):
    return 0.5 * (p ** 2).sum(1), p.clone()


def test_runaway_copy_is_diverged_at_the_first_step_past_the_bound_and_frozen():
    theta0 = np.array([[1.0], [1.0]])
    scale = np.array([0.5, 3.0])  # copy 0 converges, copy 1: theta *= -2 per step, L *= 4
    r = train(half_square, theta0, sgd(1.0, scale), 20)
    L0 = 0.5
    bound = L0 + RUNAWAY * max(abs(L0), 1.0)
    t_star = next(t for t in range(21) if L0 * 4.0 ** t > bound)  # closed form of copy 1's loss
    assert r.diverged_at.tolist() == [-1, t_star]
    assert np.all(np.isfinite(r.values["L"][1, :t_star])) and np.all(np.isnan(r.values["L"][1, t_star:]))
    assert np.all(np.isnan(r.values["G"][1, t_star:]))
    np.testing.assert_allclose(r.values["L"][1, :t_star], L0 * 4.0 ** np.arange(t_star), rtol=1e-12)
    assert r.params[1, 0] == (-2.0) ** t_star  # frozen at the state where it ran away
    np.testing.assert_allclose(r.values["L"][0], L0 * 0.25 ** np.arange(21), rtol=1e-12)  # untouched
    assert "runaway" in r.trajectory().meta["divergence"]


def test_without_the_rule_the_same_copy_stays_finite_and_healthy():
    r = train(half_square, np.array([[1.0]]), sgd(3.0), 20, runaway=None)
    assert r.diverged_at.tolist() == [-1] and math.isfinite(r.values["L"][0, -1])
    assert r.values["L"][0, -1] > 1e11
    assert "runaway" not in r.divergence


def test_a_falling_objective_is_never_a_runaway():
    def falling(p, t):  # L = -|theta|, falls without bound as theta grows
        return -p.abs().sum(1), -torch.sign(p)

    r = train(falling, np.array([[1.0]]), sgd(1e6), 10)
    assert r.diverged_at.tolist() == [-1] and r.values["L"][0, -1] < -1e6


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), "big", True])
def test_runaway_factor_is_checked(bad):
    with pytest.raises(ParameterError, match="runaway="):
        train(half_square, np.array([[1.0]]), sgd(0.1), 2, runaway=bad)


def test_rule_in_words():
    assert divergence_rule(1e4) == "diverged: L or G not finite, or L(t) > L(0) + 10000 * max(|L(0)|, 1) (runaway)"


def test_population_with_two_blown_up_copies_gives_the_healthy_copies_median():
    data = MarkovChain.random(8, 2, 0.3, seed=0).sample(64, seed=1)
    theta0 = GradientDescent(data, population=6).initial_parameters(np.random.SeedSequence(7))
    lr_scale = np.array([1.0, 1.0, 1.0, 1.0, 1e300, 1e300])
    steps = 60
    whole = GradientDescent(data, population=6, init=theta0, lr_scale=lr_scale)
    tr = whole.run(steps, np.random.SeedSequence(0))
    assert (tr.diverged_at >= 0).tolist() == [False] * 4 + [True] * 2
    assert "runaway" in tr.meta["divergence"]

    graph = DelegationGraph.chain(OptimizerNode("human", Objective("L")), OptimizerNode("gd", Objective("G"), leaf=whole))
    result = run_hierarchy(graph, steps=steps, estimator=Estimator("finite"), progress=False, check=False)
    a = result.report.measurements.alignment("human", "gd").alignment
    assert (a.n, a.K) == (4, 6)

    healthy = GradientDescent(data, population=4, init=theta0[:4]).run(steps, np.random.SeedSequence(0))
    L, G = healthy["L"], healthy["G"]
    alpha = (L[:, 0] - L.mean(axis=1)) / (G[:, 0] - G.mean(axis=1))  # the finite estimator, by hand
    assert a.median == pytest.approx(float(np.median(alpha)), rel=1e-9)
    c = result.report.measurements.capability("gd", "L").capability
    assert c.median == pytest.approx(float(np.median(L[:, 0] - L.mean(axis=1))), rel=1e-9)
