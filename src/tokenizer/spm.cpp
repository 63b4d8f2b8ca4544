// SentencePiece-style tokenization (llama.cpp's SPM): start from single UTF-8 characters and keep
// merging the adjacent pair whose concatenation is the highest-scoring vocabulary token; what never
// becomes a token falls back to <0xNN> byte tokens.
#include <algorithm>
#include <unordered_map>

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
  // Highest score first; ties go to the leftmost pair (the heap keeps the largest on top).
  bool operator<(const bigram& o) const { return score < o.score || (score == o.score && left > o.left); }
};
}  // namespace

namespace {
// Merges one stretch of text and appends its tokens.
void spm_merge(const vocab::impl& v, std::string_view text, std::vector<int32_t>& out, std::vector<symbol>& symbols,
               std::vector<bigram>& heap) {
  symbols.clear();
  for (size_t off = 0; off < text.size();) {
    const uint32_t n = (uint32_t)std::min(utf8_len((uint8_t)text[off]), text.size() - off);
    const int32_t idx = (int32_t)symbols.size();
    symbols.push_back({(uint32_t)off, n, idx - 1, off + n == text.size() ? -1 : idx + 1});
    off += n;
  }
  if (symbols.empty()) return;

  heap.clear();
  auto try_add = [&](int32_t left, int32_t right) {
    if (left == -1 || right == -1) return;
    const std::string_view s = text.substr(symbols[left].start, symbols[left].len + symbols[right].len);
    const int32_t id = v.find(s);
    if (id == token_null) return;
    heap.push_back({left, right, v.tokens[id].score, (uint32_t)s.size()});
    std::push_heap(heap.begin(), heap.end());
  };
  for (int32_t i = 1; i < (int32_t)symbols.size(); ++i) try_add(i - 1, i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end());
    const bigram b = heap.back();
    heap.pop_back();
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

constexpr std::string_view k_space = "\xE2\x96\x81";
}  // namespace

bool spm_can_split_words(const vocab::impl& v) {
  // Safe when every token is a run of U+2581 followed by text without U+2581: then no token can
  // cover a U+2581 that follows another character, and each word merges on its own.
  for (const auto& t : v.tokens) {
    std::string_view s = t.text;
    while (s.substr(0, 3) == k_space) s.remove_prefix(3);
    if (s.find(k_space) != std::string_view::npos) return false;
  }
  return true;
}

void spm_encode(const vocab::impl& v, std::string_view text, std::vector<int32_t>& out) {
  std::vector<symbol> symbols;
  std::vector<bigram> heap;
  if (!v.spm_split_words) {
    spm_merge(v, text, out, symbols, heap);
    return;
  }
  // The text is cut before each U+2581 that follows another character; merging is local, so each
  // word gives the same tokens as merging the whole text would, and repeated words are cached.
  std::unordered_map<std::string_view, std::pair<uint32_t, uint32_t>> cache;
  size_t word_start = 0;
  bool prev_space = false;
  auto flush = [&](size_t end) {
    if (end <= word_start) return;
    const std::string_view word = text.substr(word_start, end - word_start);
    word_start = end;
    auto it = cache.find(word);
    if (it != cache.end()) {
      for (uint32_t k = 0; k < it->second.second; ++k) {
        const int32_t id = out[it->second.first + k];
        out.push_back(id);
      }
      return;
    }
    const size_t before = out.size();
    spm_merge(v, word, out, symbols, heap);
    cache.emplace(word, std::make_pair((uint32_t)before, (uint32_t)(out.size() - before)));
  };
  for (size_t off = 0; off < text.size();) {
    const size_t n = std::min(utf8_len((uint8_t)text[off]), text.size() - off);
    const bool is_space = text.substr(off, n) == k_space;
    if (is_space && off > 0 && !prev_space) flush(off);
    prev_space = is_space;
    off += n;
  }
  flush(text.size());
}

}  // namespace hearth::tok
