// Unicode helpers for the tokenizers: UTF-8 decoding that treats broken input the way llama.cpp
// does, codepoint category flags, simple lowercase and accent stripping (tables generated from the
// Unicode database by gen_unicode_tables.py).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::tok {

// Category flags of a codepoint; `whitespace` is the White_Space property, independent of category.
enum cpt_flag : uint16_t {
  cpt_undefined = 1 << 0,
  cpt_number = 1 << 1,       // \p{N}
  cpt_letter = 1 << 2,       // \p{L}
  cpt_separator = 1 << 3,    // \p{Z}
  cpt_mark = 1 << 4,         // \p{M}
  cpt_punctuation = 1 << 5,  // \p{P}
  cpt_symbol = 1 << 6,       // \p{S}
  cpt_control = 1 << 7,      // \p{C} other than unassigned
  cpt_whitespace = 1 << 8,
};

uint16_t cpt_flags(uint32_t cpt);
uint32_t cpt_tolower(uint32_t cpt);
// The first codepoint of the canonical decomposition ("é" -> "e"); the codepoint itself if none.
uint32_t cpt_strip_accent(uint32_t cpt);

constexpr uint32_t k_replacement_cpt = 0xFFFD;

// Byte length announced by a UTF-8 lead byte (1 for continuation bytes, as llama.cpp counts them).
inline size_t utf8_len(uint8_t lead) {
  static constexpr uint8_t lengths[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return lengths[lead >> 4];
}

// Decodes one codepoint at `offset` and advances past it. Like llama.cpp, overlong forms, surrogates
// and values up to 0x1FFFFF are accepted; a byte that starts no sequence, or a truncated sequence,
// gives U+FFFD and advances one byte.
uint32_t utf8_decode_lenient(std::string_view s, size_t& offset);
std::vector<uint32_t> utf8_to_cpts_lenient(std::string_view s);
// Appends the UTF-8 form of cpt (surrogates are encoded as three bytes, like llama.cpp does).
void append_utf8(std::string& out, uint32_t cpt);
std::string cpt_to_utf8(uint32_t cpt);

// Strict validation (no overlongs, surrogates or values past U+10FFFF).
bool utf8_is_valid(std::string_view s);
// Length of a strictly valid prefix of s that ends on a sequence boundary; *incomplete_tail is set
// when the remaining bytes are a valid but unfinished sequence (more bytes may complete it).
size_t utf8_valid_prefix(std::string_view s, bool* incomplete_tail);
// Copies s replacing each maximal invalid subsequence with U+FFFD (the WHATWG / Unicode practice).
std::string utf8_sanitize(std::string_view s);

// GPT-2's byte-level mapping: each byte 0..255 is shown as a printable codepoint.
const std::string& byte_to_unicode_utf8(uint8_t byte);
// The byte for a mapped codepoint, or -1 when cpt is not one of the 256 mapped codepoints.
int unicode_to_byte(uint32_t cpt);

}  // namespace hearth::tok
