// Scalar reference for the K-quants (Q2_K ... Q6_K, 256-element super-blocks) and their activation
// format Q8_K. The quantizers are llama.cpp's non-imatrix ones (what `llama-quantize` without an
// importance matrix runs), reproduced bit for bit: same search over candidate scales, same float
// evaluation order, same tie-breaking.
#include <algorithm>

#include "formats/quants.h"
#include "formats/quants_impl.h"

namespace hearth::ref::detail {
namespace {

constexpr float group_max_eps = 1e-15f;

// Signed scale fit for symmetric levels [-nmax, nmax-1] with weights x^2 (llama.cpp's
// make_qx_quants, rmse_type 1, no importance weights): starts from -nmax/max and tries 18 nearby
// inverse scales, keeping the one with the best weighted least-squares fit. L gets levels + nmax.
float fit_symmetric(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) { amax = ax; max = x[i]; }
  }
  if (amax < group_max_eps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  float iscale = (float)-nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = (int8_t)(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * (float)l;
    suml2 += w * (float)l * (float)l;
  }
  float scale = suml2 != 0.f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -((float)nmax + 0.1f * (float)is) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * x[i]);
      l = std::max(-nmax, std::min(nmax - 1, l));
      const float w = x[i] * x[i];
      sumlx += w * x[i] * (float)l;
      suml2 += w * (float)l * (float)l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        const int l = nearest_int(iscale * x[i]);
        L[i] = (int8_t)(nmax + std::max(-nmax, std::min(nmax - 1, l)));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Q3_K's sub-block fit (llama.cpp's make_q3_quants with rmse): start from -nmax/max, then up to 5
// passes of coordinate descent on single levels while the weighted fit improves. L gets levels + nmax.
float fit_q3(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) { amax = ax; max = x[i]; }
  }
  if (amax < group_max_eps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  const float iscale = (float)-nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = (int8_t)l;
    const float w = x[i] * x[i];
    sumlx += w * x[i] * (float)l;
    suml2 += w * (float)l * (float)l;
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * (float)L[i];
      if (slx > 0) {
        float sl2 = suml2 - w * (float)L[i] * (float)L[i];
        int new_l = nearest_int(x[i] * sl2 / slx);
        new_l = std::max(-nmax, std::min(nmax - 1, new_l));
        if (new_l != L[i]) {
          slx += w * x[i] * (float)new_l;
          sl2 += w * (float)new_l * (float)new_l;
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = (int8_t)new_l;
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (!n_changed) break;
  }
  for (int i = 0; i < n; ++i) L[i] = (int8_t)(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Scale-and-minimum fit for levels [0, nmax] (llama.cpp's make_qkx2_quants): x ~ scale * L - the_min.
// Tries nstep+1 inverse scales (rmin + rdelta * is + nmax) / (max - min), solving the weighted
// least-squares scale and minimum for each set of levels, and keeps the lowest weighted error
// (absolute when use_mad, else squared).
float fit_scale_min(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                    uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) {
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.f;
  }
  float iscale = (float)nmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = (uint8_t)std::max(0, std::min(nmax, l));
    float diff = scale * (float)L[i] + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    best_error += weights[i] * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * (float)is + (float)nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * (x[i] - min));
      l = std::max(0, std::min(nmax, l));
      Laux[i] = (uint8_t)l;
      const float w = weights[i];
      sum_l += w * (float)l;
      sum_l2 += w * (float)l * (float)l;
      sum_xl += w * (float)l * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * (float)Laux[i] + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        cur_error += weights[i] * diff;
      }
      if (cur_error < best_error) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// Packs 6-bit scale ls and minimum lm of sub-block j into the 12-byte K-quant scales field (the
// inverse of unpack_k4_scale_min).
inline void pack_k4_scale_min(uint8_t* s, int j, uint8_t ls, uint8_t lm) {
  if (j < 4) {
    s[j] = ls;
    s[j + 4] = lm;
  } else {
    s[j + 4] = (uint8_t)((ls & 0xf) | ((lm & 0xf) << 4));
    s[j - 4] |= (uint8_t)((ls >> 4) << 6);
    s[j] |= (uint8_t)((lm >> 4) << 6);
  }
}

// Packs 16 quants of 2 bits per 128-element half: byte l of half h holds elements l, l+32, l+64, l+96.
inline void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < qk_k; j += 128)
    for (int l = 0; l < 32; ++l)
      qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

// Q4_K / Q5_K share everything but the number of levels and the scale search range.
template <int nmax>
void fit_k4_block(const float* x, float rmin, float rdelta, int nstep, uint8_t* scales12, uint16_t& d_out,
                  uint16_t& dmin_out, uint8_t* L) {
  uint8_t Laux[32];
  float weights[32];
  float mins[qk_k / 32], scales[qk_k / 32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < qk_k / 32; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = fit_scale_min(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, rdelta, nstep, false);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < qk_k / 32; ++j) {
    uint8_t ls = (uint8_t)nearest_int(inv_scale * scales[j]);
    uint8_t lm = (uint8_t)nearest_int(inv_min * mins[j]);
    ls = std::min<uint8_t>(63, ls);
    lm = std::min<uint8_t>(63, lm);
    pack_k4_scale_min(scales12, j, ls, lm);
  }
  d_out = f2h(max_scale / 63.f);
  dmin_out = f2h(max_min / 63.f);
  // Re-quantize every element against the rounded (f16, 6-bit) scales and minimums.
  for (int j = 0; j < qk_k / 32; ++j) {
    uint8_t sc, m;
    unpack_k4_scale_min(scales12, j, sc, m);
    const float d = h2f(d_out) * (float)sc;
    if (d == 0.f) continue;
    const float dm = h2f(dmin_out) * (float)m;
    for (int ii = 0; ii < 32; ++ii) {
      const int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = (uint8_t)std::max(0, std::min(nmax, l));
    }
  }
}

}  // namespace

