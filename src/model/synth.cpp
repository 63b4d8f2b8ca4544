#include "model/synth.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "core/fp16.h"
#include "formats/gguf.h"
#include "formats/quants.h"

namespace hearth::synth {

namespace {

model_shape make(const char* name, const char* arch, uint32_t n_vocab, uint32_t n_ctx, uint32_t n_embd, uint32_t n_layer,
                 uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim, uint32_t n_ff, float rope_base, float rms_eps,
                 bool tied) {
  model_shape s;
  s.name = name;
  s.arch = arch;
  s.n_vocab = n_vocab;
  s.n_ctx = n_ctx;
  s.n_embd = n_embd;
  s.n_layer = n_layer;
  s.n_head = n_head;
  s.n_head_kv = n_head_kv;
  s.head_dim = head_dim;
  s.n_ff = n_ff;
  s.rope_base = rope_base;
  s.rms_eps = rms_eps;
  s.tied_output = tied;
  s.qkv_bias = std::string_view(arch) == "qwen2";
  s.qk_norm = std::string_view(arch) == "qwen3";
  return s;
}

// Hyperparameters from the models' published configs.
const std::vector<model_shape>& all_shapes() {
  static const std::vector<model_shape> shapes = [] {
    std::vector<model_shape> v;
    auto llama3 = [&](model_shape s, float factor) { s.llama3_rope_factor = factor; v.push_back(s); };
    llama3(make("llama-3.2-1b", "llama", 128256, 131072, 2048, 16, 32, 8, 64, 8192, 500000.0f, 1e-5f, true), 32.0f);
    llama3(make("llama-3.2-3b", "llama", 128256, 131072, 3072, 28, 24, 8, 128, 8192, 500000.0f, 1e-5f, true), 32.0f);
    llama3(make("llama-3.1-8b", "llama", 128256, 131072, 4096, 32, 32, 8, 128, 14336, 500000.0f, 1e-5f, false), 8.0f);
    v.push_back(make("mistral-7b", "llama", 32768, 32768, 4096, 32, 32, 8, 128, 14336, 1000000.0f, 1e-5f, false));
    v.push_back(make("qwen2.5-0.5b", "qwen2", 151936, 32768, 896, 24, 14, 2, 64, 4864, 1000000.0f, 1e-6f, true));
    v.push_back(make("qwen2.5-1.5b", "qwen2", 151936, 32768, 1536, 28, 12, 2, 128, 8960, 1000000.0f, 1e-6f, true));
    v.push_back(make("qwen2.5-7b", "qwen2", 152064, 32768, 3584, 28, 28, 4, 128, 18944, 1000000.0f, 1e-6f, false));
    v.push_back(make("qwen3-0.6b", "qwen3", 151936, 40960, 1024, 28, 16, 8, 128, 3072, 1000000.0f, 1e-6f, true));
    v.push_back(make("qwen3-8b", "qwen3", 151936, 40960, 4096, 36, 32, 8, 128, 12288, 1000000.0f, 1e-6f, false));
    return v;
  }();
  return shapes;
}

// llama.cpp's LLAMA_FTYPE_* ids.
const std::vector<file_type>& all_file_types() {
  static const std::vector<file_type> v = {
      {"f32", 0, dtype::f32},       {"f16", 1, dtype::f16},       {"bf16", 32, dtype::bf16},
      {"q4_0", 2, dtype::q4_0},     {"q4_1", 3, dtype::q4_1},     {"q5_0", 8, dtype::q5_0},
      {"q5_1", 9, dtype::q5_1},     {"q8_0", 7, dtype::q8_0},     {"q2_k", 10, dtype::q2_k},
      {"q3_k_s", 11, dtype::q3_k},  {"q3_k_m", 12, dtype::q3_k},  {"q3_k_l", 13, dtype::q3_k},
      {"q4_k_s", 14, dtype::q4_k},  {"q4_k_m", 15, dtype::q4_k},  {"q5_k_s", 16, dtype::q5_k},
      {"q5_k_m", 17, dtype::q5_k},  {"q6_k", 18, dtype::q6_k},    {"iq4_nl", 25, dtype::iq4_nl},
      {"iq4_xs", 30, dtype::iq4_xs},
  };
  return v;
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower((unsigned char)a[i]) != std::tolower((unsigned char)b[i])) return false;
  return true;
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// Layer index of "blk.N.*", or -1.
int layer_of(const std::string& name) {
  if (name.rfind("blk.", 0) != 0) return -1;
  return std::atoi(name.c_str() + 4);
}

// llama.cpp gives more bits to the first and last eighth of the layers and every third in between.
bool use_more_bits(int il, int n) { return il < n / 8 || il >= 7 * n / 8 || (il - n / 8) % 3 == 2; }

// A K-quant needs rows that are a multiple of 256; llama.cpp then picks a block-32 type instead.
dtype fallback(dtype t, int64_t ne0) {
  if (ne0 % block_size(t) == 0) return t;
  switch (t) {
    case dtype::q2_k: case dtype::q3_k: case dtype::iq4_xs: t = dtype::iq4_nl; break;
    case dtype::q4_k: t = dtype::q5_0; break;
    case dtype::q5_k: t = dtype::q5_1; break;
    case dtype::q6_k: t = dtype::q8_0; break;
    default: break;
  }
  return ne0 % block_size(t) == 0 ? t : dtype::f16;
}

// ---- random numbers: one independent stream per (seed, tensor, chunk), whatever the thread count.
uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
uint64_t mix(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t s = a * 0x100000001b3ull ^ b;
  splitmix(s);
  s ^= c * 0x9e3779b97f4a7c15ull;
  return splitmix(s);
}
// Uniform in [-1, 1).
float uniform(uint64_t& s) { return (float)((int64_t)splitmix(s) >> 11) * (1.0f / 4503599627370496.0f); }
float gaussian(uint64_t& s) {
  const double u1 = ((splitmix(s) >> 11) + 1) * (1.0 / 9007199254740993.0);
  const double u2 = (splitmix(s) >> 11) * (1.0 / 9007199254740992.0);
  return (float)(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

enum class fill_kind { ones, random, rope_freqs };

struct planned {
  tensor_plan p;
  fill_kind fill = fill_kind::random;
  float sigma = 0;
};

std::vector<planned> plan(const options& o) {
  const model_shape& s = o.shape;
  const file_type* ft = find_file_type(o.type);
  if (!ft) fail(error_kind::invalid_argument, "unknown model type '{}'", o.type);
  mix_info mi;
  mi.n_layer = s.n_layer;
  mi.has_output = !s.tied_output;
  mi.n_gqa = s.n_head_kv ? s.n_head / s.n_head_kv : 1;
  std::vector<planned> out;
  auto add = [&](const std::string& name, std::initializer_list<int64_t> ne, fill_kind fill, float sigma) {
    planned t;
    t.p.name = name;
    t.p.n_dims = (int)ne.size();
    std::fill(std::begin(t.p.ne), std::end(t.p.ne), 1);
    std::copy(ne.begin(), ne.end(), t.p.ne);
    t.p.type = tensor_type(*ft, mi, name, t.p.ne[0], t.p.n_dims, o.pure);
    t.fill = fill;
    t.sigma = sigma;
    out.push_back(t);
  };
  const int64_t n_embd = s.n_embd, n_q = (int64_t)s.n_head * s.head_dim, n_kv = (int64_t)s.n_head_kv * s.head_dim;
  const float s_embd = 1.0f / std::sqrt((float)n_embd);
  add("token_embd.weight", {n_embd, s.n_vocab}, fill_kind::random, s_embd);
  if (s.llama3_rope_factor > 0) add("rope_freqs.weight", {s.head_dim / 2}, fill_kind::rope_freqs, 0);
  for (uint32_t il = 0; il < s.n_layer; ++il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    add(b + "attn_norm.weight", {n_embd}, fill_kind::ones, 0);
    add(b + "attn_q.weight", {n_embd, n_q}, fill_kind::random, s_embd);
    add(b + "attn_k.weight", {n_embd, n_kv}, fill_kind::random, s_embd);
    add(b + "attn_v.weight", {n_embd, n_kv}, fill_kind::random, s_embd);
    if (s.qkv_bias) {
      add(b + "attn_q.bias", {n_q}, fill_kind::random, 0.1f);
      add(b + "attn_k.bias", {n_kv}, fill_kind::random, 0.1f);
      add(b + "attn_v.bias", {n_kv}, fill_kind::random, 0.1f);
    }
    if (s.qk_norm) {
      add(b + "attn_q_norm.weight", {s.head_dim}, fill_kind::ones, 0);
      add(b + "attn_k_norm.weight", {s.head_dim}, fill_kind::ones, 0);
    }
    add(b + "attn_output.weight", {n_q, n_embd}, fill_kind::random, 1.0f / std::sqrt((float)n_q));
    add(b + "ffn_norm.weight", {n_embd}, fill_kind::ones, 0);
    add(b + "ffn_gate.weight", {n_embd, s.n_ff}, fill_kind::random, s_embd);
    add(b + "ffn_up.weight", {n_embd, s.n_ff}, fill_kind::random, s_embd);
    add(b + "ffn_down.weight", {s.n_ff, n_embd}, fill_kind::random, 1.0f / std::sqrt((float)s.n_ff));
  }
  add("output_norm.weight", {n_embd}, fill_kind::ones, 0);
  if (!s.tied_output) add("output.weight", {n_embd, s.n_vocab}, fill_kind::random, s_embd);
  return out;
}

// Llama 3's frequency factors (the divisor of each rotary frequency), from the published formula
// with the original context of 8192, low-frequency factor 1 and high-frequency factor 4.
std::vector<float> llama3_rope_factors(const model_shape& s) {
  const double old_ctx = 8192, low = 1, high = 4, factor = s.llama3_rope_factor;
  const double low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
  std::vector<float> out;
  for (uint32_t i = 0; i < s.head_dim; i += 2) {
    const double freq = 1.0 / std::pow((double)s.rope_base, (double)i / s.head_dim);
    const double wavelen = 2 * M_PI / freq;
    if (wavelen < high_wavelen) out.push_back(1.0f);
    else if (wavelen > low_wavelen) out.push_back((float)factor);
    else {
      const double smooth = (old_ctx / wavelen - low) / (high - low);
      out.push_back((float)(1.0 / ((1 - smooth) / factor + smooth)));
    }
  }
  return out;
}

// A small but complete SentencePiece vocabulary of n tokens: <unk>, <s>, </s>, the 256 byte
// fallbacks, the printable ASCII characters with and without the word marker, then filler pieces.
void add_vocab(gguf::writer& w, uint32_t n) {
  if (n < 512) fail(error_kind::invalid_argument, "a vocabulary needs at least 512 tokens, not {}", n);
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  tokens.reserve(n);
  auto add = [&](std::string t, float score, int32_t type) {
    tokens.push_back(std::move(t));
    scores.push_back(score);
    types.push_back(type);
  };
  add("<unk>", 0, 2);
  add("<s>", 0, 3);
  add("</s>", 0, 3);
  for (int b = 0; b < 256; ++b) add(fmt::format("<0x{:02X}>", b), 0, 6);
  const std::string marker = "\xe2\x96\x81";  // U+2581, SentencePiece's word boundary
  float score = -1;
  add(marker, score--, 1);
  for (int c = 0x21; c < 0x7f; ++c) add(std::string(1, (char)c), score--, 1);
  for (int c = 0x21; c < 0x7f; ++c) add(marker + std::string(1, (char)c), score--, 1);
  for (uint32_t i = 0; tokens.size() < n; ++i) add(fmt::format("{}t{}", marker, i), score--, 1);
  tokens.resize(n);
  scores.resize(n);
  types.resize(n);
  w.set_string("tokenizer.ggml.model", "llama");
  w.set("tokenizer.ggml.tokens", gguf::value::string_array(std::move(tokens)));
  w.set("tokenizer.ggml.scores", gguf::value::numeric_array<float>(gguf::value_type::f32, scores));
  w.set("tokenizer.ggml.token_type", gguf::value::numeric_array<int32_t>(gguf::value_type::i32, types));
  w.set_u32("tokenizer.ggml.unknown_token_id", 0);
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_bool("tokenizer.ggml.add_eos_token", false);
}

// Quantized weights are made from a pool of blocks quantized once (by the reference quantizer,
// from Gaussian values of the tensor's scale) and picked at random: every block is a valid block of
// the right statistics, and writing a multi-GiB model costs little more than copying it.
class block_pools {
 public:
  block_pools(uint64_t seed, int n_threads) : seed_(seed), n_threads_(n_threads) {}

  // The pool for (t, sigma), made on first use; n_blocks() blocks, a power of two.
  const std::vector<uint8_t>& get(dtype t, float sigma) {
    std::lock_guard<std::mutex> lock(mu_);
    auto key = std::make_pair((uint32_t)t, sigma);
    auto it = pools_.find(key);
    if (it != pools_.end()) return it->second;
    if (!ref::has_quantizer(t)) fail(error_kind::unsupported, "no quantizer for type {}", dtype_name(t));
    const int64_t bs = block_size(t);
    const int64_t n_blocks = blocks(t);
    std::vector<uint8_t> pool((size_t)n_blocks * type_size(t));
    // Rows of 16 blocks, quantized in parallel.
    const int64_t row_blocks = 16, n_rows = n_blocks / row_blocks;
    std::atomic<int64_t> next{0};
    auto work = [&] {
      std::vector<float> x((size_t)(row_blocks * bs));
      for (int64_t r; (r = next++) < n_rows;) {
        uint64_t s = mix(seed_, 0x9001 + (uint64_t)t, (uint64_t)r ^ ((uint64_t)f32_to_bits(sigma) << 32));
        for (float& v : x) v = gaussian(s) * sigma;
        ref::quantize_row(t, x.data(), pool.data() + (size_t)(r * row_blocks) * type_size(t), row_blocks * bs);
      }
    };
    std::vector<std::thread> th;
    for (int i = 1; i < n_threads_; ++i) th.emplace_back(work);
    work();
    for (auto& x : th) x.join();
    return pools_.emplace(key, std::move(pool)).first->second;
  }
  static int64_t blocks(dtype t) { return block_size(t) >= 256 ? 4096 : 32768; }

 private:
  uint64_t seed_;
  int n_threads_;
  std::mutex mu_;
  std::map<std::pair<uint32_t, float>, std::vector<uint8_t>> pools_;
};

void fill_rows(const planned& t, int64_t r0, int64_t r1, uint64_t seed, size_t index, block_pools& pools,
               const std::vector<float>& rope, uint8_t* dst) {
  const int64_t ne0 = t.p.ne[0];
  const int64_t n = (r1 - r0) * ne0;
  uint64_t s = mix(seed, index, (uint64_t)r0);
  if (t.fill == fill_kind::rope_freqs) {
    std::memcpy(dst, rope.data(), rope.size() * sizeof(float));
    return;
  }
  switch (t.p.type) {
    case dtype::f32: {
      auto* d = reinterpret_cast<float*>(dst);
      const float a = t.sigma * 1.7320508f;  // uniform of standard deviation sigma
      for (int64_t i = 0; i < n; ++i) d[i] = t.fill == fill_kind::ones ? 1.0f : a * uniform(s);
      return;
    }
    case dtype::f16: {
      auto* d = reinterpret_cast<f16_bits*>(dst);
      const float a = t.sigma * 1.7320508f;
      for (int64_t i = 0; i < n; ++i) d[i] = f32_to_f16(t.fill == fill_kind::ones ? 1.0f : a * uniform(s));
      return;
    }
    case dtype::bf16: {
      auto* d = reinterpret_cast<bf16_bits*>(dst);
      const float a = t.sigma * 1.7320508f;
      for (int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16(t.fill == fill_kind::ones ? 1.0f : a * uniform(s));
      return;
    }
    default: {
      const std::vector<uint8_t>& pool = pools.get(t.p.type, t.sigma);
      const size_t bsz = type_size(t.p.type);
      const uint64_t mask = (uint64_t)block_pools::blocks(t.p.type) - 1;
      const int64_t n_blocks = n / block_size(t.p.type);
      for (int64_t i = 0; i < n_blocks; ++i) std::memcpy(dst + i * bsz, pool.data() + (splitmix(s) & mask) * bsz, bsz);
      return;
    }
  }
}

void pwrite_all(int fd, const uint8_t* p, size_t n, uint64_t at, const std::string& path) {
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, p, n, (off_t)at);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail(error_kind::io, "cannot write {}: {}", path, std::strerror(errno));
    }
    p += w;
    n -= (size_t)w;
    at += (uint64_t)w;
  }
}

}  // namespace

const model_shape* find_shape(std::string_view name) {
  for (const auto& s : all_shapes())
    if (iequal(s.name, name)) return &s;
  return nullptr;
}

std::vector<std::string> shape_names() {
  std::vector<std::string> out;
  for (const auto& s : all_shapes()) out.push_back(s.name);
  return out;
}

const file_type* find_file_type(std::string_view name) {
  for (const auto& f : all_file_types())
    if (iequal(f.name, name)) return &f;
  return nullptr;
}

std::vector<std::string> file_type_names() {
  std::vector<std::string> out;
  for (const auto& f : all_file_types()) out.push_back(f.name);
  return out;
}

dtype tensor_type(const file_type& ft, const mix_info& mi, const std::string& name, int64_t ne0, int n_dims, bool pure) {
  // Vectors and MoE routers are never quantized.
  if (n_dims < 2 || contains(name, "ffn_gate_inp.weight")) return dtype::f32;
  dtype t = ft.base;
  // Float files and --pure files put every matrix in the base type.
  if (pure || !is_quantized(t)) return fallback(t, ne0);
  const std::string_view f = ft.name;
  const int il = layer_of(name);
  const int n = (int)mi.n_layer;
  const bool q4_k_m = f == "q4_k_m", q5_k_m = f == "q5_k_m", q3_k_m = f == "q3_k_m", q3_k_l = f == "q3_k_l";
  const bool q4_k_s = f == "q4_k_s", q2_k = f == "q2_k", iq4 = f == "iq4_nl" || f == "iq4_xs";
  if (name == "output.weight" || (!mi.has_output && name == "token_embd.weight")) {
    if (ne0 % 256 != 0) t = dtype::q8_0;
    else if (t != dtype::q8_0) t = dtype::q6_k;
  } else if (contains(name, "attn_v.weight") || contains(name, "attn_qkv.weight")) {
    if (q2_k) t = mi.n_gqa >= 4 ? dtype::q4_k : dtype::q3_k;
    else if (q3_k_m) t = il < 2 ? dtype::q5_k : dtype::q4_k;
    else if (q3_k_l) t = dtype::q5_k;
    else if (iq4 && mi.n_gqa >= 4) t = dtype::q5_k;
    else if ((q4_k_m || q5_k_m) && use_more_bits(il, n)) t = dtype::q6_k;
    else if (q4_k_s && il < 4) t = dtype::q5_k;
    if (mi.n_expert == 8) t = dtype::q8_0;
  } else if (contains(name, "attn_k.weight")) {
    if (mi.n_expert == 8) t = dtype::q8_0;
  } else if (contains(name, "ffn_down")) {
    if (q2_k) t = dtype::q3_k;
    else if (q3_k_m) t = il < n / 16 ? dtype::q5_k : use_more_bits(il, n) ? dtype::q4_k : dtype::q3_k;
    else if (q3_k_l) t = dtype::q5_k;
    else if (iq4 && il < n / 8) t = dtype::q5_k;
    else if ((q4_k_m || q5_k_m) && use_more_bits(il, n)) t = dtype::q6_k;
    else if (q4_k_s && il < n / 8) t = dtype::q5_k;
  } else if (contains(name, "attn_output.weight")) {
    if (mi.n_expert != 8) {
      if (q2_k) t = dtype::q3_k;
      else if (q3_k_m) t = dtype::q4_k;
      else if (q3_k_l) t = dtype::q5_k;
    } else if (q2_k || q3_k_m || q3_k_l || f == "q3_k_s") {
      t = dtype::q5_k;
    }
  }
  return fallback(t, ne0);
}

std::vector<tensor_plan> plan_tensors(const options& o) {
  std::vector<tensor_plan> out;
  for (const auto& t : plan(o)) out.push_back(t.p);
  return out;
}

write_result write_model(const std::string& path, const options& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const model_shape& s = o.shape;
  if (s.n_layer == 0 || s.n_head == 0 || s.n_head_kv == 0 || s.n_head % s.n_head_kv || s.head_dim % 2 || s.n_embd == 0 || s.n_ff == 0)
    fail(error_kind::invalid_argument, "model shape '{}' is inconsistent", s.name);
  const std::vector<planned> tensors = plan(o);
  const file_type& ft = *find_file_type(o.type);

  gguf::writer w;
  const std::string a = s.arch;
  w.set_string("general.architecture", a);
  w.set_string("general.name", fmt::format("synth-{}-{}{}", s.name, ft.name, o.pure ? "-pure" : ""));
  w.set_string("general.description", fmt::format("random weights (seed {}) written by hearth-synth; not a trained model", o.seed));
  w.set_u32("general.file_type", ft.id);
  w.set_u32("general.quantization_version", 2);
  w.set_u32(a + ".vocab_size", s.n_vocab);
  w.set_u32(a + ".context_length", s.n_ctx);
  w.set_u32(a + ".embedding_length", s.n_embd);
  w.set_u32(a + ".block_count", s.n_layer);
  w.set_u32(a + ".feed_forward_length", s.n_ff);
  w.set_u32(a + ".attention.head_count", s.n_head);
  w.set_u32(a + ".attention.head_count_kv", s.n_head_kv);
  w.set_u32(a + ".attention.key_length", s.head_dim);
  w.set_u32(a + ".attention.value_length", s.head_dim);
  w.set_u32(a + ".rope.dimension_count", s.head_dim);
  w.set_f32(a + ".rope.freq_base", s.rope_base);
  w.set_f32(a + ".attention.layer_norm_rms_epsilon", s.rms_eps);
  add_vocab(w, s.n_vocab);
  for (const auto& t : tensors) w.add_tensor_info(t.p.name, t.p.type, t.p.ne, t.p.n_dims);
  const gguf::writer::file_layout layout = w.layout();

  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(error_kind::io, "cannot create {}: {}", tmp, std::strerror(errno));
  const uint64_t file_bytes = layout.header.size() + layout.data_bytes;
  try {
    if (::ftruncate(fd, (off_t)file_bytes) != 0) fail(error_kind::io, "cannot size {}: {}", tmp, std::strerror(errno));
    pwrite_all(fd, layout.header.data(), layout.header.size(), 0, tmp);

    // Jobs of about 4 MiB of rows each; every job has its own random stream.
    struct job { size_t t; int64_t r0, r1; };
    std::vector<job> jobs;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const auto& p = tensors[i].p;
      const int64_t rows = p.ne[1] * p.ne[2] * p.ne[3];
      const int64_t per = std::max<int64_t>(1, (4 << 20) / (int64_t)row_bytes(p.type, p.ne[0]));
      for (int64_t r = 0; r < rows; r += per) jobs.push_back({i, r, std::min(rows, r + per)});
    }
    const int n_threads = o.n_threads > 0 ? o.n_threads : (int)std::max(1u, std::thread::hardware_concurrency());
    block_pools pools(o.seed, n_threads);
    const std::vector<float> rope = s.llama3_rope_factor > 0 ? llama3_rope_factors(s) : std::vector<float>{};
    std::atomic<size_t> next{0};
    std::exception_ptr err;
    std::mutex err_mu;
    auto work = [&] {
      std::vector<uint8_t> buf;
      try {
        for (size_t j; (j = next++) < jobs.size();) {
          const job& jb = jobs[j];
          const planned& t = tensors[jb.t];
          const size_t rb = row_bytes(t.p.type, t.p.ne[0]);
          buf.resize((size_t)(jb.r1 - jb.r0) * rb);
          fill_rows(t, jb.r0, jb.r1, o.seed, jb.t, pools, rope, buf.data());
          pwrite_all(fd, buf.data(), buf.size(), layout.header.size() + layout.offsets[jb.t] + (uint64_t)jb.r0 * rb, tmp);
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(err_mu);
        if (!err) err = std::current_exception();
        next = jobs.size();
      }
    };
    std::vector<std::thread> th;
    for (int i = 1; i < n_threads; ++i) th.emplace_back(work);
    work();
    for (auto& x : th) x.join();
    if (err) std::rethrow_exception(err);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    fail(error_kind::io, "cannot write {}: {}", tmp, std::strerror(e));
  }
  // Benchmark models are scratch files: no fsync, but never visible half-written under their name.
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    fail(error_kind::io, "cannot rename {} to {}: {}", tmp, path, std::strerror(e));
  }
  write_result r;
  r.file_bytes = file_bytes;
  for (const auto& t : tensors) r.n_params += (uint64_t)(t.p.ne[0] * t.p.ne[1] * t.p.ne[2] * t.p.ne[3]);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace hearth::synth
