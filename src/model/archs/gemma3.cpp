// Gemma 3: the Gemma 2 layer without soft-capping, plus per-head q/k RMSNorm; local (sliding-window)
// layers use their own RoPE base (10000 unless the file says otherwise), global layers the main one.
#include "core/error.h"
#include "model/archs/archs.h"

namespace hearth {

namespace archs {
void declare_gemma_layer(tensor_declarer& d, const hparams& hp, layer_weights& L, int il);
tensor* build_gemma(graph_builder& b);
}  // namespace archs

namespace {

class gemma3_arch final : public arch_impl {
 public:
  void declare(tensor_declarer& d, const hparams& hp, model_weights& w) const override {
    archs::declare_io(d, hp, w);
    for (int il = 0; il < (int)hp.n_layer; ++il) {
      archs::declare_gemma_layer(d, hp, w.layers[il], il);
      if (!w.layers[il].attn_q_norm || !w.layers[il].attn_k_norm)
        fail(error_kind::bad_format, "gemma3: layer {} lacks attn_q_norm / attn_k_norm", il);
    }
  }
  tensor* build(graph_builder& b) const override { return archs::build_gemma(b); }
};

}  // namespace

const arch_impl& arch_gemma3() {
  static const gemma3_arch impl;
  return impl;
}

}  // namespace hearth
