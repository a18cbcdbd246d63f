"""A case in a process of its own: its value or its exception come back; a dead or stopped process is one line.

Independent truth: values a plain call gives, a marker file the child writes, the caller's
script run as a subprocess (its top-level code must run once, not again in the child).
"""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hierarchy.errors import ParameterError
from scenarios.machinery.other_process import OtherProcess

ROOT = Path(__file__).resolve().parents[2]


def pid_and_sum(*xs):
    return os.getpid(), sum(xs)


def refuse(x):
    raise ParameterError(f"x={x!r} is refused; give another", parameter="x")


def die(code):
    os._exit(code)


def sleep_then_mark(path, seconds):
    time.sleep(seconds)
    Path(path).write_text("ran to the end")


def torch_threads_seen():
    import torch
    return torch.get_num_threads()


def collector_thresholds():
    import gc
    return gc.get_threshold()


def test_the_collector_runs_less_often_there():
    from scenarios.machinery.garbage_collection import THRESHOLDS
    assert OtherProcess("the collector", collector_thresholds).result() == THRESHOLDS


def test_the_value_comes_back_from_another_process():
    pid, total = OtherProcess("a sum", pid_and_sum, 1, 2, 3.5).result()
    assert total == 6.5 and pid != os.getpid()


def test_torch_runs_on_one_thread_there():
    assert OtherProcess("torch's threads", torch_threads_seen).result() == 1


def test_an_exception_there_is_raised_here_with_its_message():
    with pytest.raises(ParameterError, match=r"^x=3 is refused; give another$") as err:
        OtherProcess("a refusal", refuse, 3).result()
    assert err.value.parameter == "x"


def test_a_process_that_dies_is_one_line_naming_the_case_and_leaves_no_files():
    job = OtherProcess("the doomed case", die, 7)
    folder = job.folder
    with pytest.raises(RuntimeError, match=r"^the process running the doomed case stopped before it finished \(exit "
                                           r"code 7: killed, or out of memory\); run again, or with --set "
                                           r"case_threads=1 to run every case in this process$"):
        job.result()
    assert not os.path.exists(folder)


def test_closing_stops_the_process_at_once(tmp_path):
    mark = tmp_path / "mark"
    job = OtherProcess("a long case", sleep_then_mark, str(mark), 3.0)
    t = time.perf_counter()
    job.close()
    assert time.perf_counter() - t < 2.5 and job.popen.poll() is not None
    time.sleep(0.5)
    assert not mark.exists() and not os.path.exists(job.folder)


def test_the_callers_script_is_not_run_again_in_the_child(tmp_path):
    script = tmp_path / "no_main_guard.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        print("top-level code ran")
        from scenarios.machinery.other_process import OtherProcess
        from test_other_process import pid_and_sum
        print(OtherProcess("a sum", pid_and_sum, 2, 2).result()[1])
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["top-level code ran", "4"]


def _running(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie that its new parent has not reaped yet has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    except OSError:  # no /proc: ask the process table
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return state not in ("Z", "X")


def test_the_process_ends_itself_when_its_caller_is_killed(tmp_path):
    mark = tmp_path / "mark"
    script = tmp_path / "caller.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from scenarios.machinery.other_process import OtherProcess
        from test_other_process import sleep_then_mark
        job = OtherProcess("a long case", sleep_then_mark, {str(mark)!r}, 6.0)
        print(job.popen.pid, flush=True)
        time.sleep(60)
    """))
    caller = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    child = int(caller.stdout.readline())
    caller.kill()
    caller.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not _running(child):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the orphaned process is still running")
    time.sleep(0.2)
    assert not mark.exists()

