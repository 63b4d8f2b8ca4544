// hearth bench: prompt processing (pp) and generation (tg) speed of a model, as llama-bench measures
// them, with the bandwidth each test achieved (weight and KV bytes read / time) and the fraction of
// the device's memory bandwidth that is. `hearth bench --memory` measures the CPU's read bandwidth.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "apps/hearth/cli_model_args.h"
#include "apps/hearth/command.h"
#include "backend/registry.h"
#include "core/error.h"
#include "hw/mem_bandwidth.h"
#include "model/synth.h"

namespace hearth::cli {

namespace {

using clock_type = std::chrono::steady_clock;

struct stats {
  double mean = 0, stddev = 0;
};
stats mean_stddev(const std::vector<double>& v) {
  stats s;
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= (double)v.size();
  if (v.size() > 1) {
    double ss = 0;
    for (double x : v) ss += (x - s.mean) * (x - s.mean);
    s.stddev = std::sqrt(ss / (double)(v.size() - 1));
  }
  return s;
}

std::string human_bytes(double b) {
  if (b >= 1024.0 * 1048576.0) return fmt::format("{:.2f} GiB", b / (1024.0 * 1048576.0));
  return fmt::format("{:.1f} MiB", b / 1048576.0);
}

std::string human_params(double n) {
  if (n >= 1e9) return fmt::format("{:.2f} B", n / 1e9);
  if (n >= 1e6) return fmt::format("{:.2f} M", n / 1e6);
  return fmt::format("{:.0f} K", n / 1e3);
}

// What one token's forward pass reads: every weight matrix once (the embedding table only for its
// rows, unless it is also the output head), and the KV cache up to its depth.
struct traffic {
  uint64_t weight_bytes = 0;       // read once per micro-batch
  uint64_t kv_bytes_per_cell = 0;  // K and V of one cell, all layers
  uint64_t embd_row_bytes = 0;     // read per token
};

traffic model_traffic(model& m, dtype kv_type) {
  traffic t;
  std::set<std::string> seen;
  for (const tensor& w : m.tensors()) {
    if (!seen.insert(w.name).second) continue;
    if (w.name == "token_embd.weight" && !m.hp.tied_output) {
      t.embd_row_bytes = w.nb[1];
      continue;
    }
    t.weight_bytes += w.nbytes();
  }
  for (uint32_t il = 0; il < m.hp.n_layer; ++il)
    t.kv_bytes_per_cell += (uint64_t)(m.hp.n_embd_k_gqa(il) + m.hp.n_embd_v_gqa(il)) * type_size(kv_type);
  return t;
}

struct test_result {
  std::string name;  // pp512, tg128
  int n_prompt = 0, n_gen = 0;
  std::vector<double> tokens_per_s;  // per repetition
  double bytes_per_token = 0;        // average over the test
};

class bench_command : public command {
 public:
  const char* name() const override { return "bench"; }
  const char* help() const override { return "Measure prompt (pp) and generation (tg) speed, and memory bandwidth (--memory)"; }

  void setup(CLI::App& app) override {
    args_.add_to(app);
    app.add_option("-p,--n-prompt", n_prompt_, "Prompt lengths to test (comma-separated; 0: none)")->delimiter(',');
    app.add_option("-n,--n-gen", n_gen_, "Generation lengths to test (comma-separated; 0: none)")->delimiter(',');
    app.add_option("-d,--n-depth", depth_, "Tokens already in the cache when each test starts (untimed prefill)")->check(CLI::Range(0, 1 << 20));
    app.add_option("-r,--repetitions", reps_, "Repetitions of each test")->check(CLI::Range(1, 1000));
    app.add_flag("--no-warmup", no_warmup_, "Skip the untimed warm-up run of each test");
    app.add_flag("--json", json_, "Print a JSON array, one object per test");
    app.add_flag("--memory", memory_only_, "Only measure the CPU's memory read bandwidth (1 thread and -t threads)");
    app.add_option("--memory-mib", memory_mib_, "Buffer of the bandwidth test in MiB (default 512)")->check(CLI::Range(1, 1 << 20));
    app.add_option("--bandwidth", bandwidth_gbs_, "Memory bandwidth in GB/s to compare with (default: the GPU's peak, or measured on the CPU)");
    app.add_flag("--no-bandwidth", no_bandwidth_, "Do not measure the CPU's memory bandwidth");
  }

  int run() override {
    if (memory_only_) return run_memory();
    return run_model();
  }

