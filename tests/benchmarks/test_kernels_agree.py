"""benchmarks/kernels.py: every kernel it times gives the plain computation's numbers (a correctness check, not a timing)."""

from benchmarks import kernels


def test_every_row_agrees(tmp_path, capsys):
    rows = kernels.main(["--repeats", "1", "--json", str(tmp_path / "k.json")])
    out = capsys.readouterr().out
    assert "DIFFERS" not in out
    for row in rows:
        if row["case"] == "lsa loss+grad":  # float32 against sums in float64: float32 rounding
            assert row["agreement"] < 1e-5
        elif row["case"].startswith(("one-hot", "fused loss")):  # sums in another order, libmvec: float32 rounding
            assert row["agreement"] < 1e-5
        else:  # the same numbers, bit for bit
            assert row["agreement"] == 0.0
    assert (tmp_path / "k.json").exists() or not rows
