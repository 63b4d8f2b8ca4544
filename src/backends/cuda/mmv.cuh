// Matrix products, part 1: the activation formats (B rounded to the weights' vec_dot_type exactly
// as the reference rounds it, stored in GPU-friendly aligned blocks) and, per weight type, the dot
// product of one slice of a weight block with the matching activation slice. A block is split into
// `tpb` slices so that a warp reads consecutive bytes of a row; each slice's integer sum is the
// reference's (only the float summation across slices and blocks is reordered).
#pragma once
#include "backends/cuda/quant.cuh"
#include "core/tensor.h"

namespace hearth::gpu {

// Activations in q8_0 / q8_1 rounding: 32 values, scale d and (q8_1) s = d * sum(q) as f16 bits.
struct alignas(4) a8_32 {
  int8_t qs[32];
  uint16_t d, s;
};
// Activations in q8_K rounding: 256 values, float scale, sums of each 16 values; padded to 16-byte
// alignment so that a product reads 16 values with one load.
struct alignas(16) a8_256 {
  int8_t qs[256];
  float d;
  int16_t bsums[16];
};
static_assert(sizeof(a8_32) == 36 && sizeof(a8_256) == 304);

// Asynchronous 16-byte copies global -> shared (sm_80 and later): the next chunk of weights (or
// activations) streams in while the current one is computed, without passing through registers.
// On HIP a plain copy stands in (the asynchronous variant is never launched there).
template <int = 0>  // a template: hipcc would warn about the unused function
__device__ __forceinline__ void copy16_async(int4* smem, const int4* gmem) {
#if defined(HEARTH_GPU_HIP)
  *smem = *gmem;
#else
  const unsigned s = (unsigned)__cvta_generic_to_shared(smem);
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem));
#endif
}
template <int = 0>  // a template: hipcc would warn about the unused function
__device__ __forceinline__ void copy_async_commit() {
#if !defined(HEARTH_GPU_HIP)
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}
template <int = 0>  // a template: hipcc would warn about the unused function
__device__ __forceinline__ void copy_async_wait_all_but_last() {
#if !defined(HEARTH_GPU_HIP)
  asm volatile("cp.async.wait_group 1;\n" ::);
#endif
}

__device__ __forceinline__ int ld4(const int8_t* p) { return *reinterpret_cast<const int*>(p); }
__device__ __forceinline__ int4 ld16(const void* p) { return *reinterpret_cast<const int4*>(p); }
constexpr int k_ones = 0x01010101;
constexpr int k_lo4 = 0x0F0F0F0F;

// One warp rounds 32 values (one per lane) to q8_0 / q8_1 (llama.cpp's x86 activation quantizer).
__device__ __forceinline__ void quant_q8_32(float v, a8_32* y, int lane, bool with_sum) {
  const float amax = warp_max(fabsf(v));
  const float d = amax / 127.f;
  const float id = amax != 0.f ? 127.f / amax : 0.f;
  const int q = max(-128, min(127, __float2int_rn(v * id)));
  y->qs[lane] = (int8_t)q;
  const int sum = warp_sum(q);
  if (lane == 0) {
    y->d = f2h(d);
    y->s = with_sum ? f2h(d * (float)sum) : 0;
  }
}

