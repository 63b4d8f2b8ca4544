// What the Vulkan stream's ops share (vk_ops_util.h): tensor descriptors, which kernel takes a node,
// the scratch layouts, and which ops and types the device runs (vk_supports).
#include "backends/vulkan/vk_ops_util.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>

namespace hearth::vk {

bool has_kernel(dtype t) {
  switch (t) {
    case dtype::f32: case dtype::f16: case dtype::bf16: case dtype::q4_0: case dtype::q4_1: case dtype::q5_0:
    case dtype::q5_1: case dtype::q8_0: case dtype::q2_k: case dtype::q3_k: case dtype::q4_k: case dtype::q5_k:
    case dtype::q6_k: case dtype::iq4_nl: case dtype::iq4_xs: return true;
    default: return false;
  }
}

std::string lower(const char* s) {
  std::string r(s);
  for (char& c : r) c = (char)std::tolower((unsigned char)c);
  return r;
}

bool fits32(const tensor* t) {
  if (!t) return true;
  for (int i = 0; i < max_dims; ++i)
    if (t->ne[i] > 0xffffffffLL || t->nb[i] > 0xffffffffULL) return false;
  return true;
}

tdesc desc(const tensor* t) {
  tdesc d{};
  if (!t) return d;
  d.addr = (uint64_t)reinterpret_cast<uintptr_t>(t->data);
  for (int i = 0; i < 4; ++i) {
    d.ne[i] = (uint32_t)t->ne[i];
    d.nb[i] = (uint32_t)t->nb[i];
  }
  return d;
}

// Types with a wide-load matrix x vector kernel (matvec_wide.comp), whose loads need the alignment
// of their blocks: 16 bytes for Q4_K (one 144-byte block is 9 x 16), 2 for the others.
bool wide_matvec(const tensor& a) {
  const uint64_t addr = (uint64_t)reinterpret_cast<uintptr_t>(a.data);
  uint64_t align = 0;
  switch (a.type) {
    case dtype::q4_k: align = 16; break;
    case dtype::q6_k: case dtype::q4_0: align = 2; break;
    default: return false;
  }
  static const bool off = std::getenv("HEARTH_VK_NO_WIDE") != nullptr;  // A/B comparisons
  if (off) return false;
  return addr % align == 0 && a.nb[1] % align == 0 && a.nb[2] % align == 0 && a.nb[3] % align == 0;
}

// Whether t's data and its row and plane strides are multiples of a bytes.
bool rows_aligned(const tensor& t, uint64_t a) {
  return (uint64_t)reinterpret_cast<uintptr_t>(t.data) % a == 0 && t.nb[1] % a == 0 && t.nb[2] % a == 0;
}
// Whether an attention node's key and value rows can be read 4 elements at a time (head sizes
// multiples of 4, rows aligned to 4 elements).
bool kv_loads4(const tensor& n) {
  const tensor& q = *n.src[0];
  const tensor& k = *n.src[1];
  const tensor& v = *n.src[2];
  return q.ne[0] % 4 == 0 && v.ne[0] % 4 == 0 && rows_aligned(k, k.type == dtype::f16 ? 8 : 16) && rows_aligned(v, v.type == dtype::f16 ? 8 : 16);
}
// Whether an attention node takes the split-KV kernel (few tokens: their heads alone would leave
// most of the GPU idle), which loads 4 elements at a time.
bool split_attention(const tensor& n) {
  return n.src[0]->ne[2] <= 8 && kv_loads4(n) && rows_aligned(*n.src[0], 16) && rows_aligned(n, 16);
}
// The token-tile shader for a prompt's attention (more tokens than split_attention takes), or
// nullptr: needs head sizes up to 256, kv_loads4 and subgroup quads (HEARTH_VK_ATTN_TILES=0: never,
// for comparisons).
const char* tile_attention(const device_info& info, const tensor& n) {
  static const bool on = env_on("HEARTH_VK_ATTN_TILES");
  if (!on || !info.quad || n.src[0]->ne[2] <= 8 || !kv_loads4(n)) return nullptr;
  const int64_t hd = std::max(n.src[0]->ne[0], n.src[2]->ne[0]);
  return hd <= 128 ? "attention_tiles_128" : hd <= 256 ? "attention_tiles_256" : nullptr;
}
uint32_t attention_chunks(const tensor& n) { return (uint32_t)((n.src[1]->ne[2] + 127) / 128); }
// Bytes of the per-chunk partial results of a split attention.
size_t attention_scratch_bytes(const tensor& n) {
  if (n.op != op::attention || !split_attention(n) || attention_chunks(n) < 2) return 0;
  return (size_t)attention_chunks(n) * (size_t)(n.ne[0] + 2) * (size_t)(n.ne[1] * n.ne[2]) * 4;
}

act_regions act_layout(const tensor& b) {
  const size_t kp = round_up((size_t)b.ne[0], 16);
  const size_t rows = (size_t)(b.ne[1] * b.ne[2] * b.ne[3]);
  act_regions r;
  r.sums = round_up(kp * rows * 4, 256);
  r.i8 = r.sums + round_up(kp / 32 * rows * 4 + 4, 256);
  r.meta = r.i8 + round_up(kp * rows, 256);
  r.total = r.meta + round_up(std::max(kp / 256 * 48, kp / 32 * 4) * rows + 48, 256);
  return r;
}
size_t act_scratch_bytes(const tensor& b) { return act_layout(b).total; }

glu_regions glu_layout(uint32_t n) {
  const size_t kp = round_up(n, 256);
  glu_regions r;
  r.i8 = round_up(kp / 256 * 4, 256);
  r.meta = r.i8 + kp;
  r.total = r.meta + round_up(kp / 256 * 48, 256);
  return r;
}

// Products of one activation column with integer dot products (matvec_dp.comp) for Q4_K, Q6_K, Q4_0,
// Q4_1, Q5_0, Q5_1 and Q8_0, where the device has them; HEARTH_VK_DP=0 keeps the float kernels
// (comparisons).
bool dp_enabled() {
  static const bool on = [] {
    const char* e = std::getenv("HEARTH_VK_DP");
    return !(e && *e == '0');
  }();
  return on;
}

// Whether matvec_dp takes A: its type and the alignment of its loads (16 bytes for Q4_K, 2 for the others).
bool dp_matvec(const tensor& a) {
  uint64_t align = 2;
  switch (a.type) {
    case dtype::q4_k: align = 16; break;
    case dtype::q6_k: case dtype::q4_0: case dtype::q4_1: case dtype::q5_0: case dtype::q5_1: case dtype::q8_0: break;
    default: return false;
  }
  const uint64_t addr = (uint64_t)reinterpret_cast<uintptr_t>(a.data);
  return addr % align == 0 && a.nb[1] % align == 0 && a.nb[2] % align == 0 && a.nb[3] % align == 0;
}

uint64_t id_pairs(const tensor& n) { return (uint64_t)(n.src[2]->ne[0] * n.src[2]->ne[1]); }

// The routing lists of a tiled expert-selected product: a count per expert, then n_pairs slots each.
size_t route_bytes(const tensor& n) {
  const uint64_t pairs = id_pairs(n);
  if (pairs <= k_id_vec_pairs) return 0;
  const uint64_t n_expert = (uint64_t)n.src[0]->ne[2];
  return round_up((size_t)((n_expert + n_expert * pairs) * 4), 256);
}

// Bytes of scratch a node needs (the rounded activations of a product, the routing of experts).
size_t scratch_bytes(const tensor& n) {
  if (n.op == op::mul_mat) return act_scratch_bytes(*n.src[1]);
  if (n.op == op::mul_mat_id) return act_scratch_bytes(*n.src[1]) + route_bytes(n);
  return 0;
}

bool vk_supports(const vk_device& dev, const tensor& n) {
  for (const tensor* s : n.src)
    if (!fits32(s)) return false;
  if (!fits32(&n)) return false;
  switch (n.op) {
    case op::get_rows: return has_kernel(n.src[0]->type) && n.src[0]->nb[0] == type_size(n.src[0]->type);
    case op::set_rows: return n.src[1]->nb[0] == 4;
    case op::mul_mat: {
      const tensor& a = *n.src[0];
      return has_kernel(a.type) && a.nb[0] == type_size(a.type) && n.src[1]->nelements() < (1LL << 31);
    }
    case op::mul_mat_id: {
      const tensor& a = *n.src[0];
      const tensor& ids = *n.src[2];
      // Experts are workgroups along z (at most 65535); the routing lists must stay 32-bit indexable.
      return has_kernel(a.type) && a.nb[0] == type_size(a.type) && n.src[1]->nelements() < (1LL << 31) && a.ne[3] == 1 &&
             a.ne[2] < 65535 && ids.type == dtype::i32 && id_pairs(n) < 65535ULL * 64 &&
             (uint64_t)a.ne[2] * (id_pairs(n) + 1) < (1ULL << 31);
    }
    case op::top_k: return n.src[0]->type == dtype::f32;
    case op::gather: return n.src[0]->type == dtype::f32 && n.src[1]->type == dtype::i32;
    case op::moe_sum: return n.src[0]->type == dtype::f32 && n.src[1]->type == dtype::f32 && n.nelements() < (1LL << 31);
    case op::cpy:
    case op::cont:
    case op::add:
    case op::mul:
    case op::scale:
    case op::silu:
    case op::gelu:
    case op::glu:
    case op::softcap: return n.nelements() < (1LL << 31);
    case op::rms_norm:
    case op::norm:
    case op::softmax: return n.src[0]->nb[0] == 4;
    case op::rope: return n.ne[0] % 2 == 0;
    case op::attention: {
      const tensor& k = *n.src[1];
      const tensor& v = *n.src[2];
      return n.src[0]->ne[0] <= 256 && v.ne[0] <= 256 && (k.type == dtype::f32 || k.type == dtype::f16) &&
             (v.type == dtype::f32 || v.type == dtype::f16) && k.nb[0] == type_size(k.type) && v.nb[0] == type_size(v.type);
    }
    default: return false;
  }
}

}  // namespace hearth::vk
