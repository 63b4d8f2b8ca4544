// Model architectures Hearth runs, their GGUF names, and the hyperparameters read from a file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "formats/gguf.h"

namespace hearth {

enum class arch { llama, qwen2, qwen3, qwen3moe, gemma2, gemma3, phi3 };

const char* arch_name(arch a);
// The architecture of general.architecture; throws naming the supported ones when unknown.
arch arch_from_name(const std::string& name);
std::vector<std::string> supported_arch_names();

struct hparams {
  arch a = arch::llama;
  std::string name;          // general.name
  uint32_t n_vocab = 0;
  uint32_t n_ctx_train = 0;
  uint32_t n_embd = 0;
  uint32_t n_layer = 0;
  uint32_t n_head = 0;
  std::vector<uint32_t> n_head_kv;  // per layer
  std::vector<uint32_t> n_ff;       // per layer
  uint32_t head_dim_k = 0;
  uint32_t head_dim_v = 0;
  uint32_t n_rot = 0;
  float rms_eps = 1e-5f;
  float norm_eps = 1e-5f;
  // rotary embedding
  rope_mode rope = rope_mode::normal;
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;
  float rope_freq_base_swa = 10000.0f;
  float rope_freq_scale_swa = 1.0f;
  float yarn_ext_factor = 0.0f;
  float yarn_attn_factor = 1.0f;
  float yarn_beta_fast = 32.0f;
  float yarn_beta_slow = 1.0f;
  uint32_t n_ctx_orig = 0;
  // attention
  float attn_scale = 0.0f;            // 0: 1/sqrt(head_dim_k)
  float attn_softcap = 0.0f;          // 0: none
  float final_softcap = 0.0f;         // 0: none
  uint32_t n_swa = 0;                 // sliding window, 0: none
  std::vector<bool> swa_layer;        // per layer: uses the sliding window
  // mixture of experts
  uint32_t n_expert = 0;
  uint32_t n_expert_used = 0;
  uint32_t n_ff_exp = 0;
  bool expert_weights_norm = true;
  // embeddings
  float embd_scale = 1.0f;            // gemma: sqrt(n_embd)
  bool tied_output = false;

  uint32_t n_embd_k_gqa(uint32_t il) const { return head_dim_k * n_head_kv[il]; }
  uint32_t n_embd_v_gqa(uint32_t il) const { return head_dim_v * n_head_kv[il]; }
  // Reads every hyperparameter of the file's architecture; throws naming a missing or bad key.
  static hparams from_gguf(const gguf::file& f);
  std::string describe() const;  // "llama 5 layers, 64 embd, 8 heads (4 kv), ctx 2048"
};

}  // namespace hearth
