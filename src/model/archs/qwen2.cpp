// Qwen2 / Qwen2.5: the llama decoder with q/k/v biases, NeoX RoPE and a tied output head when the file has no output.weight.
#include "model/archs/archs.h"

namespace hearth {

const arch_impl& arch_qwen2() {
  static const archs::prenorm_decoder impl;
  return impl;
}

}  // namespace hearth
