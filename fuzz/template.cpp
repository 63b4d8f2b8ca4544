// Fuzz target: the chat-template engine must turn any template source into either a rendered
// prompt or a hearth::error (syntax, runtime, limit), never crash, hang or read outside a buffer.
// Each input is rendered over a fixed conversation with tools, reasoning and unicode, under small
// limits so runaway loops and huge outputs end quickly.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "tokenizer/template/chat.h"

namespace {

const nlohmann::ordered_json& conversation() {
  static const nlohmann::ordered_json c = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are helpful. 你好 🎉"},
      {"role": "user", "content": "Weather in Paris? {{ not_jinja }}"},
      {"role": "assistant", "content": null, "reasoning_content": "call the tool",
       "tool_calls": [{"id": "call12345", "type": "function",
                       "function": {"name": "get_weather", "arguments": {"location": "Paris", "days": [1, 2.5, true, null]}}}]},
      {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "{\"t\": 18}"},
      {"role": "assistant", "content": [{"type": "text", "text": "It is 18°C."}]},
      {"role": "user", "content": ""}
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
               "parameters": {"type": "object", "properties": {"location": {"type": "string"},
                              "days": {"type": "array", "items": {"type": "integer"}}}, "required": ["location"]}}}]
  })");
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string source(reinterpret_cast<const char*>(data), size);
  hearth::jinja::render_options opt;
  opt.now = 1719835200;
  opt.limits.max_steps = 200000;
  opt.limits.max_call_depth = 40;
  opt.limits.max_output_bytes = 1 << 20;
  opt.limits.max_string_bytes = 1 << 20;
  opt.limits.max_sequence_items = 1 << 16;
  try {
    const hearth::chat::chat_template t(source);
    hearth::chat::chat_inputs in;
    in.messages = conversation()["messages"];
    in.tools = conversation()["tools"];
    in.bos_token = "<s>";
    in.eos_token = "</s>";
    in.extra = {{"enable_thinking", true}};
    for (const bool gen : {true, false}) {
      in.add_generation_prompt = gen;
      const std::string out = t.render(in, opt);
      if (out.size() > opt.limits.max_output_bytes) __builtin_trap();
    }
  } catch (const hearth::error&) {
  }
  return 0;
}
