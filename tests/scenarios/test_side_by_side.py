"""Cases side by side on threads: the results of a loop, in task order, whatever order they finish in.

Independent truth: the values a plain loop over the tasks gives; finishing orders forced by
events (task 0 cannot finish before task 1 has); stopping checked on the threads themselves.
"""

import threading
import time

import pytest
import torch

from hierarchy.errors import ParameterError
from scenarios.common.planner_example import shared
from scenarios.machinery.side_by_side import available_cores, side_by_side


def _case_threads():
    return [t for t in threading.enumerate() if t.name.startswith("case-")]


def _forever(started: threading.Event):
    """A case that never ends by itself (it sets ``started`` first)."""
    def run():
        started.set()
        while True:
            time.sleep(0.005)
    return run


def test_results_come_in_task_order_when_the_tasks_finish_in_another():
    second_done = threading.Event()

    def first():
        assert second_done.wait(10), "the tasks did not run at the same time"
        return "first"

    def second():
        second_done.set()
        return "second"

    seen = []
    out = side_by_side([first, second, lambda: 3], threads=2, done=lambda i, v: seen.append((i, v)))
    assert out == ["first", "second", 3]
    assert sorted(seen) == [(0, "first"), (1, "second"), (2, 3)]
    assert seen.index((1, "second")) < seen.index((0, "first"))  # reported as they finished
    assert not _case_threads()


def test_the_done_callback_runs_in_the_callers_thread():
    where = []
    side_by_side([lambda: 1, lambda: 2], threads=2, done=lambda i, v: where.append(threading.current_thread()))
    assert where == [threading.current_thread()] * 2


def test_one_thread_is_a_plain_loop_in_the_callers_thread():
    me = threading.current_thread()
    order = []

    def task(k):
        def run():
            assert threading.current_thread() is me
            order.append(k)
            return k * k
        return run

    assert side_by_side([task(k) for k in range(4)], threads=1) == [0, 1, 4, 9]
    assert order == [0, 1, 2, 3]


def test_torch_runs_on_one_thread_in_each_case_and_the_count_comes_back():
    before = torch.get_num_threads()
    counts = side_by_side([torch.get_num_threads] * 3, threads=2)
    assert counts == [1, 1, 1]
    assert torch.get_num_threads() == before


def test_a_failing_case_is_raised_and_the_others_are_stopped():
    started = threading.Event()

    def fails():
        assert started.wait(10)
        raise ValueError("bad case")

    with pytest.raises(ValueError, match="bad case"):
        side_by_side([_forever(started), fails], threads=2)
    assert not _case_threads()


def test_an_interruption_in_the_caller_stops_the_running_cases():
    started = threading.Event()

    def interrupt(i, v):
        assert started.wait(10)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        side_by_side([_forever(started), lambda: 1], threads=2, done=interrupt)
    assert not _case_threads()


@pytest.mark.parametrize("threads", [-1, 1.5, True, "2"])
def test_a_bad_thread_count_is_a_one_line_error(threads):
    with pytest.raises(ParameterError, match="threads="):
        side_by_side([lambda: 1], threads=threads)


def test_available_cores_is_a_positive_count():
    assert isinstance(available_cores(), int) and available_cores() >= 1


def test_the_shared_cache_computes_a_key_once_when_two_cases_ask_at_once():
    cache, calls = {}, []
    barrier = threading.Barrier(2)

    def compute():
        calls.append(1)
        time.sleep(0.05)  # the other case asks meanwhile
        return object()

    def case():
        barrier.wait(10)
        return shared(cache, ("key",), compute)

    a, b = side_by_side([case, case], threads=2)
    assert a is b and len(calls) == 1


def test_a_failed_computation_of_the_cache_is_retried_by_the_next_case():
    cache = {}
    with pytest.raises(ZeroDivisionError):
        shared(cache, "k", lambda: 1 / 0)
    assert shared(cache, "k", lambda: 7) == 7
    assert shared(cache, "k", lambda: 8) == 7


def test_the_switch_interval_is_short_while_cases_run_and_restored_after():
    import sys

    from scenarios.machinery.side_by_side import SWITCH_INTERVAL

    before = sys.getswitchinterval()
    seen = side_by_side([sys.getswitchinterval, sys.getswitchinterval], threads=2)
    assert seen == [min(before, SWITCH_INTERVAL)] * 2 and SWITCH_INTERVAL < 0.005
    assert sys.getswitchinterval() == before
    with pytest.raises(ZeroDivisionError):
        side_by_side([lambda: 1 / 0, lambda: 2], threads=2)
    assert sys.getswitchinterval() == before

