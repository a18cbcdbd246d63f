// What every call of a run of the MLP language model's kernels shares: the model's widths, the data and the loss.
//
// kernel.cpp and lane_kernel.cpp take a pointer to it; agents/language_model/kernel.py's _Problem (ctypes) is the
// same layout, field for field: change both together.

#pragma once

extern "C" {

struct MesastackProblem {
    int layers;              // weight layers L (widths sizes[0] .. sizes[L])
    const int* sizes;        // [L + 1]
    long params;             // P per copy
    int M;                   // rows (merged contexts)
    const void* x;           // [D, M] shared, or [K, D, M]
    long x_stride;           // elements between copies' inputs (0: shared)
    const void* n;           // [Kq, M] examples per row
    const void* q;           // [Kq, V, M] summed targets
    long nq_stride;          // 0: shared targets, else 1 (copy k's rows at k M and k V M)
    int brier;               // 0: cross-entropy, 1: Brier
    double N;                // examples per copy
    double q_const;          // N c of the Brier loss
    int watch_g;             // also freeze a copy whose |g|_2 is not finite
};

}
