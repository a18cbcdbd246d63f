"""The live monitor: closed forms, the batch computation it must equal, its files and its refusals."""

import csv
import json
import math

import attrs
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hierarchy import DelegationGraph, Estimator, Objective, OptimizerNode, Trajectory
from hierarchy.errors import MesastackError, NotFoundError, OutputError, ParameterError
from hierarchy.measure import measure
from hierarchy.run import run_graph
from scenarios.machinery.monitor import Monitor
from scenarios.machinery.monitor_buffer import INITIAL_CAPACITY

CHAIN = [("designer", "E_test"), ("base", "L"), ("gd", "G")]


def geometric_run(T, g0, r=0.99, a=3.0, c=1.0, b=0.5, e=2.0):
    """G_t = g0 r^t, L_t = a G_t + c, E_t = b L_t + e, per copy ([K, T] each)."""
    G = np.asarray(g0, dtype=float)[:, None] * r ** np.arange(T)[None, :]
    L = a * G + c
    return {"E_test": b * L + e, "L": L, "G": G}  # the chain's order, root first


def fed(values, estimator=Estimator(), steps=None, chain=CHAIN, **kwargs):
    K, T = next(iter(values.values())).shape
    mon = Monitor(chain, estimator, copies=K, **kwargs)
    for t in range(T):
        mon.record(t if steps is None else int(steps[t]), **{o: v[:, t] if K > 1 else float(v[0, t])
                                                             for o, v in values.items()})
    return mon


# ---- closed forms -----------------------------------------------------------------------
def test_finite_estimator_equals_the_closed_form():
    T, g0, r, a, b = 300, np.array([1.0, 4.0]), 0.97, 3.0, 0.5
    mon = fed(geometric_run(T, g0, r, a=a, b=b), Estimator("finite"))
    # (1/T) sum_{t<T} [G(0) - G(t)] = g0 (1 - (1 - r^T) / (T (1 - r)))
    C_G = g0 * (1 - (1 - r ** T) / (T * (1 - r)))
    assert np.allclose(mon.capability("G").capability.per_copy, C_G, rtol=1e-12)
    assert np.allclose(mon.capability("L").capability.per_copy, a * C_G, rtol=1e-12)
    assert np.allclose(mon.capability("E_test").capability.per_copy, a * b * C_G, rtol=1e-12)
    assert np.allclose(mon.alignment("base", "gd").alignment.per_copy, a, rtol=1e-12)
    assert np.allclose(mon.alignment("designer", "base").alignment.per_copy, b, rtol=1e-12)
    p = mon.product()
    assert np.allclose(p.direct.per_copy, a * b * C_G, rtol=1e-12) and p.discrepancy < 1e-12
    assert mon.capability("G").capability.estimator_error == 0.0  # the finite average is exact for its horizon


def test_limit_estimator_equals_the_closed_form_within_its_error():
    T, g0, r = 4000, np.array([1.0, 2.0, 0.5]), 0.99
    mon = fed(geometric_run(T, g0, r), Estimator())
    n = math.ceil(0.25 * T)
    # G(0) minus the mean of the last n values of g0 r^t
    C_tail = g0 - g0 * r ** (T - n) * (1 - r ** n) / (n * (1 - r))
    f = mon.capability("G")
    assert np.allclose(f.capability.per_copy, C_tail, rtol=1e-12)
    # the limit g0 lies within the estimator's promised tolerance (converged: error <= 1% |C|)
    err = np.array(f.capability.error_per_copy)
    assert f.converged_fraction == 1.0 and np.all(err <= 0.01 * np.abs(C_tail))
    assert np.all(np.abs(np.array(f.capability.per_copy) - g0) <= np.maximum(err, 1e-12 * g0))
    assert np.allclose(mon.alignment("base", "gd").alignment.per_copy, 3.0, rtol=1e-9)


# ---- the same numbers as the batch computation -------------------------------------------
class _Replay:
    """A test-local leaf returning a Trajectory built by the test (not by the monitor)."""

    deterministic = True

    def __init__(self, trajectory):
        self.trajectory = trajectory
        self.records = tuple(trajectory.values)

    def run(self, steps, seed, progress=None):
        return self.trajectory


