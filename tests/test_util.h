// Helpers shared by the test binaries: where the test data lives.
#pragma once
#include <string>

namespace hearth::test {
inline std::string data_path(const std::string& rel) { return std::string(HEARTH_TEST_DATA) + "/" + rel; }
inline std::string source_path(const std::string& rel) { return std::string(HEARTH_SOURCE_DIR) + "/" + rel; }
inline std::string binary_path(const std::string& rel) { return std::string(HEARTH_BINARY_DIR) + "/" + rel; }
}  // namespace hearth::test
