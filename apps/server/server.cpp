// The HTTP server: httplib setup, authentication, CORS, size limits, error pages, shutdown.
#include "apps/server/server.h"

#include <httplib.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "apps/server/routes.h"
#include "apps/server/web/web_assets.h"
#include "core/error.h"
#include "core/log.h"

namespace hearth::server {

namespace {

api_family family_of(const std::string& path) {
  if (path.rfind("/v1/messages", 0) == 0) return api_family::anthropic;
  if (path.rfind("/v1/", 0) == 0) return api_family::openai;
  return api_family::native;
}

bool is_api_path(const std::string& path) {
  return path.rfind("/v1/", 0) == 0 || path.rfind("/api/", 0) == 0 || path == "/metrics" || path == "/v1";
}

// Endpoint label for metrics: known routes as themselves, everything else lumped together.
std::string endpoint_label(const std::string& path) {
  static const char* known[] = {"/api/plan", "/api/doctor", "/api/hub/search", "/api/hub/files", "/api/hub/downloads", "/v1/models",  "/v1/chat/completions", "/v1/completions", "/v1/messages", "/v1/messages/count_tokens",
                                "/api/health", "/health",              "/api/models",     "/api/ps",      "/api/load",
                                "/api/unload", "/api/devices",         "/api/hw",         "/api/tokenize", "/api/detokenize",
                                "/api/chat/prompt", "/metrics"};
  for (const char* k : known)
    if (path == k) return k;
  if (path.rfind("/v1/models/", 0) == 0) return "/v1/models/{id}";
  return is_api_path(path) ? "other" : "static";
}

// Compares in time independent of where the strings differ.
bool same_secret(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= (unsigned char)(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

struct http_server::shutdown_state {
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  bool done = false;
  std::thread watchdog;
};

http_server::http_server(server_options opt, engine& eng)
    : opt_(std::move(opt)), eng_(eng), svr_(std::make_unique<httplib::Server>()), st_(std::make_unique<shutdown_state>()) {
  ctx_ = std::make_unique<route_context>(eng_, opt_);
  setup_routes();
}

http_server::~http_server() {
  if (st_->watchdog.joinable()) {
    {
      std::lock_guard lk(st_->mu);
      st_->done = true;
    }
    st_->cv.notify_all();
    st_->watchdog.join();
  }
}

void http_server::setup_routes() {
  auto& svr = *svr_;
  int threads = opt_.http_threads;
  if (threads <= 0) threads = eng_.options().max_queue + eng_.options().defaults.n_parallel + 32;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool((size_t)threads); };
  svr.set_payload_max_length(opt_.max_body_bytes);
  svr.set_keep_alive_timeout(5);
  svr.set_read_timeout(60);
  svr.set_write_timeout(30);

  svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    const std::string origin = req.get_header_value("Origin");
    bool origin_ok = false;
    if (!origin.empty() && !opt_.cors_origins.empty()) {
      for (const auto& o : opt_.cors_origins) origin_ok |= o == "*" || o == origin;
    }
    if (origin_ok) {
      res.set_header("Access-Control-Allow-Origin", origin);
      res.set_header("Vary", "Origin");
      res.set_header("Access-Control-Expose-Headers", "Retry-After, Content-Type");
    }
    if (req.method == "OPTIONS") {
      if (!origin.empty() && !origin_ok) {
        send_error(res, family_of(req.path), api_error(403, error_type::permission, fmt::format("origin {} is not allowed", origin)));
        return httplib::Server::HandlerResponse::Handled;
      }
      if (origin_ok) {
        res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        std::string hdrs = req.get_header_value("Access-Control-Request-Headers");
        res.set_header("Access-Control-Allow-Headers", hdrs.empty() ? "authorization, content-type, x-api-key, anthropic-version" : hdrs);
        res.set_header("Access-Control-Max-Age", "600");
      }
      res.status = 204;
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!opt_.api_keys.empty() && is_api_path(req.path)) {
      std::string key;
      const std::string auth = req.get_header_value("Authorization");
      if (auth.size() > 7 && (auth.rfind("Bearer ", 0) == 0 || auth.rfind("bearer ", 0) == 0)) key = auth.substr(7);
      if (key.empty()) key = req.get_header_value("x-api-key");
      bool ok = false;
      for (const auto& k : opt_.api_keys) ok |= same_secret(key, k);
      if (!ok) {
        send_error(res, family_of(req.path),
                   api_error(401, error_type::authentication,
                             key.empty() ? "no API key given: send 'Authorization: Bearer KEY' or 'x-api-key: KEY'" : "invalid API key",
                             "", "invalid_api_key"));
        res.set_header("WWW-Authenticate", "Bearer");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  svr.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const api_family fam = family_of(req.path);
    switch (res.status) {
      case 404:
        send_error(res, fam, api_error(404, error_type::not_found, fmt::format("no such endpoint: {} {}", req.method, req.path)));
        break;
      case 413:
        send_error(res, fam, api_error(413, error_type::too_large, "the request body is too large"));
        // The client may still be sending what httplib skips: a fresh connection for its next
        // request avoids a reset mid-upload.
        res.set_header("Connection", "close");
        break;
      case 405:
        send_error(res, fam, api_error(405, error_type::invalid_request, fmt::format("{} is not allowed on {}", req.method, req.path)));
        break;
      default:
        send_error(res, fam,
                   api_error(res.status, res.status >= 500 ? error_type::internal : error_type::invalid_request,
                             fmt::format("HTTP {}", res.status)));
    }
    return httplib::Server::HandlerResponse::Handled;
  }));

  svr.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      send_error(res, family_of(req.path), to_api_error(e));
    } catch (...) {
      send_error(res, family_of(req.path), api_error(500, error_type::internal, "internal error"));
    }
  });

  svr.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    eng_.stats().count_request(endpoint_label(req.path), res.status);
    log_info("{} {} {} -> {}", req.remote_addr, req.method, req.path, res.status);
  });

  add_openai_routes(svr, *ctx_);
  add_anthropic_routes(svr, *ctx_);
  add_native_routes(svr, *ctx_);
  add_hub_routes(svr, *ctx_);
  // The web UI: a folder when asked (UI development), else the copy embedded at build time.
  if (!opt_.web_root.empty()) {
    if (!svr.set_mount_point("/", opt_.web_root)) fail("web root {} is not a folder", opt_.web_root);
  } else {
    web::add_routes(svr);
  }
}

