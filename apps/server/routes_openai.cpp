// OpenAI-compatible routes: GET /v1/models, POST /v1/chat/completions, POST /v1/completions.
#include <fmt/format.h>

#include "apps/server/chat_prompt.h"
#include "apps/server/json_params.h"
#include "apps/server/routes.h"
#include "tokenizer/vocab.h"

namespace hearth::server {

namespace {

using ojson = nlohmann::ordered_json;

struct openai_request {
  std::string model;
  gen_options gen;
  bool stream = false;
  bool include_usage = false;
  bool chat_logprobs = false;  // chat: logprobs as content entries
  int completion_logprobs = -1;  // completions: logprobs=N (-1: off)
  int64_t max_tokens = -1;
  const char* max_tokens_param = "max_tokens";
};

std::vector<std::string> read_stop(const fields& f) {
  std::vector<std::string> out;
  const auto* v = f.get("stop");
  if (!v) return out;
  if (v->is_string()) {
    if (!v->get<std::string>().empty()) out.push_back(v->get<std::string>());
    return out;
  }
  if (!v->is_array()) f.fail_type("stop", "a string or an array of strings");
  if (v->size() > 16) throw bad_request("'stop' may hold at most 16 sequences", "stop");
  for (const auto& s : *v) {
    if (!s.is_string()) throw bad_request("'stop' must hold only strings", "stop");
    if (!s.get<std::string>().empty()) out.push_back(s.get<std::string>());
  }
  return out;
}

// The fields both endpoints share.
openai_request read_common(const ojson& body, bool chat) {
  fields f(body);
  openai_request r;
  r.model = f.required_string("model");
  auto& g = r.gen;
  if (auto v = f.integer("n", 1, 128); v && *v != 1) throw bad_request("only n=1 is supported", "n");
  if (auto v = f.boolean("stream")) r.stream = *v;
  if (const auto* so = f.get("stream_options")) {
    if (!so->is_object()) f.fail_type("stream_options", "an object");
    fields sf(*so, "stream_options.");
    if (auto v = sf.boolean("include_usage")) r.include_usage = *v;
  }
  // max_completion_tokens is the newer name of max_tokens; either may come.
  constexpr int64_t max_any = (int64_t)1 << 40;
  auto mt = f.integer("max_completion_tokens", -max_any, max_any);
  if (mt) r.max_tokens_param = "max_completion_tokens";
  else mt = f.integer("max_tokens", -max_any, max_any);
  if (mt) {
    if (*mt < 1) throw bad_request(fmt::format("'{}' must be at least 1, got {}", r.max_tokens_param, *mt), r.max_tokens_param);
    r.max_tokens = *mt;
  }
  if (auto v = f.number("temperature", 0, 2)) g.temperature = *v;
  if (auto v = f.number("top_p", 0, 1)) g.top_p = *v;
  if (auto v = f.integer("top_k", 0, 1 << 20)) g.top_k = (int)*v;
  if (auto v = f.number("min_p", 0, 1)) g.min_p = *v;
  if (auto v = f.number("presence_penalty", -2, 2)) g.presence_penalty = *v;
  if (auto v = f.number("frequency_penalty", -2, 2)) g.frequency_penalty = *v;
  if (auto v = f.number("repeat_penalty", 0, 10)) g.repeat_penalty = *v;
  if (auto v = f.integer("seed", INT64_MIN, INT64_MAX)) g.seed = (uint64_t)*v;
  if (auto v = f.boolean("ignore_eos")) g.ignore_eos = *v;
  g.stop = read_stop(f);
  if (const auto* lb = f.get("logit_bias")) {
    if (!lb->is_object()) f.fail_type("logit_bias", "an object of token ids to numbers");
    for (auto it = lb->begin(); it != lb->end(); ++it) {
      int32_t id = 0;
      try {
        size_t used = 0;
        long long x = std::stoll(it.key(), &used);
        if (used != it.key().size() || x < 0 || x > INT32_MAX) throw std::out_of_range("");
        id = (int32_t)x;
      } catch (const std::exception&) {
        throw bad_request(fmt::format("'logit_bias' keys must be token ids, got '{}'", it.key()), "logit_bias");
      }
      if (!it->is_number() || it->get<double>() < -100 || it->get<double>() > 100)
        throw bad_request("'logit_bias' values must be numbers between -100 and 100", "logit_bias");
      g.logit_bias.emplace_back(id, it->get<float>());
    }
  }
  if (chat) {
    if (auto v = f.boolean("logprobs")) r.chat_logprobs = *v;
    if (auto v = f.integer("top_logprobs", 0, 20)) {
      if (!r.chat_logprobs && *v > 0) throw bad_request("'top_logprobs' needs 'logprobs' set to true", "top_logprobs");
      g.n_top_logprobs = (int)*v;
    }
    g.logprobs = r.chat_logprobs;
  } else {
    if (auto v = f.integer("logprobs", 0, 20)) {
      r.completion_logprobs = (int)*v;
      g.logprobs = true;
      g.n_top_logprobs = (int)*v;
    }
    if (auto v = f.boolean("echo"); v && *v) throw bad_request("'echo' is not supported", "echo");
    if (auto v = f.string("suffix"); v && !v->empty()) throw bad_request("'suffix' is not supported", "suffix");
  }
  if (const auto* t = f.get("tools"); t && t->is_array() && !t->empty())
    throw bad_request("tool calling is not supported yet", "tools");
  g.max_tokens = r.max_tokens;
  return r;
}

const char* openai_finish(finish_reason f) {
  switch (f) {
    case finish_reason::length:
    case finish_reason::context_full: return "length";
    default: return "stop";
  }
}

ojson usage_json(const gen_outcome& o) {
  return {{"prompt_tokens", o.n_prompt},
          {"completion_tokens", o.n_generated},
          {"total_tokens", o.n_prompt + o.n_generated},
          {"prompt_tokens_details", {{"cached_tokens", o.n_cached}}}};
}

// llama.cpp's "timings" object (an extension the web UI reads for tokens/s).
ojson timings_json(const gen_outcome& o) {
  const int64_t n_eval = o.n_prompt - o.n_cached;
  return {{"cache_n", o.n_cached},
          {"prompt_n", n_eval},
          {"prompt_ms", o.prompt_ms},
          {"prompt_per_second", o.prompt_ms > 0 ? n_eval * 1000.0 / o.prompt_ms : 0.0},
          {"predicted_n", o.n_generated},
          {"predicted_ms", o.gen_ms},
          {"predicted_per_second", o.gen_ms > 0 && o.n_generated > 1 ? (o.n_generated - 1) * 1000.0 / o.gen_ms : 0.0},
          {"ttft_ms", o.ttft_ms}};
}

ojson bytes_of(const std::string& s) {
  auto a = ojson::array();
  for (unsigned char c : s) a.push_back((int)c);
  return a;
}

const std::string& piece(const loaded_model& m, int32_t id) { return m.voc->token_to_piece(id, true); }

// One entry of chat logprobs.content.
ojson chat_logprob_entry(const loaded_model& m, const token_out& t) {
  ojson top = ojson::array();
  // "id" is an extension (as llama.cpp's server has it): the token id, for logit_bias and tools.
  for (const auto& [id, lp] : t.top)
    top.push_back({{"id", id}, {"token", piece(m, id)}, {"logprob", lp}, {"bytes", bytes_of(piece(m, id))}});
  return {{"id", t.id}, {"token", piece(m, t.id)}, {"logprob", t.logprob}, {"bytes", bytes_of(piece(m, t.id))}, {"top_logprobs", top}};
}

// Completions logprobs accumulate column-wise.
struct completion_logprobs {
  ojson tokens = ojson::array(), token_logprobs = ojson::array(), top = ojson::array(), offsets = ojson::array();
  size_t offset = 0;
  void add(const loaded_model& m, const token_out& t, int n_top) {
    tokens.push_back(piece(m, t.id));
    token_logprobs.push_back(t.logprob);
    ojson alt = ojson::object();
    for (size_t i = 0; i < t.top.size() && (int)i < n_top; ++i) alt[piece(m, t.top[i].first)] = t.top[i].second;
    top.push_back(alt);
    offsets.push_back(offset);
    offset += piece(m, t.id).size();
  }
  ojson to_json() const {
    return {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top}, {"text_offset", offsets}};
  }
};

struct prepared {
  std::shared_ptr<loaded_model> m;
  std::vector<int32_t> prompt;
};

void sse_data(httplib::DataSink& sink, bool& ok, const ojson& j) {
  if (ok) ok = sink_write(sink, "data: " + dump(j) + "\n\n");
}

void run_openai(route_context& ctx, const httplib::Request& req, httplib::Response& res, bool chat) {
  const ojson body = parse_body(req.body);
  openai_request r = read_common(body, chat);
  prepared p;
  if (chat) {
    auto it = body.find("messages");
    if (it == body.end() || it->is_null()) throw bad_request("'messages' is required", "messages");
    ojson msgs = openai_messages(*it);
    p.m = ctx.eng.get(r.model);
    p.prompt = p.m->chat->tokenize(p.m->chat->render(msgs));
    for (const auto& s : p.m->chat->implicit_stops()) r.gen.stop.push_back(s);
    r.gen.strip_leading_space = p.m->chat->is_fallback();
  } else {
    auto it = body.find("prompt");
    if (it == body.end() || it->is_null()) throw bad_request("'prompt' is required", "prompt");
    const ojson* pr = &*it;
    if (pr->is_array() && pr->size() == 1 && ((*pr)[0].is_string() || (*pr)[0].is_array())) pr = &(*pr)[0];
    p.m = ctx.eng.get(r.model);
    if (pr->is_string()) {
      p.prompt = p.m->voc->tokenize(pr->get<std::string>(), true, true);
    } else if (pr->is_array() && !pr->empty() && (*pr)[0].is_number_integer()) {
      for (const auto& x : *pr) {
        if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() >= p.m->voc->n_tokens())
          throw bad_request(fmt::format("'prompt' token ids must be integers below {}", p.m->voc->n_tokens()), "prompt");
        p.prompt.push_back(x.get<int32_t>());
      }
    } else if (pr->is_array() && pr->size() > 1) {
      throw bad_request("only one prompt per request is supported", "prompt");
    } else {
      throw bad_request(fmt::format("'prompt' must be a string or an array of token ids, got {}", json_type_name(*pr)), "prompt");
    }
  }
  check_prompt(*p.m, p.prompt.size(), r.max_tokens, r.max_tokens_param);
  std::shared_ptr<ticket> t = ctx.eng.enter(p.m);
  const std::string id = random_id(chat ? "chatcmpl-" : "cmpl-");
  const int64_t created = unix_time();
  const std::string model_id = p.m->id;
  const char* object = chat ? "chat.completion" : "text_completion";

