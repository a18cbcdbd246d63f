"""Every leaf of benchmarks/leaves.py: its batched K-copy computation equals the loop of K = 1 calls.

The loop is the independent truth for the batch: the same function on one copy at a time,
seeded as copy k (benchmarks.leaves.as_copy), so the batch must give copy k the numbers
copy k gets alone (float64, to benchmarks.leaves.RTOL; paths, successes and counts exactly).
The smallest case, K = 2, of each leaf.
"""

import numpy as np
import pytest

import agents.maze.replicator as replicator_module
from benchmarks.leaves import LEAVES, RTOL, as_copy, worst_difference

COMPARABLE = [n for n in LEAVES if n != "strategy-training"]


@pytest.mark.parametrize("name", COMPARABLE)
def test_batched_equals_per_copy_loop(name):
    case = LEAVES[name][0](2, True)
    agree, worst = worst_difference(case.batched(), case.per_copy(), case.exact)
    assert agree, f"{name}: batched and per-copy differ by {worst:.2e} (> {RTOL})"


def test_strategy_game_copies_are_independent():
    """Copy k of a K-copy run is the copy k a one-copy run computes with copy k's seeds, bit for bit."""
    case = LEAVES["strategy-training"][0](2, True)
    assert worst_difference(case.batched(), case.per_copy()) == (True, 0.0)


def test_strategy_game_copies_do_not_depend_on_K():
    """The first two copies of a 3-copy run are the 2-copy run (no redirection: the same seed, more copies)."""
    two, three = (LEAVES["strategy-training"][0](K, True).batched() for K in (2, 3))
    assert worst_difference({n: v[:2] for n, v in three.items()}, two) == (True, 0.0)


def test_strategy_game_single_copy_is_its_own_loop():
    case = LEAVES["strategy-training"][0](1, True)
    assert worst_difference(case.batched(), case.per_copy())[0]


def test_as_copy_redirects_only_copy_zero_of_the_seed():
    from agents.maze.grid import MazeDistribution
    from agents.maze.replicator import Replicator
    mazes = MazeDistribution(size=4).sample(2, seed=0)
    both = Replicator(3).run(mazes, 0)
    with as_copy(replicator_module, 0, 1):
        alone = Replicator(3).run(mazes[1:], 0)
        with pytest.raises(AssertionError):
            Replicator(3).run(mazes[1:], 5)  # another seed: not the batched run's copy
    assert np.array_equal(alone.occupied[0], both.occupied[1])
    assert replicator_module.child.__name__ == "child"  # restored after the block


def test_worst_difference_sees_a_difference():
    a = {"x": np.array([1.0, 2.0]), "n": np.array([1, 2])}
    assert worst_difference(a, a) == (True, 0.0)
    assert not worst_difference({"x": np.array([1.0, 2.0 * (1 + 1e-6)]), "n": a["n"]}, a)[0]
    assert not worst_difference({"x": a["x"], "n": np.array([1, 3])}, a)[0]
