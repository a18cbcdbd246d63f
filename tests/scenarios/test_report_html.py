"""report.html opened in a real browser: headless Chromium loads it, runs its script without a
console message, and the DOM holds the graph's nodes, its edges and every claim.

Chromium is Debian's ``chromium`` package (``.ci/run`` installs it); where it is missing, every
browser test is skipped with that reason, never passed. The detector is itself tested: a page
with a deliberate JavaScript error, and one that tries to load an image from the network, are
both caught.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from scenarios.machinery.output import MANIFEST, REPORT_HTML, write_result
from scenarios.machinery.registry import RunOptions, run_scenario

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0"]
SMALL = {"candidates": "8", "init_population": "4", "search_norms": "1.0", "seeds": "1"}


def browser() -> str:
    """The Chromium executable; skips the test (with the reason) when none is installed."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("headless Chromium is not installed (apt-get install -y chromium; .ci/run does this)")


def open_page(page: Path, tmp: Path, *args: str) -> tuple:
    """Open ``page`` in a fresh headless Chromium profile: (stdout, console lines of stderr)."""
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    r = subprocess.run([browser(), *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()],
                       capture_output=True, text=True, timeout=120)
    console = [ln for ln in r.stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]
    return r.stdout, console


def test_a_deliberate_javascript_error_is_detected(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><p id='x'>x</p><script>undefinedFunction();</script></body></html>")
    dom, console = open_page(page, tmp_path, "--dump-dom")
    assert "<p id=\"x\">x</p>" in dom
    assert any("Uncaught ReferenceError" in ln for ln in console), console


def test_a_blocked_network_load_is_detected(tmp_path):
    from hierarchy.html import CSP

    page = tmp_path / "network.html"
    page.write_text(f'<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="{CSP}">'
                    '</head><body><img src="https://example.invalid/x.png"></body></html>')
    _, console = open_page(page, tmp_path, "--dump-dom")
    assert any("Content Security Policy" in ln for ln in console), console


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    browser()
    out = tmp_path_factory.mktemp("abc")
    result = run_scenario("harris-abc", RunOptions(steps=300, progress=False, params=SMALL))
    write_result(result, out)
    return out, json.loads((out / "report.json").read_text())


@pytest.mark.slow
def test_report_html_renders_in_chromium_with_graph_and_claims(written, tmp_path):
    out, doc = written
    assert REPORT_HTML in json.loads((out / MANIFEST).read_text())["files"]
    dom, console = open_page(out / REPORT_HTML, tmp_path, "--dump-dom")
    assert console == [], console
    assert re.search(r'<div class="mesastack-report"[^>]*data-ready="1"', dom), "the page's script did not finish"
    nodes = re.findall(r'<g class="ms-node[^"]*" data-detail="[^"]+" data-node="([^"]+)"', dom)
    assert nodes == [n["name"] for n in doc["nodes"]]
    edges = re.findall(r'data-edge="([^"]+)"', dom)
    assert edges == [f"{p}-&gt;{c}" for p, c in doc["edges"]] + [f"{p}=&gt;{c}" for p, c in doc["productions"]]
    verdicts = re.findall(r'<div class="ms-claim ms-\w+" data-verdict="(\w+)"', dom)
    assert verdicts == [c["verdict"] for c in doc["claims"]] and len(verdicts) == 6
    for c in doc["claims"]:
        assert c["text"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in dom
    assert dom.count('<img src="data:image/png;base64,') == 1  # objectives.png, inline
    # exactly one panel is shown after the script ran: the first node's
    assert re.findall(r'class="ms-detail ms-shown" data-for="([^"]+)"', dom) == ["node-0"]


@pytest.mark.slow
def test_report_html_screenshot(written, tmp_path):
    out, _ = written
    shot = tmp_path / "report.png"
    _, console = open_page(out / REPORT_HTML, tmp_path, f"--screenshot={shot}", "--window-size=1400,1800")
    assert console == [], console
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a drawn page, not a blank one


# Without a browser: report.html is the page of the very report the run returned.

class Halving:
    records = ("G", "L")
    deterministic = True

    def run(self, steps, seed, progress=None):
        import numpy as np

        from hierarchy.trajectory import Trajectory

        g = 0.5 ** np.arange(steps + 1)
        return Trajectory({"G": [g], "L": [2 * g + 1]})


def own_result():
    from hierarchy import DelegationGraph, Objective, OptimizerNode
    from scenarios import run_hierarchy

    graph = DelegationGraph.chain(OptimizerNode("human", Objective("L")),
                                  OptimizerNode("gd", Objective("G"), leaf=Halving()))
    return run_hierarchy(graph, steps=20, progress=False, name="own")


def test_report_html_is_the_page_of_the_returned_report(tmp_path):
    from hierarchy.html import report_fragment, report_page

    result = own_result()
    written = write_result(result, tmp_path)
    assert tmp_path / REPORT_HTML in written and REPORT_HTML in json.loads((tmp_path / MANIFEST).read_text())["files"]
    plots = {"objectives.png": (tmp_path / "objectives.png").read_bytes()}
    assert (tmp_path / REPORT_HTML).read_text(encoding="utf-8") == report_page(result.report, plots)
    # the notebook display: the same content, its plots drawn again (the same bytes on one machine)
    assert result._repr_html_() == report_fragment(result.report, plots)


def test_repr_html_names_a_plot_that_failed():
    import attrs

    result = own_result()
    broken = attrs.evolve(result, plots={"bad.png": lambda path: 1 / 0})
    out = broken._repr_html_()
    assert "plot bad.png could not be drawn (ZeroDivisionError: division by zero)" in out
    assert "data:image/png" not in out
