// Every model reference runs on the CUDA/HIP device, fully offloaded and with half of the layers
// offloaded (the rest on the CPU through the scheduler), and must land within the tolerance of a
// correct implementation that sums in its own order, with the safe greedy steps matching.
#include <gtest/gtest.h>

#include "golden_harness.h"
#include "gpu_util.h"

namespace hearth::test {
namespace {

struct gpu_golden {
  golden_case c;
  bool half;
};

void PrintTo(const gpu_golden& g, std::ostream* os) { *os << g.c.stem << (g.half ? " half" : " full"); }

class GpuGolden : public ::testing::TestWithParam<gpu_golden> {};

TEST_P(GpuGolden, MatchesReference) {
  HEARTH_NEED_GPU(dev);
  const golden_case& c = GetParam().c;
  int n_gpu_layers = -1;
  if (GetParam().half) {
    load_params lp;
    const auto m = load_model(model_path(c), lp);
    n_gpu_layers = (int)m->hp.n_layer / 2;
  }
  const golden_tolerance tol = tolerance_for(c, false);
  const golden_result r = run_golden(c, golden_options{{dev}, n_gpu_layers});
  SCOPED_TRACE(c.stem + " on " + dev->name() + (GetParam().half ? " (half offloaded)" : " (fully offloaded)"));
  EXPECT_LE(r.prompt_max_abs, tol.prompt) << "prompt logits, mean abs " << r.prompt_mean_abs;
  EXPECT_EQ(r.argmax_mismatch, 0) << "prompt positions whose argmax differs";
  EXPECT_LE(r.gen_max_abs, tol.gen) << "teacher-forced generation logits, mean abs " << r.gen_mean_abs;
  const auto want = c.ref["greedy_ids"].get<std::vector<int32_t>>();
  const int safe = safe_greedy_steps(c, tol.gen);
  ASSERT_GE(r.greedy.size(), (size_t)safe);
  for (int s = 0; s < safe; ++s) ASSERT_EQ(r.greedy[s], want[s]) << "greedy step " << s << " of " << safe << " safe steps";
}

std::vector<gpu_golden> cases() {
  std::vector<gpu_golden> out;
  for (auto& c : golden_cases()) {
    out.push_back({c, false});
    out.push_back({c, true});
  }
  return out;
}

std::string case_name(const ::testing::TestParamInfo<gpu_golden>& info) {
  std::string n = info.param.c.stem + (info.param.half ? "_half" : "_full");
  for (char& ch : n)
    if (!std::isalnum((unsigned char)ch)) ch = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Cuda, GpuGolden, ::testing::ValuesIn(cases()), case_name);

}  // namespace
}  // namespace hearth::test
