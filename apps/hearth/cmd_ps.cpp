// hearth ps: the models a running server has loaded, with their memory use.
#include <cstdio>

#include "apps/hearth/cli_server_args.h"
#include "apps/hearth/command.h"
#include "hub/progress.h"

namespace hearth::cli {
namespace {

class ps_command : public command {
 public:
  const char* name() const override { return "ps"; }
  const char* help() const override { return "List the models a running server has loaded (memory, context, idle time)"; }
  void setup(CLI::App& app) override {
    srv_.add_to(app);
    app.add_flag("--json", json_, "Print the server's JSON");
  }
  int run() override {
    const auto j = srv_.client().get("/api/ps");
    if (json_) {
      std::printf("%s\n", j.dump(2).c_str());
      return 0;
    }
    const auto& models = j.at("models");
    if (models.empty()) {
      std::printf("no models loaded (load one with 'hearth load MODEL', or name it in a request)\n");
      return 0;
    }
    size_t w = 2;
    for (const auto& m : models) w = std::max(w, m.at("id").get<std::string>().size());
    std::printf("%-*s  %10s  %-14s  %6s  %5s  %6s  %s\n", (int)w, "ID", "MEMORY", "DEVICES", "CTX", "SLOTS", "IDLE", "LOADED BY");
    for (const auto& m : models) {
      std::string devs;
      for (const auto& d : m.at("memory")) devs += (devs.empty() ? "" : ",") + d.at("device").get<std::string>();
      const int active = m.value("active", 0), waiting = m.value("waiting", 0);
      const std::string slots = std::to_string(active) + "/" + std::to_string(m.at("settings").value("n_parallel", 1)) +
                                (waiting ? "+" + std::to_string(waiting) : "");
      std::printf("%-*s  %10s  %-14s  %6d  %5s  %5.0fs  %s\n", (int)w, m.at("id").get<std::string>().c_str(),
                  hub::format_bytes(m.value("memory_bytes", (uint64_t)0)).c_str(), devs.c_str(), m.value("n_ctx", 0), slots.c_str(),
                  m.value("idle_s", 0.0), m.value("jit", false) ? "request" : "load");
    }
    return 0;
  }

 private:
  server_args srv_;
  bool json_ = false;
};

}  // namespace
HEARTH_COMMAND(ps_command);
}  // namespace hearth::cli
