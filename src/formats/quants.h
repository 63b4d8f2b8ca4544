// Scalar reference for every tensor type: quantize, dequantize and dot product. This is the oracle
// every SIMD, Vulkan and CUDA/HIP kernel is tested against, and it reproduces llama.cpp's
// (non-imatrix) quantizers bit for bit so that a file we write equals one llama-quantize writes.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace hearth {

// Scale and minimum (6 bits each) of sub-block j (0..7) of a Q4_K / Q5_K super-block, from its
// 12-byte packed scales field: sub-blocks 0-3 in the low 6 bits of bytes 0-3 / 4-7, sub-blocks 4-7
// in the nibbles of bytes 8-11 with their top 2 bits in the high bits of bytes 0-3 / 4-7.
inline void unpack_k4_scale_min(const uint8_t* s, int j, uint8_t& sc, uint8_t& m) {
  if (j < 4) {
    sc = s[j] & 63;
    m = s[j + 4] & 63;
  } else {
    sc = (uint8_t)((s[j + 4] & 0xf) | ((s[j - 4] >> 6) << 4));
    m = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

// Signed 6-bit scale (-32..31) of sub-block j (0..15) of a Q3_K super-block: low nibbles in bytes
// 0-7 (sub-blocks 0-7 low, 8-15 high), top 2 bits in bytes 8-11.
inline int unpack_q3_k_scale(const uint8_t* s, int j) {
  const int lo = j < 8 ? (s[j] & 0xf) : (s[j - 8] >> 4);
  return (lo | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

}  // namespace hearth

namespace hearth::ref {

// Quantize n floats (n a multiple of the type's block size) into dst, in the type's blocks.
// For f32/f16/bf16 this is a plain conversion. For the weight types the bytes equal what
// llama-quantize (no importance matrix) writes. q8_1 / q8_k are activation formats: for them this
// is quantize_row_act. Throws hearth::error for a type without a quantizer or a bad n.
void quantize_row(dtype t, const float* src, void* dst, int64_t n);

// Dequantize n elements of type t (blocks) into floats.
void dequantize_row(dtype t, const void* src, float* dst, int64_t n);

// Rounds a row of activations to vec_dot_type(weight type) exactly as llama.cpp's CPU backend does
// before a matrix product (q8_0 / q8_1 / q8_k blocks, or f16 / bf16 / f32).
void quantize_row_act(dtype act_type, const float* src, void* dst, int64_t n);

// dot(weights row of type t, activations row already in vec_dot_type(t)), n elements, in float.
float vec_dot(dtype t, const void* w, const void* act, int64_t n);

// Whether quantize_row / dequantize_row / vec_dot support type t.
bool has_quantizer(dtype t);
bool has_dequantizer(dtype t);
bool has_vec_dot(dtype t);

}  // namespace hearth::ref
