// torch's CPU generator (the Mersenne Twister, mt19937) drawn in bulk: the numbers of torch.rand (float64
// and float32) and torch.randn (float64), bit for bit, from the generator's own state.
//
// The state is torch.Generator.get_state()'s bytes (CPUGeneratorImplState): the seed (int64 at 0),
// left (int32 at 8), seeded (int32 at 12), next (uint64 at 16) and the 624 state words (as uint64 at 24).
// torch draws a word as: if (--left == 0) { twist all 624 words; left = 624; next = 0; } take
// state[next++] and temper it. A float64 uniform takes two words w1, w2:
//   u = (((w1 << 32) | w2) & (2^53 - 1)) * 2^-53
// and a float32 uniform one word w: u = (w & (2^24 - 1)) * 2^-24;
// and torch.randn of n >= 16 contiguous float64 values fills n uniforms, then turns each block of 16
// into normals by Box-Muller (data[j], data[j + 8] from u1 = 1 - data[j], u2 = data[j + 8]:
// radius = sqrt(-2 log u1), theta = 2 pi u2, radius cos theta and radius sin theta), and, when 16 does
// not divide n, draws the last 16 uniforms again and transforms them as a block.
// Python side: agents/mersenne.py (checks these numbers against torch's on first use).

#include <cmath>
#include <cstdint>
#include <cstring>

#ifndef MESASTACK_VECTOR_MATH  // nothing here needs the vector math library: log, sin and cos must be glibc's scalar ones

namespace {

constexpr int N = 624, M = 397;
constexpr uint32_t MATRIX_A = 0x9908b0dfu, UMASK = 0x80000000u, LMASK = 0x7fffffffu;

inline uint32_t twist(uint32_t u, uint32_t v) {
    return (((u & UMASK) | (v & LMASK)) >> 1) ^ ((v & 1u) ? MATRIX_A : 0u);
}

struct Engine {
    uint32_t s[N];
    int32_t left;
    uint64_t next;

    void load(const uint8_t* st) {
        std::memcpy(&left, st + 8, 4);
        std::memcpy(&next, st + 16, 8);
        for (int i = 0; i < N; ++i) {
            uint64_t w;
            std::memcpy(&w, st + 24 + 8 * i, 8);
            s[i] = static_cast<uint32_t>(w);
        }
    }

    void store(uint8_t* st) const {
        std::memcpy(st + 8, &left, 4);
        std::memcpy(st + 16, &next, 8);
        for (int i = 0; i < N; ++i) {
            const uint64_t w = s[i];
            std::memcpy(st + 24 + 8 * i, &w, 8);
        }
    }

    void regenerate() {  // torch's next_state, in three loops the compiler vectorizes
        for (int i = 0; i < N - M; ++i) s[i] = s[i + M] ^ twist(s[i], s[i + 1]);
        for (int i = N - M; i < N - 1; ++i) s[i] = s[i + M - N] ^ twist(s[i], s[i + 1]);
        s[N - 1] = s[M - 1] ^ twist(s[N - 1], s[0]);
    }

    // m tempered words into out, advancing the state as m calls of torch's engine would
    void words(uint32_t* out, long m) {
        while (m > 0) {
            long avail = static_cast<long>(left) - 1;
            if (avail <= 0) {
                regenerate();
                left = N + 1;  // torch: left = 624 after the twist, then the call takes state[0] without a decrement
                next = 0;
                avail = N;
            }
            const long k = m < avail ? m : avail;
            const uint32_t* src = s + next;
            for (long t = 0; t < k; ++t) {
                uint32_t y = src[t];
                y ^= (y >> 11);
                y ^= (y << 7) & 0x9d2c5680u;
                y ^= (y << 15) & 0xefc60000u;
                y ^= (y >> 18);
                out[t] = y;
            }
            out += k;
            m -= k;
            next += static_cast<uint64_t>(k);
            left -= static_cast<int32_t>(k);
        }
    }

    void uniform(double* out, long n) {  // torch.rand's float64 numbers
        constexpr long CHUNK = 1024;
        uint32_t w[2 * CHUNK];
        constexpr double DIVISOR = 1.0 / static_cast<double>(uint64_t(1) << 53);
        while (n > 0) {
            const long k = n < CHUNK ? n : CHUNK;
            words(w, 2 * k);
            for (long t = 0; t < k; ++t) {
                const uint64_t v = ((static_cast<uint64_t>(w[2 * t]) << 32) | w[2 * t + 1]) & ((uint64_t(1) << 53) - 1);
                out[t] = static_cast<double>(static_cast<int64_t>(v)) * DIVISOR;
            }
            out += k;
            n -= k;
        }
    }

    void uniform(float* out, long n) {  // torch.rand's float32 numbers: one word each
        constexpr long CHUNK = 2048;
        uint32_t w[CHUNK];
        constexpr float DIVISOR = 1.0f / static_cast<float>(uint32_t(1) << 24);
        while (n > 0) {
            const long k = n < CHUNK ? n : CHUNK;
            words(w, k);
            for (long t = 0; t < k; ++t) out[t] = static_cast<float>(static_cast<int32_t>(w[t] & 0xffffffu)) * DIVISOR;
            out += k;
            n -= k;
        }
    }
};

void box_muller_16(double* data) {  // torch's normal_fill_16 with mean 0 and std 1
    for (int j = 0; j < 8; ++j) {
        const double u1 = 1 - data[j];
        const double u2 = data[j + 8];
        const double radius = std::sqrt(-2 * std::log(u1));
        const double theta = 2.0f * 3.14159265358979323846 * u2;
        data[j] = radius * std::cos(theta);
        data[j + 8] = radius * std::sin(theta);
    }
}

template <typename T>
void normal(Engine& e, T* out, long n) {
    e.uniform(out, n);
    for (long i = 0; i + 16 <= n; i += 16) box_muller_16(out + i);
    if (n % 16 != 0) {
        e.uniform(out + n - 16, 16);
        box_muller_16(out + n - 16);
    }
}

}  // namespace

extern "C" {

// n float64 uniforms of [0, 1) as torch.rand(n, generator=g, dtype=torch.float64), the state advanced in place.
int mesastack_mt_uniform(uint8_t* state, double* out, long n) {
    Engine e;
    e.load(state);
    e.uniform(out, n);
    e.store(state);
    return 0;
}

// n >= 16 float64 standard normals as torch.randn(n, generator=g, dtype=torch.float64); 1 when n < 16
// (torch draws those one at a time with its cached second value, not done here).
int mesastack_mt_normal(uint8_t* state, double* out, long n) {
    if (n < 16) return 1;
    Engine e;
    e.load(state);
    normal(e, out, n);
    e.store(state);
    return 0;
}

// n float32 uniforms as torch.rand(n, generator=g): 24 bits of one word a value. (torch's float32 normals are
// vectorized with its own log, sin and cos: not reproduced here.)
int mesastack_mt_uniform32(uint8_t* state, float* out, long n) {
    Engine e;
    e.load(state);
    e.uniform(out, n);
    e.store(state);
    return 0;
}

int mesastack_mt_version() { return 1; }

}

#endif
