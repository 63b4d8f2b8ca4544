// Options of the subcommands that talk to a running `hearth serve` (ps, load, unload, ls):
// --host (default HEARTH_HOST, else 127.0.0.1:11435) and --api-key (default HEARTH_API_KEY).
#pragma once
#include <CLI/CLI.hpp>

#include <string>

#include "apps/server/client.h"
#include "core/error.h"

namespace hearth::cli {

struct server_args {
  std::string host;
  std::string api_key;
  void add_to(CLI::App& app) {
    app.add_option("--host", host, "Server address, host[:port] (default: $HEARTH_HOST, else 127.0.0.1:11435)");
    app.add_option("--api-key", api_key, "API key of the server (default: $HEARTH_API_KEY)");
  }
  server::api_client client() const {
    server::server_address a = server::server_address::from_env();
    if (!host.empty()) {
      const std::string key = a.api_key;
      a = server::server_address::parse(host);
      a.api_key = key;
    }
    if (!api_key.empty()) a.api_key = api_key;
    return server::api_client(a);
  }
};

// --gpu-layers as the engine's load setting: "auto" -2, "all" -1, else the number.
inline int gpu_layers_setting(const std::string& s) {
  if (s == "auto") return -2;
  if (s == "all") return -1;
  try {
    size_t used = 0;
    const int n = std::stoi(s, &used);
    if (used == s.size() && n >= 0) return n;
  } catch (const std::exception&) {
  }
  fail(error_kind::invalid_argument, "--gpu-layers must be a number, 'auto' or 'all', not '{}'", s);
}

}  // namespace hearth::cli
