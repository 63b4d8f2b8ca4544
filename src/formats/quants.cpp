// Type dispatch of the scalar reference, plus the plain float formats (f32, f16, bf16). The block
// formats live in quants_legacy.cpp, quants_k.cpp and quants_iq4.cpp.
#include "formats/quants.h"

#include "core/error.h"
#include "formats/quants_impl.h"

namespace hearth::ref {
namespace {

using namespace detail;

void check_n(dtype t, int64_t n, const char* what) {
  const int64_t bs = block_size(t);
  if (n < 0 || n % bs != 0) fail("{}: {} elements is not a multiple of the {} block size {}", what, n, dtype_name(t), bs);
}

template <typename B> const B* as(const void* p) { return static_cast<const B*>(p); }
template <typename B> B* as(void* p) { return static_cast<B*>(p); }

}  // namespace

bool has_quantizer(dtype t) {
  switch (t) {
    case dtype::f32: case dtype::f16: case dtype::bf16:
    case dtype::q4_0: case dtype::q4_1: case dtype::q5_0: case dtype::q5_1: case dtype::q8_0: case dtype::q8_1:
    case dtype::q2_k: case dtype::q3_k: case dtype::q4_k: case dtype::q5_k: case dtype::q6_k: case dtype::q8_k:
    case dtype::iq4_nl: case dtype::iq4_xs:
      return true;
    default:
      return false;
  }
}

bool has_dequantizer(dtype t) { return has_quantizer(t); }

bool has_vec_dot(dtype t) { return has_quantizer(t) && t != dtype::q8_1 && t != dtype::q8_k; }

void quantize_row(dtype t, const float* src, void* dst, int64_t n) {
  check_n(t, n, "quantize_row");
  switch (t) {
    case dtype::f32: std::memcpy(dst, src, (size_t)n * 4); return;
    case dtype::f16: for (int64_t i = 0; i < n; ++i) as<uint16_t>(dst)[i] = f32_to_f16(src[i]); return;
    case dtype::bf16: for (int64_t i = 0; i < n; ++i) as<uint16_t>(dst)[i] = f32_to_bf16(src[i]); return;
    case dtype::q4_0: quantize_q4_0(src, as<block_q4_0>(dst), n); return;
    case dtype::q4_1: quantize_q4_1(src, as<block_q4_1>(dst), n); return;
    case dtype::q5_0: quantize_q5_0(src, as<block_q5_0>(dst), n); return;
    case dtype::q5_1: quantize_q5_1(src, as<block_q5_1>(dst), n); return;
    case dtype::q8_0: quantize_q8_0(src, as<block_q8_0>(dst), n); return;
    case dtype::q8_1: quantize_act_q8_1(src, as<block_q8_1>(dst), n); return;
    case dtype::q2_k: quantize_q2_k(src, as<block_q2_k>(dst), n); return;
    case dtype::q3_k: quantize_q3_k(src, as<block_q3_k>(dst), n); return;
    case dtype::q4_k: quantize_q4_k(src, as<block_q4_k>(dst), n); return;
    case dtype::q5_k: quantize_q5_k(src, as<block_q5_k>(dst), n); return;
    case dtype::q6_k: quantize_q6_k(src, as<block_q6_k>(dst), n); return;
    case dtype::q8_k: quantize_act_q8_k(src, as<block_q8_k>(dst), n); return;
    case dtype::iq4_nl: quantize_iq4_nl(src, as<block_iq4_nl>(dst), n); return;
    case dtype::iq4_xs: quantize_iq4_xs(src, as<block_iq4_xs>(dst), n); return;
    default: fail("quantize_row: no quantizer for type {}", dtype_name(t));
  }
}

void dequantize_row(dtype t, const void* src, float* dst, int64_t n) {
  check_n(t, n, "dequantize_row");
  switch (t) {
    case dtype::f32: std::memcpy(dst, src, (size_t)n * 4); return;
    case dtype::f16: for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(as<uint16_t>(src)[i]); return;
    case dtype::bf16: for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(as<uint16_t>(src)[i]); return;
    case dtype::q4_0: dequantize_q4_0(as<block_q4_0>(src), dst, n); return;
    case dtype::q4_1: dequantize_q4_1(as<block_q4_1>(src), dst, n); return;
    case dtype::q5_0: dequantize_q5_0(as<block_q5_0>(src), dst, n); return;
    case dtype::q5_1: dequantize_q5_1(as<block_q5_1>(src), dst, n); return;
    case dtype::q8_0: dequantize_q8_0(as<block_q8_0>(src), dst, n); return;
    case dtype::q8_1: dequantize_q8_1(as<block_q8_1>(src), dst, n); return;
    case dtype::q2_k: dequantize_q2_k(as<block_q2_k>(src), dst, n); return;
    case dtype::q3_k: dequantize_q3_k(as<block_q3_k>(src), dst, n); return;
    case dtype::q4_k: dequantize_q4_k(as<block_q4_k>(src), dst, n); return;
    case dtype::q5_k: dequantize_q5_k(as<block_q5_k>(src), dst, n); return;
    case dtype::q6_k: dequantize_q6_k(as<block_q6_k>(src), dst, n); return;
    case dtype::q8_k: dequantize_q8_k(as<block_q8_k>(src), dst, n); return;
    case dtype::iq4_nl: dequantize_iq4_nl(as<block_iq4_nl>(src), dst, n); return;
    case dtype::iq4_xs: dequantize_iq4_xs(as<block_iq4_xs>(src), dst, n); return;
    default: fail("dequantize_row: no dequantizer for type {}", dtype_name(t));
  }
}

void quantize_row_act(dtype act_type, const float* src, void* dst, int64_t n) {
  check_n(act_type, n, "quantize_row_act");
  switch (act_type) {
    case dtype::f32: case dtype::f16: case dtype::bf16: quantize_row(act_type, src, dst, n); return;
    case dtype::q8_0: quantize_act_q8_0(src, as<block_q8_0>(dst), n); return;
    case dtype::q8_1: quantize_act_q8_1(src, as<block_q8_1>(dst), n); return;
    case dtype::q8_k: quantize_act_q8_k(src, as<block_q8_k>(dst), n); return;
    default: fail("quantize_row_act: {} is not an activation format", dtype_name(act_type));
  }
}

float vec_dot(dtype t, const void* w, const void* act, int64_t n) {
  check_n(t, n, "vec_dot");
  switch (t) {
    case dtype::f32: {
      double s = 0;
      for (int64_t i = 0; i < n; ++i) s += (double)as<float>(w)[i] * (double)as<float>(act)[i];
      return (float)s;
    }
    case dtype::f16: {
      double s = 0;
      for (int64_t i = 0; i < n; ++i)
        s += (double)(f16_to_f32(as<uint16_t>(w)[i]) * f16_to_f32(as<uint16_t>(act)[i]));
      return (float)s;
    }
    case dtype::bf16: {
      double s = 0;
      for (int64_t i = 0; i < n; ++i)
        s += (double)(bf16_to_f32(as<uint16_t>(w)[i]) * bf16_to_f32(as<uint16_t>(act)[i]));
      return (float)s;
    }
    case dtype::q4_0: return dot_q4_0(as<block_q4_0>(w), as<block_q8_0>(act), n);
    case dtype::q4_1: return dot_q4_1(as<block_q4_1>(w), as<block_q8_1>(act), n);
    case dtype::q5_0: return dot_q5_0(as<block_q5_0>(w), as<block_q8_0>(act), n);
    case dtype::q5_1: return dot_q5_1(as<block_q5_1>(w), as<block_q8_1>(act), n);
    case dtype::q8_0: return dot_q8_0(as<block_q8_0>(w), as<block_q8_0>(act), n);
    case dtype::q2_k: return dot_q2_k(as<block_q2_k>(w), as<block_q8_k>(act), n);
    case dtype::q3_k: return dot_q3_k(as<block_q3_k>(w), as<block_q8_k>(act), n);
    case dtype::q4_k: return dot_q4_k(as<block_q4_k>(w), as<block_q8_k>(act), n);
    case dtype::q5_k: return dot_q5_k(as<block_q5_k>(w), as<block_q8_k>(act), n);
    case dtype::q6_k: return dot_q6_k(as<block_q6_k>(w), as<block_q8_k>(act), n);
    case dtype::iq4_nl: return dot_iq4_nl(as<block_iq4_nl>(w), as<block_q8_0>(act), n);
    case dtype::iq4_xs: return dot_iq4_xs(as<block_iq4_xs>(w), as<block_q8_k>(act), n);
    default: fail("vec_dot: no dot product for weights of type {}", dtype_name(t));
  }
}

}  // namespace hearth::ref
