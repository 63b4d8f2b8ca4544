// Scalar reference for the legacy 32-element block formats: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (weights)
// and Q8_0 / Q8_1 (activations). The weight quantizers reproduce llama-quantize's output bit for bit;
// the activation quantizers reproduce the rounding of llama.cpp's x86 CPU backend (which differs
// from its own scalar Q8_0 quantizer: it multiplies by 127/amax and rounds half to even).
#include <algorithm>
#include <cfloat>

#include "formats/quants_impl.h"

namespace hearth::ref::detail {
namespace {

constexpr int qk = qk32;

// float -> int conversion with x86 truncation semantics (NaN and out-of-range give INT32_MIN), so
// that hostile inputs neither hit undefined behaviour nor differ from what llama.cpp computes.
inline int32_t trunc_i32(float x) {
  if (!(x > -2147483648.f && x < 2147483648.f)) return INT32_MIN;
  return (int32_t)x;
}
// (int8_t)(float) as compiled for x86: truncate to int32, keep the low byte.
inline int8_t trunc_i8(float x) { return (int8_t)(uint8_t)(uint32_t)trunc_i32(x); }
inline uint8_t trunc_u8(float x) { return (uint8_t)(uint32_t)trunc_i32(x); }

// Largest-magnitude element of a block, sign kept (the first one on ties).
inline float signed_absmax(const float* x, int n) {
  float amax = 0.f, max = 0.f;
  for (int j = 0; j < n; ++j) {
    const float v = x[j];
    if (amax < std::fabs(v)) {
      amax = std::fabs(v);
      max = v;
    }
  }
  return max;
}

inline void min_max(const float* x, int n, float& mn, float& mx) {
  mn = FLT_MAX;
  mx = -FLT_MAX;
  for (int j = 0; j < n; ++j) {
    if (x[j] < mn) mn = x[j];
    if (x[j] > mx) mx = x[j];
  }
}

inline uint32_t load_u32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }

}  // namespace

// ---- weight quantizers ---------------------------------------------------------------------------

void quantize_q4_0(const float* x, block_q4_0* y, int64_t n) {
  for (int64_t i = 0; i < n / qk; ++i, x += qk) {
    const float max = signed_absmax(x, qk);
    const float d = max / -8;
    const float id = d != 0.f ? 1.0f / d : 0.0f;
    y[i].d = f2h(d);
    for (int j = 0; j < qk / 2; ++j) {
      const float x0 = x[j] * id;
      const float x1 = x[qk / 2 + j] * id;
      const uint8_t q0 = (uint8_t)std::min<int>(15, trunc_i8(x0 + 8.5f));
      const uint8_t q1 = (uint8_t)std::min<int>(15, trunc_i8(x1 + 8.5f));
      y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
    }
  }
}

void quantize_q4_1(const float* x, block_q4_1* y, int64_t n) {
  for (int64_t i = 0; i < n / qk; ++i, x += qk) {
    float mn, mx;
    min_max(x, qk, mn, mx);
    const float d = (mx - mn) / ((1 << 4) - 1);
    const float id = d != 0.f ? 1.0f / d : 0.0f;
    y[i].d = f2h(d);
    y[i].m = f2h(mn);
    for (int j = 0; j < qk / 2; ++j) {
      const float x0 = (x[j] - mn) * id;
      const float x1 = (x[qk / 2 + j] - mn) * id;
      const uint8_t q0 = (uint8_t)std::min<int>(15, trunc_i8(x0 + 0.5f));
      const uint8_t q1 = (uint8_t)std::min<int>(15, trunc_i8(x1 + 0.5f));
      y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
    }
  }
}

void quantize_q5_0(const float* x, block_q5_0* y, int64_t n) {
  for (int64_t i = 0; i < n / qk; ++i, x += qk) {
    const float max = signed_absmax(x, qk);
    const float d = max / -16;
    const float id = d != 0.f ? 1.0f / d : 0.0f;
    y[i].d = f2h(d);
    uint32_t qh = 0;
    for (int j = 0; j < qk / 2; ++j) {
      const float x0 = x[j] * id;
      const float x1 = x[qk / 2 + j] * id;
      const uint8_t q0 = (uint8_t)std::min<int>(31, trunc_i8(x0 + 16.5f));
      const uint8_t q1 = (uint8_t)std::min<int>(31, trunc_i8(x1 + 16.5f));
      y[i].qs[j] = (uint8_t)((q0 & 0x0f) | ((q1 & 0x0f) << 4));
      qh |= ((q0 & 0x10u) >> 4) << j;
      qh |= ((q1 & 0x10u) >> 4) << (j + qk / 2);
    }
    std::memcpy(y[i].qh, &qh, 4);
  }
}

