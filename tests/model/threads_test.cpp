// The CPU stream's schedule (reordered segments, chunks claimed by whichever thread is free) gives
// the same results for any thread count: prompt and decode logits of a model with 1 to 5 threads
// agree with the single-threaded run (up to the summation order of a few kernels).
#include <gtest/gtest.h>

#include <cmath>

#include "backends/init.h"
#include "model/context.h"
#include "model/loader.h"
#include "test_util.h"

namespace hearth {
namespace {

std::vector<std::vector<float>> run(model& m, int n_threads) {
  context_params cp;
  cp.n_ctx = 64;
  cp.n_batch = 32;
  cp.n_threads = n_threads;
  context ctx(m, cp);
  std::vector<std::vector<float>> out;
  const std::vector<int32_t> prompt = {1, 385, 328, 432, 261, 376, 400, 428, 395, 392, 412, 444, 272, 277, 264, 261};
  ctx.decode(batch::of(prompt, 0, 0, true));
  for (size_t i = 0; i < prompt.size(); ++i) out.emplace_back(ctx.logits(i), ctx.logits(i) + m.hp.n_vocab);
  int32_t tok = 300;
  for (int s = 0; s < 6; ++s) {
    ctx.decode(batch::of({tok}, (int32_t)(prompt.size() + s)));
    out.emplace_back(ctx.logits(0), ctx.logits(0) + m.hp.n_vocab);
    tok = (int32_t)(std::max_element(out.back().begin(), out.back().end()) - out.back().begin());
  }
  return out;
}

TEST(CpuThreads, SameResultsForAnyThreadCount) {
  init_backends(false);
  for (const char* name : {"synth-llama-q4_k_m.gguf", "synth-qwen2-q4_k_m.gguf", "synth-qwen3moe-q4_k_m.gguf"}) {
    const std::string path = test::data_path(std::string("reference/models/") + name);
    auto m = load_model(path, load_params{});
    const auto want = run(*m, 1);
    for (int nth : {2, 3, 5}) {
      const auto got = run(*m, nth);
      ASSERT_EQ(got.size(), want.size());
      double worst = 0;
      for (size_t i = 0; i < want.size(); ++i)
        for (size_t v = 0; v < want[i].size(); ++v) worst = std::max(worst, (double)std::fabs(got[i][v] - want[i][v]));
      EXPECT_LT(worst, 2e-3) << name << " with " << nth << " threads";
    }
  }
}

}  // namespace
}  // namespace hearth
