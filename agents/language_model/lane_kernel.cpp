// Blocks of full-batch gradient-descent steps of the MLP language model, copies side by side in vector lanes.
//
// The same step and loop rules as kernel.cpp (PopulationMLP's formulas, train_blocks's rules), but where
// kernel.cpp runs one copy at a time and vectorizes over a copy's columns, this runs G copies at once, one
// copy a lane of a G-wide vector (G = 64 bytes: 16 floats or 8 doubles), with the parameters, activations
// and gradients of a group of copies stored lane-interleaved ([P][G], [n][TL][G]). Every operation is lane by
// lane, so a copy's numbers never depend on the other copies in its group, on K, on where the groups start,
// on the split over threads or on the block; and there are no sums across a vector's lanes (the small widths
// of the tiny model leave kernel.cpp's per-copy products short rows and horizontal sums). The inputs' nonzero
// entries are taken column by column in the forward pass and row by row (within a tile) in the first layer's
// gradient (the language model's one-hot contexts: the first layer is then a few additions per column). Sums
// run in registers, 8 units at once, over blocks of a compile-time width (a width known only at run time left
// them on the stack). Cross-entropy only, and inputs and targets shared by the copies. Python side:
// agents/language_model/lane_kernel.py.
//
// Compiled twice, as kernel.cpp (agents/native.py): with -DMESASTACK_VECTOR_MATH and -ffast-math for
// vector_math.h's element-wise tanh, exp and log loops only (glibc's libmvec), and without for the rest.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

#include "../guarded.h"
#include "../row_split.h"
#include "../vector_math.h"
#include "problem.h"

#ifndef MESASTACK_VECTOR_MATH

