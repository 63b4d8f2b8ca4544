// Every kernel level this CPU supports, for every weight type, against the scalar reference:
// activation rounding must be bit-identical, matrix products equal up to float summation order.
// Sizes are odd on purpose: row counts that leave partial panels, column counts that leave partial
// groups and cross the few-columns / panel paths, and 1, 3 and 7 blocks along K.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/kernels/isa.h"
#include "backends/cpu/kernels/qkernels.h"
#include "core/fp16.h"
#include "formats/quants.h"

using namespace hearth;
using namespace hearth::cpu;

namespace {

const dtype k_types[] = {dtype::f32,  dtype::f16,  dtype::bf16, dtype::q4_0, dtype::q4_1,   dtype::q5_0,  dtype::q5_1, dtype::q8_0,
                         dtype::q2_k, dtype::q3_k, dtype::q4_k, dtype::q5_k, dtype::q6_k, dtype::iq4_nl, dtype::iq4_xs};

// Offsets of the f16 scale fields inside one block (the rest of a block is levels and packed
// integer scales, for which every bit pattern is valid).
std::vector<int> f16_fields(dtype t) {
  switch (t) {
    case dtype::q4_0: case dtype::q5_0: case dtype::q8_0: case dtype::iq4_nl: case dtype::iq4_xs: return {0};
    case dtype::q4_1: case dtype::q5_1: case dtype::q4_k: case dtype::q5_k: return {0, 2};
    case dtype::q2_k: return {80, 82};
    case dtype::q3_k: return {108};
    case dtype::q6_k: return {208};
    default: return {};
  }
}

struct level_type {
  isa_level level;
  dtype type;
};

std::vector<level_type> all_cases() {
  std::vector<level_type> v;
  for (isa_level l : {isa_level::generic, isa_level::avx2, isa_level::avx2_vnni, isa_level::avx512})
    for (dtype t : k_types) v.push_back({l, t});
  return v;
}

std::string case_name(const ::testing::TestParamInfo<level_type>& info) {
  return std::string(isa_name(info.param.level)) + "_" + dtype_name(info.param.type);
}

class Kernels : public ::testing::TestWithParam<level_type> {
 protected:
  void SetUp() override {
    if (!isa_available(GetParam().level)) GTEST_SKIP() << isa_name(GetParam().level) << " not available on this CPU";
  }
  const mm_kernels& k() const { return kernels_at(GetParam().type, GetParam().level); }
};

std::vector<float> gaussian(size_t n, std::mt19937& rng, float sigma) {
  std::normal_distribution<float> d(0.f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Weight rows of type t: half quantized from Gaussian data, half random bytes (every level value,
// extreme scales) with sane f16 scales.
std::vector<uint8_t> make_weights(dtype t, int64_t M, int64_t K, std::mt19937& rng) {
  const size_t rb = row_bytes(t, K);
  std::vector<uint8_t> w(rb * (size_t)M);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(-0.02f, 0.02f);
  for (int64_t m = 0; m < M; ++m) {
    uint8_t* row = w.data() + rb * (size_t)m;
    if (m % 2 == 0 || !is_quantized(t)) {
      auto x = gaussian((size_t)K, rng, 0.05f);
      if (m % 3 == 1) for (size_t i = 0; i < x.size(); i += 7) x[i] *= 8.f;  // outliers
      ref::quantize_row(t, x.data(), row, K);
    } else {
      for (size_t i = 0; i < rb; ++i) row[i] = (uint8_t)byte(rng);
      const size_t bs = type_size(t);
      for (size_t b = 0; b < rb / bs; ++b)
        for (int off : f16_fields(t)) {
          const uint16_t h = f32_to_f16(scale(rng));
          std::memcpy(row + b * bs + off, &h, 2);
        }
    }
  }
  return w;
}

TEST_P(Kernels, ActivationRoundingIsBitIdentical) {
  const dtype at = k().act_type;
  ASSERT_EQ(at, vec_dot_type(GetParam().type));
  std::mt19937 rng(5);
  for (int64_t n : {256, 512, 2048}) {
    auto x = gaussian((size_t)n, rng, 2.f);
    for (size_t i = 0; i < x.size(); i += 13) x[i] *= 30.f;
    std::fill(x.begin(), x.begin() + 32, 0.f);  // an all-zero block
    x[40] = 127.f; x[41] = 2.5f; x[42] = -3.5f;  // ties after scaling
    // Q8_K: both signs of the largest magnitude in one block; the first one decides the scale's sign.
    if (n > 256) { x[256 + 10] = -500.f; x[256 + 200] = 500.f; }
    if (n > 512) { x[512 + 3] = 700.f; x[512 + 40] = -700.f; }
    std::vector<uint8_t> want(row_bytes(at, n)), got(row_bytes(at, n), 0xcd);
    ref::quantize_row_act(at, x.data(), want.data(), n);
    k().quantize_act(x.data(), got.data(), n);
    EXPECT_EQ(std::memcmp(want.data(), got.data(), want.size()), 0) << "n=" << n;
  }
}

// C = W x B through rows() on the GGUF layout, and through rows_repacked() when the level repacks.
void check_products(const mm_kernels& k, dtype t, bool repacked) {
  const dtype at = vec_dot_type(t);
  const int64_t bs = block_size(t) == 1 ? 32 : block_size(t);
  std::mt19937 rng(17);
  for (int64_t kb : {1, 3, 7}) {
    const int64_t K = bs * kb + (block_size(t) == 1 ? 5 : 0);  // plain types: a K that is no vector multiple
    for (int64_t M : {1, 7, 16, 37}) {
      const auto w = make_weights(t, M, K, rng);
      const size_t ldw = row_bytes(t, K);
      const int64_t rpp = k.rows_per_panel;
      std::vector<uint8_t> rw;
      if (repacked) {
        const size_t n = k.repacked_bytes(M, K);
        rw.assign(n + 64, 0xab);
        std::vector<uint8_t> rs(k.repack_scratch_bytes(K));
        // Two row ranges, as two threads would repack them.
        const int64_t split = std::min<int64_t>(M, rpp);
        k.repack(w.data(), ldw, M, K, 0, split, rw.data(), rs.data());
        if (split < M) k.repack(w.data(), ldw, M, K, split, M, rw.data(), rs.data());
        for (size_t i = n; i < rw.size(); ++i) ASSERT_EQ(rw[i], 0xab) << "repack wrote past repacked_bytes";
        std::vector<float> want((size_t)K), got((size_t)K);
        for (int64_t m = 0; m < M; ++m) {
          ref::dequantize_row(t, w.data() + ldw * m, want.data(), K);
          k.dequantize_repacked(rw.data(), K, m, got.data());
          ASSERT_EQ(std::memcmp(want.data(), got.data(), (size_t)K * 4), 0) << "dequantize_repacked row " << m;
        }
      }
      for (int64_t N : {1, 2, 3, 4, 5, 13, 27}) {
        SCOPED_TRACE("K=" + std::to_string(K) + " M=" + std::to_string(M) + " N=" + std::to_string(N) +
                     (repacked ? " repacked" : ""));
        auto b = gaussian((size_t)(K * N), rng, 1.f);
        // Reference: round each column, dot with each row.
        std::vector<uint8_t> act(row_bytes(at, K) * (size_t)N);
        for (int64_t n = 0; n < N; ++n) ref::quantize_row_act(at, b.data() + K * n, act.data() + row_bytes(at, K) * n, K);
        std::vector<uint8_t> packed(k.act_bytes(K, N));
        for (int64_t n = 0; n < N; ++n) k.pack_act(b.data() + K * n, K, n, N, packed.data());
        std::vector<uint8_t> scratch(k.scratch_bytes(K, N) + 1);
        const size_t ldc = (size_t)M + 3;
        std::vector<float> c(ldc * (size_t)N, NAN);
        // Two calls over split row ranges, as two threads would run them.
        const int64_t split = std::min<int64_t>(M, rpp);
        auto run = [&](int64_t m0, int64_t m1) {
          if (repacked) k.rows_repacked(rw.data(), K, M, m0, m1, packed.data(), N, c.data(), ldc, scratch.data());
          else k.rows(w.data(), ldw, K, m0, m1, packed.data(), N, c.data(), ldc, scratch.data());
        };
        run(0, split);
        if (split < M) run(split, M);
        std::vector<float> wd((size_t)K), ad((size_t)K);
        for (int64_t m = 0; m < M; ++m) {
          ref::dequantize_row(t, w.data() + ldw * m, wd.data(), K);
          for (int64_t n = 0; n < N; ++n) {
            const uint8_t* an = act.data() + row_bytes(at, K) * n;
            ref::dequantize_row(at, an, ad.data(), K);
            double mag = 0;
            for (int64_t i = 0; i < K; ++i) mag += std::fabs((double)wd[i] * ad[i]);
            const float want = ref::vec_dot(t, w.data() + ldw * m, an, K);
            const float got = c[ldc * n + m];
            ASSERT_NEAR(got, want, 2e-6 * mag + 1e-6 * std::fabs(want) + 1e-30) << "m=" << m << " n=" << n;
          }
        }
        for (int64_t n = 0; n < N; ++n)
          for (size_t m = (size_t)M; m < ldc; ++m) ASSERT_TRUE(std::isnan(c[ldc * n + m])) << "wrote past the rows";
      }
    }
  }
}

TEST_P(Kernels, MatrixProductMatchesReference) { check_products(k(), GetParam().type, false); }

TEST_P(Kernels, RepackedMatrixProductMatchesReference) {
  if (!k().repack) GTEST_SKIP() << "no repacked layout at this level for this type";
  check_products(k(), GetParam().type, true);
}

TEST_P(Kernels, RowKernelsMatchReference) {
  const dtype t = GetParam().type;
  const dtype at = vec_dot_type(t);
  std::mt19937 rng(23);
  const int64_t K = (block_size(t) == 1 ? 32 : block_size(t)) * 5;
  const auto w = make_weights(t, 4, K, rng);
  auto x = gaussian((size_t)K, rng, 1.f);
  std::vector<uint8_t> act(row_bytes(at, K));
  ref::quantize_row_act(at, x.data(), act.data(), K);
  std::vector<float> want((size_t)K), got((size_t)K);
  for (int r = 0; r < 4; ++r) {
    const uint8_t* row = w.data() + row_bytes(t, K) * r;
    ref::dequantize_row(t, row, want.data(), K);
    k().dequantize(row, got.data(), K);
    ASSERT_EQ(std::memcmp(want.data(), got.data(), (size_t)K * 4), 0);
    const float ref_dot = ref::vec_dot(t, row, act.data(), K);
    double mag = 0;
    std::vector<float> ad((size_t)K);
    ref::dequantize_row(at, act.data(), ad.data(), K);
    for (int64_t i = 0; i < K; ++i) mag += std::fabs((double)want[i] * ad[i]);
    EXPECT_NEAR(k().vec_dot(row, act.data(), K), ref_dot, 2e-6 * mag + 1e-30);
  }
}

INSTANTIATE_TEST_SUITE_P(AllLevels, Kernels, ::testing::ValuesIn(all_cases()), case_name);

TEST(Isa, NamesRoundTripAndLevelsAreOrdered) {
  for (isa_level l : {isa_level::generic, isa_level::avx2, isa_level::avx2_vnni, isa_level::avx512})
    EXPECT_EQ(isa_from_name(isa_name(l)), l);
  EXPECT_FALSE(isa_from_name("sse9").has_value());
  EXPECT_LE((int)active_isa(), (int)detected_isa());
  EXPECT_TRUE(isa_available(isa_level::generic));
  // Asking for a level above the CPU's falls back to one it runs.
  EXPECT_LE((int)kernels_at(dtype::q4_0, isa_level::avx512).isa, (int)detected_isa());
}

// Run by EnvironmentOverrideCapsTheLevel in a child process with HEARTH_CPU_ISA set.
TEST(Isa, ActiveLevelFollowsEnvironment) {
  const char* want = std::getenv("HEARTH_CPU_ISA_EXPECT");
  if (!want) GTEST_SKIP() << "only meaningful in the child process of EnvironmentOverrideCapsTheLevel";
  EXPECT_STREQ(isa_name(active_isa()), want);
  EXPECT_EQ(kernels_for_type(dtype::q4_0).isa, active_isa());
}

int run_child_with_isa(const char* value, const char* expect) {
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) return -1;
  exe[n] = 0;
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "HEARTH_CPU_ISA", 14) != 0) env_s.push_back(*e);
  env_s.push_back(std::string("HEARTH_CPU_ISA=") + value);
  env_s.push_back(std::string("HEARTH_CPU_ISA_EXPECT=") + expect);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string filter = "--gtest_filter=Isa.ActiveLevelFollowsEnvironment";
  char* argv[] = {exe, filter.data(), nullptr};
  pid_t pid;
  if (posix_spawn(&pid, exe, nullptr, nullptr, argv, envp.data()) != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(Isa, EnvironmentOverrideCapsTheLevel) {
  if (std::getenv("HEARTH_CPU_ISA_EXPECT")) GTEST_SKIP();
  EXPECT_EQ(run_child_with_isa("generic", "generic"), 0);
  if (isa_available(isa_level::avx2)) EXPECT_EQ(run_child_with_isa("avx2", "avx2"), 0);
  // Unknown names and levels above the CPU's are ignored (with a warning).
  EXPECT_EQ(run_child_with_isa("sse9", isa_name(detected_isa())), 0);
  if (detected_isa() != isa_level::avx512) EXPECT_EQ(run_child_with_isa("avx512", isa_name(detected_isa())), 0);
}

TEST(Isa, UnsupportedTypesThrow) {
  EXPECT_FALSE(has_kernels(dtype::iq2_xxs));
  EXPECT_THROW(kernels_at(dtype::iq2_xxs, isa_level::generic), std::exception);
  EXPECT_TRUE(has_kernels(dtype::q4_k));
}

}  // namespace
