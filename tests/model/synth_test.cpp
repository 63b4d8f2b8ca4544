// The synthetic model writer: llama-quantize's type mix (checked against files llama-quantize wrote),
// deterministic output whatever the thread count, and models that load, tokenize and decode.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "backends/init.h"
#include "model/context.h"
#include "model/loader.h"
#include "model/synth.h"
#include "test_util.h"
#include "tokenizer/vocab.h"

namespace hearth {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("hearth-synth-test-" + std::to_string(::getpid()) + "-" + name)).string();
}

std::vector<char> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Every Q4_K_M reference file was written by llama-quantize: our mix must give each tensor its type.
TEST(Synth, TypeMixMatchesLlamaQuantize) {
  const synth::file_type* ft = synth::find_file_type("Q4_K_M");
  ASSERT_NE(ft, nullptr);
  int n_files = 0;
  for (const char* arch : {"llama", "qwen2", "qwen3", "qwen3moe", "gemma2", "gemma3", "phi3"}) {
    const std::string path = test::data_path(std::string("reference/models/synth-") + arch + "-q4_k_m.gguf");
    if (!std::filesystem::exists(path)) continue;
    auto f = gguf::file::open(path);
    synth::mix_info mi;
    mi.n_layer = (uint32_t)f->get_int(std::string(arch) + ".block_count");
    mi.has_output = f->find_tensor("output.weight") != nullptr;
    mi.n_expert = (uint32_t)f->get_int(std::string(arch) + ".expert_count", 0);
    mi.n_gqa = (uint32_t)(f->get_int(std::string(arch) + ".attention.head_count") /
                          f->get_int(std::string(arch) + ".attention.head_count_kv"));
    for (const auto& t : f->tensors())
      EXPECT_EQ(dtype_name(synth::tensor_type(*ft, mi, t.name, t.ne[0], t.n_dims, false)), std::string(dtype_name(t.type)))
          << arch << ": " << t.name;
    ++n_files;
  }
  EXPECT_EQ(n_files, 7);
}

TEST(Synth, MixRules) {
  synth::mix_info mi;
  mi.n_layer = 16;
  mi.has_output = false;
  const auto& q4_0 = *synth::find_file_type("q4_0");
  const auto& q4_k_m = *synth::find_file_type("q4_k_m");
  const auto& f16 = *synth::find_file_type("f16");
  // A tied head is the token embedding: 6 bits, as llama-quantize does.
  EXPECT_EQ(synth::tensor_type(q4_0, mi, "token_embd.weight", 2048, 2, false), dtype::q6_k);
  EXPECT_EQ(synth::tensor_type(q4_0, mi, "blk.3.ffn_down.weight", 8192, 2, false), dtype::q4_0);
  EXPECT_EQ(synth::tensor_type(q4_0, mi, "token_embd.weight", 2048, 2, true), dtype::q4_0);
  EXPECT_EQ(synth::tensor_type(f16, mi, "token_embd.weight", 2048, 2, false), dtype::f16);
  EXPECT_EQ(synth::tensor_type(q4_k_m, mi, "blk.0.attn_norm.weight", 2048, 1, false), dtype::f32);
  // Layers 0, 1, 4, 7, 10, 13, 14, 15 of 16 get Q6_K in attn_v and ffn_down.
  for (int il = 0; il < 16; ++il) {
    const bool more = il < 2 || il >= 14 || (il - 2) % 3 == 2;
    EXPECT_EQ(synth::tensor_type(q4_k_m, mi, "blk." + std::to_string(il) + ".attn_v.weight", 2048, 2, false),
              more ? dtype::q6_k : dtype::q4_k) << il;
  }
  // Rows that are not a multiple of 256 (Qwen2.5-0.5B's 896) fall back to block-32 types.
  EXPECT_EQ(synth::tensor_type(q4_k_m, mi, "blk.5.attn_q.weight", 896, 2, false), dtype::q5_0);
  EXPECT_EQ(synth::tensor_type(q4_k_m, mi, "blk.0.attn_v.weight", 896, 2, false), dtype::q8_0);
}