namespace {

// Buffers of whole vectors (a multiple of 16 floats or 8 doubles): libmvec's vector forms on every element.
using mesastack::vexp;
using mesastack::vlog;
using mesastack::vtanh;

template <typename T>
struct Group {
    static constexpr int G = 64 / sizeof(T);  // copies a group: 16 floats or 8 doubles
    typedef T vec __attribute__((vector_size(64)));
};

// Columns (merged contexts) a tile: a group's activations of a tile stay in the caches. A short last tile runs
// as one of the fewest multiple of 4 columns that hold it (its loops over the tile's width shorter).
constexpr int TILE = 16;

template <typename T>
inline typename Group<T>::vec splat(T a) {
    typename Group<T>::vec v;
    for (int c = 0; c < Group<T>::G; ++c) v[c] = a;
    return v;
}

template <typename T>
struct Work {  // one thread's buffers
    typedef typename Group<T>::vec vec;
    std::vector<vec> th, g, h, z, e, d0, d1, col;
    std::vector<long> offW, offb;
    // the inputs' nonzeros column by column: column m's at start[m] .. start[m + 1] - 1 of rows and vals
    std::vector<int> start, rows;
    std::vector<T> vals;
    // the same row by row within each tile: tile t's row i at tstart[t (D + 1) + i] .. of tcols (its columns
    // relative to the tile, ascending) and tvals
    std::vector<int> tstart, tcols;
    std::vector<T> tvals;
};

template <typename T>
void prepare(const MesastackProblem& p, Work<T>& w) {
    const int L = p.layers, M = p.M, D = p.sizes[0];
    int widest = 0, hidden = 0;
    for (int l = 1; l <= L; ++l) widest = std::max(widest, p.sizes[l]);
    for (int l = 1; l < L; ++l) hidden += p.sizes[l];
    typedef typename Group<T>::vec vec;
    w.th.assign(p.params, vec{});
    w.g.assign(p.params, vec{});
    w.h.assign((long)std::max(hidden, 1) * TILE, vec{});
    w.z.assign((long)p.sizes[L] * TILE, vec{});
    w.e.assign((long)p.sizes[L] * TILE, vec{});
    w.d0.assign((long)widest * TILE, vec{});
    w.d1.assign((long)widest * TILE, vec{});
    w.col.assign(3 * TILE, vec{});
    w.offW.resize(L);
    w.offb.resize(L);
    long off = 0;
    for (int l = 0; l < L; ++l) {
        w.offW[l] = off;
        off += (long)p.sizes[l] * p.sizes[l + 1];
        w.offb[l] = off;
        off += p.sizes[l + 1];
    }
    const T* x = static_cast<const T*>(p.x);  // [D, M], shared
    w.start.assign(M + 1, 0);
    for (int i = 0; i < D; ++i)
        for (int m = 0; m < M; ++m) w.start[m + 1] += x[(long)i * M + m] != T(0);
    for (int m = 0; m < M; ++m) w.start[m + 1] += w.start[m];
    w.rows.resize(w.start[M]);
    w.vals.resize(w.start[M]);
    std::vector<int> fill(w.start.begin(), w.start.end() - 1);
    for (int i = 0; i < D; ++i)  // rows in increasing order within each column
        for (int m = 0; m < M; ++m) {
            const T v = x[(long)i * M + m];
            if (v != T(0)) {
                w.rows[fill[m]] = i;
                w.vals[fill[m]++] = v;
            }
        }
    const int tiles = (M + TILE - 1) / TILE;
    w.tstart.assign((long)tiles * (D + 1), 0);
    w.tcols.clear();
    w.tvals.clear();
    for (int t = 0; t < tiles; ++t)
        for (int i = 0; i < D; ++i) {
            w.tstart[(long)t * (D + 1) + i] = (int)w.tcols.size();
            for (int m = t * TILE; m < std::min(M, (t + 1) * TILE); ++m) {
                const T v = x[(long)i * M + m];
                if (v != T(0)) {
                    w.tcols.push_back(m - t * TILE);
                    w.tvals.push_back(v);
                }
            }
            w.tstart[(long)t * (D + 1) + i + 1] = (int)w.tcols.size();
        }
}

// out[r so] = init[r] + sum_e vals[e] src[idx[e] se + r sr] for r < n, the terms in the order of e (e0 .. e1 - 1):
// a sparse input's share of a layer, 8 units at once in registers (a block's width known at compile time: one
// known only at run time left the sums on the stack), then the rest one by one. out may be init.
template <typename T>
inline void sparse_sums(typename Group<T>::vec* out, long so, const typename Group<T>::vec* init,
                        const typename Group<T>::vec* src, long se, long sr, const int* idx, const T* vals, int e0, int e1,
                        int n) {
    typedef typename Group<T>::vec vec;
    constexpr int JB = 8;
    int j0 = 0;
    for (; j0 + JB <= n; j0 += JB) {
        vec a[JB];
        for (int r = 0; r < JB; ++r) a[r] = init[j0 + r];
        for (int e = e0; e < e1; ++e) {
            const T v = vals[e];
            const vec* row = src + (long)idx[e] * se + (long)j0 * sr;
            for (int r = 0; r < JB; ++r) a[r] += v * row[(long)r * sr];
        }
        for (int r = 0; r < JB; ++r) out[(long)(j0 + r) * so] = a[r];
    }
    for (int j = j0; j < n; ++j) {
        vec a = init[j];
        for (int e = e0; e < e1; ++e) a += vals[e] * src[(long)idx[e] * se + (long)j * sr];
        out[(long)j * so] = a;
    }
}

// One tile of columns m0 .. m0 + tm - 1 for the group's parameters w.th: its share of the cross-entropy's two
// sums (part0 += sum_m n_m lse_m, part1 += sum_m <Q_m, z_m>) and of the gradient (added to w.g).
template <typename T, int TL>
void tile(const MesastackProblem& p, Work<T>& w, int m0, int tm, typename Group<T>::vec& part0,
          typename Group<T>::vec& part1) {
    typedef typename Group<T>::vec vec;
    constexpr int G = Group<T>::G;
    const int L = p.layers, M = p.M, V = p.sizes[L];
    const vec* th = w.th.data();
    vec* g = w.g.data();
    const T* nr = static_cast<const T*>(p.n) + m0;
    const T* qr = static_cast<const T*>(p.q) + m0;  // row v at qr + v M
    const vec invN = splat(T(1) / T(p.N));
    // forward. The first layer over the column's nonzero inputs: z_0[j] = b_0[j] + sum_i W_0[i, j] x[i]
    // (i ascending); then z_l[j] = b_l[j] + sum_i W_l[i, j] h_{l-1}[i]; h_l = tanh(z_l) on hidden layers.
    vec* hbuf = w.h.data();
    const vec* hin = nullptr;
    for (int l = 0; l < L; ++l) {
        const int n_in = p.sizes[l], n_out = p.sizes[l + 1];
        const vec* W = th + w.offW[l];  // W[i n_out + j]
        const vec* b = th + w.offb[l];
        vec* z = l < L - 1 ? hbuf : w.z.data();  // z[j TL + m]
        if (l == 0) {
            for (int m = 0; m < tm; ++m)  // column m: z_0[j, m] = b_0[j] + sum over its nonzeros x[i, m] W_0[i, j]
                sparse_sums<T>(z + m, TL, b, W, n_out, 1, w.rows.data(), w.vals.data(), w.start[m0 + m],
                               w.start[m0 + m + 1], n_out);
        } else {
            for (int j = 0; j < n_out; ++j) {
                vec a[TL];
                for (int m = 0; m < TL; ++m) a[m] = b[j];
                for (int i = 0; i < n_in; ++i) {
                    const vec wij = W[(long)i * n_out + j];
                    const vec* hi = hin + (long)i * TL;
                    for (int m = 0; m < TL; ++m) a[m] += wij * hi[m];
                }
                for (int m = 0; m < TL; ++m) z[(long)j * TL + m] = a[m];
            }
        }
        if (l < L - 1) {
            vtanh(reinterpret_cast<T*>(z), (long)n_out * TL * G);
            hin = z;
            hbuf += (long)n_out * TL;
        }
    }
    // softmax over the vocabulary, the two sums and the loss's delta (divided by N)
    const vec* z = w.z.data();
    vec* e = w.e.data();
    vec* mx = w.col.data();
    vec* s = mx + TL;
    vec* ls = s + TL;
    for (int m = 0; m < TL; ++m) mx[m] = z[m];
    for (int v = 1; v < V; ++v)
        for (int m = 0; m < TL; ++m) {
            const vec a = z[(long)v * TL + m];
            mx[m] = a > mx[m] ? a : mx[m];
        }
    for (int v = 0; v < V; ++v)
        for (int m = 0; m < TL; ++m) e[(long)v * TL + m] = z[(long)v * TL + m] - mx[m];
    vexp(reinterpret_cast<T*>(e), (long)V * TL * G);
    for (int m = 0; m < TL; ++m) s[m] = vec{};
    for (int v = 0; v < V; ++v)
        for (int m = 0; m < TL; ++m) s[m] += e[(long)v * TL + m];
    for (int m = 0; m < TL; ++m) ls[m] = m < tm ? s[m] : splat(T(1));  // columns past the tile's end: log 1
    vlog(reinterpret_cast<T*>(ls), (long)TL * G);
    vec* d = w.d0.data();
    vec zq[TL] = {};  // <Q_m, z_m>, column by column (v ascending)
    for (int m = 0; m < tm; ++m) {
        part0 += nr[m] * (ls[m] + mx[m]);
        s[m] = nr[m] / s[m];  // n_m / sum exp: e n / s is n_m softmax
    }
    for (int v = 0; v < V; ++v)
        for (int m = 0; m < tm; ++m) {
            const T qv = qr[(long)v * M + m];
            zq[m] += z[(long)v * TL + m] * qv;
            d[(long)v * TL + m] = (e[(long)v * TL + m] * s[m] - qv) * invN;
        }
    for (int m = 0; m < tm; ++m) part1 += zq[m];
    for (int v = 0; v < V; ++v)  // columns past the tile's end contribute nothing
        for (int m = tm; m < TL; ++m) d[(long)v * TL + m] = vec{};
    // backward: dW_l[i, j] += sum_m h_{l-1}[i, m] delta_l[j, m], db_l[j] += sum_m delta_l[j, m] (m ascending),
    // delta_{l-1}[i] = (sum_j W_l[i, j] delta_l[j]) (1 - h_{l-1}[i]^2)
    vec* dn = w.d1.data();
    for (int l = L - 1; l >= 0; --l) {
        const int n_in = p.sizes[l], n_out = p.sizes[l + 1];
        const vec* W = th + w.offW[l];
        vec* gW = g + w.offW[l];
        vec* gb = g + w.offb[l];
        for (int j = 0; j < n_out; ++j) {
            const vec* dj = d + (long)j * TL;
            vec a = gb[j];
            for (int m = 0; m < tm; ++m) a += dj[m];
            gb[j] = a;
        }
        if (l == 0) {  // row by row, over the tile's nonzeros of each row
            const int* st = w.tstart.data() + (long)(m0 / TILE) * (n_in + 1);
            for (int i = 0; i < n_in; ++i)  // row i: dW_0[i, j] += sum over its nonzeros x[i, m] delta_0[j, m]
                if (st[i] < st[i + 1])
                    sparse_sums<T>(gW + (long)i * n_out, 1, gW + (long)i * n_out, d, 1, TL, w.tcols.data(),
                                   w.tvals.data(), st[i], st[i + 1], n_out);
            break;
        }
        long off = 0;
        for (int k = 1; k < l; ++k) off += (long)p.sizes[k] * TL;
        const vec* hp = w.h.data() + off;  // h_{l-1}
        for (int i = 0; i < n_in; ++i) {
            const vec* hi = hp + (long)i * TL;
            constexpr int JB = 8;  // columns of dW_l at once in registers (independent sums)
            vec* gr = gW + (long)i * n_out;
            int j0 = 0;
            for (; j0 + JB <= n_out; j0 += JB) {
                vec a[JB];
                for (int r = 0; r < JB; ++r) a[r] = gr[j0 + r];
                for (int m = 0; m < tm; ++m) {
                    const vec h = hi[m];
                    for (int r = 0; r < JB; ++r) a[r] += h * d[(long)(j0 + r) * TL + m];
                }
                for (int r = 0; r < JB; ++r) gr[j0 + r] = a[r];
            }
            for (int j = j0; j < n_out; ++j) {
                vec a = gr[j];
                for (int m = 0; m < tm; ++m) a += hi[m] * d[(long)j * TL + m];
                gr[j] = a;
            }
            vec a[TL] = {};
            for (int j = 0; j < n_out; ++j) {
                const vec wij = W[(long)i * n_out + j];
                const vec* dj = d + (long)j * TL;
                for (int m = 0; m < TL; ++m) a[m] += wij * dj[m];
            }
            vec* di = dn + (long)i * TL;
            for (int m = 0; m < TL; ++m) di[m] = a[m] * (splat(T(1)) - hi[m] * hi[m]);
        }
        std::swap(d, dn);
    }
}

// S steps of the copies lo .. hi - 1 (at most G), side by side (the rules of train_blocks); rec is [S, 3, K].
template <typename T>
void run_group(const MesastackProblem& p, Work<T>& w, int K, int lo, int hi, int S, const T* lrs, T* theta,
               const T* scale, uint8_t* inactive, T* limit, T R, T* rec) {
    typedef typename Group<T>::vec vec;
    const long P = p.params;
    const int n = hi - lo, M = p.M;
    for (long i = 0; i < P; ++i) {  // lanes past hi hold zeros: finite, never recorded, never moved
        vec v = {};
        for (int c = 0; c < n; ++c) v[c] = theta[(long)(lo + c) * P + i];
        w.th[i] = v;
    }
    vec sk = {};
    for (int c = 0; c < n; ++c) sk[c] = scale[lo + c];
    for (int s = 0; s < S; ++s) {
        std::fill(w.g.begin(), w.g.end(), vec{});
        vec part0 = {}, part1 = {};
        for (int m0 = 0; m0 < M; m0 += TILE) {
            const int tm = std::min(TILE, M - m0);
            static_assert(TILE == 16, "the widths below are TILE's multiples of 4");
            if (tm > 12) tile<T, TILE>(p, w, m0, tm, part0, part1);
            else if (tm > 8) tile<T, 12>(p, w, m0, tm, part0, part1);
            else if (tm > 4) tile<T, 8>(p, w, m0, tm, part0, part1);
            else tile<T, 4>(p, w, m0, tm, part0, part1);
        }
        const vec Lv = (part0 - part1) * splat(T(1) / T(p.N));
        vec g2 = {}, g1 = {};
        for (long i = 0; i < P; ++i) {
            const vec gi = w.g[i];
            g2 += gi * gi;
            g1 += gi < 0 ? -gi : gi;
        }
        T* row = rec + (long)s * 3 * K;
        vec step = {}, moving = {};  // moving: 1 in the lanes of active copies, 0 elsewhere
        for (int c = 0; c < n; ++c) {
            const int k = lo + c;
            const T Lk = Lv[c], g2k = std::sqrt(g2[c]);
            row[k] = Lk;
            row[K + k] = g2k;
            row[2 * K + k] = g1[c];
            if (std::isnan(limit[k])) limit[k] = Lk + R * std::max(std::abs(Lk), T(1));
            if (!std::isfinite(Lk) || Lk > limit[k] || (p.watch_g && !std::isfinite(g2k))) inactive[k] = 1;
            step[c] = lrs[s];
            moving[c] = inactive[k] ? T(0) : T(1);
        }
        // theta - lr (g s_k) for an active copy; an inactive one (and every lane past hi) stays put
        for (long i = 0; i < P; ++i) {
            const vec upd = w.th[i] - step * (w.g[i] * sk);
            w.th[i] = moving != 0 ? upd : w.th[i];
        }
    }
    for (long i = 0; i < P; ++i)
        for (int c = 0; c < n; ++c) theta[(long)(lo + c) * P + i] = w.th[i][c];
}

template <typename T>
void run(const MesastackProblem* p, int K, int lo, int hi, int S, const T* lrs, T* theta, const T* scale,
         uint8_t* inactive, T* limit, T R, T* rec, int threads) {
    constexpr int G = Group<T>::G;
    const long groups = (hi - lo + G - 1) / G;
    const long work = (long)(hi - lo) * S * p->M * p->params;
    mesastack::split(groups, work, 1L << 22, threads, [=](long a, long b) {
        Work<T> w;
        prepare(*p, w);
        for (long gi = a; gi < b; ++gi) {
            const int g0 = lo + (int)(gi * G), g1 = std::min(hi, g0 + G);
            run_group(*p, w, K, g0, g1, S, lrs, theta, scale, inactive, limit, R, rec);
        }
    });
}

}  // namespace

extern "C" {

// S steps of copies lo .. hi - 1 of K, the arguments of kernel.cpp's mesastack_steps (theta [K, P], scale,
// inactive, limit [K], rec [S, 3, K] the whole population's; lrs [S]). Returns 0, or 1 when a buffer could not
// be allocated (no exception crosses into Python).
int mesastack_lane_steps_f64(const MesastackProblem* p, int K, int lo, int hi, int S, const double* lrs, double* theta,
                             const double* scale, uint8_t* inactive, double* limit, double R, double* rec, int threads) {
    return mesastack::guarded([&] { run<double>(p, K, lo, hi, S, lrs, theta, scale, inactive, limit, R, rec, threads); });
}

int mesastack_lane_steps_f32(const MesastackProblem* p, int K, int lo, int hi, int S, const float* lrs, float* theta,
                             const float* scale, uint8_t* inactive, float* limit, double R, float* rec, int threads) {
    return mesastack::guarded(
        [&] { run<float>(p, K, lo, hi, S, lrs, theta, scale, inactive, limit, (float)R, rec, threads); });
}

int mesastack_lane_kernel_version() { return 1; }

}  // extern "C"

#endif  // MESASTACK_VECTOR_MATH
