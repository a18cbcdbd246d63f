"""The ``annealing`` scenario end to end: same data, same start, numbers recomputed from the arrays."""

import numpy as np
import pytest

from hierarchy import Estimator, alignment, normalized_alignment
from hierarchy.run import node_seed
from scenarios.annealing import largest_setback
from scenarios.registry import RunOptions, run_scenario

STEPS = 80
PARAMS = {"copies": "3", "jumps": "0.01,0.1", "transient_horizon": "20"}


@pytest.fixture(scope="module")
def result():
    return run_scenario("annealing", RunOptions(steps=STEPS, progress=False, params=PARAMS, horizon=15))


def rows(result):
    t = next(t for t in result.report.tables if t.title.startswith("A against annealing"))
    return {r[0]: r for r in t.rows}


def test_same_data_same_start_independent_rerun(result):
    from agents.annealing import Annealing
    from agents.gradient_descent import GradientDescent
    from agents.markov import MarkovChain
    from agents.schedules import Decay

    chain = MarkovChain.random(8, 2, 0.3, node_seed(0, "markov-chain"))
    data = chain.sample(256, node_seed(0, "dataset"))
    gd = GradientDescent(data, hidden=(3,), schedule=Decay(1.0, 2000.0), population=3)
    theta0 = gd.initial_parameters(node_seed(0, "A-population"))
    A = GradientDescent(data, hidden=(3,), schedule=Decay(1.0, 2000.0), population=3, init=theta0)
    np.testing.assert_allclose(result.arrays["A/L"], A.run(STEPS, node_seed(0, "A"))["L"], rtol=1e-10)
    for j in (0.01, 0.1):
        tr = Annealing(data, hidden=(3,), schedule=Decay(1.0, 2000.0), population=3, init=theta0, jump=j,
                       jump_tau=2000.0).run(STEPS, node_seed(0, f"annealing {j:g}"))
        for obj in ("L", "G", "J"):
            np.testing.assert_allclose(result.arrays[f"annealing {j:g}/{obj}"], tr[obj], rtol=1e-10)
        assert np.array_equal(result.arrays[f"annealing {j:g}/L"][:, 0], result.arrays["A/L"][:, 0])


def test_table_recomputed_from_arrays(result):
    est = Estimator()
    r = rows(result)
    H = r["A"][9]
    n = int(np.ceil(0.25 * (STEPS + 1)))
    A_final = result.arrays["A/L"][:, -n:].mean(axis=1)
    for name, own in [("A", "G"), ("annealing 0.01", "J"), ("annealing 0.1", "J")]:
        L, T, G = (result.arrays[f"{name}/{o}"] for o in ("L", own, "G"))
        assert r[name][1] == own
        assert r[name][6] == pytest.approx(np.median(alignment(L, G, est).value), rel=1e-12)
        assert r[name][7] == pytest.approx(np.median(normalized_alignment(L, G, est).value), rel=1e-12)
        final = L[:, -n:].mean(axis=1)
        assert r[name][10] == pytest.approx(np.median(final) - H, rel=1e-12)
        # the largest setback, by a plain loop
        setback = [max(L[k, t] - L[k, : t + 1].min() for t in range(L.shape[1])) for k in range(3)]
        assert r[name][12] == pytest.approx(np.median(setback), rel=1e-12, abs=1e-15)
        s0 = (STEPS + 1) // 4
        assert r[name][13] == pytest.approx(np.median(L[:, s0:s0 + 20].max(axis=1)))
        if name != "A":
            assert r[name][11] == f"{int(np.sum(final < A_final))}/3"
            assert np.all(result.arrays[f"{name}/J"] >= result.arrays[f"{name}/G"])
    # the report's own alignment figure of each edge is against the optimizer's own true objective
    for a in result.report.alignments:
        L, T = result.arrays[f"{a.child}/L"], result.arrays[f"{a.child}/{a.mesa_objective}"]
        assert a.alignment.median == pytest.approx(np.median(alignment(L, T, est).value), rel=1e-12)


def test_claims_decided_by_the_numbers(result):
    rows(result)  # the table parses
    claims = {c.text: c for c in result.report.claims}
    assert claims["every optimizer starts from the same state as A (equal L(0), copy by copy)"].holds
    n = int(np.ceil(0.25 * (STEPS + 1)))
    for j in ("0.01", "0.1"):
        lower = next(c for t, c in claims.items() if t.startswith(f"annealing {j} reaches a lower"))
        fin = lambda name: np.median(result.arrays[f"{name}/L"][:, -n:].mean(axis=1))
        assert lower.holds == (fin(f"annealing {j}") < fin("A"))
        setback = next(c for t, c in claims.items() if t.startswith(f"annealing {j} pays on the way"))
        assert setback.holds == (np.median(largest_setback(result.arrays[f"annealing {j}/L"]))
                                 > np.median(largest_setback(result.arrays["A/L"])))
    assert "J" in result.report.choices["annealing true objective"] and "why" in result.report.choices
    assert any(t.title.startswith("strong alignment") for t in result.report.tables)


def test_true_objective_choice_is_a_parameter():
    res = run_scenario("annealing", RunOptions(steps=20, progress=False,
                                                params={**PARAMS, "jumps": "0.05", "anneal_true_objective": "G"}))
    assert res.graph.node("annealing 0.05").objective.name == "G"
    assert res.report.choices["annealing true objective"].startswith("G =")
