// Helpers shared by the test binaries: where the test data lives.
#pragma once
#include <cstdlib>
#include <string>

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
}  // namespace hearth::test
