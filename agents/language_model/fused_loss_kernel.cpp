// The softmax cross-entropy of a population MLP's logits and its delta, in one pass over the logits.
//
// agents/language_model/fused_loss.py. Copy k's logits z_k [V, M] are feature-major (row v holds token v's
// logit for every input row m, contiguous); n [M] holds the examples of each input row, Q [V, M] the summed
// targets (shared by the copies, or one pair per copy). For copy k (the engine's cross_entropy):
//   lse_m    = max_v z[v, m] + log sum_v exp(z[v, m] - max_v z[v, m])
//   L_k      = inv_n * (sum_m n_m lse_m - sum_{v, m} Q[v, m] z[v, m])
//   delta    = z' written in place of the engine's buffer: n_m exp(z[v, m] - max) / sum_v exp(...) - Q[v, m]
// The columns are taken in chunks of C: the chunk's rows stay in the L1 and L2 caches from the max through
// the delta, where torch's eight separate passes each stream the whole [K, V, M] block. Each (copy, chunk)
// is computed start to end by one thread, its sums taken in double; L_k adds copy k's chunk sums in chunk
// order after every chunk is done, so a copy's numbers do not depend on K or on the thread count.

#include <algorithm>
#include <cmath>
#include <vector>

#include "../guarded.h"
#include "../row_split.h"
#include "../vector_math.h"

#ifndef MESASTACK_VECTOR_MATH  // the vector math compile (-ffast-math) gives vector_math.h's exp and log loops only

namespace {

using mesastack::vexp;
using mesastack::vlog;

constexpr long C = 256;  // columns a chunk: V rows of C stay in cache from the max through the delta

// Copy k's chunk of columns m0 .. m0 + w - 1: its delta written, its share of sum n lse - sum Q z returned.
template <typename T>
double chunk(long V, long M, long m0, long w, const T* __restrict zk, const T* __restrict qk,
             const T* __restrict nk, T* __restrict dk) {
    T mx[C], s[C], f[C];
    for (long i = 0; i < w; ++i) mx[i] = zk[m0 + i];
    for (long v = 1; v < V; ++v) {
        const T* __restrict row = zk + v * M + m0;
        for (long i = 0; i < w; ++i) mx[i] = row[i] > mx[i] ? row[i] : mx[i];  // std::max does not vectorize here
    }
    double qz = 0.0;
    std::fill(s, s + w, T(0));
    for (long v = 0; v < V; ++v) {
        const T* __restrict row = zk + v * M + m0;
        const T* __restrict qrow = qk + v * M + m0;
        T* __restrict drow = dk + v * M + m0;
        for (long i = 0; i < w; ++i) {
            qz += (double)qrow[i] * (double)row[i];
            drow[i] = row[i] - mx[i];
        }
        vexp(drow, w);
        for (long i = 0; i < w; ++i) s[i] += drow[i];
    }
    for (long i = 0; i < w; ++i) f[i] = s[i];
    vlog(f, w);
    double nl = 0.0;
    for (long i = 0; i < w; ++i) {
        nl += (double)nk[m0 + i] * (double)(f[i] + mx[i]);
        f[i] = nk[m0 + i] / s[i];
    }
    for (long v = 0; v < V; ++v) {
        const T* __restrict qrow = qk + v * M + m0;
        T* __restrict drow = dk + v * M + m0;
        for (long i = 0; i < w; ++i) drow[i] = drow[i] * f[i] - qrow[i];
    }
    return nl - qz;
}

template <typename T>
void fused_loss(long K, long V, long M, const T* z, const T* q, const T* n, int per_copy, T inv_n, T* delta, T* L,
                int threads) {
    const long nc = (M + C - 1) / C;  // chunks of one copy
    std::vector<double> part(K * nc);
    double* parts = part.data();
    // exp and log make a column dearer than the one-hot kernel's: threads pay from 2^17 elements
    mesastack::split(K * nc, K * V * M, 1L << 17, threads, [=](long lo, long hi) {
        for (long u = lo; u < hi; ++u) {
            const long k = u / nc, m0 = (u % nc) * C, w = std::min(C, M - m0);
            const long kq = per_copy ? k : 0;
            parts[u] = chunk<T>(V, M, m0, w, z + k * V * M, q + kq * V * M, n + kq * M, delta + k * V * M);
        }
    });
    for (long k = 0; k < K; ++k) {
        double total = 0.0;
        for (long c = 0; c < nc; ++c) total += parts[k * nc + c];
        L[k] = (T)((double)inv_n * total);
    }
}

}  // namespace

extern "C" {

// z, delta [K, V, M] contiguous and apart (they must not overlap); q [Kq, V, M] and
// n [Kq, M] contiguous, Kq = K when per_copy, else 1; L [K]. Returns 0, or 1 when a buffer could not be allocated.
int mesastack_fused_loss_f64(long K, long V, long M, const double* z, const double* q, const double* n, int per_copy,
                             double inv_n, double* delta, double* L, int threads) {
    return mesastack::guarded([&] { fused_loss<double>(K, V, M, z, q, n, per_copy, inv_n, delta, L, threads); });
}

int mesastack_fused_loss_f32(long K, long V, long M, const float* z, const float* q, const float* n, int per_copy,
                             float inv_n, float* delta, float* L, int threads) {
    return mesastack::guarded([&] { fused_loss<float>(K, V, M, z, q, n, per_copy, inv_n, delta, L, threads); });
}

}  // extern "C"

#endif  // MESASTACK_VECTOR_MATH
