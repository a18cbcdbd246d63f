"""The chunk format of the trial store (hierarchy.sweep): one npz + one json manifest per chunk,
checked against the files read back with plain numpy and json, and the per-trial format of older
stores, built here by hand as the old writer built it, read back unchanged."""

import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hierarchy.errors import FormatError, OutputError, ParameterError
from hierarchy.sweep import (CHUNK_FORMAT, Trial, TrialResult, chunk_name, finished_chunks, finished_ids,
                             load_chunk, load_finished, load_trial, remove_leftovers, reusable, trials_dir,
                             write_trial, write_trials)

ROOT = Path(__file__).resolve().parents[2]


def res(i, n=5, **extra):
    """A trial result whose numbers follow from its index: L = i + linspace(3, 1, n), k = i, C = i / 4."""
    k = int(i[1:])
    arrays = {"L": k + np.linspace(3, 1, n), "k": np.array(k), **extra}
    return TrialResult(i, {"i": k, "tag": [k, "x"]}, arrays, {"C": k / 4, "nan": float("nan")})


# -- the per-trial format, built as mesastack built it before chunk files ---------------------

def old_digest(trial_id, params, figures, arrays):
    h = hashlib.sha256(json.dumps([trial_id, params, figures], sort_keys=True, allow_nan=False).encode())
    for k in sorted(arrays):
        a = np.ascontiguousarray(arrays[k])
        h.update(json.dumps([k, a.dtype.str, list(a.shape)]).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def old_format_trial(out, r: TrialResult) -> None:
    """``<id>.npz`` (savez_compressed of the arrays) and ``<id>.json`` as the per-trial writer wrote them."""
    d = trials_dir(out)
    d.mkdir(parents=True, exist_ok=True)
    with open(d / f"{r.trial_id}.npz", "wb") as fh:
        np.savez_compressed(fh, **r.arrays)
    figures = {k: (None if math.isnan(v) else v) for k, v in r.figures.items()}
    doc = {"trial_id": r.trial_id, "params": r.params, "figures": figures, "arrays": sorted(r.arrays),
           "shapes": {k: {"dtype": v.dtype.str, "shape": list(v.shape)} for k, v in sorted(r.arrays.items())},
           "digest": old_digest(r.trial_id, r.params, figures, r.arrays)}
    (d / f"{r.trial_id}.json").write_text(json.dumps(doc, indent=1, sort_keys=True, allow_nan=False) + "\n")


def test_a_store_of_the_per_trial_format_reads_back_unchanged(tmp_path):
    rs = [res(f"t{k}") for k in range(4)]
    for r in rs:
        old_format_trial(tmp_path, r)
    assert finished_ids(tmp_path) == ["t0", "t1", "t2", "t3"] and finished_chunks(tmp_path) == {}
    back = load_finished(tmp_path)
    assert all(back[r.trial_id].same(r) for r in rs) and load_trial(tmp_path, "t2").same(rs[2])
    got = reusable(tmp_path, [Trial("t1", rs[1].params), Trial("t9")], resume=True)
    assert list(got) == ["t1"] and got["t1"].same(rs[1])
    with pytest.raises(OutputError, match="already holds 4 finished trials"):
        reusable(tmp_path, [Trial("t1", rs[1].params)], resume=False)


def test_write_trial_still_writes_the_per_trial_format(tmp_path):
    r = res("t3", extra=np.arange(6, dtype=np.int32).reshape(2, 3))
    old_format_trial(tmp_path / "hand", r)
    write_trial(tmp_path / "writer", r)
    a, b = trials_dir(tmp_path / "hand"), trials_dir(tmp_path / "writer")
    assert (a / "t3.json").read_bytes() == (b / "t3.json").read_bytes()
    with np.load(a / "t3.npz") as za, np.load(b / "t3.npz") as zb:
        assert sorted(za.files) == sorted(zb.files) and all(np.array_equal(za[k], zb[k]) for k in za.files)


def test_a_mixed_store_reads_both_formats_and_a_trial_held_twice_once(tmp_path):
    old = [res("t0"), res("t1")]
    for r in old:
        old_format_trial(tmp_path, r)
    new = [res("t2"), res("t3")]
    write_trials(tmp_path, new)
    write_trials(tmp_path, [res("t1", n=2)])  # t1 again, other numbers: the per-trial file is read first
    back = load_finished(tmp_path)
    assert list(back) == ["t0", "t1", "t2", "t3"]
    assert all(back[r.trial_id].same(r) for r in old + new)
    assert list(reusable(tmp_path, [Trial(r.trial_id, r.params) for r in old + new], resume=True)) == list(back)


# -- the chunk format, read back with plain numpy and json ----------------------------------------

def test_a_chunk_is_one_npz_and_one_manifest_with_the_arrays_stacked(tmp_path):
    rs = [res(f"t{k}") for k in range(3)]
    path = write_trials(tmp_path, rs)
    d = trials_dir(tmp_path)
    assert sorted(p.name for p in d.iterdir()) == sorted([path.name, path.stem + ".npz"])
    assert path.stem == chunk_name(["t0", "t1", "t2"]) and path.stem.startswith("chunk-")
    doc = json.loads(path.read_text())  # strict JSON (NaN is null)
    assert doc["format"] == CHUNK_FORMAT and doc["version"] == 1 and doc["layout"] == "stacked"
    assert doc["trial_ids"] == ["t0", "t1", "t2"] and [t["trial_id"] for t in doc["trials"]] == doc["trial_ids"]
    assert doc["trials"][1]["figures"] == {"C": 0.25, "nan": None} and doc["trials"][1]["params"] == {"i": 1, "tag": [1, "x"]}
    with np.load(d / f"{path.stem}.npz") as z:
        assert sorted(z.files) == ["L", "k"]
        assert np.array_equal(z["L"], np.stack([k + np.linspace(3, 1, 5) for k in range(3)]))
        assert z["k"].tolist() == [0, 1, 2]
    for t, r in zip(doc["trials"], rs):
        assert t["digest"] == old_digest(r.trial_id, r.params, t["figures"], r.arrays)


def test_trials_whose_arrays_differ_are_stored_under_their_own_keys(tmp_path):
    rs = [res("t0", n=5), res("t1", n=7), res("t2", extra=np.zeros((2, 2), dtype=np.float32))]
    path = write_trials(tmp_path, rs)
    doc = json.loads(path.read_text())
    assert doc["layout"] == "per-trial"
    with np.load(trials_dir(tmp_path) / f"{path.stem}.npz") as z:
        assert sorted(z.files) == ["t0/L", "t0/k", "t1/L", "t1/k", "t2/L", "t2/extra", "t2/k"]
        assert np.array_equal(z["t1/L"], 1 + np.linspace(3, 1, 7)) and z["t2/extra"].dtype == np.float32
    back = load_chunk(tmp_path, path.stem)
    assert [r.trial_id for r in back] == ["t0", "t1", "t2"] and all(a.same(b) for a, b in zip(back, rs))


@pytest.mark.parametrize("arrays", [
    {},
    {"s": np.array(2.5)},
    {"i": np.array([[1, 2]], dtype=np.int64), "b": np.array([True, False]), "e": np.zeros((0, 3))},
    {"L": np.array([np.nan, np.inf, -0.0, 5e-324])},
], ids=["no-arrays", "zero-dim", "ints-bools-empty", "nan-inf-denormal"])
def test_a_chunk_round_trips_bit_for_bit(tmp_path, arrays):
    rs = [TrialResult(f"t{k}", {"k": k}, {n: np.copy(a) for n, a in arrays.items()}, {"C": k, "u": float("nan")})
          for k in range(3)]
    path = write_trials(tmp_path, rs)
    back = load_chunk(tmp_path, path.stem)
    assert all(a.same(b) for a, b in zip(back, rs))
    for a, b in zip(back, rs):
        for n in arrays:
            assert a.arrays[n].dtype == b.arrays[n].dtype and a.arrays[n].shape == b.arrays[n].shape
            assert a.arrays[n].tobytes() == b.arrays[n].tobytes()
    assert all(math.isnan(r.figures["u"]) for r in back)


def test_a_chunk_keeps_the_order_of_the_figures(tmp_path):
    rs = [TrialResult(f"t{k}", {"b": 1, "a": 2}, {}, {"z": 1.0, "C": float("nan"), "a": 3.0}) for k in range(2)]
    path = write_trials(tmp_path, rs)
    assert [list(r.figures) for r in load_chunk(tmp_path, path.stem)] == [["z", "C", "a"]] * 2
    pd = pytest.importorskip("pandas")
    from hierarchy.sweep import results_frame

    pd.testing.assert_frame_equal(results_frame(load_chunk(tmp_path, path.stem)), results_frame(rs))


def test_a_chunk_and_the_per_trial_format_give_the_same_results(tmp_path):
    rs = [res(f"t{k}") for k in range(6)]
    write_trials(tmp_path / "chunks", rs[:4])
    write_trials(tmp_path / "chunks", rs[4:])
    for r in rs:
        old_format_trial(tmp_path / "old", r)
    a, b = load_finished(tmp_path / "chunks"), load_finished(tmp_path / "old")
    assert list(a) == list(b) == [r.trial_id for r in rs] and all(a[i].same(b[i]) for i in a)


def test_chunk_names_are_reserved_and_writing_refuses_bad_chunks(tmp_path):
    with pytest.raises(ParameterError, match="reserved"):
        Trial(chunk_name(["a"]))
    assert Trial("chunk-1").id == "chunk-1"  # only the exact pattern is reserved
    with pytest.raises(ParameterError, match="one TrialResult per trial"):
        write_trials(tmp_path, [res("t0"), res("t0")])
    with pytest.raises(ParameterError, match="at least one"):
        write_trials(tmp_path, [])
    with pytest.raises(ParameterError, match="not a TrialResult"):
        write_trials(tmp_path, [res("t0"), "t1"])
    assert not trials_dir(tmp_path).exists()


def test_a_trial_not_in_the_store_is_named(tmp_path):
    write_trials(tmp_path, [res("t0")])
    with pytest.raises(FormatError, match="'t7' is not in"):
        load_trial(tmp_path, "t7")


def test_an_unreadable_manifest_counts_as_a_used_store_and_is_moved_aside_on_resume(tmp_path):
    path = write_trials(tmp_path, [res("t0"), res("t1")])
    path.write_bytes(b"\xff\xfe not json")
    assert finished_ids(tmp_path) == [] and finished_chunks(tmp_path) == {}
    with pytest.raises(OutputError, match="already holds 1 chunk files"):
        reusable(tmp_path, [Trial("t0")], resume=False)
    with pytest.raises(FormatError, match="trials unknown"):
        load_finished(tmp_path)
    said = []
    assert reusable(tmp_path, [Trial("t0", res("t0").params)], resume=True, on_corrupt=said.append) == {}
    assert len(said) == 1 and path.stem in said[0] and "corrupt" in said[0]
    assert sorted(p.name for p in (trials_dir(tmp_path) / "corrupt").iterdir()) == [path.name, path.stem + ".npz"]


def test_a_chunk_of_other_trials_is_left_alone_on_resume(tmp_path):
    path = write_trials(tmp_path, [res("t0"), res("t1")])
    (trials_dir(tmp_path) / f"{path.stem}.npz").write_bytes(b"")  # corrupt, but holds none of the trials asked
    assert reusable(tmp_path, [Trial("t5")], resume=True) == {}
    assert path.is_file()


def test_a_failed_write_leaves_no_finished_chunk_and_no_temporary_file(tmp_path, monkeypatch):
    import hierarchy.sweep as sweep

    write_trials(tmp_path, [res("t0")])
    real = os.replace

    def refuse_manifests(src, dst):
        if str(dst).endswith(".json"):
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(sweep.os, "replace", refuse_manifests)
    with pytest.raises(OutputError, match="free space"):
        write_trials(tmp_path, [res("t1"), res("t2")])
    monkeypatch.undo()
    assert finished_ids(tmp_path) == ["t0"] and list(load_finished(tmp_path)) == ["t0"]
    assert not [p for p in trials_dir(tmp_path).iterdir() if p.name.startswith(".")]


WRITER = """
import sys
import numpy as np
from hierarchy.sweep import TrialResult, write_trials
out = sys.argv[1]
for c in range(100000):
    write_trials(out, [TrialResult(f"c{c}-t{k}", {"c": c, "k": k}, {"L": np.full(2000, c + k / 1000)}, {"C": c})
                       for k in range(50)])
"""


@pytest.mark.parametrize("wait", [0.0, 0.05, 0.2])
def test_a_store_killed_while_writing_holds_only_whole_chunks(tmp_path, wait):
    """SIGKILL (no handler can hold it back) at some moment of a writing loop: every chunk whose
    manifest is in place reads back whole and right; anything else is a temporary file or an orphan npz."""
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(out)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE)
    t0 = time.time()
    while len(list(trials_dir(out).glob("chunk-*.json")) if trials_dir(out).is_dir() else []) < 2:
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() - t0 < 120, "the writer wrote nothing"
        time.sleep(0.005)
    time.sleep(wait)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    remove_leftovers(out)
    chunks = finished_chunks(out)
    back = load_finished(out)  # raises on any half-written chunk taken as finished
    assert len(chunks) >= 2 and sorted(back) == sorted(i for ids in chunks.values() for i in ids)
    for i, r in back.items():
        c, k = (int(x[1:]) for x in i.split("-"))
        assert r.params == {"c": c, "k": k} and r.figures == {"C": c}
        assert np.array_equal(r.arrays["L"], np.full(2000, c + k / 1000))
    names = {p.name for p in trials_dir(out).iterdir()}
    assert all(n.startswith("chunk-") for n in names)
    assert {n[:-5] for n in names if n.endswith(".json")} <= {n[:-4] for n in names if n.endswith(".npz")}
