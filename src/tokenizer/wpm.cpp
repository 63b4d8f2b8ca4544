// WordPiece (BERT), as llama.cpp does it: lowercase, strip accents, split on whitespace and around
// punctuation and CJK characters, then cut each word greedily into the longest vocabulary tokens.
// Vocabularies converted for llama.cpp mark word starts with U+2581 instead of marking
// continuations with "##".
#include "tokenizer/unicode.h"
#include "tokenizer/vocab_impl.h"

namespace hearth::tok {

namespace {
bool is_chinese_char(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) ||
         (c >= 0x2B920 && c <= 0x2CEAF) ||  // 0x2B820 in the Unicode blocks; HF's code has 0x2B920
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words(1);
  for (size_t off = 0; off < text.size();) {
    const uint32_t cpt = cpt_strip_accent(utf8_decode_lenient(text, off));
    const uint16_t flags = cpt_flags(cpt);
    if (flags & cpt_whitespace) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    if (cpt == 0 || cpt == k_replacement_cpt || (flags & cpt_control)) continue;
    const uint32_t lower = cpt_tolower(cpt);
    if ((flags & cpt_punctuation) || (cpt < 0x7F && (flags & cpt_symbol)) || is_chinese_char(cpt)) {
      if (!words.back().empty()) words.emplace_back();
      append_utf8(words.back(), lower);
      words.emplace_back();
    } else {
      append_utf8(words.back(), lower);
    }
  }
  if (words.back().empty()) words.pop_back();
  return words;
}
}  // namespace

void wpm_encode(const vocab::impl& v, std::string_view text, std::vector<int32_t>& out) {
  std::string word;
  for (const std::string& w : split_words(text)) {
    word.assign("\xE2\x96\x81").append(w);
    const size_t n = word.size();
    const size_t before = out.size();
    for (size_t i = 0; i < n;) {
      bool matched = false;
      for (size_t j = std::min(n, i + v.max_token_len + 1); j > i; --j) {
        const int32_t id = v.find(std::string_view(word).substr(i, j - i));
        if (id != token_null) {
          out.push_back(id);
          matched = true;
          i = j;
          break;
        }
      }
      if (!matched) {
        out.resize(before);  // a word that cannot be spelled entirely becomes one unknown token
        break;
      }
    }
    if (out.size() == before && v.unk != token_null) out.push_back(v.unk);
  }
}

}  // namespace hearth::tok
