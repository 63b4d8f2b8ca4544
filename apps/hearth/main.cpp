// hearth: the command-line entry point. Subcommands live in cmd_*.cpp and register themselves.
#include <cstdio>
#include <exception>

#include "apps/hearth/command.h"
#include "core/error.h"

namespace hearth::cli {
std::vector<std::unique_ptr<command>>& registered_commands() {
  static std::vector<std::unique_ptr<command>> commands;
  return commands;
}
}  // namespace hearth::cli

int main(int argc, char** argv) {
  using namespace hearth::cli;
  CLI::App app{"Hearth: run large language models on your own machine", "hearth"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "hearth 0.1.0");
  std::vector<std::pair<CLI::App*, command*>> subs;
  for (auto& c : registered_commands()) subs.emplace_back(app.add_subcommand(c->name(), c->help()), c.get());
  for (auto& [sub, c] : subs) c->setup(*sub);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string sub;
    for (auto& [s, c] : subs)
      if (s->parsed()) sub = std::string(" ") + c->name();
    std::fprintf(stderr, "hearth: %s (see 'hearth%s --help')\n", e.what(), sub.c_str());
    return 2;
  }
  for (auto& [sub, c] : subs) {
    if (!sub->parsed()) continue;
    try {
      return c->run();
    } catch (const hearth::error& e) {
      std::fprintf(stderr, "hearth: %s\n", e.what());
      return 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "hearth: unexpected error: %s\n", e.what());
      return 1;
    }
  }
  return 0;
}
