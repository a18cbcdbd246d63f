// Element-wise tanh, exp and log over a buffer, through glibc's vector math library: what mesastack's C++ kernels share.
//
// agents/native.py compiles every kernel twice: with -DMESASTACK_VECTOR_MATH and -ffast-math, where this header
// defines the six loops below and the kernel leaves its own text out, and without, where the header declares them
// for the kernel. Under -ffast-math the compiler maps each loop to libmvec's vector forms (within 4 ulp); nothing
// else is compiled so, for the kernels' finiteness checks must see NaN and infinity. Where libmvec cannot be linked,
// native.py's second attempt drops -ffast-math and the loops call the scalar functions. The functions are hidden:
// each library has its own, called by its own kernel only.

#pragma once

#include <cmath>

#define MESASTACK_HIDDEN __attribute__((visibility("hidden")))

namespace mesastack {

#ifdef MESASTACK_VECTOR_MATH

// x[i] = tanh(x[i]), exp(x[i]) or log(x[i]) for i < n
MESASTACK_HIDDEN void vtanh(double* x, long n) { for (long i = 0; i < n; ++i) x[i] = std::tanh(x[i]); }
MESASTACK_HIDDEN void vtanh(float* x, long n) { for (long i = 0; i < n; ++i) x[i] = std::tanh(x[i]); }
MESASTACK_HIDDEN void vexp(double* x, long n) { for (long i = 0; i < n; ++i) x[i] = std::exp(x[i]); }
MESASTACK_HIDDEN void vexp(float* x, long n) { for (long i = 0; i < n; ++i) x[i] = std::exp(x[i]); }
MESASTACK_HIDDEN void vlog(double* x, long n) { for (long i = 0; i < n; ++i) x[i] = std::log(x[i]); }
MESASTACK_HIDDEN void vlog(float* x, long n) { for (long i = 0; i < n; ++i) x[i] = std::log(x[i]); }

#else

MESASTACK_HIDDEN void vtanh(double* x, long n);
MESASTACK_HIDDEN void vtanh(float* x, long n);
MESASTACK_HIDDEN void vexp(double* x, long n);
MESASTACK_HIDDEN void vexp(float* x, long n);
MESASTACK_HIDDEN void vlog(double* x, long n);
MESASTACK_HIDDEN void vlog(float* x, long n);

#endif

}  // namespace mesastack
