// Tensor element types. The numeric values are GGUF's (ggml_type), so a type id read from a file
// converts directly. Every type has a row of traits: block size, bytes per block, name.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace hearth {

enum class dtype : uint32_t {
  f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9,
  q2_k = 10, q3_k = 11, q4_k = 12, q5_k = 13, q6_k = 14, q8_k = 15,
  iq2_xxs = 16, iq2_xs = 17, iq3_xxs = 18, iq1_s = 19, iq4_nl = 20, iq3_s = 21, iq2_s = 22, iq4_xs = 23,
  i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_m = 29, bf16 = 30,
  tq1_0 = 34, tq2_0 = 35, mxfp4 = 39,
};
constexpr uint32_t dtype_id_limit = 40;  // one past the largest id

struct dtype_traits {
  const char* name;      // as llama.cpp prints it: "f32", "q4_K", ...
  int64_t block_size;    // elements per block (1 for plain types)
  size_t type_size;      // bytes per block
  bool quantized;
  bool computable;       // Hearth has kernels for it (others can be read and listed, not run)
};

// Traits of a known type; nullptr for an id that is no GGUF type.
const dtype_traits* dtype_info(uint32_t id);
const dtype_traits& traits(dtype t);
inline const char* dtype_name(dtype t) { return traits(t).name; }
inline int64_t block_size(dtype t) { return traits(t).block_size; }
inline size_t type_size(dtype t) { return traits(t).type_size; }
inline bool is_quantized(dtype t) { return traits(t).quantized; }
// Bytes of a row of n elements (n must be a multiple of the block size).
inline size_t row_bytes(dtype t, int64_t n) { return type_size(t) * (size_t)(n / block_size(t)); }
std::optional<dtype> dtype_from_name(std::string_view name);  // case-insensitive: "Q4_K", "q4_k", "F16"

// The type activations are converted to before a matrix product with weights of type t (how the
// reference rounds, and the type the fast integer dot products consume).
dtype vec_dot_type(dtype t);

}  // namespace hearth
