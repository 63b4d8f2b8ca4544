// Host-side entry points of the CUDA/HIP kernels, one per op family (semantics in core/tensor.h).
// Each launches its kernels on the given stream; nothing here allocates or synchronizes, so a
// whole graph can be captured into one CUDA/HIP graph.
#pragma once
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "backends/cuda/vendors/gpu.h"
#include "core/env.h"
#include "core/tensor.h"

namespace hearth::gpu {

// read(dev) for the current device, computed once per device (read must not return 0); fallback
// when there is no current device.
template <int (*Read)(int)> int per_device(int fallback) {
  static std::array<std::atomic<int>, 64> known{};  // 0: not read yet
  int dev = 0;
  if (gpuGetDevice(&dev) != gpuSuccess || dev < 0 || dev >= (int)known.size()) {
    (void)gpuGetLastError();
    return fallback;
  }
  int v = known[(size_t)dev].load(std::memory_order_relaxed);
  if (v == 0) {
    v = Read(dev);
    known[(size_t)dev].store(v, std::memory_order_relaxed);
  }
  return v;
}

// Device scratch for one node (activations rounded to the weights' dot type), 0 if none.
size_t scratch_bytes(const tensor& node);
bool matmul_supported(const tensor& node);
bool type_readable(dtype t);  // get_rows / dequantization kernels exist for t
bool attention_supported(const tensor& node);

void run_get_rows(const tensor& dst, gpuStream_t s);
void run_set_rows(const tensor& dst, gpuStream_t s);
void run_cpy(const tensor& dst, gpuStream_t s);
void run_cont(const tensor& dst, gpuStream_t s);
void run_binary(const tensor& dst, gpuStream_t s);
void run_unary(const tensor& dst, gpuStream_t s);
void run_glu(const tensor& dst, gpuStream_t s);
void run_norm(const tensor& dst, gpuStream_t s);  // rms_norm, norm
// add (optional) -> norm -> mul(weight vector) as one kernel, when the nodes have that shape.
bool can_fuse_norm(const tensor* add, const tensor& norm, const tensor& mul);
// round_to: when not nullptr, mul's rows are also rounded to act (q8_0, q8_1 or q8_k) into it.
// w_const: no kernel writes mul's weights (they may load before the previous kernel ends).
void run_norm_fused(const tensor* add, const tensor& norm, const tensor& mul, gpuStream_t s, uint8_t* round_to = nullptr,
                    dtype act = dtype::f32, bool w_const = false);
void run_softmax(const tensor& dst, gpuStream_t s);
void run_rope(const tensor& dst, gpuStream_t s);
// Two independent ropes (queries and keys) or set_rows (keys and values) as one launch.
bool can_pair_rope(const tensor& a, const tensor& b);
void run_rope_pair(const tensor& a, const tensor& b, gpuStream_t s);
bool can_pair_set_rows(const tensor& a, const tensor& b);
void run_set_rows_pair(const tensor& a, const tensor& b, gpuStream_t s);
// rope q (optional), rope k, set_rows of rope k's result (keys cache), set_rows of the values
// (values cache) as one launch: the keys' rope also stores its result, extra blocks store the values.
bool can_rope_store(const tensor* rq, const tensor& rk, const tensor& sk, const tensor& sv);
void run_rope_store(const tensor* rq, const tensor& rk, const tensor& sk, const tensor& sv, gpuStream_t s);
void run_top_k(const tensor& dst, gpuStream_t s);
void run_gather(const tensor& dst, gpuStream_t s);
void run_moe_sum(const tensor& dst, gpuStream_t s);
// scratch: the stream's scratch (attention_scratch_bytes(dst) or more), for the chunk states of a
// few tokens' attention over a long cache; nullptr: never split. act other than f32: the output
// rows are also rounded to act (q8_0, q8_1 or q8_k) at the start of the scratch for the product
// after it; counters: attention_counters zeroed unsigned (heads sharing a block); mask_const: no
// kernel writes the mask (its first values may load before the previous kernel ends).
void run_attention(const tensor& dst, gpuStream_t s, uint8_t* scratch = nullptr, dtype act = dtype::f32, unsigned* counters = nullptr,
                   bool mask_const = false);
size_t attention_scratch_bytes(const tensor& dst);
constexpr int64_t attention_counters = 4096;
// The zeroed words a stream keeps for kernels whose last block finishes a result: the attention's,
// then one for a product's norm tail.
constexpr int64_t gpu_counters = attention_counters + 1;
// The activation format the attention may round its output into for next (a matrix x vector
// product of it), or f32 when it should not.
dtype attention_round_type(const tensor& attn, const tensor& next, int64_t max_counters = attention_counters);
// Bytes of one row of K activations rounded for weights of type t (the scratch layout: row r of
// src1, in row order, at r * act_row_bytes).
size_t act_row_bytes(dtype t, int64_t K);
size_t act_format_row_bytes(dtype act, int64_t K);  // the same for activation format act (q8_0, q8_k, ...)
void quantize_activations(dtype wtype, const tensor& b, uint8_t* out, gpuStream_t s);
// Matrix x vector products (one activation column) that the token-generation kernel takes.
bool mmv_eligible(const tensor& node);
// What a one-token product may also do in its launch: the rope (normal mode) that is the only
// reader of its result, and / or the set_rows that stores the (roped) result into a KV cache. The
// backend decides that running them there is safe for the graph; the *_fits checks say that the
// kernel can (the default CUDA kernel, shapes it handles).
struct mmv_epilogue {
  const tensor* rope = nullptr;
  const tensor* store = nullptr;
};
bool mmv_rope_fits(const tensor& product, const tensor& rope);
bool mmv_store_fits(const tensor& rows, const tensor& set_rows);  // rows: the product or its rope
// What a lone one-token product may run after it in its launch (its last block): the add of a
// residual to its result, rms_norm, the mul by the norm's weights, and the rounding of that row to
// act (q8_0, q8_1 or q8_k) in the scratch for the product that reads it next. mmv_norm_fits says
// whether the kernel can; the backend decides that it is safe for the graph.
struct mmv_norm {
  const tensor* add = nullptr;
  const tensor* norm = nullptr;
  const tensor* mul = nullptr;
  dtype act = dtype::f32;
  unsigned* counter = nullptr;  // a zeroed word (the kernel leaves it zeroed)
};
bool mmv_norm_fits(const tensor& product, const tensor& add, const tensor& norm, const tensor& mul, dtype act);
// Whether products of weight type second may join a launch of products of type first (after them):
// the same activation rounding and slices per block (Q4_K then Q6_K: queries and keys, then values).
bool mmv_pair(dtype first, dtype second);
// nodes: 1 to 3 mmv_eligible products of the same weight type (or mmv_pair types, those of the
// second type last), K and src1, run as one launch;
// eps: nullptr or one epilogue per node (ropes of one launch share their positions and parameters);
// norm: nullptr, or (one node, no epilogue) its norm tail; w_const: no kernel writes the nodes'
// weights (their first slices may load before the previous kernel ends).
void run_mul_mat_vec(const tensor* const* nodes, int n_nodes, gpuStream_t s, uint8_t* scratch, bool quantize,
                     const mmv_epilogue* eps = nullptr, const mmv_norm* norm = nullptr, bool w_const = false);
// Producers that also round their output into the scratch for the product that reads it next
// (act: q8_0, q8_1 or q8_k; see can_round_into).
bool can_round_into(const tensor& produced, dtype act);
bool can_fuse_glu_round(const tensor& glu);
void run_glu_round(const tensor& glu, gpuStream_t s, uint8_t* scratch, dtype act);
// quantize=false: scratch already holds src1 in this product's activation format (the previous
// product read the same activations), so the rounding pass is skipped.
void run_mul_mat(const tensor& dst, gpuStream_t s, uint8_t* scratch, bool quantize = true);
void run_mul_mat_id(const tensor& dst, gpuStream_t s, uint8_t* scratch, bool quantize = true);

// Whether the launches that follow on this thread may use programmatic dependent launch (sm_90+;
// see common.cuh): the stream decides per graph.
void pdl_allow(bool yes);

// The last launch error as one line (empty when none), cleared.
const char* take_launch_error();

}  // namespace hearth::gpu