// One warp rounds 256 values (v: the 8 consecutive values 8 lane .. 8 lane + 7) to q8_K; the scale
// comes from the signed value of largest magnitude (the first one on ties).
__device__ __forceinline__ void quant_q8_256(const float (&v)[8], a8_256* y, int lane) {
  float amax = 0.0f, mx = 0.0f;
  int idx = 0x7fffffff;
#pragma unroll
  for (int i = 0; i < 8; ++i)
    if (fabsf(v[i]) > amax) { amax = fabsf(v[i]); mx = v[i]; idx = lane * 8 + i; }
#pragma unroll
  for (int o = warp / 2; o > 0; o >>= 1) {
    const float oa = shfl_xor(amax, o), om = shfl_xor(mx, o);
    const int oi = shfl_xor(idx, o);
    if (oa > amax || (oa == amax && oi < idx)) { amax = oa; mx = om; idx = oi; }
  }
  if (amax == 0.0f) {
#pragma unroll
    for (int i = 0; i < 8; ++i) y->qs[lane * 8 + i] = 0;
    if (lane < 16) y->bsums[lane] = 0;
    if (lane == 0) y->d = 0.0f;
    return;
  }
  const float iscale = -127.f / mx;
  int sum = 0;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int q = max(-128, min(127, __float2int_rn(iscale * v[i])));
    y->qs[lane * 8 + i] = (int8_t)q;
    sum += q;
  }
  sum += shfl_xor(sum, 1);  // lanes 2k and 2k+1 hold the 16 values of bsums[k]
  if (lane % 2 == 0) y->bsums[lane / 2] = (int16_t)sum;
  if (lane == 0) y->d = 1 / iscale;
}

// Rounds a contiguous row of n values (n a multiple of the block size) to activation blocks at
// dst: warp wi of nw takes blocks wi, wi + nw, ... (the caller synchronises the row's writes first).
template <int QK>
__device__ __forceinline__ void round_row(const float* x, int64_t n, uint8_t* dst, bool with_sum, int wi, int nw, int lane) {
  if constexpr (QK == 256) {
    for (int64_t ib = wi; ib < n / 256; ib += nw) {
      float v[8];
HEARTH_UNROLL
      for (int k = 0; k < 8; ++k) v[k] = x[ib * 256 + lane * 8 + k];
      quant_q8_256(v, reinterpret_cast<a8_256*>(dst) + ib, lane);
    }
  } else {
    for (int64_t ib = wi; ib < n / 32; ib += nw) quant_q8_32(x[ib * 32 + lane], reinterpret_cast<a8_32*>(dst) + ib, lane, with_sum);
  }
}

template <dtype T> struct mm;  // per type: wblock, ablock, qk, tpb, dot(x, y, slice)

template <> struct mm<dtype::f32> {
  using wblock = float; using ablock = float;
  static constexpr int qk = 1, tpb = 1;
  static __device__ __forceinline__ float dot(const float* x, const float* y, int) { return *x * *y; }
};
template <> struct mm<dtype::f16> {
  using wblock = uint16_t; using ablock = uint16_t;
  static constexpr int qk = 1, tpb = 1;
  static __device__ __forceinline__ float dot(const uint16_t* x, const uint16_t* y, int) { return h2f(*x) * h2f(*y); }
};
template <> struct mm<dtype::bf16> {
  using wblock = uint16_t; using ablock = uint16_t;
  static constexpr int qk = 1, tpb = 1;
  static __device__ __forceinline__ float dot(const uint16_t* x, const uint16_t* y, int) { return bf2f(*x) * bf2f(*y); }
};

