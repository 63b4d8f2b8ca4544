// Anthropic-compatible route: POST /v1/messages (and /v1/messages/count_tokens), streaming as
// message_start, content_block_start, ping, content_block_delta..., content_block_stop,
// message_delta, message_stop.
#include <fmt/format.h>

#include "apps/server/chat_prompt.h"
#include "apps/server/json_params.h"
#include "apps/server/routes.h"

namespace hearth::server {

namespace {

using ojson = nlohmann::ordered_json;

const char* stop_reason(finish_reason f) {
  switch (f) {
    case finish_reason::stop_sequence: return "stop_sequence";
    case finish_reason::length:
    case finish_reason::context_full: return "max_tokens";
    default: return "end_turn";
  }
}

struct anthropic_request {
  std::string model;
  gen_options gen;
  bool stream = false;
  std::vector<std::string> user_stops;  // stop_sequences as given (implicit ones are not reported)
  ojson messages;
};

anthropic_request read_request(const ojson& body) {
  fields f(body);
  anthropic_request r;
  r.model = f.required_string("model");
  constexpr int64_t max_any = (int64_t)1 << 40;
  auto mt = f.integer("max_tokens", -max_any, max_any);
  if (!mt) throw bad_request("max_tokens: field required", "max_tokens");
  if (*mt < 1) throw bad_request(fmt::format("max_tokens: must be at least 1, got {}", *mt), "max_tokens");
  r.gen.max_tokens = *mt;
  if (auto v = f.number("temperature", 0, 1)) r.gen.temperature = *v;
  if (auto v = f.number("top_p", 0, 1)) r.gen.top_p = *v;
  if (auto v = f.integer("top_k", 0, 1 << 20)) r.gen.top_k = (int)*v;
  if (auto v = f.boolean("stream")) r.stream = *v;
  if (const auto* ss = f.get("stop_sequences")) {
    if (!ss->is_array()) f.fail_type("stop_sequences", "an array of strings");
    for (const auto& s : *ss) {
      if (!s.is_string()) throw bad_request("stop_sequences: must hold only strings", "stop_sequences");
      if (!s.get<std::string>().empty()) r.user_stops.push_back(s.get<std::string>());
    }
  }
  r.gen.stop = r.user_stops;
  if (const auto* t = f.get("tools"); t && t->is_array() && !t->empty()) throw bad_request("tools: tool use is not supported yet", "tools");
  auto it = body.find("messages");
  if (it == body.end() || it->is_null()) throw bad_request("messages: field required", "messages");
  r.messages = anthropic_messages(f.get("system"), *it);
  return r;
}

void sse_event(httplib::DataSink& sink, bool& ok, const char* event, const ojson& data) {
  if (ok) ok = sink_write(sink, fmt::format("event: {}\ndata: {}\n\n", event, dump(data)));
}

void run_messages(route_context& ctx, const httplib::Request& req, httplib::Response& res) {
  const ojson body = parse_body(req.body);
  anthropic_request r = read_request(body);
  auto m = ctx.eng.get(r.model);
  std::vector<int32_t> prompt = m->chat->tokenize(m->chat->render(r.messages));
  for (const auto& s : m->chat->implicit_stops()) r.gen.stop.push_back(s);
  r.gen.strip_leading_space = m->chat->is_fallback();
  check_prompt(*m, prompt.size(), r.gen.max_tokens, "max_tokens");
  std::shared_ptr<ticket> t = ctx.eng.enter(m);
  const std::string id = random_id("msg_");
  const std::string model_id = m->id;

  auto reported_stop = [r](const gen_outcome& o) -> ojson {
    if (o.finish != finish_reason::stop_sequence) return nullptr;
    for (const auto& s : r.user_stops)
      if (s == o.stop_sequence) return s;
    return nullptr;
  };
  auto reason = [reported_stop](const gen_outcome& o) -> const char* {
    // An implicit stop (the fallback format's "\nuser:") ends the turn like EOS does.
    if (o.finish == finish_reason::stop_sequence && reported_stop(o).is_null()) return "end_turn";
    return stop_reason(o.finish);
  };

  if (!r.stream) {
    wait_slot(*t);
    gen_outcome o = ctx.eng.generate(*t, prompt, r.gen, nullptr);
    send_json(res, {{"id", id},
                    {"type", "message"},
                    {"role", "assistant"},
                    {"model", model_id},
                    {"content", ojson::array({{{"type", "text"}, {"text", o.text}}})},
                    {"stop_reason", reason(o)},
                    {"stop_sequence", reported_stop(o)},
                    {"usage", {{"input_tokens", o.n_prompt}, {"output_tokens", o.n_generated}}}});
    return;
  }
  engine& eng = ctx.eng;
  const int64_t n_prompt = (int64_t)prompt.size();
  stream_sse(
      res, t,
      [=, &eng](httplib::DataSink& sink) {
        bool ok = true;
        sse_event(sink, ok, "message_start",
                  {{"type", "message_start"},
                   {"message",
                    {{"id", id},
                     {"type", "message"},
                     {"role", "assistant"},
                     {"model", model_id},
                     {"content", ojson::array()},
                     {"stop_reason", nullptr},
                     {"stop_sequence", nullptr},
                     {"usage", {{"input_tokens", n_prompt}, {"output_tokens", 0}}}}}});
        sse_event(sink, ok, "content_block_start",
                  {{"type", "content_block_start"}, {"index", 0}, {"content_block", {{"type", "text"}, {"text", ""}}}});
        sse_event(sink, ok, "ping", {{"type", "ping"}});
        gen_outcome o;
        try {
          o = eng.generate(*t, prompt, r.gen, [&](const token_out& tok) {
            if (!tok.text.empty())
              sse_event(sink, ok, "content_block_delta",
                        {{"type", "content_block_delta"}, {"index", 0}, {"delta", {{"type", "text_delta"}, {"text", tok.text}}}});
            return ok;
          });
        } catch (const std::exception& e) {
          sse_event(sink, ok, "error", error_body(api_family::anthropic, to_api_error(e)));
          return;
        }
        if (!ok) return;
        if (o.finish == finish_reason::cancelled) {
          sse_event(sink, ok, "error", error_body(api_family::anthropic, api_error(503, error_type::overloaded, "the server is shutting down")));
          return;
        }
        sse_event(sink, ok, "content_block_stop", {{"type", "content_block_stop"}, {"index", 0}});
        sse_event(sink, ok, "message_delta",
                  {{"type", "message_delta"},
                   {"delta", {{"stop_reason", reason(o)}, {"stop_sequence", reported_stop(o)}}},
                   {"usage", {{"output_tokens", o.n_generated}}}});
        sse_event(sink, ok, "message_stop", {{"type", "message_stop"}});
      },
      [](httplib::DataSink& sink) {
        bool ok = true;
        sse_event(sink, ok, "error", error_body(api_family::anthropic, api_error(503, error_type::overloaded, "the server is shutting down")));
      });
}

}  // namespace

void add_anthropic_routes(httplib::Server& svr, route_context& ctx) {
  svr.Post("/v1/messages", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(api_family::anthropic, res, [&] { run_messages(ctx, req, res); });
  });
  svr.Post("/v1/messages/count_tokens", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(api_family::anthropic, res, [&] {
      const ojson body = parse_body(req.body);
      fields f(body);
      const std::string model = f.required_string("model");
      auto it = body.find("messages");
      if (it == body.end() || it->is_null()) throw bad_request("messages: field required", "messages");
      ojson msgs = anthropic_messages(f.get("system"), *it);
      auto m = ctx.eng.get(model);
      send_json(res, {{"input_tokens", m->chat->tokenize(m->chat->render(msgs)).size()}});
    });
  });
}

}  // namespace hearth::server
