#include "backends/cpu/kernels/vec_ops.h"

#include <array>
#include <cmath>
#include <limits>

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

struct tables {
  std::array<vec_ops, 4> level;
  tables() {
    for (auto& o : level) {
      o.exp_shift_sum = ref_exp_shift_sum;
      o.silu = ref_silu;
      o.swiglu = ref_swiglu;
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
