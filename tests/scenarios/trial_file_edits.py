"""Ways to corrupt trial x1's files in a trial store of the per-trial format, shared by the tests of
bad inputs and of the store's corruption: each returns ``corrupt(trials dir)``."""

import json

import numpy as np


def flip_bit(path) -> bytes:
    """The file's bytes with one bit of the middle byte flipped."""
    b = bytearray(path.read_bytes())
    b[len(b) // 2] ^= 0x10
    return bytes(b)


def edit_json(change):
    """``change(doc)`` applied to x1.json's document, written back."""
    def corrupt(d):
        p = d / "x1.json"
        doc = json.loads(p.read_text())
        change(doc)
        p.write_text(json.dumps(doc))
    return corrupt


def write_file(name, data):
    """The file ``name`` replaced by ``data`` (bytes, or a function of its path giving them)."""
    def corrupt(d):
        (d / name).write_bytes(data(d / name) if callable(data) else data)
    return corrupt


def resave_npz(arrays):
    """x1.npz rewritten with ``arrays``."""
    def corrupt(d):
        with open(d / "x1.npz", "wb") as fh:
            np.savez(fh, **arrays)
    return corrupt
