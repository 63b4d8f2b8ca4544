// The model manager behind the server and `hearth chat`: loaded models by name (explicitly or
// just in time when a request names one), one session per generation slot, a bounded queue in
// front of the slots, idle unloading (TTL), and one generate() that every API goes through.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/server/metrics.h"
#include "runtime/session.h"

namespace hearth::server {

class chat_formatter;

// How a model is loaded. Defaults come from `hearth serve`'s options; /api/load overrides them.
struct load_settings {
  uint32_t n_ctx = 0;        // context length in tokens; 0: the model's own, at most 4096
  int n_gpu_layers = -2;     // -2: auto (all that fit), -1: all, else that many of the last layers
  std::string device;        // "" or "auto": every GPU found; "cpu"; "cuda:0", "vulkan:1", ...
  int n_threads = 0;         // CPU threads; 0: one per physical core
  int n_parallel = 1;        // generation slots (one session each)
  uint32_t n_batch = 512;    // largest prompt batch per graph
  std::string cache_type = "f16";  // KV cache storage: f16 or f32
  int64_t ttl_s = -1;        // unload after this many idle seconds; -1: the server's default, 0: never
  nlohmann::json to_json() const;
};

// Sampling and stopping of one generation, API-neutral (each API parses its own field names).
struct gen_options {
  double temperature = 0.8;
  int top_k = 40;
  double top_p = 0.95;
  double min_p = 0.05;
  double repeat_penalty = 1.0;
  int repeat_last_n = 64;
  double presence_penalty = 0;
  double frequency_penalty = 0;
  std::optional<uint64_t> seed;  // absent: a random one
  bool logprobs = false;         // report each token's log-probability
  int n_top_logprobs = 0;        // and this many alternatives
  std::vector<std::pair<int32_t, float>> logit_bias;
  int64_t max_tokens = -1;       // -1: until the context is full
  std::vector<std::string> stop;
  bool ignore_eos = false;
  bool strip_leading_space = false;  // drop one space the answer starts with (fallback chat format)
};

struct token_out {
  int32_t id = 0;    // -1: no token, only the text held back until the end
  std::string text;  // text released by this token (UTF-8 complete; stop sequences held back)
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // best alternatives, most likely first
};

struct gen_outcome {
  std::string text;
  std::vector<int32_t> tokens;
  hearth::finish_reason finish = hearth::finish_reason::eos;
  std::string stop_sequence;  // the stop sequence that ended the text (finish == stop_sequence)
  int64_t n_prompt = 0, n_cached = 0, n_generated = 0;
  double prompt_ms = 0, gen_ms = 0;
  double ttft_ms = 0;  // from the request's arrival (queue included) to its first token
};

class loaded_model;

// A place in a model's queue; becomes a slot (a session) once wait() returns. Releases both on
// destruction. Holds the model alive even if it is unloaded meanwhile.
class ticket {
 public:
  ticket(std::shared_ptr<loaded_model> m, metrics& mx);
  ~ticket();
  ticket(const ticket&) = delete;
  ticket& operator=(const ticket&) = delete;
  // Waits for a slot, polling should_stop every 50 ms; false if it said stop (or the server is
  // shutting down) before a slot freed up.
  bool wait(const std::function<bool()>& should_stop);
  loaded_model& model() { return *m_; }
  session& slot_session();
  std::chrono::steady_clock::time_point created() const { return created_; }

 private:
  std::shared_ptr<loaded_model> m_;
  metrics& mx_;
  int slot_ = -1;
  bool waiting_ = true;
  std::chrono::steady_clock::time_point created_;
};

class loaded_model {
 public:
  ~loaded_model();
  std::string id;    // the name clients use
  std::string path;  // the GGUF file
  load_settings settings;
  bool jit = false;  // loaded by a request rather than explicitly
  uint32_t n_ctx = 0;
  std::unique_ptr<hearth::model> mdl;
  const hearth::vocab* voc = nullptr;
  std::unique_ptr<chat_formatter> chat;
  std::vector<std::unique_ptr<session>> sessions;
  std::chrono::system_clock::time_point loaded_at;

  // Device memory: weights and per-slot context (KV cache, compute buffers), by device name.
  std::vector<std::pair<std::string, uint64_t>> memory() const;
  nlohmann::json to_json() const;
  int64_t idle_ms() const;
  bool busy() const;

 private:
  friend class ticket;
  friend class engine;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<bool> slot_busy_;
  int n_waiting_ = 0;
  int max_waiting_ = 0;
  std::atomic<int64_t> last_used_ms_{0};
  std::atomic<bool>* stopping_ = nullptr;
};

struct engine_options {
  load_settings defaults;
  bool jit = true;          // load models named by requests
  int64_t ttl_s = 0;        // idle time after which JIT-loaded models are unloaded; 0: never
  int max_queue = 64;       // waiting requests per model beyond its slots; more get 503
  bool load_backends = true;  // false: CPU only (tests)
};

class engine {
 public:
  explicit engine(engine_options opt);
  ~engine();

  // The loaded model answering to name (its id, or a path resolving to its file); loads it when
  // JIT loading is on. Throws api_error 404 for an unknown model.
  std::shared_ptr<loaded_model> get(const std::string& name);
  // Loads (or returns the already loaded) model. name: a library name or a path; id: what
  // clients will call it ("" = name, or the file's stem for a path).
  std::shared_ptr<loaded_model> load(const std::string& name, const load_settings& s, bool jit, const std::string& id = {});
  // The loaded model answering to name, or nullptr (never loads).
  std::shared_ptr<loaded_model> get_loaded(const std::string& name) const;
  // False if no loaded model answers to name.
  bool unload(const std::string& name);
  std::vector<std::shared_ptr<loaded_model>> loaded() const;
  // Queue admission: a ticket, or api_error 503 when the model's queue is full.
  std::unique_ptr<ticket> enter(const std::shared_ptr<loaded_model>& m);
  // Runs one generation on the ticket's slot (wait() must have returned true). on_token returning
  // false stops it (finish cancelled).
  gen_outcome generate(ticket& t, const std::vector<int32_t>& prompt, const gen_options& o,
                       const std::function<bool(const token_out&)>& on_token, const std::atomic<bool>* cancel = nullptr);
  // The GPUs a load setting's device names: "" / "auto" the best real GPU (none: CPU only), "cpu"
  // none, else the registry's device (throws hearth::error listing what exists).
  static std::vector<device*> pick_gpus(const std::string& device);
  // Unloads JIT models idle past their TTL (called by the reaper thread; public for tests).
  void unload_idle();

  // Shutdown: waiting requests give up, running ones stop at their next token.
  void stop_generations() { stopping_ = true; }
  bool stopping() const { return stopping_; }
  metrics& stats() { return metrics_; }
  const engine_options& options() const { return opt_; }

 private:
  std::shared_ptr<loaded_model> do_load(const std::string& name, const load_settings& s, bool jit, const std::string& id);

  engine_options opt_;
  metrics metrics_;
  mutable std::mutex mu_;   // models_
  std::mutex load_mu_;      // one load at a time
  std::map<std::string, std::shared_ptr<loaded_model>> models_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> quit_{false};
  std::mutex reaper_mu_;
  std::condition_variable reaper_cv_;
  std::thread reaper_;
};

}  // namespace hearth::server
