// Every model reference in tests/data/reference runs on the CPU backend and lands within the
// measured tolerance of llama.cpp's logits (prompt, all positions; teacher-forced generation steps),
// and the greedy continuation matches for every step the reference's margins make meaningful.
// CTest runs this file twice: at the best kernel level of the machine, and at the generic level
// (HEARTH_CPU_ISA=generic), whose summation order is llama.cpp's and gets the tight tolerance.
#include <gtest/gtest.h>

#include "backends/cpu/kernels/isa.h"
#include "golden_harness.h"

namespace hearth::test {
namespace {

class Golden : public ::testing::TestWithParam<golden_case> {};

TEST_P(Golden, MatchesReference) {
  const golden_case& c = GetParam();
  const bool reference_order = cpu::active_isa() == cpu::isa_level::generic;
  const golden_tolerance tol = tolerance_for(c, reference_order);
  const golden_result r = run_golden(c, golden_options{});
  SCOPED_TRACE(c.stem + " at kernel level " + std::string(cpu::isa_name(cpu::active_isa())));
  expect_matches_reference(c, r, tol);
  if (reference_order && c.tol.is_null()) {
    // The real-model text prompts have wide margins: the whole continuation must match.
    EXPECT_EQ(r.greedy, c.ref["greedy_ids"].get<std::vector<int32_t>>());
  }
}

std::string case_name(const ::testing::TestParamInfo<golden_case>& info) {
  std::string n = info.param.stem;
  for (char& ch : n)
    if (!std::isalnum((unsigned char)ch)) ch = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Cpu, Golden, ::testing::ValuesIn(golden_cases()), case_name);

}  // namespace
}  // namespace hearth::test
