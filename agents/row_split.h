// Rows of a kernel's work split over threads in contiguous ranges: what mesastack's C++ kernels share.
//
// agents/native.py builds each kernel with the headers it includes (their text is part of the library's
// hash). split(rows, work, per_thread, threads, f) calls f(lo, hi) on contiguous ranges of [0, rows) that
// cover it once: range t of T = min(threads, rows, work / per_thread) (at least one), the calling thread
// taking the first. An exception of f, on any thread (a buffer that could not be allocated), is rethrown on
// the calling thread after every thread is done (the first range's first), never left to end the process.
// Which thread runs a row never changes what the row computes, so a kernel whose rows are independent gives
// the same numbers whatever the thread count.
//
// Built with -fopenmp (native.py's first choice), the ranges run in an OpenMP parallel region. The library
// then needs libgomp.so.1, and in a process where torch has loaded its own libgomp.so.1 the loader hands it
// that one: the kernel's threads are torch's own OpenMP threads. Threads of its own (the std::thread split
// below, without OpenMP) compete with torch's OpenMP threads, which spin for a few milliseconds after each
// parallel torch operation, for the cores (the lane kernel on 2 threads, K = 256, interleaved: 0.29 to 0.31
// ms a step on std::threads, 0.24 to 0.26 with OpenMP). Where the region has fewer threads than T, each runs
// every range of its number modulo the team's size. Without OpenMP, when no more threads can be started,
// the calling thread runs the ranges left.

#pragma once

#include <algorithm>
#include <exception>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#else
#include <thread>
#endif

namespace mesastack {

template <typename F>
void split(long rows, long work, long per_thread, int threads, F f) {
    threads = (int)std::max(1L, std::min<long>(threads, std::min(rows, work / per_thread)));
    if (threads == 1) {
        f(0L, rows);
        return;
    }
    std::vector<std::exception_ptr> errors(threads);  // slot t: range t's (written by the thread that ran it)
    auto range = [&](int t) {
        try {
            f(rows * t / threads, rows * (t + 1) / threads);
        } catch (...) {
            errors[t] = std::current_exception();
        }
    };
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
    {
        const int team = omp_get_num_threads();
        for (int t = omp_get_thread_num(); t < threads; t += team) range(t);
    }
#else
    std::vector<std::thread> pool;
    int started = 1;  // ranges 0 .. started - 1 have a thread (range 0: this one)
    for (int t = 1; t < threads; ++t) {
        try {
            pool.emplace_back(range, t);
            started = t + 1;
        } catch (...) {  // no more threads: this one runs the ranges left
            break;
        }
    }
    range(0);
    for (int t = started; t < threads; ++t) range(t);
    for (auto& t : pool) t.join();
#endif
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
}

}  // namespace mesastack
