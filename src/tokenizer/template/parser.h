// Template parser: tokens to a syntax tree, following Jinja2's grammar and operator precedence
// (including its quirks, e.g. left-associative ** and tests binding tighter than arithmetic).
#pragma once
#include <memory>
#include <string_view>

#include "tokenizer/template/ast.h"
#include "tokenizer/template/lexer.h"

namespace hearth::jinja {

// Parses a whole template. Throws template_error: syntax errors, unknown tags, and constructs
// Hearth does not implement (extends, include, import, block, autoescape) named with their line.
std::unique_ptr<program> parse_template(std::string_view source, const lexer_options& opt = {});

// Filter and test names the engine implements (builtins.cpp).
bool has_filter(std::string_view name);
bool has_test(std::string_view name);

constexpr int max_parse_depth = 200;
constexpr int max_expr_depth = 300;

}  // namespace hearth::jinja
