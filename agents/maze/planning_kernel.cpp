// agents/maze/planning.py's numpy hot paths in C++, with numpy's numbers bit for bit: the exact optimal values
// by policy iteration, maze by maze, and the greedy walks on action values.
//
// Optimal values: planning.py's optimal_values (numpy) written out for one block (one maze of one copy, N states)
// at a time, its arrays in a few kilobytes: evaluate the greedy policy pi by pointer doubling
//   acc <- r; jump <- next(s, pi(s)); disc <- gamma; D times: tmp = acc[jump] * disc; acc += tmp;
//   jump <- jump[jump]; disc <- disc * disc
// then Q(s, a) = V(next(s, a)) with V = acc, best = the first a with the largest Q (strictly larger replaces),
// switch s to it when Q(s, best) > V(next(s, pi(s))) + 1e-12 * (1 + |V(s)|), and stop when no state of the
// block switches: the block's values are V of that round. These are numpy's elementwise operations in numpy's
// order on each element, so the numbers are the same bit for bit; floating-point contraction is off so that
// tmp = acc[jump] * disc; acc += tmp stays two roundings (and nothing is reassociated).
//
// Greedy walks: planning.py's greedy_paths, step by step for each row: Q = q[s, :], best = max Q (NaN when a
// Q is NaN), tied = Q >= best - rtol * (1 + |best|), a = the first largest of (tied ? draw : -1) with the
// uniforms drawn by numpy beforehand in numpy's order, s <- next(s, a) unless the row is done (at its exit).
// Python side: agents/maze/planning_kernel.py (built by agents/native.py).

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off", "no-associative-math")
#endif

#include <cmath>
#include <cstdint>
#include <new>
#include <vector>

#ifndef MESASTACK_VECTOR_MATH

extern "C" {

// B blocks of N states: successors [B, N, 5] (int64, cell indices within the block), reward [B, N] (finite);
// D doublings a policy evaluation; at most max_rounds rounds a block. Writes the values to V [B, N].
// Returns 0; 1 when a buffer could not be allocated; 2 when a block did not settle in max_rounds rounds;
// 3 when a successor is not a cell index of its block.
int mesastack_optimal_values(long B, long N, const int64_t* successors, const double* reward, double gamma, int D,
                             long max_rounds, double* V) {
    try {
        std::vector<double> acc(N), tmp(N), top(N);
        std::vector<int64_t> st(5 * N), nxt(N), jump(N), hop(N), best(N);
        std::vector<uint8_t> better(N);
        for (long b = 0; b < B; ++b) {
            const int64_t* sc = successors + b * N * 5;
            const double* rb = reward + b * N;
            for (long n = 0; n < N; ++n)
                for (int a = 0; a < 5; ++a) {
                    const int64_t t = sc[n * 5 + a];
                    if (t < 0 || t >= N) return 3;
                    st[a * N + n] = t;
                }
            for (long n = 0; n < N; ++n) nxt[n] = st[n];  // "stay everywhere"
            long round = 0;
            for (;; ++round) {
                if (round >= max_rounds) return 2;
                for (long n = 0; n < N; ++n) {
                    acc[n] = rb[n];
                    jump[n] = nxt[n];
                }
                double disc = gamma;
                for (int d = 0; d < D; ++d) {
                    for (long n = 0; n < N; ++n) tmp[n] = acc[jump[n]] * disc;
                    for (long n = 0; n < N; ++n) acc[n] += tmp[n];
                    for (long n = 0; n < N; ++n) hop[n] = jump[jump[n]];
                    jump.swap(hop);
                    disc = disc * disc;
                }
                for (long n = 0; n < N; ++n) {
                    top[n] = acc[st[n]];
                    best[n] = st[n];
                }
                for (int a = 1; a < 5; ++a) {
                    const int64_t* sa = st.data() + a * N;
                    for (long n = 0; n < N; ++n) {
                        const double qa = acc[sa[n]];
                        if (qa > top[n]) {
                            top[n] = qa;
                            best[n] = sa[n];
                        }
                    }
                }
                bool any = false;
                for (long n = 0; n < N; ++n) {
                    const double margin = 1e-12 * (1.0 + std::fabs(acc[n]));
                    better[n] = top[n] > acc[nxt[n]] + margin;
                    any = any || better[n];
                }
                if (!any) break;
                for (long n = 0; n < N; ++n)
                    if (better[n]) nxt[n] = best[n];
            }
            double* out = V + b * N;
            for (long n = 0; n < N; ++n) out[n] = acc[n];
        }
    } catch (const std::bad_alloc&) {
        return 1;
    }
    return 0;
}

// T steps of B greedy walks on q [B, N, 5] with successors [B, N, 5]: s [B] (the cells, updated), done [B]
// (0 or 1, updated), lengths [B] (updated), exits [B] (null: no exit), draws [T, B, 5] (uniforms), path [B, W]
// (row stride W) written at columns first + t for t = 0..T-1. Returns 0, or 3 when a successor is not a cell.
int mesastack_greedy_steps(long B, long N, long T, const double* q, const int64_t* successors, int64_t* s,
                           uint8_t* done, int64_t* lengths, const int64_t* exits, const double* draws, double rtol,
                           int64_t* path, long W, long first) {
    for (long t = 0; t < T; ++t) {
        const double* u = draws + t * B * 5;
        for (long b = 0; b < B; ++b) {
            const long cell = static_cast<long>(s[b]);
            const double* qs = q + (b * N + cell) * 5;
            double best = qs[0];
            bool nan = std::isnan(qs[0]);
            for (int a = 1; a < 5; ++a) {
                nan = nan || std::isnan(qs[a]);
                if (qs[a] > best) best = qs[a];
            }
            if (nan) best = NAN;
            const double floor = best - rtol * (1.0 + std::fabs(best));
            int pick = 0;
            double top = qs[0] >= floor ? u[b * 5] : -1.0;
            for (int a = 1; a < 5; ++a) {
                const double x = qs[a] >= floor ? u[b * 5 + a] : -1.0;
                if (x > top) {
                    top = x;
                    pick = a;
                }
            }
            const int64_t nxt = successors[(b * N + cell) * 5 + pick];
            if (nxt < 0 || nxt >= N) return 3;
            if (!done[b]) {
                s[b] = nxt;
                lengths[b] += 1;
            }
            if (exits && s[b] == exits[b]) done[b] = 1;
            path[b * W + first + t] = s[b];
        }
    }
    return 0;
}

int mesastack_planning_kernel_version() { return 1; }

}

#endif
