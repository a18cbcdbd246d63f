// Vectors of 256 bits in GCC's and Clang's vector extensions, and an in-register transpose of a block of them:
// what mesastack's C++ kernels share for moving between a row-major and a column-major view of a tile.
//
// Lanes<T>::vec holds L = 32 / sizeof(T) values (8 floats or 4 doubles); arithmetic on it is lane by lane, so a
// lane's numbers never depend on the other lanes. transpose(r) turns L vectors r[0 .. L - 1] (the rows of an
// L x L block) into its columns, by two-source shuffles only (no arithmetic: the values are moved, never changed).
// Compilers without __builtin_shufflevector (GCC before 12) have TRANSPOSED false, and a kernel then takes its
// columns one at a time instead (the same numbers).

#pragma once

#include <cstdint>
#include <cstring>

namespace mesastack {

template <typename T>
struct Lanes {
    static constexpr int L = 32 / sizeof(T);  // 8 floats or 4 doubles: 256 bits
    typedef T vec __attribute__((vector_size(32)));
};

// L values from p (any alignment) into a vector, and back.
template <typename T>
inline typename Lanes<T>::vec load(const T* p) {
    typename Lanes<T>::vec v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}

template <typename T>
inline void store(T* p, const typename Lanes<T>::vec& v) {
    std::memcpy(p, &v, sizeof(v));
}

#if defined(__clang__) || __GNUC__ >= 12
#define MESASTACK_SHUFFLE(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
constexpr bool TRANSPOSED = true;
#else
#define MESASTACK_SHUFFLE(a, b, ...) (a)
constexpr bool TRANSPOSED = false;
#endif

// r[i][j] <- r[j][i]: an L x L block transposed in registers (exchanging the row and column bits, one a stage).
inline void transpose(Lanes<float>::vec* r) {
    typedef Lanes<float>::vec v;
    for (int i = 0; i < 4; ++i) {
        const v a = r[i], b = r[i + 4];
        r[i] = MESASTACK_SHUFFLE(a, b, 0, 1, 2, 3, 8, 9, 10, 11);
        r[i + 4] = MESASTACK_SHUFFLE(a, b, 4, 5, 6, 7, 12, 13, 14, 15);
    }
    for (int i : {0, 1, 4, 5}) {
        const v a = r[i], b = r[i + 2];
        r[i] = MESASTACK_SHUFFLE(a, b, 0, 1, 8, 9, 4, 5, 12, 13);
        r[i + 2] = MESASTACK_SHUFFLE(a, b, 2, 3, 10, 11, 6, 7, 14, 15);
    }
    for (int i : {0, 2, 4, 6}) {
        const v a = r[i], b = r[i + 1];
        r[i] = MESASTACK_SHUFFLE(a, b, 0, 8, 2, 10, 4, 12, 6, 14);
        r[i + 1] = MESASTACK_SHUFFLE(a, b, 1, 9, 3, 11, 5, 13, 7, 15);
    }
}

inline void transpose(Lanes<double>::vec* r) {
    typedef Lanes<double>::vec v;
    for (int i = 0; i < 2; ++i) {
        const v a = r[i], b = r[i + 2];
        r[i] = MESASTACK_SHUFFLE(a, b, 0, 1, 4, 5);
        r[i + 2] = MESASTACK_SHUFFLE(a, b, 2, 3, 6, 7);
    }
    for (int i : {0, 2}) {
        const v a = r[i], b = r[i + 1];
        r[i] = MESASTACK_SHUFFLE(a, b, 0, 4, 2, 6);
        r[i + 1] = MESASTACK_SHUFFLE(a, b, 1, 5, 3, 7);
    }
}

}  // namespace mesastack