// ---- Q2_K ----------------------------------------------------------------------------------------

void quantize_q2_k(const float* x, block_q2_k* y, int64_t n) {
  uint8_t L[qk_k], Laux[16];
  float weights[16], mins[qk_k / 16], scales[qk_k / 16];
  const float q4scale = 15.f;
  for (int64_t i = 0; i < n / qk_k; ++i, x += qk_k) {
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < qk_k / 16; ++j) {
      for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
      scales[j] = fit_scale_min(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, true);
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    if (max_scale > 0) {
      const float iscale = q4scale / max_scale;
      for (int j = 0; j < qk_k / 16; ++j) y[i].scales[j] = (uint8_t)nearest_int(iscale * scales[j]);
      y[i].d = f2h(max_scale / q4scale);
    } else {
      for (int j = 0; j < qk_k / 16; ++j) y[i].scales[j] = 0;
      y[i].d = f2h(0.f);
    }
    if (max_min > 0) {
      const float iscale = q4scale / max_min;
      for (int j = 0; j < qk_k / 16; ++j) y[i].scales[j] |= (uint8_t)(nearest_int(iscale * mins[j]) << 4);
      y[i].dmin = f2h(max_min / q4scale);
    } else {
      y[i].dmin = f2h(0.f);
    }
    for (int j = 0; j < qk_k / 16; ++j) {
      const float d = h2f(y[i].d) * (float)(y[i].scales[j] & 0xf);
      if (d == 0.f) continue;
      const float dm = h2f(y[i].dmin) * (float)(y[i].scales[j] >> 4);
      for (int ii = 0; ii < 16; ++ii) {
        const int l = nearest_int((x[16 * j + ii] + dm) / d);
        L[16 * j + ii] = (uint8_t)std::max(0, std::min(3, l));
      }
    }
    pack_2bit(L, y[i].qs);
  }
}

void dequantize_q2_k(const block_q2_k* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / qk_k; ++i) {
    const float d = h2f(x[i].d), dmin = h2f(x[i].dmin);
    for (int e = 0; e < qk_k; ++e) {
      const int half = e / 128, r = e % 128, shift = 2 * (r / 32), l = r % 32;
      const uint8_t sc = x[i].scales[e / 16];
      const int q = (x[i].qs[32 * half + l] >> shift) & 3;
      y[e] = d * (float)(sc & 0xf) * (float)q - dmin * (float)(sc >> 4);
    }
    y += qk_k;
  }
}

float dot_q2_k(const block_q2_k* x, const block_q8_k* y, int64_t n) {
  float sum = 0.f;
  for (int64_t i = 0; i < n / qk_k; ++i) {
    int isum = 0, summs = 0;
    for (int j = 0; j < qk_k / 16; ++j) summs += (x[i].scales[j] >> 4) * y[i].bsums[j];
    for (int e0 = 0; e0 < qk_k; e0 += 16) {
      int s = 0;
      for (int e = e0; e < e0 + 16; ++e) {
        const int half = e / 128, r = e % 128, shift = 2 * (r / 32), l = r % 32;
        s += ((x[i].qs[32 * half + l] >> shift) & 3) * y[i].qs[e];
      }
      isum += (x[i].scales[e0 / 16] & 0xf) * s;
    }
    sum += y[i].d * h2f(x[i].d) * (float)isum - y[i].d * h2f(x[i].dmin) * (float)summs;
  }
  return sum;
}

