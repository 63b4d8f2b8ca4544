// Internal state of hearth::vocab shared by the SPM, BPE and WordPiece tokenizers.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/pretokenize.h"
#include "tokenizer/vocab.h"

namespace hearth {

namespace tok {

struct string_hash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using string_map = std::unordered_map<std::string, int32_t, string_hash, std::equal_to<>>;

struct token_data {
  std::string text;
  float score = 0;
  uint32_t attr = token_attr_normal;
};

// BPE merge ranks. Most lookups are between two symbols that are both vocabulary tokens and go
// through the id table; a pair involving a symbol that is not a token falls back to the texts.
struct merge_table {
  struct entry { int32_t rank; int32_t merged; };
  std::unordered_map<uint64_t, entry> by_ids;
  string_map by_text;  // key: left + '\0' + right
  static uint64_t key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }
};

}  // namespace tok

struct vocab::impl {
  vocab_type type = vocab_type::spm;
  std::string model, pre_name;
  tok::pre_type pre = tok::pre_type::none;

  std::vector<tok::token_data> tokens;
  tok::string_map to_id;
  size_t max_token_len = 0;
  std::vector<std::string> pieces;  // token_to_piece(id, special = true)
  std::vector<int32_t> special_tokens;  // control / user-defined / unknown, longest text first
  std::vector<int32_t> eog;
  tok::merge_table merges;
  std::unique_ptr<tok::pretokenizer> pretok;

  int32_t bos = token_null, eos = token_null, eot = token_null, eom = token_null, unk = token_null,
          sep = token_null, pad = token_null, mask = token_null, nl = token_null;
  int32_t fim_pre = token_null, fim_suf = token_null, fim_mid = token_null, fim_pad = token_null,
          fim_rep = token_null, fim_sep = token_null;
  bool add_bos = false, add_eos = false, add_sep = false, add_space_prefix = false,
       clean_spaces = false, ignore_merges = false;
  bool spm_split_words = false;  // see spm_can_split_words

  int32_t find(std::string_view s) const {
    auto it = to_id.find(s);
    return it == to_id.end() ? token_null : it->second;
  }
  int32_t byte_to_token(uint8_t b) const;  // SPM "<0xNN>" (or the raw byte), BPE/WPM mapped byte
  bool has_attr(int32_t id, uint32_t a) const { return (tokens[(size_t)id].attr & a) != 0; }
};

namespace tok {
// The tokenizers proper; each appends the ids for one stretch of plain text (special tokens have
// already been split out).
void spm_encode(const vocab::impl& v, std::string_view text, std::vector<int32_t>& out);
bool spm_can_split_words(const vocab::impl& v);
void wpm_encode(const vocab::impl& v, std::string_view text, std::vector<int32_t>& out);

// BPE keeps a per-call cache of words already encoded.
class bpe_session {
 public:
  explicit bpe_session(const vocab::impl& v) : v_(v) {}
  void encode(std::string_view text, std::vector<int32_t>& out);

 private:
  struct symbol { uint32_t start, len; int32_t id; int32_t prev, next; };
  struct bigram { int32_t left, right, rank; uint32_t size; };
  void encode_word(std::string_view word, std::vector<int32_t>& out);
  void add_bigram(int32_t left, int32_t right);

  const vocab::impl& v_;
  std::string mapped_;
  std::vector<symbol> symbols_;
  std::vector<bigram> queue_;
  std::string key_;
  std::vector<std::pair<uint32_t, uint32_t>> words_;
  std::unordered_map<std::string, std::pair<uint32_t, uint32_t>, string_hash, std::equal_to<>> cache_;  // word -> range of out
};
}  // namespace tok

}  // namespace hearth
