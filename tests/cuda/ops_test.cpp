// Backend-ops harness: every op the model graphs use, on every weight type, with odd sizes,
// broadcasting, strided views and masks, run on the CUDA/HIP device and on the CPU backend from the
// same random inputs; results must agree to a normalised mean squared error per op.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>

#include "backend/scheduler.h"
#include "core/fp16.h"
#include "core/graph.h"
#include "formats/quants.h"
#include "test_util.h"
#include "gpu_util.h"

namespace hearth::test {
namespace {

// Builds one case's graph with deterministic leaves (same seed => same bytes on every device).
struct builder {
  graph g;
  std::vector<std::pair<tensor*, std::vector<uint8_t>>> leaves;
  std::mt19937 rng{1234};

  std::vector<float> randn(size_t n, float scale) {
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
  }
  tensor* leaf(dtype type, std::initializer_list<int64_t> ne, std::vector<uint8_t> bytes) {
    tensor* t = g.new_tensor(type, ne);
    bytes.resize(t->nbytes());
    leaves.emplace_back(t, std::move(bytes));
    return t;
  }
  // Random values, stored in type t (quantized row by row with the reference quantizer).
  tensor* rand(dtype t, std::initializer_list<int64_t> ne, float scale = 1.0f) {
    int64_t n = 1;
    for (int64_t x : ne) n *= x;
    const int64_t row = *ne.begin();
    const auto v = randn((size_t)n, scale);
    std::vector<uint8_t> bytes(row_bytes(t, row) * (size_t)(n / row));
    for (int64_t r = 0; r < n / row; ++r) ref::quantize_row(t, v.data() + r * row, bytes.data() + r * row_bytes(t, row), row);
    return leaf(t, ne, std::move(bytes));
  }
  tensor* f32(std::initializer_list<int64_t> ne, const std::vector<float>& v) {
    std::vector<uint8_t> b(v.size() * 4);
    std::memcpy(b.data(), v.data(), b.size());
    return leaf(dtype::f32, ne, std::move(b));
  }
  tensor* i32(std::initializer_list<int64_t> ne, const std::vector<int32_t>& v) {
    std::vector<uint8_t> b(v.size() * 4);
    std::memcpy(b.data(), v.data(), b.size());
    return leaf(dtype::i32, ne, std::move(b));
  }
  // Causal-style mask [n_kv, n_tok]: token t sees cells <= t + offset; optionally a fully masked row.
  tensor* mask(int64_t n_kv, int64_t n_tok, int64_t offset, bool one_empty_row = false) {
    std::vector<float> m((size_t)(n_kv * n_tok));
    for (int64_t t = 0; t < n_tok; ++t)
      for (int64_t j = 0; j < n_kv; ++j)
        m[(size_t)(t * n_kv + j)] = (j <= t + offset && !(one_empty_row && t == 1)) ? 0.0f : -std::numeric_limits<float>::infinity();
    return f32({n_kv, n_tok}, m);
  }
};

using build_fn = std::function<tensor*(builder&)>;

// Runs the case on dev (with the CPU for anything dev leaves out) and returns the output as floats.
std::vector<float> run_case(device* dev, const build_fn& f, bool* gpu_ran = nullptr) {
  builder b;
  tensor* out = f(b);
  b.g.mark_output(out);
  buffer_type* bt = dev->default_buffer_type();
  size_t total = 0;
  for (auto& [t, bytes] : b.leaves) total += (t->nbytes() + bt->alignment() - 1) / bt->alignment() * bt->alignment();
  auto buf = bt->allocate(total);
  size_t off = 0;
  for (auto& [t, bytes] : b.leaves) {
    buf->place(*t, off);
    buf->set(*t, bytes.data(), 0, bytes.size());
    off += (t->nbytes() + bt->alignment() - 1) / bt->alignment() * bt->alignment();
  }
  std::vector<device*> devs{dev};
  if (dev->kind() != device_kind::cpu) devs.push_back(registry::instance().cpu());
  scheduler s(devs);
  s.plan(b.g);
  if (gpu_ran) *gpu_ran = s.device_of(out->storage()) == dev;
  s.compute();
  const tensor* st = out;
  std::vector<float> v((size_t)out->nelements());
  if (out->is_contiguous() && type_size(out->type) == 4) {
    s.get(st, v.data(), 0, v.size() * 4);
  } else {
    std::vector<uint8_t> raw(out->nbytes());
    s.get(st, raw.data(), 0, raw.size());
    for (int64_t i = 0; i < out->nelements(); ++i) {
      int64_t r = i, off2 = 0;
      for (int d = 0; d < 4; ++d) {
        off2 += (r % out->ne[d]) * (int64_t)out->nb[d];
        r /= out->ne[d];
      }
      if (out->type == dtype::f16) {
        uint16_t h;
        std::memcpy(&h, raw.data() + off2, 2);
        v[(size_t)i] = f16_to_f32(h);
      } else {
        std::memcpy(&v[(size_t)i], raw.data() + off2, 4);
      }
    }
  }
  if (out->type == dtype::i32)
    for (auto& x : v) { int32_t k; std::memcpy(&k, &x, 4); x = (float)k; }
  return v;
}

double nmse(const std::vector<float>& a, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isinf(ref[i]) && a[i] == ref[i]) continue;
    const double d = (double)a[i] - (double)ref[i];
    num += d * d;
    den += (double)ref[i] * (double)ref[i];
  }
  return den > 0 ? num / den : num;
}