// Types whose dot splits into load(x, s) -> wslice (the weight bytes of slice s, in registers) and
// dot_w(wslice, y, s): a product may load its first weights before the previous kernel ends.
template <> struct mm<dtype::q4_0> {
  using wblock = block_q4_0; using ablock = a8_32;
  static constexpr int qk = 32, tpb = 2;
  struct wslice { int v[2]; uint16_t d; };
  static __device__ __forceinline__ wslice load(const block_q4_0* x, int s) {
    return {{load_i32_a2(x->qs + 8 * s), load_i32_a2(x->qs + 8 * s + 4)}, x->d};
  }
  static __device__ __forceinline__ float dot_w(const wslice& x, const a8_32* y, int s) {
    int sumi = 0, sumy = 0;
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int v = x.v[i];
      const int u = ld4(y->qs + 8 * s + 4 * i), w = ld4(y->qs + 16 + 8 * s + 4 * i);
      sumi = dot4(v & k_lo4, u, sumi);
      sumi = dot4((v >> 4) & k_lo4, w, sumi);
      sumy = dot4(k_ones, u, dot4(k_ones, w, sumy));
    }
    return h2f(x.d) * h2f(y->d) * (float)(sumi - 8 * sumy);
  }
  static __device__ __forceinline__ float dot(const block_q4_0* x, const a8_32* y, int s) { return dot_w(load(x, s), y, s); }
};
template <> struct mm<dtype::q8_0> {
  using wblock = block_q8_0; using ablock = a8_32;
  static constexpr int qk = 32, tpb = 2;
  static __device__ __forceinline__ float dot(const block_q8_0* x, const a8_32* y, int s) {
    int sumi = 0;
#pragma unroll
    for (int i = 0; i < 4; ++i) sumi = dot4(load_i32_a2(reinterpret_cast<const uint8_t*>(x->qs) + 16 * s + 4 * i), ld4(y->qs + 16 * s + 4 * i), sumi);
    return h2f(x->d) * h2f(y->d) * (float)sumi;
  }
};
template <> struct mm<dtype::q4_1> {
  using wblock = block_q4_1; using ablock = a8_32;
  static constexpr int qk = 32, tpb = 2;
  // Slice s: bytes [8 s, +8) of qs (the per-block minimum term belongs to slice 0 alone).
  static __device__ __forceinline__ float dot(const block_q4_1* x, const a8_32* y, int s) {
    int sumi = 0;
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int v = load_i32_a2(x->qs + 8 * s + 4 * i);
      sumi = dot4(v & k_lo4, ld4(y->qs + 8 * s + 4 * i), sumi);
      sumi = dot4((v >> 4) & k_lo4, ld4(y->qs + 16 + 8 * s + 4 * i), sumi);
    }
    const float r = h2f(x->d) * h2f(y->d) * (float)sumi;
    return s == 0 ? r + h2f(x->m) * h2f(y->s) : r;
  }
};
template <> struct mm<dtype::q5_0> {
  using wblock = block_q5_0; using ablock = a8_32;
  static constexpr int qk = 32, tpb = 1;
  static __device__ __forceinline__ float dot(const block_q5_0* x, const a8_32* y, int) {
    const uint32_t qh = load_qh(x->qh);
    int s = 0;
    for (int e = 0; e < 32; ++e) s += (q5_value(x->qs, qh, e) - 16) * y->qs[e];
    return h2f(x->d) * h2f(y->d) * (float)s;
  }
};
template <> struct mm<dtype::q5_1> {
  using wblock = block_q5_1; using ablock = a8_32;
  static constexpr int qk = 32, tpb = 1;
  static __device__ __forceinline__ float dot(const block_q5_1* x, const a8_32* y, int) {
    const uint32_t qh = load_qh(x->qh);
    int s = 0;
    for (int e = 0; e < 32; ++e) s += q5_value(x->qs, qh, e) * y->qs[e];
    return h2f(x->d) * h2f(y->d) * (float)s + h2f(x->m) * h2f(y->s);
  }
};
template <> struct mm<dtype::iq4_nl> {
  using wblock = block_iq4_nl; using ablock = a8_32;
  static constexpr int qk = 32, tpb = 1;
  static __device__ __forceinline__ float dot(const block_iq4_nl* x, const a8_32* y, int) {
    int s = 0;
    for (int j = 0; j < 16; ++j) s += k_iq4nl[x->qs[j] & 0xf] * y->qs[j] + k_iq4nl[x->qs[j] >> 4] * y->qs[j + 16];
    return h2f(x->d) * h2f(y->d) * (float)s;
  }
};

