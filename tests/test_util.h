// Helpers shared by the test binaries: where the test data lives, the rope settings of op tests.
#pragma once
#include <cstdlib>
#include <string>

#include "core/tensor.h"

namespace hearth::test {
// HEARTH_TEST_DATA in the environment overrides the tree's tests/data (the GPU machine gets a
// carried subset: scripts/device-data.sh).
inline std::string data_root() {
  const char* env = std::getenv("HEARTH_TEST_DATA");
  return env && *env ? env : HEARTH_TEST_DATA;
}
inline std::string data_path(const std::string& rel) { return data_root() + "/" + rel; }
inline std::string source_path(const std::string& rel) { return std::string(HEARTH_SOURCE_DIR) + "/" + rel; }
inline std::string binary_path(const std::string& rel) { return std::string(HEARTH_BINARY_DIR) + "/" + rel; }

// The rope of the op tests: n_rot of the head's dimensions rotated, base 10000, a 4096-token
// original context; yarn: the context stretched 4x with YaRN extrapolation.
inline rope_params test_rope(int n_rot, rope_mode mode, bool yarn) {
  rope_params rp{};
  rp.n_rot = n_rot;
  rp.mode = mode;
  rp.n_ctx_orig = 4096;
  rp.freq_base = 10000.0f;
  rp.freq_scale = yarn ? 0.25f : 1.0f;
  rp.ext_factor = yarn ? 1.0f : 0.0f;
  rp.attn_factor = 1.0f;
  rp.beta_fast = 32.0f;
  rp.beta_slow = 1.0f;
  return rp;
}
}  // namespace hearth::test
