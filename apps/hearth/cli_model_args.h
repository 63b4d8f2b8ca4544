// Options shared by the subcommands that load a model (run, bench, perplexity, chat, serve): which
// model (a path, a library name, or the bundled default), context size, threads, and where the
// layers go (--device, --gpu-layers N|auto|all).
#pragma once
#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "model/context.h"
#include "model/loader.h"
#include "model/planner.h"

namespace hearth::cli {

struct model_args {
  std::string model;              // path or library name; empty: the bundled default model
  uint32_t ctx_size = 0;          // 0: the model's training context, at most 4096
  uint32_t batch_size = 512;
  int threads = 0;                // 0: one per physical core
  std::string device_name;        // "" : the best GPU if any, else the CPU; or "cpu", "vulkan:1", ...
  std::string gpu_layers = "auto";
  std::string cache_type = "f16";

  // Adds the options; the model is a positional argument, optional when a default exists.
  void add_to(CLI::App& app, bool model_required = false);
  // The GGUF file the model argument names (throws not_found with a clear message).
  std::string resolve_path() const;
  load_params loading() const;
  context_params context() const;
  // Loads with the planned offload; an allocation that still fails brings layers back to the CPU.
  std::unique_ptr<hearth::model> load() const;
  // The planner's view of this model and context on gpus (n_gpu_layers -1: as many as fit).
  offload_plan plan(const std::vector<hearth::device*>& gpus, int n_gpu_layers) const;
};

// The model shipped with Hearth (stories260K), looked up beside the program, in the install tree
// and in the source tree; HEARTH_DEFAULT_MODEL overrides.
std::string bundled_model_path();

}  // namespace hearth::cli
