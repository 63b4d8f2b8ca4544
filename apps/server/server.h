// `hearth serve`: the HTTP server. OpenAI-compatible (/v1/models, /v1/chat/completions,
// /v1/completions), Anthropic-compatible (/v1/messages) and the native API (/api/...,
// /metrics), on cpp-httplib, with API keys, a CORS allow-list, body size limits and graceful
// shutdown. The engine (engine.h) owns the models; this file owns HTTP.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "apps/server/engine.h"

namespace httplib {
class Server;
}

namespace hearth::server {

struct route_context;

struct server_options {
  std::string host = "127.0.0.1";
  int port = 11435;                       // 0: any free port (see http_server::port())
  std::vector<std::string> api_keys;      // empty: no authentication
  std::vector<std::string> cors_origins;  // empty: no CORS headers; "*": any origin
  size_t max_body_bytes = 16u << 20;
  int http_threads = 0;                   // 0: enough for every slot and queue place
  double shutdown_timeout_s = 10;         // running generations get this long to finish on shutdown
  std::string web_root;                   // serve these files at / (the web UI); "" for none
};

class http_server {
 public:
  http_server(server_options opt, engine& eng);
  ~http_server();
  // Binds the socket (throws hearth::error when it cannot); returns the port.
  int bind();
  // Serves until stop(); returns once every connection has finished.
  void run();
  // From any thread (a signal watcher): stop accepting, let running generations finish within
  // shutdown_timeout_s, then cancel them.
  void stop();
  int port() const { return port_; }

 private:
  struct shutdown_state;
  void setup_routes();
  server_options opt_;
  engine& eng_;
  std::unique_ptr<httplib::Server> svr_;
  std::unique_ptr<shutdown_state> st_;
  std::unique_ptr<route_context> ctx_;
  int port_ = 0;
};

}  // namespace hearth::server
