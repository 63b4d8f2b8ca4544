// A small client of the native API, for the CLI commands that talk to a running `hearth serve`
// (ls, ps, load, unload). The address comes from --host / HEARTH_HOST; the key from HEARTH_API_KEY.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace hearth::server {

struct server_address {
  std::string host = "127.0.0.1";
  int port = 11435;
  std::string api_key;
  // HEARTH_HOST ("host", "host:port" or "http://host:port") and HEARTH_API_KEY.
  static server_address from_env();
  // Parses "host", "host:port", "http://host:port[/]"; throws hearth::error on anything else.
  static server_address parse(const std::string& spec);
  std::string url() const;
};

class api_client {
 public:
  explicit api_client(server_address a) : a_(std::move(a)) {}
  // Throws hearth::error: "no Hearth server at http://...: start one with 'hearth serve'" when
  // nothing listens, or the server's own error message for a 4xx/5xx answer.
  nlohmann::json get(const std::string& path, int timeout_s = 30) const;
  nlohmann::json post(const std::string& path, const nlohmann::json& body, int timeout_s = 600) const;
  // True when a Hearth server answers /api/health.
  bool reachable() const;
  const server_address& address() const { return a_; }

 private:
  server_address a_;
};

}  // namespace hearth::server
