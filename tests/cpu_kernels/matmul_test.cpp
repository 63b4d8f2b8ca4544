// The threaded drivers (matmul, matmul_id) with 1-3 real threads, on plain and repacked weights,
// against the scalar reference.
#include <gtest/gtest.h>

#include <barrier>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "backends/cpu/kernels/matmul.h"
#include "formats/quants.h"

using namespace hearth;
using namespace hearth::cpu;

namespace {

std::vector<float> gaussian(size_t n, std::mt19937& rng, float sigma) {
  std::normal_distribution<float> d(0.f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

template <class F> void run_threads(int nth, F&& fn) {
  std::barrier sync(nth);
  std::vector<std::thread> ts;
  for (int i = 1; i < nth; ++i) ts.emplace_back([&, i] { fn(i, [&] { sync.arrive_and_wait(); }); });
  fn(0, [&] { sync.arrive_and_wait(); });
  for (auto& t : ts) t.join();
}

// Reference dot of weight row (type t) with float column x rounded as the reference rounds it.
float ref_dot(dtype t, const uint8_t* row, const float* x, int64_t K, double* mag) {
  const dtype at = vec_dot_type(t);
  std::vector<uint8_t> act(row_bytes(at, K));
  ref::quantize_row_act(at, x, act.data(), K);
  std::vector<float> wd((size_t)K), ad((size_t)K);
  ref::dequantize_row(t, row, wd.data(), K);
  ref::dequantize_row(at, act.data(), ad.data(), K);
  *mag = 0;
  for (int64_t i = 0; i < K; ++i) *mag += std::fabs((double)wd[i] * ad[i]);
  return ref::vec_dot(t, row, act.data(), K);
}

std::vector<uint8_t> repack_all(const mm_kernels& k, const uint8_t* w, size_t ldw, int64_t M, int64_t K) {
  std::vector<uint8_t> rw(k.repacked_bytes(M, K)), rs(k.repack_scratch_bytes(K));
  k.repack(w, ldw, M, K, 0, M, rw.data(), rs.data());
  return rw;
}

class Matmul : public ::testing::TestWithParam<dtype> {};

TEST_P(Matmul, ThreadedProductMatchesReference) {
  const dtype t = GetParam();
  const mm_kernels& k = kernels_for_type(t);
  std::mt19937 rng(3);
  const int64_t K = 512, M = 53;
  const size_t ldw = row_bytes(t, K);
  std::vector<uint8_t> w(ldw * M);
  for (int64_t m = 0; m < M; ++m) {
    auto x = gaussian((size_t)K, rng, 0.05f);
    ref::quantize_row(t, x.data(), w.data() + ldw * m, K);
  }
  const auto rw = k.repack ? repack_all(k, w.data(), ldw, M, K) : std::vector<uint8_t>();
  for (bool repacked : {false, true}) {
    if (repacked && !k.repack) continue;
    for (int64_t N : {1, 6, 29}) {
      for (int nth : {1, 2, 3}) {
        SCOPED_TRACE("N=" + std::to_string(N) + " threads=" + std::to_string(nth) + (repacked ? " repacked" : ""));
        const size_t ldb = (size_t)K * 4 + 12;  // columns not packed back to back
        std::vector<uint8_t> b(ldb * N);
        for (int64_t n = 0; n < N; ++n) {
          auto x = gaussian((size_t)K, rng, 1.f);
          std::memcpy(b.data() + ldb * n, x.data(), (size_t)K * 4);
        }
        std::vector<float> c((size_t)M * N, NAN);
        matmul_desc d;
        d.k = &k;
        d.w = w.data();
        d.ldw = ldw;
        d.w_repacked = repacked ? rw.data() : nullptr;
        d.M = M; d.K = K; d.N = N;
        d.b = reinterpret_cast<const float*>(b.data());
        d.ldb = ldb;
        d.c = c.data();
        d.ldc = (size_t)M;
        std::vector<uint8_t> work(matmul_work_bytes(k, K, N, nth));
        run_threads(nth, [&](int ith, auto barrier) { matmul(d, ith, nth, work.data(), barrier); });
        for (int64_t n = 0; n < N; ++n)
          for (int64_t m = 0; m < M; ++m) {
            double mag;
            const float want = ref_dot(t, w.data() + ldw * m, reinterpret_cast<const float*>(b.data() + ldb * n), K, &mag);
            ASSERT_NEAR(c[(size_t)n * M + m], want, 2e-6 * mag + 1e-30) << "m=" << m << " n=" << n;
          }
      }
    }
  }
}

TEST_P(Matmul, ExpertRoutingMatchesReference) {
  const dtype t = GetParam();
  const mm_kernels& k = kernels_for_type(t);
  std::mt19937 rng(4);
  const int64_t K = 256, M = 40, n_expert = 5, n_used = 2;
  const size_t ldw = row_bytes(t, K), ldw_expert = ldw * M;
  std::vector<uint8_t> w(ldw_expert * n_expert);
  for (int64_t r = 0; r < M * n_expert; ++r) {
    auto x = gaussian((size_t)K, rng, 0.05f);
    ref::quantize_row(t, x.data(), w.data() + ldw * r, K);
  }
  std::vector<uint8_t> rw;
  size_t rw_expert = 0;
  if (k.repack) {
    rw_expert = k.repacked_bytes(M, K);
    rw.resize(rw_expert * n_expert);
    std::vector<uint8_t> rs(k.repack_scratch_bytes(K));
    for (int64_t e = 0; e < n_expert; ++e) k.repack(w.data() + ldw_expert * e, ldw, M, K, 0, M, rw.data() + rw_expert * e, rs.data());
  }
  for (bool repacked : {false, true}) {
    if (repacked && !k.repack) continue;
    for (int64_t n_tokens : {1, 9}) {
      for (int64_t nb : {(int64_t)1, n_used}) {
        for (int nth : {1, 2, 3}) {
          SCOPED_TRACE("tokens=" + std::to_string(n_tokens) + " nb=" + std::to_string(nb) + " threads=" + std::to_string(nth));
          std::vector<int32_t> ids((size_t)(n_used * n_tokens));
          std::uniform_int_distribution<int> pick(0, (int)n_expert - 1);
          for (auto& id : ids) id = pick(rng);
          ids[0] = -1;                       // invalid ids give zero rows
          if (ids.size() > 3) ids[3] = 99;
          auto b = gaussian((size_t)(K * nb * n_tokens), rng, 1.f);
          std::vector<float> out((size_t)(M * n_used * n_tokens), NAN);
          matmul_id_desc d;
          d.k = &k;
          d.w = w.data(); d.ldw = ldw; d.ldw_expert = ldw_expert;
          d.w_repacked = repacked ? rw.data() : nullptr;
          d.repacked_expert_bytes = rw_expert;
          d.n_expert = n_expert; d.M = M; d.K = K;
          d.n_used = n_used; d.n_tokens = n_tokens; d.nb = nb;
          d.ids = ids.data(); d.ld_ids = (size_t)n_used;
          d.b = b.data(); d.ldb1 = (size_t)K * 4; d.ldb2 = (size_t)(K * nb) * 4;
          d.out = out.data(); d.ldo1 = (size_t)M; d.ldo2 = (size_t)(M * n_used);
          std::vector<uint8_t> work(matmul_id_work_bytes(k, n_expert, K, M, n_used, n_tokens, nth));
          run_threads(nth, [&](int ith, auto barrier) { matmul_id(d, ith, nth, work.data(), barrier); });
          for (int64_t tk = 0; tk < n_tokens; ++tk)
            for (int64_t j = 0; j < n_used; ++j) {
              const int32_t e = ids[(size_t)(tk * n_used + j)];
              const float* col = b.data() + (size_t)(K * ((j % nb) + nb * tk));
              for (int64_t m = 0; m < M; ++m) {
                const float got = out[(size_t)(m + M * (j + n_used * tk))];
                if (e < 0 || e >= n_expert) {
                  ASSERT_EQ(got, 0.f);
                  continue;
                }
                double mag;
                const float want = ref_dot(t, w.data() + ldw_expert * e + ldw * m, col, K, &mag);
                ASSERT_NEAR(got, want, 2e-6 * mag + 1e-30) << "t=" << tk << " j=" << j << " m=" << m;
              }
            }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(SomeTypes, Matmul, ::testing::Values(dtype::q4_0, dtype::q4_k, dtype::q6_k, dtype::q8_0, dtype::f16, dtype::f32),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

}  // namespace
