"""Bad inputs, table-driven (issue 10): command-line arguments, ``--set`` values and misuse of the
Python API.

Each CLI row runs ``mesastack`` in process and asserts exit status 2, exactly one line on
stderr that names the problem (the parameter, and for a size what it needs and what there
is), no traceback, and that nothing ran (nothing on stdout). Each API row asserts a
:class:`MesastackError` subclass with a one-line message naming the argument. Every row is
refused before any training starts, so the whole module takes seconds.
"""

import math
import re
import warnings

import numpy as np
import pytest

from hierarchy import DelegationGraph, Objective, OptimizerNode, Trajectory
from hierarchy.alignment import alignment
from hierarchy.capability import capability
from hierarchy.errors import LeafError, MesastackError, ParameterError
from hierarchy.estimator import Estimator
from scenarios.machinery.api import run_hierarchy
from scenarios.machinery.cli import main
from scenarios.machinery.registry import RunOptions, run_scenario

BIG = "1000000000000"
SIZE = r"would need (about [0-9.e+]+ [KMGTPEZY]?i?B of memory|more memory than any machine)"  # item 6's one line

# (argv, patterns every one of which the one line must match)
CLI_ROWS = [
    # -- item 7: parameters named, meaningless thresholds refused -----------------------------
    (["harris-abc", "--set", "lr_c_scan="], [r"lr_c_scan=\(empty\) must be a non-empty list", r"--set lr_c_scan="]),
    (["harris-abc", "--set", "lr_c_scan=1,-2"], [r"^lr_c_scan=1\.0,-2\.0 must be .*> 0"]),
    (["harris-abc", "--set", "lr_c_scan=nan"], [r"^lr_c_scan=nan must be"]),
    (["harris-abc", "--set", "search_norms=nan"], [r"^search_norms=nan must be .*finite"]),
    (["harris-abc", "--set", "search_norms=0"], [r"^search_norms=0\.0 must be"]),
    (["capacity", "--set", "init_scale=nan"], [r"^init_scale=nan must be a finite number >= 0"]),
    (["capacity", "--set", "init_scale=-1"], [r"^init_scale=-1\.0 must be"]),
    (["harris-abc", "--set", "settle=nan"], [r"^settle=nan must be a number in \(0, 1\]", "--set settle=0.001"]),
    (["harris-abc", "--set", "settle=0"], [r"^settle=0\.0 must be"]),
    (["harris-abc", "--set", "worse_by=nan"], [r"^worse_by=nan must be a finite number >= 0"]),
    (["harris-abc", "--set", "agree=-1"], [r"^agree=-1\.0 must be a finite number > 0"]),
    (["harris-abc", "--set", "max_discrepancy=-1"], [r"^max_discrepancy=-1\.0 must be a finite number > 0"]),
    (["harris-abc", "--set", "max_discrepancy=inf"], [r"^max_discrepancy=inf must be"]),
    (["harris-abc", "--set", "lr=inf"], [r"^lr=inf must be a finite number > 0"]),
    (["harris-abc", "--set", "lr_c=0"], [r"^lr_c=0\.0 must be"]),
    (["harris-abc", "--set", "tau=0"], [r"^tau=0\.0 must be"]),
    (["harris-abc", "--set", "concentration=-1"], [r"^concentration=-1\.0 must be"]),
    (["harris-abc", "--set", "width=0"], [r"^width=0 must be a positive integer"]),
    (["harris-abc", "--set", "candidates=-3"], [r"^candidates=-3 must be a positive integer"]),
    (["capacity", "--set", "widths=1,,2"], [r"widths = '1,,2' has an empty entry", r"--set widths="]),
    (["capacity", "--set", "widths=1,2,"], [r"widths = '1,2,' has an empty entry"]),
    (["capacity", "--set", "widths=4,2"], [r"^widths=\(4, 2\); give increasing"]),
    (["capacity", "--set", "trend_level=2"], [r"^trend_level=2\.0 must be a number in \(0, 1\]"]),
    (["capacity", "--set", "min_support=nan"], [r"^min_support=nan must be"]),
    (["capacity", "--set", "bic_margin=nan"], [r"^bic_margin=nan must be"]),
    (["capacity", "--set", "flat_tolerance=inf"], [r"^flat_tolerance=inf must be"]),
    (["capacity", "--set", "dtype=float16"], [r"^dtype='float16' is not supported"]),
    (["annealing", "--set", "jump_tau=nan"], [r"^jump_tau=nan must be"]),
    (["annealing", "--set", "jumps=1,,2"], [r"jumps = '1,,2' has an empty entry"]),
    (["annealing", "--set", "jumps=0.1,0.1"], [r"^jumps=\(0\.1, 0\.1\) repeats a size"]),
    (["robustness", "--set", "shifts=2"], [r"^shifts=2\.0 must be .*\(0, 1\]"]),
    (["robustness", "--set", "lr_scales=-1"], [r"^lr_scales=-1\.0 must be"]),
    (["robustness", "--set", "init_norms=nan"], [r"^init_norms=nan must be"]),
    (["robustness", "--set", "label_smoothing=1"], [r"^label_smoothing=1\.0 must be a number in \[0, 1\)"]),
    (["robustness", "--set", "widths=1,x"], [r"widths = '1,x' is not a list of int values"]),
    (["maze-example-1", "--set", "irl_tol=nan"], [r"^irl_tol=nan must be"]),
    (["maze-example-1", "--set", "stop_success=2"], [r"^stop_success=2\.0 must be a number in \[0, 1\]"]),
    (["maze-example-1", "--set", "optimum_tolerance=-1"], [r"^optimum_tolerance=-1\.0 must be"]),
    (["maze-example-1", "--set", "train_green_by_exit=sometimes"], [r"^train_green_by_exit='sometimes' is not usable"]),
    (["maze-example-5", "--set", "train_size=1"], [r"^train_size=1 must be a maze side of at least 2"]),
    # -- the --set parser ----------------------------------------------------------------------
    (["harris-abc", "--set", "nosuch=1"], [r"has no parameter 'nosuch'"]),
    (["harris-abc", "--set", "width"], [r"--set takes NAME=VALUE, got 'width'"]),
    (["harris-abc", "--set", "width=abc"], [r"parameter width = 'abc' is not a valid int", "--set width=3"]),
    (["harris-abc", "--set", "seeds=1.5"], [r"parameter seeds = '1.5' is not a valid int"]),
    (["harris-abc", "--set", "agree=abc"], [r"parameter agree = 'abc' is not a valid float"]),
    (["harris-abc", "--set", "true_objective=H"], [r"^true_objective='H'; choose G or G1"]),
    # -- item 6: sizes that cannot fit are refused before allocating ----------------------------
    (["harris-abc", "--steps", BIG], [rf"^a run of {BIG} steps .*{SIZE}", "run fewer steps", r"\(option --steps T\)"]),
    (["harris-abc", "--set", "width=100000000"], [rf"^A's random starts .*{SIZE}", "narrower"]),
    (["harris-abc", "--set", "examples=1000000000"], [rf"^1000000000 training examples {SIZE}", "fewer examples"]),
    (["harris-abc", "--set", "candidates=1000000000"], [rf"^B's search .*{SIZE}", "lower candidates"]),
    (["capacity", "--set", "widths=1,100000000"], [rf"width 100000000 .*{SIZE}"]),
    (["capacity", "--set", f"bootstrap={BIG}"], [rf"bootstrap samples .*{SIZE}"]),
    (["annealing", "--steps", BIG], [rf"^a run of {BIG} steps .*{SIZE}"]),
    (["robustness", "--set", f"copies={BIG}"], [rf"copies .*{SIZE}"]),
    (["harris-abc", "--set", "vocab=1000000000"], [rf"Markov chain of 1000000000 tokens .*{SIZE}", "smaller vocab"]),
    (["harris-abc", "--set", f"order={BIG}"], [rf"Markov chain .*{SIZE}"]),
    # -- command-line options ------------------------------------------------------------------
    (["harris-abc", "--steps", "20", "--horizon", "50"], [r"^horizon=50 is longer than the run \(20 steps",
                                                          r"\(option --horizon N\)"]),
    (["harris-abc", "--horizon", "0"], [r"^horizon=0 must be a positive number of steps"]),
    (["harris-abc", "--steps", "0"], [r"^steps=0 must be a positive integer"]),
    (["harris-abc", "--steps", "-3"], [r"^steps=-3 must be a positive integer"]),
    (["harris-abc", "--steps", "abc"], [r"argument --steps: invalid int value: 'abc'"]),
    (["harris-abc", "--seed", "-1"], [r"^seed=-1 must be a non-negative integer"]),
    (["harris-abc", "--tail", "nan"], [r"^tail=nan must be a fraction in \(0, 1\]"]),
    (["harris-abc", "--tail", "1.5"], [r"^tail=1\.5 must be a fraction"]),
    (["harris-abc", "--estimator", "bogus"], [r"invalid choice: 'bogus'"]),
    (["nosuch"], [r"unknown scenario 'nosuch'"]),
    (["harris-abc", "--resume"], [r"not a sweep: --resume applies to sweeps only"]),
    (["harris-abc", "--workers", "2"], [r"--workers .*add --executor dask"]),
    (["capacity", "--executor", "dask", "--workers", "0"], [r"^workers=0 must be a positive number"]),
]