def batch_measurements(values, estimator, chain=CHAIN):
    """measure() on a graph and Trajectory built by hand: divergence at the first non-finite value of a copy."""
    bad = np.zeros(next(iter(values.values())).shape, dtype=bool)
    for v in values.values():
        bad |= ~np.isfinite(v)
    diverged_at = np.where(bad.any(axis=1), bad.argmax(axis=1), -1)
    clean = {}
    for o, v in values.items():
        v = np.array(v, dtype=float)
        for k in np.flatnonzero(diverged_at >= 0):
            v[k, diverged_at[k]:] = np.nan
        clean[o] = v
    tr = Trajectory(clean, diverged_at=diverged_at)
    nodes = [OptimizerNode(n, Objective(o)) for n, o in chain[:-1]]
    nodes.append(OptimizerNode(chain[-1][0], Objective(chain[-1][1]), leaf=_Replay(tr)))
    graph = DelegationGraph.chain(*nodes)
    return measure(graph, run_graph(graph, tr.T - 1), estimator), clean, diverged_at


def _same(a, b, path="measurements"):
    """Recursive equality in which NaN equals NaN (figures carry NaN for undefined numbers)."""
    if attrs.has(type(a)):
        assert type(a) is type(b), path
        for f in attrs.fields(type(a)):
            _same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert (math.isnan(a) and math.isnan(b)) or a == b, f"{path}: {a!r} != {b!r}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


@pytest.mark.parametrize("kind", ["finite", "limit"])
def test_monitor_figures_equal_measure_on_the_hand_built_trajectory(kind):
    rng = np.random.default_rng(3)
    values = geometric_run(120, [1.0, 2.0, 3.0])
    values = {o: v + 0.01 * rng.standard_normal(v.shape) for o, v in values.items()}
    values["L"][1, 40] = np.nan  # copy 1 diverges at record 40
    values["G"][2, 90] = np.inf  # copy 2 at record 90
    mon = fed(values, Estimator(kind))
    truth, clean, diverged_at = batch_measurements(values, Estimator(kind))
    assert mon.diverged_at.tolist() == [-1, 40, 90] == diverged_at.tolist()
    _same(mon.measurements(), truth)
    for o in clean:
        np.testing.assert_array_equal(mon.values(o), clean[o])
    assert math.isnan(mon.capability("G").capability.per_copy[1])  # a diverged copy enters no figure


@st.composite
def recordings(draw):
    K = draw(st.integers(1, 3))
    T = draw(st.integers(2, 40))
    gaps = draw(st.lists(st.integers(1, 5), min_size=T - 1, max_size=T - 1))
    finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
    values = {o: np.array(draw(st.lists(st.lists(finite, min_size=T, max_size=T), min_size=K, max_size=K)))
              for o in ("E_test", "L", "G")}
    for _ in range(draw(st.integers(0, 2))):  # a few values that are not finite
        o = draw(st.sampled_from(sorted(values)))
        values[o][draw(st.integers(0, K - 1)), draw(st.integers(0, T - 1))] = draw(st.sampled_from([np.nan, np.inf]))
    start = draw(st.integers(-5, 5))
    steps = np.concatenate([[start], start + np.cumsum(gaps)]).astype(int)
    return values, steps, draw(st.sampled_from(["finite", "limit"]))


@settings(max_examples=25, deadline=None)
@given(recordings())
def test_any_increasing_records_give_the_batch_measurements(case):
    values, steps, kind = case
    mon = fed(values, Estimator(kind), steps=steps)
    truth, clean, _ = batch_measurements(values, Estimator(kind))
    _same(mon.measurements(), truth)
    np.testing.assert_array_equal(mon.steps, steps)


