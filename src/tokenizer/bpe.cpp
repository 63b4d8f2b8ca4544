// Byte-level BPE (GPT-2 style, llama.cpp's rules): the pre-tokenizer cuts the text into words,
// each word's bytes are mapped to printable codepoints, and the adjacent pair with the lowest merge
// rank is merged until no ranked pair is left. Vocabularies with ignore_merges (Llama 3) take a
// word that is already a token as is.
#include <algorithm>

#include "tokenizer/unicode.h"
#include "tokenizer/vocab_impl.h"

namespace hearth::tok {

namespace {
// Lowest rank first; ties go to the leftmost pair (std heap functions keep the largest on top).
struct bigram_after {
  template <typename B> bool operator()(const B& a, const B& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};
}  // namespace

void bpe_session::add_bigram(int32_t left, int32_t right) {
  if (left == -1 || right == -1) return;
  const symbol& l = symbols_[left];
  const symbol& r = symbols_[right];
  int32_t rank = -1;
  if (l.id != token_null && r.id != token_null) {
    auto it = v_.merges.by_ids.find(merge_table::key(l.id, r.id));
    if (it == v_.merges.by_ids.end()) return;
    rank = it->second.rank;
  } else {
    if (v_.merges.by_text.empty()) return;
    key_.assign(mapped_, l.start, l.len).push_back('\0');
    key_.append(mapped_, r.start, r.len);
    auto it = v_.merges.by_text.find(std::string_view(key_));
    if (it == v_.merges.by_text.end()) return;
    rank = it->second;
  }
  queue_.push_back({left, right, rank, l.len + r.len});
  std::push_heap(queue_.begin(), queue_.end(), bigram_after{});
}

void bpe_session::encode_word(std::string_view word, std::vector<int32_t>& out) {
  mapped_.clear();
  for (char c : word) mapped_ += byte_to_unicode_utf8((uint8_t)c);

  if (v_.ignore_merges) {
    const int32_t id = v_.find(mapped_);
    if (id != token_null) {
      out.push_back(id);
      return;
    }
  }

  symbols_.clear();
  for (size_t off = 0; off < mapped_.size();) {
    const uint32_t n = (uint32_t)std::min(utf8_len((uint8_t)mapped_[off]), mapped_.size() - off);
    const int32_t idx = (int32_t)symbols_.size();
    symbols_.push_back({(uint32_t)off, n, v_.find(std::string_view(mapped_).substr(off, n)), idx - 1,
                        off + n == mapped_.size() ? -1 : idx + 1});
    off += n;
  }
  queue_.clear();
  for (int32_t i = 1; i < (int32_t)symbols_.size(); ++i) add_bigram(i - 1, i);

  while (!queue_.empty()) {
    std::pop_heap(queue_.begin(), queue_.end(), bigram_after{});
    const bigram b = queue_.back();
    queue_.pop_back();
    symbol& l = symbols_[b.left];
    symbol& r = symbols_[b.right];
    if (l.len == 0 || r.len == 0 || l.len + r.len != b.size) continue;  // outdated pair
    auto it = l.id != token_null && r.id != token_null ? v_.merges.by_ids.find(merge_table::key(l.id, r.id)) : v_.merges.by_ids.end();
    l.len += r.len;
    r.len = 0;
    l.id = it != v_.merges.by_ids.end() ? it->second.merged : v_.find(std::string_view(mapped_).substr(l.start, l.len));
    l.next = r.next;
    if (r.next >= 0) symbols_[r.next].prev = b.left;
    add_bigram(l.prev, b.left);
    add_bigram(b.left, l.next);
  }

  for (int32_t i = 0; i != -1; i = symbols_[i].next) {
    const symbol& s = symbols_[i];
    if (s.id != token_null) {
      out.push_back(s.id);
      continue;
    }
    // Not a token: llama.cpp looks each byte of the mapped text up as a one-byte token.
    for (char c : std::string_view(mapped_).substr(s.start, s.len)) {
      const int32_t id = v_.find(std::string_view(&c, 1));
      if (id != token_null) out.push_back(id);
    }
  }
}

void bpe_session::encode(std::string_view text, std::vector<int32_t>& out) {
  std::string storage;
  const std::string_view clean = v_.pretok->split(text, storage, words_);
  for (auto [off, len] : words_) {
    const std::string_view word = clean.substr(off, len);
    auto it = cache_.find(word);
    if (it != cache_.end()) {
      const auto [start, count] = it->second;
      for (uint32_t k = 0; k < count; ++k) {
        const int32_t id = out[start + k];
        out.push_back(id);
      }
      continue;
    }
    const size_t start = out.size();
    encode_word(word, out);
    if (word.size() <= 64) cache_.emplace(std::string(word), std::make_pair((uint32_t)start, (uint32_t)(out.size() - start)));
  }
}

}  // namespace hearth::tok
