// Error shapes, JSON output, SSE streaming and queue waiting shared by the API families.
#include <chrono>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "apps/server/routes.h"
#include "core/error.h"
#include "core/log.h"

namespace hearth::server {

hub::download_manager& route_context::downloads() {
  std::lock_guard lk(dl_mu_);
  if (!dl_) {
    hub::manager_options o;
    o.transfer = hub::transfer_options_from_env(o.transfer);
    dl_ = std::make_unique<hub::download_manager>(o);
  }
  return *dl_;
}

std::string dump(const nlohmann::ordered_json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }
std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

namespace {

const char* openai_type(error_type t) {
  switch (t) {
    case error_type::invalid_request: return "invalid_request_error";
    case error_type::authentication: return "authentication_error";
    case error_type::permission: return "permission_error";
    case error_type::not_found: return "invalid_request_error";
    case error_type::too_large: return "invalid_request_error";
    case error_type::overloaded: return "server_error";
    case error_type::internal: return "server_error";
  }
  return "server_error";
}

const char* anthropic_type(error_type t) {
  switch (t) {
    case error_type::invalid_request: return "invalid_request_error";
    case error_type::authentication: return "authentication_error";
    case error_type::permission: return "permission_error";
    case error_type::not_found: return "not_found_error";
    case error_type::too_large: return "request_too_large";
    case error_type::overloaded: return "overloaded_error";
    case error_type::internal: return "api_error";
  }
  return "api_error";
}

}  // namespace

nlohmann::ordered_json error_body(api_family fam, const api_error& e) {
  if (fam == api_family::anthropic)
    return {{"type", "error"}, {"error", {{"type", anthropic_type(e.type)}, {"message", e.what()}}}};
  nlohmann::ordered_json err = {{"message", e.what()},
                                {"type", openai_type(e.type)},
                                {"param", e.param.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(e.param)},
                                {"code", e.code.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(e.code)}};
  return {{"error", err}};
}

void send_json(httplib::Response& res, const nlohmann::ordered_json& j, int status) {
  res.status = status;
  res.set_content(dump(j), "application/json");
}

void send_error(httplib::Response& res, api_family fam, const api_error& e) {
  send_json(res, error_body(fam, e), e.status);
  if (e.status == 503) res.set_header("Retry-After", "1");
}

api_error to_api_error(const std::exception& ex) {
  if (auto* a = dynamic_cast<const api_error*>(&ex)) return *a;
  if (auto* h = dynamic_cast<const hearth::error*>(&ex)) {
    switch (h->kind()) {
      case error_kind::invalid_argument: return api_error(400, error_type::invalid_request, h->what());
      case error_kind::not_found: return api_error(404, error_type::not_found, h->what());
      case error_kind::cancelled: return api_error(503, error_type::overloaded, h->what());
      default: return api_error(500, error_type::internal, h->what());
    }
  }
  if (dynamic_cast<const std::bad_alloc*>(&ex)) return api_error(500, error_type::internal, "out of memory");
  return api_error(500, error_type::internal, fmt::format("internal error: {}", ex.what()));
}

void guarded(api_family fam, httplib::Response& res, const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    api_error a = to_api_error(e);
    if (a.status >= 500) log_warn("request failed: {}", a.what());
    send_error(res, fam, a);
  }
}

std::string random_id(const char* prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}{:016x}{:08x}", prefix, rng(), (uint32_t)rng());
}

int64_t unix_time() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool sink_write(httplib::DataSink& sink, const std::string& s) { return sink.write(s.data(), s.size()); }

void stream_sse(httplib::Response& res, std::shared_ptr<ticket> t, std::function<void(httplib::DataSink&)> body,
                std::function<void(httplib::DataSink&)> on_abandoned) {
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      [t, body = std::move(body), on_abandoned = std::move(on_abandoned)](size_t, httplib::DataSink& sink) {
        bool gone = false;
        auto last = std::chrono::steady_clock::now();
        const bool got = t->wait([&] {
          if (std::chrono::steady_clock::now() - last >= std::chrono::seconds(1)) {
            last = std::chrono::steady_clock::now();
            gone = !sink_write(sink, ": queued\n\n");
          }
          return gone;
        });
        if (!got) {
          if (!gone) on_abandoned(sink);
          if (!gone) sink.done();
          return !gone;
        }
        body(sink);
        sink.done();
        return true;
      },
      // Runs when the response ends, whatever way: frees the slot right away rather than when
      // httplib drops the provider.
      [t](bool) mutable { t.reset(); });
}

void wait_slot(ticket& t) {
  if (!t.wait(nullptr)) throw api_error(503, error_type::overloaded, "the server is shutting down");
}

void check_prompt(const loaded_model& m, size_t n_prompt, int64_t max_tokens, const char* max_tokens_param) {
  if (n_prompt == 0) throw bad_request("the prompt is empty", "prompt");
  if (n_prompt >= m.n_ctx)
    throw bad_request(fmt::format("the prompt is {} tokens long; the context of '{}' holds {} tokens (prompt and answer together)", n_prompt,
                                  m.id, m.n_ctx),
                      "messages", "context_length_exceeded");
  if (max_tokens > (int64_t)m.n_ctx)
    throw bad_request(fmt::format("'{}' is {}; the context of '{}' holds at most {} tokens", max_tokens_param, max_tokens, m.id, m.n_ctx),
                      max_tokens_param);
}

}  // namespace hearth::server
