// A kernel's C entry point run so that no C++ exception crosses into Python: what mesastack's kernels share.
//
// guarded(f) runs f() and returns 0, or 1 when it threw (a buffer could not be allocated, a thread could
// not start and its rows then failed): the Python side turns the 1 into a one-line MemoryError.

#pragma once

namespace mesastack {

template <typename F>
int guarded(F f) {
    try {
        f();
        return 0;
    } catch (...) {
        return 1;
    }
}

}  // namespace mesastack
