// Perplexity of a model on a token sequence, computed as llama.cpp's perplexity tool does: the text
// is cut into non-overlapping chunks of n_ctx tokens, each decoded from an empty cache with BOS in
// its first position, and only the second half of each chunk is scored (every scored token then
// has at least n_ctx / 2 tokens of context).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "model/context.h"

namespace hearth {

struct perplexity_result {
  double ppl = 0;
  double ppl_stderr = 0;                 // uncertainty of ppl (from the spread of the token NLLs)
  int n_chunks = 0;
  int scored_per_chunk = 0;
  int64_t n_tokens = 0;                  // tokens of the text
  std::vector<double> running_ppl;       // after each chunk
};

// tokens: the tokenized text (with the BOS the vocabulary adds); bos: the id put at each chunk's
// start (token_null: none). ctx must hold n_ctx cells. max_chunks < 0: every full chunk. on_chunk
// is called after each chunk with its index and the running perplexity.
perplexity_result compute_perplexity(context& ctx, const std::vector<int32_t>& tokens, int n_ctx, int32_t bos,
                                     int max_chunks = -1, const std::function<void(int, double)>& on_chunk = {});

}  // namespace hearth