def test_torch_tensors_and_arrays_are_stored_as_their_values():
    mon = Monitor(CHAIN[1:], copies=2)
    w = torch.tensor([1.5, 2.5], requires_grad=True)
    mon.record(0, L=w * 2, G=np.array([0.25, 0.5], dtype=np.float32))
    mon.record(1, L=[1.0, 2.0], G=(w ** 2).detach())
    np.testing.assert_array_equal(mon.values("L"), [[3.0, 1.0], [5.0, 2.0]])
    np.testing.assert_array_equal(mon.values("G"), [[0.25, 2.25], [0.5, 6.25]])
    one = Monitor(CHAIN[1:])
    one.record(0, L=torch.tensor(2.0, requires_grad=True), G=np.float32(0.5))
    one.record(1, L=torch.tensor([1.0]), G=np.array([0.25]))
    np.testing.assert_array_equal(one.values("L"), [[2.0, 1.0]])
    np.testing.assert_array_equal(one.values("G"), [[0.5, 0.25]])


def test_a_diverged_copy_stays_nan_and_the_summary_says_so():
    mon = Monitor(CHAIN[1:], Estimator("finite"), copies=2)
    for t in range(6):
        mon.record(t, L=[3.0 - 0.1 * t, math.nan if t == 2 else 3.0 - 0.2 * t], G=[1.0 / (t + 1), 1.0 / (t + 1)])
    assert mon.diverged_at.tolist() == [-1, 2]
    assert np.isnan(mon.values("L")[1, 2:]).all() and np.isnan(mon.values("G")[1, 2:]).all()
    assert np.isfinite(mon.values("G")[1, :2]).all()
    s = mon.summary()
    assert s.startswith("step 5 (6 records): C(L) ") and "alpha base->gd" in s and "1 of 2 copies diverged" in s


# ---- storage --------------------------------------------------------------------------
def test_buffers_grow_by_doubling_and_hold_exactly_what_was_recorded():
    rng = np.random.default_rng(0)
    T = 10_000
    L, G = rng.standard_normal(T), rng.random(T)
    mon = Monitor(CHAIN[1:])
    for t in range(T):
        mon.record(3 * t, L=float(L[t]), G=float(G[t]))
    assert len(mon) == T
    assert mon.buffer.capacity == INITIAL_CAPACITY * 2 ** math.ceil(math.log2(T / INITIAL_CAPACITY))
    assert mon.buffer.capacity < 2 * T
    np.testing.assert_array_equal(mon.values("L"), L[None, :])
    np.testing.assert_array_equal(mon.values("G"), G[None, :])
    np.testing.assert_array_equal(mon.steps, 3 * np.arange(T))


# ---- streams and files ----------------------------------------------------------------
def test_csv_round_trip_and_first_rows_on_disk_before_close(tmp_path):
    path = tmp_path / "run.csv"
    values = geometric_run(30, [1.0, 2.0])
    values["G"][1, 10] = np.inf
    with fed(values, csv=path) as mon:
        pass
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["step", "E_test[0]", "E_test[1]", "L[0]", "L[1]", "G[0]", "G[1]"]
    body = np.array([[float(x) for x in r] for r in rows[1:]])
    assert body.shape == (30, 7)
    np.testing.assert_array_equal(body[:, 0], np.arange(30))
    for j, o in enumerate(("E_test", "L", "G")):
        np.testing.assert_array_equal(body[:, 1 + 2 * j:3 + 2 * j].T, mon.values(o))  # bit for bit, NaN for diverged
    assert np.isnan(body[10:, 4]).all() and np.isfinite(body[:10, 4]).all()

    live = Monitor(CHAIN[1:], csv=tmp_path / "live.csv")
    live.record(7, L=1.0, G=2.0)  # the first record reaches the file at once (then at most every second)
    assert (tmp_path / "live.csv").read_text().splitlines() == ["step,L,G", "7,1.0,2.0"]
    live.close()


