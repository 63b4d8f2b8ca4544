// SentencePiece specifics: merging word by word (the fast path) gives exactly what merging the
// whole text gives, and byte fallback covers every byte.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_util.h"
#include "tokenizer_util.h"

namespace hearth {
namespace {

// The Llama-2 vocabulary plus one token with U+2581 inside ("▁z▁q"), which turns the word-by-word
// path off; on text without "z q" the extra token never applies, so the ids must be the same.
TEST(spm, word_by_word_merging_equals_whole_text_merging) {
  auto f = gguf::file::open(test::data_path("models/llama.cpp-vocab/ggml-vocab-llama-spm.gguf"));
  std::vector<std::string> tokens = f->find("tokenizer.ggml.tokens")->strings();
  std::vector<float> scores;
  std::vector<int32_t> types;
  for (size_t i = 0; i < tokens.size(); ++i) {
    scores.push_back((float)f->find("tokenizer.ggml.scores")->float_at(i));
    types.push_back((int32_t)f->find("tokenizer.ggml.token_type")->int_at(i));
  }
  tokens.push_back("\xE2\x96\x81z\xE2\x96\x81q");
  scores.push_back(1e9f);
  types.push_back(1);
  gguf::writer w;
  w.set("tokenizer.ggml.tokens", gguf::value::string_array(tokens));
  w.set("tokenizer.ggml.scores", gguf::value::numeric_array(gguf::value_type::f32, scores));
  w.set("tokenizer.ggml.token_type", gguf::value::numeric_array(gguf::value_type::i32, types));
  w.copy_metadata(*f);
  auto whole = test::vocab_from_writer(w);
  const vocab& words = test::shipped_vocab("models/llama.cpp-vocab/ggml-vocab-llama-spm.gguf");

  std::vector<std::string> texts;
  const std::string base = test::data_path("models/llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
  for (const auto& c : test::read_vectors(base + ".inp", base + ".out")) texts.push_back(c.text);
  const auto j = nlohmann::json::parse(test::read_file(test::data_path("reference/tokenizer/ggml-vocab-llama-spm.json")));
  for (const auto& c : j["cases"]) texts.push_back(c["text"]);
  std::string all;
  for (const auto& t : texts) all += t + " ";
  texts.push_back(all + all);
  texts.push_back("a\xE2\x96\x81" "b \xF0\xE2\x96\x81 \xE2\x96\x81\xE2\x96\x81x\xE2\x96\x81");  // literal U+2581 and broken bytes
  for (const auto& t : texts) {
    ASSERT_EQ(t.find("z q"), std::string::npos);
    for (bool special : {false, true})
      EXPECT_EQ(words.tokenize(t, true, special), whole->tokenize(t, true, special)) << test::escaped(t);
  }
  EXPECT_EQ(whole->tokenize("z q", false, false), (std::vector<int32_t>{(int32_t)tokens.size() - 1}));
}

TEST(spm, byte_fallback_spells_any_bytes) {
  const vocab& v = test::shipped_vocab("models/llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
  std::string bytes;
  for (int b = 0; b < 256; ++b) bytes.push_back((char)b);
  bytes += bytes;
  const auto ids = v.tokenize(bytes, false, false);
  EXPECT_EQ(v.detokenize(ids), bytes);
}

}  // namespace
}  // namespace hearth
