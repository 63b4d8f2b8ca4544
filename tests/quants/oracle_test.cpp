// Byte-exact oracle: quantizing the F32 weights of synth-llama-f32.gguf with our reference must give
// exactly the bytes llama-quantize --pure wrote into synth-llama-pure-<type>.gguf.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "formats/quants.h"
#include "test_util.h"

using namespace hearth;

namespace {

struct pure_file {
  const char* suffix;
  dtype type;
};

const pure_file k_pure_files[] = {
    {"f16", dtype::f16},       {"bf16", dtype::bf16},     {"q8_0", dtype::q8_0},     {"q4_0", dtype::q4_0},
    {"q4_1", dtype::q4_1},     {"q5_0", dtype::q5_0},     {"q5_1", dtype::q5_1},     {"q2_k", dtype::q2_k},
    {"q3_k_s", dtype::q3_k},   {"q4_k_s", dtype::q4_k},   {"q5_k_s", dtype::q5_k},   {"q6_k", dtype::q6_k},
    {"iq4_nl", dtype::iq4_nl}, {"iq4_xs", dtype::iq4_xs},
};

class PureOracle : public ::testing::TestWithParam<pure_file> {};

TEST_P(PureOracle, QuantizeRowReproducesLlamaQuantizeBytes) {
  const pure_file pf = GetParam();
  auto src = gguf::file::open(test::data_path("reference/models/synth-llama-f32.gguf"));
  auto dst = gguf::file::open(test::data_path(std::string("reference/models/synth-llama-pure-") + pf.suffix + ".gguf"));

  int n_checked = 0;
  for (const auto& t : dst->tensors()) {
    if (t.type == dtype::f32) continue;  // norms stay F32
    SCOPED_TRACE(t.name);
    ASSERT_EQ(t.type, pf.type);
    const gguf::tensor_info* s = src->find_tensor(t.name);
    ASSERT_NE(s, nullptr);
    ASSERT_EQ(s->type, dtype::f32);
    for (int d = 0; d < 4; ++d) ASSERT_EQ(s->ne[d], t.ne[d]);

    const int64_t n_per_row = t.ne[0];
    const int64_t n_rows = t.nelements() / n_per_row;
    const size_t rb = row_bytes(pf.type, n_per_row);
    ASSERT_EQ(rb * (size_t)n_rows, t.size);
    const float* x = reinterpret_cast<const float*>(src->tensor_data(*s));
    const uint8_t* want = dst->tensor_data(t);
    std::vector<uint8_t> got(rb);
    const size_t bsz = type_size(pf.type);
    int64_t bad_blocks = 0, first_bad_row = -1, first_bad_block = -1;
    for (int64_t r = 0; r < n_rows; ++r) {
      ref::quantize_row(pf.type, x + r * n_per_row, got.data(), n_per_row);
      for (size_t b = 0; b < rb / bsz; ++b) {
        if (std::memcmp(got.data() + b * bsz, want + r * rb + b * bsz, bsz) != 0) {
          if (bad_blocks++ == 0) { first_bad_row = r; first_bad_block = (int64_t)b; }
        }
      }
    }
    EXPECT_EQ(bad_blocks, 0) << "of " << n_rows * (int64_t)(rb / bsz) << " blocks differ; first at row "
                             << first_bad_row << " block " << first_bad_block;
    ++n_checked;
  }
  EXPECT_EQ(n_checked, 16);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, PureOracle, ::testing::ValuesIn(k_pure_files),
                         [](const auto& info) { return std::string(info.param.suffix); });

}  // namespace
