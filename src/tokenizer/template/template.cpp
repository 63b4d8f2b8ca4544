// Public template API: compile once, render many times.
#include "tokenizer/template/template.h"

#include "tokenizer/template/parser.h"

namespace hearth::jinja {

compiled_template::compiled_template(std::string_view source) : prog_(parse_template(source)) {}

std::string compiled_template::render(const value& context, const render_options& opt) const {
  interpreter in(*prog_, opt, context);
  return in.render();
}

}  // namespace hearth::jinja
