// Every model reference runs on the Vulkan device, fully offloaded and with half the layers on the
// GPU (the rest on the CPU through the scheduler), and lands within the measured tolerance of
// llama.cpp's logits; the greedy continuation matches for the steps the margins make meaningful.
#include <gtest/gtest.h>

#include "golden_harness.h"
#include "vk_test_util.h"

namespace hearth::test {
namespace {

class VulkanGolden : public ::testing::TestWithParam<placement_case> {};

TEST_P(VulkanGolden, MatchesReference) {
  HEARTH_REQUIRE_VULKAN(dev);
  const golden_case& c = GetParam().c;
  const bool half = GetParam().half;
  const int n_layer = layer_count(c);
  golden_options o;
  o.gpus = {dev};
  o.n_gpu_layers = half ? n_layer / 2 : -1;
  const golden_tolerance tol = tolerance_for(c, false);
  const golden_result r = run_golden(c, o);
  SCOPED_TRACE(c.stem + (half ? " (half the layers on " : " (all on ") + dev->description() + ")");
  expect_matches_reference(c, r, tol);
}

INSTANTIATE_TEST_SUITE_P(Vulkan, VulkanGolden, ::testing::ValuesIn(placement_cases()), placement_case_name);

}  // namespace
}  // namespace hearth::test
