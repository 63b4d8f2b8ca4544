// The offload planner: its estimate matches what the loader and a context really allocate, and
// auto picks the most layers that fit a device's memory.
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "backend/registry.h"
#include "backends/init.h"
#include "model/context.h"
#include "model/loader.h"
#include "model/planner.h"
#include "test_util.h"

namespace hearth {
namespace {

struct planner_case {
  const char* file;
  uint32_t n_ctx;
};

class Planner : public ::testing::TestWithParam<planner_case> {};

// What a CPU load really holds: the weights the graph reads, the KV cache, the compute buffers.
TEST_P(Planner, CpuEstimateMatchesAllocations) {
  init_backends(false);
  const std::string path = test::data_path(GetParam().file);
  plan_request req;
  req.path = path;
  req.n_ctx = GetParam().n_ctx;
  req.n_batch = 512;
  const offload_plan plan = plan_offload(req);
  ASSERT_EQ(plan.devices.size(), 1u);
  const device_plan& est = plan.devices[0];

  auto m = load_model(path, {});
  uint64_t weights = 0;
  for (auto& t : m->tensors()) weights += t.nbytes();
  context_params cp;
  cp.n_ctx = req.n_ctx;
  cp.n_batch = req.n_batch;
  context ctx(*m, cp);
  uint64_t kv = 0, compute = 0;
  for (auto& [d, bytes] : ctx.cache().bytes()) kv += bytes;
  for (auto& [d, bytes] : ctx.sched().buffer_sizes()) compute += bytes;
  const double total = (double)(weights + kv + compute);
  std::printf("%s ctx %u: weights %lu/%lu kv %lu/%lu compute %lu/%lu\n", GetParam().file, req.n_ctx, est.weights, weights, est.kv, kv,
              est.compute, compute);
  EXPECT_NEAR((double)est.weights, (double)weights, 0.01 * weights + 4096.0 * m->tensors().size());
  EXPECT_EQ(est.kv, kv);
  EXPECT_NEAR((double)est.total(), total, 0.05 * total);
}

INSTANTIATE_TEST_SUITE_P(Models, Planner,
                         ::testing::Values(planner_case{"models/tinyllamas/stories260K.gguf", 512},
                                           planner_case{"reference/models/synth-llama-q4_k_m.gguf", 512},
                                           planner_case{"reference/models/synth-llama-q4_k_m.gguf", 8192},
                                           planner_case{"reference/models/synth-qwen3moe-q4_k_m.gguf", 256},
                                           planner_case{"reference/models/synth-gemma3-f32.gguf", 512},
                                           planner_case{"reference/models/synth-gemma3-f32.gguf", 4096}));

// Real-sized models when given (HEARTH_PLANNER_MODELS, colon-separated paths, e.g. the 1B and 8B
// shapes written by hearth-synth): CPU estimate against the loader for several context sizes.
TEST(PlannerLarge, CpuEstimateMatchesAllocations) {
  const char* env = std::getenv("HEARTH_PLANNER_MODELS");
  if (!env) GTEST_SKIP() << "HEARTH_PLANNER_MODELS not set";
  init_backends(false);
  std::stringstream ss(env);
  for (std::string path; std::getline(ss, path, ':');) {
    if (path.empty()) continue;
    auto m = load_model(path, {});
    uint64_t weights = 0;
    for (auto& t : m->tensors()) weights += t.nbytes();
    for (uint32_t n_ctx : {512u, 4096u, 32768u}) {
      SCOPED_TRACE(path + " ctx " + std::to_string(n_ctx));
      plan_request req;
      req.path = path;
      req.n_ctx = n_ctx;
      const device_plan est = plan_offload(req).devices.at(0);
      context_params cp;
      cp.n_ctx = n_ctx;
      context ctx(*m, cp);
      uint64_t kv = 0, compute = 0;
      for (auto& [d, bytes] : ctx.cache().bytes()) kv += bytes;
      for (auto& [d, bytes] : ctx.sched().buffer_sizes()) compute += bytes;
      const double total = (double)(weights + kv + compute);
      std::printf("%s ctx %u: estimate %.1f MiB, allocated %.1f MiB (weights %lu/%lu kv %lu/%lu compute %lu/%lu)\n", path.c_str(), n_ctx,
                  est.total() / 1048576.0, total / 1048576.0, est.weights, weights, est.kv, kv, est.compute, compute);
      EXPECT_EQ(est.kv, kv);
      EXPECT_NEAR((double)est.total(), total, 0.05 * total);
    }
  }
}

}  // namespace
}  // namespace hearth

