#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"

namespace hearth {

namespace {
uint64_t fresh_seed() {
  std::random_device rd;
  return ((uint64_t)rd() << 32) ^ rd();
}
}  // namespace

sampler::sampler(const sampling_params& p, int32_t n_vocab) : p_(p), n_vocab_(n_vocab) {
  if (n_vocab <= 0) fail(error_kind::invalid_argument, "sampler: empty vocabulary");
  if (std::isnan(p.temperature) || p.temperature < 0) fail(error_kind::invalid_argument, "temperature must be a number >= 0");
  if (!(p.top_p >= 0 && p.top_p <= 1) || !(p.min_p >= 0 && p.min_p <= 1)) fail(error_kind::invalid_argument, "top_p and min_p must be in [0, 1]");
  if (p.n_top_logprobs < 0 || p.n_top_logprobs > 20) fail(error_kind::invalid_argument, "top_logprobs must be in [0, 20]");
  seed_ = p.seed == UINT64_MAX ? fresh_seed() : p.seed;
  rng_.seed(seed_);
  work_.resize((size_t)n_vocab);
  idx_.resize((size_t)n_vocab);
}

void sampler::reset() {
  recent_.clear();
  rng_.seed(seed_);
}

void sampler::accept(int32_t id) {
  recent_.push_back(id);
  const size_t keep = p_.repeat_last_n < 0 ? SIZE_MAX : (size_t)p_.repeat_last_n;
  while (recent_.size() > keep) recent_.pop_front();
}

sample_result sampler::sample(const float* logits) {
  float* l = work_.data();
  std::copy(logits, logits + n_vocab_, l);
  // Penalties over the recent window: repetition as llama.cpp applies it, then OpenAI's presence
  // (once per distinct token) and frequency (per occurrence).
  const bool penalize = p_.repeat_penalty != 1.0f || p_.presence_penalty != 0.0f || p_.frequency_penalty != 0.0f;
  if (penalize && !recent_.empty()) {
    std::unordered_map<int32_t, int> counts;
    for (int32_t t : recent_)
      if (t >= 0 && t < n_vocab_) ++counts[t];
    for (const auto& [t, c] : counts) {
      float& v = l[t];
      if (p_.repeat_penalty != 1.0f) v = v > 0 ? v / p_.repeat_penalty : v * p_.repeat_penalty;
      v -= (float)c * p_.frequency_penalty + p_.presence_penalty;
    }
  }
  for (const auto& [t, b] : p_.logit_bias)
    if (t >= 0 && t < n_vocab_) l[t] += b;

  // Log-probabilities of the full distribution (what the APIs report).
  float mx = -std::numeric_limits<float>::infinity();
  for (int32_t i = 0; i < n_vocab_; ++i) mx = std::max(mx, l[i]);
  if (!std::isfinite(mx)) fail(error_kind::invalid_argument, "sampler: every token is banned");
  double z = 0;
  for (int32_t i = 0; i < n_vocab_; ++i) z += std::exp((double)(l[i] - mx));
  const float log_z = mx + (float)std::log(z);

  sample_result r;
  if (p_.temperature <= 0.0f) {
    int32_t best = 0;
    for (int32_t i = 1; i < n_vocab_; ++i)
      if (l[i] > l[best]) best = i;
    r.id = best;
  } else {
    // Candidates sorted by logit (only as many as top-k needs when it is on).
    std::iota(idx_.begin(), idx_.end(), 0);
    size_t n = (size_t)n_vocab_;
    auto by_logit = [l](int32_t a, int32_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); };
    if (p_.top_k > 0 && (size_t)p_.top_k < n) {
      std::partial_sort(idx_.begin(), idx_.begin() + p_.top_k, idx_.end(), by_logit);
      n = (size_t)p_.top_k;
    } else {
      std::sort(idx_.begin(), idx_.end(), by_logit);
    }
    // Probabilities at temperature 1 for the truncation rules.
    // Reused between tokens: nothing is allocated in the token loop.
    std::vector<double>& prob = prob_;
    prob.resize(n);
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += prob[i] = std::exp((double)(l[idx_[i]] - l[idx_[0]]));
    if (p_.top_p < 1.0f) {
      double cum = 0;
      size_t keep = n;
      for (size_t i = 0; i < n; ++i) {
        cum += prob[i] / sum;
        if (cum >= p_.top_p) { keep = i + 1; break; }
      }
      n = std::max<size_t>(1, keep);
    }
    if (p_.min_p > 0.0f) {
      const double floor = p_.min_p * prob[0];
      size_t keep = 1;
      while (keep < n && prob[keep] >= floor) ++keep;
      n = keep;
    }
    // Temperature, then a draw.
    std::vector<double>& w = weight_;
    w.resize(n);
    double wsum = 0;
    for (size_t i = 0; i < n; ++i) wsum += w[i] = std::exp((double)(l[idx_[i]] - l[idx_[0]]) / p_.temperature);
    std::uniform_real_distribution<double> u(0.0, wsum);
    double x = u(rng_), acc = 0;
    r.id = idx_[n - 1];
    for (size_t i = 0; i < n; ++i) {
      acc += w[i];
      if (x < acc) { r.id = idx_[i]; break; }
    }
  }
  r.logprob = l[r.id] - log_z;
  if (p_.n_top_logprobs > 0) {
    std::vector<int32_t>& top = idx_;  // the candidate order is no longer needed
    std::iota(top.begin(), top.end(), 0);
    const size_t k = std::min<size_t>((size_t)p_.n_top_logprobs, top.size());
    std::partial_sort(top.begin(), top.begin() + (ptrdiff_t)k, top.end(),
                      [l](int32_t a, int32_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); });
    for (size_t i = 0; i < k; ++i) r.top.push_back({top[i], l[top[i]] - log_z});
  }
  return r;
}

}  // namespace hearth
