// Host-side entry points of the CUDA/HIP kernels, one per op family (semantics in core/tensor.h).
// Each launches its kernels on the given stream; nothing here allocates or synchronizes, so a
// whole graph can be captured into one CUDA/HIP graph.
#pragma once
#include <cstddef>
#include <cstdint>

#include "backends/cuda/vendors/gpu.h"
#include "core/tensor.h"

namespace hearth::gpu {

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
void run_norm_fused(const tensor* add, const tensor& norm, const tensor& mul, gpuStream_t s);
void run_softmax(const tensor& dst, gpuStream_t s);
void run_rope(const tensor& dst, gpuStream_t s);
void run_top_k(const tensor& dst, gpuStream_t s);
void run_gather(const tensor& dst, gpuStream_t s);
void run_moe_sum(const tensor& dst, gpuStream_t s);
void run_attention(const tensor& dst, gpuStream_t s);
// quantize=false: scratch already holds src1 in this product's activation format (the previous
// product read the same activations), so the rounding pass is skipped.
void run_mul_mat(const tensor& dst, gpuStream_t s, uint8_t* scratch, bool quantize = true);
void run_mul_mat_id(const tensor& dst, gpuStream_t s, uint8_t* scratch, bool quantize = true);

// The last launch error as one line (empty when none), cleared.
const char* take_launch_error();

}  // namespace hearth::gpu