 private:
  int run_memory() {
    const int t_max = args_.threads > 0 ? args_.threads : 2;
    std::vector<int> counts = {1};
    if (t_max > 1) counts.push_back(t_max);
    nlohmann::json out = nlohmann::json::array();
    if (!json_) std::printf("| threads | buffer | read GB/s (best) | read GB/s (mean) |\n|--:|--:|--:|--:|\n");
    for (int n : counts) {
      const hw::bandwidth_result r = hw::measure_read_bandwidth(n, (size_t)memory_mib_ << 20);
      if (json_) {
        out.push_back({{"test", "memory_read"}, {"threads", n}, {"buffer_bytes", r.buffer_bytes},
                       {"gb_per_s", r.bytes_per_s / 1e9}, {"mean_gb_per_s", r.mean_bytes_per_s / 1e9}});
      } else {
        std::printf("| %d | %s | %.1f | %.1f |\n", n, human_bytes((double)r.buffer_bytes).c_str(), r.bytes_per_s / 1e9,
                    r.mean_bytes_per_s / 1e9);
        std::fflush(stdout);
      }
    }
    if (json_) std::printf("%s\n", out.dump(1).c_str());
    return 0;
  }

  int run_model() {
    int n_ctx = 0;
    for (int p : n_prompt_) if (p < 0) fail(error_kind::invalid_argument, "-p must be >= 0");
    for (int n : n_gen_) if (n < 0) fail(error_kind::invalid_argument, "-n must be >= 0");
    for (int p : n_prompt_) n_ctx = std::max(n_ctx, p);
    for (int n : n_gen_) n_ctx = std::max(n_ctx, n);
    auto m = args_.load();
    context_params cp = args_.context();
    cp.n_ctx = (uint32_t)std::max(n_ctx + depth_, 16);
    context ctx(*m, cp);
    const traffic tr = model_traffic(*m, cp.type_k);

    // The device that holds most of the weights is the one whose bandwidth bounds the speed.
    device* main_dev = registry::instance().cpu();
    uint64_t most = 0;
    for (auto& [d, b] : m->weight_bytes())
      if (b > most) { most = b; main_dev = d; }
    const int n_threads = args_.threads > 0 ? args_.threads : std::stoi(registry::instance().cpu()->props().extra["threads"]);
    double bw = bandwidth_gbs_ * 1e9;
    std::string bw_source = bw > 0 ? "given" : "";
    if (bw <= 0) {
      if (main_dev->kind() == device_kind::cpu) {
        if (!no_bandwidth_) {
          bw = hw::measure_read_bandwidth(n_threads, (size_t)memory_mib_ << 20).bytes_per_s;
          bw_source = "measured";
        }
      } else if (main_dev->props().peak_bandwidth) {
        bw = (double)main_dev->props().peak_bandwidth;
        bw_source = "peak";
      }
    }

    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> tok(0, (int32_t)m->hp.n_vocab - 1);
    std::vector<test_result> results;
    for (int np : n_prompt_) {
      if (np == 0) continue;
      test_result r;
      r.name = fmt::format("pp{}", np) + depth_name();
      r.n_prompt = np;
      const uint64_t n_ub = (uint64_t)((np + (int)ctx.params().n_batch - 1) / (int)ctx.params().n_batch);
      // Weights once per micro-batch; the KV cache up to the average depth for every token.
      r.bytes_per_token = ((double)tr.weight_bytes * (double)n_ub + (double)tr.kv_bytes_per_cell * np * (np - 1) / 2.0) / np +
                          (double)tr.kv_bytes_per_cell * depth_ + (double)tr.embd_row_bytes;
      for (int rep = no_warmup_ ? 0 : -1; rep < reps_; ++rep) {
        std::vector<int32_t> toks((size_t)np);
        for (auto& t : toks) t = tok(rng);
        prefill(ctx, tok, rng);
        const auto t0 = clock_type::now();
        ctx.decode(batch::of(toks, depth_));
        const double s = std::chrono::duration<double>(clock_type::now() - t0).count();
        if (rep >= 0) r.tokens_per_s.push_back(np / s);
      }
      results.push_back(std::move(r));
      if (!json_) print_progress(results.back());
    }
    for (int ng : n_gen_) {
      if (ng == 0) continue;
      test_result r;
      r.name = fmt::format("tg{}", ng) + depth_name();
      r.n_gen = ng;
      r.bytes_per_token = (double)tr.weight_bytes + (double)tr.kv_bytes_per_cell * (depth_ + (ng - 1) / 2.0) + (double)tr.embd_row_bytes;
      for (int rep = no_warmup_ ? 0 : -1; rep < reps_; ++rep) {
        prefill(ctx, tok, rng);
        const int n = rep < 0 ? std::min(ng, 4) : ng;
        const auto t0 = clock_type::now();
        for (int i = 0; i < n; ++i) ctx.decode(batch::of({tok(rng)}, depth_ + i));
        const double s = std::chrono::duration<double>(clock_type::now() - t0).count();
        if (rep >= 0) r.tokens_per_s.push_back(n / s);
      }
      results.push_back(std::move(r));
      if (!json_) print_progress(results.back());
    }

    // Report.
    const std::string type_name = [&] {
      const int64_t ft = m->file->get_int("general.file_type", -1);
      for (const auto& n : synth::file_type_names())
        if ((int64_t)synth::find_file_type(n)->id == ft) return n;
      // No (known) file type: name the type holding most of the bytes.
      std::map<std::string, uint64_t> by;
      for (const auto& t : m->file->tensors()) by[dtype_name(t.type)] += t.size;
      std::string best = "?";
      uint64_t most_bytes = 0;
      for (const auto& [n, b] : by)
        if (b > most_bytes) { most_bytes = b; best = n; }
      return best;
    }();
    std::string model_desc = fmt::format("{} {}", arch_name(m->hp.a), type_name);
    const double size = (double)m->file->tensor_data_bytes();
    const std::string backend = main_dev->name();
    if (json_) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& r : results) {
        const stats st = mean_stddev(r.tokens_per_s);
        nlohmann::json j = {{"model", m->path}, {"model_type", model_desc}, {"model_size", (uint64_t)size},
                            {"model_n_params", m->n_params()}, {"backend", backend}, {"n_threads", n_threads},
                            {"n_gpu_layers", args_.gpu_layers}, {"test", r.name}, {"n_prompt", r.n_prompt},
                            {"n_gen", r.n_gen}, {"n_depth", depth_}, {"repetitions", r.tokens_per_s.size()}, {"tokens_per_s", st.mean},
                            {"stddev", st.stddev}, {"best_tokens_per_s", *std::max_element(r.tokens_per_s.begin(), r.tokens_per_s.end())},
                            {"samples_ts", r.tokens_per_s},
                            {"bytes_per_token", r.bytes_per_token}, {"gb_per_s", st.mean * r.bytes_per_token / 1e9}};
        if (bw > 0) {
          j["mem_bandwidth_gb_per_s"] = bw / 1e9;
          j["mem_bandwidth_source"] = bw_source;
          j["bandwidth_fraction"] = st.mean * r.bytes_per_token / bw;
        }
        out.push_back(std::move(j));
      }
      std::printf("%s\n", out.dump(1).c_str());
      return 0;
    }
    std::printf("| model | size | params | backend | threads | test | t/s | GB/s | of bandwidth |\n");
    std::printf("| --- | --: | --: | --- | --: | --: | --: | --: | --: |\n");
    for (const auto& r : results) {
      const stats st = mean_stddev(r.tokens_per_s);
      const double gbs = st.mean * r.bytes_per_token / 1e9;
      const std::string frac = bw > 0 ? fmt::format("{:.0f}% of {:.1f}", 100.0 * gbs * 1e9 / bw, bw / 1e9) : "";
      std::printf("| %s | %s | %s | %s | %d | %s | %.2f ± %.2f | %.1f | %s |\n", model_desc.c_str(), human_bytes(size).c_str(),
                  human_params((double)m->n_params()).c_str(), backend.c_str(), n_threads, r.name.c_str(), st.mean, st.stddev,
                  gbs, frac.c_str());
    }
    if (bw > 0 && bw_source == "measured")
      std::printf("\nmemory read bandwidth %.1f GB/s (measured with %d threads)\n", bw / 1e9, n_threads);
    return 0;
  }

  std::string depth_name() const { return depth_ ? fmt::format(" @ d{}", depth_) : std::string(); }

  // An empty cache, then depth_ random tokens (untimed).
  template <class D> void prefill(context& ctx, D& tok, std::mt19937& rng) const {
    ctx.cache().clear();
    if (depth_ == 0) return;
    std::vector<int32_t> toks((size_t)depth_);
    for (auto& t : toks) t = tok(rng);
    ctx.decode(batch::of(toks, 0));
  }

  void print_progress(const test_result& r) const {
    const stats st = mean_stddev(r.tokens_per_s);
    std::fprintf(stderr, "%s: %.2f ± %.2f t/s\n", r.name.c_str(), st.mean, st.stddev);
  }

  model_args args_;
  std::vector<int> n_prompt_ = {512};
  std::vector<int> n_gen_ = {128};
  int reps_ = 5;
  int depth_ = 0;
  bool no_warmup_ = false, json_ = false, memory_only_ = false, no_bandwidth_ = false;
  double bandwidth_gbs_ = 0;
  int memory_mib_ = 512;
};

}  // namespace

HEARTH_COMMAND(bench_command);

}  // namespace hearth::cli
