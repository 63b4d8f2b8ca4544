// Native API for the web UI beyond models: the offload planner's estimate (/api/plan), the doctor
// (/api/doctor), and the Hugging Face hub (search, a repo's GGUF files, downloads through the
// download manager).
#include <fmt/format.h>

#include <algorithm>

#include "apps/server/json_params.h"
#include "apps/server/routes.h"
#include "backend/registry.h"
#include "hub/download_manager.h"
#include "hub/hf.h"
#include "hub/library.h"
#include "hub/paths.h"
#include "hw/doctor.h"
#include "hw/survey.h"
#include "model/loader.h"
#include "model/planner.h"

namespace hearth::server {

namespace {

using ojson = nlohmann::ordered_json;

// The UI's download states: queued, running, done, failed, cancelled (and paused).
const char* ui_state(hub::job_state s) {
  switch (s) {
    case hub::job_state::queued: return "queued";
    case hub::job_state::resolving:
    case hub::job_state::downloading:
    case hub::job_state::verifying: return "running";
    case hub::job_state::completed: return "done";
    case hub::job_state::failed: return "failed";
    case hub::job_state::cancelled: return "cancelled";
    case hub::job_state::paused: return "paused";
  }
  return "failed";
}

ojson download_json(const hub::download_status& d) {
  ojson j = {{"id", std::to_string(d.id)},
             {"spec", d.spec},
             {"repo", d.repo},
             {"file", d.files.empty() ? std::string() : d.files.front().name},
             {"quant", d.quant},
             {"state", ui_state(d.state)},
             {"bytes_done", d.done_bytes},
             {"bytes_total", d.total_bytes},
             {"speed_bps", d.bytes_per_sec},
             {"eta_s", d.eta_seconds},
             {"paths", d.paths}};
  if (!d.error.empty()) j["error"] = d.error;
  if (!d.note.empty()) j["note"] = d.note;
  return j;
}

// Someone is waiting on a page: give up on an unreachable hub in seconds, not minutes.
hub::hf_client interactive_hub() {
  hub::http_options o;
  o.connect_timeout_ms = 8000;
  o.stall_timeout_ms = 15000;
  o.retry.max_retries = 1;
  o.retry.backoff_initial_ms = 500;
  return hub::hf_client::from_env(o);
}

api_error hub_error(const std::exception& e) {
  if (auto* h = dynamic_cast<const hearth::error*>(&e)) {
    if (h->kind() == error_kind::not_found) return api_error(404, error_type::not_found, h->what());
    if (h->kind() == error_kind::invalid_argument) return api_error(400, error_type::invalid_request, h->what());
  }
  // The hub could not be reached or answered badly: the gateway's problem, not the client's.
  return api_error(502, error_type::internal, fmt::format("the model hub: {}", e.what()));
}

}  // namespace

void add_hub_routes(httplib::Server& svr, route_context& ctx) {
  // What loading a model with these settings would put where (no server state changes).
  svr.Post("/api/plan", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(api_family::native, res, [&] {
      const ojson body = parse_body(req.body);
      fields f(body);
      const std::string name = f.required_string("model");
      load_settings s = ctx.eng.options().defaults;
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
      hub::model_entry e;
      try {
        e = hub::find_model(hub::library_locations::from_env(), name, hub::list_options{.read_metadata = false});
      } catch (const hearth::error& err) {
        throw api_error(err.kind() == error_kind::not_found ? 404 : 400,
                        err.kind() == error_kind::not_found ? error_type::not_found : error_type::invalid_request, err.what(), "model");
      }
      std::vector<device*> gpus;
      try {
        gpus = engine::pick_gpus(s.device);
      } catch (const hearth::error& err) {
        throw bad_request(err.what(), "device");
      }
      plan_request pr;
      pr.path = e.path;
      pr.n_ctx = s.n_ctx;
      pr.n_batch = s.n_batch;
      pr.type_k = pr.type_v = s.cache_type == "f32" ? dtype::f32 : dtype::f16;
      pr.gpus = gpus;
      const int n_layer = (int)open_model(e.path)->hp.n_layer;
      pr.n_gpu_layers = gpus.empty() ? 0 : s.n_gpu_layers == -2 ? -1 : s.n_gpu_layers == -1 ? n_layer : std::min(s.n_gpu_layers, n_layer);
      const offload_plan p = plan_offload(pr);
      ojson devs = ojson::array();
      uint64_t weights = 0, kv = 0;
      for (const auto& d : p.devices) {
        devs.push_back({{"device", d.dev->name()},
                        {"n_layers", d.n_layers},
                        {"output", d.output},
                        {"weights_bytes", d.weights},
                        {"kv_bytes", d.kv},
                        {"compute_bytes", d.compute},
                        {"available_bytes", d.available},
                        {"fits", d.fits()}});
        weights += d.weights;
        kv += d.kv;
      }
      const std::string where = gpus.empty() ? "cpu" : gpus[0]->name();
      std::string summary = gpus.empty() ? fmt::format("All {} layers on the CPU", p.n_layer)
                                         : fmt::format("{} of {} layers on {}", p.n_gpu_layers, p.n_layer, where);
      if (!p.note.empty()) summary += " (" + p.note + ")";
      send_json(res, {{"device", where},
                      {"n_layers", p.n_layer},
                      {"n_gpu_layers", p.n_gpu_layers},
                      {"weights_bytes", weights},
                      {"kv_bytes", kv},
                      {"fits", p.fits},
                      {"summary", summary},
                      {"devices", devs}});
    });
  });

