// The first layer of a population MLP whose inputs are one-hot rows, as gathers and scatters.
//
// agents/language_model/one_hot.py. Row m of the inputs has ones at the r features idx[0, m], ...,
// idx[r-1, m] and zeros elsewhere, so the first layer's product and its weight gradient need no
// multiplications: for copy k (W_k [D, H] input-major, b_k [H]), in the feature-major layout [K, H, M],
//   forward:  z[k, h, m] = scale * ((W_k[idx[0, m], h] + ... + W_k[idx[r-1, m], h]) + b_k[h]), or tanh of it
//   backward: dW_k[v, h] = alpha * sum over (m ascending, then j) with idx[j, m] = v of d[k, h, m],
//             db_k[h]    = alpha * sum_m d[k, h, m],
//             with d[k, h, m] first multiplied by (1 - y[k, h, m]^2) where the layer's output y = tanh(z) is given
//             (the tanh's derivative taken in the same pass, as torch's tanh_backward computes it).
// Each (k, h) row is computed start to end by one thread (blocks of a copy's rows side by side in vector
// lanes), in the same order whatever K, the split or the thread count, so a copy's numbers do not depend
// on them. The blocks are split over `threads` threads in contiguous ranges. A block's columns are taken a
// vector's width at a time and transposed in registers, so that its rows are written (forward) and read
// (backward) as whole vectors, not one element at a time: 1.3x to 1.6x faster, the same numbers bit for bit.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <new>
#include <vector>

#include "../guarded.h"
#include "../lanes.h"
#include "../row_split.h"
#include "../vector_math.h"

#ifndef MESASTACK_VECTOR_MATH  // the vector math compile (-ffast-math) gives vector_math.h's tanh loops only

namespace {

using mesastack::vtanh;

// Rows are taken in blocks of up to L hidden units of one copy, one unit per vector lane (mesastack::Lanes): each
// lane does what one row alone would, in the same order, so a block's numbers are each row's whatever the blocks are.
using mesastack::Lanes;
using mesastack::TRANSPOSED;
using mesastack::transpose;

template <typename T>
void forward(long K, long H, long D, long M, long r, const int32_t* idx, const T* W, long sW, const T* b, long sb,
             T scale, T* z, long sz, int act, int threads) {
    constexpr int L = Lanes<T>::L;
    typedef typename Lanes<T>::vec vec;
    const long nb = (H + L - 1) / L;  // blocks of one copy
    mesastack::split(K * nb, K * H * M, 1L << 20, threads, [=](long lo, long hi) {
        std::vector<vec> w(D);
        for (long blk = lo; blk < hi; ++blk) {
            const long k = blk / nb, h0 = (blk % nb) * L, n = std::min<long>(L, H - h0);
            const T* Wk = W + k * sW + h0;
            vec bh = {}, sc = {};
            for (long v = 0; v < D; ++v) {
                vec x = {};
                for (long i = 0; i < n; ++i) x[i] = Wk[v * H + i];
                w[v] = x;
            }
            for (long i = 0; i < n; ++i) bh[i] = b[k * sb + h0 + i];
            for (int i = 0; i < L; ++i) sc[i] = scale;
            T* zr = z + k * sz + h0 * M;
            const vec* wv = w.data();
            long m = 0;
            for (; TRANSPOSED && m + L <= M; m += L) {  // L columns at once, written row by row through a transpose
                vec s[L];
                for (int u = 0; u < L; ++u) {
                    s[u] = wv[idx[m + u]];
                    for (long j = 1; j < r; ++j) s[u] += wv[idx[j * M + m + u]];
                    s[u] = sc * (s[u] + bh);
                }
                transpose(s);
                for (long i = 0; i < n; ++i) mesastack::store(zr + i * M + m, s[i]);
            }
            for (; m < M; ++m) {
                vec s = wv[idx[m]];
                for (long j = 1; j < r; ++j) s += wv[idx[j * M + m]];
                s = sc * (s + bh);
                for (long i = 0; i < n; ++i) zr[i * M + m] = s[i];
            }
            if (act)
                for (long i = 0; i < n; ++i) vtanh(zr + i * M, M);  // the block's rows, still in cache
        }
    });
}

template <typename T>
void backward(long K, long H, long D, long M, long r, const int32_t* idx, const T* d, const T* y, long sy, T alpha,
              T* gW, long sW, T* gb, long sb, int threads) {
    constexpr int L = Lanes<T>::L;
    typedef typename Lanes<T>::vec vec;
    const long nb = (H + L - 1) / L;
    mesastack::split(K * nb, K * H * M * r, 1L << 20, threads, [=](long lo, long hi) {
        std::vector<vec> acc(D);
        for (long blk = lo; blk < hi; ++blk) {
            const long k = blk / nb, h0 = (blk % nb) * L, n = std::min<long>(L, H - h0);
            const T* dr = d + (k * H + h0) * M;
            const T* yr = y ? y + k * sy + h0 * M : nullptr;
            std::fill(acc.begin(), acc.end(), vec{});
            vec* a = acc.data();
            vec total = {};
            vec one;
            for (int i = 0; i < L; ++i) one[i] = T(1);
            long m = 0;
            for (; TRANSPOSED && m + L <= M; m += L) {  // L columns at once, read row by row through a transpose
                vec x[L];
                for (long i = 0; i < L; ++i) {
                    if (i < n) x[i] = mesastack::load(dr + i * M + m);
                    else x[i] = vec{};
                }
                if (yr)
                    for (long i = 0; i < n; ++i) {
                        const vec yi = mesastack::load(yr + i * M + m);
                        x[i] = x[i] * (one - yi * yi);
                    }
                transpose(x);
                for (int u = 0; u < L; ++u) {
                    total += x[u];
                    for (long j = 0; j < r; ++j) a[idx[j * M + m + u]] += x[u];
                }
            }
            for (; m < M; ++m) {
                vec x = {};
                for (long i = 0; i < n; ++i) x[i] = yr ? dr[i * M + m] * (T(1) - yr[i * M + m] * yr[i * M + m]) : dr[i * M + m];
                total += x;
                for (long j = 0; j < r; ++j) a[idx[j * M + m]] += x;
            }
            T* gWk = gW + k * sW + h0;
            for (long v = 0; v < D; ++v)
                for (long i = 0; i < n; ++i) gWk[v * H + i] = alpha * a[v][i];
            for (long i = 0; i < n; ++i) gb[k * sb + h0 + i] = alpha * total[i];
        }
    });
}

}  // namespace

