"""Trials, batch planning, the trial store and the results table (hierarchy.sweep)."""

import json
import math
import os
import signal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hierarchy.errors import FormatError, OutputError, ParameterError
from hierarchy.sweep import Trial, TrialResult, finished_chunks, finished_ids, load_finished, load_trial, plan_batches, remove_leftovers, results_frame, reusable, signals_held, trials_dir, write_trial, write_trials
from hierarchy.seeding import named_seed


def result(i, **figures):
    return TrialResult(i, {"i": i}, {"L": np.linspace(3, 1, 5), "k": np.array(2)}, figures or {"C": 1.5})


# -- trials ------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["", "../x", "a/b", ".hidden", "a b", "x" * 200, 7])
def test_unsafe_ids_are_refused(bad):
    with pytest.raises(ParameterError, match="filesystem-safe"):
        Trial(bad)


def test_params_must_be_json_and_are_normalized():
    with pytest.raises(ParameterError, match="JSON"):
        Trial("a", {"x": object()})
    with pytest.raises(ParameterError, match="JSON"):
        Trial("a", {"x": float("nan")})
    t = Trial("a", {"b": (1, 2), "a": {"c": 1.5}}, batch_key=[1, "x"])
    assert t.params == {"a": {"c": 1.5}, "b": [1, 2]} and t.batch_key == (1, "x")


def test_trial_seed_depends_on_the_id_only():
    ids = [f"w{w}-s{s}" for w in (1, 2) for s in range(3)]
    states = {i: tuple(named_seed(4, i).generate_state(4)) for i in ids}
    assert len(set(states.values())) == len(ids)  # distinct streams
    for i in reversed(ids):  # asked in another order: the same numbers
        assert tuple(named_seed(4, i).generate_state(4)) == states[i]
    with pytest.raises(ParameterError):
        named_seed(-1, "a")


def test_plan_batches_groups_by_key_and_chunks_in_order():
    ts = [Trial(f"t{i}", batch_key=(i % 3 if i < 7 else None)) for i in range(9)]
    plan = [[t.id for t in c] for c in plan_batches(ts, chunk=2)]
    assert plan == [["t0", "t3"], ["t6"], ["t1", "t4"], ["t2", "t5"], ["t7"], ["t8"]]
    assert [[t.id for t in c] for c in plan_batches(ts)][0] == ["t0", "t3", "t6"]
    with pytest.raises(ParameterError, match="two trials"):
        plan_batches([Trial("a"), Trial("a")])


@settings(max_examples=50, deadline=None)
@given(keys=st.lists(st.integers(0, 3), min_size=1, max_size=20), chunk=st.integers(0, 5))
def test_plan_batches_is_a_partition_respecting_keys(keys, chunk):
    ts = [Trial(f"t{i}", batch_key=k) for i, k in enumerate(keys)]
    plan = plan_batches(ts, chunk)
    flat = [t.id for c in plan for t in c]
    assert sorted(flat) == sorted(t.id for t in ts) and len(flat) == len(ts)
    for c in plan:
        assert len({t.batch_key for t in c}) == 1
        assert chunk == 0 or len(c) <= chunk
        idx = [int(t.id[1:]) for t in c]
        assert idx == sorted(idx)


# -- the store ---------------------------------------------------------------------------

def test_write_and_load_round_trip_per_trial_format(tmp_path):
    r = TrialResult("w4-s1", {"width": 4, "nested": {"a": [1, 2]}},
                    {"L": np.random.default_rng(0).standard_normal((3, 7)), "d": np.array(-1)},
                    {"C": 0.125, "alpha": float("nan"), "n": 3})
    write_trial(tmp_path, r)
    back = load_trial(tmp_path, "w4-s1")
    assert back.same(r) and back.arrays["L"].dtype == np.float64
    assert math.isnan(back.figures["alpha"])
    doc = json.loads((trials_dir(tmp_path) / "w4-s1.json").read_text())
    assert doc["figures"]["alpha"] is None and doc["arrays"] == ["L", "d"]
    assert sorted(p.name for p in trials_dir(tmp_path).iterdir()) == ["w4-s1.json", "w4-s1.npz"]