template <> struct mm<dtype::q2_k> {
  using wblock = block_q2_k; using ablock = a8_256;
  static constexpr int qk = 256, tpb = 1;
  static __device__ __forceinline__ float dot(const block_q2_k* x, const a8_256* y, int) {
    int isum = 0, summs = 0;
    for (int j = 0; j < 16; ++j) summs += (x->scales[j] >> 4) * y->bsums[j];
    for (int e0 = 0; e0 < 256; e0 += 16) {
      int s = 0;
      for (int e = e0; e < e0 + 16; ++e) s += q2_value(x, e) * y->qs[e];
      isum += (x->scales[e0 / 16] & 0xf) * s;
    }
    return y->d * h2f(x->d) * (float)isum - y->d * h2f(x->dmin) * (float)summs;
  }
};
template <> struct mm<dtype::q3_k> {
  using wblock = block_q3_k; using ablock = a8_256;
  static constexpr int qk = 256, tpb = 1;
  static __device__ __forceinline__ float dot(const block_q3_k* x, const a8_256* y, int) {
    int isum = 0;
    for (int e0 = 0; e0 < 256; e0 += 16) {
      int s = 0;
      for (int e = e0; e < e0 + 16; ++e) s += q3_value(x, e) * y->qs[e];
      isum += q3_scale(x->scales, e0 / 16) * s;
    }
    return h2f(x->d) * y->d * (float)isum;
  }
};
// Scales and minimums of Q4_K / Q5_K sub-blocks 2c and 2c + 1 (c < 4) from the 12 packed bytes,
// read as three 32-bit words (the field sits 4 bytes into a block that is 4-byte aligned here).
__device__ __forceinline__ void k4_scale_min_pair(uint32_t w0, uint32_t w1, uint32_t w2, int c, int& sca, int& ma, int& scb, int& mb) {
  const int sh = 16 * (c % 2);  // byte 2c % 4 of the word
  if (c < 2) {
    sca = (int)(w0 >> sh) & 63;
    scb = (int)(w0 >> (sh + 8)) & 63;
    ma = (int)(w1 >> sh) & 63;
    mb = (int)(w1 >> (sh + 8)) & 63;
  } else {
    // j >= 4: sc = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4, m = (s[j + 4] >> 4) | (s[j] >> 6) << 4
    const int hi_a = (int)(w2 >> sh) & 255, hi_b = (int)(w2 >> (sh + 8)) & 255;
    sca = (hi_a & 15) | (((int)(w0 >> (sh + 6)) & 3) << 4);
    scb = (hi_b & 15) | (((int)(w0 >> (sh + 14)) & 3) << 4);
    ma = (hi_a >> 4) | (((int)(w1 >> (sh + 6)) & 3) << 4);
    mb = (hi_b >> 4) | (((int)(w1 >> (sh + 14)) & 3) << 4);
  }
}

