// hearth ls: the models Hearth can run, from its own library and from LM Studio's and Ollama's.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "apps/hearth/cli_server_args.h"
#include "apps/hearth/command.h"
#include "core/error.h"
#include "hub/library.h"
#include "hub/progress.h"

namespace hearth::cli {
namespace {

class ls_command : public command {
 public:
  const char* name() const override { return "ls"; }
  const char* help() const override { return "List local models (Hearth's library, LM Studio, Ollama)"; }
  void setup(CLI::App& app) override {
    app.add_flag("--json", json_, "Print JSON");
    app.add_option("--source", source_, "Only this store: hearth, lmstudio or ollama")
        ->check(CLI::IsMember({"hearth", "lmstudio", "ollama"}));
    srv_.add_to(app);
    app.get_option("--host")->description("Server whose loaded models are marked (default: $HEARTH_HOST, else 127.0.0.1:11435)");
  }

  int run() override {
    hub::list_options lo;
    if (!source_.empty()) lo.hearth = source_ == "hearth", lo.lmstudio = source_ == "lmstudio", lo.ollama = source_ == "ollama";
    auto where = hub::library_locations::from_env();
    auto models = hub::list_models(where, lo);
    // A running server reports what it has loaded; without one nothing is.
    std::set<std::string> loaded;
    try {
      const auto ps = srv_.client().get("/api/ps", 5);
      for (const auto& m : ps.at("models")) loaded.insert(m.at("path").get<std::string>());
    } catch (const std::exception&) {
    }
    hub::mark_loaded(models, loaded);
    if (json_) {
      auto arr = nlohmann::ordered_json::array();
      for (const auto& m : models) arr.push_back(hub::to_json(m));
      std::printf("%s\n", arr.dump(2).c_str());
      return 0;
    }
    if (models.empty()) {
      std::fprintf(stderr, "no models in %s (get one with 'hearth get owner/repo')\n", where.root.c_str());
      return 0;
    }
    size_t w = 4;
    for (const auto& m : models) w = std::max(w, m.name.size());
    w = std::min<size_t>(w, 70);
    std::printf("%-*s  %-8s  %-10s  %7s  %-9s  %9s  %7s\n", (int)w, "NAME", "SOURCE", "ARCH", "PARAMS", "QUANT", "SIZE", "CTX");
    for (const auto& m : models) {
      const auto& i = m.info;
      std::printf("%-*s  %-8s  %-10s  %7s  %-9s  %9s  %7s\n", (int)w, m.name.c_str(), m.source.c_str(),
                  i.architecture.empty() ? "-" : i.architecture.c_str(), i.n_params ? hub::format_count(i.n_params).c_str() : "-",
                  i.quantization.empty() ? "-" : i.quantization.c_str(), hub::format_bytes(m.size_bytes).c_str(),
                  i.context_length ? std::to_string(i.context_length).c_str() : "-");
      if (m.loaded) std::printf("%*s  (loaded in the server)\n", (int)w, "");
      if (!m.error.empty()) std::printf("%*s  ! %s\n", (int)w, "", m.error.c_str());
    }
    return 0;
  }

 private:
  bool json_ = false;
  std::string source_;
  server_args srv_;
};

}  // namespace
HEARTH_COMMAND(ls_command);
}  // namespace hearth::cli
