"""The command sets Python's collector to run less often while it runs, and sets back what was there.

Independent truth: ``gc.get_threshold()`` read inside and after the command, on a normal exit,
on a user's mistake (exit 2) and when the body raises.
"""

import gc

import pytest

from scenarios.machinery import cli
from scenarios.machinery.garbage_collection import THRESHOLDS, fewer_collections


@pytest.fixture
def odd_thresholds():
    before = gc.get_threshold()
    gc.set_threshold(1234, 5, 6)  # not Python's defaults, so that a reset to them would show
    yield (1234, 5, 6)
    gc.set_threshold(*before)


def test_the_thresholds_are_set_back_even_when_the_body_raises(odd_thresholds):
    with pytest.raises(RuntimeError):
        with fewer_collections():
            assert gc.get_threshold() == THRESHOLDS
            raise RuntimeError("boom")
    assert gc.get_threshold() == odd_thresholds


def test_the_command_runs_with_fewer_collections_and_sets_back_the_old_ones(odd_thresholds, monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(cli, "describe", lambda name: seen.append(gc.get_threshold()) or "described")
    assert cli.main(["describe", "harris-abc"]) == 0
    assert seen == [THRESHOLDS] and gc.get_threshold() == odd_thresholds
    assert cli.main(["run", "no-such-scenario"]) == 2  # a user's mistake: one line, and the collector set back
    assert gc.get_threshold() == odd_thresholds
