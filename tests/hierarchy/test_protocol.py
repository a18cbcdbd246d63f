"""The leaf checker: a composition of small named checks, seeding checked both ways."""

import numpy as np
import pytest

from hierarchy import LeafError, Objective, ObjectiveError, Trajectory, check_leaf
from hierarchy.protocol import (check_objectives, check_recorded, check_records, check_run, check_seed_repeats,
                                check_seeds_differ, check_trajectory_shape)

from .leaves import QuadraticGD

A = np.diag([1.0, 0.3])


class IgnoresSeed:
    records = ("L",)

    def run(self, steps, seed, progress=None):
        return Trajectory({"L": [0.5 ** np.arange(steps + 1)]})


class Declared(IgnoresSeed):
    deterministic = True


def test_a_leaf_that_ignores_its_seed_fails_in_one_line():
    with pytest.raises(LeafError) as info:
        check_leaf(IgnoresSeed())
    msg = str(info.value)
    assert "same run for seeds 0 and 1" in msg and "deterministic = True" in msg and "\n" not in msg
    # QuadraticGD from a fixed start has no randomness either
    with pytest.raises(LeafError, match="same run for seeds 3 and 4"):
        check_leaf(QuadraticGD(A, 0.1, x0=[1.0, 1.0]), seed=3)


def test_a_declared_deterministic_leaf_skips_only_the_seeds_differ_check():
    assert check_leaf(Declared(), [Objective("L")]).T == 4
    with pytest.raises(ObjectiveError, match="neither recorded"):
        check_leaf(Declared(), [Objective("Z")])


def test_a_seeded_leaf_passes_and_its_two_seeds_differ():
    leaf = QuadraticGD(A, 0.1, K=2)
    tr = check_leaf(leaf, [Objective("L"), Objective("G")], steps=5, seed=7)
    # independent truth: the leaf's start is rng(seed).normal; SeedSequence(7) and (8) give different starts
    other = leaf.run(5, np.random.SeedSequence(8))
    assert not np.array_equal(tr["L"], other["L"])
    check_seeds_differ(leaf, tr, 5, 7)


def test_each_named_check_on_its_own():
    class NoRun:
        records = ("L",)

    with pytest.raises(LeafError, match="cannot step"):
        check_records(NoRun())
    assert check_records(QuadraticGD(A, 0.1)) == ("L", "G")

    class Raises:
        records = ("L",)

        def run(self, steps, seed, progress=None):
            raise RuntimeError("boom")

    with pytest.raises(LeafError, match="failed to run 3 steps: RuntimeError: boom"):
        check_run(Raises(), 3, 0)
    short = Trajectory({"L": np.ones((1, 3))})
    with pytest.raises(LeafError, match="3 values per copy for 3 steps"):
        check_trajectory_shape(Raises(), short, 3)
    with pytest.raises(LeafError, match=r"claims to record \['G'\]"):
        check_recorded(QuadraticGD(A, 0.1), Trajectory({"L": np.ones((1, 3))}))
    with pytest.raises(ObjectiveError, match="returns none"):
        check_objectives(Raises(), short, [Objective("D", evaluate=lambda s: s[..., 0])])

    class Unseeded:
        records = ("L",)

        def run(self, steps, seed, progress=None):
            return Trajectory({"L": np.random.default_rng().normal(size=(1, steps + 1))})

    leaf = Unseeded()
    with pytest.raises(LeafError, match="different values of 'L' for the same seed"):
        check_seed_repeats(leaf, leaf.run(3, None), 3, 0)