def test_write_and_load_round_trip_chunk_format(tmp_path):
    r = TrialResult("w4-s1", {"width": 4, "nested": {"a": [1, 2]}},
                    {"L": np.random.default_rng(0).standard_normal((3, 7)), "d": np.array(-1)},
                    {"C": 0.125, "alpha": float("nan"), "n": 3})
    path = write_trials(tmp_path, [r, result("b")])
    assert sorted(p.name for p in trials_dir(tmp_path).iterdir()) == [path.stem + ".json", path.stem + ".npz"]
    back = load_trial(tmp_path, "w4-s1")
    assert back.same(r) and back.arrays["L"].dtype == np.float64 and math.isnan(back.figures["alpha"])
    doc = json.loads(path.read_text())
    assert doc["trial_ids"] == ["w4-s1", "b"] and doc["trials"][0]["figures"]["alpha"] is None
    assert finished_chunks(tmp_path) == {path.stem: ["w4-s1", "b"]}


def test_a_trial_without_its_json_marker_is_not_finished(tmp_path):
    write_trial(tmp_path, result("a"))
    write_trial(tmp_path, result("b"))
    (trials_dir(tmp_path) / "b.json").unlink()  # as if killed between the two files
    (trials_dir(tmp_path) / ".tmp-123-c.npz").write_bytes(b"partial")
    assert finished_ids(tmp_path) == ["a"] and list(load_finished(tmp_path)) == ["a"]
    assert remove_leftovers(tmp_path) == 1
    assert not list(trials_dir(tmp_path).glob(".tmp-*"))


def test_a_chunk_without_its_manifest_is_not_finished(tmp_path):
    write_trials(tmp_path, [result("a"), result("b")])
    lost = write_trials(tmp_path, [result("c"), result("d")])
    lost.unlink()  # as if killed between the npz and the manifest
    assert finished_ids(tmp_path) == ["a", "b"] and list(load_finished(tmp_path)) == ["a", "b"]
    assert (trials_dir(tmp_path) / f"{lost.stem}.npz").is_file()  # the orphan npz counts for nothing


def test_malformed_trial_files_are_a_format_error(tmp_path):
    write_trial(tmp_path, result("a"))
    (trials_dir(tmp_path) / "a.npz").write_bytes(b"not an npz")
    with pytest.raises(FormatError, match="delete its files"):
        load_trial(tmp_path, "a")


def test_reusable_refuses_a_used_store_without_resume(tmp_path):
    trials = [Trial("a", {"i": "a"}), Trial("b", {"i": "b"})]
    assert reusable(tmp_path, trials, resume=False) == {}
    write_trial(tmp_path, result("a"))
    with pytest.raises(OutputError, match="resume to reuse them or choose another output directory"):
        reusable(tmp_path, trials, resume=False)
    assert list(reusable(tmp_path, trials, resume=True)) == ["a"]
    with pytest.raises(OutputError, match="other parameters"):
        reusable(tmp_path, [Trial("a", {"i": "other"})], resume=True)


def test_signals_are_held_until_a_chunk_is_written(tmp_path):
    results = [result(f"t{i}") for i in range(4)]

    class Sender:
        def __init__(self):
            self.sent = False

        def __call__(self, r):
            if not self.sent:
                os.kill(os.getpid(), signal.SIGINT)  # arrives during the first write
                self.sent = True
            return write_trial(tmp_path, r)

    send = Sender()
    with pytest.raises(KeyboardInterrupt):
        with signals_held():
            for r in results:
                send(r)
    assert finished_ids(tmp_path) == ["t0", "t1", "t2", "t3"]  # all of them, then the interrupt
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_signal_during_a_chunk_write_lands_after_its_manifest(tmp_path, monkeypatch):
    import hierarchy.sweep as sweep

    real = sweep._savez

    def savez_then_signal(path, arrays):
        real(path, arrays)
        os.kill(os.getpid(), signal.SIGINT)  # between the npz and the manifest

    monkeypatch.setattr(sweep, "_savez", savez_then_signal)
    with pytest.raises(KeyboardInterrupt):
        write_trials(tmp_path, [result("a"), result("b")])
    assert finished_ids(tmp_path) == ["a", "b"] and load_finished(tmp_path)["b"].same(result("b"))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# -- the table ---------------------------------------------------------------------------

