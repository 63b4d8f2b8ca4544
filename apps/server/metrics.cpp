// Prometheus text exposition of the server's metrics.
#include "apps/server/metrics.h"

#include <fmt/format.h>

namespace hearth::server {

void histogram::observe(double v) {
  std::lock_guard lk(mu_);
  for (size_t i = 0; i < bounds.size(); ++i)
    if (v <= bounds[i]) ++counts_[i];
  ++n_;
  sum_ += v;
}

void histogram::render(std::string& out, const std::string& name, const std::string& help) const {
  std::lock_guard lk(mu_);
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  for (size_t i = 0; i < bounds.size(); ++i) out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds[i], counts_[i]);
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, n_, name, sum_, name, n_);
}

void metrics::count_request(const std::string& endpoint, int status) {
  std::lock_guard lk(mu_);
  ++requests_[{endpoint, status}];
}

void metrics::count_generation(uint64_t n_prompt, uint64_t n_cached, uint64_t n_generated, double prompt_s, double gen_s,
                               double ttft_s) {
  prompt_tokens_ += n_prompt;
  cached_tokens_ += n_cached;
  generated_tokens_ += n_generated;
  ++generations_;
  prompt_us_ += (uint64_t)(prompt_s * 1e6);
  gen_us_ += (uint64_t)(gen_s * 1e6);
  if (gen_s > 0 && n_generated > 1) last_tps_ = (double)(n_generated - 1) / gen_s;
  if (n_generated > 0) ttft_.observe(ttft_s);
  generation_seconds_.observe(prompt_s + gen_s);
}

void metrics::count_rejected() { ++rejected_; }

std::string metrics::render(int64_t n_loaded_models) const {
  std::string out;
  auto counter = [&](const char* name, const char* help, auto v) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name, v);
  };
  auto gauge = [&](const char* name, const char* help, auto v) {
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, v);
  };
  out += "# HELP hearth_requests_total HTTP requests handled, by endpoint and status.\n# TYPE hearth_requests_total counter\n";
  {
    std::lock_guard lk(mu_);
    for (const auto& [k, n] : requests_)
      out += fmt::format("hearth_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n", k.first, k.second, n);
  }
  counter("hearth_generations_total", "Completed generations (any finish reason).", generations_.load());
  counter("hearth_prompt_tokens_total", "Prompt tokens of all generations (tokens in).", prompt_tokens_.load());
  counter("hearth_prompt_cached_tokens_total", "Prompt tokens reused from the KV cache.", cached_tokens_.load());
  counter("hearth_generated_tokens_total", "Generated tokens (tokens out).", generated_tokens_.load());
  counter("hearth_prompt_seconds_total", "Time spent evaluating prompts.", prompt_us_.load() / 1e6);
  counter("hearth_generation_seconds_total", "Time spent generating tokens after the first.", gen_us_.load() / 1e6);
  counter("hearth_rejected_requests_total", "Requests turned away with 503 because the queue was full.", rejected_.load());
  gauge("hearth_tokens_per_second", "Generation speed of the last finished request.", last_tps_.load());
  gauge("hearth_queue_length", "Requests waiting for a generation slot.", queue_length.load());
  gauge("hearth_active_generations", "Generations running now.", active_generations.load());
  gauge("hearth_models_loaded", "Models loaded now.", n_loaded_models);
  ttft_.render(out, "hearth_time_to_first_token_seconds", "Time from the start of a generation to its first token.");
  generation_seconds_.render(out, "hearth_generation_duration_seconds", "Prompt evaluation plus generation time per request.");
  return out;
}

}  // namespace hearth::server
