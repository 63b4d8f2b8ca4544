// Phi-3 / Phi-3.5 / Phi-4-mini: fused q/k/v projection, fused gate+up projection (gate first), NeoX
// RoPE with optional long/short frequency factors (LongRoPE), optional sliding window.
#include "model/archs/archs.h"

namespace hearth {
namespace {

class phi3_arch final : public arch_impl {
 public:
  void declare(tensor_declarer& d, const hparams& hp, model_weights& w) const override {
    archs::declare_io(d, hp, w);
    const int64_t n_embd = hp.n_embd, hd = hp.head_dim_k;
    for (int il = 0; il < (int)hp.n_layer; ++il) {
      layer_weights& L = w.layers[il];
      const int64_t n_qkv = hd * hp.n_head + 2 * hd * hp.n_head_kv[il];
      L.attn_norm = d.need(archs::blk(il, "attn_norm"), {n_embd}, il);
      L.wqkv = d.need(archs::blk(il, "attn_qkv"), {n_embd, n_qkv}, il);
      L.wo = d.need(archs::blk(il, "attn_output"), {hd * hp.n_head, n_embd}, il);
      L.ffn_norm = d.need(archs::blk(il, "ffn_norm"), {n_embd}, il);
      L.ffn_up = d.need(archs::blk(il, "ffn_up"), {n_embd, 2 * (int64_t)hp.n_ff[il]}, il);
      L.ffn_down = d.need(archs::blk(il, "ffn_down"), {(int64_t)hp.n_ff[il], n_embd}, il);
      L.rope_long = d.need("rope_factors_long.weight", {hp.n_rot / 2}, il, false);
      L.rope_short = d.need("rope_factors_short.weight", {hp.n_rot / 2}, il, false);
    }
  }
  tensor* build(graph_builder& b) const override { return archs::build_prenorm_decoder(b); }
};

}  // namespace

const arch_impl& arch_phi3() {
  static const phi3_arch impl;
  return impl;
}

}  // namespace hearth
