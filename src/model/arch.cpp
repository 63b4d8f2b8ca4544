#include "model/arch.h"

#include <cmath>

#include "core/error.h"

namespace hearth {

namespace {
struct arch_row { arch a; const char* name; };
constexpr arch_row k_archs[] = {
    {arch::llama, "llama"}, {arch::qwen2, "qwen2"}, {arch::qwen3, "qwen3"}, {arch::qwen3moe, "qwen3moe"},
    {arch::gemma2, "gemma2"}, {arch::gemma3, "gemma3"}, {arch::phi3, "phi3"},
};

// Per-layer values may be stored as one number or as an array with one entry per layer.
std::vector<uint32_t> per_layer(const gguf::file& f, const std::string& key, uint32_t n_layer, bool required, uint32_t fallback) {
  const gguf::value* v = f.find(key);
  if (!v) {
    if (required) fail(error_kind::bad_format, "{}: missing metadata key '{}'", f.path(), key);
    return std::vector<uint32_t>(n_layer, fallback);
  }
  if (v->is_array()) {
    if (v->size() != n_layer) fail(error_kind::bad_format, "{}: '{}' has {} entries for {} layers", f.path(), key, v->size(), n_layer);
    std::vector<uint32_t> out(n_layer);
    for (uint32_t i = 0; i < n_layer; ++i) {
      const int64_t x = v->int_at(i);
      if (x < 0 || x > (1 << 24)) fail(error_kind::bad_format, "{}: '{}'[{}] = {} is out of range", f.path(), key, i, x);
      out[i] = (uint32_t)x;
    }
    return out;
  }
  const int64_t x = f.get_int(key);
  if (x < 0 || x > (1 << 24)) fail(error_kind::bad_format, "{}: '{}' = {} is out of range", f.path(), key, x);
  return std::vector<uint32_t>(n_layer, (uint32_t)x);
}

uint32_t get_u32(const gguf::file& f, const std::string& key, int64_t lo, int64_t hi) {
  const int64_t x = f.get_int(key);
  if (x < lo || x > hi) fail(error_kind::bad_format, "{}: '{}' = {} is out of range [{}, {}]", f.path(), key, x, lo, hi);
  return (uint32_t)x;
}
uint32_t get_u32(const gguf::file& f, const std::string& key, int64_t lo, int64_t hi, uint32_t fallback) {
  return f.has(key) ? get_u32(f, key, lo, hi) : fallback;
}
float get_f32(const gguf::file& f, const std::string& key, float fallback) {
  const double x = f.get_float(key, fallback);
  if (!std::isfinite(x)) fail(error_kind::bad_format, "{}: '{}' is not a finite number", f.path(), key);
  return (float)x;
}
}  // namespace

const char* arch_name(arch a) {
  for (const auto& r : k_archs)
    if (r.a == a) return r.name;
  return "?";
}

std::vector<std::string> supported_arch_names() {
  std::vector<std::string> out;
  for (const auto& r : k_archs) out.emplace_back(r.name);
  return out;
}

arch arch_from_name(const std::string& name) {
  for (const auto& r : k_archs)
    if (name == r.name) return r.a;
  std::string list;
  for (const auto& r : k_archs) list += (list.empty() ? "" : ", ") + std::string(r.name);
  fail(error_kind::unsupported, "unsupported model architecture '{}' (supported: {})", name, list);
}

hparams hparams::from_gguf(const gguf::file& f) {
  hparams hp;
  const std::string an = f.get_string("general.architecture");
  hp.a = arch_from_name(an);
  const std::string p = an + ".";
  hp.name = f.get_string("general.name", "");
  hp.n_layer = get_u32(f, p + "block_count", 1, 4096);
  hp.n_embd = get_u32(f, p + "embedding_length", 1, 1 << 20);
  hp.n_ctx_train = get_u32(f, p + "context_length", 1, 1 << 30, 2048);
  hp.n_head = get_u32(f, p + "attention.head_count", 1, 1 << 16);
  hp.n_head_kv = per_layer(f, p + "attention.head_count_kv", hp.n_layer, false, hp.n_head);
  for (uint32_t il = 0; il < hp.n_layer; ++il)
    if (hp.n_head_kv[il] == 0 || hp.n_head % hp.n_head_kv[il] != 0)
      fail(error_kind::bad_format, "{}: {} query heads are not a multiple of {} kv heads", f.path(), hp.n_head, hp.n_head_kv[il]);
  hp.n_ff = per_layer(f, p + "feed_forward_length", hp.n_layer, false, 0);
  hp.head_dim_k = get_u32(f, p + "attention.key_length", 1, 1 << 16, hp.n_embd / hp.n_head);
  hp.head_dim_v = get_u32(f, p + "attention.value_length", 1, 1 << 16, hp.n_embd / hp.n_head);
  hp.n_rot = get_u32(f, p + "rope.dimension_count", 2, 1 << 16, hp.head_dim_k);
  if (hp.n_rot > hp.head_dim_k || hp.n_rot % 2) fail(error_kind::bad_format, "{}: rope dimension {} does not fit head size {}", f.path(), hp.n_rot, hp.head_dim_k);
  hp.rms_eps = get_f32(f, p + "attention.layer_norm_rms_epsilon", 1e-5f);
  hp.norm_eps = get_f32(f, p + "attention.layer_norm_epsilon", 1e-5f);
  hp.rope_freq_base = get_f32(f, p + "rope.freq_base", 10000.0f);
  hp.rope_freq_base_swa = get_f32(f, p + "rope.freq_base_swa", 10000.0f);
  const std::string scaling = f.get_string(p + "rope.scaling.type", "none");
  float factor = get_f32(f, p + "rope.scaling.factor", 0.0f);
  if (factor == 0.0f) factor = 1.0f / get_f32(f, p + "rope.scale_linear", 1.0f);
  else factor = 1.0f / factor;
  hp.rope_freq_scale = factor;
  hp.n_ctx_orig = get_u32(f, p + "rope.scaling.original_context_length", 1, 1 << 30, hp.n_ctx_train);
  if (scaling == "yarn") {
    hp.yarn_ext_factor = 1.0f;
    hp.yarn_attn_factor = get_f32(f, p + "rope.scaling.attn_factor", 1.0f);
    hp.yarn_beta_fast = get_f32(f, p + "rope.scaling.yarn_beta_fast", 32.0f);
    hp.yarn_beta_slow = get_f32(f, p + "rope.scaling.yarn_beta_slow", 1.0f);
  } else if (scaling != "none" && scaling != "linear") {
    fail(error_kind::unsupported, "{}: rope scaling '{}' is not supported", f.path(), scaling);
  }
  hp.n_swa = get_u32(f, p + "attention.sliding_window", 0, 1 << 30, 0);
  hp.attn_softcap = get_f32(f, p + "attn_logit_softcapping", 0.0f);
  hp.final_softcap = get_f32(f, p + "final_logit_softcapping", 0.0f);
  hp.n_expert = get_u32(f, p + "expert_count", 0, 1 << 16, 0);
  hp.n_expert_used = get_u32(f, p + "expert_used_count", 0, 1 << 16, 0);
  hp.n_ff_exp = get_u32(f, p + "expert_feed_forward_length", 0, 1 << 24, 0);
  if (hp.n_expert > 0 && (hp.n_expert_used == 0 || hp.n_expert_used > hp.n_expert))
    fail(error_kind::bad_format, "{}: {} experts used of {}", f.path(), hp.n_expert_used, hp.n_expert);
  hp.expert_weights_norm = f.get_bool(p + "expert_weights_norm", true);

  // Architecture-specific conventions that the files do not spell out.
  hp.swa_layer.assign(hp.n_layer, false);
  switch (hp.a) {
    case arch::qwen2:
    case arch::qwen3:
    case arch::qwen3moe:
    case arch::phi3:
      hp.rope = rope_mode::neox;
      break;
    case arch::gemma2:
    case arch::gemma3: {
      hp.rope = rope_mode::neox;
      hp.embd_scale = std::sqrt((float)hp.n_embd);
      // The 27B models scale queries by the model width per head; the others by the head size.
      const bool is_27b = (hp.a == arch::gemma2 && hp.n_layer == 46) || (hp.a == arch::gemma3 && hp.n_layer == 62);
      hp.attn_scale = is_27b ? 1.0f / std::sqrt((float)(hp.n_embd / hp.n_head)) : 1.0f / std::sqrt((float)hp.head_dim_k);
      if (hp.n_swa > 0) {
        const uint32_t period = get_u32(f, p + "attention.sliding_window_pattern", 1, 1 << 16, hp.a == arch::gemma2 ? 2 : 6);
        for (uint32_t il = 0; il < hp.n_layer; ++il) hp.swa_layer[il] = il % period < period - 1;
      }
      if (hp.a == arch::gemma3) hp.rope_freq_scale_swa = 1.0f;
      break;
    }
    default:
      break;
  }
  // Phi-3 applies its window on every layer; llama and qwen files may carry a window from their
  // configs that the models were not trained to use, so it is ignored there.
  if (hp.a == arch::phi3 && hp.n_swa > 0) hp.swa_layer.assign(hp.n_layer, true);
  if (hp.a != arch::phi3 && hp.a != arch::gemma2 && hp.a != arch::gemma3) hp.n_swa = 0;
  return hp;
}

std::string hparams::describe() const {
  return fmt::format("{}: {} layers, {} embd, {} heads ({} kv), head {}, ff {}, ctx {}{}", arch_name(a), n_layer, n_embd,
                     n_head, n_head_kv.empty() ? 0 : n_head_kv[0], head_dim_k, n_ff.empty() ? 0 : n_ff[0], n_ctx_train,
                     n_expert ? fmt::format(", {} experts ({} used)", n_expert, n_expert_used) : "");
}

}  // namespace hearth
