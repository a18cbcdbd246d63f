"""The ``annealing`` scenario end to end: same data, same start, numbers recomputed from the arrays in numpy."""

import numpy as np
import pytest

from scenarios.machinery.registry import RunOptions, run_scenario
from hierarchy.seeding import named_seed

STEPS = 80
PARAMS = {"copies": "3", "jumps": "0.01,0.1", "transient_horizon": "20"}


@pytest.fixture(scope="module")
def result():
    return run_scenario("annealing", RunOptions(steps=STEPS, progress=False, params=PARAMS, horizon=15))


def rows(result):
    t = next(t for t in result.report.tables if t.title.startswith("A against annealing"))
    return {r[0]: r for r in t.rows}


def test_same_data_same_start_independent_rerun(result):
    from agents.language_model.annealing import Annealing
    from agents.language_model.gradient_descent import GradientDescent
    from agents.language_model.markov import MarkovChain
    from agents.language_model.schedules import Decay

    chain = MarkovChain.random(8, 2, 0.3, named_seed(0, "markov-chain"))
    data = chain.sample(256, named_seed(0, "dataset"))
    gd = GradientDescent(data, hidden=(3,), schedule=Decay(1.0, 2000.0), population=3)
    theta0 = gd.initial_parameters(named_seed(0, "A-population"))
    A = GradientDescent(data, hidden=(3,), schedule=Decay(1.0, 2000.0), population=3, init=theta0)
    np.testing.assert_allclose(result.arrays["A/L"], A.run(STEPS, named_seed(0, "A"))["L"], rtol=1e-10)
    for j in (0.01, 0.1):
        tr = Annealing(data, hidden=(3,), schedule=Decay(1.0, 2000.0), population=3, init=theta0, jump=j,
                       jump_tau=2000.0).run(STEPS, named_seed(0, f"annealing {j:g}"))
        for obj in ("L", "G", "J"):
            np.testing.assert_allclose(result.arrays[f"annealing {j:g}/{obj}"], tr[obj], rtol=1e-10)
        assert np.array_equal(result.arrays[f"annealing {j:g}/L"][:, 0], result.arrays["A/L"][:, 0])


def limit_C(L):
    """Capability by the limit estimator, written out: L(0) minus the mean of the last quarter."""
    n = int(np.ceil(0.25 * L.shape[1]))
    return L[:, 0] - L[:, -n:].mean(axis=1)


def test_table_recomputed_from_arrays(result):
    r = rows(result)
    H = r["A"][9]
    n = int(np.ceil(0.25 * (STEPS + 1)))
    A_final = result.arrays["A/L"][:, -n:].mean(axis=1)
    LA, GA = result.arrays["A/L"], result.arrays["A/G"]
    scale = lambda v: np.median(v[:, 0] - v.min(axis=1))  # the reference A's best improvement
    for name, own in [("A", "G"), ("annealing 0.01", "J"), ("annealing 0.1", "J")]:
        L, T, G = (result.arrays[f"{name}/{o}"] for o in ("L", own, "G"))
        assert r[name][1] == own
        alpha_G = limit_C(L) / limit_C(G)
        assert r[name][6] == pytest.approx(np.median(alpha_G), rel=1e-12)
        # normalized on reference A's scale: alpha * s_G(A) / s_L(A), one factor for every optimizer
        assert r[name][7] == pytest.approx(np.median(alpha_G) * scale(GA) / scale(LA), rel=1e-12)
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
    # the ordering of the normalized alignments against G is that of the raw ones (a shared scale)
    raw = [r[k][6] for k in ("A", "annealing 0.01", "annealing 0.1")]
    norm = [r[k][7] for k in ("A", "annealing 0.01", "annealing 0.1")]
    assert np.argsort(raw).tolist() == np.argsort(norm).tolist()
    # the report's own alignment figure of each edge is against the optimizer's own true objective
    for a in result.report.alignments:
        L, T = result.arrays[f"{a.child}/L"], result.arrays[f"{a.child}/{a.mesa_objective}"]
        assert a.alignment.median == pytest.approx(np.median(limit_C(L) / limit_C(T)), rel=1e-12)


