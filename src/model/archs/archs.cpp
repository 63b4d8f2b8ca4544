// The table from architecture to implementation.
#include "model/archs/archs.h"

namespace hearth {

const arch_impl& arch_llama();
const arch_impl& arch_qwen2();
const arch_impl& arch_qwen3();
const arch_impl& arch_qwen3moe();
const arch_impl& arch_gemma2();
const arch_impl& arch_gemma3();
const arch_impl& arch_phi3();

const arch_impl& arch_for(arch a) {
  switch (a) {
    case arch::llama: return arch_llama();
    case arch::qwen2: return arch_qwen2();
    case arch::qwen3: return arch_qwen3();
    case arch::qwen3moe: return arch_qwen3moe();
    case arch::gemma2: return arch_gemma2();
    case arch::gemma3: return arch_gemma3();
    case arch::phi3: return arch_phi3();
  }
  return arch_llama();
}

}  // namespace hearth
