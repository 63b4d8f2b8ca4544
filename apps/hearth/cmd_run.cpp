// hearth run: generates a continuation of a prompt (the main job: with no arguments it tells a
// story with the bundled model). Text goes to stdout as it is generated; --json prints one object.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "apps/hearth/cli_model_args.h"
#include "apps/hearth/command.h"
#include "core/error.h"
#include "core/log.h"
#include "runtime/session.h"

namespace hearth::cli {

namespace {

std::atomic<bool> g_interrupted{false};
void on_sigint(int) { g_interrupted.store(true); }

class run_command : public command {
 public:
  const char* name() const override { return "run"; }
  const char* help() const override { return "Generate text from a prompt (default: a story from the bundled model)"; }

  void setup(CLI::App& app) override {
    args_.add_to(app);
    app.add_option("-p,--prompt", prompt_, "Prompt text ('-' reads standard input)");
    app.add_option("-n,--max-tokens", max_tokens_, "Tokens to generate (-1: until the end of text or the context is full)")->check(CLI::Range(-1, 1 << 24));
    app.add_option("--temp,--temperature", sp_.temperature, "Sampling temperature (0: greedy)")->check(CLI::Range(0.0f, 100.0f));
    app.add_option("--top-k", sp_.top_k, "Keep the k most likely tokens (0: off)")->check(CLI::Range(0, 1 << 24));
    app.add_option("--top-p", sp_.top_p, "Nucleus sampling threshold (1: off)")->check(CLI::Range(0.0f, 1.0f));
    app.add_option("--min-p", sp_.min_p, "Drop tokens below min-p x the top probability (0: off)")->check(CLI::Range(0.0f, 1.0f));
    app.add_option("--repeat-penalty", sp_.repeat_penalty, "Penalty for recently seen tokens (1: off)")->check(CLI::Range(0.0f, 100.0f));
    app.add_option("--repeat-last-n", sp_.repeat_last_n, "Window of recent tokens for the penalties (-1: all)")->check(CLI::Range(-1, 1 << 24));
    app.add_option("--presence-penalty", sp_.presence_penalty, "OpenAI-style presence penalty")->check(CLI::Range(-2.0f, 2.0f));
    app.add_option("--frequency-penalty", sp_.frequency_penalty, "OpenAI-style frequency penalty")->check(CLI::Range(-2.0f, 2.0f));
    app.add_option("-s,--seed", seed_, "Random seed (default: random)");
    app.add_option("--stop", stop_, "Stop sequence (repeatable)");
    app.add_flag("--ignore-eos", ignore_eos_, "Keep generating past the end-of-text token");
    app.add_flag("--json", json_, "Print one JSON object: prompt and generated tokens, text, timings");
    app.add_flag("--no-prompt", no_echo_, "Do not print the prompt before the generated text");
    app.add_option("--dump-tensors", dump_dir_, "Write every named intermediate tensor of each pass to DIR (debugging)");
  }

  int run() override {
    if (prompt_ == "-") prompt_.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    if (seed_) sp_.seed = *seed_;
    auto m = args_.load();
    context_params cp = args_.context();
    cp.dump_dir = dump_dir_;
    session s(*m, cp);
    const std::vector<int32_t> prompt = s.tokenize(prompt_, true, true);
    generate_params gp;
    gp.sampling = sp_;
    gp.max_tokens = max_tokens_;
    gp.stop = stop_;
    gp.ignore_eos = ignore_eos_;
    gp.cancel = &g_interrupted;
    std::signal(SIGINT, on_sigint);
    if (!json_ && !no_echo_) {
      std::fputs(prompt_.c_str(), stdout);
      std::fflush(stdout);
    }
    const generate_result r = s.generate(prompt, gp, [&](const generated_token& t) {
      if (!json_ && !t.text.empty()) {
        std::fwrite(t.text.data(), 1, t.text.size(), stdout);
        std::fflush(stdout);
      }
      return true;
    });
    std::signal(SIGINT, SIG_DFL);
    const double tps = r.gen_ms > 0 && r.n_generated > 1 ? (r.n_generated - 1) * 1000.0 / r.gen_ms : 0;
    const double pps = r.prompt_ms > 0 ? (r.n_prompt - r.n_cached) * 1000.0 / r.prompt_ms : 0;
    if (json_) {
      nlohmann::json out;
      out["model"] = m->path;
      out["prompt"] = prompt_;
      out["prompt_tokens"] = prompt;
      out["tokens"] = r.tokens;
      out["text"] = r.text;
      out["finish_reason"] = finish_reason_name(r.finish);
      out["timings"] = {{"prompt_ms", r.prompt_ms}, {"generation_ms", r.gen_ms}, {"ttft_ms", r.ttft_ms},
                        {"prompt_tokens_per_s", pps}, {"tokens_per_s", tps}};
      std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
      std::fputc('\n', stdout);
      log_info("{} prompt tokens at {:.1f} t/s, {} generated at {:.1f} t/s ({})", r.n_prompt, pps, r.n_generated, tps,
               finish_reason_name(r.finish));
    }
    return g_interrupted ? 130 : 0;
  }

 private:
  model_args args_;
  std::string prompt_ = "Once upon a time";
  int32_t max_tokens_ = 256;
  sampling_params sp_;
  std::optional<uint64_t> seed_;
  std::vector<std::string> stop_;
  bool ignore_eos_ = false;
  bool json_ = false;
  bool no_echo_ = false;
  std::string dump_dir_;
};

}  // namespace

HEARTH_COMMAND(run_command);

}  // namespace hearth::cli
