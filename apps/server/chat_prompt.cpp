// Chat prompt building: message normalisation, template rendering, fallback format.
#include "apps/server/chat_prompt.h"

#include <fmt/format.h>

#include "apps/server/api_error.h"
#include "apps/server/json_params.h"
#include "core/log.h"
#include "tokenizer/template/chat.h"
#include "tokenizer/vocab.h"

namespace hearth::server {

std::string content_text(const nlohmann::ordered_json& content, const std::string& param) {
  if (content.is_null()) return {};
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) throw bad_request(fmt::format("'{}' must be a string or a list of content parts", param), param);
  std::string out;
  for (size_t i = 0; i < content.size(); ++i) {
    const auto& part = content[i];
    const std::string p = fmt::format("{}[{}]", param, i);
    if (!part.is_object()) throw bad_request(fmt::format("'{}' must be an object", p), p);
    auto type = part.find("type");
    if (type == part.end() || !type->is_string()) throw bad_request(fmt::format("'{}.type' is required", p), p + ".type");
    if (*type != "text")
      throw bad_request(fmt::format("'{}' has type '{}': only text content is supported", p, type->get<std::string>()), p + ".type");
    auto text = part.find("text");
    if (text == part.end() || !text->is_string()) throw bad_request(fmt::format("'{}.text' must be a string", p), p + ".text");
    // Consecutive text parts join as written; templates see one string.
    out += text->get<std::string>();
  }
  return out;
}

nlohmann::ordered_json openai_messages(const nlohmann::ordered_json& messages) {
  if (!messages.is_array()) throw bad_request(fmt::format("'messages' must be an array, got {}", json_type_name(messages)), "messages");
  if (messages.empty()) throw bad_request("'messages' must hold at least one message", "messages");
  auto out = nlohmann::ordered_json::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    const std::string p = fmt::format("messages[{}]", i);
    if (!m.is_object()) throw bad_request(fmt::format("'{}' must be an object", p), p);
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) throw bad_request(fmt::format("'{}.role' must be a string", p), p + ".role");
    std::string r = role->get<std::string>();
    if (r == "developer") r = "system";
    if (r != "system" && r != "user" && r != "assistant" && r != "tool")
      throw bad_request(fmt::format("'{}.role' must be one of system, developer, user, assistant, tool; got '{}'", p, r), p + ".role");
    nlohmann::ordered_json msg = {{"role", r}};
    auto content = m.find("content");
    if (content == m.end()) {
      if (r != "assistant") throw bad_request(fmt::format("'{}.content' is required", p), p + ".content");
      msg["content"] = "";
    } else {
      msg["content"] = content_text(*content, p + ".content");
    }
    if (auto name = m.find("name"); name != m.end() && name->is_string()) msg["name"] = *name;
    if (auto id = m.find("tool_call_id"); id != m.end() && id->is_string()) msg["tool_call_id"] = *id;
    out.push_back(std::move(msg));
  }
  return out;
}

nlohmann::ordered_json anthropic_messages(const nlohmann::ordered_json* system, const nlohmann::ordered_json& messages) {
  if (!messages.is_array()) throw bad_request(fmt::format("messages: must be an array, got {}", json_type_name(messages)), "messages");
  if (messages.empty()) throw bad_request("messages: at least one message is required", "messages");
  auto out = nlohmann::ordered_json::array();
  if (system) {
    std::string s = content_text(*system, "system");
    if (!s.empty()) out.push_back({{"role", "system"}, {"content", s}});
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    const std::string p = fmt::format("messages.{}", i);
    if (!m.is_object()) throw bad_request(fmt::format("{}: must be an object", p), p);
    auto role = m.find("role");
    if (role == m.end() || !role->is_string() || (*role != "user" && *role != "assistant"))
      throw bad_request(fmt::format("{}.role: must be 'user' or 'assistant'", p), p + ".role");
    auto content = m.find("content");
    if (content == m.end() || content->is_null()) throw bad_request(fmt::format("{}.content: field required", p), p + ".content");
    out.push_back({{"role", *role}, {"content", content_text(*content, p + ".content")}});
  }
  return out;
}

std::string fallback_render(const nlohmann::ordered_json& messages, bool add_generation_prompt) {
  std::string out;
  for (const auto& m : messages) {
    out += m.value("role", std::string("user"));
    out += ": ";
    out += m.value("content", std::string());
    out += "\n\n";
  }
  if (add_generation_prompt) out += "assistant:";
  return out;
}

chat_formatter::chat_formatter(const std::string& template_source, const vocab& v) : voc_(v) {
  if (v.bos() != token_null) bos_text_ = v.text(v.bos());
  if (v.eos() != token_null) eos_text_ = v.text(v.eos());
  if (!template_source.empty()) {
    try {
      tpl_ = std::make_unique<chat::chat_template>(template_source);
    } catch (const std::exception& e) {
      log_warn("the model's chat template does not parse ({}); using the plain 'role: content' format", e.what());
    }
  }
  if (!tpl_) implicit_stops_ = {"\nuser:"};
}

chat_formatter::~chat_formatter() = default;

std::string chat_formatter::render(const nlohmann::ordered_json& messages, bool add_generation_prompt) const {
  if (!tpl_) return fallback_render(messages, add_generation_prompt);
  chat::chat_inputs in;
  in.messages = messages;
  in.add_generation_prompt = add_generation_prompt;
  in.bos_token = bos_text_;
  in.eos_token = eos_text_;
  try {
    return tpl_->render(in);
  } catch (const std::exception& e) {
    throw bad_request(fmt::format("the model's chat template refused these messages: {}", e.what()), "messages");
  }
}

std::vector<int32_t> chat_formatter::tokenize(const std::string& text) const {
  const bool has_bos = !bos_text_.empty() && text.starts_with(bos_text_);
  return voc_.tokenize(text, !has_bos, true);
}

}  // namespace hearth::server
