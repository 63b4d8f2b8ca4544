// The model manager: loading, slots and queueing, generation, idle unloading.
#include "apps/server/engine.h"

#include <filesystem>

#include <fmt/format.h>

#include "apps/server/api_error.h"
#include "apps/server/chat_prompt.h"
#include "backend/registry.h"
#include "backends/init.h"
#include "core/error.h"
#include "core/log.h"
#include "formats/gguf.h"
#include "hub/library.h"
#include "model/loader.h"
#include "model/planner.h"
#include "runtime/session.h"
#include "tokenizer/vocab.h"

namespace hearth::server {

namespace fs = std::filesystem;

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string canonical(const std::string& p) {
  std::error_code ec;
  auto c = fs::weakly_canonical(p, ec);
  return ec ? p : c.string();
}

}  // namespace

nlohmann::json load_settings::to_json() const {
  nlohmann::json j = {{"n_ctx", n_ctx},         {"device", device.empty() ? "auto" : device}, {"n_threads", n_threads},
                      {"n_parallel", n_parallel}, {"n_batch", n_batch},                        {"cache_type", cache_type}};
  if (n_gpu_layers == -2) j["n_gpu_layers"] = "auto";
  else j["n_gpu_layers"] = n_gpu_layers;
  j["ttl_s"] = ttl_s;
  return j;
}

// ---------------------------------------------------------------------------------------------
// tickets: a bounded queue in front of a model's slots

ticket::ticket(std::shared_ptr<loaded_model> m, metrics& mx) : m_(std::move(m)), mx_(mx), created_(std::chrono::steady_clock::now()) {}

ticket::~ticket() {
  {
    std::lock_guard lk(m_->mu_);
    if (waiting_) {
      --m_->n_waiting_;
      --mx_.queue_length;
    } else if (slot_ >= 0) {
      m_->slot_busy_[slot_] = false;
      --mx_.active_generations;
    }
    m_->last_used_ms_ = now_ms();
  }
  m_->cv_.notify_all();
}

bool ticket::wait(const std::function<bool()>& should_stop) {
  std::unique_lock lk(m_->mu_);
  if (!waiting_) return slot_ >= 0;
  for (;;) {
    for (size_t i = 0; i < m_->slot_busy_.size(); ++i) {
      if (!m_->slot_busy_[i]) {
        m_->slot_busy_[i] = true;
        slot_ = (int)i;
        waiting_ = false;
        --m_->n_waiting_;
        --mx_.queue_length;
        ++mx_.active_generations;
        return true;
      }
    }
    if ((m_->stopping_ && *m_->stopping_) || (should_stop && should_stop())) return false;
    m_->cv_.wait_for(lk, std::chrono::milliseconds(50));
  }
}

session& ticket::slot_session() {
  HEARTH_ASSERT(slot_ >= 0);
  return *m_->sessions[slot_];
}

// ---------------------------------------------------------------------------------------------
// loaded models

loaded_model::~loaded_model() {
  // Sessions hold contexts over the model: release them first.
  sessions.clear();
  chat.reset();
}

int64_t loaded_model::idle_ms() const { return now_ms() - last_used_ms_.load(); }

bool loaded_model::busy() const {
  std::lock_guard lk(mu_);
  if (n_waiting_ > 0) return true;
  for (bool b : slot_busy_)
    if (b) return true;
  return false;
}

std::vector<std::pair<std::string, uint64_t>> loaded_model::memory() const {
  std::map<std::string, uint64_t> by_dev;
  for (const auto& [dev, bytes] : mdl->weight_bytes()) by_dev[dev ? dev->name() : "cpu"] += bytes;
  for (const auto& s : sessions)
    for (const auto& [dev, bytes] : s->ctx().memory()) by_dev[dev ? dev->name() : "cpu"] += bytes;
  return {by_dev.begin(), by_dev.end()};
}