  if (!r.stream) {
    wait_slot(*t);
    ojson chat_lp = ojson::array();
    completion_logprobs comp_lp;
    const loaded_model& m = *p.m;
    gen_outcome o = ctx.eng.generate(*t, p.prompt, r.gen, [&](const token_out& tok) {
      if (tok.id < 0) return true;
      if (r.chat_logprobs) chat_lp.push_back(chat_logprob_entry(m, tok));
      if (r.completion_logprobs >= 0) comp_lp.add(m, tok, r.completion_logprobs);
      return true;
    });
    ojson choice;
    if (chat) {
      choice = {{"index", 0},
                {"message", {{"role", "assistant"}, {"content", o.text}, {"refusal", nullptr}}},
                {"logprobs", r.chat_logprobs ? ojson{{"content", chat_lp}, {"refusal", nullptr}} : ojson()},
                {"finish_reason", openai_finish(o.finish)}};
    } else {
      choice = {{"index", 0},
                {"text", o.text},
                {"logprobs", r.completion_logprobs >= 0 ? comp_lp.to_json() : ojson()},
                {"finish_reason", openai_finish(o.finish)}};
    }
    send_json(res, {{"id", id},
                    {"object", object},
                    {"created", created},
                    {"model", model_id},
                    {"system_fingerprint", "hearth-0.1.0"},
                    {"choices", ojson::array({choice})},
                    {"usage", usage_json(o)},
                    {"timings", timings_json(o)}});
    return;
  }

