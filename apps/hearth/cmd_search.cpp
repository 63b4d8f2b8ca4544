// hearth search TEXT: GGUF models on Hugging Face matching TEXT, most downloaded first.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "apps/hearth/command.h"
#include "hub/download_manager.h"
#include "hub/hf.h"

namespace hearth::cli {
namespace {

class search_command : public command {
 public:
  const char* name() const override { return "search"; }
  const char* help() const override { return "Search Hugging Face for GGUF models"; }
  void setup(CLI::App& app) override {
    app.add_option("text", text_, "What to look for")->required();
    app.add_option("--limit,-n", limit_, "How many results (default 20)")->check(CLI::Range(1, 1000));
    app.add_flag("--json", json_, "Print JSON");
  }

  int run() override {
    auto hub = hub::hf_client::from_env(hub::transfer_options_from_env().http);
    const auto hits = hub.search(text_, limit_);
    if (json_) {
      auto arr = nlohmann::json::array();
      for (const auto& h : hits) arr.push_back({{"id", h.id}, {"downloads", h.downloads}, {"likes", h.likes}});
      std::printf("%s\n", arr.dump(2).c_str());
      return 0;
    }
    if (hits.empty()) {
      std::fprintf(stderr, "no GGUF models match '%s'\n", text_.c_str());
      return 0;
    }
    size_t w = 2;
    for (const auto& h : hits) w = std::max(w, h.id.size());
    std::printf("%-*s  %10s  %6s\n", (int)w, "ID", "DOWNLOADS", "LIKES");
    for (const auto& h : hits) std::printf("%-*s  %10lld  %6lld\n", (int)w, h.id.c_str(), (long long)h.downloads, (long long)h.likes);
    return 0;
  }

 private:
  std::string text_;
  int limit_ = 20;
  bool json_ = false;
};

}  // namespace
HEARTH_COMMAND(search_command);
}  // namespace hearth::cli
