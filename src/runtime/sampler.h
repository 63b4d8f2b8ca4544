// Token sampling: penalties (repetition, presence, frequency), logit bias, then greedy at
// temperature 0 or top-k -> top-p -> min-p -> temperature -> a seeded draw. Also reports the
// log-probabilities the APIs return (logprobs / top_logprobs).
#pragma once
#include <cstdint>
#include <deque>
#include <random>
#include <unordered_map>
#include <vector>

namespace hearth {

struct sampling_params {
  float temperature = 0.8f;      // <= 0: greedy (argmax, ties to the lowest id)
  int32_t top_k = 40;            // <= 0: off
  float top_p = 0.95f;           // >= 1: off
  float min_p = 0.05f;           // <= 0: off
  float repeat_penalty = 1.0f;   // 1: off (llama.cpp's rule: logit / p if > 0 else * p)
  int32_t repeat_last_n = 64;    // window of recent tokens the penalties look at; -1: all
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  uint64_t seed = UINT64_MAX;    // UINT64_MAX: a random seed
  int32_t n_top_logprobs = 0;    // alternatives reported per token (0..20)
  std::unordered_map<int32_t, float> logit_bias;  // added to the raw logits; -inf bans a token
};

struct token_logprob {
  int32_t id = 0;
  float logprob = 0;  // log softmax of the raw (penalized, biased) logits, before truncation
};

struct sample_result {
  int32_t id = 0;
  float logprob = 0;
  std::vector<token_logprob> top;  // n_top_logprobs best, best first
};

class sampler {
 public:
  sampler(const sampling_params& p, int32_t n_vocab);
  // Picks the next token from raw logits (n_vocab floats). Does not record it: call accept().
  sample_result sample(const float* logits);
  // Records a token of the context (prompt tokens too) for the penalties.
  void accept(int32_t id);
  void reset();
  const sampling_params& params() const { return p_; }
  uint64_t seed() const { return seed_; }

 private:
  sampling_params p_;
  int32_t n_vocab_;
  uint64_t seed_;
  std::mt19937_64 rng_;
  std::deque<int32_t> recent_;
  std::vector<float> work_;
  std::vector<int32_t> idx_;
  std::vector<double> prob_, weight_;
};

}  // namespace hearth
