// The scalar reference on its own: dequantization error bounds per type (on llama-quantize's files
// and on random data), dot products against a double-precision dot of the dequantized operands, and
// the exact activation rounding llama.cpp's CPU backend uses.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "formats/gguf.h"
#include "formats/quant_blocks.h"
#include "formats/quants.h"
#include "test_util.h"

using namespace hearth;

namespace {

struct type_case {
  dtype type;
  const char* pure_suffix;  // synth-llama-pure-<suffix>.gguf
  double rel_rmse;          // bound on ||deq - x|| / ||x||
  double block_max;         // bound on max |deq - x| / max |x| over each 32-element block
};

// Bounds are about 1.2x what llama-quantize's own files show on the N(0, 1/fan_in) weights of the
// synthetic model (the same figures come out on random Gaussian data).
const type_case k_types[] = {
    {dtype::f16, "f16", 0.0003, 0.0006},     {dtype::bf16, "bf16", 0.0025, 0.0045},
    {dtype::q8_0, "q8_0", 0.007, 0.0055},    {dtype::q4_0, "q4_0", 0.10, 0.14},
    {dtype::q4_1, "q4_1", 0.095, 0.08},      {dtype::q5_0, "q5_0", 0.052, 0.07},
    {dtype::q5_1, "q5_1", 0.046, 0.04},      {dtype::q2_k, "q2_k", 0.34, 0.55},
    {dtype::q3_k, "q3_k_s", 0.18, 0.31},     {dtype::q4_k, "q4_k_s", 0.085, 0.16},
    {dtype::q5_k, "q5_k_s", 0.044, 0.085},   {dtype::q6_k, "q6_k", 0.022, 0.025},
    {dtype::iq4_nl, "iq4_nl", 0.09, 0.15},   {dtype::iq4_xs, "iq4_xs", 0.09, 0.155},
};

std::string case_name(const ::testing::TestParamInfo<type_case>& info) { return dtype_name(info.param.type); }

void expect_within_bounds(const type_case& tc, const float* x, const float* y, int64_t n) {
  double se = 0, sx = 0, worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    se += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
    sx += (double)x[i] * x[i];
  }
  for (int64_t b = 0; b < n / 32; ++b) {
    double amax = 0, emax = 0;
    for (int j = 0; j < 32; ++j) {
      amax = std::max(amax, (double)std::fabs(x[32 * b + j]));
      emax = std::max(emax, std::fabs((double)y[32 * b + j] - x[32 * b + j]));
    }
    if (amax > 0) worst = std::max(worst, emax / amax);
  }
  EXPECT_LE(std::sqrt(se / sx), tc.rel_rmse);
  EXPECT_LE(worst, tc.block_max);
}

std::vector<float> gaussian(int64_t n, uint32_t seed, float sigma = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, sigma);
  std::vector<float> v((size_t)n);
  for (auto& x : v) x = dist(rng);
  return v;
}

class RefType : public ::testing::TestWithParam<type_case> {};

TEST_P(RefType, DequantizesLlamaQuantizeFilesWithinBounds) {
  const type_case tc = GetParam();
  auto src = gguf::file::open(test::data_path("reference/models/synth-llama-f32.gguf"));
  auto q = gguf::file::open(test::data_path(std::string("reference/models/synth-llama-pure-") + tc.pure_suffix + ".gguf"));
  int n_checked = 0;
  for (const auto& t : q->tensors()) {
    if (t.type == dtype::f32) continue;
    SCOPED_TRACE(t.name);
    const gguf::tensor_info* s = src->find_tensor(t.name);
    ASSERT_NE(s, nullptr);
    std::vector<float> y((size_t)t.nelements());
    ref::dequantize_row(t.type, q->tensor_data(t), y.data(), t.nelements());
    expect_within_bounds(tc, reinterpret_cast<const float*>(src->tensor_data(*s)), y.data(), t.nelements());
    ++n_checked;
  }
  EXPECT_EQ(n_checked, 16);
}

TEST_P(RefType, RoundTripsRandomDataWithinBounds) {
  const type_case tc = GetParam();
  const int64_t n = 256 * 33;
  auto x = gaussian(n, 7, 0.02f);
  std::vector<uint8_t> q(row_bytes(tc.type, n));
  std::vector<float> y((size_t)n);
  ref::quantize_row(tc.type, x.data(), q.data(), n);
  ref::dequantize_row(tc.type, q.data(), y.data(), n);
  expect_within_bounds(tc, x.data(), y.data(), n);
}

