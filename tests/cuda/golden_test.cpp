// Every model reference runs on the CUDA/HIP device, fully offloaded and with half of the layers
// offloaded (the rest on the CPU through the scheduler), and must land within the tolerance of a
// correct implementation that sums in its own order, with the safe greedy steps matching.
#include <gtest/gtest.h>

#include "golden_harness.h"
#include "gpu_util.h"

namespace hearth::test {
namespace {

class GpuGolden : public ::testing::TestWithParam<placement_case> {};

TEST_P(GpuGolden, MatchesReference) {
  HEARTH_NEED_GPU(dev);
  const golden_case& c = GetParam().c;
  const int n_gpu_layers = GetParam().half ? layer_count(c) / 2 : -1;
  const golden_tolerance tol = tolerance_for(c, false);
  const golden_result r = run_golden(c, golden_options{{dev}, n_gpu_layers});
  SCOPED_TRACE(c.stem + " on " + dev->name() + (GetParam().half ? " (half offloaded)" : " (fully offloaded)"));
  expect_matches_reference(c, r, tol);
}

INSTANTIATE_TEST_SUITE_P(Cuda, GpuGolden, ::testing::ValuesIn(placement_cases()), placement_case_name);

}  // namespace
}  // namespace hearth::test