def verdict_of(margin, resolution):
    if margin is None or resolution is None or not np.isfinite(resolution):
        return "undecided"
    return "holds" if margin > resolution else "fails" if margin < -resolution else "undecided"


def test_claims_are_three_valued_with_margins_from_the_arrays(result):
    claims = {c.text: c for c in result.report.claims}
    start = claims["every optimizer starts from the same state as A (equal L(0), copy by copy)"]
    assert start.verdict == "holds" and start.resolution == 0.0 and start.margin > 0
    n = int(np.ceil(0.25 * (STEPS + 1)))
    final = lambda name: result.arrays[f"{name}/L"][:, -n:].mean(axis=1)
    setback = lambda name: np.array([max(L[t] - L[: t + 1].min() for t in range(L.size))
                                     for L in result.arrays[f"{name}/L"]])
    for j in ("0.01", "0.1"):
        lower = next(c for t, c in claims.items() if t.startswith(f"annealing {j} reaches a lower"))
        # the margin: the median over copies of the paired difference, copy k against copy k
        assert lower.margin == pytest.approx(np.median(final("A") - final(f"annealing {j}")), rel=1e-9, abs=1e-15)
        pays = next(c for t, c in claims.items() if t.startswith(f"annealing {j} pays on the way"))
        assert pays.margin == pytest.approx(np.median(setback(f"annealing {j}") - setback("A")), abs=1e-12)
    for c in result.report.claims:
        d = c.to_dict()
        assert {"verdict", "margin", "resolution", "rule", "holds"} <= d.keys() and d["rule"]
        assert d["verdict"] == verdict_of(d["margin"], d["resolution"]), d
        assert d["holds"] == {"holds": True, "fails": False, "undecided": None}[d["verdict"]]
    assert "J" in result.report.choices["annealing true objective"] and "why" in result.report.choices
    assert "A" in result.report.choices["normalization reference"]
    assert any(t.title.startswith("strong alignment") for t in result.report.tables)


def test_true_objective_choice_is_a_parameter():
    res = run_scenario("annealing", RunOptions(steps=20, progress=False,
                                                params={**PARAMS, "jumps": "0.05", "anneal_true_objective": "G"}))
    assert res.graph.node("annealing 0.05").objective.name == "G"
    assert res.report.choices["annealing true objective"].startswith("G =")


def test_paired_claim_is_decided_by_its_margin_against_the_spread():
    """Synthetic paired copies: a clear gap holds, a reversed one fails, a gap within the noise is undecided."""
    from scenarios.annealing import paired_claim

    rng = np.random.default_rng(np.random.SeedSequence(11))
    base = rng.normal(1.0, 0.1, 40)
    z = rng.normal(0.0, 0.01, 20)
    noise = np.concatenate([z, -z])  # median exactly 0
    clear = paired_claim("x > y", base + 0.5 + noise, None, base, None, {}, "x - y")
    assert clear.verdict == "holds" and clear.margin == pytest.approx(0.5, abs=0.02)
    assert paired_claim("x > y", base - 0.5 + noise, None, base, None, {}, "x - y").verdict == "fails"
    tiny = paired_claim("x > y", base + 1e-4 + noise, None, base, None, {}, "x - y")
    assert tiny.verdict == "undecided" and abs(tiny.margin) < tiny.resolution
    # a per-copy estimator error wider than the gap leaves it undecided too
    wide = paired_claim("x > y", base + 0.05, np.full(40, 0.1), base, np.full(40, 0.1), {}, "x - y")
    assert wide.verdict == "undecided" and wide.resolution == pytest.approx(2 * np.sqrt(2) * 0.1, rel=1e-6)
    one = paired_claim("x > y", [2.0], None, [1.0], None, {}, "x - y")
    assert one.verdict == "undecided"  # one copy: the spread over copies is unknown


def test_the_terminal_report_fits_120_columns_and_both_plots_draw(result, tmp_path):
    assert max(map(len, result.report.render().splitlines())) <= 120
    result.write(tmp_path)
    for name in ("objectives.png", "final_L.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG", name
