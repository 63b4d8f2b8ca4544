// hearth tokenize, through the real binary.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sys/wait.h>

#include "test_util.h"
#include "tokenizer_util.h"

namespace hearth {
namespace {

struct run_result {
  int rc = -1;
  std::string out, err;
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

run_result run_hearth(const std::string& args) {
#ifndef HEARTH_CLI_PATH
  ADD_FAILURE() << "HEARTH_CLI_PATH is not defined (tests/scripts.cmake wires it)";
  return {};
#else
  const std::string err_path = (std::filesystem::temp_directory_path() / ("hearth_tok_cli_" + std::to_string(getpid()))).string();
  const std::string cmd = quote(HEARTH_CLI_PATH) + " tokenize " + args + " 2>" + quote(err_path);
  run_result r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = test::read_file(err_path);
  std::filesystem::remove(err_path);
  return r;
#endif
}

const std::string gpt2_path = test::data_path("models/llama.cpp-vocab/ggml-vocab-gpt-2.gguf");
const std::string spm_path = test::data_path("models/llama.cpp-vocab/ggml-vocab-llama-spm.gguf");

TEST(tokenize_cli, prints_one_line_per_token) {
  const run_result r = run_hearth(quote(gpt2_path) + " 'Hello world\n'");
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "  15496 -> 'Hello'\n    995 -> ' world'\n    198 -> '\\n'\n");
}

TEST(tokenize_cli, json_adds_bos_and_parses_special_on_request) {
  const vocab& v = test::shipped_vocab("models/llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
  const std::string text = "<s>Hi \xED\x85\x8D";
  for (const auto& [flags, add_special, parse_special] :
       std::vector<std::tuple<std::string, bool, bool>>{{"--json", true, false}, {"--json --special", true, true},
                                                        {"--json --no-bos --special", false, true}}) {
    const run_result r = run_hearth(flags + " " + quote(spm_path) + " " + quote(text));
    ASSERT_EQ(r.rc, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    const auto ids = j["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(ids, v.tokenize(text, add_special, parse_special)) << flags;
    ASSERT_EQ(j["pieces"].size(), ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      const std::string piece = v.token_to_piece(ids[i], true);
      if (piece.size() == 1 && (unsigned char)piece[0] >= 0x80) EXPECT_EQ(j["pieces"][i], "\xEF\xBF\xBD");
      else EXPECT_EQ(j["pieces"][i], piece);
    }
  }
  const run_result r = run_hearth("--json --special " + quote(spm_path) + " '<s>x'");
  EXPECT_EQ(nlohmann::json::parse(r.out)["ids"], nlohmann::json::parse("[1, 1, 921]"));
}

TEST(tokenize_cli, bad_files_give_one_line_and_exit_1) {
  for (const std::string& path : {std::string("/nonexistent/model.gguf"), test::data_path("models/README.md")}) {
    const run_result r = run_hearth(quote(path) + " hello");
    EXPECT_EQ(r.rc, 1) << path;
    EXPECT_EQ(r.out, "");
    ASSERT_FALSE(r.err.empty());
    EXPECT_EQ(r.err.rfind("hearth: ", 0), 0u) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
  }
}

}  // namespace
}  // namespace hearth
