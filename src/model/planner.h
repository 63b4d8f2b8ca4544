// The offload planner: how many layers of a model fit on the GPU(s) for a context size, before
// anything is loaded. It counts the bytes each device would hold (weights by their real tensor
// types, as the loader places them; the KV cache per layer; the compute buffers) against the
// memory each device can give minus a safety margin.
#pragma once
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/dtype.h"

namespace hearth {

struct plan_request {
  std::string path;              // the GGUF file
  uint32_t n_ctx = 4096;
  uint32_t n_batch = 512;
  dtype type_k = dtype::f16;
  dtype type_v = dtype::f16;
  std::vector<device*> gpus;     // where layers may go (empty: CPU only)
  int n_gpu_layers = -1;         // -1: as many as fit (auto); otherwise evaluate exactly this many
};

struct device_plan {
  device* dev = nullptr;
  int n_layers = 0;              // repeating layers held
  bool output = false;           // holds the output head
  uint64_t weights = 0;          // bytes (on the CPU: mapped from the file, page cache)
  uint64_t kv = 0;
  uint64_t compute = 0;
  uint64_t available = 0;        // free memory minus the safety margin (0: unknown)
  uint64_t total() const { return weights + kv + compute; }
  bool fits() const { return available == 0 || total() <= available; }
};

struct offload_plan {
  int n_layer = 0;               // repeating layers of the model
  int n_gpu_layers = 0;          // chosen (auto) or asked
  bool gpu_input = false;        // the token embeddings on the GPU too (load with load_params::gpu_input)
  bool fits = true;              // every device holds its share
  std::vector<device_plan> devices;  // the CPU first, then each GPU
  std::string note;              // why fewer layers than asked, or what would fit
};

// Throws for an unreadable or unsupported model file.
offload_plan plan_offload(const plan_request& req);
// Memory a device can give Hearth: free bytes minus max(256 MiB, 5 % of its total).
uint64_t usable_memory(const device& dev);

}  // namespace hearth
