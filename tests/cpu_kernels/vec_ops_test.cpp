// Vector exp / SiLU / SwiGLU of every ISA level against std::exp, on odd lengths (SIMD body plus
// scalar tail), with -inf inputs (masked scores) and saturating extremes.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "backends/cpu/kernels/vec_ops.h"

namespace hearth::cpu {
namespace {

class VecOps : public ::testing::TestWithParam<isa_level> {
 protected:
  void SetUp() override {
    if (!isa_available(GetParam())) GTEST_SKIP() << isa_name(GetParam()) << " not available on this CPU";
  }
};

std::vector<float> inputs(int64_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> x((size_t)n);
  for (auto& v : x) v = d(rng);
  return x;
}

TEST_P(VecOps, ExpShiftSum) {
  const vec_ops& o = vec_ops_at(GetParam());
  EXPECT_EQ(o.isa, GetParam());
  for (int64_t n : {1, 7, 16, 37, 100, 515}) {
    std::vector<float> x = inputs(n, -30.0f, 10.0f, (uint32_t)n);
    if (n > 3) x[2] = -std::numeric_limits<float>::infinity();
    const float mx = 10.0f;
    std::vector<float> y = x;
    const double sum = o.exp_shift_sum(y.data(), n, mx);
    double want_sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double want = std::isinf(x[i]) ? 0.0 : std::exp((double)(x[i] - mx));  // the float difference, as computed
      want_sum += want;
      EXPECT_NEAR(y[i], want, want * 4e-7 + 1e-30) << "n " << n << " i " << i << " x " << x[i];
    }
    EXPECT_NEAR(sum, want_sum, want_sum * 1e-6) << n;
  }
  // Far below the maximum the terms vanish (never NaN, at most a subnormal); at the maximum it is exactly 1.
  std::vector<float> x = {-1000.0f, -90.0f, 0.0f, -std::numeric_limits<float>::infinity(), -1000.0f, -1000.0f, -1000.0f, -1000.0f,
                          -1000.0f, -1000.0f, -1000.0f, -1000.0f, -1000.0f, -1000.0f, -1000.0f, -1000.0f, -1000.0f};
  const double sum = o.exp_shift_sum(x.data(), (int64_t)x.size(), 0.0f);
  EXPECT_NEAR(sum, 1.0, 1e-6);
  for (float v : x) EXPECT_TRUE(v == 1.0f || (v >= 0.0f && v < 1e-37f)) << v;
}

TEST_P(VecOps, SiluAndSwiglu) {
  const vec_ops& o = vec_ops_at(GetParam());
  for (int64_t n : {1, 9, 33, 200}) {
    const std::vector<float> g = inputs(n, -20.0f, 20.0f, 1), u = inputs(n, -2.0f, 2.0f, 2);
    std::vector<float> s((size_t)n), w((size_t)n);
    o.silu(g.data(), s.data(), n);
    o.swiglu(g.data(), u.data(), w.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double want = g[i] / (1.0 + std::exp(-(double)g[i]));
      EXPECT_NEAR(s[i], want, std::fabs(want) * 1e-6 + 1e-30) << g[i];
      EXPECT_NEAR(w[i], want * u[i], std::fabs(want * u[i]) * 1e-6 + 1e-30) << g[i];
    }
  }
  const float big[] = {-200.0f, 200.0f, -88.5f, 90.0f, 0.0f, -0.0f, 1e-30f, -5.0f, 3.0f};
  float out[9];
  o.silu(big, out, 9);
  EXPECT_LT(std::fabs(out[0]), 1e-30f);
  EXPECT_EQ(out[1], 200.0f);
  for (float v : out) EXPECT_FALSE(std::isnan(v));
}

INSTANTIATE_TEST_SUITE_P(AllLevels, VecOps,
                         ::testing::Values(isa_level::generic, isa_level::avx2, isa_level::avx2_vnni, isa_level::avx512),
                         [](const auto& info) { return std::string(isa_name(info.param)); });

}  // namespace
}  // namespace hearth::cpu
