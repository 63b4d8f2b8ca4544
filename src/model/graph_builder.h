// Building blocks shared by the architecture files: inputs of a micro-batch, embeddings, norms,
// attention through the KV cache, feed-forward and mixture-of-experts blocks, and the output head.
// An architecture file composes these into its forward graph.
#pragma once
#include <vector>

#include "core/graph.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/model.h"

namespace hearth {

struct graph_inputs {
  tensor* tokens = nullptr;    // I32 [n_tokens]
  tensor* pos = nullptr;       // I32 [n_tokens]
  tensor* kv_idx = nullptr;    // I32 [n_tokens]: cache rows the new K/V go to
  tensor* mask = nullptr;      // F32 [n_kv, n_tokens]
  tensor* mask_swa = nullptr;  // F32 [n_kv, n_tokens] with the sliding window (if the model has one)
  tensor* out_ids = nullptr;   // I32 [n_outputs]: rows whose logits are computed (null: all)
};

class graph_builder {
 public:
  graph_builder(const model& m, kv_cache& kv, graph& g, int64_t n_tokens, int64_t n_outputs, uint32_t n_kv);

  const model& m;
  const hparams& hp;
  const model_weights& w;
  kv_cache& kv;
  graph& g;
  const int64_t n_tokens;
  const int64_t n_outputs;
  const uint32_t n_kv;
  graph_inputs in;

  tensor* embed();                                    // [n_embd, n_tokens], scaled as the arch wants
  tensor* rms_norm(tensor* x, tensor* weight, const char* name, int il);
  tensor* layer_norm(tensor* x, tensor* weight, tensor* bias, const char* name, int il);
  // Linear layer with optional bias.
  tensor* linear(tensor* weight, tensor* x, tensor* bias = nullptr);
  // RoPE for layer il (chooses base/scale for sliding-window layers and the frequency factors).
  tensor* rope(tensor* x, int il);
  // Stores k/v ([head_dim, n_head_kv, n_tokens]) in the cache and attends q over it.
  // Returns [head_dim_v * n_head, n_tokens], before the output projection.
  tensor* attention(tensor* q, tensor* k, tensor* v, int il, float scale = 0.0f);
  // The standard self-attention block: q/k/v projections (+bias, +per-head norms), rope,
  // attention, output projection.
  tensor* self_attention(tensor* x, int il);
  // Gated feed-forward: down(act(gate x) * up x); gelu selects GeGLU over SwiGLU.
  tensor* ffn(tensor* x, int il, bool gelu = false);
  // Mixture of experts: softmax router, top-k, (renormalised) weighted sum of SwiGLU experts.
  tensor* moe(tensor* x, int il);
  // Keeps only the rows whose logits are wanted (call in the last layer).
  tensor* select_outputs(tensor* x);
  // Output norm, head (and final soft-cap): logits [n_vocab, n_outputs].
  tensor* head(tensor* x);

  void name(tensor* t, const char* n, int il) { t->name = layer_name(n, il); }
};

}  // namespace hearth
