// Internals of the scalar reference (src/formats/quants*.cpp): per-family entry points and the
// rounding helpers the quantizers share. Not for use outside src/formats and the quant tests.
//
// Bit-exactness with llama-quantize depends on evaluating every float expression in float, in the
// same order, without fused multiply-adds: these files are compiled with -ffp-contract=off.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/fp16.h"
#include "formats/quant_blocks.h"

namespace hearth::ref::detail {

// Round to nearest, ties to even, through the 1.5 * 2^23 trick (valid for |x| <= 2^22 - 1). Kept
// as the trick rather than nearbyint so that out-of-range inputs give the same garbage llama.cpp's
// quantizers give instead of a different one.
inline int nearest_int(float x) {
  const float v = x + 12582912.f;
  int32_t i;
  std::memcpy(&i, &v, 4);
  return (i & 0x007fffff) - 0x00400000;
}

inline float h2f(uint16_t h) { return f16_to_f32(h); }
inline uint16_t f2h(float f) { return f32_to_f16(f); }

// Legacy 32-element blocks (quants_legacy.cpp).
void quantize_q4_0(const float* x, block_q4_0* y, int64_t n);
void quantize_q4_1(const float* x, block_q4_1* y, int64_t n);
void quantize_q5_0(const float* x, block_q5_0* y, int64_t n);
void quantize_q5_1(const float* x, block_q5_1* y, int64_t n);
void quantize_q8_0(const float* x, block_q8_0* y, int64_t n);
void dequantize_q4_0(const block_q4_0* x, float* y, int64_t n);
void dequantize_q4_1(const block_q4_1* x, float* y, int64_t n);
void dequantize_q5_0(const block_q5_0* x, float* y, int64_t n);
void dequantize_q5_1(const block_q5_1* x, float* y, int64_t n);
void dequantize_q8_0(const block_q8_0* x, float* y, int64_t n);
void dequantize_q8_1(const block_q8_1* x, float* y, int64_t n);
void quantize_act_q8_0(const float* x, block_q8_0* y, int64_t n);
void quantize_act_q8_1(const float* x, block_q8_1* y, int64_t n);
float dot_q4_0(const block_q4_0* x, const block_q8_0* y, int64_t n);
float dot_q4_1(const block_q4_1* x, const block_q8_1* y, int64_t n);
float dot_q5_0(const block_q5_0* x, const block_q8_0* y, int64_t n);
float dot_q5_1(const block_q5_1* x, const block_q8_1* y, int64_t n);
float dot_q8_0(const block_q8_0* x, const block_q8_0* y, int64_t n);

// K-quants in 256-element super-blocks (quants_k.cpp).
void quantize_q2_k(const float* x, block_q2_k* y, int64_t n);
void quantize_q3_k(const float* x, block_q3_k* y, int64_t n);
void quantize_q4_k(const float* x, block_q4_k* y, int64_t n);
void quantize_q5_k(const float* x, block_q5_k* y, int64_t n);
void quantize_q6_k(const float* x, block_q6_k* y, int64_t n);
void dequantize_q2_k(const block_q2_k* x, float* y, int64_t n);
void dequantize_q3_k(const block_q3_k* x, float* y, int64_t n);
void dequantize_q4_k(const block_q4_k* x, float* y, int64_t n);
void dequantize_q5_k(const block_q5_k* x, float* y, int64_t n);
void dequantize_q6_k(const block_q6_k* x, float* y, int64_t n);
void dequantize_q8_k(const block_q8_k* x, float* y, int64_t n);
void quantize_act_q8_k(const float* x, block_q8_k* y, int64_t n);
float dot_q2_k(const block_q2_k* x, const block_q8_k* y, int64_t n);
float dot_q3_k(const block_q3_k* x, const block_q8_k* y, int64_t n);
float dot_q4_k(const block_q4_k* x, const block_q8_k* y, int64_t n);
float dot_q5_k(const block_q5_k* x, const block_q8_k* y, int64_t n);
float dot_q6_k(const block_q6_k* x, const block_q8_k* y, int64_t n);

// Non-linear 4-bit (quants_iq4.cpp).
void quantize_iq4_nl(const float* x, block_iq4_nl* y, int64_t n);
void quantize_iq4_xs(const float* x, block_iq4_xs* y, int64_t n);
void dequantize_iq4_nl(const block_iq4_nl* x, float* y, int64_t n);
void dequantize_iq4_xs(const block_iq4_xs* x, float* y, int64_t n);
float dot_iq4_nl(const block_iq4_nl* x, const block_q8_0* y, int64_t n);
float dot_iq4_xs(const block_iq4_xs* x, const block_q8_k* y, int64_t n);

}  // namespace hearth::ref::detail
