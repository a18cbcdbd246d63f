"""Corrupt trial stores met on resume: each row breaks one file of a chunk (or, in a store of the
per-trial format, of a trial) and checks that the sweep names it in one line, keeps its bytes under
trials/corrupt/, reruns exactly its trials (a chunk as the batch it was) and returns the results of
an uninterrupted sweep."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hierarchy.sweep import CORRUPT_DIR, Trial, TrialResult, chunk_name, finished_ids, load_chunk, trials_dir, write_trial
from scenarios.machinery.sweeps import run_sweep
from tests.scenarios.trial_file_edits import edit_json, flip_bit, resave_npz, write_file

BAD = chunk_name(["x1", "x3"])  # the chunk of batch_key 1 in toy(): x1 and x3


class Squares:
    """run_batch of a toy sweep: arrays L = [x, x+1, ..., x+9], figure y = x**2; records the batches it ran."""

    def __init__(self):
        self.ran = []

    def __call__(self, chunk):
        self.ran.append([t.id for t in chunk])
        return [TrialResult(t.id, t.params, {"L": t.params["x"] + np.arange(10.0)}, {"y": float(t.params["x"] ** 2)})
                for t in chunk]


def toy(n=4):
    return [Trial(f"x{i}", {"x": i}, batch_key=i % 2) for i in range(n)]


def _edit_manifest(change):
    def corrupt(d, stem):
        p = d / f"{stem}.json"
        doc = json.loads(p.read_text())
        change(doc)
        p.write_text(json.dumps(doc))
    return corrupt


def _write(ext, data):
    def corrupt(d, stem):
        p = d / f"{stem}{ext}"
        p.write_bytes(data(p) if callable(data) else data)
    return corrupt


def _resave(arrays):
    def corrupt(d, stem):
        with open(d / f"{stem}.npz", "wb") as fh:
            np.savez(fh, **arrays)
    return corrupt


def _npz_a_folder(d, stem):
    (d / f"{stem}.npz").unlink()
    (d / f"{stem}.npz").mkdir()


def _swap_records(doc):
    doc["trials"].reverse()


GOOD_L = np.stack([1 + np.arange(10.0), 3 + np.arange(10.0)])

CHUNK_ROWS = [  # (id, corrupt(trials dir, chunk name))
    ("npz-truncated", _write(".npz", lambda p: p.read_bytes()[: len(p.read_bytes()) // 2])),
    ("npz-empty", _write(".npz", b"")),
    ("npz-bit-flipped", _write(".npz", flip_bit)),
    ("npz-text", _write(".npz", b"not a zip at all\n")),
    ("npz-missing", lambda d, stem: (d / f"{stem}.npz").unlink()),
    ("npz-a-folder", _npz_a_folder),
    ("npz-one-row", _resave({"L": GOOD_L[:1]})),
    ("npz-L-cut-to-5", _resave({"L": GOOD_L[:, :5]})),
    ("npz-L-float32", _resave({"L": GOOD_L.astype(np.float32)})),
    ("npz-extra-array", _resave({"L": GOOD_L, "M": np.zeros(3)})),
    ("npz-per-trial-keys", _resave({"x1/L": GOOD_L[0], "x3/L": GOOD_L[1]})),
    ("npz-pickled-object", _resave({"L": np.array([{"x": 1}, {"x": 2}], dtype=object)})),
    ("npz-rows-swapped", _resave({"L": GOOD_L[::-1]})),
    ("npz-L-values-changed", _resave({"L": GOOD_L + 100})),
    ("json-a-list", _write(".json", b"[1, 2, 3]")),
    ("json-empty", _write(".json", b"")),
    ("json-not-json", _write(".json", b"{\"format\": ")),
    ("json-not-utf8", _write(".json", b"\xff\xfe\x00garbage")),
    ("json-other-format", _edit_manifest(lambda doc: doc.update(format="something else"))),
    ("json-version-2", _edit_manifest(lambda doc: doc.update(version=2))),
    ("json-layout-unknown", _edit_manifest(lambda doc: doc.update(layout="columns"))),
    ("json-trial-dropped", _edit_manifest(lambda doc: (doc["trial_ids"].pop(), doc["trials"].pop()))),
    ("json-trial-ids-not-a-list", _edit_manifest(lambda doc: doc.update(trial_ids="x1"))),
    ("json-one-record-short", _edit_manifest(lambda doc: doc["trials"].pop())),
    ("json-records-swapped", _edit_manifest(_swap_records)),
    ("json-figures-a-string", _edit_manifest(lambda doc: doc["trials"][0].update(figures="1e9"))),
    ("json-figure-a-string", _edit_manifest(lambda doc: doc["trials"][0]["figures"].update(y="big"))),
    ("json-figure-edited", _edit_manifest(lambda doc: doc["trials"][1]["figures"].update(y=1e9))),
    ("json-params-a-list", _edit_manifest(lambda doc: doc["trials"][0].update(params=[1]))),
    ("json-params-edited", _edit_manifest(lambda doc: doc["trials"][0]["params"].update(x=3))),
    ("json-other-trial-id", _edit_manifest(lambda doc: doc["trials"][0].update(trial_id="x0"))),
    ("json-arrays-renamed", _edit_manifest(lambda doc: doc["trials"][0].update(arrays=["M"]))),
    ("json-without-digest", _edit_manifest(lambda doc: doc["trials"][1].pop("digest"))),
    ("json-shape-edited", _edit_manifest(lambda doc: doc["trials"][0]["shapes"]["L"].update(shape=[5]))),
    ("json-shapes-differ-but-stacked", _edit_manifest(
        lambda doc: [t["shapes"]["L"].update(shape=[10 + k]) for k, t in enumerate(doc["trials"])])),
]


def one_named_line(err: str, *needles: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    for n in ("corrupt", CORRUPT_DIR, *needles):
        assert n in lines[0], (n, lines[0])
    return lines[0]


@pytest.mark.parametrize("row", CHUNK_ROWS, ids=[r[0] for r in CHUNK_ROWS])
def test_a_corrupt_chunk_is_named_moved_aside_and_rerun_whole(row, tmp_path, capsys):
    _, corrupt = row
    clean = run_sweep(toy(), Squares(), progress=False)  # the truth: an uninterrupted sweep
    run_sweep(toy(), Squares(), out=tmp_path, progress=False)
    d = trials_dir(tmp_path)
    corrupt(d, BAD)
    bad = {p.name: (p.read_bytes() if p.is_file() else None) for p in d.iterdir() if p.name.startswith(BAD)}
    capsys.readouterr()
    again = Squares()
    res = run_sweep(toy(), again, out=tmp_path, resume=True, progress=False)
    one_named_line(capsys.readouterr().err, BAD)
    assert again.ran == [["x1", "x3"]]  # the lost chunk reran as the batch it was, nothing else
    assert all(a.same(b) for a, b in zip(res, clean))  # and the result is the uninterrupted one
    kept = d / CORRUPT_DIR
    for name, data in bad.items():  # nothing deleted: the bad files are kept as they were
        if data is not None:
            assert (kept / name).read_bytes() == data
    assert [r.trial_id for r in load_chunk(tmp_path, BAD)] == ["x1", "x3"]
    assert finished_ids(tmp_path) == ["x0", "x1", "x2", "x3"]


def test_a_corrupt_chunk_names_its_trials(tmp_path, capsys):
    run_sweep(toy(), Squares(), out=tmp_path, progress=False)
    (trials_dir(tmp_path) / f"{BAD}.npz").write_bytes(b"")
    capsys.readouterr()
    run_sweep(toy(), Squares(), out=tmp_path, resume=True, progress=False)
    one_named_line(capsys.readouterr().err, "'x1', 'x3'", "rerunning its trials")
    _edit_manifest(lambda doc: doc.update(version=2))(trials_dir(tmp_path), BAD)  # malformed, its ids still named
    run_sweep(toy(), Squares(), out=tmp_path, resume=True, progress=False)
    one_named_line(capsys.readouterr().err, "'x1', 'x3'", "version 2")


# -- the per-trial format of older stores ------------------------------------------------------------

def _old_store(out, results) -> None:
    for r in results:
        write_trial(out, r)


TRIAL_ROWS = [  # (id, corrupt(trials dir)): x1's files in a store of the per-trial format
    ("npz-truncated", write_file("x1.npz", lambda p: p.read_bytes()[: len(p.read_bytes()) // 2])),
    ("npz-bit-flipped", write_file("x1.npz", flip_bit)),
    ("npz-missing", lambda d: (d / "x1.npz").unlink()),
    ("npz-L-float32", resave_npz({"L": (1 + np.arange(10.0)).astype(np.float32)})),
    ("npz-L-values-changed", resave_npz({"L": 100 + np.arange(10.0)})),
    ("json-not-utf8", write_file("x1.json", b"\xff\xfe\x00garbage")),
    ("json-figure-edited", edit_json(lambda doc: doc["figures"].update(y=1e9))),
    ("json-other-trial-id", edit_json(lambda doc: doc.update(trial_id="x0"))),
    ("json-without-digest", edit_json(lambda doc: doc.pop("digest"))),
]


@pytest.mark.parametrize("row", TRIAL_ROWS, ids=[r[0] for r in TRIAL_ROWS])
def test_a_corrupt_trial_of_the_per_trial_format_is_named_moved_aside_and_rerun(row, tmp_path, capsys):
    _, corrupt = row
    clean = run_sweep(toy(), Squares(), progress=False)
    _old_store(tmp_path, clean)  # as a mesastack before chunk files left it
    d = trials_dir(tmp_path)
    corrupt(d)
    bad = {p.name: p.read_bytes() for p in d.iterdir() if p.name.startswith("x1.") and p.is_file()}
    capsys.readouterr()
    again = Squares()
    res = run_sweep(toy(), again, out=tmp_path, resume=True, progress=False)
    one_named_line(capsys.readouterr().err, "'x1'", "rerunning it")
    assert again.ran == [["x1"]]  # only the corrupt trial reran; x3 of its batch is reused
    assert all(a.same(b) for a, b in zip(res, clean))
    for name, data in bad.items():
        assert (d / CORRUPT_DIR / name).read_bytes() == data
    assert finished_ids(tmp_path) == ["x0", "x1", "x2", "x3"] and (d / f"{chunk_name(['x1'])}.json").is_file()


# -- a real sweep through the command line ---------------------------------------------------------

CAPACITY = ["run", "capacity", "--steps", "30", "--no-progress", "--set", "bootstrap=5", "--set", "widths=1,2",
            "--set", "seeds=2"]


def _cli(*args):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    return subprocess.run([sys.executable, "-m", "scenarios", *CAPACITY, *args], capture_output=True, text=True,
                          cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, timeout=300)


def test_corrupt_chunks_of_a_real_sweep_resume_through_the_cli(tmp_path):
    clean, out = tmp_path / "clean", tmp_path / "d"
    for folder in (clean, out):
        r = _cli("--out", str(folder))
        assert r.returncode == 0, r.stderr
    d = trials_dir(out)
    w1, w2 = chunk_name(["w1-s0", "w1-s1"]), chunk_name(["w2-s0", "w2-s1"])  # one chunk per width
    assert sorted(p.name for p in d.iterdir()) == sorted(f"{c}.{e}" for c in (w1, w2) for e in ("json", "npz"))
    (d / f"{w1}.npz").write_bytes(b"")  # emptied
    doc = json.loads((d / f"{w2}.json").read_text())
    doc["trials"][1]["figures"]["C_G"] = 1e9  # edited by hand: must not reach the table
    (d / f"{w2}.json").write_text(json.dumps(doc))
    r = _cli("--out", str(out), "--resume")
    assert r.returncode == 0, r.stderr
    named = [ln for ln in r.stderr.splitlines() if "corrupt" in ln]
    assert len(named) == 2 and "Traceback" not in r.stderr and w1 in named[0] + named[1] and w2 in named[0] + named[1]
    assert sorted(p.name for p in (d / CORRUPT_DIR).iterdir()) == sorted(f"{c}.{e}" for c in (w1, w2)
                                                                         for e in ("json", "npz"))
    for name in ("report.json", "trials.csv"):  # identical to the clean run
        assert (out / name).read_bytes() == (clean / name).read_bytes(), name
    a, b = np.load(out / "trajectories.npz"), np.load(clean / "trajectories.npz")
    assert sorted(a.files) == sorted(b.files) and all(np.array_equal(a[k], b[k], equal_nan=True) for k in a.files)
    assert "1e+09" not in r.stdout and "1000000000" not in (out / "trials.csv").read_text()