void quantize_q5_1(const float* x, block_q5_1* y, int64_t n) {
  for (int64_t i = 0; i < n / qk; ++i, x += qk) {
    float mn, mx;
    min_max(x, qk, mn, mx);
    const float d = (mx - mn) / ((1 << 5) - 1);
    const float id = d != 0.f ? 1.0f / d : 0.0f;
    y[i].d = f2h(d);
    y[i].m = f2h(mn);
    uint32_t qh = 0;
    for (int j = 0; j < qk / 2; ++j) {
      const float x0 = (x[j] - mn) * id;
      const float x1 = (x[qk / 2 + j] - mn) * id;
      // No clamp here (llama.cpp has none): (max - min) * id cannot round past 31.5.
      const uint8_t q0 = trunc_u8(x0 + 0.5f);
      const uint8_t q1 = trunc_u8(x1 + 0.5f);
      y[i].qs[j] = (uint8_t)((q0 & 0x0f) | ((q1 & 0x0f) << 4));
      qh |= ((q0 & 0x10u) >> 4) << j;
      qh |= ((q1 & 0x10u) >> 4) << (j + qk / 2);
    }
    std::memcpy(y[i].qh, &qh, 4);
  }
}

void quantize_q8_0(const float* x, block_q8_0* y, int64_t n) {
  for (int64_t i = 0; i < n / qk; ++i, x += qk) {
    float amax = 0.f;
    for (int j = 0; j < qk; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / ((1 << 7) - 1);
    const float id = d != 0.f ? 1.0f / d : 0.0f;
    y[i].d = f2h(d);
    // roundf: half away from zero (this is the file quantizer, not the activation one).
    for (int j = 0; j < qk; ++j) y[i].qs[j] = (int8_t)trunc_i32(std::round(x[j] * id));
  }
}

// ---- activation quantizers (llama.cpp's AVX path) ------------------------------------------------

void quantize_act_q8_0(const float* x, block_q8_0* y, int64_t n) {
  for (int64_t i = 0; i < n / qk; ++i, x += qk) {
    float amax = 0.f;
    for (int j = 0; j < qk; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.f;
    const float id = amax != 0.f ? 127.f / amax : 0.f;
    y[i].d = f2h(d);
    for (int j = 0; j < qk; ++j) y[i].qs[j] = (int8_t)std::clamp(nearest_int(x[j] * id), -128, 127);
  }
}

void quantize_act_q8_1(const float* x, block_q8_1* y, int64_t n) {
  for (int64_t i = 0; i < n / qk; ++i, x += qk) {
    float amax = 0.f;
    for (int j = 0; j < qk; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.f;
    const float id = amax != 0.f ? 127.f / amax : 0.f;
    y[i].d = f2h(d);
    int sum = 0;
    for (int j = 0; j < qk; ++j) {
      y[i].qs[j] = (int8_t)std::clamp(nearest_int(x[j] * id), -128, 127);
      sum += y[i].qs[j];
    }
    y[i].s = f2h(d * (float)sum);
  }
}

// ---- dequantization ------------------------------------------------------------------------------

void dequantize_q4_0(const block_q4_0* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / qk; ++i, y += qk) {
    const float d = h2f(x[i].d);
    for (int j = 0; j < qk / 2; ++j) {
      y[j] = (float)((x[i].qs[j] & 0x0f) - 8) * d;
      y[j + qk / 2] = (float)((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_q4_1(const block_q4_1* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / qk; ++i, y += qk) {
    const float d = h2f(x[i].d), m = h2f(x[i].m);
    for (int j = 0; j < qk / 2; ++j) {
      y[j] = (float)(x[i].qs[j] & 0x0f) * d + m;
      y[j + qk / 2] = (float)(x[i].qs[j] >> 4) * d + m;
    }
  }
}

void dequantize_q5_0(const block_q5_0* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / qk; ++i, y += qk) {
    const float d = h2f(x[i].d);
    const uint32_t qh = load_u32(x[i].qh);
    for (int j = 0; j < qk / 2; ++j) {
      const int h0 = (int)((qh >> j) << 4) & 0x10;
      const int h1 = (int)(qh >> (j + 12)) & 0x10;
      y[j] = (float)(((x[i].qs[j] & 0x0f) | h0) - 16) * d;
      y[j + qk / 2] = (float)(((x[i].qs[j] >> 4) | h1) - 16) * d;
    }
  }
}

void dequantize_q5_1(const block_q5_1* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / qk; ++i, y += qk) {
    const float d = h2f(x[i].d), m = h2f(x[i].m);
    const uint32_t qh = load_u32(x[i].qh);
    for (int j = 0; j < qk / 2; ++j) {
      const int h0 = (int)((qh >> j) << 4) & 0x10;
      const int h1 = (int)(qh >> (j + 12)) & 0x10;
      y[j] = (float)((x[i].qs[j] & 0x0f) | h0) * d + m;
      y[j + qk / 2] = (float)((x[i].qs[j] >> 4) | h1) * d + m;
    }
  }
}

void dequantize_q8_0(const block_q8_0* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / qk; ++i, y += qk) {
    const float d = h2f(x[i].d);
    for (int j = 0; j < qk; ++j) y[j] = (float)x[i].qs[j] * d;
  }
}

void dequantize_q8_1(const block_q8_1* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / qk; ++i, y += qk) {
    const float d = h2f(x[i].d);
    for (int j = 0; j < qk; ++j) y[j] = (float)x[i].qs[j] * d;
  }
}

// ---- dot products (weights x activations) --------------------------------------------------------
// Per block: the exact integer dot product, scaled by the product of the two block scales, summed in
// float. The Q4_1/Q5_1 minimum term uses the activation block's stored f16 sum, as llama.cpp does.

float dot_q4_0(const block_q4_0* x, const block_q8_0* y, int64_t n) {
  float sum = 0.f;
  for (int64_t i = 0; i < n / qk; ++i) {
    int s = 0;
    for (int j = 0; j < qk / 2; ++j) {
      s += ((x[i].qs[j] & 0x0f) - 8) * y[i].qs[j];
      s += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + qk / 2];
    }
    sum += h2f(x[i].d) * h2f(y[i].d) * (float)s;
  }
  return sum;
}

float dot_q4_1(const block_q4_1* x, const block_q8_1* y, int64_t n) {
  float sum = 0.f;
  for (int64_t i = 0; i < n / qk; ++i) {
    int s = 0;
    for (int j = 0; j < qk / 2; ++j) {
      s += (x[i].qs[j] & 0x0f) * y[i].qs[j];
      s += (x[i].qs[j] >> 4) * y[i].qs[j + qk / 2];
    }
    sum += h2f(x[i].d) * h2f(y[i].d) * (float)s + h2f(x[i].m) * h2f(y[i].s);
  }
  return sum;
}

float dot_q5_0(const block_q5_0* x, const block_q8_0* y, int64_t n) {
  float sum = 0.f;
  for (int64_t i = 0; i < n / qk; ++i) {
    const uint32_t qh = load_u32(x[i].qh);
    int s = 0;
    for (int j = 0; j < qk / 2; ++j) {
      const int h0 = (int)((qh >> j) << 4) & 0x10;
      const int h1 = (int)(qh >> (j + 12)) & 0x10;
      s += (((x[i].qs[j] & 0x0f) | h0) - 16) * y[i].qs[j];
      s += (((x[i].qs[j] >> 4) | h1) - 16) * y[i].qs[j + qk / 2];
    }
    sum += h2f(x[i].d) * h2f(y[i].d) * (float)s;
  }
  return sum;
}

float dot_q5_1(const block_q5_1* x, const block_q8_1* y, int64_t n) {
  float sum = 0.f;
  for (int64_t i = 0; i < n / qk; ++i) {
    const uint32_t qh = load_u32(x[i].qh);
    int s = 0;
    for (int j = 0; j < qk / 2; ++j) {
      const int h0 = (int)((qh >> j) << 4) & 0x10;
      const int h1 = (int)(qh >> (j + 12)) & 0x10;
      s += ((x[i].qs[j] & 0x0f) | h0) * y[i].qs[j];
      s += ((x[i].qs[j] >> 4) | h1) * y[i].qs[j + qk / 2];
    }
    sum += h2f(x[i].d) * h2f(y[i].d) * (float)s + h2f(x[i].m) * h2f(y[i].s);
  }
  return sum;
}

float dot_q8_0(const block_q8_0* x, const block_q8_0* y, int64_t n) {
  float sum = 0.f;
  for (int64_t i = 0; i < n / qk; ++i) {
    int s = 0;
    for (int j = 0; j < qk; ++j) s += x[i].qs[j] * y[i].qs[j];
    sum += h2f(x[i].d) * h2f(y[i].d) * (float)s;
  }
  return sum;
}

}  // namespace hearth::ref::detail
