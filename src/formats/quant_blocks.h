// Quantized block layouts, byte-compatible with GGUF files written by llama.cpp. Plain structs with
// their sizes asserted; the CPU kernels, the CUDA/HIP kernels and (through a generated include) the
// Vulkan shaders all read these exact layouts. f16 fields are raw IEEE half bits.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace hearth {

constexpr int qk32 = 32;   // elements per block of the legacy formats (Q4_0 ... Q8_1, IQ4_NL)
constexpr int qk_k = 256;  // elements per super-block of the K-quants and IQ4_XS
constexpr int k_scale_size = 12;

#pragma pack(push, 1)
struct block_q4_0 { uint16_t d; uint8_t qs[qk32 / 2]; };                       // x = d * (q - 8)
struct block_q4_1 { uint16_t d, m; uint8_t qs[qk32 / 2]; };                    // x = d * q + m
struct block_q5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[qk32 / 2]; };        // x = d * (q - 16), 5th bit in qh
struct block_q5_1 { uint16_t d, m; uint8_t qh[4]; uint8_t qs[qk32 / 2]; };     // x = d * q + m
struct block_q8_0 { uint16_t d; int8_t qs[qk32]; };                            // x = d * q
struct block_q8_1 { uint16_t d, s; int8_t qs[qk32]; };                         // s = d * sum(q)
struct block_q2_k { uint8_t scales[qk_k / 16]; uint8_t qs[qk_k / 4]; uint16_t d, dmin; };
struct block_q3_k { uint8_t hmask[qk_k / 8]; uint8_t qs[qk_k / 4]; uint8_t scales[12]; uint16_t d; };
struct block_q4_k { uint16_t d, dmin; uint8_t scales[k_scale_size]; uint8_t qs[qk_k / 2]; };
struct block_q5_k { uint16_t d, dmin; uint8_t scales[k_scale_size]; uint8_t qh[qk_k / 8]; uint8_t qs[qk_k / 2]; };
struct block_q6_k { uint8_t ql[qk_k / 2]; uint8_t qh[qk_k / 4]; int8_t scales[qk_k / 16]; uint16_t d; };
struct block_q8_k { float d; int8_t qs[qk_k]; int16_t bsums[qk_k / 16]; };    // activations of K-quant products
struct block_iq4_nl { uint16_t d; uint8_t qs[qk32 / 2]; };                     // x = d * kvalues_iq4nl[q]
struct block_iq4_xs { uint16_t d; uint16_t scales_h; uint8_t scales_l[qk_k / 64]; uint8_t qs[qk_k / 2]; };
#pragma pack(pop)

static_assert(sizeof(block_q4_0) == 18);
static_assert(sizeof(block_q4_1) == 20);
static_assert(sizeof(block_q5_0) == 22);
static_assert(sizeof(block_q5_1) == 24);
static_assert(sizeof(block_q8_0) == 34);
static_assert(sizeof(block_q8_1) == 36);
static_assert(sizeof(block_q2_k) == 84);
static_assert(sizeof(block_q3_k) == 110);
static_assert(sizeof(block_q4_k) == 144);
static_assert(sizeof(block_q5_k) == 176);
static_assert(sizeof(block_q6_k) == 210);
static_assert(sizeof(block_q8_k) == 292);
static_assert(sizeof(block_iq4_nl) == 18);
static_assert(sizeof(block_iq4_xs) == 136);

// The 16 non-linear levels of IQ4_NL and IQ4_XS.
inline constexpr int8_t kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

}  // namespace hearth
