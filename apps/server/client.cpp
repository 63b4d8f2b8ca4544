// Native API client for the CLI.
#include "apps/server/client.h"

#include <httplib.h>

#include <charconv>
#include <cstdlib>

#include "core/error.h"

namespace hearth::server {

server_address server_address::parse(const std::string& spec_in) {
  server_address a;
  std::string spec = spec_in;
  if (spec.rfind("http://", 0) == 0) spec = spec.substr(7);
  else if (spec.find("://") != std::string::npos) fail(error_kind::invalid_argument, "'{}': only http:// addresses are supported", spec_in);
  while (!spec.empty() && spec.back() == '/') spec.pop_back();
  if (spec.empty()) fail(error_kind::invalid_argument, "empty server address");
  const size_t colon = spec.rfind(':');
  if (colon != std::string::npos && spec.find(']') == std::string::npos) {
    a.host = spec.substr(0, colon);
    const std::string p = spec.substr(colon + 1);
    int port = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
    if (ec != std::errc() || end != p.data() + p.size() || port <= 0 || port > 65535)
      fail(error_kind::invalid_argument, "'{}': the port must be a number from 1 to 65535", spec_in);
    a.port = port;
  } else {
    a.host = spec;
  }
  if (a.host.empty()) fail(error_kind::invalid_argument, "'{}': no host", spec_in);
  return a;
}

server_address server_address::from_env() {
  server_address a;
  if (const char* h = std::getenv("HEARTH_HOST"); h && *h) a = parse(h);
  if (const char* k = std::getenv("HEARTH_API_KEY"); k && *k) a.api_key = k;
  return a;
}

std::string server_address::url() const { return "http://" + host + ":" + std::to_string(port); }

namespace {

nlohmann::json answer(const server_address& a, const httplib::Result& res, const std::string& path) {
  if (!res) {
    if (res.error() == httplib::Error::Connection)
      fail(error_kind::not_found, "no Hearth server is running at {} (start one with 'hearth serve')", a.url());
    fail(error_kind::io, "request to {}{} failed: {}", a.url(), path, httplib::to_string(res.error()));
  }
  nlohmann::json j = nlohmann::json::parse(res->body, nullptr, false);
  if (res->status >= 400) {
    if (j.is_object() && j.contains("error") && j["error"].is_object() && j["error"].contains("message"))
      fail(res->status == 404 ? error_kind::not_found : error_kind::invalid_argument, "{}", j["error"]["message"].get<std::string>());
    fail(error_kind::io, "{}{} answered HTTP {}", a.url(), path, res->status);
  }
  if (j.is_discarded()) fail(error_kind::bad_format, "{}{} did not answer JSON: is it a Hearth server?", a.url(), path);
  return j;
}

httplib::Headers headers(const server_address& a) {
  httplib::Headers h;
  if (!a.api_key.empty()) h.emplace("Authorization", "Bearer " + a.api_key);
  return h;
}

}  // namespace

nlohmann::json api_client::get(const std::string& path, int timeout_s) const {
  httplib::Client c(a_.host, a_.port);
  c.set_connection_timeout(3);
  c.set_read_timeout(timeout_s);
  return answer(a_, c.Get(path, headers(a_)), path);
}

nlohmann::json api_client::post(const std::string& path, const nlohmann::json& body, int timeout_s) const {
  httplib::Client c(a_.host, a_.port);
  c.set_connection_timeout(3);
  c.set_read_timeout(timeout_s);
  return answer(a_, c.Post(path, headers(a_), body.dump(), "application/json"), path);
}

bool api_client::reachable() const {
  try {
    auto j = get("/api/health", 5);
    return j.is_object() && j.contains("status");
  } catch (const hearth::error&) {
    return false;
  }
}

}  // namespace hearth::server
