// Soft value iteration over the maze graph, forward and backward, row by row.
//
// The sweeps of agents/maze/planning.py (soft_value_iteration; _SoftSweeps gives the backward), written
// out for one row (one maze of one copy) at a time, its N states' values in a few kilobytes:
//
//   X_i(s, a) = gamma V_i(next(s, a)) for a valid at s, else -inf
//   m_i(s)    = max_a X_i(s, a)  (0 where that is infinite)
//   L_i(s)    = log sum_a exp(X_i(s, a) - m_i(s)) + m_i(s),  the five terms added as ((((0 + 4) + 1) + 2) + 3)
//   V_{i+1}   = r + L_i
//
// and, backward from dV_H, sweep i from the last: dr += dV_{i+1};
// dV_i(next(s, a)) += dV_{i+1}(s) gamma p_i(s, a) for valid a, in the order of (s, a), where
// p_i(s, a) = exp(X_i(s, a) - m_i(s)) / sum_a exp(...); dr += dV_0 when V_0 = r. The backward pass runs each
// row's forward sweeps again for its p_i (the same operations, so the same numbers), in a buffer for that row
// alone: keeping every row's p_i from the forward pass (H x R x 5 x N values, 90 MB for a thousand mazes of 49
// cells and 50 sweeps) was slower, by 10% for a few mazes and by half for a thousand.
// Python side: agents/maze/soft_kernel.py (built by agents/native.py, compiled twice: see there).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <new>
#include <vector>

#include "../vector_math.h"

#ifndef MESASTACK_VECTOR_MATH  // the vector math compile (-ffast-math) gives vector_math.h's exp and log loops only

namespace {

// One row's buffers and its successors and valid moves, action by action.
struct Row {
    long N;
    std::vector<double> cur, E, m, s;
    std::vector<int64_t> st;
    std::vector<uint8_t> vt;

    explicit Row(long n) : N(n), cur(n), E(5 * n), m(n), s(n), st(5 * n), vt(5 * n) {}

    void load(const int64_t* sc, const uint8_t* vl) {
        for (long n = 0; n < N; ++n)
            for (int a = 0; a < 5; ++a) {
                st[a * N + n] = sc[n * 5 + a];
                vt[a * N + n] = vl[n * 5 + a];
            }
    }

    // H sweeps from V_0 = rw (from_reward) or 0, V_H left in cur; p_h written to P + h * stride when P is not null
    void sweeps(const double* rw, int from_reward, double gamma, int H, double* P, long stride) {
        for (long n = 0; n < N; ++n) cur[n] = from_reward ? rw[n] : 0.0;
        const double *e0 = E.data(), *e1 = e0 + N, *e2 = e1 + N, *e3 = e2 + N, *e4 = e3 + N;
        for (int h = 0; h < H; ++h) {
            // gather, scale and mask in three loops without branches (the compiler vectorizes each)
            const double* c = cur.data();
            const int64_t* si = st.data();
            double* e = E.data();
            if (gamma == 1.0)
                for (long i = 0; i < 5 * N; ++i) e[i] = c[si[i]];
            else
                for (long i = 0; i < 5 * N; ++i) e[i] = gamma * c[si[i]];
            for (long i = 0; i < 5 * N; ++i) e[i] = vt[i] ? e[i] : -INFINITY;
            for (long n = 0; n < N; ++n) {
                const double mx = std::max(std::max(std::max(std::max(e0[n], e1[n]), e2[n]), e3[n]), e4[n]);
                m[n] = std::isinf(mx) ? 0.0 : mx;
            }
            // a walled move's exp(-inf) is 0; its input is set to 0 and its output to 0 (an infinite input
            // would send the whole vector through the vector library's scalar fallback)
            for (int a = 0; a < 5; ++a)
                for (long n = 0; n < N; ++n) E[a * N + n] = vt[a * N + n] ? E[a * N + n] - m[n] : 0.0;
            mesastack::vexp(E.data(), 5 * N);
            for (long i = 0; i < 5 * N; ++i) E[i] = vt[i] ? E[i] : 0.0;
            for (long n = 0; n < N; ++n) s[n] = (((e0[n] + e4[n]) + e1[n]) + e2[n]) + e3[n];
            if (P) {
                double* p = P + h * stride;
                for (int a = 0; a < 5; ++a)
                    for (long n = 0; n < N; ++n) p[a * N + n] = E[a * N + n] / s[n];
            }
            mesastack::vlog(s.data(), N);
            for (long n = 0; n < N; ++n) cur[n] = rw[n] + (s[n] + m[n]);
        }
    }
};

}  // namespace

extern "C" {

// R rows of N states: successors [R, N, 5] (int64), valid [R, N, 5] (0 or 1), reward [R, N]; H sweeps from
// V_0 = r (from_reward) or 0. Writes V_H to V [R, N]. Returns 0, or 1 when a buffer could not be allocated.
int mesastack_soft_forward(long R, long N, const int64_t* successors, const uint8_t* valid, const double* reward,
                           int from_reward, double gamma, int H, double* V) {
    try {
        Row row(N);
        for (long r = 0; r < R; ++r) {
            row.load(successors + r * N * 5, valid + r * N * 5);
            row.sweeps(reward + r * N, from_reward, gamma, H, nullptr, 0);
            std::copy(row.cur.begin(), row.cur.end(), V + r * N);
        }
        return 0;
    } catch (...) {
        return 1;
    }
}

// The gradient of <grad, V_H> with respect to r, into dr [R, N], each row's p_i recomputed by its forward sweeps.
// Returns 0, or 1 when a buffer could not be allocated.
int mesastack_soft_backward(long R, long N, const int64_t* successors, const uint8_t* valid, const double* reward,
                            const double* grad, int from_reward, double gamma, int H, double* dr) {
    try {
        Row row(N);
        std::vector<double> P(static_cast<size_t>(H) * 5 * N), dv(N), prev(N), acc(N);
        for (long r = 0; r < R; ++r) {
            const int64_t* sc = successors + r * N * 5;
            const uint8_t* vl = valid + r * N * 5;
            row.load(sc, vl);
            row.sweeps(reward + r * N, from_reward, gamma, H, P.data(), 5 * N);
            std::copy(grad + r * N, grad + (r + 1) * N, dv.begin());
            for (int h = H - 1; h >= 0; --h) {
                for (long n = 0; n < N; ++n) acc[n] = h == H - 1 ? dv[n] : acc[n] + dv[n];
                const double* p = P.data() + static_cast<long>(h) * 5 * N;
                std::fill(prev.begin(), prev.end(), 0.0);
                for (long n = 0; n < N; ++n)
                    for (int a = 0; a < 5; ++a) {
                        double x = vl[n * 5 + a] ? dv[n] * p[a * N + n] : 0.0;
                        if (gamma != 1.0) x *= gamma;
                        prev[sc[n * 5 + a]] += x;
                    }
                std::swap(dv, prev);
            }
            double* out = dr + r * N;
            for (long n = 0; n < N; ++n) {
                const double a = H > 0 ? acc[n] : 0.0;
                out[n] = from_reward ? (H > 0 ? a + dv[n] : dv[n]) : a;
            }
        }
        return 0;
    } catch (...) {
        return 1;
    }
}

int mesastack_soft_kernel_version() { return 2; }
}

#endif