  auto chunk = [=](ojson choice) {
    ojson c = {{"id", id},
               {"object", chat ? "chat.completion.chunk" : "text_completion"},
               {"created", created},
               {"model", model_id},
               {"system_fingerprint", "hearth-0.1.0"},
               {"choices", ojson::array({std::move(choice)})}};
    if (r.include_usage) c["usage"] = nullptr;
    return c;
  };
  engine& eng = ctx.eng;
  std::vector<int32_t> prompt = std::move(p.prompt);
  std::shared_ptr<loaded_model> mp = p.m;
  stream_sse(
      res, t,
      [=, &eng](httplib::DataSink& sink) {
        bool ok = true;
        const loaded_model& m = *mp;
        if (chat)
          sse_data(sink, ok, chunk({{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}}));
        gen_outcome o;
        try {
          o = eng.generate(*t, prompt, r.gen, [&](const token_out& tok) {
            if (tok.text.empty() && (!r.gen.logprobs || tok.id < 0)) return ok;
            ojson lp;
            if (tok.id < 0) {
            } else if (r.chat_logprobs) lp = {{"content", ojson::array({chat_logprob_entry(m, tok)})}, {"refusal", nullptr}};
            else if (r.completion_logprobs >= 0) {
              completion_logprobs one;
              one.add(m, tok, r.completion_logprobs);
              lp = one.to_json();
            }
            if (chat)
              sse_data(sink, ok, chunk({{"index", 0}, {"delta", {{"content", tok.text}}}, {"logprobs", lp}, {"finish_reason", nullptr}}));
            else
              sse_data(sink, ok, chunk({{"index", 0}, {"text", tok.text}, {"logprobs", lp}, {"finish_reason", nullptr}}));
            return ok;
          });
        } catch (const std::exception& e) {
          sse_data(sink, ok, error_body(api_family::openai, to_api_error(e)));
          return;
        }
        if (!ok) return;
        if (o.finish == finish_reason::cancelled) {
          // The client is still there, so the server stopped it (shutdown): say so.
          sse_data(sink, ok, error_body(api_family::openai, api_error(503, error_type::overloaded, "the server is shutting down")));
          return;
        }
        ojson last = chat ? chunk({{"index", 0}, {"delta", ojson::object()}, {"logprobs", nullptr}, {"finish_reason", openai_finish(o.finish)}})
                          : chunk({{"index", 0}, {"text", ""}, {"logprobs", nullptr}, {"finish_reason", openai_finish(o.finish)}});
        last["timings"] = timings_json(o);
        sse_data(sink, ok, last);
        if (r.include_usage) {
          ojson u = chunk({});
          u["choices"] = ojson::array();
          u["usage"] = usage_json(o);
          sse_data(sink, ok, u);
        }
        if (ok) sink_write(sink, "data: [DONE]\n\n");
      },
      [](httplib::DataSink& sink) {
        bool ok = true;
        sse_data(sink, ok, error_body(api_family::openai, api_error(503, error_type::overloaded, "the server is shutting down")));
      });
}

}  // namespace