// ---- Q3_K ----------------------------------------------------------------------------------------

void quantize_q3_k(const float* x, block_q3_k* y, int64_t n) {
  int8_t L[qk_k];
  float scales[qk_k / 16];
  for (int64_t i = 0; i < n / qk_k; ++i, x += qk_k) {
    float max_scale = 0, amax = 0;
    for (int j = 0; j < qk_k / 16; ++j) {
      scales[j] = fit_q3(16, 4, x + 16 * j, L + 16 * j);
      const float scale = std::fabs(scales[j]);
      if (scale > amax) { amax = scale; max_scale = scales[j]; }
    }
    std::memset(y[i].scales, 0, 12);
    if (max_scale != 0.f) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < qk_k / 16; ++j) {
        int8_t l = (int8_t)nearest_int(iscale * scales[j]);
        l = (int8_t)(std::max<int>(-32, std::min<int>(31, l)) + 32);
        if (j < 8) y[i].scales[j] = (uint8_t)(l & 0xf);
        else y[i].scales[j - 8] |= (uint8_t)((l & 0xf) << 4);
        l = (int8_t)(l >> 4);
        y[i].scales[j % 4 + 8] |= (uint8_t)(l << (2 * (j / 4)));
      }
      y[i].d = f2h(1 / iscale);
    } else {
      y[i].d = f2h(0.f);
    }
    for (int j = 0; j < qk_k / 16; ++j) {
      const float d = h2f(y[i].d) * (float)unpack_q3_k_scale(y[i].scales, j);
      if (d == 0.f) continue;
      for (int ii = 0; ii < 16; ++ii) {
        const int l = nearest_int(x[16 * j + ii] / d);
        L[16 * j + ii] = (int8_t)(std::max(-4, std::min(3, l)) + 4);
      }
    }
    // High bit of element j goes to bit (j / 32) of hmask[j % 32].
    std::memset(y[i].hmask, 0, qk_k / 8);
    for (int j = 0; j < qk_k; ++j) {
      if (L[j] > 3) {
        y[i].hmask[j % 32] |= (uint8_t)(1 << (j / 32));
        L[j] = (int8_t)(L[j] - 4);
      }
    }
    pack_2bit(reinterpret_cast<const uint8_t*>(L), y[i].qs);
  }
}

void dequantize_q3_k(const block_q3_k* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / qk_k; ++i) {
    const float d = h2f(x[i].d);
    for (int e = 0; e < qk_k; ++e) {
      const int half = e / 128, r = e % 128, shift = 2 * (r / 32), l = r % 32;
      const int q = ((x[i].qs[32 * half + l] >> shift) & 3) - ((x[i].hmask[e % 32] >> (e / 32)) & 1 ? 0 : 4);
      y[e] = d * (float)unpack_q3_k_scale(x[i].scales, e / 16) * (float)q;
    }
    y += qk_k;
  }
}

float dot_q3_k(const block_q3_k* x, const block_q8_k* y, int64_t n) {
  float sum = 0.f;
  for (int64_t i = 0; i < n / qk_k; ++i) {
    int isum = 0;
    for (int e0 = 0; e0 < qk_k; e0 += 16) {
      int s = 0;
      for (int e = e0; e < e0 + 16; ++e) {
        const int half = e / 128, r = e % 128, shift = 2 * (r / 32), l = r % 32;
        const int q = ((x[i].qs[32 * half + l] >> shift) & 3) - ((x[i].hmask[e % 32] >> (e / 32)) & 1 ? 0 : 4);
        s += q * y[i].qs[e];
      }
      isum += unpack_q3_k_scale(x[i].scales, e0 / 16) * s;
    }
    sum += h2f(x[i].d) * y[i].d * (float)isum;
  }
  return sum;
}

// ---- Q4_K ----------------------------------------------------------------------------------------

void quantize_q4_k(const float* x, block_q4_k* y, int64_t n) {
  uint8_t L[qk_k];
  for (int64_t i = 0; i < n / qk_k; ++i, x += qk_k) {
    fit_k4_block<15>(x, -1.f, 0.1f, 20, y[i].scales, y[i].d, y[i].dmin, L);
    uint8_t* q = y[i].qs;
    for (int j = 0; j < qk_k; j += 64, q += 32)
      for (int l = 0; l < 32; ++l) q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
  }
}