struct op_case {
  std::string name;
  build_fn build;
  double tol;
};

void PrintTo(const op_case& c, std::ostream* os) { *os << c.name; }

class GpuOps : public ::testing::TestWithParam<op_case> {};

TEST_P(GpuOps, MatchesCpu) {
  HEARTH_NEED_GPU(dev);
  const op_case& c = GetParam();
  bool on_gpu = false;
  const auto got = run_case(dev, c.build, &on_gpu);
  EXPECT_TRUE(on_gpu) << "the device did not take the op";
  const auto want = run_case(registry::instance().cpu(), c.build);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_FALSE(std::isnan(got[i]) && !std::isnan(want[i])) << "NaN at " << i;
  EXPECT_LE(nmse(got, want), c.tol) << c.name;
}

const dtype k_weight_types[] = {dtype::f32, dtype::f16, dtype::bf16, dtype::q4_0, dtype::q4_1, dtype::q5_0, dtype::q5_1,
                                dtype::q8_0, dtype::q2_k, dtype::q3_k, dtype::q4_k, dtype::q5_k, dtype::q6_k, dtype::iq4_nl,
                                dtype::iq4_xs};

std::vector<op_case> all_cases() {
  std::vector<op_case> v;
  for (dtype t : k_weight_types) {
    const std::string tn = dtype_name(t);
    v.push_back({"get_rows_" + tn, [t](builder& b) {
                   tensor* table = b.rand(t, {512, 9});
                   return b.g.get_rows(table, b.i32({5}, {3, 0, 8, 3, 7}));
                 }, 1e-12});
    for (int64_t n : {1, 2, 3, 7, 9, 40}) {
      v.push_back({"mul_mat_" + tn + "_n" + std::to_string(n), [t, n](builder& b) {
                     tensor* a = b.rand(t, {512, 67});
                     return b.g.mul_mat(a, b.rand(dtype::f32, {512, n}));
                   }, 1e-9});
    }
    v.push_back({"mul_mat_batched_" + tn, [t](builder& b) {
                   tensor* a = b.rand(t, {256, 19, 2, 1});
                   return b.g.mul_mat(a, b.rand(dtype::f32, {256, 5, 4, 2}));
                 }, 1e-9});
    v.push_back({"mul_mat_tile_batched_" + tn, [t](builder& b) {
                   tensor* a = b.rand(t, {768, 37, 2, 1});
                   return b.g.mul_mat(a, b.rand(dtype::f32, {768, 70, 2, 2}));
                 }, 1e-9});
    v.push_back({"mul_mat_tiles_" + tn, [t](builder& b) {  // several row and column tiles, partial ones too
                   tensor* a = b.rand(t, {1024, 150});
                   return b.g.mul_mat(a, b.rand(dtype::f32, {1024, 300}));
                 }, 1e-9});
    v.push_back({"mul_mat_id_" + tn, [t](builder& b) {
                   tensor* ex = b.rand(t, {256, 33, 4});
                   tensor* ids = b.i32({2, 5}, {0, 3, 2, 1, 3, 3, 1, 0, 2, 2});
                   return b.g.mul_mat_id(ex, b.rand(dtype::f32, {256, 2, 5}), ids);
                 }, 1e-9});
  }
  v.push_back({"mul_mat_id_shared_b", [](builder& b) {
                 tensor* ex = b.rand(dtype::q4_k, {256, 40, 3});
                 tensor* ids = b.i32({2, 3}, {2, 0, 1, 1, 0, 2});
                 return b.g.mul_mat_id(ex, b.rand(dtype::f32, {256, 1, 3}), ids);
               }, 1e-9});
  // Token-generation paths: products of one column sharing their activations (grouped into one
  // launch, split over warps when K is long), and norms / glu that also round the activations
  // for the product after them.
  for (dtype t : {dtype::f32, dtype::f16}) {
    v.push_back({std::string("mul_mat_vec_group_") + dtype_name(t), [t](builder& b) {
                   tensor* x = b.rand(dtype::f32, {1100, 1});
                   tensor* q = b.g.mul_mat(b.rand(t, {1100, 20}), x);
                   tensor* k = b.g.mul_mat(b.rand(t, {1100, 20}), x);
                   return b.g.add(q, k);
                 }, 1e-9});
  }
  for (dtype t : {dtype::q4_0, dtype::q4_1, dtype::q8_0, dtype::q4_k, dtype::q6_k}) {
    const std::string tn = dtype_name(t);
    v.push_back({"mul_mat_vec_group_" + tn, [t](builder& b) {
                   tensor* x = b.rand(dtype::f32, {10240, 1});
                   tensor* q = b.g.mul_mat(b.rand(t, {10240, 40}), x);
                   tensor* qs = b.g.scale(q, 0.5f, 0.0f);
                   tensor* k = b.g.mul_mat(b.rand(t, {10240, 33}), x);
                   tensor* s1 = b.g.add(b.g.view(qs, {33, 1}, {qs->nb[1]}, 7 * 4), k);
                   tensor* vv = b.g.mul_mat(b.rand(t, {10240, 33}), x);
                   return b.g.add(s1, vv);
                 }, 1e-9});
    for (int n : {1, 3}) {
      for (bool with_add : {false, true}) {
        v.push_back({"norm_round_" + tn + (with_add ? "_add" : "") + "_n" + std::to_string(n), [t, n, with_add](builder& b) {
                       tensor* x = b.rand(dtype::f32, {768, n}, 2.0f);
                       if (with_add) x = b.g.add(x, b.rand(dtype::f32, {768, n}));
                       tensor* y = b.g.mul(b.g.rms_norm(x, 1e-5f), b.rand(dtype::f32, {768}));
                       return b.g.mul_mat(b.rand(t, {768, 37}), y);
                     }, 1e-9});
      }
      v.push_back({"glu_round_" + tn + "_n" + std::to_string(n), [t, n](builder& b) {
                     tensor* act = b.g.swiglu(b.rand(dtype::f32, {1024, n}, 2.0f), b.rand(dtype::f32, {1024, n}));
                     return b.g.mul_mat(b.rand(t, {1024, 29}), act);
                   }, 1e-9});
    }
  }
  v.push_back({"geglu_round", [](builder& b) {
                 tensor* act = b.g.geglu(b.rand(dtype::f32, {512, 2}, 2.0f), b.rand(dtype::f32, {512, 2}));
                 return b.g.mul_mat(b.rand(dtype::q8_0, {512, 19}), act);
               }, 1e-9});
  v.push_back({"mul_mat_tile_odd_k", [](builder& b) {  // K not a whole number of tile chunks
                 return b.g.mul_mat(b.rand(dtype::q4_0, {544, 50}), b.rand(dtype::f32, {544, 33}));
               }, 1e-9});
  v.push_back({"mul_mat_strided_b", [](builder& b) {
                 tensor* a = b.rand(dtype::q8_0, {64, 10, 3});
                 tensor* bt = b.rand(dtype::f32, {64, 3, 6});
                 return b.g.mul_mat(a, b.g.permute(bt, 0, 2, 1, 3));
               }, 1e-9});
  v.push_back({"add_broadcast", [](builder& b) { return b.g.add(b.rand(dtype::f32, {70, 7, 3}), b.rand(dtype::f32, {70, 1, 3})); }, 1e-14});
  v.push_back({"mul_broadcast", [](builder& b) { return b.g.mul(b.rand(dtype::f32, {70, 7, 3}), b.rand(dtype::f32, {70, 7, 1})); }, 1e-14});
  v.push_back({"add_strided", [](builder& b) {
                 tensor* a = b.rand(dtype::f32, {7, 70});
                 return b.g.add(b.g.transpose(a), b.rand(dtype::f32, {70, 1}));
               }, 1e-14});
  v.push_back({"scale", [](builder& b) { return b.g.scale(b.rand(dtype::f32, {100, 7}), 0.37f, -1.5f); }, 1e-14});
  v.push_back({"silu", [](builder& b) { return b.g.silu(b.rand(dtype::f32, {100, 7}, 4.0f)); }, 1e-12});
  v.push_back({"gelu", [](builder& b) { return b.g.gelu(b.rand(dtype::f32, {100, 7}, 6.0f)); }, 1e-7});
  v.push_back({"softcap", [](builder& b) { return b.g.softcap(b.rand(dtype::f32, {100, 7}, 40.0f), 30.0f); }, 1e-12});
  for (int kind : {0, 1}) {
    v.push_back({kind ? "geglu_views" : "swiglu_views", [kind](builder& b) {
                   tensor* x = b.rand(dtype::f32, {2 * 96, 5}, 3.0f);
                   tensor* gate = b.g.view(x, {96, 5}, {x->nb[1]}, 0);
                   tensor* up = b.g.view(x, {96, 5}, {x->nb[1]}, 96 * 4);
                   return kind ? b.g.geglu(gate, up) : b.g.swiglu(gate, up);
                 }, 1e-7});
  }
  v.push_back({"rms_norm", [](builder& b) { return b.g.rms_norm(b.rand(dtype::f32, {4096, 3}, 2.0f), 1e-5f); }, 1e-12});
  v.push_back({"rms_norm_odd", [](builder& b) { return b.g.rms_norm(b.rand(dtype::f32, {65, 3, 2}), 1e-6f); }, 1e-12});
  v.push_back({"norm", [](builder& b) { return b.g.norm(b.rand(dtype::f32, {300, 4}, 2.0f), 1e-5f); }, 1e-12});
  v.push_back({"softmax_mask", [](builder& b) {
                 tensor* x = b.rand(dtype::f32, {40, 6, 2}, 3.0f);
                 return b.g.softmax(x, b.mask(40, 6, 30), 0.125f);
               }, 1e-12});
  v.push_back({"softmax_plain", [](builder& b) { return b.g.softmax(b.rand(dtype::f32, {1000, 3}, 3.0f)); }, 1e-12});
  for (int mode : {0, 2}) {
    for (int variant : {0, 1, 2}) {
      v.push_back({"rope_" + std::string(mode ? "neox" : "normal") + std::to_string(variant), [mode, variant](builder& b) {
                     tensor* x = b.rand(dtype::f32, {64, 4, 5});
                     tensor* pos = b.i32({5}, {0, 1, 7, 100, 3000});
                     const rope_params rp = test::test_rope(variant == 2 ? 32 : 64, (rope_mode)mode, variant == 1);
                     tensor* ff = nullptr;
                     if (variant == 2) {
                       std::vector<float> f(16);
                       for (int i = 0; i < 16; ++i) f[(size_t)i] = 1.0f + 0.5f * (float)i;
                       ff = b.f32({16}, f);
                     }
                     return b.g.rope(x, pos, ff, rp);
                   }, 1e-10});
    }
  }
  // A few tokens (token generation's kernel) and a prompt's 40 (the token-tile kernel: a partial
  // tile of tokens, partial and fully masked tiles of cells, a fully masked row).
  for (dtype kv : {dtype::f32, dtype::f16}) {
    for (int hd : {64, 128, 256}) {
      for (float cap : {0.0f, 20.0f}) {
        for (int64_t n_tok : {4, 40}) {
          if (cap > 0 && hd != 128) continue;
          const std::string name = std::string("attention_") + dtype_name(kv) + "_hd" + std::to_string(hd) + (cap > 0 ? "_softcap" : "") +
                                   (n_tok > 4 ? "_prompt" : "");
          v.push_back({name, [kv, hd, cap, n_tok](builder& b) {
                         const int64_t n_kv = n_tok > 4 ? 130 : 70, offset = n_tok > 4 ? 20 : 60;
                         tensor* q = b.rand(dtype::f32, {hd, 8, n_tok});
                         tensor* k = b.rand(kv, {hd, 2, n_kv});
                         tensor* vv = b.rand(kv, {hd, 2, n_kv});
                         return b.g.attention(q, k, vv, b.mask(n_kv, n_tok, offset, true), 1.0f / std::sqrt((float)hd), cap);
                       }, 1e-10});
        }
      }
    }
  }
  v.push_back({"attention_f16_hd_v64_prompt", [](builder& b) {  // keys and values of other sizes
                 const int64_t n_kv = 50, n_tok = 33;
                 tensor* q = b.rand(dtype::f32, {96, 4, n_tok});
                 tensor* k = b.rand(dtype::f16, {96, 4, n_kv});
                 tensor* vv = b.rand(dtype::f16, {64, 4, n_kv});
                 return b.g.attention(q, k, vv, b.mask(n_kv, n_tok, 10), 0.1f);
               }, 1e-10});
  for (dtype st : {dtype::f32, dtype::f16}) {
    v.push_back({std::string("set_rows_") + dtype_name(st), [st](builder& b) {
                   tensor* store = b.rand(st, {48, 10});
                   return b.g.set_rows(store, b.rand(dtype::f32, {48, 3}), b.i32({3}, {7, 2, 9}));
                 }, 1e-12});
    v.push_back({std::string("cpy_to_") + dtype_name(st), [st](builder& b) {
                   tensor* dst = b.rand(st, {32, 6, 2});
                   tensor* view = b.g.view(dst, {32, 3}, {dst->nb[1] * 2}, dst->nb[2]);
                   return b.g.cpy(b.rand(dtype::f32, {96}), view);
                 }, 1e-12});
  }
  v.push_back({"rope_pair", [](builder& b) {  // queries and keys of one layer: one launch
                 tensor* pos = b.i32({3}, {5, 6, 700});
                 rope_params rp{};
                 rp.n_rot = 64;
                 rp.n_ctx_orig = 4096;
                 rp.freq_base = 10000.0f;
                 rp.freq_scale = 1.0f;
                 rp.attn_factor = 1.0f;
                 tensor* q = b.g.rope(b.rand(dtype::f32, {64, 4, 3}), pos, nullptr, rp);
                 tensor* k = b.g.rope(b.rand(dtype::f32, {64, 2, 3}), pos, nullptr, rp);
                 return b.g.add(b.g.view(q, {64, 2, 3}, {q->nb[1], q->nb[2]}, 2 * q->nb[1]), k);
               }, 1e-10});
  v.push_back({"set_rows_pair", [](builder& b) {  // keys and values of one layer: one launch
                 tensor* ids = b.i32({3}, {7, 2, 9});
                 tensor* ks = b.g.set_rows(b.rand(dtype::f32, {48, 10}), b.rand(dtype::f32, {48, 3}), ids);
                 tensor* vs = b.g.set_rows(b.rand(dtype::f32, {48, 10}), b.rand(dtype::f32, {48, 3}), ids);
                 return b.g.add(ks, vs);
               }, 1e-12});
  // A layer's ropes, KV cache writes, attention and output product as the model graph orders them:
  // the ropes also store the keys and values (one launch), and for one token the attention also
  // rounds its output for the product (heads sharing a q8_K block: hd 64 and 128; whole blocks:
  // q8_0 / q8_1). q_computed: the queries come from a node whose last reader is their rope (as the
  // product in a model), so the keys' rope result may take their memory and the two ropes cannot
  // run together: the keys' rope stores alone.
  for (dtype wt : {dtype::q4_0, dtype::q4_1, dtype::q4_k, dtype::q6_k}) {
    for (bool q_computed : {false, true}) {
      for (int64_t hd : {64, 128}) {
        for (int64_t n : {1, 3}) {
          const std::string name = std::string("rope_store_attention_") + dtype_name(wt) + "_hd" + std::to_string(hd) + "_n" + std::to_string(n) +
                                   (q_computed ? "_qc" : "");
          v.push_back({name, [wt, hd, n, q_computed](builder& b) {
                         const int64_t n_head = 8, n_head_kv = 2, n_kv = 40;
                         const dtype kvt = hd == 128 ? dtype::f16 : dtype::f32;
                         tensor* pos = b.i32({n}, n == 1 ? std::vector<int32_t>{17} : std::vector<int32_t>{5, 6, 30});
                         tensor* ids = b.i32({n}, n == 1 ? std::vector<int32_t>{17} : std::vector<int32_t>{5, 6, 30});
                         const rope_params rp = test::test_rope((int)hd, wt == dtype::q4_1 ? rope_mode::neox : rope_mode::normal, false);
                         tensor* qx = b.rand(dtype::f32, {hd, n_head, n});
                         if (q_computed) qx = b.g.scale(qx, 1.0f, 0.0f);
                         tensor* q = b.g.rope(qx, pos, nullptr, rp);
                         tensor* k = b.g.rope(b.rand(dtype::f32, {hd, n_head_kv, n}), pos, nullptr, rp);
                         tensor* kc = b.rand(kvt, {hd * n_head_kv, n_kv});
                         tensor* vc = b.rand(kvt, {hd * n_head_kv, n_kv});
                         tensor* ks = b.g.set_rows(kc, b.g.reshape(k, {hd * n_head_kv, n}), ids);
                         tensor* vs = b.g.set_rows(vc, b.rand(dtype::f32, {hd * n_head_kv, n}), ids);
                         const size_t e = type_size(kvt);
                         tensor* kv_ = b.g.view(ks, {hd, n_head_kv, n_kv}, {(size_t)hd * e, kc->nb[1]}, 0);
                         tensor* vv_ = b.g.view(vs, {hd, n_head_kv, n_kv}, {(size_t)hd * e, vc->nb[1]}, 0);
                         tensor* att = b.g.attention(q, kv_, vv_, b.mask(n_kv, n, 30), 1.0f / std::sqrt((float)hd));
                         return b.g.mul_mat(b.rand(wt, {hd * n_head, 37}), b.g.reshape(att, {hd * n_head, n}));
                       }, 1e-9});
        }
      }
    }
  }
  // One token's q/k/v products as the model graph orders them (products first, then the ropes and
  // the cache stores): the products rope their own results and store keys and values into the
  // cache in their launch (normal-mode ropes with frequency factors or yarn, values of another
  // weight type in a launch of their own, an odd cell id past the cache: nothing stored). The
  // fallbacks: neox ropes, and keys whose unroped result has a second reader.
  for (dtype wt : {dtype::q4_k, dtype::q4_0}) {
    for (const char* variant : {"", "_v6k", "_yarn", "_neox", "_kread", "_nocell"}) {
      for (int64_t hd : {64, 128}) {
        const std::string name = std::string("qkv_rope_store_") + dtype_name(wt) + "_hd" + std::to_string(hd) + variant;
        v.push_back({name, [wt, hd, variant](builder& b) {
                       const std::string var = variant;
                       const int64_t n_head = 8, n_head_kv = 2, n_kv = 40, K = 512;
                       const dtype kvt = hd == 128 ? dtype::f16 : dtype::f32;
                       const int32_t cell = var == "_nocell" ? 45 : 17;
                       tensor* pos = b.i32({1}, {17});
                       tensor* ids = b.i32({1}, {cell});
                       rope_params rp = test::test_rope((int)hd, var == "_neox" ? rope_mode::neox : rope_mode::normal, var == "_yarn");
                       if (hd == 128) rp.n_rot = 96;  // a tail of each head passes through
                       std::vector<float> ff((size_t)rp.n_rot / 2);
                       for (size_t i = 0; i < ff.size(); ++i) ff[i] = 1.0f + 0.25f * (float)(i % 5);
                       tensor* factors = var == "" ? b.f32({(int64_t)ff.size()}, ff) : nullptr;
                       tensor* x = b.g.scale(b.rand(dtype::f32, {K, 1}), 1.0f, 0.0f);
                       tensor* qp = b.g.mul_mat(b.rand(wt, {K, hd * n_head}), x);
                       tensor* kp = b.g.mul_mat(b.rand(wt, {K, hd * n_head_kv}), x);
                       tensor* vp = b.g.mul_mat(b.rand(var == "_v6k" ? dtype::q6_k : wt, {K, hd * n_head_kv}), x);
                       b.g.expand(qp);
                       b.g.expand(kp);
                       b.g.expand(vp);
                       tensor* q = b.g.rope(b.g.reshape(qp, {hd, n_head, 1}), pos, factors, rp);
                       tensor* k = b.g.rope(b.g.reshape(kp, {hd, n_head_kv, 1}), pos, factors, rp);
                       tensor* kc = b.rand(kvt, {hd * n_head_kv, n_kv});
                       tensor* vc = b.rand(kvt, {hd * n_head_kv, n_kv});
                       tensor* ks = b.g.set_rows(kc, b.g.reshape(k, {hd * n_head_kv, 1}), ids);
                       tensor* vs = b.g.set_rows(vc, vp, ids);
                       const size_t e = type_size(kvt);
                       tensor* kv_ = b.g.view(ks, {hd, n_head_kv, n_kv}, {(size_t)hd * e, kc->nb[1]}, 0);
                       tensor* vv_ = b.g.view(vs, {hd, n_head_kv, n_kv}, {(size_t)hd * e, vc->nb[1]}, 0);
                       tensor* att = b.g.attention(q, kv_, vv_, b.mask(n_kv, 1, 17), 1.0f / std::sqrt((float)hd));
                       tensor* out = b.g.mul_mat(b.rand(dtype::q8_0, {hd * n_head, 37}), b.g.reshape(att, {hd * n_head, 1}));
                       if (var == "_kread") out = b.g.add(out, b.g.view(kp, {37, 1}, {kp->nb[1]}, 0));
                       return out;
                     }, 1e-9});
      }
    }
  }
  // One token's gate and up products (one launch), their glu rounded for the down product (q8_K,
  // q8_0, q8_1 with sums), as the model graph orders them; swiglu and geglu; the up result with a
  // second reader; a down product of another activation format than gate and up.
  for (const auto& [wt, dt] : {std::pair<dtype, dtype>{dtype::q4_k, dtype::q6_k}, {dtype::q4_k, dtype::q4_k}, {dtype::q4_0, dtype::q4_0},
                               {dtype::q4_1, dtype::q4_1}, {dtype::q6_k, dtype::q8_0}}) {
    for (const char* variant : {"", "_gelu", "_upread"}) {
      const std::string name = std::string("gate_up_glu_") + dtype_name(wt) + "_" + dtype_name(dt) + variant;
      const dtype w_t = wt, d_t = dt;
      v.push_back({name, [w_t, d_t, variant](builder& b) {
                     const std::string var = variant;
                     const int64_t K = 512, F = 768;
                     tensor* x = b.g.scale(b.rand(dtype::f32, {K, 1}), 1.0f, 0.0f);
                     tensor* gate = b.g.mul_mat(b.rand(w_t, {K, F}), x);
                     tensor* up = b.g.mul_mat(b.rand(w_t, {K, F}), x);
                     b.g.expand(gate);
                     b.g.expand(up);
                     tensor* act = var == "_gelu" ? b.g.geglu(gate, up) : b.g.swiglu(gate, up);
                     tensor* out = b.g.mul_mat(b.rand(d_t, {F, 40}), act);
                     if (var == "_upread") out = b.g.add(out, b.g.view(up, {40, 1}, {up->nb[1]}, 0));
                     return out;
                   }, 1e-9});
    }
  }
  // One token's lone product, then add (the residual) -> rms_norm -> mul, rounded for the next
  // product (q8_K, q8_0, q8_1 with sums), as the attention output's and the feed-forward's products
  // end a layer: the product's last block runs them (rows long enough for the product's 128 threads,
  // results of 1,024 and 2,048: 8 and 16 values per thread); the sum read again later (the next
  // residual), the norm read by another node, the residual as the add's first operand. (The
  // K-quant weights, 8,192 wide, take a few cases only: their reference rounding is slow.)
  for (const auto& [wt, nt] : {std::pair<dtype, dtype>{dtype::q4_k, dtype::q4_k}, {dtype::q6_k, dtype::q4_0}, {dtype::q4_0, dtype::q4_1},
                               {dtype::q4_0, dtype::q6_k}}) {
    const bool kq = block_size(wt) == 256;
    const int64_t K = kq ? 8192 : 4096;
    for (int64_t N : {1024, 2048}) {
      for (const char* variant : {"", "_normread", "_resfirst"}) {
        if (kq && (N != 1024) == (std::string(variant) != "_resfirst")) continue;
        const std::string name = std::string("product_norm_") + dtype_name(wt) + "_" + dtype_name(nt) + "_" + std::to_string(N) + variant;
        const dtype w_t = wt, n_t = nt;
        v.push_back({name, [w_t, n_t, K, N, variant](builder& b) {
                       const std::string var = variant;
                       tensor* x = b.g.scale(b.rand(dtype::f32, {K, 1}), 1.0f, 0.0f);
                       tensor* o = b.g.mul_mat(b.rand(w_t, {K, N}), x);
                       tensor* resid = b.rand(dtype::f32, {N, 1}, 3.0f);
                       tensor* sum = var == "_resfirst" ? b.g.add(resid, o) : b.g.add(o, resid);
                       tensor* normed = b.g.rms_norm(sum, 1e-5f);
                       tensor* y = b.g.mul(normed, b.rand(dtype::f32, {N}));
                       tensor* out = b.g.mul_mat(b.rand(n_t, {N, 40}), y);
                       out = b.g.add(out, b.g.view(sum, {40, 1}, {sum->nb[1]}, 8 * 4));
                       if (var == "_normread") out = b.g.add(out, b.g.view(normed, {40, 1}, {normed->nb[1]}, 0));
                       return out;
                     }, 1e-9});
      }
    }
  }
  // A few tokens over a long cache (split into chunks, then merged): a chunk masked for every token,
  // a fully masked row, the last cells masked; then the same followed by a product that the merge
  // rounds its output for (heads sharing a q8_K block, one head per block, q8_0).
  const auto long_mask = [](builder& b, int64_t n_kv, int64_t n) {
    std::vector<float> m((size_t)(n_kv * n));
    for (int64_t t = 0; t < n; ++t)
      for (int64_t j = 0; j < n_kv; ++j)
        m[(size_t)(t * n_kv + j)] = (j < n_kv - 60 + t && !(j >= 300 && j < 700) && !(n > 1 && t == 1)) ? 0.0f : -std::numeric_limits<float>::infinity();
    return b.f32({n_kv, n}, m);
  };
  for (dtype kv : {dtype::f32, dtype::f16}) {
    for (int64_t hd : {64, 128}) {
      for (int64_t n : {1, 4}) {
        v.push_back({std::string("attention_long_") + dtype_name(kv) + "_hd" + std::to_string(hd) + "_n" + std::to_string(n),
                     [kv, hd, n, long_mask](builder& b) {
                       const int64_t n_kv = 1500;
                       tensor* q = b.rand(dtype::f32, {hd, 8, n});
                       tensor* k = b.rand(kv, {hd, 2, n_kv});
                       tensor* vv = b.rand(kv, {hd, 2, n_kv});
                       return b.g.attention(q, k, vv, long_mask(b, n_kv, n), 1.0f / std::sqrt((float)hd));
                     }, 1e-10});
      }
    }
  }
  // 1024 cells over 8 heads: the chunks are halved to 128 cells so that the blocks fill the GPU.
  v.push_back({"attention_long_f16_hd128_n1_kv1024", [long_mask](builder& b) {
                 const int64_t n_kv = 1024;
                 tensor* q = b.rand(dtype::f32, {128, 8, 1});
                 tensor* k = b.rand(dtype::f16, {128, 2, n_kv});
                 tensor* vv = b.rand(dtype::f16, {128, 2, n_kv});
                 return b.g.attention(q, k, vv, long_mask(b, n_kv, 1), 1.0f / std::sqrt(128.0f));
               }, 1e-10});
  for (const auto& shape : {std::pair<dtype, int64_t>{dtype::q4_k, 64}, {dtype::q4_k, 256}, {dtype::q4_0, 128}}) {
    const dtype wt = shape.first;
    const int64_t hd = shape.second;
    v.push_back({std::string("attention_long_round_") + dtype_name(wt) + "_hd" + std::to_string(hd), [wt, hd, long_mask](builder& b) {
                   const int64_t n_kv = 1100, n_head = 8;
                   tensor* q = b.rand(dtype::f32, {hd, n_head, 1});
                   tensor* k = b.rand(dtype::f16, {hd, 2, n_kv});
                   tensor* vv = b.rand(dtype::f16, {hd, 2, n_kv});
                   tensor* att = b.g.attention(q, k, vv, long_mask(b, n_kv, 1), 1.0f / std::sqrt((float)hd));
                   return b.g.mul_mat(b.rand(wt, {hd * n_head, 37}), b.g.reshape(att, {hd * n_head, 1}));
                 }, 1e-9});
  }
  v.push_back({"cont_permuted", [](builder& b) { return b.g.cont(b.g.permute(b.rand(dtype::f32, {9, 5, 4}), 2, 0, 1, 3)); }, 1e-14});
  v.push_back({"top_k", [](builder& b) {
                 std::vector<float> x(16 * 5);
                 for (size_t i = 0; i < x.size(); ++i) x[i] = (float)((i * 7) % 11) * 0.5f;  // ties
                 return b.g.top_k(b.f32({16, 5}, x), 4);
               }, 0.0});
  v.push_back({"gather_norm", [](builder& b) {
                 tensor* p = b.g.softmax(b.rand(dtype::f32, {8, 5}));
                 return b.g.gather(p, b.i32({2, 5}, {0, 7, 3, 3, 1, 2, 6, 5, 4, 0}), true);
               }, 1e-12});
  v.push_back({"moe_sum", [](builder& b) { return b.g.moe_sum(b.rand(dtype::f32, {100, 3, 4}), b.rand(dtype::f32, {3, 4})); }, 1e-12});
  return v;
}

std::string case_name(const ::testing::TestParamInfo<op_case>& info) {
  std::string n = info.param.name;
  for (char& ch : n)
    if (!std::isalnum((unsigned char)ch)) ch = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Cuda, GpuOps, ::testing::ValuesIn(all_cases()), case_name);

}  // namespace
}  // namespace hearth::test
