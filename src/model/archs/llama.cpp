// Llama family (Llama 2/3, Mistral, TinyLlama, stories; Mixtral-style experts when the file has them): pre-norm decoder, SwiGLU, normal RoPE, optional rope frequency factors.
#include "model/archs/archs.h"

namespace hearth {

const arch_impl& arch_llama() {
  static const archs::prenorm_decoder impl;
  return impl;
}

}  // namespace hearth