TEST_P(RefType, ZeroBlocksStayZero) {
  const type_case tc = GetParam();
  const int64_t n = 512;
  std::vector<float> x((size_t)n, 0.f), y((size_t)n, 1.f);
  std::vector<uint8_t> q(row_bytes(tc.type, n));
  ref::quantize_row(tc.type, x.data(), q.data(), n);
  ref::dequantize_row(tc.type, q.data(), y.data(), n);
  for (float v : y) ASSERT_EQ(v, 0.f);
}

// vec_dot(w, quantize_row_act(a)) against a double dot of dequantize(w) and dequantize(act(a)).
// Tolerance: float accumulation noise, plus for Q4_1/Q5_1 the minimum term, which uses the stored
// block sum s = f16(d * sum(q)) with the unrounded d (as llama.cpp does) while dequantization uses
// f16(d): two f16 roundings, each within 2^-11 relative.
TEST_P(RefType, VecDotMatchesDoubleDotOfDequantizedOperands) {
  const type_case tc = GetParam();
  const dtype at = vec_dot_type(tc.type);
  const int64_t bs = block_size(tc.type);
  for (int64_t n_blocks : {1, 3, 7, 45}) {
    for (uint32_t seed : {1u, 2u, 3u}) {
      const int64_t n = bs * n_blocks;
      SCOPED_TRACE("n=" + std::to_string(n) + " seed=" + std::to_string(seed));
      auto w = gaussian(n, seed, 0.05f);
      auto a = gaussian(n, seed + 100, 3.f);
      if (seed == 3) for (int64_t i = 0; i < n; i += 17) a[(size_t)i] *= 20.f;  // outliers
      std::vector<uint8_t> wq(row_bytes(tc.type, n)), aq(row_bytes(at, n));
      ref::quantize_row(tc.type, w.data(), wq.data(), n);
      ref::quantize_row_act(at, a.data(), aq.data(), n);
      std::vector<float> wd((size_t)n), ad((size_t)n);
      ref::dequantize_row(tc.type, wq.data(), wd.data(), n);
      ref::dequantize_row(at, aq.data(), ad.data(), n);
      double exact = 0, mag = 0;
      for (int64_t i = 0; i < n; ++i) {
        exact += (double)wd[(size_t)i] * ad[(size_t)i];
        mag += std::fabs((double)wd[(size_t)i] * ad[(size_t)i]);
      }
      double tol = 4e-6 * mag + 1e-30;
      if (at == dtype::q8_1) {
        const auto* wb = reinterpret_cast<const uint8_t*>(wq.data());
        const auto* ab = reinterpret_cast<const block_q8_1*>(aq.data());
        for (int64_t b = 0; b < n_blocks; ++b) {
          uint16_t m;
          std::memcpy(&m, wb + (size_t)b * type_size(tc.type) + 2, 2);  // d, m lead both Q4_1 and Q5_1
          tol += std::fabs(f16_to_f32(m) * f16_to_f32(ab[b].s)) * std::ldexp(1.0, -10);
        }
      }
      const float got = ref::vec_dot(tc.type, wq.data(), aq.data(), n);
      EXPECT_NEAR(got, exact, tol);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, RefType, ::testing::ValuesIn(k_types), case_name);

// ---- activation rounding (llama.cpp's CPU backend) -----------------------------------------------

TEST(Activations, Q8_0RoundsHalfToEvenAfterScalingBy127OverAmax) {
  // amax 127 makes the multiplier exactly 1, so x*id lands on .5 ties.
  std::vector<float> x(32, 0.f);
  x[0] = 127.f; x[1] = 2.5f; x[2] = 3.5f; x[3] = -2.5f; x[4] = -0.5f; x[5] = 0.5f; x[6] = 1.5f; x[7] = -127.f;
  block_q8_0 act;
  ref::quantize_row_act(dtype::q8_0, x.data(), &act, 32);
  EXPECT_EQ(f16_to_f32(act.d), 1.f);
  const int want[8] = {127, 2, 4, -2, 0, 0, 2, -127};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(act.qs[i], want[i]) << i;
  // The file quantizer (Q8_0 weights) rounds half away from zero instead.
  block_q8_0 w;
  ref::quantize_row(dtype::q8_0, x.data(), &w, 32);
  const int want_w[8] = {127, 3, 4, -3, -1, 1, 2, -127};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(w.qs[i], want_w[i]) << i;
}

TEST(Activations, Q8_0UsesTheMultiplier127OverAmaxNotItsF16Scale) {
  auto x = gaussian(32 * 64, 11);
  std::vector<block_q8_0> q(64);
  ref::quantize_row_act(dtype::q8_0, x.data(), q.data(), (int64_t)x.size());
  for (int b = 0; b < 64; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * b + j]));
    EXPECT_EQ(q[b].d, f32_to_f16(amax / 127.f));
    const float id = 127.f / amax;
    for (int j = 0; j < 32; ++j) EXPECT_EQ(q[b].qs[j], (int)std::nearbyint(x[32 * b + j] * id));
  }
}

