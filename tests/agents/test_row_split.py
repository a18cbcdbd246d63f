"""agents/row_split.h, the splitting of a kernel's rows over threads that the C++ kernels share: every row once,
in contiguous ranges, on at most the threads asked for and the work allows; and an exception thrown on any
thread (a worker's buffer that could not be allocated) reaches the caller after every thread has joined,
instead of ending the process (std::terminate).

Independent truth: a small C++ program compiled here against the header, which records which thread ran which
rows and throws where it is told to.
"""

import subprocess
from pathlib import Path

import pytest

from agents.native import compiler

HEADER = Path(__file__).resolve().parents[2] / "agents" / "row_split.h"

PROGRAM = r"""
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <vector>
#include "row_split.h"

int main(int argc, char** argv) {
    const long rows = atol(argv[1]), work = atol(argv[2]), per = atol(argv[3]);
    const int threads = atoi(argv[4]);
    const long bad = atol(argv[5]);  // the row whose range throws, or -1
    std::vector<std::atomic<int>> seen(rows);
    std::atomic<int> calls{0};
    try {
        mesastack::split(rows, work, per, threads, [&](long lo, long hi) {
            ++calls;
            for (long r = lo; r < hi; ++r) ++seen[r];
            if (lo <= bad && bad < hi) throw std::runtime_error("row " + std::to_string(bad));
        });
    } catch (const std::exception& e) {
        std::printf("caught %s\n", e.what());
    }
    long once = 0;
    for (auto& s : seen) once += s == 1;
    std::printf("calls %d once %ld of %ld\n", calls.load(), once, rows);
    return 0;
}
"""


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    cxx = compiler()
    if cxx is None:
        pytest.skip("no C++ compiler on the PATH")
    folder = tmp_path_factory.mktemp("row_split")
    (folder / "main.cpp").write_text(PROGRAM)
    exe = folder / "main"
    subprocess.run([cxx, "-std=c++17", "-O1", "-pthread", f"-I{HEADER.parent}", str(folder / "main.cpp"), "-o",
                    str(exe)], check=True, capture_output=True, timeout=300)
    return exe


def _run(program, rows, work, per, threads, bad=-1):
    out = subprocess.run([str(program), str(rows), str(work), str(per), str(threads), str(bad)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr  # std::terminate would abort: a nonzero code
    return out.stdout.split("\n")[:-1]


@pytest.mark.parametrize("rows,work,per,threads,calls", [
    (10, 10, 1, 3, 3),  # three ranges
    (2, 100, 1, 8, 2),  # no more threads than rows
    (100, 5, 2, 4, 2),  # no more threads than the work allows (5 // 2)
    (100, 1, 2, 4, 1),  # too little work for a second thread
    (0, 0, 1, 2, 1),  # no rows: one empty call
])
def test_every_row_runs_once_on_the_threads_the_work_allows(program, rows, work, per, threads, calls):
    assert _run(program, rows, work, per, threads) == [f"calls {calls} once {rows} of {rows}"]


@pytest.mark.parametrize("bad", [0, 5, 9])
def test_an_exception_on_any_thread_reaches_the_caller(program, bad):
    """Row 0 is the calling thread's range; rows 5 and 9 are the second and third threads'."""
    assert _run(program, 10, 10, 1, 3, bad) == [f"caught row {bad}", "calls 3 once 10 of 10"]