void add_openai_routes(httplib::Server& svr, route_context& ctx) {
  svr.Get("/v1/models", [&ctx](const httplib::Request&, httplib::Response& res) {
    guarded(api_family::openai, res, [&] {
      ojson data = ojson::array();
      for (const auto& m : ctx.eng.loaded()) {
        const auto created = std::chrono::duration_cast<std::chrono::seconds>(m->loaded_at.time_since_epoch()).count();
        data.push_back({{"id", m->id}, {"object", "model"}, {"created", created}, {"owned_by", "hearth"}});
      }
      send_json(res, {{"object", "list"}, {"data", data}});
    });
  });
  svr.Get(R"(/v1/models/(.+))", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(api_family::openai, res, [&] {
      const std::string name = req.matches[1];
      for (const auto& m : ctx.eng.loaded()) {
        if (m->id != name) continue;
        const auto created = std::chrono::duration_cast<std::chrono::seconds>(m->loaded_at.time_since_epoch()).count();
        send_json(res, {{"id", m->id}, {"object", "model"}, {"created", created}, {"owned_by", "hearth"}});
        return;
      }
      throw api_error(404, error_type::not_found, fmt::format("the model '{}' does not exist", name), "model", "model_not_found");
    });
  });
  svr.Post("/v1/chat/completions", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(api_family::openai, res, [&] { run_openai(ctx, req, res, true); });
  });
  svr.Post("/v1/completions", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(api_family::openai, res, [&] { run_openai(ctx, req, res, false); });
  });
}

}  // namespace hearth::server
