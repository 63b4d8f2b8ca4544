// hearth rm MODEL: removes a model (all parts of a split set) from Hearth's library.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "apps/hearth/command.h"
#include "core/error.h"
#include "hub/library.h"
#include "hub/progress.h"

namespace hearth::cli {
namespace {

class rm_command : public command {
 public:
  const char* name() const override { return "rm"; }
  const char* help() const override { return "Remove a model from the library"; }
  void setup(CLI::App& app) override {
    app.add_option("model", model_, "Model name (as 'hearth ls' shows it) or path")->required();
    app.add_flag("-y,--yes", yes_, "Do not ask for confirmation");
  }

  int run() override {
    const auto where = hub::library_locations::from_env();
    hub::list_options lo;
    lo.read_metadata = false;
    const hub::model_entry m = hub::find_model(where, model_, lo);
    if (!yes_) {
      if (!isatty(STDIN_FILENO)) fail(error_kind::invalid_argument, "not removing {} without confirmation: pass -y", m.name);
      std::fprintf(stderr, "Remove %s (%s, %zu file%s)? [y/N] ", m.name.c_str(), hub::format_bytes(m.size_bytes).c_str(),
                   m.files.size(), m.files.size() == 1 ? "" : "s");
      std::string answer;
      std::getline(std::cin, answer);
      if (answer != "y" && answer != "Y" && answer != "yes") {
        std::fprintf(stderr, "kept\n");
        return 1;
      }
    }
    for (const auto& p : hub::remove_model(where, m)) std::printf("removed %s\n", p.c_str());
    return 0;
  }

 private:
  std::string model_;
  bool yes_ = false;
};

}  // namespace
HEARTH_COMMAND(rm_command);
}  // namespace hearth::cli
