"""harris-digits end to end at a small size: files, claims, the three-level chain, the dead-ReLU fixed point."""

import builtins
import json
import math

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="harris-digits needs scikit-learn: pip install -e '.[data]'")

from hierarchy.errors import ParameterError, ScenarioError  # noqa: E402
from scenarios.machinery.cli import main  # noqa: E402
from scenarios.machinery.registry import RunOptions, run_scenario  # noqa: E402

SEEDS = 2
STEPS = 300
SMALL = {"seeds": str(SEEDS), "init_population": "2", "candidates": "2", "b_copies": "2", "search_norms": "1.0",
         "lr_c_scan": "0.1,2.0"}


def _set(params):
    out = []
    for k, v in params.items():
        out += ["--set", f"{k}={v}"]
    return out


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits")
    code = main(["run", "harris-digits", "--steps", str(STEPS), "--seed", "3", "--out", str(out), "--no-progress",
                 *_set(SMALL)])
    assert code == 0
    return out, json.loads((out / "report.json").read_text()), dict(np.load(out / "trajectories.npz"))


def tail_mean(x, frac=0.25):
    n = max(2, math.ceil(frac * x.shape[-1]))
    return x[..., -n:].mean(axis=-1)


def test_the_run_writes_its_files_and_prints_table_and_claims(result, capsys):
    out, rep, arrays = result
    for name in ("report.json", "trajectories.npz", "objectives.png", "constant_rates.png", "report.txt",
                 "graph.json"):
        assert (out / name).stat().st_size > 0, name
    text = (out / "report.txt").read_text()
    assert max(map(len, text.splitlines())) <= 120  # the terminal report fits 120 columns
    assert "optimizers over the seeds" in text and "constant learning rates" in text and "budget:" in text
    assert rep["scenario"] == "harris-digits"
    for leaf in ("A", "C", "Adam", "momentum"):
        assert arrays[f"{leaf}/L"].shape[1] == STEPS + 1 and f"{leaf}/E_test" in arrays


def test_every_claim_is_three_valued_and_replicated(result):
    _, rep, _ = result
    assert len(rep["claims"]) == 9
    for c in rep["claims"]:
        assert c["verdict"] in ("holds", "fails", "undecided")
        s = c["seeds"]
        assert s["n"] == SEEDS and s["holds"] + s["fails"] + s["undecided"] == SEEDS


def test_three_level_chain_alignments_and_product_match_numpy(result):
    _, rep, arrays = result
    for leaf in ("A", "C", "Adam", "momentum"):
        E, L = arrays[f"{leaf}/E_test"], arrays[f"{leaf}/L"]
        own = [a for a in rep["alignments"] if a["child"] == leaf][0]["mesa_objective"]
        T = arrays[f"{leaf}/{own}"]
        cE, cL, cT = E[:, 0] - tail_mean(E), L[:, 0] - tail_mean(L), T[:, 0] - tail_mean(T)
        goal = [a for a in rep["alignments"] if a["parent"] == "goal" and a["chain"] == leaf][0]
        np.testing.assert_allclose(goal["alignment"]["per_copy"], cE / cL, rtol=1e-10, atol=1e-14)
        low = [a for a in rep["alignments"] if a["child"] == leaf][0]
        np.testing.assert_allclose(low["alignment"]["per_copy"], cL / cT, rtol=1e-10)
        # the delegation product written out: C(E) = alpha(E/L) alpha(L/T) C(T)
        np.testing.assert_allclose((cE / cL) * (cL / cT) * cT, cE, rtol=1e-9, atol=1e-14)


def test_constant_rate_two_kills_the_relu_network_at_the_label_entropy(result):
    out, rep, arrays = result
    # independent truth: the training split's class counts (3 vs 7 at 30% held out: 128 and 125),
    # and the cross-entropy of the best constant prediction, -sum p ln p
    n0, n1 = 183 - round(0.3 * 183), 179 - round(0.3 * 179)
    p = n0 / (n0 + n1)
    H = -(p * math.log(p) + (1 - p) * math.log(1 - p))
    assert abs(H - math.log(2)) < 1e-3
    L, G = arrays["C/L"], arrays["C/G"]
    assert np.all(np.abs(tail_mean(L) - H) < 1e-6)
    assert np.all(np.abs(tail_mean(L) - math.log(2)) < 1e-3)
    assert np.all(tail_mean(G) < 1e-20 * G[:, 0])  # G ~ 0: the true objective achieved
    assert np.all(arrays["extra/C/dead_units"] == 32)  # every hidden unit of the width-32 MLP dead
    scan = arrays["C-scan/L"]  # lr 0.1 learns, lr 2 dies
    assert tail_mean(scan[0]) < 0.1 and abs(tail_mean(scan[1]) - H) < 1e-6
    dead = [c for c in rep["claims"] if c["text"].startswith("C (constant learning rate 2)")][0]
    # never refuted; at 300 steps the limit estimator may still see the death transient in its
    # windows and leave a seed undecided (the default 1000-step run holds on 8 of 8 seeds)
    assert dead["seeds"]["fails"] == 0 and dead["seeds"]["holds"] >= 1


def test_budget_note_states_steps_and_harris_epochs(result):
    out, rep, _ = result
    note = [n for n in rep["notes"] if n.startswith("budget:")][0]
    assert f"{STEPS} full-batch steps (Harris: 10,000 epochs)" in note


@pytest.mark.parametrize("params, parameter", [({"classes": "3"}, "classes"), ({"classes": "3,12"}, "classes"),
                                               ({"activation": "gelu"}, "activation"), ({"lr_c": "-1"}, "lr_c"),
                                               ({"beta": "1.0"}, "beta"), ({"test_fraction": "1.5"}, "test_fraction"),
                                               ({"true_objective": "H"}, "true_objective")])
def test_bad_inputs_are_one_line_errors(params, parameter, capsys):
    with pytest.raises(ParameterError) as e:
        run_scenario("harris-digits", RunOptions(steps=2, progress=False, params=params))
    assert e.value.parameter == parameter and "\n" not in str(e.value)
    assert main(["run", "harris-digits", "--steps", "2", "--no-progress", *_set(params)]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_missing_scikit_learn_says_how_to_install(monkeypatch, capsys):
    real = builtins.__import__

    def no_sklearn(name, *args, **kw):
        if name == "sklearn" or name.startswith("sklearn."):
            raise ImportError("No module named 'sklearn'")
        return real(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    with pytest.raises(ScenarioError, match=r'pip install -e "\.\[data\]"'):
        run_scenario("harris-digits", RunOptions(steps=2, progress=False, params={"seeds": "1"}))
    assert main(["run", "harris-digits", "--steps", "2", "--no-progress", "--set", "seeds=1"]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'pip install -e ".[data]"' in err