nlohmann::json loaded_model::to_json() const {
  nlohmann::json mem = nlohmann::json::array();
  uint64_t total = 0;
  for (const auto& [dev, bytes] : memory()) {
    mem.push_back({{"device", dev}, {"bytes", bytes}});
    total += bytes;
  }
  int active = 0, waiting = 0;
  {
    std::lock_guard lk(mu_);
    for (bool b : slot_busy_) active += b;
    waiting = n_waiting_;
  }
  const auto loaded_s = std::chrono::duration_cast<std::chrono::seconds>(loaded_at.time_since_epoch()).count();
  return {{"id", id},
          {"path", path},
          {"architecture", arch_name(mdl->hp.a)},
          {"n_params", mdl->n_params()},
          {"n_ctx", n_ctx},
          {"settings", settings.to_json()},
          {"jit", jit},
          {"loaded_at", loaded_s},
          {"idle_s", idle_ms() / 1000.0},
          {"active", active},
          {"waiting", waiting},
          {"chat_format", chat->is_fallback() ? "fallback" : "template"},
          {"memory", mem},
          {"memory_bytes", total}};
}

// ---------------------------------------------------------------------------------------------
// the engine

engine::engine(engine_options opt) : opt_(std::move(opt)) {
  init_backends(opt_.load_backends);
  reaper_ = std::thread([this] {
    std::unique_lock lk(reaper_mu_);
    while (!quit_) {
      reaper_cv_.wait_for(lk, std::chrono::milliseconds(250));
      if (quit_) break;
      lk.unlock();
      try {
        unload_idle();
      } catch (const std::exception& e) {
        log_warn("idle unload: {}", e.what());
      }
      lk.lock();
    }
  });
}

engine::~engine() {
  {
    std::lock_guard lk(reaper_mu_);
    quit_ = true;
  }
  reaper_cv_.notify_all();
  reaper_.join();
  std::lock_guard lk(mu_);
  models_.clear();
}

std::shared_ptr<loaded_model> engine::get_loaded(const std::string& name) const {
  std::lock_guard lk(mu_);
  if (auto it = models_.find(name); it != models_.end()) return it->second;
  std::error_code ec;
  if (fs::is_regular_file(name, ec)) {
    const std::string c = canonical(name);
    for (const auto& [id, m] : models_)
      if (m->path == c) return m;
  }
  return nullptr;
}

std::vector<std::shared_ptr<loaded_model>> engine::loaded() const {
  std::lock_guard lk(mu_);
  std::vector<std::shared_ptr<loaded_model>> out;
  for (const auto& [id, m] : models_) out.push_back(m);
  return out;
}

std::shared_ptr<loaded_model> engine::get(const std::string& name) {
  if (auto m = get_loaded(name)) return m;
  if (!opt_.jit)
    throw api_error(404, error_type::not_found, fmt::format("the model '{}' is not loaded (load it with 'hearth load')", name), "model",
                    "model_not_found");
  return load(name, opt_.defaults, true);
}

std::shared_ptr<loaded_model> engine::load(const std::string& name, const load_settings& s, bool jit, const std::string& id) {
  if (auto m = get_loaded(id.empty() ? name : id)) return m;
  std::lock_guard load_lk(load_mu_);
  if (auto m = get_loaded(id.empty() ? name : id)) return m;  // loaded while we waited
  return do_load(name, s, jit, id);
}

namespace {

}  // namespace

