// Sessions on the real stories260K model: greedy output equals llama.cpp's continuation, the
// cached prefix is reused, stop sequences, limits and cancellation end generation as documented.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <fstream>

#include "backends/init.h"
#include "core/error.h"
#include "model/loader.h"
#include "runtime/session.h"
#include "test_util.h"

namespace hearth {
namespace {

class Session : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    init_backends(false);
    model_ = load_model(test::data_path("models/tinyllamas/stories260K.gguf"), {}).release();
  }
  static void TearDownTestSuite() { delete model_; }
  static nlohmann::json reference(int i) {
    std::ifstream f(test::data_path("reference/stories260K/text-" + std::to_string(i) + ".json"));
    return nlohmann::json::parse(f);
  }
  static generate_params greedy(int n) {
    generate_params g;
    g.sampling.temperature = 0;
    g.max_tokens = n;
    return g;
  }
  static model* model_;
};
model* Session::model_ = nullptr;

TEST_F(Session, GreedyTextMatchesTheReference) {
  session s(*model_, {.n_ctx = 256});
  for (int i = 0; i < 4; ++i) {
    const auto ref = reference(i);
    const auto prompt = s.tokenize(ref["prompt_text"].get<std::string>());
    EXPECT_EQ(prompt, ref["prompt_ids"].get<std::vector<int32_t>>());
    std::string streamed;
    const auto r = s.generate(prompt, greedy(ref["n_predict"].get<int>()), [&](const generated_token& t) {
      streamed += t.text;
      return true;
    });
    EXPECT_EQ(r.tokens, ref["greedy_ids"].get<std::vector<int32_t>>()) << "prompt " << i;
    // greedy_text detokenizes the continuation alone (SPM drops its leading space); in context the
    // continuation keeps it: prompt + continuation is the reference's full text.
    EXPECT_EQ(ref["prompt_text_detok"].get<std::string>() + r.text, ref["full_text"].get<std::string>());
    EXPECT_EQ(streamed, r.text);
    EXPECT_EQ(r.finish, finish_reason::length);
    EXPECT_EQ(r.n_generated, ref["n_predict"].get<int>());
  }
}

TEST_F(Session, ReusesTheCachedPrefix) {
  session s(*model_, {.n_ctx = 256});
  const auto prompt = s.tokenize("Once upon a time, there was a dog");
  const auto a = s.generate(prompt, greedy(8));
  EXPECT_EQ(a.n_cached, 0);
  const auto b = s.generate(prompt, greedy(8));
  EXPECT_EQ(b.n_cached, (int32_t)prompt.size() - 1);
  EXPECT_EQ(a.tokens, b.tokens);
  // A longer prompt that extends the first one reuses all of it.
  auto longer = prompt;
  longer.insert(longer.end(), a.tokens.begin(), a.tokens.end());
  const auto c = s.generate(longer, greedy(4));
  EXPECT_GE(c.n_cached, (int32_t)prompt.size());
  session fresh(*model_, {.n_ctx = 256});
  EXPECT_EQ(fresh.generate(longer, greedy(4)).tokens, c.tokens);
}

TEST_F(Session, StopSequenceEndsBeforeIt) {
  session s(*model_, {.n_ctx = 256});
  const auto ref = reference(0);
  const std::string full = ref["greedy_text"].get<std::string>();  // ", there was a little girl named Lily. ..."
  generate_params g = greedy(48);
  g.stop = {"Lily", "never-appears"};
  std::string streamed;
  const auto r = s.generate(s.tokenize(ref["prompt_text"].get<std::string>()), g, [&](const generated_token& t) {
    streamed += t.text;
    return true;
  });
  EXPECT_EQ(r.finish, finish_reason::stop_sequence);
  EXPECT_EQ(r.text, full.substr(0, full.find("Lily")));
  EXPECT_EQ(streamed, r.text);
}

TEST_F(Session, LimitsCancellationAndBadInput) {
  session s(*model_, {.n_ctx = 64});
  const auto prompt = s.tokenize("Once upon a time");
  EXPECT_EQ(s.generate(prompt, greedy(3)).n_generated, 3);
  int seen = 0;
  const auto r = s.generate(prompt, greedy(20), [&](const generated_token&) { return ++seen < 2; });
  EXPECT_EQ(r.finish, finish_reason::cancelled);
  EXPECT_EQ(r.n_generated, 2);
  std::atomic<bool> stop{true};
  generate_params g = greedy(20);
  g.cancel = &stop;
  EXPECT_EQ(s.generate(prompt, g).finish, finish_reason::cancelled);
  const auto full = s.generate(prompt, greedy(-1));
  EXPECT_TRUE(full.finish == finish_reason::context_full || full.finish == finish_reason::eos);
  EXPECT_THROW(s.generate(std::vector<int32_t>(64, 5), greedy(1)), error);
  EXPECT_THROW(s.generate({}, greedy(1)), error);
  EXPECT_THROW(s.generate({1, 99999}, greedy(1)), error);
  // The session still works after the errors.
  EXPECT_EQ(s.generate(prompt, greedy(3)).n_generated, 3);
}

TEST_F(Session, SeededSamplingIsReproducible) {
  session s(*model_, {.n_ctx = 256});
  generate_params g;
  g.max_tokens = 24;
  g.sampling.seed = 1234;
  g.sampling.temperature = 1.0f;
  const auto prompt = s.tokenize("Once upon a time");
  const auto a = s.generate(prompt, g);
  const auto b = s.generate(prompt, g);
  EXPECT_EQ(a.tokens, b.tokens);
  g.sampling.seed = 99;
  EXPECT_NE(s.generate(prompt, g).tokens, a.tokens);
}

}  // namespace
}  // namespace hearth
