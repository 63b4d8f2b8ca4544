// Llama family (Llama 2/3, Mistral, TinyLlama, stories; Mixtral-style experts when the file has them): pre-norm decoder, SwiGLU, normal RoPE, optional rope frequency factors.
#include "model/archs/archs.h"

namespace hearth {
namespace {

class llama_arch final : public arch_impl {
 public:
  void declare(tensor_declarer& d, const hparams& hp, model_weights& w) const override {
    archs::declare_io(d, hp, w);
    for (int il = 0; il < (int)hp.n_layer; ++il) archs::declare_decoder_layer(d, hp, w.layers[il], il);
  }
  tensor* build(graph_builder& b) const override { return archs::build_prenorm_decoder(b); }
};

}  // namespace

const arch_impl& arch_llama() {
  static const llama_arch impl;
  return impl;
}

}  // namespace hearth
