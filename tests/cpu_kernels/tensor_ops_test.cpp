// mul_mat (batch broadcasting, strided activation rows), mul_mat_id and get_rows on hearth::tensor,
// through the repack cache or not, against the scalar reference.
#include <gtest/gtest.h>

#include <barrier>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "backends/cpu/kernels/tensor_ops.h"
#include "formats/quants.h"

using namespace hearth;
using namespace hearth::cpu;

namespace {

template <class F> void run_threads(int nth, F&& fn) {
  std::barrier sync(nth);
  std::vector<std::thread> ts;
  for (int i = 1; i < nth; ++i) ts.emplace_back([&, i] { fn(i, [&] { sync.arrive_and_wait(); }); });
  fn(0, [&] { sync.arrive_and_wait(); });
  for (auto& t : ts) t.join();
}

struct owned {
  tensor t;
  std::vector<uint8_t> bytes;
};

// A tensor with contiguous rows, whose row stride is row_bytes + pad (pad > 0 makes it a strided view).
owned make(dtype type, std::initializer_list<int64_t> ne, size_t pad = 0) {
  owned o;
  int d = 0;
  for (int64_t n : ne) o.t.ne[d++] = n;
  set_contiguous_strides(o.t);
  o.t.type = type;
  o.t.nb[1] = row_bytes(type, o.t.ne[0]) + pad;
  o.t.nb[2] = o.t.nb[1] * (size_t)o.t.ne[1];
  o.t.nb[3] = o.t.nb[2] * (size_t)o.t.ne[2];
  o.bytes.assign(o.t.nb[3] * (size_t)o.t.ne[3], 0);
  o.t.data = o.bytes.data();
  return o;
}

void fill_weights(owned& w, std::mt19937& rng) {
  std::normal_distribution<float> d(0.f, 0.05f);
  std::vector<float> x((size_t)w.t.ne[0]);
  for (int64_t r = 0; r < w.t.nrows(); ++r) {
    for (auto& v : x) v = d(rng);
    const int64_t i1 = r % w.t.ne[1], i2 = (r / w.t.ne[1]) % w.t.ne[2], i3 = r / (w.t.ne[1] * w.t.ne[2]);
    ref::quantize_row(w.t.type, x.data(), w.bytes.data() + i1 * w.t.nb[1] + i2 * w.t.nb[2] + i3 * w.t.nb[3], w.t.ne[0]);
  }
}

void fill_f32(owned& b, std::mt19937& rng) {
  std::normal_distribution<float> d(0.f, 1.f);
  for (int64_t r = 0; r < b.t.nrows(); ++r) {
    const int64_t i1 = r % b.t.ne[1], i2 = (r / b.t.ne[1]) % b.t.ne[2], i3 = r / (b.t.ne[1] * b.t.ne[2]);
    float* row = reinterpret_cast<float*>(b.bytes.data() + i1 * b.t.nb[1] + i2 * b.t.nb[2] + i3 * b.t.nb[3]);
    for (int64_t i = 0; i < b.t.ne[0]; ++i) row[i] = d(rng);
  }
}

const uint8_t* row_of(const owned& o, int64_t i1, int64_t i2 = 0, int64_t i3 = 0) {
  return o.bytes.data() + i1 * o.t.nb[1] + i2 * o.t.nb[2] + i3 * o.t.nb[3];
}

float ref_dot(dtype t, const uint8_t* w, const float* x, int64_t K, double* mag) {
  const dtype at = vec_dot_type(t);
  std::vector<uint8_t> act(row_bytes(at, K));
  ref::quantize_row_act(at, x, act.data(), K);
  std::vector<float> wd((size_t)K), ad((size_t)K);
  ref::dequantize_row(t, w, wd.data(), K);
  ref::dequantize_row(at, act.data(), ad.data(), K);
  *mag = 0;
  for (int64_t i = 0; i < K; ++i) *mag += std::fabs((double)wd[i] * ad[i]);
  return ref::vec_dot(t, w, act.data(), K);
}

class TensorOps : public ::testing::TestWithParam<dtype> {};

// b3 batches of N columns against a [K, M, 2, 1] weight: many columns (packed by all threads, one
// barrier), or at most k_private_pack_cols in all (every thread packs its own copy).
void check_mul_mat(dtype t, int64_t N, int64_t b3) {
  std::mt19937 rng(9);
  const int64_t K = 256, M = 21;
  auto a = make(t, {K, M, 2, 1});
  fill_weights(a, rng);
  auto b = make(dtype::f32, {K, N, 2 * (b3 > 1 ? 2 : 1), b3}, 20);  // rows 20 bytes apart: a strided view
  fill_f32(b, rng);
  const int64_t b2 = b.t.ne[2];
  auto c = make(dtype::f32, {M, N, b2, b3});
  c.t.op = op::mul_mat;
  c.t.src[0] = &a.t;
  c.t.src[1] = &b.t;
  repack_cache cache;
  for (bool repacked : {false, true}) {
    if (repacked && !cache.prepare(a.t, 2)) continue;
    for (int nth : {1, 3}) {
      SCOPED_TRACE(std::string(repacked ? "repacked" : "plain") + " threads=" + std::to_string(nth));
      std::fill(c.bytes.begin(), c.bytes.end(), 0xff);
      std::vector<uint8_t> work(mul_mat_work_bytes(c.t, nth));
      run_threads(nth, [&](int ith, auto barrier) { mul_mat(c.t, ith, nth, work.data(), barrier, repacked ? &cache : nullptr); });
      for (int64_t i3 = 0; i3 < b3; ++i3)
        for (int64_t i2 = 0; i2 < b2; ++i2)
          for (int64_t n = 0; n < N; ++n)
            for (int64_t m = 0; m < M; ++m) {
              double mag;
              const float want = ref_dot(t, row_of(a, m, i2 / (b2 / 2), 0), reinterpret_cast<const float*>(row_of(b, n, i2, i3)), K, &mag);
              const float got = reinterpret_cast<const float*>(row_of(c, n, i2, i3))[m];
              ASSERT_NEAR(got, want, 2e-6 * mag + 1e-30) << m << "," << n << "," << i2 << "," << i3;
            }
    }
  }
}

TEST_P(TensorOps, MulMatBroadcastsBatchesAndReadsStridedRows) { check_mul_mat(GetParam(), 7, 3); }
TEST_P(TensorOps, MulMatWithFewColumnsNeedsNoSharedPacking) { check_mul_mat(GetParam(), 1, 1); }

TEST_P(TensorOps, MulMatIdRoutesTokensToExperts) {
  const dtype t = GetParam();
  std::mt19937 rng(10);
  const int64_t K = 256, M = 19, E = 4, n_used = 2, N = 6;
  auto a = make(t, {K, M, E});
  fill_weights(a, rng);
  auto b = make(dtype::f32, {K, n_used, N});
  fill_f32(b, rng);
  auto ids = make(dtype::i32, {n_used, N});
  auto* id = reinterpret_cast<int32_t*>(ids.bytes.data());
  for (int64_t i = 0; i < n_used * N; ++i) id[i] = (int32_t)((i * 7 + 3) % E);
  id[5] = E + 2;  // out of range: zeros
  auto c = make(dtype::f32, {M, n_used, N});
  c.t.op = op::mul_mat_id;
  c.t.src[0] = &a.t;
  c.t.src[1] = &b.t;
  c.t.src[2] = &ids.t;
  repack_cache cache;
  for (bool repacked : {false, true}) {
    if (repacked && !cache.prepare(a.t)) continue;
    for (int nth : {1, 2}) {
      std::vector<uint8_t> work(mul_mat_id_work_bytes(c.t, nth));
      run_threads(nth, [&](int ith, auto barrier) { mul_mat_id(c.t, ith, nth, work.data(), barrier, repacked ? &cache : nullptr); });
      for (int64_t tk = 0; tk < N; ++tk)
        for (int64_t j = 0; j < n_used; ++j) {
          const int32_t e = id[tk * n_used + j];
          const float* out = reinterpret_cast<const float*>(row_of(c, j, tk));
          for (int64_t m = 0; m < M; ++m) {
            if (e >= E) {
              ASSERT_EQ(out[m], 0.f);
              continue;
            }
            double mag;
            const float want = ref_dot(t, row_of(a, m, e), reinterpret_cast<const float*>(row_of(b, j, tk)), K, &mag);
            ASSERT_NEAR(out[m], want, 2e-6 * mag + 1e-30);
          }
        }
    }
  }
}

TEST_P(TensorOps, GetRowsDequantizesExactly) {
  const dtype t = GetParam();
  std::mt19937 rng(11);
  const int64_t K = 256, R = 9;
  auto table = make(t, {K, R});
  fill_weights(table, rng);
  auto ids = make(dtype::i32, {4});
  const int32_t want_ids[4] = {3, 0, 8, -1};
  std::memcpy(ids.bytes.data(), want_ids, 16);
  auto c = make(dtype::f32, {K, 4});
  c.t.op = op::get_rows;
  c.t.src[0] = &table.t;
  c.t.src[1] = &ids.t;
  get_rows(c.t, 0, 2);
  get_rows(c.t, 1, 2);
  std::vector<float> want((size_t)K);
  for (int i = 0; i < 4; ++i) {
    const float* got = reinterpret_cast<const float*>(row_of(c, i));
    if (want_ids[i] < 0) {
      for (int64_t k = 0; k < K; ++k) ASSERT_EQ(got[k], 0.f);
      continue;
    }
    ref::dequantize_row(t, row_of(table, want_ids[i]), want.data(), K);
    ASSERT_EQ(std::memcmp(got, want.data(), (size_t)K * 4), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(SomeTypes, TensorOps, ::testing::Values(dtype::q4_0, dtype::q4_k, dtype::q6_k, dtype::iq4_xs, dtype::f16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(RepackCache, KeepsOneCopyPerWeightAndFreesIt) {
  std::mt19937 rng(12);
  auto a = make(dtype::q4_0, {64, 40});
  fill_weights(a, rng);
  repack_cache cache;
  EXPECT_EQ(cache.find(a.t), nullptr);
  ASSERT_TRUE(cache.prepare(a.t, 2));
  const auto* e = cache.find(a.t);
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(cache.prepare(a.t));  // no second copy
  EXPECT_EQ(cache.find(a.t), e);
  EXPECT_GT(cache.bytes(), 0u);
  auto f = make(dtype::f32, {64, 4});
  EXPECT_FALSE(cache.prepare(f.t));  // plain float weights are read as they are
  cache.erase(a.t.data);
  EXPECT_EQ(cache.find(a.t), nullptr);
}

}  // namespace
