// The offload planner against a real GPU: for a device, the estimate is within 5 % of the memory
// that loading the model, creating a context and decoding really take from it (the device's own
// free-memory figure before and after), fully and half offloaded, for several context sizes.
// Skips without a hardware GPU (CI). Models: the test data's synthetic ones, plus every file listed
// in HEARTH_PLANNER_MODELS (colon-separated; on the device machine the 1B and 8B shapes written by
// hearth-synth).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "backend/registry.h"
#include "backends/init.h"
#include "model/context.h"
#include "model/loader.h"
#include "model/planner.h"
#include "test_util.h"

namespace hearth {
namespace {

// The first hardware GPU of a loaded module (CUDA/ROCm before Vulkan; HEARTH_PLANNER_API=vulkan
// picks the Vulkan view of it), or nullptr.
device* hardware_gpu() {
  init_backends(true);
  const char* want = std::getenv("HEARTH_PLANNER_API");
  device* vk = nullptr;
  for (device* d : registry::instance().devices()) {
    if (d->kind() != device_kind::gpu_discrete && d->kind() != device_kind::gpu_integrated) continue;
    const std::string api = d->props().api;
    if (want && api != want) continue;
    if (api == "cuda" || api == "rocm") return d;
    if (api == "vulkan" && !vk) vk = d;
  }
  return vk;
}

std::vector<std::string> models() {
  // The shipped models that are present (device runs carry a subset of tests/data), then the
  // named ones, which must exist.
  std::vector<std::string> out;
  for (const char* name : {"synth-llama-q4_k_m.gguf", "synth-qwen3moe-q4_k_m.gguf", "synth-gemma3-f32.gguf"})
    if (std::string p = test::data_path(std::string("reference/models/") + name); std::filesystem::exists(p)) out.push_back(p);
  if (const char* env = std::getenv("HEARTH_PLANNER_MODELS")) {
    std::stringstream ss(env);
    for (std::string p; std::getline(ss, p, ':');)
      if (!p.empty()) out.push_back(p);
  }
  return out;
}

uint64_t free_bytes(device* d) { return d->memory().free_bytes; }

uint64_t bytes_on(const std::vector<std::pair<device*, uint64_t>>& list, device* d) {
  for (const auto& [dev, n] : list)
    if (dev == d) return n;
  return 0;
}

TEST(GpuPlanner, EstimateMatchesDeviceMemoryTaken) {
  device* gpu = hardware_gpu();
  if (!gpu) GTEST_SKIP() << "no hardware GPU (no CUDA/ROCm/Vulkan module or device)";
  std::printf("device %s (%s)\n", gpu->name().c_str(), gpu->description().c_str());
  for (const std::string& path : models()) {
    const int n_layer = (int)open_model(path)->hp.n_layer;
    for (int n_gpu : {n_layer, n_layer / 2}) {
      for (uint32_t n_ctx : {512u, 4096u, 16384u}) {
        SCOPED_TRACE(path + " gpu layers " + std::to_string(n_gpu) + " ctx " + std::to_string(n_ctx));
        plan_request req;
        req.path = path;
        req.n_ctx = n_ctx;
        req.n_batch = 512;
        req.gpus = {gpu};
        req.n_gpu_layers = n_gpu;
        const offload_plan plan = plan_offload(req);
        ASSERT_EQ(plan.devices.size(), 2u);
        const device_plan& est = plan.devices[1];
        ASSERT_EQ(est.dev, gpu);
        if (!est.fits()) {
          std::printf("  %s: does not fit, skipped\n", path.c_str());
          continue;
        }

        const uint64_t free0 = free_bytes(gpu);
        load_params lp;
        lp.gpus = {gpu};
        lp.n_gpu_layers = n_gpu;
        auto m = load_model(path, lp);
        context_params cp;
        cp.n_ctx = n_ctx;
        cp.n_batch = req.n_batch;
        auto ctx = std::make_unique<context>(*m, cp);
        // One prompt micro-batch of the full batch size and one generated token: whatever a backend
        // allocates on first use (graphs, scratch) is counted.
        batch b;
        for (uint32_t i = 0; i < std::min<uint32_t>(req.n_batch, n_ctx / 2); ++i) b.add(1 + i % 100, (int)i, 0, i + 1 == std::min<uint32_t>(req.n_batch, n_ctx / 2));
        ctx->decode(b);
        batch g;
        g.add(7, (int)b.tokens.size(), 0, true);
        ctx->decode(g);
        const uint64_t free1 = free_bytes(gpu);
        const uint64_t taken = free0 > free1 ? free0 - free1 : 0;

        const uint64_t weights = bytes_on(m->weight_bytes(), gpu);
        const auto held = ctx->memory();
        const uint64_t kv = bytes_on(ctx->cache().bytes(), gpu);
        const uint64_t in_buffers = weights + bytes_on(held, gpu);
        std::printf("  %-60s layers %2d/%-2d ctx %5u: estimate %8.1f MiB (w %.1f kv %.1f c %.1f), buffers %8.1f MiB, device free drop %8.1f MiB\n",
                    path.substr(path.find_last_of('/') + 1).c_str(), n_gpu, n_layer, n_ctx, est.total() / 1048576.0,
                    est.weights / 1048576.0, est.kv / 1048576.0, est.compute / 1048576.0, in_buffers / 1048576.0, taken / 1048576.0);
        EXPECT_EQ(est.kv, kv);
        EXPECT_NEAR((double)est.weights, (double)weights, 0.01 * (double)weights + 65536.0);
        EXPECT_NEAR((double)est.total(), (double)in_buffers, 0.05 * (double)in_buffers);
        // The device's own figure carries driver granularity (2 MiB pages, pools): compare it where
        // the model is large enough for 5 % to mean something.
        if (taken > (256ull << 20)) {
          EXPECT_NEAR((double)est.total(), (double)taken, 0.05 * (double)taken);
        }
        ctx.reset();
        m.reset();
      }
    }
  }
}

}  // namespace
}  // namespace hearth
