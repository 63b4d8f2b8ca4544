// Sampler: greedy, truncation rules, temperature, penalties, bias, seeds and log-probabilities.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "core/error.h"
#include "runtime/sampler.h"

namespace hearth {
namespace {

std::vector<float> logits_of(std::vector<double> probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back((float)std::log(p));
  return l;
}

sampling_params plain(float temp = 1.0f) {
  sampling_params p;
  p.temperature = temp;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = 42;
  return p;
}

TEST(Sampler, GreedyTakesArgmaxLowestIdOnTies) {
  sampler s(plain(0.0f), 4);
  const std::vector<float> l = {1.0f, 3.0f, 3.0f, -2.0f};
  EXPECT_EQ(s.sample(l.data()).id, 1);
}

TEST(Sampler, DrawsFollowTheSoftmax) {
  const std::vector<double> p = {0.5, 0.25, 0.15, 0.1};
  const auto l = logits_of(p);
  sampler s(plain(), 4);
  std::vector<int> count(4);
  const int n = 20000;
  for (int i = 0; i < n; ++i) ++count[s.sample(l.data()).id];
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(count[i] / (double)n, p[i], 0.015) << "token " << i;
}

TEST(Sampler, TemperatureSharpensAndFlattens) {
  const auto l = logits_of({0.6, 0.4});
  sampler cold(plain(0.25f), 2), hot(plain(4.0f), 2);
  int cold0 = 0, hot0 = 0;
  for (int i = 0; i < 5000; ++i) {
    cold0 += cold.sample(l.data()).id == 0;
    hot0 += hot.sample(l.data()).id == 0;
  }
  // p0 at T: 0.6^(1/T) / (0.6^(1/T) + 0.4^(1/T)): 0.835 at 0.25, 0.525 at 4.
  EXPECT_NEAR(cold0 / 5000.0, 0.835, 0.03);
  EXPECT_NEAR(hot0 / 5000.0, 0.525, 0.03);
}

TEST(Sampler, TopKTopPAndMinPCutTheTail) {
  const auto l = logits_of({0.4, 0.3, 0.2, 0.07, 0.03});
  auto seen = [&](sampling_params p) {
    sampler s(p, 5);
    std::set<int32_t> ids;
    for (int i = 0; i < 3000; ++i) ids.insert(s.sample(l.data()).id);
    return ids;
  };
  sampling_params k = plain();
  k.top_k = 2;
  EXPECT_EQ(seen(k), (std::set<int32_t>{0, 1}));
  sampling_params p = plain();
  p.top_p = 0.85f;  // 0.4 + 0.3 + 0.2 = 0.9 >= 0.85 after three
  EXPECT_EQ(seen(p), (std::set<int32_t>{0, 1, 2}));
  sampling_params m = plain();
  m.min_p = 0.45f;  // keeps p >= 0.18
  EXPECT_EQ(seen(m), (std::set<int32_t>{0, 1, 2}));
  sampling_params one = plain();
  one.top_k = 1;
  EXPECT_EQ(seen(one), (std::set<int32_t>{0}));
}

TEST(Sampler, SameSeedSameSequenceOtherSeedOther) {
  const auto l = logits_of({0.2, 0.2, 0.2, 0.2, 0.2});
  auto run = [&](uint64_t seed) {
    sampling_params p = plain();
    p.seed = seed;
    sampler s(p, 5);
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) out.push_back(s.sample(l.data()).id);
    return out;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

TEST(Sampler, RepetitionPresenceAndFrequencyPenalties) {
  const std::vector<float> l = {2.0f, 2.0f, -1.0f, 0.5f};
  sampling_params p = plain(0.0f);
  p.repeat_penalty = 2.0f;
  sampler s(p, 4);
  s.accept(0);
  EXPECT_EQ(s.sample(l.data()).id, 1);  // 2/2 = 1 < 2
  sampling_params f = plain(0.0f);
  f.n_top_logprobs = 4;
  f.frequency_penalty = 0.5f;
  f.presence_penalty = 0.25f;
  sampler sf(f, 4);
  sf.accept(1);
  sf.accept(1);
  const auto r = sf.sample(l.data());
  // token 1: 2 - 2 * 0.5 - 0.25 = 0.75, token 0 keeps 2.
  EXPECT_EQ(r.id, 0);
  std::map<int32_t, float> lp;
  for (const auto& t : r.top) lp[t.id] = t.logprob;
  EXPECT_NEAR(lp[0] - lp[1], 2.0 - 0.75, 1e-5);
  // The window forgets: with repeat_last_n 1 only the last token counts.
  sampling_params w = plain(0.0f);
  w.repeat_penalty = 100.0f;
  w.repeat_last_n = 1;
  sampler sw(w, 4);
  sw.accept(0);
  sw.accept(3);
  EXPECT_EQ(sw.sample(l.data()).id, 0);
}

TEST(Sampler, LogitBiasBansAndLogprobsNormalize) {
  const std::vector<float> l = {5.0f, 1.0f, 0.0f};
  sampling_params p = plain(0.0f);
  p.logit_bias[0] = -INFINITY;
  p.n_top_logprobs = 3;
  sampler s(p, 3);
  const auto r = s.sample(l.data());
  EXPECT_EQ(r.id, 1);
  ASSERT_EQ(r.top.size(), 3u);
  EXPECT_EQ(r.top[0].id, 1);
  double sum = 0;
  for (const auto& t : r.top) sum += std::exp(t.logprob);
  EXPECT_NEAR(sum, 1.0, 1e-6);
  EXPECT_FLOAT_EQ(r.logprob, r.top[0].logprob);
  sampling_params all = plain(0.0f);
  for (int i = 0; i < 3; ++i) all.logit_bias[i] = -INFINITY;
  sampler none(all, 3);
  EXPECT_THROW(none.sample(l.data()), error);
}

TEST(Sampler, RejectsInvalidParameters) {
  sampling_params p = plain();
  p.temperature = -1;
  EXPECT_THROW(sampler(p, 4), error);
  p = plain();
  p.top_p = 1.5f;
  EXPECT_THROW(sampler(p, 4), error);
  p = plain();
  p.n_top_logprobs = 21;
  EXPECT_THROW(sampler(p, 4), error);
  EXPECT_THROW(sampler(plain(), 0), error);
}

}  // namespace
}  // namespace hearth