template <> struct mm<dtype::q4_k> {
  using wblock = block_q4_k; using ablock = a8_256;
  static constexpr int qk = 256, tpb = 4;
  // Slice c: the 32 bytes qs[32 c, +32), i.e. sub-block 2 c (low nibbles) and 2 c + 1 (high), with
  // the block's scale words and d, dmin.
  struct wslice { int4 q0, q1; uint32_t sc[3], dd; };
  static __device__ __forceinline__ wslice load(const block_q4_k* x, int c) {
    const uint32_t* w = reinterpret_cast<const uint32_t*>(x->scales);
    return {ld16(x->qs + 32 * c), ld16(x->qs + 32 * c + 16), {w[0], w[1], w[2]}, *reinterpret_cast<const uint32_t*>(x)};
  }
  static __device__ __forceinline__ float dot(const block_q4_k* x, const a8_256* y, int c) { return dot_w(load(x, c), y, c); }
  static __device__ __forceinline__ float dot_w(const wslice& x, const a8_256* y, int c) {
    const int4 q0 = x.q0, q1 = x.q1;
    const int8_t* ya = y->qs + 64 * c;
    const int4 a0 = ld16(ya), a1 = ld16(ya + 16), b0 = ld16(ya + 32), b1 = ld16(ya + 48);
    int sa = 0, sb = 0;
    sa = dot4(q0.x & k_lo4, a0.x, sa);
    sa = dot4(q0.y & k_lo4, a0.y, sa);
    sa = dot4(q0.z & k_lo4, a0.z, sa);
    sa = dot4(q0.w & k_lo4, a0.w, sa);
    sa = dot4(q1.x & k_lo4, a1.x, sa);
    sa = dot4(q1.y & k_lo4, a1.y, sa);
    sa = dot4(q1.z & k_lo4, a1.z, sa);
    sa = dot4(q1.w & k_lo4, a1.w, sa);
    sb = dot4((q0.x >> 4) & k_lo4, b0.x, sb);
    sb = dot4((q0.y >> 4) & k_lo4, b0.y, sb);
    sb = dot4((q0.z >> 4) & k_lo4, b0.z, sb);
    sb = dot4((q0.w >> 4) & k_lo4, b0.w, sb);
    sb = dot4((q1.x >> 4) & k_lo4, b1.x, sb);
    sb = dot4((q1.y >> 4) & k_lo4, b1.y, sb);
    sb = dot4((q1.z >> 4) & k_lo4, b1.z, sb);
    sb = dot4((q1.w >> 4) & k_lo4, b1.w, sb);
    int sca, ma, scb, mb;
    k4_scale_min_pair(x.sc[0], x.sc[1], x.sc[2], c, sca, ma, scb, mb);
    const int isum = sca * sa + scb * sb;
    const int summs = ma * (y->bsums[4 * c] + y->bsums[4 * c + 1]) + mb * (y->bsums[4 * c + 2] + y->bsums[4 * c + 3]);
    const uint32_t dd = x.dd;  // d, dmin
    return h2f((uint16_t)dd) * y->d * (float)isum - h2f((uint16_t)(dd >> 16)) * y->d * (float)summs;
  }
};
template <> struct mm<dtype::q5_k> {
  using wblock = block_q5_k; using ablock = a8_256;
  static constexpr int qk = 256, tpb = 1;
  static __device__ __forceinline__ float dot(const block_q5_k* x, const a8_256* y, int) {
    int isum = 0, summs = 0;
    for (int j = 0; j < 8; ++j) {
      int sc, m;
      k4_scale_min(x->scales, j, sc, m);
      const uint8_t* q = x->qs + 32 * (j / 2);
      int s = 0;
      for (int l = 0; l < 32; ++l) s += (((q[l] >> (4 * (j % 2))) & 0xf) | (((x->qh[l] >> j) & 1) << 4)) * y->qs[32 * j + l];
      isum += sc * s;
      summs += m * (y->bsums[2 * j] + y->bsums[2 * j + 1]);
    }
    return h2f(x->d) * y->d * (float)isum - h2f(x->dmin) * y->d * (float)summs;
  }
};
// 16 bytes at a 2-byte aligned address as four 32-bit words: five aligned words and funnel shifts
// (the same instructions whatever the alignment, so lanes on blocks of either parity agree). Reads
// from p - 2 to p + 18 at most: callers keep that inside the block.
__device__ __forceinline__ void load16_a2(const uint8_t* p, uint32_t (&w)[4]) {
  const int sh = (int)(reinterpret_cast<uintptr_t>(p) & 2) * 8;
  const uint32_t* q = reinterpret_cast<const uint32_t*>(p - sh / 8);
  uint32_t u[5];
#pragma unroll
  for (int i = 0; i < 4; ++i) u[i] = q[i];
  u[4] = sh ? q[4] : 0u;
#pragma unroll
  for (int i = 0; i < 4; ++i) w[i] = (uint32_t)((((uint64_t)u[i + 1] << 32) | u[i]) >> sh);
}

