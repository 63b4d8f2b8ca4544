// A loaded model: hyperparameters, weight tensors placed on devices, the GGUF file they come from.
// Weights are created by the architecture's tensor list and placed by the loader (CPU weights are
// zero-copy views of the mmapped file; GPU weights are uploaded into device buffers).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "formats/gguf.h"
#include "model/arch.h"
#include "tokenizer/vocab.h"

namespace hearth {

struct layer_weights {
  tensor* attn_norm = nullptr;       // F32 [n_embd]
  tensor* attn_norm_b = nullptr;
  tensor* wq = nullptr;              // [n_embd, n_head * head_dim_k]
  tensor* wk = nullptr;              // [n_embd, n_head_kv * head_dim_k]
  tensor* wv = nullptr;              // [n_embd, n_head_kv * head_dim_v]
  tensor* wqkv = nullptr;            // phi3: q, k and v fused, in that order
  tensor* wo = nullptr;              // [n_head * head_dim_v, n_embd]
  tensor* bq = nullptr;
  tensor* bk = nullptr;
  tensor* bv = nullptr;
  tensor* bo = nullptr;
  tensor* attn_q_norm = nullptr;     // per-head RMSNorm weights [head_dim_k]
  tensor* attn_k_norm = nullptr;
  tensor* attn_post_norm = nullptr;  // gemma: applied to the attention output before the residual
  tensor* ffn_norm = nullptr;
  tensor* ffn_post_norm = nullptr;   // gemma
  tensor* ffn_gate = nullptr;        // [n_embd, n_ff]
  tensor* ffn_up = nullptr;          // [n_embd, n_ff] (phi3: [n_embd, 2 n_ff], gate first)
  tensor* ffn_down = nullptr;        // [n_ff, n_embd]
  tensor* ffn_gate_inp = nullptr;    // router [n_embd, n_expert]
  tensor* ffn_gate_exps = nullptr;   // [n_embd, n_ff_exp, n_expert]
  tensor* ffn_up_exps = nullptr;
  tensor* ffn_down_exps = nullptr;   // [n_ff_exp, n_embd, n_expert]
  tensor* rope_freqs = nullptr;      // rope frequency factors [n_rot / 2] (llama 3), one copy per layer's device
  tensor* rope_long = nullptr;       // phi3 long-context factors
  tensor* rope_short = nullptr;      // phi3 short-context factors
};

struct model_weights {
  tensor* tok_embd = nullptr;        // [n_embd, n_vocab]
  tensor* output_norm = nullptr;
  tensor* output_norm_b = nullptr;
  tensor* output = nullptr;          // [n_embd, n_vocab]; a second view of the embedding when tied
  std::vector<layer_weights> layers;
};

// Where each part of the model lives.
struct placement {
  device* input = nullptr;                // token embedding lookup
  std::vector<device*> layers;            // per layer
  device* output = nullptr;               // output norm + head
};

class model {
 public:
  hparams hp;
  model_weights w;
  placement place;
  std::unique_ptr<gguf::file> file;
  std::string path;
  std::unique_ptr<vocab> voc;   // the tokenizer (tokenizer.ggml.*)
  std::string chat_template;    // tokenizer.chat_template ("" when the file has none)

  // All weight tensors by name (owned here).
  std::deque<tensor>& tensors() { return tensors_; }
  tensor* find(const std::string& name);
  std::vector<std::unique_ptr<buffer>>& buffers() { return buffers_; }
  // Bytes of weights held per device.
  std::vector<std::pair<device*, uint64_t>> weight_bytes() const;
  uint64_t n_params() const;

 private:
  std::deque<tensor> tensors_;
  std::vector<std::unique_ptr<buffer>> buffers_;
};

}  // namespace hearth