TEST(Synth, ShapesAreTheRealModels) {
  const synth::model_shape* s = synth::find_shape("llama-3.1-8b");
  ASSERT_NE(s, nullptr);
  synth::options o;
  o.shape = *s;
  o.type = "q4_k_m";
  uint64_t n_params = 0;
  for (const auto& t : synth::plan_tensors(o)) n_params += (uint64_t)(t.ne[0] * t.ne[1] * t.ne[2] * t.ne[3]);
  EXPECT_EQ(n_params, 8030261312ull);  // Llama-3.1-8B's parameter count (+ 64 rope factors)
  o.shape = *synth::find_shape("qwen2.5-7b");
  n_params = 0;
  for (const auto& t : synth::plan_tensors(o)) n_params += (uint64_t)(t.ne[0] * t.ne[1] * t.ne[2] * t.ne[3]);
  EXPECT_EQ(n_params, 7615616512ull);
  EXPECT_EQ(synth::find_shape("no-such-model"), nullptr);
}

synth::options small_model(const std::string& type) {
  synth::options o;
  o.shape = *synth::find_shape("qwen2.5-0.5b");
  o.shape.n_layer = 1;
  o.shape.n_vocab = 1024;
  o.type = type;
  o.seed = 7;
  return o;
}

TEST(Synth, SameBytesWhateverTheThreadCount) {
  synth::options o = small_model("q4_k_m");
  const std::string a = temp_path("a.gguf"), b = temp_path("b.gguf"), c = temp_path("c.gguf");
  o.n_threads = 1;
  synth::write_model(a, o);
  o.n_threads = 3;
  synth::write_model(b, o);
  o.seed = 8;
  synth::write_model(c, o);
  const auto ba = read_all(a), bb = read_all(b), bc = read_all(c);
  EXPECT_GT(ba.size(), 1000000u);
  EXPECT_TRUE(ba == bb);
  EXPECT_EQ(ba.size(), bc.size());
  EXPECT_FALSE(ba == bc);
  for (const auto& p : {a, b, c}) std::filesystem::remove(p);
}

TEST(Synth, ModelLoadsTokenizesAndDecodes) {
  init_backends(false);
  for (const char* type : {"q4_0", "q4_k_m", "f16"}) {
    const synth::options o = small_model(type);
    const std::string path = temp_path(std::string(type) + ".gguf");
    const synth::write_result wr = synth::write_model(path, o);
    EXPECT_EQ(wr.file_bytes, std::filesystem::file_size(path));
    auto m = load_model(path, load_params{});
    EXPECT_EQ(m->hp.n_embd, 896u);
    EXPECT_EQ(m->hp.n_vocab, 1024u);
    auto f = gguf::file::open(path);
    auto v = vocab::from_gguf(*f);
    const auto ids = v->tokenize("Hello, world!", true, false);
    ASSERT_GE(ids.size(), 2u);
    EXPECT_EQ(ids[0], 1);
    EXPECT_EQ(v->detokenize(v->tokenize("Hello, world!", false, false)), "Hello, world!");
    context_params cp;
    cp.n_ctx = 64;
    cp.n_batch = 16;
    cp.n_threads = 2;
    context ctx(*m, cp);
    ctx.decode(batch::of(ids, 0));
    const float* l = ctx.logits(0);
    float lo = l[0], hi = l[0];
    for (uint32_t i = 0; i < m->hp.n_vocab; ++i) {
      ASSERT_TRUE(std::isfinite(l[i])) << type;
      lo = std::min(lo, l[i]);
      hi = std::max(hi, l[i]);
    }
    EXPECT_GT(hi - lo, 0.1f) << type;  // random weights give logits that differ
    m.reset();
    std::filesystem::remove(path);
  }
}

}  // namespace
}  // namespace hearth
