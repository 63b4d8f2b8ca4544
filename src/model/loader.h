// Loads a GGUF model: reads the hyperparameters, lets the architecture declare its tensors
// (validating names, shapes and types against the file), decides which device holds each layer,
// and places the weights (zero-copy mmap views for the CPU, uploads for GPUs).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "model/model.h"

namespace hearth {

struct load_params {
  std::vector<device*> gpus;    // devices to offload to, in order; empty: CPU only
  int n_gpu_layers = 0;         // repeating layers on the GPUs (the last ones); < 0: all
  bool gpu_input = true;        // with every layer on the GPUs, the token embeddings too (if it can look them up)
  bool use_mmap = true;
  std::function<void(float)> progress;  // 0..1 while uploading
};

// Throws hearth::error naming the problem: missing file, not GGUF, unknown architecture, missing
// or misshapen tensor, unsupported tensor type, out of memory on a device.
std::unique_ptr<model> load_model(const std::string& path, const load_params& params);
// load_model, bringing the token embeddings and then layers back to the CPU while an allocation on
// a GPU still fails (the planner works from the free memory the driver reports).
std::unique_ptr<model> load_model_retrying(const std::string& path, load_params params);

// Reads a model's header (hyperparameters, vocabulary size) without its vocabulary or weights.
std::unique_ptr<model> open_model(const std::string& path);
// The model's weights declared under placement p on placeholder buffers (one per device, sized as
// the loader would allocate): what the planner measures, with nothing read or allocated.
std::unique_ptr<model> load_shape(const std::string& path, const placement& p);

// Where layers go for a given offload: the last n_gpu layers on the GPUs (split evenly when there
// are several), the output head with the last layer, the embedding lookup on the CPU.
// gpu_input: with every layer offloaded, the token embeddings go to the first layer's GPU as well
// (the decode graph then has no CPU part: no split, no copy per token).
placement plan_placement(uint32_t n_layer, device* cpu, const std::vector<device*>& gpus, int n_gpu_layers, bool gpu_input = false);
// Whether dev can look up rows of model m's token embeddings (get_rows of their type).
bool can_embed_on(const model& m, device* dev);

}  // namespace hearth
