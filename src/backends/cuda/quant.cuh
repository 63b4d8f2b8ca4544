// Per-type device code for every weight type: the value of one element of a block (get_rows, and
// the f32 products), and the dot product of one weight block with one activation block in the
// weights' vec_dot_type, computed with the same integer sums as the scalar reference
// (src/formats/quants*.cpp), so that only the float summation order across blocks differs.
#pragma once
#include "backends/cuda/common.cuh"

namespace hearth::gpu {

// ---- element access -------------------------------------------------------------------------------

__device__ __forceinline__ float deq_q4_0(const block_q4_0* b, int e) {
  const int q = e < 16 ? (b->qs[e] & 0xf) : (b->qs[e - 16] >> 4);
  return (float)(q - 8) * h2f(b->d);
}
__device__ __forceinline__ float deq_q4_1(const block_q4_1* b, int e) {
  const int q = e < 16 ? (b->qs[e] & 0xf) : (b->qs[e - 16] >> 4);
  return (float)q * h2f(b->d) + h2f(b->m);
}
__device__ __forceinline__ uint32_t load_qh(const uint8_t* qh) {
  return (uint32_t)qh[0] | ((uint32_t)qh[1] << 8) | ((uint32_t)qh[2] << 16) | ((uint32_t)qh[3] << 24);
}
__device__ __forceinline__ int q5_value(const uint8_t* qs, uint32_t qh, int e) {
  const int j = e % 16;
  const int lo = e < 16 ? (qs[j] & 0xf) : (qs[j] >> 4);
  const int hi = e < 16 ? (int)((qh >> j) << 4) & 0x10 : (int)(qh >> (j + 12)) & 0x10;
  return lo | hi;
}
__device__ __forceinline__ float deq_q5_0(const block_q5_0* b, int e) {
  return (float)(q5_value(b->qs, load_qh(b->qh), e) - 16) * h2f(b->d);
}
__device__ __forceinline__ float deq_q5_1(const block_q5_1* b, int e) {
  return (float)q5_value(b->qs, load_qh(b->qh), e) * h2f(b->d) + h2f(b->m);
}
__device__ __forceinline__ float deq_q8_0(const block_q8_0* b, int e) { return (float)b->qs[e] * h2f(b->d); }
__device__ __forceinline__ int q2_value(const block_q2_k* b, int e) {
  const int half = e / 128, r = e % 128, shift = 2 * (r / 32), l = r % 32;
  return (b->qs[32 * half + l] >> shift) & 3;
}
__device__ __forceinline__ float deq_q2_k(const block_q2_k* b, int e) {
  const uint8_t sc = b->scales[e / 16];
  return h2f(b->d) * (float)(sc & 0xf) * (float)q2_value(b, e) - h2f(b->dmin) * (float)(sc >> 4);
}
__device__ __forceinline__ int q3_scale(const uint8_t* s, int j) {
  const int lo = j < 8 ? (s[j] & 0xf) : (s[j - 8] >> 4);
  return (lo | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}
__device__ __forceinline__ int q3_value(const block_q3_k* b, int e) {
  const int half = e / 128, r = e % 128, shift = 2 * (r / 32), l = r % 32;
  return ((b->qs[32 * half + l] >> shift) & 3) - (((b->hmask[e % 32] >> (e / 32)) & 1) ? 0 : 4);
}
__device__ __forceinline__ float deq_q3_k(const block_q3_k* b, int e) {
  return h2f(b->d) * (float)q3_scale(b->scales, e / 16) * (float)q3_value(b, e);
}
__device__ __forceinline__ void k4_scale_min(const uint8_t* s, int j, int& sc, int& m) {
  if (j < 4) {
    sc = s[j] & 63;
    m = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 0xf) | ((s[j - 4] >> 6) << 4);
    m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}
__device__ __forceinline__ float deq_q4_k(const block_q4_k* b, int e) {
  const int j = e / 32, l = e % 32;
  int sc, m;
  k4_scale_min(b->scales, j, sc, m);
  const int q = (b->qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0xf;
  return h2f(b->d) * (float)sc * (float)q - h2f(b->dmin) * (float)m;
}
__device__ __forceinline__ float deq_q5_k(const block_q5_k* b, int e) {
  const int j = e / 32, l = e % 32;
  int sc, m;
  k4_scale_min(b->scales, j, sc, m);
  const int q = ((b->qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0xf) | (((b->qh[l] >> j) & 1) << 4);
  return h2f(b->d) * (float)sc * (float)q - h2f(b->dmin) * (float)m;
}
__device__ __forceinline__ int q6_value(const block_q6_k* b, int e) {
  const int h = e / 128, r = e % 128, k = r / 32, l = r % 32;
  const int lo = (b->ql[64 * h + l + 32 * (k % 2)] >> (4 * (k / 2))) & 0xf;
  const int hi = (b->qh[32 * h + l] >> (2 * k)) & 3;
  return (lo | (hi << 4)) - 32;
}
__device__ __forceinline__ float deq_q6_k(const block_q6_k* b, int e) {
  return h2f(b->d) * (float)b->scales[e / 16] * (float)q6_value(b, e);
}
__device__ __forceinline__ float deq_iq4_nl(const block_iq4_nl* b, int e) {
  const int q = e < 16 ? (b->qs[e] & 0xf) : (b->qs[e - 16] >> 4);
  return h2f(b->d) * (float)k_iq4nl[q];
}
__device__ __forceinline__ int iq4_xs_scale(const block_iq4_xs* b, int ib) {
  return (((b->scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | (((b->scales_h >> (2 * ib)) & 3) << 4)) - 32;
}
__device__ __forceinline__ float deq_iq4_xs(const block_iq4_xs* b, int e) {
  const int ib = e / 32, j = e % 32;
  const uint8_t* qs = b->qs + 16 * ib;
  const int q = j < 16 ? (qs[j] & 0xf) : (qs[j - 16] >> 4);
  return h2f(b->d) * (float)iq4_xs_scale(b, ib) * (float)k_iq4nl[q];
}

// Element i of a row of type t (dispatch inside a kernel templated on the type id).
template <dtype T> __device__ __forceinline__ float row_elem(const uint8_t* row, int64_t i);
#define HEARTH_ROW_ELEM(T, BLK, QK, FN)                                                        \
  template <> __device__ __forceinline__ float row_elem<T>(const uint8_t* row, int64_t i) { \
    return FN(reinterpret_cast<const BLK*>(row) + i / QK, (int)(i % QK));                   \
  }
template <> __device__ __forceinline__ float row_elem<dtype::f32>(const uint8_t* row, int64_t i) { return reinterpret_cast<const float*>(row)[i]; }
template <> __device__ __forceinline__ float row_elem<dtype::f16>(const uint8_t* row, int64_t i) { return h2f(reinterpret_cast<const uint16_t*>(row)[i]); }
template <> __device__ __forceinline__ float row_elem<dtype::bf16>(const uint8_t* row, int64_t i) { return bf2f(reinterpret_cast<const uint16_t*>(row)[i]); }
HEARTH_ROW_ELEM(dtype::q4_0, block_q4_0, 32, deq_q4_0)
HEARTH_ROW_ELEM(dtype::q4_1, block_q4_1, 32, deq_q4_1)
HEARTH_ROW_ELEM(dtype::q5_0, block_q5_0, 32, deq_q5_0)
HEARTH_ROW_ELEM(dtype::q5_1, block_q5_1, 32, deq_q5_1)
HEARTH_ROW_ELEM(dtype::q8_0, block_q8_0, 32, deq_q8_0)
HEARTH_ROW_ELEM(dtype::q2_k, block_q2_k, 256, deq_q2_k)
HEARTH_ROW_ELEM(dtype::q3_k, block_q3_k, 256, deq_q3_k)
HEARTH_ROW_ELEM(dtype::q4_k, block_q4_k, 256, deq_q4_k)
HEARTH_ROW_ELEM(dtype::q5_k, block_q5_k, 256, deq_q5_k)
HEARTH_ROW_ELEM(dtype::q6_k, block_q6_k, 256, deq_q6_k)
HEARTH_ROW_ELEM(dtype::iq4_nl, block_iq4_nl, 32, deq_iq4_nl)
HEARTH_ROW_ELEM(dtype::iq4_xs, block_iq4_xs, 256, deq_iq4_xs)
#undef HEARTH_ROW_ELEM

// Calls f.template operator()<T>() with T the compile-time type id of t; false if t has no kernels.
template <typename F> bool dispatch_type(dtype t, F&& f) {
  switch (t) {
    case dtype::f32: f.template operator()<dtype::f32>(); return true;
    case dtype::f16: f.template operator()<dtype::f16>(); return true;
    case dtype::bf16: f.template operator()<dtype::bf16>(); return true;
    case dtype::q4_0: f.template operator()<dtype::q4_0>(); return true;
    case dtype::q4_1: f.template operator()<dtype::q4_1>(); return true;
    case dtype::q5_0: f.template operator()<dtype::q5_0>(); return true;
    case dtype::q5_1: f.template operator()<dtype::q5_1>(); return true;
    case dtype::q8_0: f.template operator()<dtype::q8_0>(); return true;
    case dtype::q2_k: f.template operator()<dtype::q2_k>(); return true;
    case dtype::q3_k: f.template operator()<dtype::q3_k>(); return true;
    case dtype::q4_k: f.template operator()<dtype::q4_k>(); return true;
    case dtype::q5_k: f.template operator()<dtype::q5_k>(); return true;
    case dtype::q6_k: f.template operator()<dtype::q6_k>(); return true;
    case dtype::iq4_nl: f.template operator()<dtype::iq4_nl>(); return true;
    case dtype::iq4_xs: f.template operator()<dtype::iq4_xs>(); return true;
    default: return false;
  }
}

}  // namespace hearth::gpu
