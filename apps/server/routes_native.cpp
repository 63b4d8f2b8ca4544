// The native API, for the CLI and the web UI: health, local models, load/unload, loaded models,
// devices, hardware survey, tokenization and chat prompts, and Prometheus metrics. Shapes are in
// docs/api.md.
#include <fmt/format.h>

#include <set>

#include "apps/server/chat_prompt.h"
#include "apps/server/json_params.h"
#include "apps/server/routes.h"
#include "backend/registry.h"
#include "hub/library.h"
#include "hw/report.h"
#include "hw/survey.h"
#include "tokenizer/vocab.h"

namespace hearth::server {

namespace {

using ojson = nlohmann::ordered_json;

const auto g_start = std::chrono::steady_clock::now();

load_settings read_load_settings(const fields& f, load_settings s) {
  if (auto v = f.integer("n_ctx", 0, 1 << 24)) s.n_ctx = (uint32_t)*v;
  if (const auto* v = f.get("n_gpu_layers")) {
    if (v->is_string()) {
      if (*v != "auto" && *v != "all") throw bad_request("'n_gpu_layers' must be an integer, \"auto\" or \"all\"", "n_gpu_layers");
      s.n_gpu_layers = *v == "auto" ? -2 : -1;
    } else {
      s.n_gpu_layers = (int)*f.integer("n_gpu_layers", -1, 100000);
    }
  }
  if (auto v = f.string("device")) s.device = *v;
  if (auto v = f.integer("n_threads", 0, 1024)) s.n_threads = (int)*v;
  if (auto v = f.integer("n_parallel", 1, 64)) s.n_parallel = (int)*v;
  if (auto v = f.integer("ttl_s", -1, (int64_t)1 << 31)) s.ttl_s = *v;
  return s;
}

ojson device_json(device* d) {
  const auto mem = d->memory();
  return {{"name", d->name()},
          {"description", d->description()},
          {"kind", device_kind_name(d->kind())},
          {"memory_free_bytes", mem.free_bytes},
          {"memory_total_bytes", mem.total_bytes}};
}

}  // namespace

void add_native_routes(httplib::Server& svr, route_context& ctx) {
  auto health = [&ctx](const httplib::Request&, httplib::Response& res) {
    guarded(api_family::native, res, [&] {
      const double up = std::chrono::duration<double>(std::chrono::steady_clock::now() - g_start).count();
      send_json(res, {{"status", ctx.eng.stopping() ? "stopping" : "ok"},
                      {"version", "0.1.0"},
                      {"models_loaded", ctx.eng.loaded().size()},
                      {"uptime_s", up}});
    });
  };
  svr.Get("/health", health);
  svr.Get("/api/health", health);

  svr.Get("/api/models", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(api_family::native, res, [&] {
      hub::list_options lo;
      lo.read_metadata = req.get_param_value("metadata") != "0";
      auto models = hub::list_models(hub::library_locations::from_env(), lo);
      std::set<std::string> paths;
      std::map<std::string, std::string> id_of;
      for (const auto& m : ctx.eng.loaded()) paths.insert(m->path), id_of[m->path] = m->id;
      hub::mark_loaded(models, paths);
      ojson arr = ojson::array();
      for (const auto& m : models) {
        arr.push_back(hub::to_json(m));
      }
      send_json(res, {{"models", arr}});
    });
  });

  svr.Get("/api/ps", [&ctx](const httplib::Request&, httplib::Response& res) {
    guarded(api_family::native, res, [&] {
      ojson arr = ojson::array();
      for (const auto& m : ctx.eng.loaded()) arr.push_back(ojson(m->to_json()));
      send_json(res, {{"models", arr}});
    });
  });

  svr.Post("/api/load", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(api_family::native, res, [&] {
      const ojson body = parse_body(req.body);
      fields f(body);
      const std::string name = f.required_string("model");
      const std::string id = f.string("id").value_or("");
      load_settings s = read_load_settings(f, ctx.eng.options().defaults);
      auto m = ctx.eng.load(name, s, false, id);
      send_json(res, {{"model", ojson(m->to_json())}});
    });
  });

  svr.Post("/api/unload", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(api_family::native, res, [&] {
      const ojson body = parse_body(req.body);
      const std::string name = fields(body).required_string("model");
      auto m = ctx.eng.get_loaded(name);
      if (!m || !ctx.eng.unload(name))
        throw api_error(404, error_type::not_found, fmt::format("no loaded model answers to '{}'", name), "model", "model_not_found");
      send_json(res, {{"unloaded", m->id}});
    });
  });

  svr.Get("/api/devices", [&ctx](const httplib::Request&, httplib::Response& res) {
    guarded(api_family::native, res, [&] {
      ojson arr = ojson::array();
      for (auto* d : registry::instance().devices()) arr.push_back(device_json(d));
      send_json(res, {{"devices", arr}});
    });
  });

  svr.Get("/api/hw", [](const httplib::Request&, httplib::Response& res) {
    guarded(api_family::native, res, [&] {
      auto survey = hw::run_survey(hw::default_survey_options());
      res.set_content(hw::to_json(survey).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
    });
  });

  svr.Post("/api/tokenize", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(api_family::native, res, [&] {
      const ojson body = parse_body(req.body);
      fields f(body);
      const std::string name = f.required_string("model");
      auto text = f.string("text");
      if (!text) throw bad_request("'text' is required", "text");
      const bool add_special = f.boolean("add_special").value_or(true);
      const bool parse_special = f.boolean("parse_special").value_or(false);
      auto m = ctx.eng.get(name);
      auto ids = m->voc->tokenize(*text, add_special, parse_special);
      ojson pieces = ojson::array();
      for (int32_t id : ids) pieces.push_back(m->voc->token_to_piece(id, true));
      send_json(res, {{"tokens", ids}, {"pieces", pieces}});
    });
  });

  svr.Post("/api/detokenize", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(api_family::native, res, [&] {
      const ojson body = parse_body(req.body);
      fields f(body);
      auto m = ctx.eng.get(f.required_string("model"));
      const auto* toks = f.get("tokens");
      if (!toks || !toks->is_array()) throw bad_request("'tokens' must be an array of token ids", "tokens");
      std::vector<int32_t> ids;
      for (const auto& t : *toks) {
        if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= m->voc->n_tokens())
          throw bad_request(fmt::format("'tokens' must hold token ids below {}", m->voc->n_tokens()), "tokens");
        ids.push_back(t.get<int32_t>());
      }
      send_json(res, {{"text", m->voc->detokenize(ids)}});
    });
  });

  // The prompt a chat request would be turned into (OpenAI-style messages), and its tokens.
  svr.Post("/api/chat/prompt", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(api_family::native, res, [&] {
      const ojson body = parse_body(req.body);
      fields f(body);
      auto m = ctx.eng.get(f.required_string("model"));
      const auto* msgs = f.get("messages");
      if (!msgs) throw bad_request("'messages' is required", "messages");
      const std::string prompt = m->chat->render(openai_messages(*msgs));
      auto ids = m->chat->tokenize(prompt);
      send_json(res, {{"prompt", prompt},
                      {"tokens", ids},
                      {"n_tokens", ids.size()},
                      {"format", m->chat->is_fallback() ? "fallback" : "template"},
                      {"implicit_stops", m->chat->implicit_stops()}});
    });
  });

  svr.Get("/metrics", [&ctx](const httplib::Request&, httplib::Response& res) {
    res.set_content(ctx.eng.stats().render((int64_t)ctx.eng.loaded().size()), "text/plain; version=0.0.4");
  });
}

}  // namespace hearth::server
