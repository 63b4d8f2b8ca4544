// The hearth CLI's subcommands: one file per subcommand (cmd_<name>.cpp), each registering itself
// with HEARTH_COMMAND so main.cpp never needs editing when a command is added.
#pragma once
#include <CLI/CLI.hpp>

#include <memory>
#include <vector>

namespace hearth::cli {

class command {
 public:
  virtual ~command() = default;
  virtual const char* name() const = 0;
  virtual const char* help() const = 0;
  // Declares options and positionals on the subcommand.
  virtual void setup(CLI::App& app) = 0;
  // Runs after a successful parse; returns the process exit code. Throw hearth::error for failures
  // (main prints "hearth: <message>" and exits 1).
  virtual int run() = 0;
};

std::vector<std::unique_ptr<command>>& registered_commands();

template <typename T> struct registrar {
  registrar() { registered_commands().push_back(std::make_unique<T>()); }
};

}  // namespace hearth::cli

#define HEARTH_COMMAND(type) static ::hearth::cli::registrar<type> hearth_registrar_##type
