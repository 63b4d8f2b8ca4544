// Vector exp / SiLU / SwiGLU of every ISA level against std::exp, on odd lengths (SIMD body plus
// scalar tail), with -inf inputs (masked scores) and saturating extremes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "backends/cpu/kernels/vec_ops.h"
#include "core/fp16.h"

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

// Few-query attention against a double-precision computation, f32 and f16 cache rows, head sizes
// that fit the registers, need chunks (256) or take the fallback (80, 72), zero probabilities.
TEST_P(VecOps, FewQueryAttention) {
  const vec_ops& o = vec_ops_at(GetParam());
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.f, 1.f);
  for (int64_t hd : {16, 64, 72, 80, 128, 256}) {
    for (int64_t nq : {1, 3, 4, 7}) {
      for (bool f16 : {false, true}) {
        const int64_t nk = 37, heads = 3;  // rows of `heads` heads: the stride skips the other heads
        const size_t es = f16 ? 2 : 4, stride = (size_t)(hd * heads) * es;
        std::vector<uint8_t> k((size_t)nk * stride), v((size_t)nk * stride);
        std::vector<double> kd((size_t)(nk * hd)), vd((size_t)(nk * hd));
        for (int64_t j = 0; j < nk; ++j)
          for (int64_t i = 0; i < hd; ++i) {
            const float a = d(rng), b = d(rng);
            if (f16) {
              const uint16_t ha = f32_to_f16(a), hb = f32_to_f16(b);
              std::memcpy(&k[(size_t)j * stride + (size_t)i * 2], &ha, 2);
              std::memcpy(&v[(size_t)j * stride + (size_t)i * 2], &hb, 2);
              kd[(size_t)(j * hd + i)] = f16_to_f32(ha);
              vd[(size_t)(j * hd + i)] = f16_to_f32(hb);
            } else {
              std::memcpy(&k[(size_t)j * stride + (size_t)i * 4], &a, 4);
              std::memcpy(&v[(size_t)j * stride + (size_t)i * 4], &b, 4);
              kd[(size_t)(j * hd + i)] = a;
              vd[(size_t)(j * hd + i)] = b;
            }
          }
        std::vector<float> q((size_t)(nq * hd)), s((size_t)(nq * nk)), p((size_t)(nq * nk)), out((size_t)(nq * hd));
        for (auto& x : q) x = d(rng);
        o.attn_scores(q.data(), nq, hd, k.data(), stride, f16, nk, s.data(), (size_t)nk);
        for (int64_t c = 0; c < nq; ++c)
          for (int64_t j = 0; j < nk; ++j) {
            double want = 0;
            for (int64_t i = 0; i < hd; ++i) want += (double)q[(size_t)(c * hd + i)] * kd[(size_t)(j * hd + i)];
            EXPECT_NEAR(s[(size_t)(c * nk + j)], want, 1e-4 * std::sqrt((double)hd)) << hd << " " << nq << " " << f16;
            p[(size_t)(c * nk + j)] = j % 5 == 0 ? 0.0f : std::fabs(d(rng));
          }
        o.attn_values(p.data(), (size_t)nk, nq, v.data(), stride, f16, nk, hd, out.data());
        for (int64_t c = 0; c < nq; ++c)
          for (int64_t i = 0; i < hd; ++i) {
            double want = 0;
            for (int64_t j = 0; j < nk; ++j) want += (double)p[(size_t)(c * nk + j)] * vd[(size_t)(j * hd + i)];
            EXPECT_NEAR(out[(size_t)(c * hd + i)], want, 1e-4 * nk) << hd << " " << nq << " " << f16;
          }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllLevels, VecOps,
                         ::testing::Values(isa_level::generic, isa_level::avx2, isa_level::avx2_vnni, isa_level::avx512),
                         [](const auto& info) { return std::string(isa_name(info.param)); });

}  // namespace
}  // namespace hearth::cpu
