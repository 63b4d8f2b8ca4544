// Fast CPU kernels for the quantized (and f32/f16/bf16) weight types: activation rounding, row dot
// products, and the matrix product C = W x B that mul_mat and mul_mat_id run on.
//
// The matrix product works on W's plain GGUF layout. For each panel of rows (16 with AVX-512, 8 with
// AVX2) it unpacks the weights once into a transposed int8 panel (lane r of every vector is row r,
// 4 consecutive k values per lane) with per-sub-block float scales, and a micro-kernel multiplies
// that panel with groups of activation columns through vpdpbusd (or vpmaddubsw): each 4-byte
// activation group is broadcast against 16 rows at once, so the integer work needs no horizontal
// sums and the float scaling runs once per 16 rows per sub-block. The activations are rounded
// exactly as the scalar reference (and llama.cpp) round them, then laid out for the micro-kernel,
// with each block's offset correction (-8 * sum(q) for Q4_0, ...) precomputed.
//
// Every level's results equal the scalar reference up to float summation order.
#pragma once
#include <cstddef>
#include <cstdint>

#include "backends/cpu/kernels/isa.h"
#include "core/dtype.h"

namespace hearth::cpu {

struct mm_kernels {
  dtype type = dtype::f32;      // weight type
  dtype act_type = dtype::f32;  // vec_dot_type(type)
  isa_level isa = isa_level::generic;

  // --- row kernels (standard GGUF block formats) ---
  // f32 row -> act_type row, bit-identical to ref::quantize_row_act.
  void (*quantize_act)(const float* x, void* y, int64_t n) = nullptr;
  // weight row -> f32 (get_rows).
  void (*dequantize)(const void* w, float* y, int64_t n) = nullptr;
  // dot(weight row, act_type row).
  float (*vec_dot)(const void* w, const void* act, int64_t n) = nullptr;

  // --- matrix product ---
  int rows_per_panel = 1;  // row ranges given to rows() should start at multiples of this
  // Bytes of the packed activations of K x N (for any N; columns are packed one at a time).
  size_t (*act_bytes)(int64_t K, int64_t N) = nullptr;
  // Rounds activation column n (K floats at x) into the packed buffer. Columns are independent:
  // threads may pack different columns concurrently.
  void (*pack_act)(const float* x, int64_t K, int64_t n, int64_t N, uint8_t* packed) = nullptr;
  // Scratch bytes one rows() call needs (per thread).
  size_t (*scratch_bytes)(int64_t K, int64_t N) = nullptr;
  // C[m, n] = dot(row m of W, column n) for m in [m0, m1) and n in [0, N): row m of W at
  // w + m * ldw bytes, result at c + n * ldc + m (floats).
  void (*rows)(const void* w, size_t ldw, int64_t K, int64_t m0, int64_t m1, const uint8_t* packed, int64_t N,
               float* c, size_t ldc, uint8_t* scratch) = nullptr;

  // --- repacked weights (null where a level has none) ---
  // A weight matrix can be rewritten once (at load) into panels of rows_per_panel rows whose bytes
  // are laid out in the order the kernels read them: no transposes at run time, one sequential
  // stream, about the size of the GGUF bytes. Valid only with this same table.
  size_t (*repacked_bytes)(int64_t M, int64_t K) = nullptr;
  size_t (*repack_scratch_bytes)(int64_t K) = nullptr;
  // Repacks rows [m0, m1) of the M x K matrix w (m0, m1 multiples of rows_per_panel, or m1 = M), so
  // threads can share the work.
  void (*repack)(const void* w, size_t ldw, int64_t M, int64_t K, int64_t m0, int64_t m1, uint8_t* dst,
                 uint8_t* scratch) = nullptr;
  // As rows(), from repacked weights rw of an M x K matrix.
  void (*rows_repacked)(const uint8_t* rw, int64_t K, int64_t M, int64_t m0, int64_t m1, const uint8_t* packed,
                        int64_t N, float* c, size_t ldc, uint8_t* scratch) = nullptr;
  // Row `row` of repacked weights as floats (bit-identical to dequantizing the GGUF row).
  void (*dequantize_repacked)(const uint8_t* rw, int64_t K, int64_t row, float* y) = nullptr;
};

// Kernels for weights of type t at level l (falls back to the highest level below l that has
// them); throws hearth::error for a type without kernels.
const mm_kernels& kernels_at(dtype t, isa_level l);
inline const mm_kernels& kernels_for_type(dtype t) { return kernels_at(t, active_isa()); }
bool has_kernels(dtype t);

}  // namespace hearth::cpu