def test_tensorboard_scalars_read_back(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    values = geometric_run(20, [1.0])
    with fed(values, Estimator("finite"), tensorboard=tmp_path / "tb", summary_every=10, tensorboard_every=1) as mon:
        pass
    with fed(values, tensorboard=tmp_path / "sparse"):  # by default every 10th record, from the first
        pass
    sparse = EventAccumulator(str(tmp_path / "sparse"))
    sparse.Reload()
    assert [e.step for e in sparse.Scalars("objective/G")] == [0, 10]
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert {"objective/L", "objective/G", "capability/G", "alignment/base/gd", "product/discrepancy"} <= set(tags)
    L = acc.Scalars("objective/L")
    assert [e.step for e in L] == list(range(20))
    assert np.allclose([e.value for e in L], values["L"][0], rtol=1e-6)  # TensorBoard keeps float32
    cap = acc.Scalars("capability/G")
    assert [e.step for e in cap] == [9, 19]  # every summary_every = 10 records (a tenth of 20 is less)
    assert math.isclose(cap[-1].value, mon.capability("G").capability.median, rel_tol=1e-6)


def test_result_writes_the_files_of_mesastack_run(tmp_path):
    values = geometric_run(200, [1.0, 2.0])
    mon = fed(values, Estimator(), steps=10 * np.arange(200), name="my-loop", seed=4)
    result = mon.result()
    _same(result.report.measurements, mon.measurements())
    assert result.report.scenario == "my-loop" and result.report.seed == 4 and result.report.steps == 199
    assert any("every 10 steps" in n for n in result.report.notes)
    written = {p.name for p in result.write(tmp_path)}
    assert {"report.json", "trajectories.npz", "graph.graphml", "objectives.png", "mesastack.json"} <= written
    with np.load(tmp_path / "trajectories.npz") as npz:
        for o in ("E_test", "L", "G"):
            np.testing.assert_array_equal(npz[f"gd/{o}"], values[o])
        np.testing.assert_array_equal(npz["extra/steps"], 10 * np.arange(200))
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["scenario"] == "my-loop"
    assert mon.report().max_discrepancy < 1e-9


# ---- refusals -------------------------------------------------------------------------
def _recorded(mon, n=1):
    for t in range(n):
        mon.record(t, L=1.0, G=1.0)
    return mon


BAD = [
    ("one level", lambda: Monitor([("gd", "G")]), "at least two"),
    ("duplicate node", lambda: Monitor([("a", "L"), ("a", "G")]), "'a' twice"),
    ("not a pair", lambda: Monitor([("a", "L"), "gd"]), r"chain\[1\]"),
    ("bad node name", lambda: Monitor([("a/b", "L"), ("gd", "G")]), "usable node name"),
    ("bad objective name", lambda: Monitor([("a", "L/2"), ("gd", "G")]), "usable objective name"),
    ("evaluated objective", lambda: Monitor([("a", Objective("D", evaluate=lambda s: s)), ("gd", "G")]),
     "evaluated on states"),
    ("objective named step", lambda: Monitor([("a", "step"), ("gd", "G")]), "clash"),
    ("copies 0", lambda: Monitor(CHAIN, copies=0), "copies=0"),
    ("estimator string", lambda: Monitor(CHAIN, "limit"), "not an Estimator"),
    ("unknown objective", lambda: Monitor(CHAIN[1:]).record(0, L=1.0, G=1.0, H=2.0), "unknown objective"),
    ("missing in first record", lambda: Monitor(CHAIN[1:]).record(0, L=1.0), "missing G"),
    ("missing, same count", lambda: Monitor(CHAIN[1:]).record(0, L=1.0, X=1.0), "unknown objective"),
    ("step repeats", lambda: _recorded(Monitor(CHAIN[1:])).record(0, L=1.0, G=1.0), "strictly increase"),
    ("step goes back", lambda: _recorded(Monitor(CHAIN[1:]), 3).record(1, L=1.0, G=1.0), "strictly increase"),
    ("float step", lambda: Monitor(CHAIN[1:]).record(1.5, L=1.0, G=1.0), "must be an integer"),
    ("bool step", lambda: Monitor(CHAIN[1:]).record(True, L=1.0, G=1.0), "must be an integer"),
    ("scalar for K=2", lambda: Monitor(CHAIN[1:], copies=2).record(0, L=1.0, G=[1.0, 1.0]), "copies=2"),
    ("3 values for K=2", lambda: Monitor(CHAIN[1:], copies=2).record(0, L=[1.0] * 3, G=[1.0, 1.0]), r"shape \(3,\)"),
    ("tensor [2] for K=1", lambda: Monitor(CHAIN[1:]).record(0, L=torch.ones(2), G=1.0), "copies=1"),
    ("matrix for K=2", lambda: Monitor(CHAIN[1:], copies=2).record(0, L=np.ones((2, 1)), G=[1.0, 1.0]), "copies=2"),
    ("text value", lambda: Monitor(CHAIN[1:]).record(0, L="1.0", G=1.0), "not a number"),
    ("object value", lambda: Monitor(CHAIN[1:]).record(0, L=object(), G=1.0), "not numbers"),
    ("capability before 2 records", lambda: _recorded(Monitor(CHAIN[1:])).capability("L"), "at least 2"),
    ("result before 2 records", lambda: Monitor(CHAIN[1:]).result(), "at least 2"),
    ("record after close", lambda: _closed(Monitor(CHAIN[1:])).record(0, L=1.0, G=1.0), "closed monitor"),
    ("values of unknown objective", lambda: Monitor(CHAIN[1:]).values("H"), "no objective 'H'"),
    ("summary_every 0", lambda: Monitor(CHAIN, summary_every=0), "summary_every"),
    ("tensorboard_every bool", lambda: Monitor(CHAIN, tensorboard_every=True), "tensorboard_every"),
    ("negative seed", lambda: Monitor(CHAIN, seed=-1), "seed=-1"),
    ("bad extra", lambda: Monitor(CHAIN, extra=("a/b",)), "extra"),
]


def _closed(mon):
    mon.close()
    return mon


@pytest.mark.parametrize("make, match", [pytest.param(m, e, id=i) for i, m, e in BAD])
def test_bad_input_is_one_line_naming_the_fix(make, match):
    with pytest.raises(ParameterError, match=match) as info:
        make()
    assert "\n" not in str(info.value)


def test_a_refused_record_stores_nothing():
    mon = _recorded(Monitor(CHAIN[1:], copies=1), 2)
    for bad in (dict(L=1.0), dict(L=1.0, G=[1.0, 2.0]), dict(L=1.0, G=1.0, H=1.0)):
        with pytest.raises(ParameterError):
            mon.record(5, **bad)
    assert len(mon) == 2 and mon.steps.tolist() == [0, 1]
    mon.record(2, L=0.5, G=0.5)  # and recording goes on
    assert mon.values("L").tolist() == [[1.0, 1.0, 0.5]]


def test_an_unknown_figure_is_named():
    mon = _recorded(Monitor(CHAIN[1:]), 3)
    with pytest.raises(NotFoundError, match="no alignment figure for 'gd' -> 'base'"):
        mon.alignment("gd", "base")


def test_missing_tensorboard_and_unwritable_csv_are_one_line(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if tensorboard were not installed
    with pytest.raises(ParameterError, match="pip install tensorboard"):
        Monitor(CHAIN, tensorboard=tmp_path / "tb")
    with pytest.raises(OutputError, match="cannot write the monitor's CSV file") as info:
        Monitor(CHAIN, csv=tmp_path / "no" / "such" / "dir.csv")
    assert isinstance(info.value, MesastackError) and "\n" not in str(info.value)


def test_tensorboard_figures_thin_out_as_the_run_grows(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with fed(geometric_run(2000, [1.0]), Estimator("finite"), tensorboard=tmp_path / "tb", summary_every=1):
        pass
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    at = [e.step + 1 for e in acc.Scalars("alignment/base/gd")]  # records when the figures were written
    # spaced at least max(summary_every, a tenth of the records so far): logarithmically many, not 2000
    assert at[0] == 2 and len(at) < 100
    assert all(b - a >= max(1, a // 10) for a, b in zip(at, at[1:]))
