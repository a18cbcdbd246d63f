// Rows of a kernel's work split over threads in contiguous ranges: what mesastack's C++ kernels share.
//
// agents/native.py builds each kernel with the headers it includes (their text is part of the library's
// hash). split(rows, work, per_thread, threads, f) calls f(lo, hi) on contiguous ranges of [0, rows) that
// cover it once: on min(threads, rows, work / per_thread) threads (at least one), the calling thread taking
// the first range. When no more threads can be started, the calling thread runs the ranges left. An
// exception of f, on any thread (a buffer that could not be allocated), is rethrown on the calling thread
// after every thread has joined (the first range's first), never left to end the process. Which thread runs a row
// never changes what the row computes, so a kernel whose rows are independent gives the same numbers
// whatever the thread count.

#pragma once

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

namespace mesastack {

template <typename F>
void split(long rows, long work, long per_thread, int threads, F f) {
    threads = (int)std::max(1L, std::min<long>(threads, std::min(rows, work / per_thread)));
    if (threads == 1) {
        f(0L, rows);
        return;
    }
    std::vector<std::exception_ptr> errors(threads);  // slot t: thread t's (written by it alone)
    std::vector<std::thread> pool;
    long done = rows / threads;  // rows handed to threads that started
    for (int t = 1; t < threads; ++t) {
        const long a = rows * t / threads, b = rows * (t + 1) / threads;
        try {
            pool.emplace_back([=, &errors] {
                try {
                    f(a, b);
                } catch (...) {
                    errors[t] = std::current_exception();
                }
            });
            done = b;
        } catch (...) {  // no more threads: this one runs the ranges left
            break;
        }
    }
    try {
        f(0L, rows / threads);
        if (done < rows) f(done, rows);
    } catch (...) {
        errors[0] = std::current_exception();
    }
    for (auto& t : pool) t.join();
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
}

}  // namespace mesastack
