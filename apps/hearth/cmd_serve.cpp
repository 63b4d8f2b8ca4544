// hearth serve: the HTTP server (OpenAI-, Anthropic- and native APIs; see docs/api.md).
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <thread>

#include "apps/hearth/cli_model_args.h"
#include "apps/hearth/cli_server_args.h"
#include "apps/hearth/command.h"
#include "apps/server/api_error.h"
#include "apps/server/server.h"
#include "core/error.h"
#include "core/log.h"

namespace hearth::cli {

namespace {

class serve_command : public command {
 public:
  const char* name() const override { return "serve"; }
  const char* help() const override { return "Serve models over HTTP: OpenAI- and Anthropic-compatible APIs, native API, metrics"; }

  void setup(CLI::App& app) override {
    args_.add_to(app);
    app.get_option("MODEL")->description("Model to load at start (GGUF file or library name); others load when a request names them");
    app.add_option("--alias", alias_, "Name clients use for the model given at start (default: its file's stem or library name)");
    app.add_option("--host", sopt_.host, "Address to listen on")->capture_default_str();
    app.add_option("--port", sopt_.port, "Port to listen on (0: any free port, printed at start)")->check(CLI::Range(0, 65535))->capture_default_str();
    app.add_option("--api-key", sopt_.api_keys, "Require this API key (Bearer token or x-api-key); repeatable. Also HEARTH_API_KEY");
    app.add_option("--cors", sopt_.cors_origins, "Allow browser requests from this origin (e.g. http://localhost:5173, or *); repeatable");
    app.add_option("--max-body", max_body_mib_, "Largest request body, MiB")->check(CLI::Range(1, 4096))->capture_default_str();
    app.add_option("--parallel", parallel_, "Generation slots per model (each holds its own context)")->check(CLI::Range(1, 64))->capture_default_str();
    app.add_option("--max-queue", eopt_.max_queue, "Requests that may wait per model; beyond: HTTP 503 with Retry-After")
        ->check(CLI::Range(0, 4096))
        ->capture_default_str();
    app.add_option("--ttl", eopt_.ttl_s, "Unload models loaded on demand after this many idle seconds (0: never)")
        ->check(CLI::Range((int64_t)0, (int64_t)1 << 31))
        ->capture_default_str();
    app.add_flag("--no-jit", no_jit_, "Do not load models on demand: requests must name a loaded model");
    app.add_option("--shutdown-timeout", sopt_.shutdown_timeout_s, "Seconds running generations get to finish on SIGINT/SIGTERM")
        ->check(CLI::Range(0.0, 3600.0))
        ->capture_default_str();
    app.add_option("--http-threads", sopt_.http_threads, "HTTP worker threads (0: slots + queue + 32)")->check(CLI::Range(0, 4096));
    app.add_option("--web-root", sopt_.web_root, "Serve the files of this folder at / (the web UI)");
    app.add_flag("-v,--verbose", verbose_, "Log every request and model load to stderr");
    app.footer(
        "Endpoints: /v1/models, /v1/chat/completions, /v1/completions (OpenAI); /v1/messages (Anthropic);\n"
        "/api/health, /api/models, /api/ps, /api/load, /api/unload, /api/tokenize, ... (native); /metrics.\n"
        "Models without a chat template use the plain format 'role: content' (see docs/api.md).");
  }

  int run() override {
    if (verbose_ && log_threshold() < log_level::info) set_log_threshold(log_level::info);
    if (const char* k = std::getenv("HEARTH_API_KEY"); k && *k && sopt_.api_keys.empty()) sopt_.api_keys.push_back(k);
    sopt_.max_body_bytes = (size_t)max_body_mib_ << 20;
    eopt_.jit = !no_jit_;
    eopt_.defaults.n_ctx = args_.ctx_size;
    eopt_.defaults.n_batch = args_.batch_size;
    eopt_.defaults.n_threads = args_.threads;
    eopt_.defaults.device = args_.device_name;
    eopt_.defaults.cache_type = args_.cache_type;
    eopt_.defaults.n_parallel = parallel_;
    eopt_.defaults.n_gpu_layers = gpu_layers_setting(args_.gpu_layers);
    eopt_.load_backends = args_.device_name != "cpu";

    // Signals go to one watcher thread: block them before any thread starts so all inherit it.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
    signal(SIGPIPE, SIG_IGN);

    server::engine eng(eopt_);
    if (!args_.model.empty()) {
      const std::string name = args_.model;
      try {
        auto m = eng.load(name, eopt_.defaults, false, alias_);
        std::fprintf(stderr, "hearth: loaded %s as '%s' (%u tokens of context)\n", m->path.c_str(), m->id.c_str(), m->n_ctx);
      } catch (const server::api_error& e) {
        fail("cannot load {}: {}", name, e.what());
      }
    }
    server::http_server srv(sopt_, eng);
    const int port = srv.bind();
    std::printf("hearth: listening on http://%s:%d\n", sopt_.host.c_str(), port);
    std::fflush(stdout);

    std::thread watcher([&] {
      int sig = 0;
      sigwait(&sigs, &sig);
      if (sig == SIGINT || sig == SIGTERM) {
        if (!quit_) std::fprintf(stderr, "hearth: %s: shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
        srv.stop();
      }
    });
    srv.run();
    quit_ = true;
    // Wakes the watcher if the server ended on its own.
    pthread_kill(watcher.native_handle(), SIGTERM);
    watcher.join();
    std::fprintf(stderr, "hearth: stopped\n");
    return 0;
  }

 private:
  model_args args_;
  std::string alias_;
  server::server_options sopt_;
  server::engine_options eopt_;
  int parallel_ = 1;
  int max_body_mib_ = 16;
  bool no_jit_ = false;
  bool verbose_ = false;
  std::atomic<bool> quit_{false};
};

}  // namespace

HEARTH_COMMAND(serve_command);

}  // namespace hearth::cli
