// Chat prompt rendering: builds apply_chat_template's variables and renders the template.
#include "tokenizer/template/chat.h"

namespace hearth::chat {

chat_template::chat_template(std::string source) : source_(std::move(source)), tpl_(source_) {}

jinja::value chat_context(const chat_inputs& in) {
  if (!in.messages.is_array()) fail("chat messages must be a JSON array");
  if (in.tools && !in.tools->is_null() && !in.tools->is_array()) fail("chat tools must be a JSON array");
  if (!in.extra.is_object()) fail("extra template variables must be a JSON object");
  jinja::value ctx = jinja::value::dict();
  auto set = [&](const char* k, jinja::value v) { jinja::dict_set(ctx, jinja::value::string(k), std::move(v)); };
  // Order as Python builds it: the explicit arguments, then the special tokens, then the kwargs.
  set("messages", jinja::from_json(in.messages));
  set("tools", in.tools ? jinja::from_json(*in.tools) : jinja::value::none());
  set("documents", in.documents ? jinja::from_json(*in.documents) : jinja::value::none());
  set("add_generation_prompt", jinja::value::boolean(in.add_generation_prompt));
  set("bos_token", jinja::value::string(in.bos_token));
  set("eos_token", jinja::value::string(in.eos_token));
  for (auto it = in.extra.begin(); it != in.extra.end(); ++it) {
    const std::string& k = it.key();
    if (k == "messages" || k == "tools" || k == "documents" || k == "add_generation_prompt")
      fail("extra template variable '{}' collides with a chat argument", k);
    set(k.c_str(), jinja::from_json(it.value()));
  }
  return ctx;
}

std::string chat_template::render(const chat_inputs& in, const jinja::render_options& opt) const {
  return tpl_.render(chat_context(in), opt);
}

}  // namespace hearth::chat
