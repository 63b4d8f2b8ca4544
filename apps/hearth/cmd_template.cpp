// hearth template: renders a model's chat template for a conversation and prints the exact prompt
// text the server would tokenize (tokenizer.chat_template with bos/eos from the vocabulary).
#include <cstdio>
#include <fstream>
#include <sstream>

#include "apps/hearth/command.h"
#include "core/error.h"
#include "formats/gguf.h"
#include "tokenizer/template/chat.h"

namespace hearth::cli {

namespace {

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(error_kind::io, "cannot read {}", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

nlohmann::ordered_json read_json(const std::string& path) {
  try {
    return nlohmann::ordered_json::parse(read_all(path));
  } catch (const nlohmann::json::exception& e) {
    fail(error_kind::invalid_argument, "{}: not valid JSON ({})", path, e.what());
  }
}

// The text of a special token named by tokenizer.ggml.<which>_token_id, or "" when absent.
std::string special_token(const gguf::file& f, const char* which) {
  const gguf::value* id = f.find(fmt::format("tokenizer.ggml.{}_token_id", which));
  const gguf::value* tokens = f.find("tokenizer.ggml.tokens");
  if (!id || !tokens || !id->is_number() || !tokens->is_array() || tokens->elem_type() != gguf::value_type::string)
    return {};
  const int64_t i = id->as_i64();
  if (i < 0 || static_cast<uint64_t>(i) >= tokens->size())
    fail(error_kind::bad_format, "{}: tokenizer.ggml.{}_token_id {} is outside the vocabulary ({} tokens)", f.path(),
         which, i, tokens->size());
  return tokens->string_at(static_cast<size_t>(i));
}

class template_command : public command {
 public:
  const char* name() const override { return "template"; }
  const char* help() const override {
    return "Render a model's chat template for a conversation: prints the exact prompt text";
  }

  void setup(CLI::App& app) override {
    app.add_option("MODEL", model_, "GGUF model file")->required();
    app.add_option("--messages", messages_,
                   "JSON file: an array of messages, or an object with \"messages\" (and optionally \"tools\")")
        ->required();
    app.add_option("--tools", tools_, "JSON file with the tool schemas (an array, or an object with \"tools\")");
    app.add_flag("--no-generation-prompt", no_generation_prompt_, "Do not open an assistant turn at the end");
    app.add_option("--kwargs", kwargs_, "Extra template variables as a JSON object, e.g. '{\"enable_thinking\": false}'");
    app.add_option("--chat-template", template_file_, "Render this Jinja template file instead of the model's");
  }

  int run() override {
    const auto f = gguf::file::open(model_);
    std::string source;
    if (!template_file_.empty()) {
      source = read_all(template_file_);
    } else {
      source = f->get_string("tokenizer.chat_template", "");
      if (source.empty())
        fail(error_kind::not_found, "{}: the model has no chat template (tokenizer.chat_template); pass one with --chat-template",
             model_);
    }
    chat::chat_inputs in;
    const nlohmann::ordered_json conv = read_json(messages_);
    if (conv.is_array()) {
      in.messages = conv;
    } else if (conv.is_object() && conv.contains("messages")) {
      in.messages = conv["messages"];
      if (conv.contains("tools") && !conv["tools"].is_null()) in.tools = conv["tools"];
    } else {
      fail(error_kind::invalid_argument, "{}: expected an array of messages or an object with \"messages\"", messages_);
    }
    if (!tools_.empty()) {
      const nlohmann::ordered_json t = read_json(tools_);
      in.tools = t.is_object() && t.contains("tools") ? t["tools"] : t;
    }
    if (!kwargs_.empty()) {
      try {
        in.extra = nlohmann::ordered_json::parse(kwargs_);
      } catch (const nlohmann::json::exception& e) {
        fail(error_kind::invalid_argument, "--kwargs: not valid JSON ({})", e.what());
      }
    }
    in.add_generation_prompt = !no_generation_prompt_;
    in.bos_token = special_token(*f, "bos");
    in.eos_token = special_token(*f, "eos");
    const std::string prompt = chat::chat_template(source).render(in);
    std::fwrite(prompt.data(), 1, prompt.size(), stdout);
    return 0;
  }

 private:
  std::string model_, messages_, tools_, kwargs_, template_file_;
  bool no_generation_prompt_ = false;
};

}  // namespace

HEARTH_COMMAND(template_command);

}  // namespace hearth::cli
