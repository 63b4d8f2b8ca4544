// UTF-8 and Unicode helpers for the template engine: Python's str works on code points, so length,
// indexing, slicing, case mapping, isspace/isprintable and friends are reproduced here on UTF-8 bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::jinja::text {

// Decodes one code point at s[i] and advances i. Invalid bytes decode to themselves (0x80..0xFF) so
// that hostile input never stops the engine; valid UTF-8 round-trips exactly.
uint32_t decode(std::string_view s, size_t& i);
void append_utf8(std::string& out, uint32_t cp);
bool is_ascii(std::string_view s);
size_t count_code_points(std::string_view s);
std::vector<uint32_t> to_code_points(std::string_view s);
std::string from_code_points(const uint32_t* cps, size_t n);
// Byte offset of code point index `cp_index` (clamped to the end).
size_t byte_offset(std::string_view s, size_t cp_index);

// Python str predicates for one code point.
bool is_space(uint32_t cp);      // str.isspace (also what Python's \s matches)
bool is_printable(uint32_t cp);  // str.isprintable
bool is_alpha(uint32_t cp);
bool is_decimal(uint32_t cp);
bool is_digit(uint32_t cp);
bool is_numeric(uint32_t cp);
bool is_upper(uint32_t cp);
bool is_lower(uint32_t cp);
bool is_word(uint32_t cp);  // Python re \w
bool is_linebreak(uint32_t cp);  // str.splitlines boundaries

uint32_t to_upper(uint32_t cp);
uint32_t to_lower(uint32_t cp);

std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string swapcase(std::string_view s);
std::string capitalize(std::string_view s);  // str.capitalize
std::string title(std::string_view s);       // str.title

// Whitespace (Python's \s) at byte position i: its length in bytes, or 0.
size_t space_at(std::string_view s, size_t i);
std::string_view rstrip_space(std::string_view s);
std::string_view lstrip_space(std::string_view s);

}  // namespace hearth::jinja::text
