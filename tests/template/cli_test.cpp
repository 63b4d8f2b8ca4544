// `hearth template` through the real binary: the prompt it prints for a real GGUF (the Phi-3 vocab,
// which carries a chat template) must equal what Jinja2 renders from that template with the
// vocabulary's bos/eos tokens; options and failures are checked on a synthetic GGUF.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "formats/gguf.h"
#include "oracle.h"
#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

struct run_result {
  int status = -1;
  std::string out, err;
};

fs::path temp_dir_path() {
  return fs::temp_directory_path() / fmt::format("hearth-template-cli-{}", static_cast<long>(getpid()));
}

fs::path temp_dir() {
  const fs::path d = temp_dir_path();
  fs::create_directories(d);
  return d;
}

struct remove_temp_dir {
  ~remove_temp_dir() {
    std::error_code ec;
    fs::remove_all(temp_dir_path(), ec);
  }
} remove_temp_dir_at_exit;

run_result run_hearth(const std::string& args) {
  const fs::path d = temp_dir();
  const fs::path out = d / "stdout", err = d / "stderr";
  const std::string cmd = fmt::format("'{}' template {} >'{}' 2>'{}'", hearth::test::binary_path("bin/hearth"), args,
                                      out.string(), err.string());
  run_result r;
  const int rc = std::system(cmd.c_str());
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = hearth::test::read_text(out);
  r.err = hearth::test::read_text(err);
  return r;
}

std::string write_file(const std::string& name, const std::string& text) {
  const fs::path p = temp_dir() / name;
  std::ofstream(p, std::ios::binary) << text;
  return p.string();
}

std::string synthetic_model(const char* chat_template) {
  hearth::gguf::writer w;
  w.set_string("general.architecture", "llama");
  w.set("tokenizer.ggml.tokens", hearth::gguf::value::string_array({"<unk>", "<|begin|>", "<|end|>", "hi"}));
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);
  if (chat_template) w.set_string("tokenizer.chat_template", chat_template);
  const std::string path = (temp_dir() / (chat_template ? "with-template.gguf" : "no-template.gguf")).string();
  w.write(path);
  return path;
}

TEST(template_cli, real_model_prompt_matches_jinja2) {
  const std::string model = hearth::test::data_path("models/llama.cpp-vocab/ggml-vocab-phi-3.gguf");
  const auto f = hearth::gguf::file::open(model);
  const std::string source = f->get_string("tokenizer.chat_template");
  const auto& tokens = *f->find("tokenizer.ggml.tokens");
  const std::string bos = tokens.string_at(static_cast<size_t>(f->get_int("tokenizer.ggml.bos_token_id")));
  const std::string eos = tokens.string_at(static_cast<size_t>(f->get_int("tokenizer.ggml.eos_token_id")));
  const ordered_json messages = ordered_json::parse(R"([
    {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi 👋, what's 2+2?"},
    {"role": "assistant", "content": "4."}, {"role": "user", "content": "Thanks!"}])");
  const std::string messages_file = write_file("messages.json", messages.dump());

  for (const bool gen : {true, false}) {
    ordered_json req;
    req["templates"] = {{"phi3", source}};
    req["cases"] = {{{"template", "phi3"}, {"messages", messages}, {"add_generation_prompt", gen}, {"bos_token", bos},
                     {"eos_token", eos}}};
    std::string error;
    const auto want = hearth::test::run_jinja_oracle(req, error);
    ASSERT_TRUE(error.empty()) << error;
    ASSERT_TRUE(want.at(0).ok) << want.at(0).text;
    const run_result r = run_hearth(fmt::format("'{}' --messages '{}'{}", model, messages_file, gen ? "" : " --no-generation-prompt"));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, want.at(0).text);
  }
}

TEST(template_cli, options_reach_the_template) {
  const std::string model = synthetic_model(
      "{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}"
      "{% if tools %}tools={{ tools | map(attribute='function.name') | join(',') }}{% endif %}"
      "{% if add_generation_prompt %}<gen>{% endif %}{{ eos_token }}{{ flavour | default('') }}");
  const std::string conv = write_file("conv.json", R"({"messages": [{"role": "user", "content": "hé"}],
      "tools": [{"type": "function", "function": {"name": "a"}}]})");
  const std::string tools = write_file("tools.json", R"([{"type": "function", "function": {"name": "b"}},
      {"type": "function", "function": {"name": "c"}}])");
  run_result r = run_hearth(fmt::format("'{}' --messages '{}'", model, conv));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "<|begin|>[user:hé]tools=a<gen><|end|>");
  r = run_hearth(fmt::format("'{}' --messages '{}' --tools '{}' --no-generation-prompt --kwargs '{{\"flavour\": \"!\"}}'",
                             model, conv, tools));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "<|begin|>[user:hé]tools=b,c<|end|>!");
  const std::string tpl = write_file("other.jinja", "{{ messages | length }} messages");
  r = run_hearth(fmt::format("'{}' --messages '{}' --chat-template '{}'", model, conv, tpl));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "1 messages");
}

TEST(template_cli, failures_are_clear) {
  const std::string conv = write_file("conv2.json", R"([{"role": "user", "content": "x"}])");
  run_result r = run_hearth(fmt::format("'{}' --messages '{}'", synthetic_model(nullptr), conv));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("no chat template (tokenizer.chat_template)"), std::string::npos) << r.err;

  const std::string raising = synthetic_model("{{ raise_exception('Only user messages, please') }}");
  r = run_hearth(fmt::format("'{}' --messages '{}'", raising, conv));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "hearth: chat template line 1: Only user messages, please\n");

  r = run_hearth(fmt::format("'{}' --messages '{}'", raising, write_file("bad.json", "[{")));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("not valid JSON"), std::string::npos) << r.err;
}

}  // namespace
