// Fuzz target: the GGUF reader must reject any malformed input with hearth::error, never crash or
// read outside the buffer, and whatever it accepts must be self-consistent.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "formats/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto f = hearth::gguf::file::parse(data, size);
    for (const auto& [k, v] : f->metadata()) (void)v.to_string();
    volatile uint8_t sink = 0;
    for (const auto& t : f->tensors()) {
      if (t.size) sink = sink ^ f->tensor_data(t)[0] ^ f->tensor_data(t)[t.size - 1];  // touches both ends
    }
    (void)sink;
  } catch (const hearth::error&) {
  }
  return 0;
}
