// A mixture-of-experts model fully offloaded to the Vulkan device runs every layer there: the CPU
// keeps only the token-embedding lookup and what the scheduler runs beside it before the first
// weight on the device (the first norm), so no expert weights cross the bus per pass.
#include <gtest/gtest.h>

#include <set>

#include "golden_harness.h"
#include "vk_test_util.h"

namespace hearth::test {
namespace {

struct placement_log {
  std::multiset<std::pair<std::string, op>> nodes;  // (device name, op) of every node run
};

TEST(VulkanMoe, FullyOffloadedModelRunsEverythingOnTheDevice) {
  HEARTH_REQUIRE_VULKAN(dev);
  int n_models = 0;
  for (const golden_case& c : golden_cases()) {
    if (c.stem.rfind("synth-qwen3moe-", 0) != 0) continue;
    ++n_models;
    SCOPED_TRACE(c.stem);
    load_params lp;
    lp.gpus = {dev};
    lp.n_gpu_layers = -1;
    auto m = load_model(model_path(c), lp);
    context_params cp;
    cp.n_ctx = 64;
    cp.n_batch = 64;
    cp.n_threads = 2;
    context ctx(*m, cp);
    placement_log log;
    const auto prompt = c.ref["prompt_ids"].get<std::vector<int32_t>>();
    // The prompt (many pairs: routed, tiled products) and one token (a product per pair).
    for (const batch& b : {batch::of(prompt, 0), batch::of({prompt[0]}, (int32_t)prompt.size())}) {
      log.nodes.clear();
      // Set per pass: the context clears it after each decode.
      ctx.sched().set_node_callback([](void* user, const std::vector<tensor*>& nodes, scheduler& s) {
        for (tensor* n : nodes) static_cast<placement_log*>(user)->nodes.insert({s.device_of(n)->name(), n->op});
      }, &log);
      ctx.decode(b);
      // The token embeddings live on the device too: one split, nothing copied in, nothing on the CPU.
      const auto splits = ctx.sched().splits();
      ASSERT_EQ(splits.size(), 1u);
      EXPECT_EQ(splits[0].dev, dev);
      EXPECT_EQ(splits[0].n_copies, 0);
      const std::string cpu = registry::instance().cpu()->name();
      for (const auto& [where, o] : log.nodes) EXPECT_NE(where, cpu) << op_name(o) << " ran on the CPU";
      for (op o : {op::mul_mat_id, op::top_k, op::gather, op::moe_sum}) {
        EXPECT_GT(log.nodes.count({dev->name(), o}), 0u) << op_name(o);
        EXPECT_EQ(log.nodes.count({cpu, o}), 0u) << op_name(o);
      }
    }
  }
  EXPECT_EQ(n_models, 2);
}

// A prompt long enough for the routed, tiled expert products (the references' 16-token prompts
// take the product-per-pair path) gives the CPU's logits on the device.
TEST(VulkanMoe, LongPromptMatchesTheCpu) {
  HEARTH_REQUIRE_VULKAN(dev);
  for (const golden_case& c : golden_cases()) {
    if (c.stem.rfind("synth-qwen3moe-", 0) != 0) continue;
    SCOPED_TRACE(c.stem);
    std::vector<int32_t> prompt = c.ref["prompt_ids"].get<std::vector<int32_t>>();
    const auto greedy = c.ref["greedy_ids"].get<std::vector<int32_t>>();
    prompt.insert(prompt.end(), greedy.begin(), greedy.end());
    prompt.insert(prompt.end(), prompt.begin(), prompt.end());
    ASSERT_GT(prompt.size(), 40u);
    auto logits_on = [&](std::vector<device*> gpus) {
      load_params lp;
      lp.gpus = gpus;
      lp.n_gpu_layers = gpus.empty() ? 0 : -1;
      auto m = load_model(model_path(c), lp);
      context_params cp;
      cp.n_ctx = 128;
      cp.n_batch = 128;
      cp.n_threads = 2;
      cp.type_k = cp.type_v = dtype::f32;
      context ctx(*m, cp);
      ctx.decode(batch::of(prompt, 0, 0, true));
      std::vector<float> out;
      for (size_t i = 0; i < prompt.size(); ++i) out.insert(out.end(), ctx.logits(i), ctx.logits(i) + ctx.n_vocab());
      return out;
    };
    const auto want = logits_on({});
    const auto got = logits_on({dev});
    ASSERT_EQ(got.size(), want.size());
    double max_abs = 0;
    for (size_t i = 0; i < got.size(); ++i) max_abs = std::max(max_abs, std::fabs((double)got[i] - (double)want[i]));
    EXPECT_LE(max_abs, 2 * tolerance_for(c, false).prompt);
  }
}

}  // namespace
}  // namespace hearth::test
