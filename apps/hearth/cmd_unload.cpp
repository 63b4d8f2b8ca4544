// hearth unload: asks a running server to unload a model (or all of them).
#include <cstdio>

#include "apps/hearth/cli_server_args.h"
#include "apps/hearth/command.h"
#include "core/error.h"

namespace hearth::cli {
namespace {

class unload_command : public command {
 public:
  const char* name() const override { return "unload"; }
  const char* help() const override { return "Unload a model from a running server"; }
  void setup(CLI::App& app) override {
    srv_.add_to(app);
    app.add_option("MODEL", model_, "Id of the loaded model (see 'hearth ps')");
    app.add_flag("--all", all_, "Unload every model");
  }
  int run() override {
    if (model_.empty() == !all_) fail(error_kind::invalid_argument, "name a model to unload, or pass --all");
    const auto client = srv_.client();
    std::vector<std::string> ids;
    if (all_) {
      const auto ps = client.get("/api/ps");
      for (const auto& m : ps.at("models")) ids.push_back(m.at("id").get<std::string>());
    } else {
      ids.push_back(model_);
    }
    for (const auto& id : ids) {
      const auto j = client.post("/api/unload", {{"model", id}});
      std::printf("unloaded %s\n", j.at("unloaded").get<std::string>().c_str());
    }
    if (ids.empty()) std::printf("no models loaded\n");
    return 0;
  }

 private:
  server_args srv_;
  std::string model_;
  bool all_ = false;
};

}  // namespace
HEARTH_COMMAND(unload_command);
}  // namespace hearth::cli
