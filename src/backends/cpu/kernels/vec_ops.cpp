#include "backends/cpu/kernels/vec_ops.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "core/fp16.h"

namespace hearth::cpu {

#if defined(HEARTH_X86_KERNELS)
namespace avx2 { void fill_vec_ops(vec_ops& o); }
namespace avx2_vnni { void fill_vec_ops(vec_ops& o); }
namespace avx512 { void fill_vec_ops(vec_ops& o); }
#endif

namespace {

double ref_exp_shift_sum(float* x, int64_t n, float mx) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float p = x[i] == -std::numeric_limits<float>::infinity() ? 0.0f : std::exp(x[i] - mx);
    x[i] = p;
    sum += p;
  }
  return sum;
}
inline float ref_silu1(float x) { return x / (1.0f + std::exp(-x)); }
void ref_silu(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = ref_silu1(x[i]);
}
void ref_swiglu(const float* g, const float* u, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = ref_silu1(g[i]) * u[i];
}

inline float cache_at(const void* row, bool f16, int64_t i) {
  return f16 ? f16_to_f32(static_cast<const uint16_t*>(row)[i]) : static_cast<const float*>(row)[i];
}

void ref_attn_scores(const float* q, int64_t nq, int64_t hd, const void* k, size_t k_stride, bool k_f16, int64_t nk, float* s,
                     size_t ld_s) {
  for (int64_t j = 0; j < nk; ++j) {
    const void* row = static_cast<const uint8_t*>(k) + (size_t)j * k_stride;
    for (int64_t c = 0; c < nq; ++c) {
      float acc = 0.0f;
      for (int64_t i = 0; i < hd; ++i) acc += q[c * hd + i] * cache_at(row, k_f16, i);
      s[(size_t)c * ld_s + (size_t)j] = acc;
    }
  }
}

void ref_attn_values(const float* p, size_t ld_p, int64_t nq, const void* v, size_t v_stride, bool v_f16, int64_t nk, int64_t hd_v,
                     float* out) {
  std::fill(out, out + nq * hd_v, 0.0f);
  for (int64_t j = 0; j < nk; ++j) {
    const void* row = static_cast<const uint8_t*>(v) + (size_t)j * v_stride;
    for (int64_t c = 0; c < nq; ++c) {
      const float w = p[(size_t)c * ld_p + (size_t)j];
      if (w == 0.0f) continue;
      for (int64_t d = 0; d < hd_v; ++d) out[c * hd_v + d] += w * cache_at(row, v_f16, d);
    }
  }
}

struct tables {
  std::array<vec_ops, 4> level;
  tables() {
    for (auto& o : level) {
      o.exp_shift_sum = ref_exp_shift_sum;
      o.silu = ref_silu;
      o.swiglu = ref_swiglu;
      o.attn_scores = ref_attn_scores;
      o.attn_values = ref_attn_values;
    }
#if defined(HEARTH_X86_KERNELS)
    avx2::fill_vec_ops(level[(int)isa_level::avx2]);
    avx2_vnni::fill_vec_ops(level[(int)isa_level::avx2_vnni]);
    avx512::fill_vec_ops(level[(int)isa_level::avx512]);
#endif
    for (int l = 0; l < 4; ++l) level[l].isa = (isa_level)l;
  }
};

}  // namespace

const vec_ops& vec_ops_at(isa_level l) {
  static const tables t;
  if ((int)l > (int)detected_isa()) l = detected_isa();
  return t.level[(int)l];
}

}  // namespace hearth::cpu
