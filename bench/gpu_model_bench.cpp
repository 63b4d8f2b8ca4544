// Whole-model speed on a GPU backend (CUDA/ROCm, or any device named by --device): loads a model
// fully offloaded (e.g. one written by hearth-synth) and measures prompt processing (pp) and token
// generation (tg) in tokens/s, the weight bandwidth tg achieves and its fraction of the device's
// peak; on a tiny model the tg time per token is the per-token overhead. HEARTH_GPU_STATS=1 adds the
// stream's host/wait split, =2 the GPU time per op (eager, no graphs).
//
//   bench_gpu_model --model FILE.gguf [--pp 512] [--tg 128] [--device cuda:0]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/registry.h"
#include "backends/init.h"
#include "model/context.h"
#include "model/loader.h"

using namespace hearth;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

}  // namespace

int main(int argc, char** argv) {
  std::string path, dev_spec;
  int n_pp = 512, n_tg = 128;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--model") path = v;
    else if (a == "--pp") n_pp = std::stoi(v);
    else if (a == "--tg") n_tg = std::stoi(v);
    else if (a == "--device") dev_spec = v;
  }
  try {
    init_backends(true);
    device* dev = dev_spec.empty() ? registry::instance().first_gpu() : registry::instance().find(dev_spec);
    if (!dev) {
      std::printf("no GPU device\n");
      return 1;
    }
    if (path.empty()) {
      std::printf("usage: bench_gpu_model --model FILE.gguf [--pp N] [--tg N] [--device NAME]\n");
      return 1;
    }
    const double t1 = now();
    load_params lp;
    lp.gpus = {dev};
    lp.n_gpu_layers = -1;
    auto m = load_model(path, lp);
    const double t2 = now();
    uint64_t gpu_bytes = 0;
    for (auto& [d, n] : m->weight_bytes())
      if (d == dev) gpu_bytes += n;
    context_params cp;
    cp.n_ctx = (uint32_t)(n_pp + n_tg + 64);
    cp.n_batch = (uint32_t)std::max(n_pp, 1);
    context ctx(*m, cp);
    std::mt19937 rng(7);
    std::vector<int32_t> toks((size_t)n_pp);
    for (auto& t : toks) t = (int32_t)(rng() % m->hp.n_vocab);
    // Warm-up (graph recording, first-touch), then the best of 3 prompt runs.
    ctx.decode(batch::of({1, 2, 3, 4}, 0));
    double pp_best = 1e30;
    for (int r = 0; r < 3 && n_pp > 0; ++r) {
      ctx.cache().clear();
      const double a = now();
      ctx.decode(batch::of(toks, 0));
      pp_best = std::min(pp_best, now() - a);
    }
    ctx.cache().clear();
    ctx.decode(batch::of({5}, 0));
    int32_t tok = 6;
    const double a = now();
    for (int i = 0; i < n_tg; ++i) {
      ctx.decode(batch::of({tok}, 1 + i));
      tok = (int32_t)((tok * 31 + 7) % (int32_t)m->hp.n_vocab);
    }
    const double tg_s = now() - a;
    const device_props p = dev->props();
    const double tg_tps = n_tg / tg_s;
    const double gbs = (double)gpu_bytes * tg_tps / 1e9;
    std::printf("model %s: %.2f GiB on %s (%s), peak %.0f GB/s; loaded in %.1f s\n", path.c_str(), gpu_bytes / 1073741824.0,
                dev->name().c_str(), dev->description().c_str(), p.peak_bandwidth / 1e9, t2 - t1);
    if (n_pp > 0) std::printf("  pp%d: %.1f t/s (%.1f ms)\n", n_pp, n_pp / pp_best, pp_best * 1e3);
    std::printf("  tg%d: %.1f t/s (%.3f ms/token), weights %.0f GB/s = %.1f%% of peak\n", n_tg, tg_tps, tg_s / n_tg * 1e3, gbs,
                p.peak_bandwidth ? 100.0 * gbs * 1e9 / (double)p.peak_bandwidth : 0.0);
    return 0;
  } catch (const std::exception& e) {
    std::printf("error: %s\n", e.what());
    return 1;
  }
}
