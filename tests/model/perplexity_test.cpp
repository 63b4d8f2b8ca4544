// Perplexity as llama.cpp's perplexity tool computes it: stories260K on the reference text at
// context 128 gives llama-perplexity's final and per-chunk figures (4 decimals, as it prints them).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>

#include "backends/init.h"
#include "core/error.h"
#include "golden_harness.h"
#include "model/context.h"
#include "model/loader.h"
#include "model/perplexity.h"
#include "test_util.h"

namespace hearth {
namespace {

TEST(Perplexity, MatchesLlamaPerplexityOnStories260K) {
  init_backends(false);
  const auto ref = test::read_json(test::data_path("reference/perplexity/stories260K-text-a.ppl.json"));
  auto m = load_model(test::data_path("models/tinyllamas/stories260K.gguf"), load_params{});
  std::ifstream in(test::data_path("reference/perplexity/" + ref["text_file"].get<std::string>()), std::ios::binary);
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  text.pop_back();  // llama-perplexity drops the file's final newline
  const std::vector<int32_t> tokens = m->voc->tokenize(text, true, false);
  EXPECT_EQ(tokens, ref["token_ids"].get<std::vector<int32_t>>());

  const int n_ctx = ref["n_ctx"].get<int>();
  context_params cp;
  cp.n_ctx = (uint32_t)n_ctx;
  cp.n_batch = ref["n_batch"].get<uint32_t>();
  cp.type_k = cp.type_v = dtype::f32;
  cp.n_threads = 2;
  context ctx(*m, cp);
  int calls = 0;
  const perplexity_result r = compute_perplexity(ctx, tokens, n_ctx, m->voc->bos(), -1, [&](int c, double) { EXPECT_EQ(c, calls++); });
  EXPECT_EQ(r.n_chunks, ref["n_chunks"].get<int>());
  EXPECT_EQ(calls, r.n_chunks);
  EXPECT_EQ(r.scored_per_chunk, ref["scored_tokens_per_chunk"].get<int>());
  EXPECT_EQ(r.n_tokens, ref["n_tokens"].get<int64_t>());
  // llama-perplexity prints 4 decimals: ours must round to the same figures.
  EXPECT_NEAR(r.ppl, ref["final_ppl"].get<double>(), 0.5e-4 + 1e-6);
  EXPECT_NEAR(r.ppl_stderr, ref["final_ppl_stderr"].get<double>(), 0.5e-4 + 1e-6);
  const auto running = ref["running_ppl_after_chunk"].get<std::vector<double>>();
  ASSERT_EQ(r.running_ppl.size(), running.size());
  for (size_t i = 0; i < running.size(); ++i) EXPECT_NEAR(r.running_ppl[i], running[i], 0.5e-4 + 1e-6) << "chunk " << i;

  // The F16 cache (the default) lands within a hair of it.
  cp.type_k = cp.type_v = dtype::f16;
  context ctx16(*m, cp);
  const perplexity_result r16 = compute_perplexity(ctx16, tokens, n_ctx, m->voc->bos(), 8);
  EXPECT_EQ(r16.n_chunks, 8);
  EXPECT_NEAR(r16.ppl, running[7], 0.01);
}

TEST(Perplexity, RejectsTooShortTextsAndContexts) {
  init_backends(false);
  auto m = load_model(test::data_path("models/tinyllamas/stories260K.gguf"), load_params{});
  context_params cp;
  cp.n_ctx = 64;
  cp.n_batch = 64;
  context ctx(*m, cp);
  const std::vector<int32_t> few = {1, 400, 401, 402};
  EXPECT_THROW(compute_perplexity(ctx, few, 64, 1), error);
  std::vector<int32_t> many(300, 400);
  EXPECT_THROW(compute_perplexity(ctx, many, 128, 1), error);  // more than the cache holds
  EXPECT_THROW(compute_perplexity(ctx, many, 2, 1), error);
  const perplexity_result r = compute_perplexity(ctx, many, 64, 1);
  EXPECT_EQ(r.n_chunks, 4);
  EXPECT_TRUE(std::isfinite(r.ppl));
  EXPECT_GT(r.ppl, 1.0);
}

}  // namespace
}  // namespace hearth
