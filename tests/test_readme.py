"""README's promises: its Python examples run as shown, and CI runs its exact setup and test commands."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


@pytest.mark.parametrize("code", blocks("python"), ids=lambda c: c.splitlines()[0][:40])
def test_python_examples_run_as_shown(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))
    exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})


def test_ci_runs_readme_setup_and_test_commands():
    setup = re.search(r"\*\*Setup\*\* \(once\): `([^`]+)`", README).group(1)
    tests = re.search(r"\*\*Tests\*\*: `([^`]+)`", README).group(1)
    ci = (ROOT / ".ci" / "run").read_text()
    assert setup in ci and tests in ci
    quick = blocks("bash")
    assert quick[0].strip() == f"{setup} && .venv/bin/mesastack run harris-abc"
    assert quick[1].strip() == f"{setup} && {tests}"


def test_cli_list_as_documented():
    r = subprocess.run([sys.executable, "-m", "scenarios", "list"], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert r.returncode == 0
    for name in re.findall(r"^\| `([a-z0-9-]+)` \|", README, flags=re.M):
        assert name in r.stdout, name
