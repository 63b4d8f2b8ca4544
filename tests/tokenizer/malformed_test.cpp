// Malformed tokenizer metadata gives a hearth::error that names the offending key, never a crash.
#include <gtest/gtest.h>

#include "core/error.h"
#include "tokenizer_util.h"

namespace hearth {
namespace {

// A minimal valid SPM vocabulary: <unk> <s> </s>, byte tokens for 'a' and 'b', and "▁a".
gguf::writer spm_writer() {
  gguf::writer w;
  w.set_string("tokenizer.ggml.model", "llama");
  w.set("tokenizer.ggml.tokens", gguf::value::string_array({"<unk>", "<s>", "</s>", "<0x61>", "<0x62>", "\xE2\x96\x81" "a"}));
  w.set("tokenizer.ggml.scores", gguf::value::numeric_array<float>(gguf::value_type::f32, {0, 0, 0, 0, 0, -1}));
  w.set("tokenizer.ggml.token_type", gguf::value::numeric_array<int32_t>(gguf::value_type::i32, {2, 3, 3, 6, 6, 1}));
  return w;
}

gguf::writer bpe_writer() {
  gguf::writer w;
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", "gpt-2");
  w.set("tokenizer.ggml.tokens", gguf::value::string_array({"a", "b", "ab", "\xC4\xA0", "<|endoftext|>"}));
  w.set("tokenizer.ggml.merges", gguf::value::string_array({"a b"}));
  return w;
}

// Expects loading to fail with a message containing every fragment.
void expect_error(const gguf::writer& w, std::initializer_list<const char*> fragments) {
  try {
    test::vocab_from_writer(w);
    ADD_FAILURE() << "loading succeeded";
  } catch (const error& e) {
    for (const char* f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
  }
}

TEST(malformed_vocab, the_minimal_vocabularies_load) {
  auto spm = test::vocab_from_writer(spm_writer());
  EXPECT_EQ(spm->tokenize("ab", false, false), (std::vector<int32_t>{5, 4}));
  auto bpe = test::vocab_from_writer(bpe_writer());
  EXPECT_EQ(bpe->tokenize("ab a", false, false), (std::vector<int32_t>{2, 3, 0}));
}

TEST(malformed_vocab, no_tokenizer_at_all) {
  gguf::writer w;
  w.set_string("general.architecture", "llama");
  expect_error(w, {"tokenizer.ggml.model"});
}

TEST(malformed_vocab, missing_tokens) {
  auto w = spm_writer();
  gguf::writer bare;
  bare.set_string("tokenizer.ggml.model", "llama");
  expect_error(bare, {"tokenizer.ggml.tokens", "missing"});
}

TEST(malformed_vocab, tokens_of_the_wrong_type) {
  auto w = spm_writer();
  w.set("tokenizer.ggml.tokens", gguf::value::numeric_array<int32_t>(gguf::value_type::i32, {1, 2, 3}));
  expect_error(w, {"tokenizer.ggml.tokens", "strings"});
  w.set_string("tokenizer.ggml.tokens", "not an array");
  expect_error(w, {"tokenizer.ggml.tokens", "not an array"});
  w.set("tokenizer.ggml.tokens", gguf::value::string_array({}));
  expect_error(w, {"tokenizer.ggml.tokens", "empty"});
}

TEST(malformed_vocab, scores_of_the_wrong_length) {
  auto w = spm_writer();
  w.set("tokenizer.ggml.scores", gguf::value::numeric_array<float>(gguf::value_type::f32, {0, 0, 0}));
  expect_error(w, {"tokenizer.ggml.scores", "3 entries", "6"});
  w.set("tokenizer.ggml.scores", gguf::value::string_array({"a", "b", "c", "d", "e", "f"}));
  expect_error(w, {"tokenizer.ggml.scores", "numbers"});
}

TEST(malformed_vocab, token_types_of_the_wrong_length) {
  auto w = spm_writer();
  w.set("tokenizer.ggml.token_type", gguf::value::numeric_array<int32_t>(gguf::value_type::i32, {1, 1, 1, 1, 1, 1, 1}));
  expect_error(w, {"tokenizer.ggml.token_type", "7 entries"});
}

TEST(malformed_vocab, special_token_ids_out_of_range) {
  for (const char* key : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id",
                          "tokenizer.ggml.eot_token_id"}) {
    auto w = spm_writer();
    w.set_u32(key, 6);
    expect_error(w, {key, "out of range", "6 tokens"});
    w.set_i32(key, -5);
    expect_error(w, {key, "-5"});
    w.set_string(key, "2");
    expect_error(w, {key, "integer"});
  }
  // -1 (also as the uint32 4294967295 some converters write) means "not set"; optional ids past
  // the vocabulary are ignored as llama.cpp ignores them.
  auto w = spm_writer();
  w.set_u32("tokenizer.ggml.eos_token_id", 0xFFFFFFFFu);
  w.set_u32("tokenizer.ggml.padding_token_id", 1000);
  auto v = test::vocab_from_writer(w);
  EXPECT_EQ(v->eos(), 2);
  EXPECT_EQ(v->pad(), token_null);
}

TEST(malformed_vocab, bad_pre_tokenizer) {
  auto w = bpe_writer();
  w.set_string("tokenizer.ggml.pre", "no-such-pre");
  expect_error(w, {"tokenizer.ggml.pre", "no-such-pre"});
  w.set_u32("tokenizer.ggml.pre", 3);
  expect_error(w, {"tokenizer.ggml.pre", "string"});
}

TEST(malformed_vocab, bpe_without_merges) {
  auto w = bpe_writer();
  gguf::writer bare;
  bare.set_string("tokenizer.ggml.model", "gpt2");
  bare.set("tokenizer.ggml.tokens", gguf::value::string_array({"a"}));
  expect_error(bare, {"tokenizer.ggml.merges"});
  w.set("tokenizer.ggml.merges", gguf::value::numeric_array<int32_t>(gguf::value_type::i32, {1}));
  expect_error(w, {"tokenizer.ggml.merges", "strings"});
}

TEST(malformed_vocab, unknown_or_unsupported_model) {
  auto w = spm_writer();
  w.set_string("tokenizer.ggml.model", "sentencepiece-v9");
  expect_error(w, {"tokenizer.ggml.model", "sentencepiece-v9"});
  w.set_string("tokenizer.ggml.model", "t5");
  expect_error(w, {"t5", "not supported"});
  w.set_string("tokenizer.ggml.model", "none");
  expect_error(w, {"no vocabulary"});
}

TEST(malformed_vocab, bad_flags) {
  auto w = spm_writer();
  w.set_string("tokenizer.ggml.add_bos_token", "yes");
  expect_error(w, {"tokenizer.ggml.add_bos_token", "bool"});
}

// Odd but legal vocabularies still load and tokenize without reading out of bounds.
TEST(malformed_vocab, odd_but_legal) {
  auto w = spm_writer();
  // Empty and duplicated texts; unknown token type values; a byte token with a malformed name.
  w.set("tokenizer.ggml.tokens", gguf::value::string_array({"<unk>", "", "zz", "<0x6>", "a", "a"}));
  w.set("tokenizer.ggml.token_type", gguf::value::numeric_array<int32_t>(gguf::value_type::i32, {2, 3, 99, 6, 1, 1}));
  auto v = test::vocab_from_writer(w);
  EXPECT_EQ(v->text(1), "[EMPTY_1]");
  EXPECT_EQ(v->find("a"), 5);  // the last of duplicated texts wins, as in llama.cpp
  EXPECT_EQ(v->attr(2), (uint32_t)token_attr_undefined);
  EXPECT_EQ(v->token_to_piece(3, true), "<0x6>");
  // No byte tokens for 'z' and no "▁": unk stands in.
  EXPECT_EQ(v->tokenize("z", false, false), (std::vector<int32_t>{0, 0, 0, 0}));
  EXPECT_THROW(v->token_to_piece(6, false), error);
  EXPECT_THROW(v->token_to_piece(-1, false), error);
  EXPECT_THROW(v->text(100), error);
  const int32_t bad[] = {1, 7};
  EXPECT_THROW(v->detokenize(bad), error);
}

}  // namespace
}  // namespace hearth
