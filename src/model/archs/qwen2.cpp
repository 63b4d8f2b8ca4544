// Qwen2 / Qwen2.5: the llama decoder with q/k/v biases, NeoX RoPE and a tied output head when the file has no output.weight.
#include "model/archs/archs.h"

namespace hearth {
namespace {

class qwen2_arch final : public arch_impl {
 public:
  void declare(tensor_declarer& d, const hparams& hp, model_weights& w) const override {
    archs::declare_io(d, hp, w);
    for (int il = 0; il < (int)hp.n_layer; ++il) archs::declare_decoder_layer(d, hp, w.layers[il], il);
  }
  tensor* build(graph_builder& b) const override { return archs::build_prenorm_decoder(b); }
};

}  // namespace

const arch_impl& arch_qwen2() {
  static const qwen2_arch impl;
  return impl;
}

}  // namespace hearth
