"""The base optimizer's leaf: the one loop, seeded copies, its records, one-line errors."""

import numpy as np
import pytest

from agents.in_context.attention import LinearSelfAttention
from agents.in_context.tasks import TaskDistribution
from agents.in_context.training import InContextTraining
from hierarchy.errors import ParameterError

M = LinearSelfAttention(d=3)
D = TaskDistribution(d=3, N=5)


def test_same_seed_same_numbers_and_copy_k_does_not_depend_on_K():
    a = InContextTraining(M, (D,) * 3, batch=16).run(15, 7)
    b = InContextTraining(M, (D,) * 3, batch=16).run(15, 7)
    c = InContextTraining(M, (D,) * 1, batch=16).run(15, 7)
    assert np.array_equal(a["L"], b["L"]) and np.array_equal(a.product["params"], b.product["params"])
    assert np.array_equal(a["L"][:1], c["L"])


def test_records_true_objectives_and_snapshots():
    r = InContextTraining(M, (D,) * 2, batch=16, snapshot_every=5, base="query_loss").run(10, 0)
    assert {"query_loss", "G", "G1", "G_adam", "U"} <= set(r.values)
    assert r.product["snapshots"].shape == (3, 2, M.parameter_count())
    assert list(r.product["snapshot_steps"]) == [0, 5, 10]
    assert np.allclose(r.product["snapshots"][0], r.product["initial"])


def test_adam_lowers_the_query_loss_and_sgd_runs():
    r = InContextTraining(M, (D,) * 2, batch=128, lr=1e-2).run(300, 1)
    assert np.all(r["L"][:, -30:].mean(1) < 0.9 * r["L"][:, :5].mean(1))
    s = InContextTraining(M, (D,), batch=16, optimizer="sgd", lr=0.1, clip=None).run(5, 1)
    assert "G_adam" not in s.values and s["L"].shape == (1, 6)


def test_paired_copies_share_start_and_inputs():
    seeds = (np.random.SeedSequence(3),) * 2
    r = InContextTraining(M, (D, TaskDistribution(d=3, N=5, distractors=2)), batch=8, copy_seeds=seeds).run(1, 0)
    assert np.array_equal(r.product["initial"][0], r.product["initial"][1])


@pytest.mark.parametrize("kwargs, parameter", [({"optimizer": "rmsprop"}, "optimizer"), ({"lr": -1.0}, "lr"),
                                               ({"batch": 0}, "batch"), ({"distributions": ()}, "distributions"),
                                               ({"clip": 0.0}, "clip"), ({"dtype": "float16"}, "dtype")])
def test_bad_inputs_are_one_line_errors(kwargs, parameter):
    args = {"model": M, "distributions": (D,)} | kwargs
    with pytest.raises(ParameterError) as e:
        InContextTraining(**args)
    assert e.value.parameter == parameter and "\n" not in str(e.value)