std::shared_ptr<loaded_model> engine::do_load(const std::string& name, const load_settings& s, bool jit, const std::string& id_in) {
  hub::model_entry e;
  try {
    e = hub::find_model(hub::library_locations::from_env(), name, hub::list_options{.read_metadata = false});
  } catch (const hearth::error& err) {
    if (err.kind() == error_kind::not_found)
      throw api_error(404, error_type::not_found, fmt::format("the model '{}' does not exist: {}", name, err.what()), "model",
                      "model_not_found");
    throw api_error(400, error_type::invalid_request, err.what(), "model");
  }
  // A request must not make the server open arbitrary files: just-in-time loading takes library
  // names only; paths go through an explicit load.
  if (jit && e.source == "file")
    throw api_error(404, error_type::not_found, fmt::format("the model '{}' does not exist", name), "model", "model_not_found");
  const std::string path = canonical(e.path);
  if (id_in.empty()) {
    // The same file under another name is the same model, unless a new id asks for a second copy.
    std::lock_guard lk(mu_);
    for (const auto& [mid, m] : models_)
      if (m->path == path) return m;
  }
  std::string id = id_in;
  // A model named by its path is called by its file's stem, even when the file is in the library.
  std::error_code ec;
  if (id.empty()) id = e.source == "file" || fs::is_regular_file(name, ec) ? fs::path(e.path).stem().string() : e.name;

  if (s.n_parallel < 1 || s.n_parallel > 64) throw bad_request("n_parallel must be between 1 and 64", "n_parallel");
  auto lm = std::make_shared<loaded_model>();
  lm->id = id;
  lm->path = path;
  lm->settings = s;
  lm->jit = jit;

  std::vector<device*> gpus;
  try {
    gpus = pick_gpus(s.device);
  } catch (const hearth::error& err) {
    throw bad_request(err.what(), "device");
  }
  load_params lp;
  lp.gpus = gpus;
  lp.n_gpu_layers = gpus.empty() ? 0 : s.n_gpu_layers;
  if (!gpus.empty() && s.n_gpu_layers == -2) {
    // auto: as many layers as the planner finds room for, with every slot's KV cache counted.
    plan_request req;
    req.path = e.path;
    // Every slot holds its own KV cache: plan for their total length.
    const uint32_t n_ctx = s.n_ctx ? s.n_ctx : std::min<uint32_t>(open_model(e.path)->hp.n_ctx_train, 4096);
    req.n_ctx = n_ctx * (uint32_t)s.n_parallel;
    req.n_batch = s.n_batch;
    req.type_k = req.type_v = s.cache_type == "f32" ? dtype::f32 : dtype::f16;
    req.gpus = gpus;
    req.n_gpu_layers = -1;
    const offload_plan p = plan_offload(req);
    lp.n_gpu_layers = p.n_gpu_layers;
    lp.gpu_input = p.gpu_input;
    if (!p.note.empty()) log_info("{}: {}", gpus[0]->name(), p.note);
  }
  log_info("loading {} ({}) with {} GPU layers", id, path, lp.n_gpu_layers);
  lm->mdl = load_model_retrying(e.path, lp);
  if (!lm->mdl->voc) throw api_error(400, error_type::invalid_request, fmt::format("{} has no tokenizer", path), "model");
  lm->voc = lm->mdl->voc.get();
  lm->chat = std::make_unique<chat_formatter>(lm->mdl->chat_template, *lm->voc);
  context_params cp;
  cp.n_ctx = s.n_ctx;
  cp.n_threads = s.n_threads;
  cp.n_batch = s.n_batch;
  cp.type_k = cp.type_v = s.cache_type == "f32" ? dtype::f32 : dtype::f16;
  for (int i = 0; i < s.n_parallel; ++i) lm->sessions.push_back(std::make_unique<session>(*lm->mdl, cp));
  lm->n_ctx = lm->sessions[0]->ctx().n_ctx();
  lm->slot_busy_.assign(s.n_parallel, false);
  lm->max_waiting_ = opt_.max_queue;
  lm->stopping_ = &stopping_;
  lm->loaded_at = std::chrono::system_clock::now();
  lm->last_used_ms_ = now_ms();
  {
    std::lock_guard lk(mu_);
    if (models_.count(id)) throw api_error(409, error_type::invalid_request, fmt::format("another model is loaded as '{}'", id), "id");
    models_[id] = lm;
  }
  log_info("loaded {}: {} tokens of context, {} slot(s)", id, lm->n_ctx, s.n_parallel);
  return lm;
}

std::vector<device*> engine::pick_gpus(const std::string& spec) {
  auto& reg = registry::instance();
  std::vector<device*> gpus;
  if (spec.empty() || spec == "auto") {
    // The best GPU, as `hearth run` picks it (devices() lists discrete GPUs first). A software
    // rasterizer (llvmpipe) is slower than the CPU backend: only when named.
    for (auto* d : reg.devices())
      if (d->kind() != device_kind::cpu && d->kind() != device_kind::gpu_software) {
        gpus.push_back(d);
        break;
      }
    return gpus;
  }
  device* d = reg.find(spec);
  if (d->kind() != device_kind::cpu) gpus.push_back(d);
  return gpus;
}

bool engine::unload(const std::string& name) {
  auto m = get_loaded(name);
  if (!m) return false;
  std::lock_guard lk(mu_);
  models_.erase(m->id);
  // Requests still running hold the model; its memory goes when the last of them ends.
  return true;
}

void engine::unload_idle() {
  std::vector<std::shared_ptr<loaded_model>> drop;
  {
    std::lock_guard lk(mu_);
    for (auto it = models_.begin(); it != models_.end();) {
      const auto& m = it->second;
      const int64_t ttl = m->settings.ttl_s >= 0 ? m->settings.ttl_s : (m->jit ? opt_.ttl_s : 0);
      if (ttl > 0 && !m->busy() && m->idle_ms() >= ttl * 1000) {
        log_info("unloading {}: idle for {} s", m->id, m->idle_ms() / 1000);
        drop.push_back(m);
        it = models_.erase(it);
      } else {
        ++it;
      }
    }
  }
  // Freed outside the lock.
  drop.clear();
}

