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

  // Attention for a few queries (decoding), straight from the cache rows (f32 when k_f16 is false,
  // else f16), no conversion pass:
  // scores: s[c * ld_s + j] = dot(q + c * hd, key row j at k + j * k_stride), c < nq, j < nk.
  void (*attn_scores)(const float* q, int64_t nq, int64_t hd, const void* k, size_t k_stride, bool k_f16, int64_t nk,
                      float* s, size_t ld_s) = nullptr;
  // values: out[c * hd_v + d] = sum_j p[c * ld_p + j] * (value row j at v + j * v_stride)[d]; rows
  // whose p is 0 for every query are skipped.
  void (*attn_values)(const float* p, size_t ld_p, int64_t nq, const void* v, size_t v_stride, bool v_f16, int64_t nk,
                      int64_t hd_v, float* out) = nullptr;
};

const vec_ops& vec_ops_at(isa_level l);
inline const vec_ops& active_vec_ops() { return vec_ops_at(active_isa()); }

}  // namespace hearth::cpu
