// llama.cpp's tokenizer vectors (.inp/.out, produced by the reference Hugging Face tokenizers):
// every pair whose vocabulary is shipped must match exactly, one test per vocabulary; llama-bpe
// and qwen2 use vocabularies built from their BPE files.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_util.h"
#include "tokenizer_util.h"

namespace hearth {
namespace {

using test::data_path;

// Checks every case and reports each mismatch with its text.
void expect_vectors(const vocab& v, const std::vector<test::vector_case>& cases) {
  ASSERT_FALSE(cases.empty());
  int failed = 0;
  for (const auto& c : cases) {
    const std::vector<int32_t> got = v.tokenize(c.text, false, false);
    if (got != c.ids) {
      ++failed;
      ADD_FAILURE() << "text '" << test::escaped(c.text) << "'\n  expected " << ::testing::PrintToString(c.ids)
                    << "\n  got      " << ::testing::PrintToString(got);
    }
  }
  EXPECT_EQ(failed, 0) << "of " << cases.size() << " cases";
}

// Every vocab-only GGUF in llama.cpp-vocab/ that has a vector pair next to it.
std::vector<std::string> shipped_pairs() {
  std::vector<std::string> names;
  const std::filesystem::path dir = data_path("models/llama.cpp-vocab");
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string file = e.path().filename().string();
    const std::string suffix = ".gguf.inp";
    if (file.size() <= suffix.size() || file.compare(file.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    const std::string base = file.substr(0, file.size() - 4);  // ggml-vocab-X.gguf
    if (std::filesystem::exists(dir / base) && std::filesystem::exists(dir / (base + ".out"))) names.push_back(base);
  }
  std::sort(names.begin(), names.end());
  return names;
}

class llama_cpp_vectors : public ::testing::TestWithParam<std::string> {};

TEST_P(llama_cpp_vectors, match_exactly) {
  const std::string base = "models/llama.cpp-vocab/" + GetParam();
  const vocab& v = test::shipped_vocab(base);
  expect_vectors(v, test::read_vectors(data_path(base + ".inp"), data_path(base + ".out")));
}

INSTANTIATE_TEST_SUITE_P(vocab, llama_cpp_vectors, ::testing::ValuesIn(shipped_pairs()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param.substr(std::string("ggml-vocab-").size());
                           name = name.substr(0, name.size() - 5);
                           for (char& c : name)
                             if (!isalnum((unsigned char)c)) c = '_';
                           return name;
                         });

TEST(llama_cpp_vectors, every_shipped_pair_is_covered) {
  // The ten pairs shipped today; a new pair is picked up by the parameterised test automatically.
  EXPECT_GE(shipped_pairs().size(), 10u);
}

TEST(llama_cpp_vectors_built, llama_bpe) {
  const std::string base = data_path("models/llama.cpp-vocab/vectors-only/ggml-vocab-llama-bpe.gguf");
  expect_vectors(test::llama3_vocab(), test::read_vectors(base + ".inp", base + ".out"));
}

TEST(llama_cpp_vectors_built, qwen2) {
  const std::string base = data_path("models/llama.cpp-vocab/vectors-only/ggml-vocab-qwen2.gguf");
  expect_vectors(test::qwen2_vocab(), test::read_vectors(base + ".inp", base + ".out"));
}

// DeepSeek-R1-Distill-Qwen uses the Qwen2 tokenizer; its (removed upstream) vectors apply too.
TEST(llama_cpp_vectors_built, deepseek_r1_qwen) {
  const std::string base = data_path("models/llama.cpp-vocab/vectors-only/2025-05-removed/ggml-vocab-deepseek-r1-qwen.gguf");
  expect_vectors(test::qwen2_vocab(), test::read_vectors(base + ".inp", base + ".out"));
}

}  // namespace
}  // namespace hearth
