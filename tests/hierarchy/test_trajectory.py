"""Trajectory metadata: run-level ``meta`` and per-copy ``copy_meta``, sliced by ``select``."""

import numpy as np
import pytest

from hierarchy import LeafError, Trajectory


def test_select_slices_copy_meta_and_keeps_meta():
    K = 4
    init = np.arange(K * 3, dtype=float).reshape(K, 3)
    tr = Trajectory({"L": np.arange(K * 2, dtype=float).reshape(K, 2)}, diverged_at=[-1, 1, -1, -1],
                    meta={"schedule": "constant"}, copy_meta={"initial_params": init, "lr": [0.1, 0.2, 0.3, 0.4]})
    sub = tr.select(np.array([False, True, False, True]))
    assert sub.K == 2 and sub.diverged_at.tolist() == [1, -1]
    np.testing.assert_array_equal(sub.copy_meta["initial_params"], init[[1, 3]])
    assert sub.copy_meta["lr"].tolist() == [0.2, 0.4]
    assert sub.meta == {"schedule": "constant"} and sub.meta is not tr.meta
    assert tr.select(2).copy_meta["lr"].tolist() == [0.3]
    # with_values keeps both
    assert tr.with_values(G=np.zeros((K, 2))).copy_meta["lr"].shape == (K,)


def test_copy_meta_needs_one_row_per_copy():
    with pytest.raises(LeafError, match=r"copy_meta\['lr'\] has shape \(3,\), expected first axis K = 2"):
        Trajectory({"L": np.ones((2, 5))}, copy_meta={"lr": [0.1, 0.2, 0.3]})
    with pytest.raises(LeafError, match="first axis K = 2"):
        Trajectory({"L": np.ones((2, 5))}, copy_meta={"scale": 1.0})
    assert Trajectory({"L": np.ones((2, 5))}).copy_meta == {}
