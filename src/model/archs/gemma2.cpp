// Gemma 2: scaled embeddings, GeGLU, norms after attention and FFN as well as before, attention
// logit soft-capping, sliding-window attention on alternate layers, final logit soft-capping,
// tied output head.
#include "model/archs/archs.h"

namespace hearth {

namespace archs {
// Gemma 2 and 3 share the layer: pre- and post-norms around attention and a GeGLU FFN.
void declare_gemma_layer(tensor_declarer& d, const hparams& hp, layer_weights& L, int il) {
  declare_decoder_layer(d, hp, L, il);
  L.attn_post_norm = d.need(blk(il, "post_attention_norm"), {hp.n_embd}, il);
  L.ffn_post_norm = d.need(blk(il, "post_ffw_norm"), {hp.n_embd}, il);
}

tensor* build_gemma(graph_builder& b) {
  const hparams& hp = b.hp;
  graph& g = b.g;
  tensor* x = b.embed();
  for (int il = 0; il < (int)hp.n_layer; ++il) {
    const layer_weights& L = b.w.layers[il];
    tensor* res = x;
    tensor* h = b.rms_norm(x, L.attn_norm, "attn_norm", il);
    h = b.self_attention(h, il);
    h = b.rms_norm(h, L.attn_post_norm, "attn_post_norm", il);
    if (il == (int)hp.n_layer - 1) {
      h = b.select_outputs(h);
      res = b.select_outputs(res);
    }
    x = g.add(h, res);
    b.name(x, "sa_out", il);
    h = b.rms_norm(x, L.ffn_norm, "ffn_norm", il);
    h = b.ffn(h, il, /*gelu=*/true);
    h = b.rms_norm(h, L.ffn_post_norm, "ffn_post_norm", il);
    x = g.add(h, x);
    b.name(x, "l_out", il);
  }
  return b.head(x);
}
}  // namespace archs

namespace {

class gemma2_arch final : public arch_impl {
 public:
  void declare(tensor_declarer& d, const hparams& hp, model_weights& w) const override {
    archs::declare_io(d, hp, w);
    for (int il = 0; il < (int)hp.n_layer; ++il) archs::declare_gemma_layer(d, hp, w.layers[il], il);
  }
  tensor* build(graph_builder& b) const override { return archs::build_gemma(b); }
};

}  // namespace

const arch_impl& arch_gemma2() {
  static const gemma2_arch impl;
  return impl;
}

}  // namespace hearth
