// The graph IR every backend executes: tensors (type, shape, strides, where the bytes live) and the
// closed set of ops a model graph may use. This file is the contract between the model layer and the
// backends: each op's exact semantics is written next to it, and every backend must compute exactly
// that (the CPU backend is the reference the others are tested against).
//
// Conventions (as in GGUF): ne[0] is the innermost, contiguous dimension; a "row" is the ne[0]
// elements at fixed (i1, i2, i3); nb[i] is the byte stride of dimension i. A weight matrix with `in`
// inputs and `out` outputs has ne = [in, out].
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace hearth {

class buffer;  // defined by the backend layer; core only carries the pointer

constexpr int max_dims = 4;
constexpr int max_srcs = 4;
constexpr int max_params = 16;

enum class op : uint8_t {
  none,        // a leaf: weight, input, or KV-cache storage
  view,        // a view of src view_src at view_offs with its own ne/nb (reshape, permute, slices)
  // --- data movement ---------------------------------------------------------------------------
  get_rows,    // src0 table [n, r] any type, src1 ids I32 [m] -> F32 [n, m]: row ids[i] of src0, dequantized
  set_rows,    // src0 dst [n, r] (F32/F16 storage), src1 values F32 [n, m], src2 ids I32 [m]:
               //   writes values row i into dst row ids[i] (converting type); the result is a view of dst
  cpy,         // src0 F32 [any], src1 destination view (F32/F16) of the same element count; writes
               //   src0 into src1 in row-major element order; the result is a view of src1
  cont,        // src0 any strided F32 -> contiguous F32 copy of the same shape
  // --- matrix products ---------------------------------------------------------------------------
  mul_mat,     // src0 A [K, M, a2, a3] any type, src1 B F32 [K, N, b2, b3] (b2 % a2 == 0, b3 % a3 == 0)
               //   -> F32 [M, N, b2, b3]; out[m, n, i2, i3] = dot(A row (m, i2 / (b2/a2), i3 / (b3/a3)), B row (n, i2, i3)).
               //   Before the product, B is rounded to vec_dot_type(A's type) (per-block int8 for
               //   quantized A, f16/bf16 for f16/bf16 A), exactly as the reference does.
  mul_mat_id,  // src0 experts [K, M, n_expert], src1 B F32 [K, nb, N] (nb == 1 or n_used),
               //   src2 ids I32 [n_used, N] -> F32 [M, n_used, N];
               //   out[:, e, t] = experts[ids[e, t]] x B[:, e % nb, t] (same rounding as mul_mat)
  // --- element-wise ------------------------------------------------------------------------------
  add,         // src0 a F32 [n0..n3], src1 b F32 broadcast (a.ne[i] % b.ne[i] == 0) -> a + b, F32 shape of a
  mul,         // as add, a * b
  scale,       // src0 a -> a * p.f(0) + p.f(1)
  silu,        // x * sigmoid(x)
  gelu,        // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); the CPU rounds x to f16 and looks
               //   the result up in an f16 table, as the reference does
  glu,         // src0 gate, src1 up (same shape, may be strided views) -> act(gate) * up, contiguous F32;
               //   p.i(0): 0 = silu (SwiGLU), 1 = gelu (GeGLU, same rounding as gelu)
  softcap,     // c * tanh(x / c), c = p.f(0)
  // --- normalisation -----------------------------------------------------------------------------
  rms_norm,    // per row: x / sqrt(mean(x^2) + eps), eps = p.f(0)
  norm,        // per row: (x - mean) / sqrt(var + eps), eps = p.f(0)
  softmax,     // per row of src0 [n, m, ...]: softmax(x * p.f(0) + mask) with optional src1 mask F32
               //   [n, >= m] (row i of src0 uses mask row i); -inf entries give exact zeros
  // --- attention ---------------------------------------------------------------------------------
  rope,        // src0 x F32 [head_dim, n_head, N] (rows contiguous, dims 1-2 may be strided),
               //   src1 pos I32 [N], optional src2 freq_factors F32 [n_rot/2] -> contiguous F32 x with
               //   the first n_rot dims of each head rotated. Params: rope_params (below)
  attention,   // src0 q F32 [hd, n_head, N], src1 k [hd, n_kv_head, n_kv] (F32/F16, a view of the
               //   cache), src2 v [hd_v, n_kv_head, n_kv] (same), src3 mask F32 [n_kv, >= N] (0 or
               //   -inf; row t for query t) -> F32 [hd_v, n_head, N].
               //   s = scale * q.k (p.f(0)); if p.f(1) > 0: s = p.f(1) * tanh(s / p.f(1)); s += mask;
               //   out = softmax(s) . v. Query head h reads KV head h / (n_head / n_kv_head).
  // --- mixture of experts ------------------------------------------------------------------------
  top_k,       // src0 F32 [n, m] -> I32 [k, m]: per row the indices of the k largest values,
               //   largest first, ties toward the lower index; k = p.i(0)
  gather,      // src0 F32 [n, m], src1 ids I32 [k, m] -> F32 [k, m]: out[j, t] = src0[ids[j, t], t];
               //   if p.i(0) != 0 each output row is divided by its sum
  moe_sum,     // src0 F32 [M, k, N], src1 weights F32 [k, N] -> F32 [M, N]: sum_j w[j, t] * x[:, j, t]
  count_       // number of ops (not an op)
};

const char* op_name(op o);

enum class rope_mode : int32_t { normal = 0, neox = 2 };

// Parameters of op::rope, stored in tensor::p. The angle of pair i at position p is
// p * freq_scale * freq_base^(-2i/n_rot) / freq_factor[i], with YaRN ramp when ext_factor != 0.
struct rope_params {
  int32_t n_rot;
  rope_mode mode;
  int32_t n_ctx_orig;
  float freq_base, freq_scale, ext_factor, attn_factor, beta_fast, beta_slow;
};

enum tensor_flags : uint32_t {
  tf_input = 1u << 0,   // filled by the host before each compute (token ids, positions, masks)
  tf_output = 1u << 1,  // read back by the host after compute (logits)
  tf_weight = 1u << 2,  // model parameter: lives where the loader put it
};

// Op parameters: 16 32-bit slots, each read as int32 or float.
struct op_params {
  int32_t raw[max_params] = {};
  int32_t i(int k) const { return raw[k]; }
  float f(int k) const { float v; std::memcpy(&v, &raw[k], 4); return v; }
  void set_i(int k, int32_t v) { raw[k] = v; }
  void set_f(int k, float v) { std::memcpy(&raw[k], &v, 4); }
};

struct tensor {
  dtype type = dtype::f32;
  int64_t ne[max_dims] = {1, 1, 1, 1};
  size_t nb[max_dims] = {0, 0, 0, 0};
  hearth::op op = op::none;
  op_params p;
  tensor* src[max_srcs] = {};
  tensor* view_src = nullptr;  // for op::view (and set_rows/cpy results): the tensor whose bytes this is
  size_t view_offs = 0;
  buffer* buf = nullptr;       // where the bytes live (set by the loader or the graph allocator)
  void* data = nullptr;        // address inside buf (buffers of device memory hand out opaque addresses)
  uint32_t flags = 0;
  std::string name;

  int64_t nelements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t nrows() const { return ne[1] * ne[2] * ne[3]; }
  size_t row_size() const { return row_bytes(type, ne[0]); }
  // Bytes spanned from the first to one past the last element.
  size_t nbytes() const;
  bool is_contiguous() const;
  bool rows_contiguous() const { return nb[0] == type_size(type) || block_size(type) > 1; }
  bool is_view() const { return view_src != nullptr; }
  // The tensor that owns the bytes (follows view chains).
  const tensor* storage() const { const tensor* t = this; while (t->view_src) t = t->view_src; return t; }
  tensor* storage() { tensor* t = this; while (t->view_src) t = t->view_src; return t; }
  std::string shape_str() const;
};

// Strides of a contiguous tensor of this type and shape.
void set_contiguous_strides(tensor& t);
bool same_shape(const tensor& a, const tensor& b);

}  // namespace hearth
