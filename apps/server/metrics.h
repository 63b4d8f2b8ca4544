// Server counters and histograms, rendered in Prometheus' text format for GET /metrics.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace hearth::server {

// A cumulative histogram with fixed upper bounds (seconds).
class histogram {
 public:
  static constexpr std::array<double, 12> bounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  void observe(double v);
  // Appends "# HELP/# TYPE" and the _bucket/_sum/_count lines.
  void render(std::string& out, const std::string& name, const std::string& help) const;

 private:
  mutable std::mutex mu_;
  std::array<uint64_t, bounds.size()> counts_{};
  uint64_t n_ = 0;
  double sum_ = 0;
};

class metrics {
 public:
  // One finished HTTP request (endpoint: the route pattern, e.g. "/v1/chat/completions").
  void count_request(const std::string& endpoint, int status);
  // One finished generation.
  void count_generation(uint64_t n_prompt, uint64_t n_cached, uint64_t n_generated, double prompt_s, double gen_s, double ttft_s);
  void count_rejected();  // turned away because the queue was full

  std::atomic<int64_t> queue_length{0};      // requests waiting for a slot
  std::atomic<int64_t> active_generations{0};

  // The exposition text; loaded_models is filled in by the caller (a gauge it owns).
  std::string render(int64_t n_loaded_models) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::atomic<uint64_t> prompt_tokens_{0}, cached_tokens_{0}, generated_tokens_{0}, generations_{0}, rejected_{0};
  std::atomic<uint64_t> gen_us_{0}, prompt_us_{0};
  std::atomic<double> last_tps_{0};
  histogram ttft_, generation_seconds_;
};

}  // namespace hearth::server