@pytest.mark.parametrize("argv, patterns", CLI_ROWS, ids=[" ".join(r[0])[:60] for r in CLI_ROWS])
def test_cli_refuses_in_one_line(argv, patterns, tmp_path, capsys):
    rc = main(["run", *argv, "--no-progress", "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mesastack: error: ")
    assert "Traceback" not in err and "MemoryError" not in err
    message = lines[0][len("mesastack: error: "):]
    for p in patterns:
        assert re.search(p, message), (p, message)
    assert out == ""  # nothing ran, nothing printed
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_describe_unknown_scenario(capsys):
    assert main(["describe", "nosuch"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown scenario 'nosuch'" in err[0]


def test_memory_refusal_states_what_there_is(tmp_path, capsys):
    from hierarchy.memory import format_bytes, total_memory

    assert main(["run", "harris-abc", "--steps", BIG, "--no-progress", "--out", str(tmp_path / "o")]) == 2
    assert f"this machine has {format_bytes(total_memory())}" in capsys.readouterr().err


# -- the Python API (item 8) ---------------------------------------------------------------------


class Halving:
    records = ("G", "L")
    deterministic = True

    def run(self, steps, seed, progress=None):
        g = 0.5 ** np.arange(steps + 1)
        return Trajectory({"G": [g], "L": [3 * g + 1]})


class TooShort(Halving):
    def run(self, steps, seed, progress=None):
        return super().run(2, seed)


class Raising(Halving):
    def run(self, steps, seed, progress=None):
        raise ZeroDivisionError("division by zero in the user's code")


class AllNaN(Halving):
    def run(self, steps, seed, progress=None):
        return Trajectory({"G": np.full((2, steps + 1), np.nan), "L": np.full((2, steps + 1), np.nan)})


def graph(leaf=None):
    return DelegationGraph.chain(OptimizerNode("human", Objective("L")),
                                 OptimizerNode("gd", Objective("G"), leaf=leaf or Halving()))


L = np.array([[3.0, 2.0, 1.5, 1.2, 1.1, 1.0, 1.0, 1.0]])

API_ROWS = [
    ("capability estimator as a string", lambda: capability(L, "limit"), ParameterError, r"^estimator='limit' is not an Estimator"),
    ("capability of strings", lambda: capability([["a", "b"]]), ParameterError, r"^L is not an array of numbers"),
    ("capability of a string", lambda: capability("abc"), ParameterError, r"^L='abc' is text"),
    ("capability without a step axis", lambda: capability(np.float64(1.0)), ParameterError, r"no step axis"),
    ("capability lower bound as text", lambda: capability(L, Estimator(), "0"), ParameterError, r"^lower_bound='0'"),
    ("alignment estimator as a string", lambda: alignment(L, L, "finite"), ParameterError, r"^estimator='finite'"),
    ("alignment of strings", lambda: alignment([["x"]], L), ParameterError, r"^L_base is not an array"),
    ("alignment shapes differ", lambda: alignment(L, L[:, :4]), ParameterError, r"differ in shape"),
    ("steps=True", lambda: run_hierarchy(graph(), steps=True, progress=False), ParameterError, r"^steps=True must be"),
    ("steps=2.5", lambda: run_hierarchy(graph(), steps=2.5, progress=False), ParameterError, r"^steps=2\.5 must be"),
    ("seed=-1", lambda: run_hierarchy(graph(), steps=5, seed=-1, progress=False), ParameterError, r"^seed=-1"),
    ("estimator string", lambda: run_hierarchy(graph(), steps=5, estimator="limit", progress=False), ParameterError,
     r"^estimator='limit' is not an Estimator"),
    ("horizon past the run", lambda: run_hierarchy(graph(), steps=5, horizon=50, progress=False), ParameterError,
     r"^horizon=50 is longer than the run"),
    ("horizon=0", lambda: run_hierarchy(graph(), steps=5, horizon=0, progress=False), ParameterError, r"^horizon=0"),
    ("max_discrepancy=-1", lambda: run_hierarchy(graph(), steps=5, max_discrepancy=-1, progress=False), ParameterError,
     r"^max_discrepancy=-1 must be"),
    ("max_discrepancy=nan", lambda: run_hierarchy(graph(), steps=5, max_discrepancy=math.nan, progress=False),
     ParameterError, r"^max_discrepancy=nan"),
    ("tolerance=-0.1", lambda: run_hierarchy(graph(), steps=5, tolerance=-0.1, progress=False), ParameterError,
     r"^tolerance=-0\.1"),
    ("claims a string", lambda: run_hierarchy(graph(), steps=5, claims="holds", progress=False), ParameterError,
     r"^claims='holds'"),
    ("claims holding a number", lambda: run_hierarchy(graph(), steps=5, claims=[3], progress=False), ParameterError,
     r"^claims holds int"),
    ("graph not a graph", lambda: run_hierarchy({"human": 1}, steps=5, progress=False), ParameterError, r"^graph=dict"),
    ("perturbations not a family", lambda: run_hierarchy(graph(), steps=5, perturbations=[1], progress=False),
     ParameterError, r"^perturbations=list"),
    ("too-short trajectory, check=False", lambda: run_hierarchy(graph(TooShort()), steps=20, progress=False, check=False),
     LeafError, r"^leaf 'gd' returned 3 values per copy for 20 steps"),
    ("raising leaf, check=False", lambda: run_hierarchy(graph(Raising()), steps=20, progress=False, check=False),
     LeafError, r"^leaf 'gd' failed to run 20 steps: ZeroDivisionError: division by zero"),
    ("RunOptions steps=True", lambda: RunOptions(steps=True), ParameterError, r"^steps=True"),
    ("RunOptions workers=0", lambda: RunOptions(executor="dask", workers=0), ParameterError, r"^workers=0"),
    ("run_scenario bad --set", lambda: run_scenario("harris-abc", RunOptions(params={"settle": "nan"})), ParameterError,
     r"^settle=nan"),
]


@pytest.mark.parametrize("call, kind, pattern", [r[1:] for r in API_ROWS], ids=[r[0] for r in API_ROWS])
def test_api_misuse_raises_a_named_mesastack_error(call, kind, pattern):
    with pytest.raises(kind) as info:
        call()
    assert isinstance(info.value, MesastackError)
    message = str(info.value)
    assert "\n" not in message
    assert re.search(pattern, message), message


def test_raising_leaf_keeps_its_exception_as_the_cause():
    with pytest.raises(LeafError) as info:
        run_hierarchy(graph(Raising()), steps=4, progress=False, check=False)
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_leaf_undefined_from_step_0_still_writes_every_file(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's all-NaN notes; the figures say "undefined"
        result = run_hierarchy(graph(AllNaN()), steps=10, progress=False, check=False)
        written = result.write(tmp_path / "out")
    assert {"report.json", "trajectories.npz", "objectives.png"} <= {p.name for p in written}
    a = result.report.measurements.alignment("human", "gd").alignment
    assert a.n == 0 and math.isnan(a.median)


def test_row_count():
    assert len(CLI_ROWS) + len(API_ROWS) >= 40
