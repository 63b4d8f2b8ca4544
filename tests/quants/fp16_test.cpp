// f16 / bf16 <-> f32 conversions (core/fp16.h) against an independent oracle: the nearest
// representable value found by search in double precision, ties to the even encoding. On x86 with
// F16C the conversions are also compared with the hardware instruction.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/fp16.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

using namespace hearth;

namespace {

double f16_value(uint16_t h) {  // exact value of a finite half
  const int e = (h >> 10) & 31, m = h & 1023;
  const double v = e == 0 ? std::ldexp((double)m, -24) : std::ldexp((double)(1024 + m), e - 25);
  return (h & 0x8000) ? -v : v;
}

// Nearest half to x by search, ties to even; overflow to infinity at or beyond 65520 (the midpoint
// between the largest half, 65504, and 2^16), as IEEE round-to-nearest-even specifies.
uint16_t f16_oracle(float x) {
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double a = std::fabs((double)x);
  if (a >= 65520.0) return sign | 0x7c00;
  uint16_t lo = 0, hi = 0x7bff;  // largest finite half with value <= a
  while (lo < hi) {
    const uint16_t mid = (uint16_t)((lo + hi + 1) / 2);
    if (f16_value(mid) <= a) lo = mid; else hi = (uint16_t)(mid - 1);
  }
  if (f16_value(lo) == a) return sign | lo;
  const uint16_t up = (uint16_t)(lo + 1);
  const double dlo = a - f16_value(lo), dup = (up == 0x7c00 ? 65536.0 : f16_value(up)) - a;
  if (dlo < dup) return sign | lo;
  if (dup < dlo) return sign | up;
  return sign | ((lo & 1) ? up : lo);
}

uint16_t bf16_oracle(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  const uint16_t lo = (uint16_t)(u >> 16), up = (uint16_t)(lo + 1);
  auto val = [](uint16_t b) {
    if ((b & 0x7fff) == 0x7f80) return std::ldexp((b & 0x8000) ? -1.0 : 1.0, 128);  // rounding target "infinity"
    uint32_t v = (uint32_t)b << 16;
    float f;
    std::memcpy(&f, &v, 4);
    return (double)f;
  };
  const double dlo = std::fabs((double)x - val(lo)), dup = std::fabs(val(up) - (double)x);
  if (dlo < dup) return lo;
  if (dup < dlo) return up;
  return (lo & 1) ? up : lo;
}

float from_bits(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

// Finite test floats: a stride through every bit pattern, every midpoint between neighbouring halves
// and its two float neighbours, and the edges of the subnormal and overflow ranges.
std::vector<float> sample_floats() {
  std::vector<float> v;
  for (uint64_t u = 0; u < 0x100000000ull; u += 65521) {
    const float f = from_bits((uint32_t)u);
    if (std::isfinite(f)) v.push_back(f);
  }
  for (uint32_t h = 0; h < 0x7bff; ++h) {
    const float mid = (float)((f16_value((uint16_t)h) + f16_value((uint16_t)(h + 1))) / 2);
    for (float f : {mid, std::nextafter(mid, 0.f), std::nextafter(mid, 1e9f), (float)f16_value((uint16_t)h)}) {
      v.push_back(f);
      v.push_back(-f);
    }
  }
  for (float f : {65504.f, 65519.99f, 65520.f, 65536.f, 1e30f, std::ldexp(1.f, -24), std::ldexp(1.f, -25),
                  std::nextafter(std::ldexp(1.f, -25), 1.f), std::ldexp(1.f, -26), std::ldexp(1.f, -14),
                  std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::max(), 0.f, -0.f})
    v.push_back(f);
  return v;
}

TEST(Fp16, F16ToF32IsExactForEveryHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_f32((uint16_t)h);
    const int e = (h >> 10) & 31;
    if (e == 31) {
      if (h & 1023) EXPECT_TRUE(std::isnan(f)) << h;
      else EXPECT_EQ(f, (h & 0x8000) ? -INFINITY : INFINITY) << h;
      continue;
    }
    ASSERT_EQ((double)f, f16_value((uint16_t)h)) << h;
    ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << h;
    ASSERT_EQ(f32_to_f16(f), (uint16_t)h) << h;  // every half survives the round trip
  }
}

TEST(Fp16, F32ToF16RoundsToNearestEven) {
  for (float f : sample_floats()) ASSERT_EQ(f32_to_f16(f), f16_oracle(f)) << std::hexfloat << f;
}

TEST(Fp16, F32ToF16SpecialValues) {
  EXPECT_EQ(f32_to_f16(INFINITY), 0x7c00);
  EXPECT_EQ(f32_to_f16(-INFINITY), 0xfc00);
  EXPECT_EQ(f32_to_f16(65520.f), 0x7c00);                    // midpoint to 2^16 rounds up to inf
  EXPECT_EQ(f32_to_f16(std::nextafter(65520.f, 0.f)), 0x7bff);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.f, -25)), 0x0000);        // half the smallest subnormal: ties to 0
  EXPECT_EQ(f32_to_f16(std::nextafter(std::ldexp(1.f, -25), 1.f)), 0x0001);
  EXPECT_EQ(f32_to_f16(std::ldexp(3.f, -25)), 0x0002);        // 1.5 subnormal steps: ties to even
  EXPECT_EQ(f32_to_f16(-0.f), 0x8000);
  for (float nan : {NAN, -NAN, from_bits(0x7f800001), from_bits(0xffc00123)}) {
    const uint16_t h = f32_to_f16(nan);
    EXPECT_EQ(h & 0x7c00, 0x7c00);
    EXPECT_NE(h & 0x3ff, 0);                       // stays NaN (never turns into infinity)
    EXPECT_EQ((h & 0x8000) != 0, std::signbit(nan));
  }
}

TEST(Bf16, RoundsToNearestEven) {
  for (float f : sample_floats()) ASSERT_EQ(f32_to_bf16(f), bf16_oracle(f)) << std::hexfloat << f;
  EXPECT_EQ(f32_to_bf16(INFINITY), 0x7f80);
  EXPECT_EQ(f32_to_bf16(-INFINITY), 0xff80);
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // rounds past the largest bf16
  EXPECT_EQ(f32_to_bf16(from_bits(0x00010000)), 0x0001);             // subnormals are kept
  EXPECT_EQ(f32_to_bf16(from_bits(0x00008000)), 0x0000);             // tie to even
  EXPECT_EQ(f32_to_bf16(from_bits(0x00018000)), 0x0002);
  for (float nan : {NAN, -NAN, from_bits(0x7f800001), from_bits(0xff800001)}) {
    const uint16_t b = f32_to_bf16(nan);
    EXPECT_TRUE(std::isnan(bf16_to_f32(b)));
    EXPECT_EQ((b & 0x8000) != 0, std::signbit(nan));
  }
}

TEST(Bf16, ToF32IsTheHighHalf) {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    uint32_t u;
    const float f = bf16_to_f32((uint16_t)b);
    std::memcpy(&u, &f, 4);
    ASSERT_EQ(u, b << 16);
  }
}

#if defined(__x86_64__)
__attribute__((target("f16c"))) uint16_t f16c_convert(float f) {
  return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

bool has_f16c() {
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}

TEST(Fp16, MatchesF16CHardware) {
  if (!has_f16c()) GTEST_SKIP() << "no F16C on this CPU";
  for (float f : sample_floats()) ASSERT_EQ(f32_to_f16(f), f16c_convert(f)) << std::hexfloat << f;
  EXPECT_EQ(f32_to_f16(INFINITY), f16c_convert(INFINITY));
}
#endif

}  // namespace