std::unique_ptr<ticket> engine::enter(const std::shared_ptr<loaded_model>& m) {
  if (stopping_) throw api_error(503, error_type::overloaded, "the server is shutting down");
  {
    std::lock_guard lk(m->mu_);
    bool free_slot = false;
    for (bool b : m->slot_busy_) free_slot |= !b;
    if (!free_slot && m->n_waiting_ >= m->max_waiting_) {
      metrics_.count_rejected();
      throw api_error(503, error_type::overloaded,
                      fmt::format("the server is busy: {} requests are waiting for '{}'; retry later", m->n_waiting_, m->id));
    }
    ++m->n_waiting_;
    ++metrics_.queue_length;
  }
  return std::make_unique<ticket>(m, metrics_);
}

gen_outcome engine::generate(ticket& t, const std::vector<int32_t>& prompt, const gen_options& o,
                             const std::function<bool(const token_out&)>& on_token, const std::atomic<bool>* cancel) {
  loaded_model& lm = t.model();
  session& s = t.slot_session();
  generate_params gp;
  auto& sp = gp.sampling;
  sp.temperature = (float)o.temperature;
  sp.top_k = o.top_k;
  sp.top_p = (float)o.top_p;
  sp.min_p = (float)o.min_p;
  sp.repeat_penalty = (float)o.repeat_penalty;
  sp.repeat_last_n = o.repeat_last_n;
  sp.presence_penalty = (float)o.presence_penalty;
  sp.frequency_penalty = (float)o.frequency_penalty;
  sp.seed = o.seed ? *o.seed : UINT64_MAX;
  sp.n_top_logprobs = o.n_top_logprobs;
  for (const auto& [id, bias] : o.logit_bias) sp.logit_bias[id] += bias;
  gp.max_tokens = o.max_tokens < 0 ? -1 : (int)o.max_tokens;
  gp.stop = o.stop;
  gp.ignore_eos = o.ignore_eos;
  std::atomic<bool> cancel_flag{false};
  gp.cancel = &cancel_flag;

  gen_outcome out;
  bool first = true;
  bool strip = o.strip_leading_space;
  auto on_gen = [&](const generated_token& g) -> bool {
    if (first && g.id >= 0) {
      out.ttft_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t.created()).count();
      first = false;
    }
    token_out tok;
    tok.id = g.id;
    tok.text = g.text;
    if (strip && !tok.text.empty()) {
      if (tok.text[0] == ' ') tok.text.erase(0, 1);
      strip = false;
    }
    out.text += tok.text;
    tok.logprob = g.logprob;
      for (const auto& alt : g.top) tok.top.emplace_back(alt.id, alt.logprob);
    bool go = on_token ? on_token(tok) : true;
    if (stopping_ || (cancel && *cancel)) go = false;
    if (!go) cancel_flag = true;
    return go;
  };
  generate_result r = s.generate(prompt, gp, on_gen);
  // out.text was gathered from the callbacks (r.text, less the stripped space).
  out.tokens = std::move(r.tokens);
  out.n_prompt = r.n_prompt;
  out.n_cached = r.n_cached;
  out.n_generated = r.n_generated;
  out.prompt_ms = r.prompt_ms;
  out.gen_ms = r.gen_ms;
  out.finish = r.finish;
  if (out.finish == finish_reason::stop_sequence) {
    // Which stop sequence: the one the full detokenized output has right after the released text.
    const std::string full = lm.voc->detokenize(out.tokens);
    size_t best = std::string::npos;
    for (const auto& st : o.stop) {
      if (st.empty()) continue;
      const size_t p = full.find(st, out.text.size() > 8 ? out.text.size() - 8 : 0);
      if (p != std::string::npos && p < best) best = p, out.stop_sequence = st;
    }
    if (out.stop_sequence.empty() && !o.stop.empty()) out.stop_sequence = o.stop.front();
  }
  metrics_.count_generation(out.n_prompt, out.n_cached, out.n_generated, out.prompt_ms / 1000, out.gen_ms / 1000, out.ttft_ms / 1000);
  return out;
}

}  // namespace hearth::server
