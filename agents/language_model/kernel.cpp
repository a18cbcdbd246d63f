// Blocks of full-batch gradient-descent steps of the MLP language model, every copy in one call.
//
// The step of agents/language_model/mlp.py (PopulationMLP's class docstring gives the
// formulas) and the one loop's rules (agents/training/loop.py, train_blocks), written out
// for one copy at a time: each copy's S steps run start to end on one thread, with its
// activations in a few kilobytes of that thread's memory, so no step returns to Python,
// dispatches a tensor operation or waits for another copy. Copies are split over
// `threads` threads in contiguous ranges; a copy's arithmetic does not depend on K, on
// the split or on the thread count. Python side: agents/language_model/kernel.py.
//
// The file is compiled twice (agents/native.py): once with -DMESASTACK_VECTOR_MATH and
// -ffast-math, giving only vector_math.h's element-wise tanh, exp and log loops (glibc's
// vector math library, libmvec, within 4 ulp), and once without, giving the kernel, so
// that nothing else is compiled under fast-math (the kernel's finiteness checks must see
// NaN and infinity).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../guarded.h"
#include "../row_split.h"
#include "../vector_math.h"
#include "problem.h"

#ifndef MESASTACK_VECTOR_MATH

namespace {

using mesastack::vexp;
using mesastack::vlog;
using mesastack::vtanh;

// Columns (merged contexts) handled at once: a tile's activations stay in the first-level cache.
constexpr int TILE = 64;

// Columns summed at once in registers by combine(): 256 bytes, four independent 512-bit chains.
template <typename T>
constexpr int CH = 256 / sizeof(T);

// out[j] += <a, rows[j]> over m < tm for j < nj (rows[j] at rows + j ld), four rows at a time (a read once per four).
template <typename T>
inline void dots(T* out, const T* a, const T* rows, long ld, int nj, int tm) {
    int j = 0;
    for (; j + 4 <= nj; j += 4) {
        const T* r0 = rows + j * ld;
        const T *r1 = r0 + ld, *r2 = r1 + ld, *r3 = r2 + ld;
        T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int m = 0; m < tm; ++m) {
            const T am = a[m];
            s0 += am * r0[m];
            s1 += am * r1[m];
            s2 += am * r2[m];
            s3 += am * r3[m];
        }
        out[j] += s0;
        out[j + 1] += s1;
        out[j + 2] += s2;
        out[j + 3] += s3;
    }
    for (; j < nj; ++j) {
        const T* r = rows + j * ld;
        T acc = 0;
        for (int m = 0; m < tm; ++m) acc += a[m] * r[m];
        out[j] += acc;
    }
}

// out[m] = init + sum_k coef[k cstride] rows[k ld + m] for m < tm, the terms added in the order of k:
// CH<T> columns at a time in registers (each out written once, each row element read once).
template <typename T>
inline void combine(T* out, T init, const T* coef, long cstride, const T* rows, long ld, int nk, int tm) {
    int m0 = 0;
    constexpr int C = CH<T>;
    for (; m0 + C <= tm; m0 += C) {
        T acc[C];
        for (int u = 0; u < C; ++u) acc[u] = init;
        for (int k = 0; k < nk; ++k) {
            const T c = coef[k * cstride];
            const T* r = rows + k * ld + m0;
            for (int u = 0; u < C; ++u) acc[u] += c * r[u];
        }
        for (int u = 0; u < C; ++u) out[m0 + u] = acc[u];
    }
    for (; m0 < tm; ++m0) {
        T a = init;
        for (int k = 0; k < nk; ++k) a += coef[k * cstride] * rows[k * ld + m0];
        out[m0] = a;
    }
}

}  // namespace