  svr.Get("/api/doctor", [](const httplib::Request&, httplib::Response& res) {
    guarded(api_family::native, res, [&] {
      auto opts = hw::default_survey_options();
      auto survey = hw::run_survey(opts);
      auto log = hw::read_kernel_log(opts.paths);
      hw::doctor_options dopts;
      if (const char* v = std::getenv("HSA_OVERRIDE_GFX_VERSION"); v && *v) dopts.hsa_override = v;
      res.set_content(hw::doctor_to_json(hw::run_doctor(survey, log, dopts), survey).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                      "application/json");
    });
  });

  svr.Get("/api/hub/search", [](const httplib::Request& req, httplib::Response& res) {
    guarded(api_family::native, res, [&] {
      const std::string q = req.get_param_value("q");
      if (q.empty()) throw bad_request("'q' is required", "q");
      std::vector<hub::search_hit> hits;
      try {
        hits = interactive_hub().search(q, 30);
      } catch (const std::exception& e) {
        throw hub_error(e);
      }
      ojson arr = ojson::array();
      for (const auto& h : hits) arr.push_back({{"repo", h.id}, {"downloads", h.downloads}, {"likes", h.likes}});
      send_json(res, {{"results", arr}});
    });
  });

  svr.Get("/api/hub/files", [](const httplib::Request& req, httplib::Response& res) {
    guarded(api_family::native, res, [&] {
      const std::string repo = req.get_param_value("repo");
      try {
        hub::check_repo_id(repo);
      } catch (const hearth::error& e) {
        throw bad_request(e.what(), "repo");
      }
      std::vector<hub::gguf_choice> choices;
      try {
        choices = hub::list_choices(interactive_hub(), repo);
      } catch (const std::exception& e) {
        throw hub_error(e);
      }
      ojson arr = ojson::array();
      for (const auto& c : choices) arr.push_back({{"name", c.name()}, {"quant", c.quant}, {"size_bytes", c.total_bytes()}, {"parts", c.files.size()}});
      send_json(res, {{"files", arr}});
    });
  });

  svr.Get("/api/hub/downloads", [&ctx](const httplib::Request&, httplib::Response& res) {
    guarded(api_family::native, res, [&] {
      ojson arr = ojson::array();
      for (const auto& d : ctx.downloads().list()) arr.push_back(download_json(d));
      send_json(res, {{"downloads", arr}});
    });
  });

  // {"repo": "owner/name", "file"?: "x-Q4_K_M.gguf", "quant"?: "Q4_K_M"}: starts (or joins) a download.
  svr.Post("/api/hub/downloads", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(api_family::native, res, [&] {
      const ojson body = parse_body(req.body);
      fields f(body);
      const std::string repo = f.required_string("repo");
      const std::string file = f.string("file").value_or("");
      const std::string quant = f.string("quant").value_or("");
      std::string spec = repo;
      if (!file.empty()) spec += "/" + file;
      else if (!quant.empty()) spec += ":" + quant;
      uint64_t id = 0;
      try {
        id = ctx.downloads().start(spec);
      } catch (const hearth::error& e) {
        throw bad_request(e.what(), "repo");
      }
      send_json(res, {{"id", std::to_string(id)}, {"spec", spec}});
    });
  });

  svr.Post(R"(/api/hub/downloads/(\d{1,18})/cancel)", [&ctx](const httplib::Request& req, httplib::Response& res) {
    guarded(api_family::native, res, [&] {
      const uint64_t id = std::stoull(req.matches[1].str());
      if (!ctx.downloads().status(id)) throw api_error(404, error_type::not_found, fmt::format("no download {}", id));
      send_json(res, {{"cancelled", ctx.downloads().cancel(id)}});
    });
  });
}

}  // namespace hearth::server
