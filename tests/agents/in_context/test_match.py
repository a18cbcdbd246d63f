"""The "is it an optimizer?" rule: it accepts the constructed step and rejects controls."""

import numpy as np
import pytest

from agents.in_context.attention import LinearSelfAttention
from agents.in_context.inner_run import evaluation_tasks
from agents.in_context.match import IMPLEMENTS, NOT_GD, MatchRule, decide_match, measure_match, verdict_word
from agents.in_context.reference import constructed_parameters, eta_star
from agents.in_context.tasks import TaskDistribution
from agents.in_context.training import InContextTraining
from hierarchy.errors import ParameterError

D = TaskDistribution(d=4, N=6)


@pytest.fixture(scope="module")
def setting():
    m = LinearSelfAttention(d=4)
    t = evaluation_tasks(D, 1500, 0)
    eta = eta_star(D, None, tasks=evaluation_tasks(D, 4000, 1))
    return m, t, eta


def test_the_constructed_step_is_accepted_with_exact_numbers(setting):
    m, t, eta = setting
    f = measure_match(m, constructed_parameters(m, eta), t, eta)
    assert f.loss_ratio[0] == pytest.approx(1.0, abs=1e-12) and f.cosine[0] == pytest.approx(1.0, abs=1e-12)
    assert f.prediction[0] == pytest.approx(0.0, abs=1e-7) and f.eta_ratio[0] == pytest.approx(1.0, abs=1e-12)
    assert f.barrier[0] == pytest.approx(0.0, abs=1e-12)
    assert verdict_word(decide_match(f, 0)) == IMPLEMENTS


def test_cosine_alone_is_not_evidence_a_short_step_is_rejected(setting):
    m, t, eta = setting
    f = measure_match(m, constructed_parameters(m, 0.2 * eta), t, eta)  # GD, but with a fifth of the step
    assert f.cosine[0] == pytest.approx(1.0, abs=1e-12)              # perfectly aligned implied weights
    assert f.eta_ratio[0] == pytest.approx(0.2, abs=1e-12) and f.loss_ratio[0] > 1.3
    assert decide_match(f, 0).verdict == "fails"


def test_an_untrained_layer_is_not_an_optimizer(setting):
    m, t, eta = setting
    init = m.init_parameters(list(range(3)), float(np.sqrt(0.002 / m.D)))
    f = measure_match(m, init, t, eta)
    assert np.all(np.abs(f.cosine) < 0.2)
    assert [verdict_word(decide_match(f, k)) for k in range(3)] == [NOT_GD] * 3


def test_the_control_trained_on_shuffled_context_labels_is_not_an_optimizer(setting):
    m, t, eta = setting
    control = InContextTraining(m, (D.__class__(d=4, N=6, shuffled=True),) * 2, batch=256, lr=3e-3, clip=None,
                                record_update=False).run(300, 5)
    f = measure_match(m, control.product["params"], t, eta)
    assert all(decide_match(f, k).verdict == "fails" for k in range(2))
    assert np.all(f.loss_ratio > 1.2)


def test_rule_and_bad_inputs(setting):
    m, t, eta = setting
    assert "cosine >= 0.99" in MatchRule().describe()
    with pytest.raises(ParameterError, match="points"):
        measure_match(m, constructed_parameters(m, eta), t, eta, points=1)
    with pytest.raises(ParameterError, match="cosine"):
        MatchRule(cosine=-1.0)
