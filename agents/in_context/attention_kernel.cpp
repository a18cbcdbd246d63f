// The one-layer linear self-attention's query loss and the gradients of its two products, task by task.
//
// agents/in_context/attention.py (LinearSelfAttention._loss_and_gradient_one) for K copies with their own
// tasks [K, B, ...]: with z_n = [x_n, y_n] (D = d + 1), u = (P W_V)[D-1, :], R = (W_K^T W_Q)[:, :d],
//   a_n = u . z_n,  b = R x_q,  c_n = z_n . b,  y_hat = -(1/N) sum_n a_n c_n,  r = y_hat - y_q,
//   loss = (1/2) mean_b r^2,  e = r / B,
//   du = -(1/N) sum_b e_b sum_n c_n z_n,   dR = -(1/N) sum_b e_b (sum_n a_n z_n) x_q^T.
// Eight tasks at a time, one per vector lane, in float64 whatever the inputs' precision (float32 or
// float64); each lane sums its tasks, and the lanes' sums are added in lane order at the end of a copy. Python side: agents/in_context/attention_kernel.py
// (u and R in, the four matrices' gradients assembled there from du and dR).

#include <cstdint>
#include <new>
#include <vector>

#ifndef MESASTACK_VECTOR_MATH

namespace {

constexpr int L = 8;  // tasks side by side, one per lane of a vector of 8 doubles (GCC's and clang's vector types)
typedef double v8 __attribute__((vector_size(8 * sizeof(double))));

template <typename T>
void copies(long K, long B, long N, long d, const T* X, const T* y, const T* xq, const T* yq, const double* u,
            const double* R, double* loss, double* du, double* dR) {
    const long D = d + 1;
    std::vector<v8> z(N * D), q(d), bq(D), sa(D), sc(D), dul(D), dRl(D * d);
    const v8 zero = {0, 0, 0, 0, 0, 0, 0, 0};
    for (long k = 0; k < K; ++k) {
        const double* uk = u + k * D;
        const double* Rk = R + k * D * d;
        for (auto& x : dul) x = zero;
        for (auto& x : dRl) x = zero;
        v8 tot = zero;
        for (long b0 = 0; b0 < B; b0 += L) {
            v8 yql = zero, mask = zero;
            if (b0 + L <= B) {  // eight whole tasks: their tokens transposed to lanes (loads that vectorize)
                const T* Xb = X + (k * B + b0) * N * d;
                const T* yb = y + (k * B + b0) * N;
                const T* qb = xq + (k * B + b0) * d;
                for (long n = 0; n < N; ++n) {
                    for (long j = 0; j < d; ++j) {
                        v8 v;
                        for (int l = 0; l < L; ++l) v[l] = static_cast<double>(Xb[(l * N + n) * d + j]);
                        z[n * D + j] = v;
                    }
                    v8 v;
                    for (int l = 0; l < L; ++l) v[l] = static_cast<double>(yb[l * N + n]);
                    z[n * D + d] = v;
                }
                for (long j = 0; j < d; ++j) {
                    v8 v;
                    for (int l = 0; l < L; ++l) v[l] = static_cast<double>(qb[l * d + j]);
                    q[j] = v;
                }
                for (int l = 0; l < L; ++l) {
                    yql[l] = static_cast<double>(yq[k * B + b0 + l]);
                    mask[l] = 1.0;
                }
            } else {
                for (int l = 0; l < L; ++l) {  // the last tasks, lane by lane (a lane past B: zeros, masked out)
                    const long b = b0 + l;
                    const bool in = b < B;
                    const long t = k * B + (in ? b : 0);
                    mask[l] = in ? 1.0 : 0.0;
                    for (long n = 0; n < N; ++n) {
                        for (long j = 0; j < d; ++j) z[n * D + j][l] = in ? static_cast<double>(X[(t * N + n) * d + j]) : 0.0;
                        z[n * D + d][l] = in ? static_cast<double>(y[t * N + n]) : 0.0;
                    }
                    for (long j = 0; j < d; ++j) q[j][l] = in ? static_cast<double>(xq[t * d + j]) : 0.0;
                    yql[l] = in ? static_cast<double>(yq[t]) : 0.0;
                }
            }
            for (long i = 0; i < D; ++i) {  // b = R x_q
                v8 s = zero;
                for (long j = 0; j < d; ++j) s += Rk[i * d + j] * q[j];
                bq[i] = s;
            }
            for (long i = 0; i < D; ++i) sa[i] = sc[i] = zero;
            v8 ac = zero;
            for (long n = 0; n < N; ++n) {
                const v8* zn = z.data() + n * D;
                v8 an = zero, cn = zero;
                for (long i = 0; i < D; ++i) {
                    an += uk[i] * zn[i];
                    cn += zn[i] * bq[i];
                }
                ac += an * cn;
                for (long i = 0; i < D; ++i) {
                    sa[i] += an * zn[i];
                    sc[i] += cn * zn[i];
                }
            }
            const v8 r = (-ac / static_cast<double>(N) - yql) * mask;
            tot += r * r;
            const v8 f = -(r / static_cast<double>(B)) / static_cast<double>(N);
            for (long i = 0; i < D; ++i) {
                dul[i] += f * sc[i];
                const v8 fs = f * sa[i];
                for (long j = 0; j < d; ++j) dRl[i * d + j] += fs * q[j];
            }
        }
        double total = 0.0;  // the lanes' sums, added in lane order
        for (int l = 0; l < L; ++l) total += tot[l];
        loss[k] = 0.5 * total / static_cast<double>(B);
        for (long i = 0; i < D; ++i) {
            double s = 0.0;
            for (int l = 0; l < L; ++l) s += dul[i][l];
            du[k * D + i] = s;
        }
        for (long i = 0; i < D * d; ++i) {
            double s = 0.0;
            for (int l = 0; l < L; ++l) s += dRl[i][l];
            dR[k * D * d + i] = s;
        }
    }
}

}  // namespace

extern "C" {

// K copies, B tasks each, N context pairs of dimension d: X [K, B, N, d], y [K, B, N], xq [K, B, d], yq [K, B]
// (float32 when single is 1, else float64); u [K, D] and R [K, D, d] (float64). Writes loss [K], du [K, D] and
// dR [K, D, d] (float64). Returns 0, or 1 when a buffer could not be allocated.
int mesastack_lsa_loss_gradient(long K, long B, long N, long d, int single, const void* X, const void* y,
                                const void* xq, const void* yq, const double* u, const double* R, double* loss,
                                double* du, double* dR) {
    try {
        if (single)
            copies(K, B, N, d, static_cast<const float*>(X), static_cast<const float*>(y), static_cast<const float*>(xq),
                   static_cast<const float*>(yq), u, R, loss, du, dR);
        else
            copies(K, B, N, d, static_cast<const double*>(X), static_cast<const double*>(y),
                   static_cast<const double*>(xq), static_cast<const double*>(yq), u, R, loss, du, dR);
    } catch (const std::bad_alloc&) {
        return 1;
    }
    return 0;
}

int mesastack_attention_kernel_version() { return 1; }

}

#endif
