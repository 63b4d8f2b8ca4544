// Template lexer: splits source into data and tag tokens with Jinja2's whitespace rules as Hugging
// Face configures them (trim_blocks, lstrip_blocks, "-"/"+" markers, raw blocks, comments).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::jinja {

enum class tok : uint8_t { data, var_begin, var_end, block_begin, block_end, name, string, integer, floating, op, eof };

struct token {
  tok type = tok::eof;
  int line = 1;
  std::string text;  // data, name, operator spelling, or the decoded string literal
  int64_t ival = 0;
  double fval = 0;
};

struct lexer_options {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
};

// Throws template_error (syntax) for unterminated comments/raw blocks, bad characters, unbalanced
// brackets and bad string escapes.
std::vector<token> lex(std::string_view source, const lexer_options& opt = {});

const char* describe(const token& t);

}  // namespace hearth::jinja
