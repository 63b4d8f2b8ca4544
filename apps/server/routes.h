// Shared plumbing of the route files: error bodies per API family, JSON output that never throws
// on invalid UTF-8, queue waiting and SSE streaming on top of httplib.
#pragma once
#include <httplib.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/server/api_error.h"
#include "apps/server/engine.h"
#include "apps/server/server.h"
#include "hub/download_manager.h"

namespace hearth::server {

enum class api_family { openai, anthropic, native };

struct route_context {
  route_context(engine& e, const server_options& o) : eng(e), opt(o) {}
  engine& eng;
  const server_options& opt;
  // The hub's download manager, made on first use (downloads go to the library).
  hub::download_manager& downloads();

 private:
  std::mutex dl_mu_;
  std::unique_ptr<hub::download_manager> dl_;
};

// JSON text of a value; invalid UTF-8 in strings (partial tokens) becomes U+FFFD instead of throwing.
std::string dump(const nlohmann::ordered_json& j);
std::string dump(const nlohmann::json& j);

nlohmann::ordered_json error_body(api_family fam, const api_error& e);
void send_error(httplib::Response& res, api_family fam, const api_error& e);
void send_json(httplib::Response& res, const nlohmann::ordered_json& j, int status = 200);
// The api_error an exception stands for (hearth::error kinds map to 400/404/500...).
api_error to_api_error(const std::exception& e);

// Runs fn, turning any exception into an error response of the family's shape.
void guarded(api_family fam, httplib::Response& res, const std::function<void()>& fn);

// "chatcmpl-<24 random hex>"-style ids.
std::string random_id(const char* prefix);
int64_t unix_time();

// Streams a generation as SSE: the response gets status 200 and text/event-stream, then, on
// httplib's writer thread, body(sink) runs once the ticket has a slot. While queued a ": queued"
// comment goes out every second, so a client that left is noticed and its place given up.
// `on_abandoned` writes what a client still connected should see when no slot came (shutdown).
void stream_sse(httplib::Response& res, std::shared_ptr<ticket> t, std::function<void(httplib::DataSink&)> body,
                std::function<void(httplib::DataSink&)> on_abandoned);

// Writes s; false when the client is gone.
bool sink_write(httplib::DataSink& sink, const std::string& s);

// Waits for the ticket's slot (non-streaming requests); throws 503 when the server shuts down.
void wait_slot(ticket& t);

// Common checks of a prompt against the model: not empty, fits the context with room for at least
// one token; max_tokens (when set) not beyond the context.
void check_prompt(const loaded_model& m, size_t n_prompt, int64_t max_tokens, const char* max_tokens_param);

void add_openai_routes(httplib::Server& svr, route_context& ctx);
void add_anthropic_routes(httplib::Server& svr, route_context& ctx);
void add_native_routes(httplib::Server& svr, route_context& ctx);
void add_hub_routes(httplib::Server& svr, route_context& ctx);

}  // namespace hearth::server
