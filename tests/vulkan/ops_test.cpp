// The backend-ops harness: every op the Vulkan backend claims, for every tensor type it claims, on
// odd shapes, broadcasts and strided views, runs on the Vulkan device and on the CPU backend (the
// reference) from the same inputs; outputs must agree within a per-op normalised squared error.
#include <gtest/gtest.h>
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>

#include "backend/scheduler.h"
#include "core/error.h"
#include "core/fp16.h"
#include "core/graph.h"
#include "formats/quants.h"
#include "test_util.h"
#include "vk_test_util.h"

namespace hearth::test {
namespace {

// Builds one test graph; every leaf gets deterministic data so two builds are identical.
class case_builder {
 public:
  explicit case_builder(uint32_t seed) : rng_(seed) {}
  graph g;
  struct leaf {
    tensor* t;
    std::vector<uint8_t> bytes;
  };
  std::vector<leaf> leaves;

  tensor* input(dtype type, std::initializer_list<int64_t> ne, float lo = -1.0f, float hi = 1.0f) {
    tensor* t = g.new_tensor(type, ne);
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> x((size_t)t->nelements());
    for (float& v : x) v = u(rng_);
    return with_floats(t, x);
  }
  tensor* values(std::initializer_list<int64_t> ne, const std::vector<float>& x, dtype type = dtype::f32) {
    return with_floats(g.new_tensor(type, ne), x);
  }
  // An attention mask [n_kv, n_tok]: -inf where hidden(t, j), 0 elsewhere.
  template <typename F> tensor* mask(int64_t n_kv, int64_t n_tok, F hidden) {
    std::vector<float> m((size_t)(n_kv * n_tok), 0.0f);
    for (int64_t t = 0; t < n_tok; ++t)
      for (int64_t j = 0; j < n_kv; ++j)
        if (hidden(t, j)) m[(size_t)(t * n_kv + j)] = -std::numeric_limits<float>::infinity();
    return values({n_kv, n_tok}, m);
  }
  tensor* ints(std::initializer_list<int64_t> ne, const std::vector<int32_t>& v) {
    tensor* t = g.new_tensor(dtype::i32, ne);
    std::vector<uint8_t> b(v.size() * 4);
    std::memcpy(b.data(), v.data(), b.size());
    leaves.push_back({t, std::move(b)});
    return t;
  }
  int32_t rand_int(int32_t lo, int32_t hi) { return std::uniform_int_distribution<int32_t>(lo, hi)(rng_); }

