// What the Vulkan stream's ops share: the shaders' tensor descriptors, which kernel takes a node,
// where a node's scratch data lies, and small switches read from the environment.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "backends/vulkan/vk_backend.h"
#include "core/env.h"

namespace hearth::vk {

bool has_kernel(dtype t);  // the matrix kernels and get_rows exist for t
std::string lower(const char* s);
bool fits32(const tensor* t);  // shapes and strides fit the shaders' 32-bit fields
tdesc desc(const tensor* t);   // nullptr: zeros
inline uint32_t f2u(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline size_t round_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

// Types with a wide-load matrix x vector kernel (matvec_wide.comp), whose loads need the alignment
// of their blocks: 16 bytes for Q4_K (one 144-byte block is 9 x 16), 2 for the others.
bool wide_matvec(const tensor& a);
// Whether t's data and its row and plane strides are multiples of a bytes.
bool rows_aligned(const tensor& t, uint64_t a);
// Whether an attention node's key and value rows can be read 4 elements at a time.
bool kv_loads4(const tensor& n);
// Whether an attention node takes the split-KV kernel (few tokens).
bool split_attention(const tensor& n);
// The token-tile shader for a prompt's attention, or nullptr.
const char* tile_attention(const device_info& info, const tensor& n);
uint32_t attention_chunks(const tensor& n);
size_t attention_scratch_bytes(const tensor& n);  // the split attention's per-chunk partial results

// Where the rounded activations of a product with activations b lie in the scratch: the floats,
// their q8_1 block sums, and (for the integer dot products) the int8 values and per block of 256
// its d and sums (q8_K, 48 bytes) or per block of 32 its d (q8_0, q8_1, 4 bytes).
struct act_regions {
  size_t sums, i8, meta, total;
};
act_regions act_layout(const tensor& b);
size_t act_scratch_bytes(const tensor& b);

// The glu scratch of gate and up products that round their swiglu for the next product (one token,
// n rows a multiple of 256): a counter per block of 256, the int8 values, d and run sums (48 bytes)
// per block.
struct glu_regions {
  size_t i8, meta, total;
};
glu_regions glu_layout(uint32_t n);

// Products of one activation column with integer dot products (matvec_dp.comp), where the device
// has them; HEARTH_VK_DP=0 keeps the float kernels (comparisons).
bool dp_enabled();
bool dp_matvec(const tensor& a);  // whether matvec_dp takes A (type, load alignment)

// An expert-selected product with at most this many (slot, token) pairs multiplies each pair on its
// own (mul_mat_id_vec); more are routed per expert and tiled (moe_route + mul_mat_id).
constexpr uint64_t k_id_vec_pairs = 32;
uint64_t id_pairs(const tensor& n);
size_t route_bytes(const tensor& n);  // the routing lists of a tiled expert-selected product
// Bytes of scratch a node needs (the rounded activations of a product, the routing of experts).
size_t scratch_bytes(const tensor& n);

}  // namespace hearth::vk
