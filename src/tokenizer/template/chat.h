// Chat prompts from a model's chat template: the variables Hugging Face's apply_chat_template passes
// (messages, tools, documents, add_generation_prompt, bos_token, eos_token, extra keyword
// arguments such as enable_thinking), rendered exactly as Jinja2 renders them. This is the text
// the server tokenizes and feeds the model.
#pragma once
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "tokenizer/template/template.h"

namespace hearth::chat {

struct chat_inputs {
  // Messages as given: role, content (a string or a list of parts), tool_calls, tool_call_id, name,
  // reasoning_content, ... Passed to the template unchanged, keys in their original order.
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  std::optional<nlohmann::ordered_json> tools;      // absent: the template sees None
  std::optional<nlohmann::ordered_json> documents;  // absent: None
  bool add_generation_prompt = true;
  std::string bos_token;
  std::string eos_token;
  // Extra template variables (e.g. {"enable_thinking": false}); they override bos/eos_token.
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
};

class chat_template {
 public:
  // Throws jinja::template_error when the template does not parse or uses an unsupported construct.
  explicit chat_template(std::string source);
  // Throws jinja::template_error when the template raises (e.g. "roles must alternate") or runs
  // past a limit, hearth::error when the inputs are malformed.
  std::string render(const chat_inputs& in, const jinja::render_options& opt = {}) const;
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  jinja::compiled_template tpl_;
};

// The context dict apply_chat_template would build for these inputs.
jinja::value chat_context(const chat_inputs& in);

}  // namespace hearth::chat
