// IEEE half and bfloat16 <-> float conversions, bit-exact round-to-nearest-even (what F16C and the
// GGUF producers use), portable so the scalar reference never depends on the CPU.
#pragma once
#include <cstdint>
#include <cstring>

namespace hearth {

using f16_bits = uint16_t;
using bf16_bits = uint16_t;

inline float bits_to_f32(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
inline uint32_t f32_to_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }

inline float f16_to_f32(f16_bits h) {
  const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  if (exp == 0) {
    if (mant == 0) return bits_to_f32(sign);
    // subnormal: normalise
    int e = -1;
    do { mant <<= 1; ++e; } while ((mant & 0x400) == 0);
    mant &= 0x3ff;
    return bits_to_f32(sign | (uint32_t)(127 - 15 - e) << 23 | mant << 13);
  }
  if (exp == 31) return bits_to_f32(sign | 0x7f800000u | mant << 13);
  return bits_to_f32(sign | (exp + 112) << 23 | mant << 13);
}

inline f16_bits f32_to_f16(float f) {
  uint32_t x = f32_to_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000;
  x &= 0x7fffffff;
  if (x >= 0x7f800000u) return (f16_bits)(sign | 0x7c00 | (x > 0x7f800000u ? 0x200 : 0));  // inf / nan
  if (x >= 0x477ff000u) return (f16_bits)(sign | 0x7c00);                                   // overflow
  if (x < 0x38800000u) {                                                                    // subnormal or zero
    if (x < 0x33000000u) return (f16_bits)sign;                                             // < half of min subnormal
    const uint32_t e = x >> 23;
    const uint32_t m = (x & 0x7fffff) | 0x800000;
    const int shift = 126 - (int)e;  // 14 + (113 - e)
    uint32_t r = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) ++r;
    return (f16_bits)(sign | r);
  }
  uint32_t r = ((x >> 13) - (112u << 10));
  const uint32_t rem = x & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) ++r;
  return (f16_bits)(sign | r);
}

inline float bf16_to_f32(bf16_bits h) { return bits_to_f32((uint32_t)h << 16); }

inline bf16_bits f32_to_bf16(float f) {
  const uint32_t u = f32_to_bits(f);
  if ((u & 0x7fffffff) > 0x7f800000u) return (bf16_bits)((u >> 16) | 64);  // quiet nan
  return (bf16_bits)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

}  // namespace hearth
