// Every model reference runs on the Vulkan device, fully offloaded and with half the layers on the
// GPU (the rest on the CPU through the scheduler), and lands within the measured tolerance of
// llama.cpp's logits; the greedy continuation matches for the steps the margins make meaningful.
#include <gtest/gtest.h>

#include "formats/gguf.h"
#include "golden_harness.h"
#include "vk_test_util.h"

namespace hearth::test {
namespace {

struct placement_case {
  golden_case c;
  bool half;
};

class VulkanGolden : public ::testing::TestWithParam<placement_case> {};

int n_layers(const golden_case& c) {
  auto f = gguf::file::open(model_path(c));
  const std::string arch = f->get_string("general.architecture");
  return (int)f->get_int(arch + ".block_count");
}

TEST_P(VulkanGolden, MatchesReference) {
  HEARTH_REQUIRE_VULKAN(dev);
  const golden_case& c = GetParam().c;
  const bool half = GetParam().half;
  // A software device (lavapipe, in CI on 2 cores) runs every model fully offloaded and the split
  // placement for one model per architecture family; HEARTH_TEST_VK_FULL=1 runs them all.
  if (half && dev->kind() == device_kind::gpu_software && !std::getenv("HEARTH_TEST_VK_FULL") &&
      c.stem.find("q4_k_m") == std::string::npos && c.stem != "stories260K.prompt16")
    GTEST_SKIP() << "split placement of " << c.stem << " is run on hardware devices (or with HEARTH_TEST_VK_FULL=1)";
  const int n_layer = n_layers(c);
  golden_options o;
  o.gpus = {dev};
  o.n_gpu_layers = half ? n_layer / 2 : -1;
  const golden_tolerance tol = tolerance_for(c, false);
  const golden_result r = run_golden(c, o);
  SCOPED_TRACE(c.stem + (half ? " (half the layers on " : " (all on ") + dev->description() + ")");
  EXPECT_LE(r.prompt_max_abs, tol.prompt) << "prompt logits, mean abs " << r.prompt_mean_abs;
  EXPECT_EQ(r.argmax_mismatch, 0) << "prompt positions whose argmax differs";
  EXPECT_LE(r.gen_max_abs, tol.gen) << "teacher-forced generation logits, mean abs " << r.gen_mean_abs;
  const auto want = c.ref["greedy_ids"].get<std::vector<int32_t>>();
  const int safe = safe_greedy_steps(c, tol.gen);
  ASSERT_GE(r.greedy.size(), (size_t)safe);
  for (int s = 0; s < safe; ++s) ASSERT_EQ(r.greedy[s], want[s]) << "greedy step " << s << " of " << safe << " safe steps";
}

std::vector<placement_case> cases() {
  std::vector<placement_case> out;
  for (auto& c : golden_cases()) {
    out.push_back({c, false});
    out.push_back({c, true});
  }
  return out;
}

std::string case_name(const ::testing::TestParamInfo<placement_case>& info) {
  std::string n = info.param.c.stem + (info.param.half ? "_half" : "_all");
  for (char& ch : n)
    if (!std::isalnum((unsigned char)ch)) ch = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Vulkan, VulkanGolden, ::testing::ValuesIn(cases()), case_name);

}  // namespace
}  // namespace hearth::test
