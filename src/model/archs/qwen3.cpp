// Qwen3 (dense): the llama decoder with per-head RMSNorm on q and k before RoPE, NeoX RoPE.
#include "core/error.h"
#include "model/archs/archs.h"

namespace hearth {
namespace {

class qwen3_arch final : public arch_impl {
 public:
  void declare(tensor_declarer& d, const hparams& hp, model_weights& w) const override {
    archs::declare_io(d, hp, w);
    for (int il = 0; il < (int)hp.n_layer; ++il) archs::declare_decoder_layer(d, hp, w.layers[il], il);
    for (int il = 0; il < (int)hp.n_layer; ++il)
      if (!w.layers[il].attn_q_norm || !w.layers[il].attn_k_norm)
        fail(error_kind::bad_format, "qwen3: layer {} lacks attn_q_norm / attn_k_norm", il);
  }
  tensor* build(graph_builder& b) const override { return archs::build_prenorm_decoder(b); }
};

}  // namespace

const arch_impl& arch_qwen3() {
  static const qwen3_arch impl;
  return impl;
}

}  // namespace hearth
