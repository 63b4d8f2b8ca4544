// SentencePiece-style tokenization (llama.cpp's SPM): start from single UTF-8 characters and keep
// merging the adjacent pair whose concatenation is the highest-scoring vocabulary token; what never
// becomes a token falls back to <0xNN> byte tokens.
#include <queue>

#include "tokenizer/unicode.h"
#include "tokenizer/vocab_impl.h"

namespace hearth::tok {

namespace {
struct symbol {
  uint32_t start, len;
  int32_t prev, next;
};
struct bigram {
  int32_t left, right;
  float score;
  uint32_t size;
  // Highest score first; ties go to the leftmost pair.
  bool operator<(const bigram& o) const { return score < o.score || (score == o.score && left > o.left); }
};
}  // namespace

void spm_encode(const vocab::impl& v, std::string_view text, std::vector<int32_t>& out) {
  std::vector<symbol> symbols;
  symbols.reserve(text.size());
  for (size_t off = 0; off < text.size();) {
    const uint32_t n = (uint32_t)std::min(utf8_len((uint8_t)text[off]), text.size() - off);
    const int32_t idx = (int32_t)symbols.size();
    symbols.push_back({(uint32_t)off, n, idx - 1, off + n == text.size() ? -1 : idx + 1});
    off += n;
  }
  if (symbols.empty()) return;

  std::priority_queue<bigram> queue;
  auto try_add = [&](int32_t left, int32_t right) {
    if (left == -1 || right == -1) return;
    const std::string_view s = text.substr(symbols[left].start, symbols[left].len + symbols[right].len);
    const int32_t id = v.find(s);
    if (id == token_null) return;
    queue.push({left, right, v.tokens[id].score, (uint32_t)s.size()});
  };
  for (int32_t i = 1; i < (int32_t)symbols.size(); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const bigram b = queue.top();
    queue.pop();
    symbol& l = symbols[b.left];
    symbol& r = symbols[b.right];
    if (l.len == 0 || r.len == 0 || l.len + r.len != b.size) continue;  // stale
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }

  for (int32_t i = 0; i != -1; i = symbols[i].next) {
    const symbol& s = symbols[i];
    const std::string_view piece = text.substr(s.start, s.len);
    const int32_t id = v.find(piece);
    if (id != token_null) {
      out.push_back(id);
      continue;
    }
    for (char c : piece) {
      const int32_t b = v.byte_to_token((uint8_t)c);
      // A vocabulary without byte tokens cannot spell this byte; unk stands in for it.
      if (b != token_null) out.push_back(b);
      else if (v.unk != token_null) out.push_back(v.unk);
    }
  }
}

}  // namespace hearth::tok
