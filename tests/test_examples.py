"""Every script in examples/ runs, as a script (``__main__``), at a small size, and does what it says."""

import json
import math
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_script(name, args, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [str(EXAMPLES / name), *args])
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    return capsys.readouterr().out


def test_every_example_is_tested():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == ["definitions_table.py", "own_model.py", "teacher_abc.py"]


def test_own_model_alignment_recomputes_from_its_arrays(tmp_path, monkeypatch, capsys):
    out = run_script("own_model.py", ["--steps", "300", "--copies", "4", "--out", str(tmp_path)], monkeypatch, capsys)
    assert "[holds] training on L_train lowers L_test" in out and "researcher -> trainer -> gd" in out
    assert (tmp_path / "report.html").stat().st_size > 0
    doc = json.loads((tmp_path / "report.json").read_text())
    arrays = np.load(tmp_path / "trajectories.npz")
    tail = doc["estimator"]["tail"]

    def limit_capability(L):  # Definition 1's limit estimator written out: L(0) - mean of the tail
        n = max(2, math.ceil(tail * L.shape[1]))
        return L[:, 0] - L[:, -n:].mean(axis=1)

    alpha = limit_capability(arrays["gd/L_test"]) / limit_capability(arrays["gd/L_train"])  # Definition 2
    (fig,) = [a for a in doc["alignments"] if a["parent"] == "researcher"]
    np.testing.assert_allclose(fig["alignment"]["per_copy"], alpha, rtol=1e-10)
    assert fig["alignment"]["median"] == pytest.approx(float(np.median(alpha)), rel=1e-10)


def test_teacher_abc_prints_a_b_c_and_the_claims(tmp_path, monkeypatch, capsys):
    out = run_script("teacher_abc.py", ["--steps", "300", "--seeds", "1", "--small-search", "--out", str(tmp_path)],
                     monkeypatch, capsys)
    assert "designer -> A" in out and "alpha = C(L)/C(G)" in out
    claims = [ln for ln in out.splitlines() if ln.startswith("  [")]
    assert len(claims) == 6 and any("alpha_B < alpha_A" in ln for ln in claims)
    assert "report.html" in json.loads((tmp_path / "mesastack.json").read_text())["files"]


@pytest.mark.slow
def test_definitions_table_has_every_example_and_definition(tmp_path, monkeypatch, capsys):
    out = run_script("definitions_table.py", ["--tiny", "--out", str(tmp_path)], monkeypatch, capsys)
    definitions = ("objective-focused", "generalization-focused", "optimization-focused", "alpha-robust")
    rows = [ln for ln in out.splitlines() if ln[:1].isdigit() and any(d in ln for d in definitions)]
    assert len(rows) == 6 * 4 and {r.split()[0] for r in rows} == {"1", "2", "3", "4", "5", "6"}
    for definition in definitions:
        assert sum(definition in r for r in rows) == 6
    assert "cells differ from seed 002" in out or "agrees with this run" in out
    assert (tmp_path / "report.html").is_file()
