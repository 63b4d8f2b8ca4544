// CPU implementations of the graph ops (semantics in core/tensor.h). Every op runs on all threads
// of the pool: thread ith of nth takes its share and ops needing two phases use ctx.barrier().
// This backend is the reference the GPU backends are tested against.
#pragma once
#include <cstddef>
#include <cstdint>

#include "backends/cpu/kernels/tensor_ops.h"
#include "backends/cpu/thread_pool.h"
#include "core/tensor.h"

namespace hearth::cpu {

struct compute_ctx {
  int ith = 0;
  int nth = 1;
  thread_pool* pool = nullptr;
  uint8_t* work = nullptr;  // shared scratch of work_size() bytes
  size_t work_bytes = 0;
  const repack_cache* cache = nullptr;  // repacked weights (may be null)
  uint64_t pass = 0;                    // unique per graph execution (see mul_mat)
  void barrier() const { if (pool) pool->barrier(); }
};

// Half-open share [begin, end) of n items for thread ith of nth.
inline void thread_range(int64_t n, int ith, int nth, int64_t& begin, int64_t& end) {
  const int64_t per = (n + nth - 1) / nth;
  begin = std::min<int64_t>(n, per * ith);
  end = std::min<int64_t>(n, begin + per);
}

bool supports(const tensor& node);
size_t work_size(const tensor& node, int nth);
void compute_node(const compute_ctx& ctx, tensor& node);

// Per op family (one file each).
void op_set_rows(const compute_ctx& ctx, tensor& dst);
void op_cpy(const compute_ctx& ctx, tensor& dst);
void op_cont(const compute_ctx& ctx, tensor& dst);
void op_binary(const compute_ctx& ctx, tensor& dst);    // add, mul
void op_unary(const compute_ctx& ctx, tensor& dst);     // scale, silu, gelu, softcap
void op_glu(const compute_ctx& ctx, tensor& dst);
void op_rms_norm(const compute_ctx& ctx, tensor& dst);
void op_norm(const compute_ctx& ctx, tensor& dst);
void op_softmax(const compute_ctx& ctx, tensor& dst);
void op_rope(const compute_ctx& ctx, tensor& dst);
void op_attention(const compute_ctx& ctx, tensor& dst);
size_t attention_work_size(const tensor& dst, int nth);
void op_top_k(const compute_ctx& ctx, tensor& dst);
void op_gather(const compute_ctx& ctx, tensor& dst);
void op_moe_sum(const compute_ctx& ctx, tensor& dst);

// Element access helpers for strided f32 tensors.
inline float* row_f32(const tensor& t, int64_t i1, int64_t i2 = 0, int64_t i3 = 0) {
  return reinterpret_cast<float*>(static_cast<uint8_t*>(t.data) + i1 * t.nb[1] + i2 * t.nb[2] + i3 * t.nb[3]);
}
inline const uint8_t* row_ptr(const tensor& t, int64_t i1, int64_t i2 = 0, int64_t i3 = 0) {
  return static_cast<const uint8_t*>(t.data) + i1 * t.nb[1] + i2 * t.nb[2] + i3 * t.nb[3];
}

// gelu as the reference computes it: input rounded to f16, result looked up in an f16 table.
float gelu_ref(float x);

}  // namespace hearth::cpu
