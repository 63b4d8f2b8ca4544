// A batch of tokens for decoding: each token has a position, a sequence and whether its logits are
// wanted. The context cuts batches into micro-batches that fit its compute buffers.
#pragma once
#include <cstdint>
#include <vector>

namespace hearth {

using token_id = int32_t;

struct batch {
  std::vector<token_id> tokens;
  std::vector<int32_t> pos;
  std::vector<int32_t> seq;
  std::vector<bool> logits;

  void add(token_id t, int32_t p, int32_t s, bool want_logits) {
    tokens.push_back(t);
    pos.push_back(p);
    seq.push_back(s);
    logits.push_back(want_logits);
  }
  size_t size() const { return tokens.size(); }
  void clear() { tokens.clear(); pos.clear(); seq.clear(); logits.clear(); }
  // Tokens of one sequence at consecutive positions from pos0; logits for the last only (or all).
  static batch of(const std::vector<token_id>& toks, int32_t pos0, int32_t s = 0, bool all_logits = false) {
    batch b;
    for (size_t i = 0; i < toks.size(); ++i) b.add(toks[i], pos0 + (int32_t)i, s, all_logits || i + 1 == toks.size());
    return b;
  }
};

// A contiguous slice [begin, end) of a batch processed as one graph.
struct ubatch {
  const batch* b;
  size_t begin;
  size_t end;
  size_t size() const { return end - begin; }
};

}  // namespace hearth