 private:
  tensor* with_floats(tensor* t, const std::vector<float>& x) {
    std::vector<uint8_t> b(t->nbytes());
    const int64_t n0 = t->ne[0];
    for (int64_t r = 0; r < t->nrows(); ++r)
      ref::quantize_row(t->type, x.data() + r * n0, b.data() + r * t->row_size(), n0);
    leaves.push_back({t, std::move(b)});
    return t;
  }
  std::mt19937 rng_;
};

using build_fn = std::function<tensor*(case_builder&)>;

struct run_result {
  std::vector<float> out;
  bool all_on_device = true;
};

run_result run_case(const build_fn& build, device* dev, uint32_t seed) {
  case_builder b(seed);
  tensor* out = build(b);
  b.g.mark_output(out);
  buffer_type* bt = dev->default_buffer_type();
  const size_t align = bt->alignment();
  size_t total = 0;
  std::vector<size_t> offs;
  for (auto& l : b.leaves) {
    total = (total + align - 1) / align * align;
    offs.push_back(total);
    total += l.t->nbytes();
  }
  auto buf = bt->allocate(std::max<size_t>(total, 1));
  for (size_t i = 0; i < b.leaves.size(); ++i) {
    buf->place(*b.leaves[i].t, offs[i]);
    buf->set(*b.leaves[i].t, b.leaves[i].bytes.data(), 0, b.leaves[i].bytes.size());
  }
  std::vector<device*> devs{dev};
  if (dev->kind() != device_kind::cpu) devs.push_back(registry::instance().cpu());
  scheduler s(devs);
  s.plan(b.g);
  run_result r;
  for (auto& sp : s.splits()) r.all_on_device &= sp.dev == dev;
  s.compute();
  const tensor* st = out->storage();
  std::vector<uint8_t> raw(st->nbytes());
  s.get(st, raw.data(), 0, raw.size());
  r.out.resize((size_t)st->nelements());
  if (st->type == dtype::f32) std::memcpy(r.out.data(), raw.data(), r.out.size() * 4);
  else if (st->type == dtype::f16)
    for (size_t i = 0; i < r.out.size(); ++i) r.out[i] = f16_to_f32(reinterpret_cast<uint16_t*>(raw.data())[i]);
  else for (size_t i = 0; i < r.out.size(); ++i) r.out[i] = (float)reinterpret_cast<int32_t*>(raw.data())[i];
  return r;
}

struct op_case {
  std::string name;
  build_fn build;
  double tol;  // normalised mean squared error
};

double nmse(const std::vector<float>& a, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = (double)a[i] - (double)ref[i];
    if (std::isinf(ref[i]) && a[i] == ref[i]) continue;
    num += d * d;
    den += (double)ref[i] * ref[i];
  }
  return den > 0 ? num / den : num;
}

const dtype k_types[] = {dtype::f32,  dtype::f16,  dtype::bf16, dtype::q4_0, dtype::q4_1, dtype::q5_0,   dtype::q5_1,  dtype::q8_0,
                         dtype::q2_k, dtype::q3_k, dtype::q4_k, dtype::q5_k, dtype::q6_k, dtype::iq4_nl, dtype::iq4_xs};

// The rope settings the cases use: variant 0 plain, 1 with frequency factors, 2 YaRN on part of
// the head (n_rot 32, context scaled 4x).
rope_params rope_variant(int variant, rope_mode mode) { return test::test_rope(variant == 2 ? 32 : 64, mode, variant == 2); }

std::vector<op_case> all_cases() {
  std::vector<op_case> cs;
  // --- products: matrix x vector and matrix x matrix kernels, every type ----------------------------
  for (dtype t : k_types) {
    const int64_t K = block_size(t) > 32 ? 512 : 96;
    for (int64_t N : {1, 2, 5, 8, 9, 33, 70}) {
      cs.push_back({fmt::format("mul_mat_{}_n{}", dtype_name(t), N), [=](case_builder& b) {
                      return b.g.mul_mat(b.input(t, {K, 37}), b.input(dtype::f32, {K, N}));
                    }, 1e-10});
    }
    // Large tiles (prompt processing): M and N beyond one 128 tile, ragged edges.
    cs.push_back({fmt::format("mul_mat_{}_big_tiles", dtype_name(t)), [=](case_builder& b) {
                    return b.g.mul_mat(b.input(t, {K, 130}), b.input(dtype::f32, {K, 131}));
                  }, 1e-10});
    if (block_size(t) == 1)  // K not a whole number of the large tiles' steps (the last one partly past K)
      cs.push_back({fmt::format("mul_mat_{}_big_tiles_odd_k", dtype_name(t)), [=](case_builder& b) {
                      return b.g.mul_mat(b.input(t, {75, 130}), b.input(dtype::f32, {75, 131}));
                    }, 1e-10});
    // Long rows: the matrix x vector loops take several passes over K.
    cs.push_back({fmt::format("mul_mat_{}_long_k_n1", dtype_name(t)), [=](case_builder& b) {
                    return b.g.mul_mat(b.input(t, {5120, 19}), b.input(dtype::f32, {5120, 1}));
                  }, 1e-10});
    cs.push_back({fmt::format("get_rows_{}", dtype_name(t)), [=](case_builder& b) {
                    tensor* table = b.input(t, {block_size(t) > 32 ? 256 : 64, 11});
                    return b.g.get_rows(table, b.ints({6}, {3, 0, 10, 3, 7, 1}));
                  }, 0});
  }
  // The integer dot product kernel (matvec_dp) of each type it takes: fewer rows than a workgroup's
  // 4 and an odd count, K one block past the 128 threads' stride (65 blocks of 32 for the 2-thread
  // types, 17 super-blocks), broadcast batches.
  for (dtype t : {dtype::q4_0, dtype::q4_1, dtype::q5_0, dtype::q5_1, dtype::q8_0, dtype::q4_k, dtype::q6_k}) {
    const int64_t K = block_size(t) > 32 ? 17 * 256 : 65 * 32;
    for (int64_t M : {1, 6})
      cs.push_back({fmt::format("mul_mat_{}_dp_m{}_n1", dtype_name(t), M), [=](case_builder& b) {
                      return b.g.mul_mat(b.input(t, {K, M}), b.input(dtype::f32, {K, 1}, -3, 3));
                    }, 1e-10});
    const int64_t Kb = block_size(t) > 32 ? 256 : 64;
    cs.push_back({fmt::format("mul_mat_{}_dp_batched_n1", dtype_name(t)), [=](case_builder& b) {
                    return b.g.mul_mat(b.input(t, {Kb, 7, 2, 3}), b.input(dtype::f32, {Kb, 1, 4, 3}));
                  }, 1e-10});
  }
  // Odd K for the float types, broadcast batches, a transposed (strided) B.
  for (dtype t : {dtype::f32, dtype::f16, dtype::bf16}) {
    for (int64_t N : {3, 20})
      cs.push_back({fmt::format("mul_mat_{}_oddk_n{}", dtype_name(t), N), [=](case_builder& b) {
                      return b.g.mul_mat(b.input(t, {75, 13}), b.input(dtype::f32, {75, N}));
                    }, 1e-10});
    for (int64_t N : {5, 20})
      cs.push_back({fmt::format("mul_mat_{}_batched_n{}", dtype_name(t), N), [=](case_builder& b) {
                      return b.g.mul_mat(b.input(t, {64, 7, 2, 3}), b.input(dtype::f32, {64, N, 4, 3}));
                    }, 1e-10});
  }
  for (int64_t N : {4, 40})
    cs.push_back({fmt::format("mul_mat_q8_0_strided_b_n{}", N), [=](case_builder& b) {
                    tensor* bt = b.input(dtype::f32, {64, 2 * N});
                    return b.g.mul_mat(b.input(dtype::q8_0, {64, 19}), b.g.view(bt, {64, N}, {2 * bt->nb[1]}, bt->nb[1]));
                  }, 1e-10});
  // norm -> mul fused with the q8_K rounding of the products that read it (one row and several;
  // the fusion is opt-in, see NormRoundingForProducts).
  for (int64_t N : {1, 3})
    for (bool add : {false, true})
      cs.push_back({fmt::format("mul_mat_q4_k_after_{}rms_norm_n{}", add ? "add_" : "", N), [=](case_builder& b) {
                      tensor* x = b.input(dtype::f32, {768, N}, -3, 3);
                      if (add) x = b.g.add(x, b.input(dtype::f32, {768, N}));
                      tensor* h = b.g.mul(b.g.rms_norm(x, 1e-5f), b.input(dtype::f32, {768}, 0.5, 1.5));
                      tensor* q = b.g.mul_mat(b.input(dtype::q4_k, {768, 21}), h);
                      tensor* v = b.g.mul_mat(b.input(dtype::q6_k, {768, 9}), h);
                      return b.g.add(b.g.view(q, {9, N}, {q->nb[1]}, 0), v);
                    }, 1e-10});
  // (add ->) norm -> mul by a weight row -> products of it: one rounding dispatch with a norm
  // prologue (HEARTH_VK_NORM_ROUND), for q8_K, q8_0 / q8_1 and f16 roundings, rms_norm and norm, one
  // row and several; the products' sum keeps the mul's result alive (stored) or not (only rounded).
  for (dtype t : {dtype::q4_k, dtype::q4_0, dtype::q5_1, dtype::f16})
    for (int kind : {0, 1, 2})
      for (int64_t N : {1, 2}) {
        const std::string nm = kind == 0 ? "rms_norm" : kind == 1 ? "add_rms_norm" : "add_norm";
        cs.push_back({fmt::format("mul_mat_{}_norm_round_{}_n{}", dtype_name(t), nm, N), [=](case_builder& b) {
                        tensor* x = b.input(dtype::f32, {512, N}, -3, 3);
                        if (kind > 0) x = b.g.add(x, b.input(dtype::f32, {512, N}));
                        tensor* nx = kind == 2 ? b.g.norm(x, 1e-5f) : b.g.rms_norm(x, 1e-6f);
                        tensor* h = b.g.mul(nx, b.input(dtype::f32, {512}, 0.5, 1.5));
                        tensor* q = b.g.mul_mat(b.input(t, {512, 13}), h);
                        tensor* r = b.g.mul_mat(b.input(t, {512, 13}), h);
                        tensor* o = b.g.add(q, r);
                        return kind == 1 ? b.g.add(o, b.g.view(x, {13, N}, {x->nb[1]}, 0)) : o;
                      }, 1e-10});
      }
  // One-token products whose result a rope (normal mode) reads and / or a set_rows stores into a
  // cache: the integer dot product kernel ropes and stores it itself (HEARTH_VK_ROPE_PRODUCT).
  for (dtype t : {dtype::q4_k, dtype::q6_k, dtype::q4_0})
    for (int variant : {0, 1, 2})
      for (int store : {0, 1, 2}) {  // none, f16 cache, f32 cache
        cs.push_back({fmt::format("mul_mat_{}_rope_{}_store{}", dtype_name(t), variant == 0 ? "plain" : variant == 1 ? "freq_factors" : "yarn_partial", store),
                      [=](case_builder& b) {
                        const int64_t hd = 64, n_head = 6, K = 512;
                        const rope_params rp = rope_variant(variant, rope_mode::normal);
                        tensor* qp = b.g.mul_mat(b.input(t, {K, hd * n_head}), b.input(dtype::f32, {K, 1}, -2, 2));
                        tensor* ff = variant == 1 ? b.input(dtype::f32, {32}, 1, 8) : nullptr;
                        tensor* r = b.g.rope(b.g.reshape(qp, {hd, n_head, 1}), b.ints({1}, {variant == 2 ? 3000 : 250}), ff, rp);
                        if (store == 0) return r;
                        tensor* cache = b.input(store == 1 ? dtype::f16 : dtype::f32, {hd * n_head, 9});
                        return b.g.set_rows(cache, b.g.reshape(r, {hd * n_head, 1}), b.ints({1}, {5}));
                      }, store == 1 ? 1e-8 : 1e-10});  // f16: a last-bit difference may flip an f16 rounding
      }
  // K past one work item per thread (4352: 17 super-blocks, 136 blocks of 32): the roping products
  // that issue the loads of two items together (matvec_dp_rs_*_b2), with a thread's last item alone.
  for (dtype t : {dtype::q4_k, dtype::q6_k, dtype::q4_0})
    cs.push_back({fmt::format("mul_mat_{}_rope_long_k_store", dtype_name(t)), [=](case_builder& b) {
                    const int64_t hd = 64, n_head = 2, K = 17 * 256;
                    const rope_params rp = rope_variant(0, rope_mode::normal);
                    tensor* qp = b.g.mul_mat(b.input(t, {K, hd * n_head}), b.input(dtype::f32, {K, 1}, -2, 2));
                    tensor* r = b.g.rope(b.g.reshape(qp, {hd, n_head, 1}), b.ints({1}, {250}), nullptr, rp);
                    tensor* cache = b.input(dtype::f32, {hd * n_head, 9});
                    return b.g.set_rows(cache, b.g.reshape(r, {hd * n_head, 1}), b.ints({1}, {5}));
                  }, 1e-10});
  for (dtype kv : {dtype::f16, dtype::f32})
    cs.push_back({fmt::format("mul_mat_q6_K_store_{}", dtype_name(kv)), [=](case_builder& b) {
                    tensor* vp = b.g.mul_mat(b.input(dtype::q6_k, {512, 96}), b.input(dtype::f32, {512, 1}, -2, 2));
                    tensor* cache = b.input(kv, {96, 7});
                    return b.g.set_rows(cache, b.g.reshape(vp, {96, 1}), b.ints({1}, {2}));
                  }, kv == dtype::f16 ? 1e-8 : 1e-10});
  // One token through gate, up, swiglu, down: with HEARTH_VK_GLU_ROUND=1 gate and up are one dispatch
  // that also computes and rounds the swiglu for down (see GateUpRoundTheirSwiglu).
  for (dtype t : {dtype::q4_k, dtype::q6_k})
    for (int64_t n_ff : {256, 768})
      cs.push_back({fmt::format("mul_mat_{}_gate_up_swiglu_down_ff{}", dtype_name(t), n_ff), [=](case_builder& b) {
                      tensor* x = b.input(dtype::f32, {512, 1}, -2, 2);
                      tensor* g = b.g.mul_mat(b.input(t, {512, n_ff}), x);
                      tensor* u = b.g.mul_mat(b.input(t, {512, n_ff}), x);
                      return b.g.mul_mat(b.input(t == dtype::q4_k ? dtype::q6_k : dtype::q4_k, {n_ff, 40}), b.g.swiglu(g, u));
                    }, 1e-10});
  // The same with K past one work item per thread (matvec_dp_glu_*_b2 with HEARTH_VK_GLU_ROUND=1).
  for (dtype t : {dtype::q4_k, dtype::q6_k})
    cs.push_back({fmt::format("mul_mat_{}_gate_up_swiglu_down_long_k", dtype_name(t)), [=](case_builder& b) {
                    tensor* x = b.input(dtype::f32, {17 * 256, 1}, -2, 2);
                    tensor* g = b.g.mul_mat(b.input(t, {17 * 256, 256}), x);
                    tensor* u = b.g.mul_mat(b.input(t, {17 * 256, 256}), x);
                    return b.g.mul_mat(b.input(dtype::q4_k, {256, 40}), b.g.swiglu(g, u));
                  }, 1e-10});
  // swiglu fused into the activation rounding of the product that reads it (a q8_K and a q8_0 type).
  for (dtype t : {dtype::q4_k, dtype::q4_0, dtype::f16})
    for (int64_t N : {1, 3})
      cs.push_back({fmt::format("mul_mat_{}_swiglu_n{}", dtype_name(t), N), [=](case_builder& b) {
                      tensor* x = b.input(dtype::f32, {1024, N}, -4, 4);
                      tensor* g = b.g.swiglu(b.g.view(x, {512, N}, {x->nb[1]}, 0), b.g.view(x, {512, N}, {x->nb[1]}, 512 * 4));
                      return b.g.mul_mat(b.input(t, {512, 21}), g);
                    }, 1e-10});
  // One token's attention (GQA) and the product of its output row, whose activations the attention
  // rounds itself (HEARTH_VK_ATTN_ROUND, see AttentionRoundsForTheProduct): blocks of 256 spanning
  // heads (q8_K: Q4_K, Q6_K), blocks of 32 within them (q8_0: Q4_0, q8_1: Q4_1); a cache of one
  // chunk (the result written by the one pass) and of several (by the combination), a masked key.
  struct attn_product { dtype t; int64_t hd, n_head; };
  for (const attn_product& ap : {attn_product{dtype::q4_k, 128, 4}, {dtype::q6_k, 64, 8}, {dtype::q4_0, 64, 3}, {dtype::q4_1, 128, 2}})
    for (int64_t n_kv : {100, 300})
      cs.push_back({fmt::format("mul_mat_{}_after_attention_hd{}_kv{}", dtype_name(ap.t), ap.hd, n_kv), [=](case_builder& b) {
                      const int64_t hd = ap.hd, n_head = ap.n_head, n_kv_head = n_head % 2 == 0 ? n_head / 2 : n_head;
                      tensor* q = b.input(dtype::f32, {hd, n_head, 1});
                      tensor* k = b.input(dtype::f16, {hd, n_kv_head, n_kv});
                      tensor* v = b.input(dtype::f16, {hd, n_kv_head, n_kv}, -3, 3);
                      tensor* m = b.mask(n_kv, 1, [](int64_t, int64_t j) { return j % 11 == 5; });
                      tensor* o = b.g.attention(q, k, v, m, 1.0f / std::sqrt((float)hd), 0.0f);
                      return b.g.mul_mat(b.input(ap.t, {hd * n_head, 40}), b.g.reshape(o, {hd * n_head, 1}));
                    }, 1e-10});
  // --- element-wise ------------------------------------------------------------------------------
  cs.push_back({"add_broadcast", [](case_builder& b) { return b.g.add(b.input(dtype::f32, {33, 4, 3}), b.input(dtype::f32, {33, 1, 3})); }, 0});
  cs.push_back({"mul_broadcast_row", [](case_builder& b) { return b.g.mul(b.input(dtype::f32, {33, 5}), b.input(dtype::f32, {33})); }, 0});
  cs.push_back({"add_strided", [](case_builder& b) {
                   tensor* a = b.input(dtype::f32, {8, 6, 2});
                   return b.g.add(b.g.permute(a, 1, 0, 2, 3), b.input(dtype::f32, {6, 8, 2}));
                 }, 0});
  cs.push_back({"scale", [](case_builder& b) { return b.g.scale(b.input(dtype::f32, {77, 3}), 0.37f, -0.5f); }, 0});
  cs.push_back({"silu", [](case_builder& b) { return b.g.silu(b.input(dtype::f32, {300, 2}, -8, 8)); }, 1e-12});
  cs.push_back({"gelu", [](case_builder& b) { return b.g.gelu(b.input(dtype::f32, {300, 2}, -12, 12)); }, 0});
  cs.push_back({"softcap", [](case_builder& b) { return b.g.softcap(b.input(dtype::f32, {100, 3}, -90, 90), 30.0f); }, 1e-12});
  for (int kind : {0, 1})
    cs.push_back({kind ? "geglu_views" : "swiglu_views", [=](case_builder& b) {
                     tensor* x = b.input(dtype::f32, {40, 5}, -6, 6);
                     tensor* gate = b.g.view(x, {20, 5}, {x->nb[1]}, 0);
                     tensor* up = b.g.view(x, {20, 5}, {x->nb[1]}, 20 * 4);
                     return kind ? b.g.geglu(gate, up) : b.g.swiglu(gate, up);
                   }, 1e-12});
  cs.push_back({"cont_permuted", [](case_builder& b) { return b.g.cont(b.g.permute(b.input(dtype::f32, {5, 7, 3}), 2, 0, 1, 3)); }, 0});
  for (dtype t : {dtype::f32, dtype::f16})
    cs.push_back({fmt::format("cpy_into_view_{}", dtype_name(t)), [=](case_builder& b) {
                    tensor* dst = b.input(t, {16, 10});
                    tensor* v = b.g.view(dst, {8, 3}, {dst->nb[1]}, 2 * dst->nb[1] + 4 * type_size(t));
                    return b.g.cpy(b.input(dtype::f32, {8, 3}), v);
                  }, 0});
  for (dtype t : {dtype::f32, dtype::f16})
    cs.push_back({fmt::format("set_rows_{}", dtype_name(t)), [=](case_builder& b) {
                    tensor* dst = b.input(t, {24, 9});
                    return b.g.set_rows(dst, b.input(dtype::f32, {24, 3}), b.ints({3}, {7, 2, 5}));
                  }, 0});
  // --- normalisation -----------------------------------------------------------------------------
  cs.push_back({"rms_norm", [](case_builder& b) { return b.g.rms_norm(b.input(dtype::f32, {1000, 3}), 1e-5f); }, 1e-12});
  cs.push_back({"norm", [](case_builder& b) { return b.g.norm(b.input(dtype::f32, {513, 2, 2}, 1, 3), 1e-6f); }, 1e-12});
  cs.push_back({"softmax_mask", [](case_builder& b) {
                   std::vector<float> m(40 * 4, 0.0f);
                   for (int r = 0; r < 4; ++r)
                     for (int i = 30 + r; i < 40; ++i) m[r * 40 + i] = -std::numeric_limits<float>::infinity();
                   return b.g.softmax(b.input(dtype::f32, {40, 4, 2}, -5, 5), b.values({40, 4}, m), 0.7f);
                 }, 1e-12});
  // Chains the backend fuses into one dispatch: norm -> mul by a weight row, add -> norm -> mul.
  cs.push_back({"rms_norm_mul_fused", [](case_builder& b) {
                   return b.g.mul(b.g.rms_norm(b.input(dtype::f32, {1000, 3}), 1e-5f), b.input(dtype::f32, {1000}));
                 }, 1e-12});
  cs.push_back({"rms_norm_add_mul_fused", [](case_builder& b) {
                   tensor* s = b.g.add(b.input(dtype::f32, {700, 2}), b.input(dtype::f32, {700, 2}));
                   return b.g.mul(b.g.rms_norm(s, 1e-6f), b.input(dtype::f32, {700}));
                 }, 1e-12});
  cs.push_back({"norm_add_mul_fused", [](case_builder& b) {
                   tensor* s = b.g.add(b.input(dtype::f32, {300}, 1, 3), b.input(dtype::f32, {300}));
                   return b.g.mul(b.g.norm(s, 1e-5f), b.input(dtype::f32, {300}));
                 }, 1e-12});
  cs.push_back({"rms_norm_add_only_fused", [](case_builder& b) {
                   return b.g.rms_norm(b.g.add(b.input(dtype::f32, {256, 4}), b.input(dtype::f32, {256, 4})), 1e-5f);
                 }, 1e-12});
  cs.push_back({"rms_norm_add_mul_one_row_fused", [](case_builder& b) {  // generation: one row
                   tensor* s = b.g.add(b.input(dtype::f32, {4096}), b.input(dtype::f32, {4096}));
                   return b.g.mul(b.g.rms_norm(s, 1e-5f), b.input(dtype::f32, {4096}));
                 }, 1e-12});
  cs.push_back({"softmax_plain", [](case_builder& b) { return b.g.softmax(b.input(dtype::f32, {700, 3}, -20, 20)); }, 1e-12});
  // --- rope ----------------------------------------------------------------------------------------
  for (int mode : {0, 2})
    for (int variant : {0, 1, 2}) {
      cs.push_back({fmt::format("rope_{}_{}", mode ? "neox" : "normal", variant == 0 ? "plain" : variant == 1 ? "freq_factors" : "yarn_partial"),
                    [=](case_builder& b) {
                      const rope_params rp = rope_variant(variant, (rope_mode)mode);
                      tensor* x = b.input(dtype::f32, {64, 3, 5});
                      tensor* pos = b.ints({5}, {0, 1, 17, 250, 4000});
                      tensor* ff = variant == 1 ? b.input(dtype::f32, {32}, 1, 8) : nullptr;
                      return b.g.rope(x, pos, ff, rp);
                    }, 1e-11});
    }
  // --- attention -------------------------------------------------------------------------------------
  for (dtype kv : {dtype::f32, dtype::f16})
    for (int64_t hd : {64, 256})
      for (int64_t n_tok : {1, 7, 12}) {  // split over the cache for few tokens, one pass for many
        cs.push_back({fmt::format("attention_{}_hd{}_t{}", dtype_name(kv), hd, n_tok), [=](case_builder& b) {
                        const int64_t n_head = 4, n_kv_head = 2, n_kv = 300, cells = 320;
                        tensor* q = b.input(dtype::f32, {hd, n_head, n_tok});
                        tensor* kc = b.input(kv, {hd * n_kv_head, cells});
                        tensor* vc = b.input(kv, {hd * n_kv_head, cells});
                        const size_t es = type_size(kv);
                        tensor* k = b.g.view(kc, {hd, n_kv_head, n_kv}, {(size_t)hd * es, kc->nb[1]}, 0);
                        tensor* v = b.g.view(vc, {hd, n_kv_head, n_kv}, {(size_t)hd * es, vc->nb[1]}, 0);
                        // (with several tokens, the first row fully masked)
                        tensor* m = b.mask(n_kv, n_tok, [&](int64_t t, int64_t j) { return j > n_kv - n_tok + t || j % 7 == 3 || (n_tok > 1 && t == 0); });
                        return b.g.attention(q, k, v, m, 1.0f / std::sqrt((float)hd), hd == 256 ? 50.0f : 0.0f);
                      }, 1e-10});
      }
  // --- mixture of experts ----------------------------------------------------------------------------
  // Expert-selected products, every type: a few pairs (one product per pair) and many (routed per
  // expert and tiled, more than one tile of pairs per expert), shared activations (nb = 1, as gate
  // and up) and one activation row per slot (nb = n_used, as down), odd sizes.
  struct id_shape { const char* name; int64_t M, n_expert, n_used, n_tok; bool per_slot; };
  const id_shape id_shapes[] = {{"t1", 37, 6, 3, 1, false},     {"t3_per_slot", 37, 6, 4, 3, true},
                                {"t13", 37, 5, 3, 13, false},   {"t29_per_slot", 70, 7, 2, 29, true},
                                {"tiles", 130, 2, 2, 70, false}};
  for (dtype t : k_types)
    for (const id_shape& sh : id_shapes) {
      if (sh.M == 130 && t != dtype::q4_k && t != dtype::f16 && t != dtype::q4_1) continue;  // big tiles: a few types
      cs.push_back({fmt::format("moe_mul_mat_id_{}_{}", dtype_name(t), sh.name), [=](case_builder& b) {
                      const int64_t K = block_size(t) > 32 ? 512 : 96;
                      tensor* experts = b.input(t, {K, sh.M, sh.n_expert});
                      tensor* act = b.input(dtype::f32, {K, sh.per_slot ? sh.n_used : 1, sh.n_tok});
                      std::vector<int32_t> ids((size_t)(sh.n_used * sh.n_tok));
                      for (auto& id : ids) id = b.rand_int(0, (int32_t)sh.n_expert - 1);
                      return b.g.mul_mat_id(experts, act, b.ints({sh.n_used, sh.n_tok}, ids));
                    }, 1e-10});
    }
  // Ids outside the experts give zeros (both paths), odd K for a float type.
  for (int64_t n_tok : {2, 40})
    cs.push_back({fmt::format("moe_mul_mat_id_f32_bad_ids_t{}", n_tok), [=](case_builder& b) {
                    tensor* experts = b.input(dtype::f32, {75, 19, 4});
                    std::vector<int32_t> ids((size_t)(2 * n_tok));
                    for (size_t i = 0; i < ids.size(); ++i) ids[i] = i % 5 == 1 ? -1 : i % 7 == 3 ? 4 : b.rand_int(0, 3);
                    return b.g.mul_mat_id(experts, b.input(dtype::f32, {75, 2, n_tok}), b.ints({2, n_tok}, ids));
                  }, 1e-10});
  for (int64_t n : {1, 7, 60, 300})
    for (int64_t k : {1, 4, 8}) {
      if (k > n) continue;
      cs.push_back({fmt::format("moe_top_k_n{}_k{}", n, k), [=](case_builder& b) {
                      return b.g.top_k(b.input(dtype::f32, {n, 9}, -3, 3), (int)k);
                    }, 0});
    }
  // Ties go to the lower index; -0 equals +0; a full sort; rows strided in memory.
  cs.push_back({"moe_top_k_ties", [](case_builder& b) {
                  std::vector<float> x(40 * 5);
                  for (size_t i = 0; i < x.size(); ++i) x[i] = (float)b.rand_int(-2, 2) * 0.5f;
                  x[3] = -0.0f;
                  return b.g.top_k(b.values({40, 5}, x), 12);
                }, 0});
  cs.push_back({"moe_top_k_full_sort", [](case_builder& b) { return b.g.top_k(b.input(dtype::f32, {33, 4}), 33); }, 0});
  cs.push_back({"moe_top_k_strided_rows", [](case_builder& b) {
                  tensor* x = b.input(dtype::f32, {64, 10});
                  return b.g.top_k(b.g.view(x, {50, 5}, {2 * x->nb[1]}, x->nb[1] + 8), 6);
                }, 0});
  for (int norm : {0, 1})
    for (int64_t m : {1, 9, 130})
      cs.push_back({fmt::format("moe_gather_{}_m{}", norm ? "norm" : "plain", m), [=](case_builder& b) {
                      const int64_t n = 16, k = 4;
                      tensor* x = b.input(dtype::f32, {n, m}, 0, 1);
                      std::vector<int32_t> ids((size_t)(k * m));
                      for (size_t i = 0; i < ids.size(); ++i) ids[i] = i % 11 == 5 ? 16 : b.rand_int(0, (int32_t)n - 1);
                      return b.g.gather(x, b.ints({k, m}, ids), norm != 0);
                    }, 0});
  for (int64_t k : {1, 3, 8})
    cs.push_back({fmt::format("moe_sum_k{}", k), [=](case_builder& b) {
                    return b.g.moe_sum(b.input(dtype::f32, {45, k, 7}), b.input(dtype::f32, {k, 7}, 0, 1));
                  }, 1e-14});
  // A whole expert block as the model builds it: router, top-k, weights, gate/up/down, weighted sum.
  for (int64_t n_tok : {1, 5, 40})
    for (dtype t : {dtype::f32, dtype::q4_k})
      cs.push_back({fmt::format("moe_block_{}_t{}", dtype_name(t), n_tok), [=](case_builder& b) {
                      const int64_t n_embd = 256, n_ff = 256, n_expert = 8, k = 3;
                      tensor* x = b.input(dtype::f32, {n_embd, n_tok});
                      tensor* probs = b.g.softmax(b.g.mul_mat(b.input(dtype::f32, {n_embd, n_expert}), x));
                      tensor* ids = b.g.top_k(probs, (int)k);
                      tensor* w = b.g.gather(probs, ids, true);
                      tensor* xb = b.g.reshape(x, {n_embd, 1, n_tok});
                      tensor* gate = b.g.mul_mat_id(b.input(t, {n_embd, n_ff, n_expert}), xb, ids);
                      tensor* up = b.g.mul_mat_id(b.input(t, {n_embd, n_ff, n_expert}), xb, ids);
                      tensor* down = b.g.mul_mat_id(b.input(t, {n_ff, n_embd, n_expert}), b.g.swiglu(gate, up), ids);
                      return b.g.moe_sum(down, w);
                    }, 1e-9});
  // A long cache in many chunks, one of them fully masked, head size 80 (threads left over).
  for (dtype kv : {dtype::f32, dtype::f16})
    cs.push_back({fmt::format("attention_{}_long_hd80", dtype_name(kv)), [=](case_builder& b) {
                    const int64_t hd = 80, n_head = 6, n_kv_head = 2, n_kv = 700, n_tok = 2;
                    tensor* q = b.input(dtype::f32, {hd, n_head, n_tok});
                    tensor* k = b.input(kv, {hd, n_kv_head, n_kv});
                    tensor* v = b.input(kv, {hd, n_kv_head, n_kv});
                    tensor* m = b.mask(n_kv, n_tok, [&](int64_t t, int64_t j) { return (j >= 128 && j < 256) || j > n_kv - n_tok + t; });
                    return b.g.attention(q, k, v, m, 0.1f, 0.0f);
                  }, 1e-10});
  // Prompts (the token-tile shader): a partial tile of tokens, causal masks that leave the last
  // cell tiles masked for every token, a fully masked row; keys and values of different sizes.
  for (dtype kv : {dtype::f32, dtype::f16})
    for (const auto& sizes : {std::pair<int64_t, int64_t>{128, 128}, {80, 64}, {256, 256}})
      cs.push_back({fmt::format("attention_{}_prompt_hd{}_{}", dtype_name(kv), sizes.first, sizes.second), [=](case_builder& b) {
                      const int64_t hd = sizes.first, hd_v = sizes.second;
                      const int64_t n_head = 4, n_kv_head = 2, n_kv = 130, n_tok = 40;
                      tensor* q = b.input(dtype::f32, {hd, n_head, n_tok});
                      tensor* k = b.input(kv, {hd, n_kv_head, n_kv});
                      tensor* v = b.input(kv, {hd_v, n_kv_head, n_kv});
                      tensor* m = b.mask(n_kv, n_tok, [](int64_t t, int64_t j) { return j > t + 20 || t == 1; });
                      return b.g.attention(q, k, v, m, 1.0f / std::sqrt((float)hd), hd == 256 ? 50.0f : 0.0f);
                    }, 1e-10});
  return cs;
}

// Cases run in a few groups (one process each under CTest: device start-up and shader compilation
// on lavapipe cost more than the cases themselves).
void run_group(device* dev, const std::vector<std::string>& prefixes) {
  int n = 0;
  for (const op_case& c : all_cases()) {
    bool in = false;
    for (const auto& p : prefixes) in |= c.name.rfind(p, 0) == 0;
    if (!in) continue;
    ++n;
    SCOPED_TRACE(c.name);
    const run_result want = run_case(c.build, registry::instance().cpu(), 1234);
    const run_result got = run_case(c.build, dev, 1234);
    EXPECT_TRUE(got.all_on_device) << "the Vulkan device did not take every node";
    ASSERT_EQ(got.out.size(), want.out.size());
    bool nan = false;
    for (size_t i = 0; i < got.out.size(); ++i) nan |= std::isnan(got.out[i]) && !std::isnan(want.out[i]);
    EXPECT_FALSE(nan) << "NaN where the CPU has a number";
    const double e = nmse(got.out, want.out);
    EXPECT_LE(e, c.tol);
  }
  EXPECT_GT(n, 0);
}

TEST(VulkanOps, MatrixProducts) { HEARTH_REQUIRE_VULKAN(dev); run_group(dev, {"mul_mat"}); }
// The norm that also rounds its product to q8_K is opt-in (slower on the H200): run its cases with it.
TEST(VulkanOps, NormRoundingForProducts) {
  HEARTH_REQUIRE_VULKAN(dev);
  setenv("HEARTH_VK_FUSE_Q8K", "1", 1);
  run_group(dev, {"mul_mat_q4_k_after_"});
  unsetenv("HEARTH_VK_FUSE_Q8K");
}
// The same chains with the norm as its own dispatch before the rounding (HEARTH_VK_NORM_ROUND=0).
TEST(VulkanOps, NormThenRounding) {
  HEARTH_REQUIRE_VULKAN(dev);
  setenv("HEARTH_VK_NORM_ROUND", "0", 1);
  run_group(dev, {"mul_mat_q4_k_after_", "mul_mat_q4_k_norm_round_", "mul_mat_q4_0_norm_round_"});
  unsetenv("HEARTH_VK_NORM_ROUND");
}
// The same products with the rope and the cache store as their own dispatches (HEARTH_VK_ROPE_PRODUCT=0).
TEST(VulkanOps, ProductsThenRope) {
  HEARTH_REQUIRE_VULKAN(dev);
  setenv("HEARTH_VK_ROPE_PRODUCT", "0", 1);
  run_group(dev, {"mul_mat_q4_K_rope_", "mul_mat_q6_K_rope_", "mul_mat_q4_0_rope_", "mul_mat_q6_K_store_"});
  unsetenv("HEARTH_VK_ROPE_PRODUCT");
}
// Gate and up in one dispatch whose last workgroup per block rounds the swiglu (opt-in).
TEST(VulkanOps, GateUpRoundTheirSwiglu) {
  HEARTH_REQUIRE_VULKAN(dev);
  setenv("HEARTH_VK_GLU_ROUND", "1", 1);
  run_group(dev, {"mul_mat_q4_K_gate_up_", "mul_mat_q6_K_gate_up_", "mul_mat_q4_K_swiglu", "mul_mat_q4_0_swiglu"});
  unsetenv("HEARTH_VK_GLU_ROUND");
}
// The attention that rounds its output for the product after it (default) against the rounding
// dispatch between them (HEARTH_VK_ATTN_ROUND=0): the attention's floats are the same in both, so
// the rounding, and with it the product, must be too, bit for bit. The per-kernel profile, printed
// when the stream ends, shows which path each run took.
TEST(VulkanOps, AttentionRoundsForTheProduct) {
  HEARTH_REQUIRE_VULKAN(dev);
  setenv("HEARTH_VK_PROFILE", "1", 1);
  const auto run_logged = [&](const op_case& c, std::string& log) {
    testing::internal::CaptureStderr();
    run_result r = run_case(c.build, dev, 99);
    log = testing::internal::GetCapturedStderr();
    return r;
  };
  int n = 0;
  for (const op_case& c : all_cases()) {
    if (c.name.find("_after_attention_") == std::string::npos) continue;
    ++n;
    SCOPED_TRACE(c.name);
    std::string fused_log, apart_log;
    const run_result fused = run_logged(c, fused_log);
    setenv("HEARTH_VK_ATTN_ROUND", "0", 1);
    const run_result apart = run_logged(c, apart_log);
    unsetenv("HEARTH_VK_ATTN_ROUND");
    EXPECT_NE(fused_log.find("attention_split_round"), std::string::npos) << fused_log;
    EXPECT_EQ(fused_log.find("quant_b"), std::string::npos) << fused_log;
    EXPECT_EQ(apart_log.find("attention_split_round"), std::string::npos) << apart_log;
    EXPECT_NE(apart_log.find("quant_b"), std::string::npos) << apart_log;
    EXPECT_TRUE(fused.all_on_device && apart.all_on_device);
    EXPECT_EQ(fused.out, apart.out);
  }
  unsetenv("HEARTH_VK_PROFILE");
  EXPECT_EQ(n, 8);
}
TEST(VulkanOps, GetRows) { HEARTH_REQUIRE_VULKAN(dev); run_group(dev, {"get_rows"}); }
TEST(VulkanOps, ElementWise) {
  HEARTH_REQUIRE_VULKAN(dev);
  run_group(dev, {"add", "mul_broadcast", "scale", "silu", "gelu", "softcap", "swiglu", "geglu", "cont", "cpy", "set_rows"});
}
TEST(VulkanOps, Normalisation) { HEARTH_REQUIRE_VULKAN(dev); run_group(dev, {"rms_norm", "norm", "softmax"}); }
TEST(VulkanOps, Rope) { HEARTH_REQUIRE_VULKAN(dev); run_group(dev, {"rope"}); }
TEST(VulkanOps, Attention) { HEARTH_REQUIRE_VULKAN(dev); run_group(dev, {"attention"}); }
TEST(VulkanOps, ExpertProducts) { HEARTH_REQUIRE_VULKAN(dev); run_group(dev, {"moe_mul_mat_id"}); }
TEST(VulkanOps, ExpertRouting) { HEARTH_REQUIRE_VULKAN(dev); run_group(dev, {"moe_top_k", "moe_gather", "moe_sum", "moe_block"}); }

// Without the CPU among its devices the scheduler refuses; with it, an op the device lacks falls
// back to the CPU and the result is still right.
TEST(VulkanDevice, ReportsItself) {
  HEARTH_REQUIRE_VULKAN(dev);
  const device_props p = dev->props();
  EXPECT_EQ(p.api, "vulkan");
  EXPECT_FALSE(p.driver.empty());
  EXPECT_GT(p.max_alloc_bytes, 0u);
  EXPECT_GT(dev->memory().total_bytes, 0u);
  EXPECT_EQ(dev->name().rfind("vulkan:", 0), 0u);
}

TEST(VulkanDevice, BufferRoundTripAndClear) {
  HEARTH_REQUIRE_VULKAN(dev);
  auto buf = dev->default_buffer_type()->allocate(1 << 20);
  tensor t;
  t.type = dtype::f32;
  t.ne[0] = 1000;
  set_contiguous_strides(t);
  buf->place(t, 4096);
  std::vector<float> x(1000), y(1000, -1.0f);
  for (int i = 0; i < 1000; ++i) x[i] = (float)i * 0.5f;
  buf->set(t, x.data(), 0, x.size() * 4);
  buf->get(t, y.data(), 0, y.size() * 4);
  EXPECT_EQ(x, y);
  buf->clear(0);
  buf->get(t, y.data(), 0, y.size() * 4);
  for (float v : y) ASSERT_EQ(v, 0.0f);
  EXPECT_THROW(buf->set(t, x.data(), (1 << 20) - 4096, 8), hearth::error);
}

TEST(VulkanDevice, UnsupportedOpFallsBackToCpu) {
  HEARTH_REQUIRE_VULKAN(dev);
  // Rope rotating heads of an odd size: the shader handles even head sizes only.
  const build_fn build = [](case_builder& b) {
    rope_params rp{};
    rp.n_rot = 32;
    rp.n_ctx_orig = 4096;
    rp.freq_base = 10000.0f;
    rp.freq_scale = 1.0f;
    rp.attn_factor = 1.0f;
    tensor* x = b.g.scale(b.input(dtype::f32, {33, 2, 3}), 2.0f);
    return b.g.rope(x, b.ints({3}, {0, 5, 9}), nullptr, rp);
  };
  const run_result want = run_case(build, registry::instance().cpu(), 7);
  const run_result got = run_case(build, dev, 7);
  EXPECT_FALSE(got.all_on_device);
  EXPECT_EQ(got.out, want.out);
}

}  // namespace
}  // namespace hearth::test