int http_server::bind() {
  if (opt_.port == 0) {
    port_ = svr_->bind_to_any_port(opt_.host);
  } else {
    port_ = svr_->bind_to_port(opt_.host, opt_.port) ? opt_.port : -1;
  }
  if (port_ <= 0) fail("cannot listen on {}:{} (in use, or not an address of this machine)", opt_.host, opt_.port);
  return port_;
}

void http_server::run() {
  svr_->listen_after_bind();
  auto& st = *st_;
  {
    std::lock_guard lk(st.mu);
    st.done = true;
  }
  st.cv.notify_all();
  if (st.watchdog.joinable()) st.watchdog.join();
}

void http_server::stop() {
  auto& st = *st_;
  {
    std::lock_guard lk(st.mu);
    if (st.stopping) return;
    st.stopping = true;
    const auto timeout = std::chrono::milliseconds((int64_t)(opt_.shutdown_timeout_s * 1000));
    st.watchdog = std::thread([this, &st, timeout] {
      std::unique_lock lk(st.mu);
      if (!st.cv.wait_for(lk, timeout, [&] { return st.done; })) {
        log_warn("shutdown: cancelling the generations still running after {} s", opt_.shutdown_timeout_s);
        eng_.stop_generations();
      }
    });
  }
  svr_->stop();
}

}  // namespace hearth::server
