// llama-tokenize outputs (tests/data/reference/tokenizer): 20 strings per vocabulary, tokenized
// without specials and with the vocab's default add_special and parse_special on.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "test_util.h"
#include "tokenizer_util.h"

namespace hearth {
namespace {

std::vector<std::string> reference_files() {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(test::data_path("reference/tokenizer")))
    if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

class llama_tokenize_reference : public ::testing::TestWithParam<std::string> {};

TEST_P(llama_tokenize_reference, match_exactly) {
  const auto j = nlohmann::json::parse(test::read_file(test::data_path("reference/tokenizer/" + GetParam() + ".json")));
  // vocab_file is relative to the JSON's folder.
  std::string rel = j["vocab_file"].get<std::string>();
  ASSERT_EQ(rel.rfind("../../", 0), 0u) << rel;
  const vocab& v = test::shipped_vocab(rel.substr(6));
  ASSERT_EQ(v.model(), j["tokenizer_model"].get<std::string>());
  ASSERT_EQ((size_t)j["n_cases"], j["cases"].size());
  int failed = 0;
  for (const auto& c : j["cases"]) {
    const std::string text = c["text"];
    const auto plain = v.tokenize(text, false, false);
    const auto special = v.tokenize(text, v.add_bos(), true);
    const auto want_plain = c["ids"].get<std::vector<int32_t>>();
    const auto want_special = c["ids_special"].get<std::vector<int32_t>>();
    if (plain != want_plain) {
      ++failed;
      ADD_FAILURE() << "ids for '" << test::escaped(text) << "'\n  expected " << ::testing::PrintToString(want_plain)
                    << "\n  got      " << ::testing::PrintToString(plain);
    }
    if (special != want_special) {
      ++failed;
      ADD_FAILURE() << "ids_special for '" << test::escaped(text) << "'\n  expected "
                    << ::testing::PrintToString(want_special) << "\n  got      " << ::testing::PrintToString(special);
    }
  }
  EXPECT_EQ(failed, 0);
}

INSTANTIATE_TEST_SUITE_P(vocab, llama_tokenize_reference, ::testing::ValuesIn(reference_files()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           if (name.rfind("ggml-vocab-", 0) == 0) name = name.substr(11);
                           for (char& c : name)
                             if (!isalnum((unsigned char)c)) c = '_';
                           return name;
                         });

TEST(llama_tokenize_reference, all_thirteen_vocabularies_present) { EXPECT_EQ(reference_files().size(), 13u); }

}  // namespace
}  // namespace hearth
