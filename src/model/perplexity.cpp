#include "model/perplexity.h"

#include <cmath>

#include "core/error.h"

namespace hearth {

perplexity_result compute_perplexity(context& ctx, const std::vector<int32_t>& tokens, int n_ctx, int32_t bos, int max_chunks,
                                     const std::function<void(int, double)>& on_chunk) {
  if (n_ctx < 4) fail(error_kind::invalid_argument, "perplexity needs a context of at least 4 tokens, not {}", n_ctx);
  if ((uint32_t)n_ctx > ctx.n_ctx()) fail(error_kind::invalid_argument, "perplexity context {} exceeds the cache ({} cells)", n_ctx, ctx.n_ctx());
  perplexity_result r;
  r.n_tokens = (int64_t)tokens.size();
  int n_chunks = (int)(tokens.size() / (size_t)n_ctx);
  if (max_chunks >= 0) n_chunks = std::min(n_chunks, max_chunks);
  if (n_chunks == 0)
    fail(error_kind::invalid_argument, "the text has {} tokens: at least {} are needed for one chunk of context {}", tokens.size(), n_ctx, n_ctx);
  const int first = n_ctx / 2;
  r.scored_per_chunk = n_ctx - 1 - first;
  const uint32_t n_vocab = ctx.n_vocab();
  double nll = 0, nll2 = 0;
  int64_t count = 0;
  for (int c = 0; c < n_chunks; ++c) {
    const size_t start = (size_t)c * (size_t)n_ctx;
    batch b;
    for (int j = 0; j < n_ctx; ++j) {
      const int32_t t = j == 0 && bos >= 0 ? bos : tokens[start + (size_t)j];
      // Logits of position j predict token j + 1: only those of the scored half are needed.
      b.add(t, j, 0, j >= first && j < n_ctx - 1);
    }
    ctx.cache().clear();
    ctx.decode(b);
    for (int j = first; j < n_ctx - 1; ++j) {
      const float* l = ctx.logits((size_t)(j - first));
      const int32_t want = tokens[start + (size_t)j + 1];
      float mx = l[0];
      for (uint32_t v = 1; v < n_vocab; ++v) mx = std::max(mx, l[v]);
      double sum = 0;
      for (uint32_t v = 0; v < n_vocab; ++v) sum += std::exp((double)(l[v] - mx));
      const double lp = (double)(l[want] - mx) - std::log(sum);
      nll -= lp;
      nll2 += lp * lp;
      ++count;
    }
    r.running_ppl.push_back(std::exp(nll / (double)count));
    if (on_chunk) on_chunk(c, r.running_ppl.back());
  }
  r.n_chunks = n_chunks;
  const double mean = nll / (double)count;
  r.ppl = std::exp(mean);
  const double var = nll2 / (double)count - mean * mean;
  if (var > 0 && count > 1) r.ppl_stderr = std::sqrt(var / (double)(count - 1)) * r.ppl;
  return r;
}

}  // namespace hearth
