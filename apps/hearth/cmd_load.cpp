// hearth load: asks a running server to load a model (with its context size, offload, slots, TTL).
#include <cstdio>
#include <filesystem>
#include <optional>

#include "apps/hearth/cli_model_args.h"
#include "apps/hearth/cli_plan.h"
#include "apps/hearth/cli_server_args.h"
#include "apps/hearth/command.h"
#include "core/error.h"
#include "hub/progress.h"

namespace hearth::cli {
namespace {

class load_command : public command {
 public:
  const char* name() const override { return "load"; }
  const char* help() const override { return "Load a model into a running server"; }
  void setup(CLI::App& app) override {
    srv_.add_to(app);
    app.add_option("MODEL", model_, "Library model name or GGUF path (as the server sees it)")->required();
    app.add_option("--id", id_, "Name clients will use for it (default: the library name, or the file's stem)");
    app.add_option("-c,--ctx-size", ctx_, "Context length in tokens (default: the server's)")->check(CLI::Range(0, 1 << 24));
    app.add_option("--gpu-layers,--ngl", gpu_layers_, "Layers on the GPU: a number, 'all' or 'auto'");
    app.add_option("--device", device_, "Device: cpu, vulkan[:N], cuda[:N], rocm[:N] or auto");
    app.add_option("-t,--threads", threads_, "CPU threads (0: one per physical core)")->check(CLI::Range(0, 1024));
    app.add_option("--parallel", parallel_, "Generation slots")->check(CLI::Range(1, 64));
    app.add_option("--ttl", ttl_, "Unload after this many idle seconds (0: never)")->check(CLI::Range((int64_t)0, (int64_t)1 << 31));
    app.add_flag("--estimate", estimate_, "Only print the offload plan (layers and memory per device) here; no server needed");
    app.add_option("--cache-type", cache_type_, "KV cache storage for --estimate: f16 or f32")->check(CLI::IsMember({"f16", "f32"}));
    app.add_flag("--json", json_, "Print JSON (the server's answer, or the plan)");
  }
  int run() override {
    if (estimate_) return estimate();
    nlohmann::json body = {{"model", model_}};
    // A relative path means the caller's folder; the server may run elsewhere.
    std::error_code ec;
    if (std::filesystem::is_regular_file(model_, ec)) body["model"] = std::filesystem::absolute(model_).string();
    if (!id_.empty()) body["id"] = id_;
    if (ctx_) body["n_ctx"] = *ctx_;
    if (!gpu_layers_.empty()) {
      if (gpu_layers_ == "auto" || gpu_layers_ == "all") body["n_gpu_layers"] = gpu_layers_;
      else {
        try {
          size_t used = 0;
          const int n = std::stoi(gpu_layers_, &used);
          if (used != gpu_layers_.size() || n < 0) throw std::invalid_argument(gpu_layers_);
          body["n_gpu_layers"] = n;
        } catch (const std::exception&) {
          fail(error_kind::invalid_argument, "--gpu-layers must be a number, 'auto' or 'all', not '{}'", gpu_layers_);
        }
      }
    }
    if (!device_.empty()) body["device"] = device_;
    if (threads_) body["n_threads"] = *threads_;
    if (parallel_) body["n_parallel"] = *parallel_;
    if (ttl_) body["ttl_s"] = *ttl_;
    const auto j = srv_.client().post("/api/load", body);
    if (json_) {
      std::printf("%s\n", j.dump(2).c_str());
      return 0;
    }
    const auto& m = j.at("model");
    std::printf("loaded %s as '%s': %d tokens of context, %s\n", m.at("path").get<std::string>().c_str(), m.at("id").get<std::string>().c_str(),
                m.value("n_ctx", 0), hub::format_bytes(m.value("memory_bytes", (uint64_t)0)).c_str());
    return 0;
  }

 private:
  // The planner's view of this load on this machine.
  int estimate() {
    model_args a;
    a.model = model_;
    a.ctx_size = ctx_ ? (uint32_t)*ctx_ : 0;
    a.device_name = device_ == "auto" ? "" : device_;
    a.gpu_layers = gpu_layers_.empty() ? "auto" : gpu_layers_;
    a.cache_type = cache_type_;
    const load_params lp = a.loading();
    const int n = a.gpu_layers == "auto" || a.gpu_layers == "all" ? -1 : lp.n_gpu_layers;
    const offload_plan p = a.plan(lp.gpus, a.gpu_layers == "all" ? (int)open_model(a.resolve_path())->hp.n_layer : n);
    if (json_) std::printf("%s\n", plan_to_json(p).dump(2).c_str());
    else std::fputs(format_plan(p).c_str(), stdout);
    return p.fits ? 0 : 1;
  }

  server_args srv_;
  std::string cache_type_ = "f16";
  bool estimate_ = false;
  std::string model_, id_, gpu_layers_, device_;
  std::optional<int> ctx_, threads_, parallel_;
  std::optional<int64_t> ttl_;
  bool json_ = false;
};

}  // namespace
HEARTH_COMMAND(load_command);
}  // namespace hearth::cli
