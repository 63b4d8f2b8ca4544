// Chat prompts: OpenAI and Anthropic messages normalised to {role, content} text messages, rendered
// with the model's chat template, or, for a model without one, with Hearth's plain fallback format:
//
//   system: <content>\n\nuser: <content>\n\nassistant: <content>\n\n ... assistant:
//
// (every message as "role: content" followed by a blank line, then "assistant:" to prompt the
// answer). With the fallback, "\nuser:" is an implicit stop sequence, so a base model that goes on
// to write the user's next turn is cut there.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hearth {
class vocab;
namespace chat {
class chat_template;
}
}  // namespace hearth

namespace hearth::server {

// Text of a message content: a string, or a list of text parts ({"type": "text", "text": ...}).
// Other parts (images, audio, tool results) are refused with a 400 naming `param`.
std::string content_text(const nlohmann::ordered_json& content, const std::string& param);

// OpenAI's "messages" as template messages: roles system, developer (as system), user, assistant,
// tool; content as text. Throws api_error 400 on a malformed list.
nlohmann::ordered_json openai_messages(const nlohmann::ordered_json& messages);
// Anthropic's "system" (string or text blocks, may be null) and "messages" (user/assistant).
nlohmann::ordered_json anthropic_messages(const nlohmann::ordered_json* system, const nlohmann::ordered_json& messages);

class chat_formatter {
 public:
  // template_source "" (or one that does not parse: logged) selects the fallback format.
  chat_formatter(const std::string& template_source, const vocab& v);
  ~chat_formatter();
  // The prompt text for these messages, ending with the assistant's turn opened. A template that
  // raises (e.g. "roles must alternate") gives api_error 400 with its message.
  std::string render(const nlohmann::ordered_json& messages, bool add_generation_prompt = true) const;
  // Prompt text to token ids: special-token text is parsed, and BOS is added unless the text
  // already starts with it.
  std::vector<int32_t> tokenize(const std::string& text) const;
  bool is_fallback() const { return !tpl_; }
  // Stop sequences every chat request gets on top of its own.
  const std::vector<std::string>& implicit_stops() const { return implicit_stops_; }

 private:
  const vocab& voc_;
  std::unique_ptr<chat::chat_template> tpl_;
  std::string bos_text_, eos_text_;
  std::vector<std::string> implicit_stops_;
};

// The fallback format alone (for tests and docs).
std::string fallback_render(const nlohmann::ordered_json& messages, bool add_generation_prompt);

}  // namespace hearth::server