extern "C" {

// forward: idx [r, M] (int32, each in [0, D)); W and b copy k's at W + k * sW, b + k * sb; copy k's z [H, M] at
// z + k * sz, rows contiguous; act = 1: tanh(z) written instead of z.
// backward: d [K, H, M] contiguous; y: null, or the tanh layer's output, copy k's [H, M] at y + k * sy, rows
// contiguous, whose derivative multiplies d; gW, gb as W, b. Each returns 0, or 1 when a buffer could not be allocated.
int mesastack_one_hot_forward_f64(long K, long H, long D, long M, long r, const int32_t* idx, const double* W, long sW,
                                  const double* b, long sb, double scale, double* z, long sz, int act, int threads) {
    return mesastack::guarded([&] { forward<double>(K, H, D, M, r, idx, W, sW, b, sb, scale, z, sz, act, threads); });
}

int mesastack_one_hot_forward_f32(long K, long H, long D, long M, long r, const int32_t* idx, const float* W, long sW,
                                  const float* b, long sb, float scale, float* z, long sz, int act, int threads) {
    return mesastack::guarded([&] { forward<float>(K, H, D, M, r, idx, W, sW, b, sb, scale, z, sz, act, threads); });
}

int mesastack_one_hot_backward_f64(long K, long H, long D, long M, long r, const int32_t* idx, const double* d,
                                   const double* y, long sy, double alpha, double* gW, long sW, double* gb, long sb,
                                   int threads) {
    return mesastack::guarded([&] { backward<double>(K, H, D, M, r, idx, d, y, sy, alpha, gW, sW, gb, sb, threads); });
}

int mesastack_one_hot_backward_f32(long K, long H, long D, long M, long r, const int32_t* idx, const float* d,
                                   const float* y, long sy, float alpha, float* gW, long sW, float* gb, long sb,
                                   int threads) {
    return mesastack::guarded([&] { backward<float>(K, H, D, M, r, idx, d, y, sy, alpha, gW, sW, gb, sb, threads); });
}

}  // extern "C"

#endif  // MESASTACK_VECTOR_MATH
