// Scalar reference for the non-linear 4-bit formats IQ4_NL (32-element blocks, one f16 scale) and
// IQ4_XS (256-element super-blocks, 6-bit sub-block scales). Each 4-bit index selects one of the 16
// levels of kvalues_iq4nl. The quantizer is llama-quantize's (no importance matrix, 7 scale trials).
#include <algorithm>

#include "formats/quants_impl.h"

namespace hearth::ref::detail {
namespace {

constexpr float group_max_eps = 1e-15f;
constexpr int n_levels = 16;
constexpr int n_try = 7;

// Index of the level nearest to x (the upper one on an exact tie). Comparing 2x with the sum of two
// neighbouring levels keeps every comparison exact.
inline int nearest_level(float x) {
  const float x2 = x + x;
  int idx = 0;
  for (int step = n_levels / 2; step > 0; step /= 2) {
    const int j = idx + step;
    if (x2 >= (float)(kvalues_iq4nl[j - 1] + kvalues_iq4nl[j])) idx = j;
  }
  return idx;
}

// Quantizes one super-block of `sb` elements in 32-element blocks. For IQ4_NL (sb == 32) the single
// block scale goes to *dh; for IQ4_XS the block scales are quantized to 6 bits against *dh.
void quantize_nl_superblock(int sb, const float* x, uint16_t* dh, uint8_t* q4, uint16_t* scales_h, uint8_t* scales_l) {
  constexpr int bs = 32;
  float scales[qk_k / bs];
  float weight[bs];
  uint8_t L[qk_k];
  std::memset(q4, 0, (size_t)sb / 2);
  *dh = f2h(0.f);

  float max_scale = 0, amax_scale = 0;
  for (int ib = 0; ib < sb / bs; ++ib) {
    const float* xb = x + ib * bs;
    uint8_t* Lb = L + ib * bs;
    for (int j = 0; j < bs; ++j) weight[j] = xb[j] * xb[j];
    float amax = 0, max = 0;
    for (int j = 0; j < bs; ++j) {
      const float ax = std::fabs(xb[j]);
      if (ax > amax) { amax = ax; max = xb[j]; }
    }
    if (amax < group_max_eps) {
      scales[ib] = 0;
      std::memset(Lb, 0, bs);
      continue;
    }
    float d = -max / (float)kvalues_iq4nl[0];
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < bs; ++j) {
      const int l = nearest_level(id * xb[j]);
      Lb[j] = (uint8_t)l;
      const float q = (float)kvalues_iq4nl[l];
      const float w = weight[j];
      sumqx += w * q * xb[j];
      sumq2 += w * q * q;
    }
    d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int itry = -n_try; itry <= n_try; ++itry) {
      id = (float)(itry + kvalues_iq4nl[0]) / max;
      sumqx = sumq2 = 0;
      for (int j = 0; j < bs; ++j) {
        const float q = (float)kvalues_iq4nl[nearest_level(id * xb[j])];
        const float w = weight[j];
        sumqx += w * q * xb[j];
        sumq2 += w * q * q;
      }
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
    scales[ib] = d;
    if (std::fabs(d) > amax_scale) {
      amax_scale = std::fabs(d);
      max_scale = d;
    }
  }

  if (sb / bs > 1) {
    *scales_h = 0;
    const float d = -max_scale / 32;
    *dh = f2h(d);
    const float id = d != 0.f ? 1 / d : 0.f;
    for (int ib = 0; ib < sb / bs; ++ib) {
      int l = nearest_int(id * scales[ib]);
      l = std::max(-32, std::min(31, l));
      const float dl = d * (float)l;
      const float idl = dl != 0.f ? 1 / dl : 0.f;
      for (int j = 0; j < bs; ++j) L[ib * bs + j] = (uint8_t)nearest_level(idl * x[ib * bs + j]);
      l += 32;
      const uint8_t l_l = (uint8_t)(l & 0xf), l_h = (uint8_t)(l >> 4);
      if (ib % 2 == 0) scales_l[ib / 2] = l_l;
      else scales_l[ib / 2] |= (uint8_t)(l_l << 4);
      *scales_h = (uint16_t)(*scales_h | (l_h << (2 * (ib % 8))));
    }
  } else {
    *dh = f2h(scales[0]);
    const float id = scales[0] != 0.f ? 1 / scales[0] : 0.f;
    for (int j = 0; j < sb; ++j) L[j] = (uint8_t)nearest_level(id * x[j]);
  }