namespace {

template <typename T>
struct Work {  // one thread's buffers, tile-sized
    std::vector<T> h, z, e, d0, d1, g, col;
    std::vector<long> offW, offb;
};

template <typename T>
void prepare(const MesastackProblem& p, Work<T>& w) {
    int L = p.layers, widest = 0, hidden = 0;
    for (int l = 0; l <= L; ++l) widest = std::max(widest, p.sizes[l]);
    for (int l = 1; l < L; ++l) hidden += p.sizes[l];
    w.h.assign(std::max(hidden, 1) * (long)TILE, T(0));
    w.z.assign((long)p.sizes[L] * TILE, T(0));
    w.e.assign((long)p.sizes[L] * TILE, T(0));
    w.d0.assign((long)widest * TILE, T(0));
    w.d1.assign((long)widest * TILE, T(0));
    w.g.assign(p.params, T(0));
    w.col.assign(3 * TILE, T(0));  // a tile's max, sum of exp, and <p, r> (or log sum)
    w.offW.resize(L);
    w.offb.resize(L);
    long off = 0;
    for (int l = 0; l < L; ++l) {
        w.offW[l] = off;
        off += (long)p.sizes[l] * p.sizes[l + 1];
        w.offb[l] = off;
        off += p.sizes[l + 1];
    }
}

// One tile of columns m0 .. m0 + tm - 1: its share of L (added to part0 - part1) and of dL/dtheta (added to w.g).
template <typename T>
void tile(const MesastackProblem& p, const T* theta, const T* x, const T* n, const T* q, Work<T>& w, int m0,
          int tm, T& part0, T& part1) {
    const int L = p.layers, M = p.M, V = p.sizes[L];
    const T invN = T(1) / T(p.N);
    // forward: z_l[j] = b_l[j] + sum_i W_l[i, j] h_{l-1}[i]; h_l = tanh(z_l) on hidden layers
    const T* hin = x + m0;
    long hin_ld = M;
    T* hbuf = w.h.data();
    for (int l = 0; l < L; ++l) {
        const int n_in = p.sizes[l], n_out = p.sizes[l + 1];
        const T* W = theta + w.offW[l];
        const T* b = theta + w.offb[l];
        T* z = l < L - 1 ? hbuf : w.z.data();
        for (int j = 0; j < n_out; ++j) combine(z + (long)j * TILE, b[j], W + j, n_out, hin, hin_ld, n_in, tm);
        if (l < L - 1) {
            if (tm == TILE) vtanh(z, (long)n_out * TILE);
            else for (int j = 0; j < n_out; ++j) vtanh(z + (long)j * TILE, tm);
            hin = z;
            hin_ld = TILE;
            hbuf += (long)n_out * TILE;
        }
    }
    // softmax over the vocabulary and the loss's delta (divided by N)
    const T* z = w.z.data();
    T* e = w.e.data();
    T* mx = w.col.data();
    T* s = mx + TILE;
    T* pr = s + TILE;
    const T* nr = n + m0;
    const T* qr = q + m0;  // row v at qr + v M
    for (int m = 0; m < tm; ++m) mx[m] = z[m];
    for (int v = 1; v < V; ++v)
        for (int m = 0; m < tm; ++m) mx[m] = std::max(mx[m], z[(long)v * TILE + m]);
    for (int v = 0; v < V; ++v)
        for (int m = 0; m < tm; ++m) e[(long)v * TILE + m] = z[(long)v * TILE + m] - mx[m];
    if (tm == TILE) vexp(e, (long)V * TILE);
    else for (int v = 0; v < V; ++v) vexp(e + (long)v * TILE, tm);
    for (int m = 0; m < tm; ++m) s[m] = 0;
    for (int v = 0; v < V; ++v)
        for (int m = 0; m < tm; ++m) s[m] += e[(long)v * TILE + m];
    T* d = w.d0.data();
    if (!p.brier) {
        T* ls = pr;  // log s, through the vector math
        for (int m = 0; m < tm; ++m) ls[m] = s[m];
        vlog(ls, tm);
        for (int m = 0; m < tm; ++m) part0 += nr[m] * (ls[m] + mx[m]);
        for (int v = 0; v < V; ++v) {
            const T* zv = z + (long)v * TILE;
            const T* qv = qr + (long)v * M;
            const T* ev = e + (long)v * TILE;
            T* dv = d + (long)v * TILE;
            for (int m = 0; m < tm; ++m) {
                part1 += zv[m] * qv[m];
                dv[m] = (nr[m] * (ev[m] / s[m]) - qv[m]) * invN;
            }
        }
    } else {
        for (int m = 0; m < tm; ++m) pr[m] = 0;
        for (int v = 0; v < V; ++v) {
            const T* qv = qr + (long)v * M;
            T* ev = e + (long)v * TILE;  // becomes p
            T* dv = d + (long)v * TILE;  // holds r
            for (int m = 0; m < tm; ++m) {
                const T pv = ev[m] / s[m];
                const T r = nr[m] * pv - qv[m];
                ev[m] = pv;
                dv[m] = r;
                part0 += pv * r;
                part1 += pv * qv[m];
                pr[m] += pv * r;
            }
        }
        for (int v = 0; v < V; ++v) {
            const T* pv = e + (long)v * TILE;
            T* dv = d + (long)v * TILE;
            for (int m = 0; m < tm; ++m) dv[m] = T(2) * pv[m] * (dv[m] - pr[m]) * invN;
        }
    }
    // backward: dW_l[i, j] += <h_{l-1}[i], delta_l[j]>, db_l[j] += sum delta_l[j],
    // delta_{l-1} = (W_l delta_l) * (1 - h_{l-1}^2)
    T* dn = w.d1.data();
    for (int l = L - 1; l >= 0; --l) {
        const int n_in = p.sizes[l], n_out = p.sizes[l + 1];
        const T* W = theta + w.offW[l];
        T* gW = w.g.data() + w.offW[l];
        T* gb = w.g.data() + w.offb[l];
        long off = 0;
        for (int k = 1; k < l; ++k) off += (long)p.sizes[k] * TILE;
        const T* hp = l == 0 ? x + m0 : w.h.data() + off;
        const long hp_ld = l == 0 ? M : TILE;
        for (int j = 0; j < n_out; ++j) {
            const T* dj = d + (long)j * TILE;
            T acc = 0;
            for (int m = 0; m < tm; ++m) acc += dj[m];
            gb[j] += acc;
        }
        for (int i = 0; i < n_in; ++i) dots(gW + (long)i * n_out, hp + i * hp_ld, d, TILE, n_out, tm);
        if (l > 0) {
            for (int i = 0; i < n_in; ++i) {
                T* di = dn + (long)i * TILE;
                combine(di, T(0), W + (long)i * n_out, 1, d, TILE, n_out, tm);
                const T* hi = hp + i * hp_ld;
                for (int m = 0; m < tm; ++m) di[m] *= T(1) - hi[m] * hi[m];
            }
            std::swap(d, dn);
        }
    }
}

// L(theta) of one copy, with dL/dtheta written to w.g (PopulationMLP's formulas), tile by tile.
template <typename T>
T loss_and_gradient(const MesastackProblem& p, const T* theta, const T* x, const T* n, const T* q, Work<T>& w) {
    const int M = p.M;
    std::fill(w.g.begin(), w.g.end(), T(0));
    T part0 = 0, part1 = 0;  // cross-entropy: sum n lse, sum <Q, z>; Brier: sum <p, r>, sum <p, Q>
    for (int m0 = 0; m0 < M; m0 += TILE) {
        tile(p, theta, x, n, q, w, m0, std::min(TILE, M - m0), part0, part1);
    }
    const T invN = T(1) / T(p.N);
    if (!p.brier) return (part0 - part1) * invN;
    return (part0 - part1 + T(p.q_const)) * invN;
}

// S steps of copies lo .. hi - 1 (the rules of train_blocks); rec is [S, 3, K].
template <typename T>
void run_copies(const MesastackProblem& p, int K, int lo, int hi, int S, const T* lrs, T* theta, const T* scale,
                uint8_t* inactive, T* limit, T R, T* rec) {
    Work<T> w;
    prepare(p, w);
    const long P = p.params;
    for (int k = lo; k < hi; ++k) {
        T* th = theta + k * P;
        const T* x = static_cast<const T*>(p.x) + k * p.x_stride;
        const T* n = static_cast<const T*>(p.n) + k * p.nq_stride * p.M;
        const T* q = static_cast<const T*>(p.q) + k * p.nq_stride * (long)p.sizes[p.layers] * p.M;
        for (int s = 0; s < S; ++s) {
            const T Lk = loss_and_gradient(p, th, x, n, q, w);
            T g2 = 0, g1 = 0;
            for (long i = 0; i < P; ++i) {
                g2 += w.g[i] * w.g[i];
                g1 += std::abs(w.g[i]);
            }
            g2 = std::sqrt(g2);
            T* row = rec + (long)s * 3 * K;
            row[k] = Lk;
            row[K + k] = g2;
            row[2 * K + k] = g1;
            if (std::isnan(limit[k])) limit[k] = Lk + R * std::max(std::abs(Lk), T(1));
            const bool bad = !std::isfinite(Lk) || Lk > limit[k] || (p.watch_g && !std::isfinite(g2));
            if (bad) inactive[k] = 1;
            if (!inactive[k]) {
                const T lr = lrs[s], sk = scale[k];
                for (long i = 0; i < P; ++i) th[i] -= lr * (w.g[i] * sk);
            }
        }
    }
}

// Copies lo .. hi - 1 of K, split over `threads` threads in contiguous ranges (a copy's numbers whatever the split).
template <typename T>
void run(const MesastackProblem* p, int K, int lo, int hi, int S, const T* lrs, T* theta, const T* scale,
         uint8_t* inactive, T* limit, T R, T* rec, int threads) {
    const long n = hi - lo;
    mesastack::split(n, n, 1L, threads, [=](long a, long b) {
        run_copies(*p, K, lo + (int)a, lo + (int)b, S, lrs, theta, scale, inactive, limit, R, rec);
    });
}

}  // namespace

extern "C" {

// S steps of copies lo .. hi - 1 of K: theta [K, P], scale, inactive, limit [K] and rec [S, 3, K] are the whole
// population's (copy k's entries at k); lrs [S]. Returns 0, or 1 when a buffer could not be allocated (no
// exception crosses into Python).
int mesastack_steps_f64(const MesastackProblem* p, int K, int lo, int hi, int S, const double* lrs, double* theta,
                        const double* scale, uint8_t* inactive, double* limit, double R, double* rec, int threads) {
    return mesastack::guarded([&] { run<double>(p, K, lo, hi, S, lrs, theta, scale, inactive, limit, R, rec, threads); });
}

int mesastack_steps_f32(const MesastackProblem* p, int K, int lo, int hi, int S, const float* lrs, float* theta,
                        const float* scale, uint8_t* inactive, float* limit, double R, float* rec, int threads) {
    return mesastack::guarded(
        [&] { run<float>(p, K, lo, hi, S, lrs, theta, scale, inactive, limit, (float)R, rec, threads); });
}

int mesastack_kernel_version() { return 2; }

}  // extern "C"

#endif  // MESASTACK_VECTOR_MATH
