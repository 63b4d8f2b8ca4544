// Scalar reference for every tensor type: quantize, dequantize and dot product. This is the oracle
// every SIMD, Vulkan and CUDA/HIP kernel is tested against, and it reproduces llama.cpp's
// (non-imatrix) quantizers bit for bit so that a file we write equals one llama-quantize writes.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace hearth::ref {

// Quantize n floats (n a multiple of the type's block size) into dst, in the type's blocks.
// For f32/f16/bf16 this is a plain conversion. Not for q8_1/q8_k alone: those are activation
// formats, use quantize_row_act.
void quantize_row(dtype t, const float* src, void* dst, int64_t n);

// Dequantize n elements of type t (blocks) into floats.
void dequantize_row(dtype t, const void* src, float* dst, int64_t n);

// Rounds a row of activations to vec_dot_type(weight type) exactly as llama.cpp's CPU backend does
// before a matrix product (q8_0 / q8_1 / q8_k blocks, or f16 / bf16 / f32).
void quantize_row_act(dtype act_type, const float* src, void* dst, int64_t n);

// dot(weights row of type t, activations row already in vec_dot_type(t)), n elements, in float.
float vec_dot(dtype t, const void* w, const void* act, int64_t n);

}  // namespace hearth::ref
