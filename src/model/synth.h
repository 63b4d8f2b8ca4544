// Synthetic random-weight models of real shapes (Llama 3.x, Qwen 2.5 / 3, Mistral), for benchmarks
// and tests: the exact hyperparameters, tensor names and shapes of the real models, llama-quantize's
// type mix for each file type, seeded random weights and a small valid SPM vocabulary.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"

namespace hearth::synth {

struct model_shape {
  std::string name;            // "llama-3.2-1b"
  std::string arch;            // general.architecture
  uint32_t n_vocab = 0;
  uint32_t n_ctx = 0;          // training context
  uint32_t n_embd = 0;
  uint32_t n_layer = 0;
  uint32_t n_head = 0;
  uint32_t n_head_kv = 0;
  uint32_t head_dim = 0;
  uint32_t n_ff = 0;
  float rope_base = 10000.0f;
  float rms_eps = 1e-5f;
  bool tied_output = false;    // no output.weight: the head reads token_embd
  bool qkv_bias = false;       // qwen2
  bool qk_norm = false;        // qwen3
  float llama3_rope_factor = 0; // > 0: llama-3 rope scaling, stored as the rope_freqs tensor
};

// The built-in shapes (names as in shape_names()); nullptr when unknown.
const model_shape* find_shape(std::string_view name);
std::vector<std::string> shape_names();

// A file type as llama-quantize names it ("q4_k_m", "q4_0", "f16", ...): its general.file_type id
// and the type most tensors get.
struct file_type {
  const char* name;
  uint32_t id;
  dtype base;
};
const file_type* find_file_type(std::string_view name);  // case-insensitive
std::vector<std::string> file_type_names();

// What the type mix depends on besides the tensor itself.
struct mix_info {
  uint32_t n_layer = 0;
  bool has_output = true;   // false when the head is tied to token_embd
  uint32_t n_expert = 0;
  uint32_t n_gqa = 1;       // query heads per kv head
};

// The type llama-quantize (no importance matrix) gives tensor `name` with rows of ne0 elements and
// n_dims dimensions for file type ft; pure: every matrix in the base type, as --pure. 1-D tensors
// stay F32; K-quant rows that are not a multiple of 256 fall back as llama.cpp does.
dtype tensor_type(const file_type& ft, const mix_info& mi, const std::string& name, int64_t ne0, int n_dims, bool pure);

struct options {
  model_shape shape;
  std::string type = "q4_k_m";
  bool pure = false;
  uint64_t seed = 1;
  int n_threads = 0;  // 0: all hardware threads
};

struct tensor_plan {
  std::string name;
  dtype type;
  int n_dims;
  int64_t ne[4];
};
// The tensors of the model in file order, with their types.
std::vector<tensor_plan> plan_tensors(const options& o);

struct write_result {
  uint64_t file_bytes = 0;
  uint64_t n_params = 0;
  double seconds = 0;
};
// Writes the model to path (atomically: a temporary name renamed into place). Throws hearth::error.
write_result write_model(const std::string& path, const options& o);

}  // namespace hearth::synth
