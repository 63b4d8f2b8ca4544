// Vectorised row functions of the element-wise ops (exp in softmax and attention, SiLU and SwiGLU),
// per ISA level like the matrix kernels. The generic level uses std::exp; the SIMD levels a
// polynomial exp accurate to about 2 ulp (as fast CPU inference engines do).
#pragma once
#include <cstdint>

#include "backends/cpu/kernels/isa.h"

namespace hearth::cpu {

struct vec_ops {
  isa_level isa = isa_level::generic;
  // x[i] = exp(x[i] - mx) (0 where x[i] is -inf); returns the sum of the results.
  double (*exp_shift_sum)(float* x, int64_t n, float mx) = nullptr;
  // y[i] = silu(x[i]) = x / (1 + exp(-x)).
  void (*silu)(const float* x, float* y, int64_t n) = nullptr;
  // y[i] = silu(g[i]) * u[i].
  void (*swiglu)(const float* g, const float* u, float* y, int64_t n) = nullptr;
};

const vec_ops& vec_ops_at(isa_level l);
inline const vec_ops& active_vec_ops() { return vec_ops_at(active_isa()); }

}  // namespace hearth::cpu
