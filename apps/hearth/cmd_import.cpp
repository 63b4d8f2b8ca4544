// hearth import PATH: brings an existing GGUF file (or split set) into Hearth's library.
#include <cstdio>

#include "apps/hearth/command.h"
#include "hub/library.h"

namespace hearth::cli {
namespace {

class import_command : public command {
 public:
  const char* name() const override { return "import"; }
  const char* help() const override { return "Add an existing GGUF file to the library (copy by default)"; }
  void setup(CLI::App& app) override {
    app.add_option("path", path_, "GGUF file (any part of a split set brings the whole set)")->required();
    auto* c = app.add_flag("--copy", copy_, "Copy the file (default)");
    auto* l = app.add_flag("--link", link_, "Make a symbolic link to the file");
    auto* m = app.add_flag("--move", move_, "Move the file");
    c->excludes(l)->excludes(m);
    l->excludes(m);
    app.add_option("--as", as_, "Place it as publisher/repo (default local/<file name>)");
  }

  int run() override {
    const auto mode = link_ ? hub::import_mode::link : move_ ? hub::import_mode::move : hub::import_mode::copy;
    for (const auto& p : hub::import_model(hub::library_locations::from_env(), path_, mode, as_)) std::printf("%s\n", p.c_str());
    return 0;
  }

 private:
  std::string path_, as_;
  bool copy_ = false, link_ = false, move_ = false;
};

}  // namespace
HEARTH_COMMAND(import_command);
}  // namespace hearth::cli