TEST(Activations, Q8_1StoresTheF16OfScaleTimesQuantSum) {
  auto x = gaussian(32 * 16, 12);
  std::vector<block_q8_1> q(16);
  std::vector<block_q8_0> q0(16);
  ref::quantize_row_act(dtype::q8_1, x.data(), q.data(), (int64_t)x.size());
  ref::quantize_row_act(dtype::q8_0, x.data(), q0.data(), (int64_t)x.size());
  for (int b = 0; b < 16; ++b) {
    EXPECT_EQ(q[b].d, q0[b].d);
    EXPECT_EQ(std::memcmp(q[b].qs, q0[b].qs, 32), 0);
    float amax = 0;
    int sum = 0;
    for (int j = 0; j < 32; ++j) { amax = std::max(amax, std::fabs(x[32 * b + j])); sum += q[b].qs[j]; }
    EXPECT_EQ(q[b].s, f32_to_f16(amax / 127.f * (float)sum));
  }
}

TEST(Activations, Q8_KMapsTheSignedMaximumToMinus127) {
  auto x = gaussian(256 * 3, 13);
  x[5] = 9.f;     // positive maximum in block 0
  x[256 + 9] = -9.f;  // negative maximum in block 1
  std::vector<block_q8_k> q(3);
  ref::quantize_row_act(dtype::q8_k, x.data(), q.data(), (int64_t)x.size());
  EXPECT_EQ(q[0].qs[5], -127);
  EXPECT_EQ(q[0].d, 1.f / (-127.f / 9.f));
  EXPECT_EQ(q[1].qs[9], -127);
  EXPECT_EQ(q[1].d, 1.f / (-127.f / -9.f));
  for (int b = 0; b < 3; ++b) {
    float max = 0, amax = 0;
    for (int j = 0; j < 256; ++j)
      if (std::fabs(x[256 * b + j]) > amax) { amax = std::fabs(x[256 * b + j]); max = x[256 * b + j]; }
    const float iscale = -127.f / max;
    for (int j = 0; j < 256; ++j) ASSERT_EQ(q[b].qs[j], (int)std::nearbyint(iscale * x[256 * b + j]));
    for (int g = 0; g < 16; ++g) {
      int s = 0;
      for (int j = 0; j < 16; ++j) s += q[b].qs[16 * g + j];
      EXPECT_EQ(q[b].bsums[g], s);
    }
  }
}

TEST(Activations, F16AndBf16AreRoundToNearestEvenConversions) {
  auto x = gaussian(64, 14);
  std::vector<uint16_t> h(64), b(64);
  ref::quantize_row_act(dtype::f16, x.data(), h.data(), 64);
  ref::quantize_row_act(dtype::bf16, x.data(), b.data(), 64);
  for (int i = 0; i < 64; ++i) {
    EXPECT_EQ(h[i], f32_to_f16(x[i]));
    EXPECT_EQ(b[i], f32_to_bf16(x[i]));
  }
}

TEST(Reference, RejectsBadSizesAndTypes) {
  std::vector<float> x(64, 1.f);
  std::vector<uint8_t> q(1024);
  EXPECT_THROW(ref::quantize_row(dtype::q4_0, x.data(), q.data(), 33), error);
  EXPECT_THROW(ref::quantize_row(dtype::q4_k, x.data(), q.data(), 64), error);
  EXPECT_THROW(ref::quantize_row(dtype::iq2_xxs, x.data(), q.data(), 256), error);
  EXPECT_THROW(ref::quantize_row_act(dtype::q4_0, x.data(), q.data(), 64), error);
  EXPECT_THROW(ref::vec_dot(dtype::q8_k, q.data(), q.data(), 256), error);
  EXPECT_THROW(ref::dequantize_row(dtype::tq1_0, q.data(), x.data(), 256), error);
}

}  // namespace