template <> struct mm<dtype::q6_k> {
  using wblock = block_q6_k; using ablock = a8_256;
  static constexpr int qk = 256, tpb = 4;
  // Slice s: half h = s / 2 of the block, positions l in [16 (s % 2), +16) of each of its four
  // 32-value groups (64 values, 4 sub-block scales).
  struct wslice { uint32_t la[4], lb[4], hb[4]; int8_t sc[4]; uint16_t d; };
  static __device__ __forceinline__ wslice load(const block_q6_k* x, int s) {
    const int h = s / 2, c = s % 2;
    wslice w;
    load16_a2(x->ql + 64 * h + 16 * c, w.la);
    load16_a2(x->ql + 64 * h + 32 + 16 * c, w.lb);
    load16_a2(x->qh + 32 * h + 16 * c, w.hb);
#pragma unroll
    for (int k = 0; k < 4; ++k) w.sc[k] = x->scales[8 * h + 2 * k + c];
    w.d = x->d;
    return w;
  }
  static __device__ __forceinline__ float dot(const block_q6_k* x, const a8_256* y, int s) { return dot_w(load(x, s), y, s); }
  static __device__ __forceinline__ float dot_w(const wslice& x, const a8_256* y, int s) {
    const int h = s / 2, c = s % 2;
    const uint32_t(&la)[4] = x.la;
    const uint32_t(&lb)[4] = x.lb;
    const uint32_t(&hb)[4] = x.hb;
    int isum = 0;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const int4 yv = ld16(y->qs + 128 * h + 32 * k + 16 * c);
      const int ys[4] = {yv.x, yv.y, yv.z, yv.w};
      int sq = 0, sy = 0;
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const uint32_t lo = ((k % 2 ? lb[i] : la[i]) >> (4 * (k / 2))) & (uint32_t)k_lo4;
        const int q = (int)(lo | (((hb[i] >> (2 * k)) & 0x03030303u) << 4));
        sq = dot4(q, ys[i], sq);
        sy = dot4(k_ones, ys[i], sy);
      }
      isum += x.sc[k] * (sq - 32 * sy);
    }
    return h2f(x.d) * y->d * (float)isum;
  }
};
template <> struct mm<dtype::iq4_xs> {
  using wblock = block_iq4_xs; using ablock = a8_256;
  static constexpr int qk = 256, tpb = 1;
  static __device__ __forceinline__ float dot(const block_iq4_xs* x, const a8_256* y, int) {
    int isum = 0;
    for (int ib = 0; ib < 8; ++ib) {
      const uint8_t* qs = x->qs + 16 * ib;
      const int8_t* a = y->qs + 32 * ib;
      int s = 0;
      for (int j = 0; j < 16; ++j) s += k_iq4nl[qs[j] & 0xf] * a[j] + k_iq4nl[qs[j] >> 4] * a[j + 16];
      isum += iq4_xs_scale(x, ib) * s;
    }
    return h2f(x->d) * y->d * (float)isum;
  }
};