namespace hearth {
namespace {

// A GPU that exists only for the planner: fixed free memory, runs no ops (the scheduler keeps the
// compute on the CPU) except, when asked, the token embedding lookup; allocates placeholder memory.
class fake_gpu final : public device {
 public:
  explicit fake_gpu(uint64_t free_bytes, bool embeds = false) : bt_(this), free_(free_bytes), embeds_(embeds) {}
  std::string name() const override { return "fake:0"; }
  std::string description() const override { return "planner test GPU"; }
  device_kind kind() const override { return device_kind::gpu_discrete; }
  device_memory memory() const override { return {free_, free_}; }
  device_props props() const override { return {}; }
  bool supports_op(const tensor& n) const override { return embeds_ && n.op == op::get_rows; }
  buffer_type* default_buffer_type() override { return &bt_; }
  std::unique_ptr<stream> make_stream() override { return nullptr; }

 private:
  struct fake_bt final : buffer_type {
    using buffer_type::buffer_type;
    const char* name() const override { return "fake"; }
    std::unique_ptr<buffer> allocate(size_t size) override { return std::make_unique<placeholder_buffer>(this, size); }
    size_t alignment() const override { return 256; }
    size_t max_size() const override { return SIZE_MAX; }
    bool is_host() const override { return false; }
  } bt_;
  uint64_t free_;
  bool embeds_;
};

TEST(PlannerAuto, PicksTheMostLayersThatFit) {
  init_backends(false);
  const std::string path = test::data_path("reference/models/synth-llama-q4_k_m.gguf");
  plan_request req;
  req.path = path;
  req.n_ctx = 512;
  // Everything fits in plenty of memory.
  fake_gpu big(8ull << 30);
  req.gpus = {&big};
  offload_plan all = plan_offload(req);
  EXPECT_EQ(all.n_gpu_layers, all.n_layer);
  EXPECT_TRUE(all.fits);
  ASSERT_EQ(all.devices.size(), 2u);
  EXPECT_TRUE(all.devices[1].output);
  EXPECT_EQ(all.devices[1].n_layers, all.n_layer);
  EXPECT_GT(all.devices[1].weights, 0u);
  EXPECT_GT(all.devices[1].kv, 0u);
  // Nothing fits next to the 256 MiB safety margin: zero layers, and the plan says so.
  fake_gpu tiny(200ull << 20);
  req.gpus = {&tiny};
  offload_plan none = plan_offload(req);
  EXPECT_EQ(none.n_gpu_layers, 0);
  EXPECT_FALSE(none.note.empty());
  // Room for exactly one layer's share: one layer goes (the last, with the output head).
  req.n_gpu_layers = 1;
  fake_gpu probe(8ull << 30);
  req.gpus = {&probe};
  const uint64_t one = plan_offload(req).devices[1].total();
  req.n_gpu_layers = -1;
  fake_gpu one_fits(one + (256ull << 20));
  req.gpus = {&one_fits};
  offload_plan p1 = plan_offload(req);
  EXPECT_EQ(p1.n_gpu_layers, 1);
  EXPECT_TRUE(p1.devices[1].fits());
  // Asking for more than fits is evaluated as asked and reported.
  req.n_gpu_layers = 2;
  offload_plan over = plan_offload(req);
  EXPECT_FALSE(over.fits);
  EXPECT_FALSE(over.note.empty());
}

// With every layer on a GPU that can look them up, the token embeddings go there too; when all
// the layers fit but not the embeddings as well, the embeddings stay on the CPU before any layer
// comes back.
TEST(PlannerAuto, TokenEmbeddingsGoToTheGpuWhenTheyFit) {
  init_backends(false);
  plan_request req;
  req.path = test::data_path("reference/models/synth-llama-q4_k_m.gguf");
  req.n_ctx = 512;
  fake_gpu plain(8ull << 30), embeds(8ull << 30, true);
  req.gpus = {&plain};
  const offload_plan without = plan_offload(req);
  EXPECT_FALSE(without.gpu_input);  // it cannot look them up
  req.gpus = {&embeds};
  const offload_plan with = plan_offload(req);
  EXPECT_TRUE(with.gpu_input);
  EXPECT_EQ(with.n_gpu_layers, with.n_layer);
  EXPECT_GT(with.devices[1].weights, without.devices[1].weights);
  EXPECT_LT(with.devices[0].weights, without.devices[0].weights);
  // Room for every layer but not the embeddings too.
  fake_gpu tight(without.devices[1].total() + (256ull << 20), true);
  req.gpus = {&tight};
  const offload_plan t = plan_offload(req);
  EXPECT_EQ(t.n_gpu_layers, t.n_layer);
  EXPECT_FALSE(t.gpu_input);
  EXPECT_TRUE(t.fits);
  // Fewer layers than all: the embeddings stay on the CPU whatever is asked.
  device* cpu = registry::instance().cpu();
  const placement some = plan_placement(4, cpu, {&embeds}, 3, true);
  EXPECT_EQ(some.input, cpu);
  const placement all = plan_placement(4, cpu, {&embeds}, -1, true);
  EXPECT_EQ(all.input, &embeds);
}

}  // namespace
}  // namespace hearth
