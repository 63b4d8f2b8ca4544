// hearth perplexity: a model's perplexity on a text file, chunked and scored as llama.cpp's
// perplexity tool does (so the figures compare with the ones it prints).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "apps/hearth/cli_model_args.h"
#include "apps/hearth/command.h"
#include "core/error.h"
#include "model/perplexity.h"

namespace hearth::cli {

namespace {

class perplexity_command : public command {
 public:
  const char* name() const override { return "perplexity"; }
  const char* help() const override { return "Perplexity of a model on a text file (llama.cpp's method: chunks of --ctx tokens)"; }

  void setup(CLI::App& app) override {
    args_.add_to(app, true);
    app.add_option("FILE", file_, "Text file to score");
    app.add_option("-f,--file", file_, "Text file to score (same as FILE)");
    app.add_option("--ctx", args_.ctx_size, "Tokens per chunk (default 512; same as -c)")->check(CLI::Range(4u, 1u << 20));
    app.add_option("--batch", args_.batch_size, "Largest batch per graph (same as -b)")->check(CLI::Range(1u, 8192u));
    app.add_option("--chunks", max_chunks_, "Score at most this many chunks (default: all)");
    app.add_flag("--json", json_, "Print one JSON object (ppl, stderr, chunks, running ppl)");
  }

  int run() override {
    if (file_.empty()) fail(error_kind::invalid_argument, "no text file given (hearth perplexity MODEL FILE)");
    std::ifstream in(file_, std::ios::binary);
    if (!in) fail(error_kind::not_found, "{}: cannot open the text file", file_);
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    // As llama.cpp reads -f files: one trailing newline is not part of the text.
    if (!text.empty() && text.back() == '\n') text.pop_back();
    auto m = args_.load();
    const int n_ctx = args_.ctx_size ? (int)args_.ctx_size : 512;
    context_params cp = args_.context();
    cp.n_ctx = (uint32_t)n_ctx;
    context ctx(*m, cp);
    const std::vector<int32_t> tokens = m->voc->tokenize(text, true, false);
    const int32_t bos = m->voc->add_bos() ? m->voc->bos() : -1;
    if (!json_ && tokens.size() >= (size_t)n_ctx)
      std::fprintf(stderr, "%s: %zu tokens, %zu chunks of %d\n", file_.c_str(), tokens.size(), tokens.size() / (size_t)n_ctx, n_ctx);
    const auto t0 = std::chrono::steady_clock::now();
    const perplexity_result r = compute_perplexity(ctx, tokens, n_ctx, bos, max_chunks_, [&](int c, double ppl) {
      if (!json_) {
        std::printf("[%d]%.4f,", c + 1, ppl);
        std::fflush(stdout);
      }
    });
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (json_) {
      nlohmann::json out = {{"model", m->path},        {"file", file_},           {"n_ctx", n_ctx},
                            {"n_tokens", r.n_tokens},  {"n_chunks", r.n_chunks},  {"scored_tokens_per_chunk", r.scored_per_chunk},
                            {"ppl", r.ppl},            {"ppl_stderr", r.ppl_stderr}, {"running_ppl", r.running_ppl},
                            {"seconds", secs}};
      std::printf("%s\n", out.dump().c_str());
    } else {
      std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_stderr);
      std::fprintf(stderr, "%d chunks in %.2f s (%.1f tokens/s)\n", r.n_chunks, secs, r.n_chunks * (double)n_ctx / secs);
    }
    return 0;
  }

 private:
  model_args args_;
  std::string file_;
  int max_chunks_ = -1;
  bool json_ = false;
};

}  // namespace

HEARTH_COMMAND(perplexity_command);

}  // namespace hearth::cli
