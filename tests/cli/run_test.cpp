// hearth run: the main job works with no arguments, --json output matches llama.cpp's greedy
// continuation, and every kind of bad input gives a one-line error and a non-zero exit.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <filesystem>
#include <fstream>

#include "formats/gguf.h"
#include "process_util.h"

namespace hearth::test {
namespace {

namespace fs = std::filesystem;

std::string one_line(const std::string& s) { return s.substr(0, s.find('\n')); }

TEST(Run, TellsAStoryWithTheBundledModel) {
  const auto r = run_process({hearth_exe(), "run", "-n", "64", "--seed", "1"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with("Once upon a time")) << r.out;
  EXPECT_GT(r.out.size(), 100u);
}

TEST(Run, GreedyJsonMatchesTheReference) {
  std::ifstream f(data_path("reference/stories260K/text-0.json"));
  const auto ref = nlohmann::json::parse(f);
  const auto r = run_process({hearth_exe(), "run", data_path("models/tinyllamas/stories260K.gguf"), "-p",
                              ref["prompt_text"].get<std::string>(), "-n", "48", "--temp", "0", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["prompt_tokens"], ref["prompt_ids"]);
  EXPECT_EQ(out["tokens"], ref["greedy_ids"]);
  EXPECT_EQ(out["finish_reason"], "length");
}

TEST(Run, PromptFromStdinAndStopSequence) {
  const auto r = run_process({hearth_exe(), "run", "-p", "-", "-n", "48", "--temp", "0", "--stop", "Lily", "--no-prompt"},
                             "Once upon a time");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, ", there was a little girl named \n");
}

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("hearth-run-test-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void expect_error(const std::vector<std::string>& args, int status, const std::string& needle) {
    std::vector<std::string> argv = {hearth_exe(), "run"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run_process(argv);
    EXPECT_EQ(r.status, status) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line expected: " << r.err;
    EXPECT_TRUE(one_line(r.err).starts_with("hearth")) << r.err;
  }
  fs::path dir_;
};

TEST_F(BadInput, BadArgumentsExitTwo) {
  expect_error({"--max-tokens", "lots"}, 2, "max-tokens");
  expect_error({"--temp", "-1"}, 2, "temp");
  expect_error({"--no-such-flag"}, 2, "no-such-flag");
  expect_error({"--gpu-layers", "many"}, 1, "--gpu-layers");
}

TEST_F(BadInput, MissingFileNotGgufAndUnknownArchitecture) {
  expect_error({(dir_ / "missing.gguf").string()}, 1, "missing.gguf");
  const fs::path text = dir_ / "notes.gguf";
  std::ofstream(text) << "this is not a model\n";
  expect_error({text.string()}, 1, "GGUF");
  // A valid GGUF of an architecture Hearth does not run.
  gguf::writer w;
  w.set_string("general.architecture", "mamba");
  w.set_u32("mamba.block_count", 1);
  const fs::path mamba = dir_ / "mamba.gguf";
  w.write(mamba.string());
  expect_error({mamba.string()}, 1, "mamba");
}

// A GPU backend that is not there (module not installed) or not usable: one line saying why, exit 1.
TEST_F(BadInput, UnavailableBackendSaysWhy) {
  ::setenv("HEARTH_MODULE_PATH", dir_.c_str(), 1);  // a folder without any backend module
  expect_error({"--backend", "vulkan", "-n", "2"}, 1, "libhearth-vulkan.so not found");
  expect_error({"--device", "cuda:0", "-n", "2"}, 1, "libhearth-cuda.so not found");
  ::unsetenv("HEARTH_MODULE_PATH");
}

}  // namespace
}  // namespace hearth::test