def test_results_frame_has_one_row_per_trial_and_figure():
    pd = pytest.importorskip("pandas")
    rs = [TrialResult(f"w{w}", {"width": w, "value": "x", "list": [w]}, {}, {"C": w / 2, "alpha": -w})
          for w in (1, 2, 4)]
    df = results_frame(rs)
    assert len(df) == 6 and list(df.columns) == ["trial", "list", "param_value", "width", "figure", "value"]
    got = df.pivot(index="width", columns="figure", values="value")
    assert got.loc[4, "C"] == 2.0 and got.loc[2, "alpha"] == -2.0
    assert df["list"].iloc[0] == "[1]"
    assert results_frame([]).empty and isinstance(df, pd.DataFrame)


def test_the_store_records_shapes_and_a_checksum_and_refuses_any_change(tmp_path):
    import json

    from hierarchy.errors import FormatError
    from hierarchy.sweep import move_aside

    write_trial(tmp_path, TrialResult("a", {"x": 1}, {"L": np.arange(4.0)}, {"C": 0.5, "u": float("nan")}))
    doc = json.loads((trials_dir(tmp_path) / "a.json").read_text())
    assert doc["shapes"] == {"L": {"dtype": "<f8", "shape": [4]}} and len(doc["digest"]) == 64
    assert load_trial(tmp_path, "a").figures["C"] == 0.5
    doc["figures"]["C"] = 1e9
    (trials_dir(tmp_path) / "a.json").write_text(json.dumps(doc))
    with pytest.raises(FormatError, match="checksum differs"):
        load_trial(tmp_path, "a")
    assert move_aside(tmp_path, "a").name == "corrupt" and finished_ids(tmp_path) == []
    write_trial(tmp_path, TrialResult("a", {"x": 1}))
    move_aside(tmp_path, "a")  # a second corrupt copy keeps the first
    assert sorted(p.name for p in (trials_dir(tmp_path) / "corrupt").iterdir()) == ["a.1.json", "a.1.npz",
                                                                                     "a.json", "a.npz"]


def test_a_chunk_records_shapes_and_checksums_and_refuses_any_change(tmp_path):
    from hierarchy.sweep import move_aside

    path = write_trials(tmp_path, [TrialResult("a", {"x": 1}, {"L": np.arange(4.0)}, {"C": 0.5, "u": float("nan")}),
                                   TrialResult("b", {"x": 2}, {"L": np.arange(4.0) + 1}, {"C": 0.25, "u": 1.0})])
    doc = json.loads(path.read_text())
    assert doc["trials"][0]["shapes"] == {"L": {"dtype": "<f8", "shape": [4]}} and len(doc["trials"][1]["digest"]) == 64
    assert load_trial(tmp_path, "b").figures["C"] == 0.25
    doc["trials"][1]["figures"]["C"] = 1e9
    path.write_text(json.dumps(doc))
    with pytest.raises(FormatError, match="checksum differs"):
        load_trial(tmp_path, "a")  # a flaw anywhere in its chunk is the trial's
    assert move_aside(tmp_path, path.stem).name == "corrupt" and finished_ids(tmp_path) == []


def test_reusable_moves_a_corrupt_trial_aside_and_names_it(tmp_path):
    write_trial(tmp_path, TrialResult("a", {"i": 0}))
    write_trial(tmp_path, TrialResult("b", {"i": 1}))
    (trials_dir(tmp_path) / "b.npz").write_bytes(b"")
    said = []
    got = reusable(tmp_path, [Trial("a", {"i": 0}), Trial("b", {"i": 1})], resume=True, on_corrupt=said.append)
    assert list(got) == ["a"] and len(said) == 1 and "'b'" in said[0] and "corrupt" in said[0]
    assert (trials_dir(tmp_path) / "corrupt" / "b.json").is_file() and finished_ids(tmp_path) == ["a"]


def test_reusable_moves_a_corrupt_chunk_aside_whole_and_names_it(tmp_path):
    write_trials(tmp_path, [TrialResult("a", {"i": 0})])
    bad = write_trials(tmp_path, [TrialResult("b", {"i": 1}, {"L": [1.0]}), TrialResult("c", {"i": 2}, {"L": [2.0]})])
    (trials_dir(tmp_path) / f"{bad.stem}.npz").write_bytes(b"")
    said = []
    got = reusable(tmp_path, [Trial(i, {"i": k}) for k, i in enumerate("abc")], resume=True, on_corrupt=said.append)
    assert list(got) == ["a"] and len(said) == 1 and "'b', 'c'" in said[0] and bad.stem in said[0]
    assert (trials_dir(tmp_path) / "corrupt" / bad.name).is_file() and finished_ids(tmp_path) == ["a"]