void dequantize_q4_k(const block_q4_k* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / qk_k; ++i) {
    const float d = h2f(x[i].d), dmin = h2f(x[i].dmin);
    for (int j = 0; j < qk_k / 32; ++j) {
      uint8_t sc, m;
      unpack_k4_scale_min(x[i].scales, j, sc, m);
      const float dl = d * (float)sc, ml = dmin * (float)m;
      const uint8_t* q = x[i].qs + 32 * (j / 2);
      for (int l = 0; l < 32; ++l) y[32 * j + l] = dl * (float)((q[l] >> (4 * (j % 2))) & 0xf) - ml;
    }
    y += qk_k;
  }
}

float dot_q4_k(const block_q4_k* x, const block_q8_k* y, int64_t n) {
  float sum = 0.f;
  for (int64_t i = 0; i < n / qk_k; ++i) {
    int isum = 0, summs = 0;
    for (int j = 0; j < qk_k / 32; ++j) {
      uint8_t sc, m;
      unpack_k4_scale_min(x[i].scales, j, sc, m);
      const uint8_t* q = x[i].qs + 32 * (j / 2);
      int s = 0;
      for (int l = 0; l < 32; ++l) s += ((q[l] >> (4 * (j % 2))) & 0xf) * y[i].qs[32 * j + l];
      isum += sc * s;
      summs += m * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
    }
    sum += h2f(x[i].d) * y[i].d * (float)isum - h2f(x[i].dmin) * y[i].d * (float)summs;
  }
  return sum;
}

// ---- Q5_K ----------------------------------------------------------------------------------------

void quantize_q5_k(const float* x, block_q5_k* y, int64_t n) {
  uint8_t L[qk_k];
  for (int64_t i = 0; i < n / qk_k; ++i, x += qk_k) {
    fit_k4_block<31>(x, -0.5f, 0.1f, 15, y[i].scales, y[i].d, y[i].dmin, L);
    uint8_t* qh = y[i].qh;
    uint8_t* ql = y[i].qs;
    std::memset(qh, 0, qk_k / 8);
    uint8_t m1 = 1, m2 = 2;
    for (int n0 = 0; n0 < qk_k; n0 += 64, ql += 32) {
      for (int j = 0; j < 32; ++j) {
        int l1 = L[n0 + j], l2 = L[n0 + j + 32];
        if (l1 > 15) { l1 -= 16; qh[j] |= m1; }
        if (l2 > 15) { l2 -= 16; qh[j] |= m2; }
        ql[j] = (uint8_t)(l1 | (l2 << 4));
      }
      m1 = (uint8_t)(m1 << 2);
      m2 = (uint8_t)(m2 << 2);
    }
  }
}

void dequantize_q5_k(const block_q5_k* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / qk_k; ++i) {
    const float d = h2f(x[i].d), dmin = h2f(x[i].dmin);
    for (int j = 0; j < qk_k / 32; ++j) {
      uint8_t sc, m;
      unpack_k4_scale_min(x[i].scales, j, sc, m);
      const float dl = d * (float)sc, ml = dmin * (float)m;
      const uint8_t* q = x[i].qs + 32 * (j / 2);
      for (int l = 0; l < 32; ++l) {
        const int v = ((q[l] >> (4 * (j % 2))) & 0xf) | (((x[i].qh[l] >> j) & 1) << 4);
        y[32 * j + l] = dl * (float)v - ml;
      }
    }
    y += qk_k;
  }
}

float dot_q5_k(const block_q5_k* x, const block_q8_k* y, int64_t n) {
  float sum = 0.f;
  for (int64_t i = 0; i < n / qk_k; ++i) {
    int isum = 0, summs = 0;
    for (int j = 0; j < qk_k / 32; ++j) {
      uint8_t sc, m;
      unpack_k4_scale_min(x[i].scales, j, sc, m);
      const uint8_t* q = x[i].qs + 32 * (j / 2);
      int s = 0;
      for (int l = 0; l < 32; ++l) {
        const int v = ((q[l] >> (4 * (j % 2))) & 0xf) | (((x[i].qh[l] >> j) & 1) << 4);
        s += v * y[i].qs[32 * j + l];
      }
      isum += sc * s;
      summs += m * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
    }
    sum += h2f(x[i].d) * y[i].d * (float)isum - h2f(x[i].dmin) * y[i].d * (float)summs;
  }
  return sum;
}

// ---- Q6_K ----------------------------------------------------------------------------------------