  for (int i = 0; i < sb / 32; ++i)
    for (int j = 0; j < 16; ++j) q4[16 * i + j] = (uint8_t)(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
}

inline int iq4_xs_scale(const block_iq4_xs& b, int ib) {
  return (((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | (((b.scales_h >> (2 * ib)) & 3) << 4)) - 32;
}

}  // namespace

void quantize_iq4_nl(const float* x, block_iq4_nl* y, int64_t n) {
  for (int64_t i = 0; i < n / qk32; ++i) {
    uint16_t unused_h = 0;
    quantize_nl_superblock(qk32, x + qk32 * i, &y[i].d, y[i].qs, &unused_h, nullptr);
  }
}

void quantize_iq4_xs(const float* x, block_iq4_xs* y, int64_t n) {
  for (int64_t i = 0; i < n / qk_k; ++i)
    quantize_nl_superblock(qk_k, x + qk_k * i, &y[i].d, y[i].qs, &y[i].scales_h, y[i].scales_l);
}

void dequantize_iq4_nl(const block_iq4_nl* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / qk32; ++i, y += qk32) {
    const float d = h2f(x[i].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * (float)kvalues_iq4nl[x[i].qs[j] & 0xf];
      y[j + 16] = d * (float)kvalues_iq4nl[x[i].qs[j] >> 4];
    }
  }
}

void dequantize_iq4_xs(const block_iq4_xs* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / qk_k; ++i) {
    const float d = h2f(x[i].d);
    for (int ib = 0; ib < qk_k / 32; ++ib, y += 32) {
      const float dl = d * (float)iq4_xs_scale(x[i], ib);
      const uint8_t* qs = x[i].qs + 16 * ib;
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * (float)kvalues_iq4nl[qs[j] & 0xf];
        y[j + 16] = dl * (float)kvalues_iq4nl[qs[j] >> 4];
      }
    }
  }
}

float dot_iq4_nl(const block_iq4_nl* x, const block_q8_0* y, int64_t n) {
  float sum = 0.f;
  for (int64_t i = 0; i < n / qk32; ++i) {
    int s = 0;
    for (int j = 0; j < 16; ++j) {
      s += kvalues_iq4nl[x[i].qs[j] & 0xf] * y[i].qs[j];
      s += kvalues_iq4nl[x[i].qs[j] >> 4] * y[i].qs[j + 16];
    }
    sum += h2f(x[i].d) * h2f(y[i].d) * (float)s;
  }
  return sum;
}

float dot_iq4_xs(const block_iq4_xs* x, const block_q8_k* y, int64_t n) {
  float sum = 0.f;
  for (int64_t i = 0; i < n / qk_k; ++i) {
    int isum = 0;
    for (int ib = 0; ib < qk_k / 32; ++ib) {
      const uint8_t* qs = x[i].qs + 16 * ib;
      const int8_t* a = y[i].qs + 32 * ib;
      int s = 0;
      for (int j = 0; j < 16; ++j) {
        s += kvalues_iq4nl[qs[j] & 0xf] * a[j];
        s += kvalues_iq4nl[qs[j] >> 4] * a[j + 16];
      }
      isum += iq4_xs_scale(x[i], ib) * s;
    }
    sum += h2f(x[i].d) * y[i].d * (float)isum;
  }
  return sum;
}

}  // namespace hearth::ref::detail
