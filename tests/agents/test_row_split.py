"""agents/row_split.h, the splitting of a kernel's rows over threads that the C++ kernels share: every row once,
in contiguous ranges, on at most the threads asked for and the work allows; and an exception thrown on any
thread (a worker's buffer that could not be allocated) reaches the caller after every thread has joined,
instead of ending the process (std::terminate). Both builds: OpenMP (the kernels' first choice, so that they
run on torch's own OpenMP threads) and std::threads (where OpenMP does not build).

Independent truth: a small C++ program compiled here against the header, which records which thread ran which
rows and throws where it is told to; the process's memory map, for which OpenMP runtime the kernels use.
"""

import ctypes
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import agents.native as native
from agents.language_model.kernel import kernel_library, kernel_available
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


@pytest.fixture(scope="module", params=["openmp", "std::thread"])
def program(request, tmp_path_factory):
    cxx = compiler()
    if cxx is None:
        pytest.skip("no C++ compiler on the PATH")
    folder = tmp_path_factory.mktemp("row_split")
    (folder / "main.cpp").write_text(PROGRAM)
    exe = folder / "main"
    flags = list(native.OPENMP) if request.param == "openmp" else []
    out = subprocess.run([cxx, "-std=c++17", "-O1", "-pthread", *flags, f"-I{HEADER.parent}", str(folder / "main.cpp"),
                          "-o", str(exe)], capture_output=True, timeout=300)
    if out.returncode != 0 and flags:
        pytest.skip(f"OpenMP does not build here: {out.stderr.strip().splitlines()[-1:]}")
    assert out.returncode == 0, out.stderr
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


def _openmp_runtimes():
    """The OpenMP runtimes mapped into this process (their files)."""
    return {line.split()[-1] for line in open("/proc/self/maps") if "libgomp" in line or "libiomp" in line
            or "libomp" in line}


@pytest.mark.skipif(not sys.platform.startswith("linux") or not kernel_available() or not shutil.which("readelf"),
                    reason="Linux with the C++ kernel and readelf")
def test_the_kernels_run_on_torchs_own_openmp_threads():
    """Loading a kernel built with OpenMP maps no second runtime: torch's libgomp.so.1 serves both, so the kernel's
    threads are torch's (no competing for the cores with torch's threads spinning after an operation)."""
    torch.ones(1 << 16).sum()  # torch's OpenMP runtime in use
    before = _openmp_runtimes()
    torchs = {f for f in before if Path(f).parent == Path(torch.__file__).parent / "lib"}
    if not torchs:
        pytest.skip("this torch does not bring its own libgomp")
    lib = kernel_library()
    needs = subprocess.run(["readelf", "-d", lib._name], capture_output=True, text=True).stdout
    if "libgomp.so.1" not in needs:
        pytest.skip("the kernel was built without OpenMP here")
    after = _openmp_runtimes()
    assert after == before
    # the runtime of that name is torch's alone (other packages may bring theirs under names of their own)
    assert {f for f in after if Path(f).name.startswith("libgomp.so")} == torchs


@pytest.mark.skipif(compiler() is None, reason="no C++ compiler here")
def test_without_openmp_a_kernel_builds_on_std_threads(monkeypatch, tmp_path):
    """A compiler that cannot build OpenMP (here: an unknown flag in its place) still gives a working library."""
    (tmp_path / "src").mkdir()
    (tmp_path / "row_split.h").write_bytes(HEADER.read_bytes())
    source = tmp_path / "src" / "k.cpp"
    source.write_text('#include "../row_split.h"\n#ifndef MESASTACK_VECTOR_MATH\n'
                      'extern "C" long mesastack_rows(long rows, int threads) {\n'
                      '    long seen[64] = {0};\n'
                      '    mesastack::split(rows, rows, 1, threads, [&](long lo, long hi) { for (long r = lo; r < hi; ++r) seen[r] += 1; });\n'
                      '    long once = 0;\n'
                      '    for (long r = 0; r < rows; ++r) once += seen[r] == 1;\n'
                      '#ifdef _OPENMP\n    return -once;\n#else\n    return once;\n#endif\n}\n#endif\n')
    monkeypatch.setattr(native, "OPENMP", ("-fno-such-openmp-flag",))
    lib = ctypes.CDLL(str(native.build(source, compiler(), tmp_path / "cache")))
    lib.mesastack_rows.restype = ctypes.c_long
    assert lib.mesastack_rows(40, 3) == 40  # every row once, and no OpenMP