// The slicing the prompt (tiled) kernel uses: the product's own by default; Q4_K and Q6_K keep
// their 8-slice versions there (the 4-slice ones need more registers in its unrolled tile loop).
template <dtype T> struct tile_dot {
  static constexpr int tpb = mm<T>::tpb;
  static __device__ __forceinline__ float dot(const typename mm<T>::wblock* x, const typename mm<T>::ablock* y, int s) {
    return mm<T>::dot(x, y, s);
  }
};
template <> struct tile_dot<dtype::q4_k> {
  static constexpr int tpb = 8;
  // Slice s: bytes [16 (s % 2), +16) of the 32-byte chunk s / 2, i.e. 16 values of sub-block
  // 2 (s / 2) (low nibbles) and 16 of sub-block 2 (s / 2) + 1 (high nibbles).
  static __device__ __forceinline__ float dot(const block_q4_k* x, const a8_256* y, int s) {
    const int c = s / 2, h = s % 2, ja = 2 * c, jb = 2 * c + 1;
    const int4 q = *reinterpret_cast<const int4*>(x->qs + 32 * c + 16 * h);
    const int8_t* ya = y->qs + 32 * ja + 16 * h;
    const int8_t* yb = y->qs + 32 * jb + 16 * h;
    int sa = 0, sb = 0;
    sa = dot4(q.x & k_lo4, ld4(ya), sa);
    sa = dot4(q.y & k_lo4, ld4(ya + 4), sa);
    sa = dot4(q.z & k_lo4, ld4(ya + 8), sa);
    sa = dot4(q.w & k_lo4, ld4(ya + 12), sa);
    sb = dot4((q.x >> 4) & k_lo4, ld4(yb), sb);
    sb = dot4((q.y >> 4) & k_lo4, ld4(yb + 4), sb);
    sb = dot4((q.z >> 4) & k_lo4, ld4(yb + 8), sb);
    sb = dot4((q.w >> 4) & k_lo4, ld4(yb + 12), sb);
    int sca, ma, scb, mb;
    k4_scale_min(x->scales, ja, sca, ma);
    k4_scale_min(x->scales, jb, scb, mb);
    const int isum = sca * sa + scb * sb;
    const int summs = ma * y->bsums[2 * ja + h] + mb * y->bsums[2 * jb + h];
    return h2f(x->d) * y->d * (float)isum - h2f(x->dmin) * y->d * (float)summs;
  }
};
template <> struct tile_dot<dtype::q6_k> {
  static constexpr int tpb = 8;
  // Slice s: half h = s / 4 of the block, positions l in [8 (s % 4), +8) of each of its four
  // 32-value groups (32 values, 4 sub-block scales).
  static __device__ __forceinline__ float dot(const block_q6_k* x, const a8_256* y, int s) {
    const int h = s / 4, c = s % 4;
    const uint8_t* ql = x->ql + 64 * h + 8 * c;
    const uint8_t* qh = x->qh + 32 * h + 8 * c;
    int isum = 0;
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int l0 = load_i32_a2(ql + 4 * i), l1 = load_i32_a2(ql + 32 + 4 * i), hh = load_i32_a2(qh + 4 * i);
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const int lo = ((k % 2 ? l1 : l0) >> (4 * (k / 2))) & k_lo4;
        const int q = lo | (((hh >> (2 * k)) & 0x03030303) << 4);
        const int yv = ld4(y->qs + 128 * h + 32 * k + 8 * c + 4 * i);
        isum += x->scales[8 * h + 2 * k + c / 2] * (dot4(q, yv, 0) - 32 * dot4(k_ones, yv, 0));
      }
    }
    return h2f(x->d) * y->d * (float)isum;
  }
};


// A weight x activation product's geometry, as the product kernels take it.
struct mm_args {
  const uint8_t* a;       // weights
  int64_t a_nb1, a_nb2, a_nb3;
  int64_t M, n_blocks;    // rows, blocks per row
  const uint8_t* act;     // rounded activations, row r at act + r * act_rb
  int64_t act_rb;
  int64_t N, b2;          // columns, B's dim 2 (batch index = i2 + b2 * i3)
  int64_t r2, r3;         // broadcast ratios b2 / a2, b3 / a3
  uint8_t* dst;
  int64_t d_nb1, d_nb2, d_nb3;
};

inline mm_args make_mm_args(const tensor& dst, const uint8_t* act, int64_t act_rb) {
  const tensor& a = *dst.src[0];
  const tensor& b = *dst.src[1];
  mm_args p;
  p.a = static_cast<const uint8_t*>(a.data);
  p.a_nb1 = (int64_t)a.nb[1];
  p.a_nb2 = (int64_t)a.nb[2];
  p.a_nb3 = (int64_t)a.nb[3];
  p.M = a.ne[1];
  p.n_blocks = a.ne[0] / block_size(a.type);
  p.act = act;
  p.act_rb = act_rb;
  p.N = b.ne[1];
  p.b2 = b.ne[2];
  p.r2 = b.ne[2] / a.ne[2];
  p.r3 = b.ne[3] / a.ne[3];
  p.dst = static_cast<uint8_t*>(dst.data);
  p.d_nb1 = (int64_t)dst.nb[1];
  p.d_nb2 = (int64_t)dst.nb[2];
  p.d_nb3 = (int64_t)dst.nb[3];
  return p;
}

// The tensor-core path of a product for many columns (NVIDIA sm_80+, K a multiple of 256, a
// quantized weight type; ops_matmul_mma.cu): false when it does not apply and nothing was launched.
bool run_mul_mat_mma(const tensor& dst, const mm_args& p, gpuStream_t s);

}  // namespace hearth::gpu
