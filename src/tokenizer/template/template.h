// Public API of the template engine: compile a Jinja2 template once, render it many times (from
// any number of threads) against a context of values, configured as Hugging Face's
// apply_chat_template configures Jinja2 (trim_blocks, lstrip_blocks, loop controls, an immutable
// sandbox, tojson keeping non-ASCII, raise_exception, strftime_now).
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenizer/template/interpreter.h"
#include "tokenizer/template/value.h"

namespace hearth::jinja {

class compiled_template {
 public:
  // Parses the source; throws template_error (syntax, or a construct Hearth does not implement)
  // naming the problem and its line.
  explicit compiled_template(std::string_view source);
  // Renders with `context` (a dict value) as the template's variables. Throws template_error when
  // the template raises (raise_exception, undefined values, type errors) or exceeds a limit.
  std::string render(const value& context, const render_options& opt = {}) const;

 private:
  std::shared_ptr<const program> prog_;
};

// JSON documents as template values (objects keep their key order only with ordered_json).
value from_json(const nlohmann::ordered_json& j);
value from_json(const nlohmann::json& j);

}  // namespace hearth::jinja
