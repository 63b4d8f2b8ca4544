// The architecture interface: each supported architecture (one file in this folder) declares the
// tensors it needs and builds its forward graph from the blocks in model/graph_builder.h.
#pragma once
#include <initializer_list>
#include <string>

#include "model/graph_builder.h"
#include "model/model.h"

namespace hearth {

// Where a declared tensor goes: the input side (token embedding), a layer, or the output head.
constexpr int place_input = -1;
constexpr int place_output = -2;

class tensor_declarer {
 public:
  virtual ~tensor_declarer() = default;
  // The tensor `name` with shape ne, placed with layer il (or place_input / place_output).
  // Missing: an error naming it when required, nullptr otherwise. A shape that differs from ne is
  // always an error. The same file tensor may be declared at several places (it is then loaded
  // once per device, e.g. a tied embedding used as the output head on a GPU).
  virtual tensor* need(const std::string& name, std::initializer_list<int64_t> ne, int il, bool required = true) = 0;
  bool has(const std::string& name) const { return has_tensor(name); }

 protected:
  virtual bool has_tensor(const std::string& name) const = 0;
};

class arch_impl {
 public:
  virtual ~arch_impl() = default;
  virtual void declare(tensor_declarer& d, const hparams& hp, model_weights& w) const = 0;
  // Builds the forward graph; returns the logits [n_vocab, n_outputs].
  virtual tensor* build(graph_builder& b) const = 0;
};

const arch_impl& arch_for(arch a);

// Shared pieces of the common decoder-only families (archs/common.cpp).
namespace archs {
std::string blk(int il, const char* what);  // "blk.<il>.<what>.weight"
std::string blk_bias(int il, const char* what);
// token_embd, output_norm, output (tied to token_embd when absent).
void declare_io(tensor_declarer& d, const hparams& hp, model_weights& w);
// attn_norm, q/k/v/o (+ optional biases and per-head q/k norms), ffn_norm and either a gated FFN
// or mixture-of-experts tensors, and rope frequency factors when the file has them.
void declare_decoder_layer(tensor_declarer& d, const hparams& hp, layer_weights& L, int il);
// Pre-norm decoder: x += attn(norm(x)); x += ffn(norm(x)) (MoE where the layer has experts).
tensor* build_prenorm_decoder(graph_builder& b);

// An architecture that is exactly the common decoder: the family's differences (RoPE type, biases,
// tied head, experts) come from hparams and from which tensors the file has.
class prenorm_decoder final : public arch_impl {
 public:
  void declare(tensor_declarer& d, const hparams& hp, model_weights& w) const override {
    declare_io(d, hp, w);
    for (int il = 0; il < (int)hp.n_layer; ++il) declare_decoder_layer(d, hp, w.layers[il], il);
  }
  tensor* build(graph_builder& b) const override { return build_prenorm_decoder(b); }
};
}  // namespace archs

}  // namespace hearth