void quantize_q6_k(const float* x, block_q6_k* y, int64_t n) {
  int8_t L[qk_k];
  float scales[qk_k / 16];
  for (int64_t i = 0; i < n / qk_k; ++i, x += qk_k) {
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < qk_k / 16; ++ib) {
      const float scale = fit_symmetric(16, 32, x + 16 * ib, L + 16 * ib);
      scales[ib] = scale;
      if (std::fabs(scale) > max_abs_scale) {
        max_abs_scale = std::fabs(scale);
        max_scale = scale;
      }
    }
    if (max_abs_scale < group_max_eps) {
      std::memset(&y[i], 0, sizeof(block_q6_k));
      y[i].d = f2h(0.f);
      continue;
    }
    const float iscale = -128.f / max_scale;
    y[i].d = f2h(1 / iscale);
    for (int ib = 0; ib < qk_k / 16; ++ib) y[i].scales[ib] = (int8_t)std::min(127, nearest_int(iscale * scales[ib]));
    for (int j = 0; j < qk_k / 16; ++j) {
      const float d = h2f(y[i].d) * (float)y[i].scales[j];
      if (d == 0.f) continue;
      for (int ii = 0; ii < 16; ++ii) {
        const int l = nearest_int(x[16 * j + ii] / d);
        L[16 * j + ii] = (int8_t)(std::max(-32, std::min(31, l)) + 32);
      }
    }
    // Element e = 128 h + 32 k + l: low nibble in ql[64 h + l + 32 (k % 2)] (high half when k >= 2),
    // top two bits in qh[32 h + l] at bit 2k.
    uint8_t* ql = y[i].ql;
    uint8_t* qh = y[i].qh;
    for (int j = 0; j < qk_k; j += 128, ql += 64, qh += 32) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t q1 = L[j + l] & 0xf, q2 = L[j + l + 32] & 0xf;
        const uint8_t q3 = L[j + l + 64] & 0xf, q4 = L[j + l + 96] & 0xf;
        ql[l] = (uint8_t)(q1 | (q3 << 4));
        ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
        qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                          ((L[j + l + 96] >> 4) << 6));
      }
    }
  }
}

namespace {
inline int q6_value(const block_q6_k& b, int e) {
  const int h = e / 128, r = e % 128, k = r / 32, l = r % 32;
  const int lo = (b.ql[64 * h + l + 32 * (k % 2)] >> (4 * (k / 2))) & 0xf;
  const int hi = (b.qh[32 * h + l] >> (2 * k)) & 3;
  return (lo | (hi << 4)) - 32;
}
}  // namespace

void dequantize_q6_k(const block_q6_k* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / qk_k; ++i) {
    const float d = h2f(x[i].d);
    for (int e = 0; e < qk_k; ++e) y[e] = d * (float)x[i].scales[e / 16] * (float)q6_value(x[i], e);
    y += qk_k;
  }
}

float dot_q6_k(const block_q6_k* x, const block_q8_k* y, int64_t n) {
  float sum = 0.f;
  for (int64_t i = 0; i < n / qk_k; ++i) {
    int isum = 0;
    for (int e0 = 0; e0 < qk_k; e0 += 16) {
      int s = 0;
      for (int e = e0; e < e0 + 16; ++e) s += q6_value(x[i], e) * y[i].qs[e];
      isum += x[i].scales[e0 / 16] * s;
    }
    sum += h2f(x[i].d) * y[i].d * (float)isum;
  }
  return sum;
}

// ---- Q8_K (activations) --------------------------------------------------------------------------

void quantize_act_q8_k(const float* x, block_q8_k* y, int64_t n) {
  for (int64_t i = 0; i < n / qk_k; ++i, x += qk_k) {
    float max = 0, amax = 0;
    for (int j = 0; j < qk_k; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) { amax = ax; max = x[j]; }
    }
    if (amax == 0.f) {
      y[i].d = 0;
      std::memset(y[i].qs, 0, qk_k);
      std::memset(y[i].bsums, 0, sizeof(y[i].bsums));
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < qk_k; ++j) y[i].qs[j] = (int8_t)std::clamp(nearest_int(iscale * x[j]), -128, 127);
    for (int j = 0; j < qk_k / 16; ++j) {
      int sum = 0;
      for (int ii = 0; ii < 16; ++ii) sum += y[i].qs[16 * j + ii];
      y[i].bsums[j] = (int16_t)sum;
    }
    y[i].d = 1 / iscale;
  }
}

void dequantize_q8_k(const block_q8_k* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / qk_k; ++i, y += qk_k)
    for (int j = 0; j < qk_k; ++j) y[j] = x[i].d * (float)x[i].qs[j];
}

}  // namespace hearth::ref::detail
