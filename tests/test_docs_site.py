"""The documentation site builds offline with ``mkdocs build --strict``, and the tutorial's Python runs.

mkdocs and mkdocstrings are the ``docs`` extra (``.ci/run`` installs it); without them the build
test is skipped with that reason.
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_site_builds_offline_and_strict(tmp_path):
    for module in ("mkdocs", "mkdocstrings", "mkdocstrings_handlers.python"):
        if importlib.util.find_spec(module.split(".")[0]) is None or importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install -e \".[docs]\"; .ci/run does this)")
    site = tmp_path / "site"
    env = {**os.environ, "NO_PROXY": "*", "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                        "-d", str(site)], capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    for page in ("index.html", "tutorial/index.html", "definitions/index.html", "formats/index.html",
                 "api/index.html", "architecture/index.html"):
        assert (site / page).is_file(), page
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    # the reference is rendered from the docstrings: signatures and numpydoc sections are there
    for name in ("hierarchy.report.Report.to_frame", "hierarchy.html.report_page",
                 "scenarios.machinery.api.run_hierarchy"):
        assert name in api, name
    assert "C_A(L) = lim" in (site / "definitions" / "index.html").read_text(encoding="utf-8")


def python_blocks(page: Path) -> list:
    return re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)


def test_tutorial_code_runs(tmp_path, monkeypatch, capsys):
    blocks = python_blocks(ROOT / "docs" / "tutorial.md")
    assert len(blocks) == 3
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "tutorial"}
    for block in blocks[:2]:  # section 1: a hand-written leaf
        exec(compile(block, "docs/tutorial.md", "exec"), namespace)
    assert namespace["result"].report.claims[0].text == "alpha > 1"
    assert namespace["result"].report.claims[0].verdict == "holds"  # alpha = 3 exactly, by construction
    assert (tmp_path / "runs" / "halving" / "report.html").is_file()
    assert "3.0" in capsys.readouterr().out
    torch_model = {"__name__": "tutorial"}  # section 2: a torch model through TorchLeaf
    exec(compile(blocks[2], "docs/tutorial.md", "exec"), torch_model)
    report = torch_model["result"].report
    assert report.max_discrepancy < 1e-9 and report.measurements.capability("adam", "E_test").capability.median > 0
