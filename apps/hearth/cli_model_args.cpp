#include "apps/hearth/cli_model_args.h"

#include <unistd.h>

#include <charconv>
#include <filesystem>

#include "backend/registry.h"
#include "backends/init.h"
#include "core/error.h"
#include "core/log.h"
#include "hub/library.h"
#include "model/planner.h"

namespace hearth::cli {

namespace fs = std::filesystem;

std::string bundled_model_path() {
  if (const char* env = std::getenv("HEARTH_DEFAULT_MODEL"); env && *env) return env;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> candidates;
  if (!ec) {
    candidates.push_back(exe.parent_path() / "../share/hearth/models/stories260K.gguf");
    candidates.push_back(exe.parent_path() / "models/stories260K.gguf");
  }
  candidates.push_back(fs::path(HEARTH_SOURCE_DIR) / "models/stories260K.gguf");
  for (const auto& c : candidates)
    if (fs::exists(c, ec)) return fs::weakly_canonical(c, ec).string();
  fail(error_kind::not_found, "no model given and the bundled model (stories260K.gguf) is not installed; pass a GGUF file or a library name");
}

void model_args::add_to(CLI::App& app, bool model_required) {
  auto* m = app.add_option("MODEL", model, "GGUF file or library model name (default: the bundled stories260K)");
  if (model_required) m->required();
  app.add_option("-c,--ctx-size", ctx_size, "Context length in tokens (default: the model's, at most 4096)")->check(CLI::Range(0u, 1u << 20));
  app.add_option("-b,--batch-size", batch_size, "Largest prompt batch per graph")->check(CLI::Range(1u, 8192u));
  app.add_option("-t,--threads", threads, "CPU threads (default: one per physical core)")->check(CLI::Range(0, 1024));
  app.add_option("--device,--backend", device_name,
                 "Device to offload to: cpu, vulkan[:N], cuda[:N], rocm[:N] or a name (default: the best GPU found)");
  app.add_option("--gpu-layers,--ngl", gpu_layers, "Layers on the GPU: a number, 'all' or 'auto' (what fits)");
  app.add_option("--cache-type", cache_type, "KV cache storage: f16 or f32")->check(CLI::IsMember({"f16", "f32"}));
}

std::string model_args::resolve_path() const {
  if (model.empty()) return bundled_model_path();
  std::error_code ec;
  if (fs::is_regular_file(model, ec)) return model;
  if (model.find('/') != std::string::npos && model.ends_with(".gguf")) fail(error_kind::not_found, "{}: no such file", model);
  return hub::find_model(hub::library_locations::from_env(), model).path;
}

load_params model_args::loading() const {
  int n_layers = -1;  // auto and all: every layer (the planner trims auto to what fits)
  if (gpu_layers != "all" && gpu_layers != "auto") {
    auto [p, e] = std::from_chars(gpu_layers.data(), gpu_layers.data() + gpu_layers.size(), n_layers);
    if (e != std::errc() || p != gpu_layers.data() + gpu_layers.size() || n_layers < 0)
      fail(error_kind::invalid_argument, "--gpu-layers must be a number, 'auto' or 'all', not '{}'", gpu_layers);
  }
  const bool want_gpu = device_name != "cpu";
  init_backends(want_gpu);
  load_params lp;
  auto& reg = registry::instance();
  if (!want_gpu) return lp;
  hearth::device* gpu = nullptr;
  if (!device_name.empty()) {
    gpu = reg.find(device_name);
    if (!gpu) {
      std::string why;
      for (const auto& msg : reg.messages()) why += "; " + msg;
      fail(error_kind::not_found, "device '{}' not found{}", device_name, why);
    }
    if (gpu->kind() == device_kind::cpu) gpu = nullptr;
  } else {
    gpu = reg.first_gpu();
  }
  if (!gpu) return lp;
  lp.gpus = {gpu};
  lp.n_gpu_layers = n_layers;
  if (gpu_layers == "auto") {
    const offload_plan p = plan(lp.gpus, -1);
    lp.n_gpu_layers = p.n_gpu_layers;
    lp.gpu_input = p.gpu_input;
    if (!p.note.empty()) log_info("{}: {}", gpu->name(), p.note);
  }
  return lp;
}

offload_plan model_args::plan(const std::vector<hearth::device*>& gpus, int n_gpu_layers) const {
  plan_request req;
  req.path = resolve_path();
  req.n_ctx = ctx_size;
  req.n_batch = batch_size;
  req.type_k = req.type_v = cache_type == "f32" ? dtype::f32 : dtype::f16;
  req.gpus = gpus;
  req.n_gpu_layers = n_gpu_layers;
  return plan_offload(req);
}

context_params model_args::context() const {
  context_params cp;
  cp.n_ctx = ctx_size;
  cp.n_batch = batch_size;
  cp.n_threads = threads;
  cp.type_k = cp.type_v = cache_type == "f32" ? dtype::f32 : dtype::f16;
  return cp;
}

std::unique_ptr<hearth::model> model_args::load() const {
  const std::string path = resolve_path();
  return load_model_retrying(path, loading());
}

}  // namespace hearth::cli
