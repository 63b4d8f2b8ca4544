// Whole-model prompt processing and generation speed on one device (pp / tg tokens/s, with the
// weight bytes read per generated token as GB/s and the fraction of the device's peak bandwidth).
//   bench_vulkan_model MODEL.gguf [--device vulkan:0] [--pp 512] [--tg 128] [--reps 3]
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <random>

#include "backend/registry.h"
#include "backends/init.h"
#include "core/error.h"
#include "model/context.h"
#include "model/loader.h"

using namespace hearth;

int main(int argc, char** argv) {
  CLI::App app{"Prompt processing and generation speed of a model on one device"};
  std::string path, dev_name = "vulkan";
  int pp = 512, tg = 128, reps = 3, ngl = -1;
  app.add_option("MODEL", path)->required();
  app.add_option("--device", dev_name);
  app.add_option("--pp", pp);
  app.add_option("--tg", tg);
  app.add_option("--reps", reps);
  app.add_option("--ngl", ngl, "layers on the device (-1: all)");
  CLI11_PARSE(app, argc, argv);
  try {
    init_backends(true);
    device* dev = registry::instance().find(dev_name);
    load_params lp;
    if (dev->kind() != device_kind::cpu) {
      lp.gpus = {dev};
      lp.n_gpu_layers = ngl;
    }
    auto t0 = std::chrono::steady_clock::now();
    auto m = load_model(path, lp);
    const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    context_params cp;
    cp.n_ctx = (uint32_t)(pp + tg + 16);
    cp.n_batch = (uint32_t)pp;
    context ctx(*m, cp);
    std::mt19937 rng(1);
    std::uniform_int_distribution<int32_t> tok(0, (int32_t)m->hp.n_vocab - 1);
    auto tokens = [&](int n) {
      std::vector<int32_t> v(n);
      for (auto& t : v) t = tok(rng);
      return v;
    };
    const uint64_t weight_bytes = m->file->tensor_data_bytes();
    const device_props props = dev->props();
    std::printf("model %s: %.2f GiB of weights, %u layers, loaded in %.1f s on %s (%s)\n", path.c_str(), weight_bytes / 1073741824.0,
                m->hp.n_layer, load_s, dev->name().c_str(), dev->description().c_str());
    // Warm-up: pipelines, buffers.
    ctx.decode(batch::of(tokens(8), 0));
    ctx.decode(batch::of(tokens(1), 8));
    double best_pp = 0, best_tg = 0;
    for (int r = 0; r < reps; ++r) {
      ctx.cache().clear();
      const auto prompt = tokens(pp);
      auto a = std::chrono::steady_clock::now();
      ctx.decode(batch::of(prompt, 0));
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
      best_pp = std::max(best_pp, pp / s);
      ctx.cache().clear();
      a = std::chrono::steady_clock::now();
      int32_t t = tok(rng);
      for (int i = 0; i < tg; ++i) ctx.decode(batch::of({t}, i));
      const double g = std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
      best_tg = std::max(best_tg, tg / g);
      std::printf("  rep %d: pp%d %.1f t/s, tg%d %.1f t/s\n", r, pp, pp / s, tg, tg / g);
    }
    const double gbs = best_tg * (double)weight_bytes / 1e9;
    std::printf("RESULT %s pp%d %.1f t/s | tg%d %.1f t/s | %.0f GB/s", dev->description().c_str(), pp, best_pp, tg, best_tg, gbs);
    if (props.peak_bandwidth) std::printf(" = %.0f%% of %.2f TB/s", 100.0 * gbs * 1e9 / (double)props.peak_bandwidth, props.peak_bandwidth / 1e12);
    std::printf("\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
