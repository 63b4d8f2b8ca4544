// Special and added tokens: parsing them out of text on request, BOS/EOS, attributes and the
// end-of-generation set.
#include <gtest/gtest.h>

#include "tokenizer_util.h"

namespace hearth {
namespace {

using ids = std::vector<int32_t>;

TEST(special_tokens, llama3_header_tokens_parse_only_on_request) {
  const vocab& v = test::llama3_vocab();
  const std::string text = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
  EXPECT_EQ(v.tokenize(text, false, true), (ids{128006, 882, 128007, 271, 13347, 128009}));
  EXPECT_EQ(v.tokenize(text, true, true), (ids{128000, 128006, 882, 128007, 271, 13347, 128009}));
  const ids plain = v.tokenize(text, false, false);
  for (int32_t id : plain) EXPECT_LT(id, 128000) << "control token parsed without parse_special";
  EXPECT_EQ(v.detokenize(plain), text);
  EXPECT_EQ(v.detokenize(v.tokenize(text, false, true), false, true), text);
  EXPECT_EQ(v.detokenize(v.tokenize(text, false, true)), "user\n\nHi");
}

TEST(special_tokens, llama3_flags_and_end_of_generation) {
  const vocab& v = test::llama3_vocab();
  EXPECT_TRUE(v.ignore_merges());
  EXPECT_TRUE(v.add_bos());
  EXPECT_FALSE(v.add_eos());
  EXPECT_EQ(v.bos(), 128000);
  EXPECT_EQ(v.eos(), 128009);
  EXPECT_EQ(v.eot(), 128009);  // found by its text
  EXPECT_EQ(v.eom(), 128008);
  EXPECT_EQ(v.eog_ids(), (ids{128001, 128008, 128009}));
  EXPECT_TRUE(v.is_eog(128001));
  EXPECT_FALSE(v.is_eog(128006));
  EXPECT_TRUE(v.is_control(128006));
  EXPECT_FALSE(v.is_unused(v.find("<|reserved_special_token_7|>")));
}

TEST(special_tokens, qwen2_chatml) {
  const vocab& v = test::qwen2_vocab();
  EXPECT_FALSE(v.add_bos());
  EXPECT_EQ(v.tokenize("<|im_start|>user\nhi<|im_end|>", true, true), (ids{151644, 872, 198, 6023, 151645}));
  EXPECT_TRUE(v.is_eog(151645));
  EXPECT_TRUE(v.is_eog(151643));
  EXPECT_EQ(v.eot(), 151645);
}

TEST(special_tokens, spm_space_prefix_after_special_tokens) {
  const vocab& v = test::shipped_vocab("models/llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
  EXPECT_EQ(v.tokenize("<s>hello</s>", false, true), (ids{1, 22172, 2}));
  EXPECT_EQ(v.tokenize("<s>hello</s>", true, true), (ids{1, 1, 22172, 2}));
  EXPECT_EQ(v.tokenize("", true, false), (ids{1}));
  EXPECT_EQ(v.tokenize("", false, false), (ids{}));
}

TEST(special_tokens, bert_adds_cls_and_sep) {
  const vocab& v = test::shipped_vocab("models/llama.cpp-vocab/ggml-vocab-bert-bge.gguf");
  EXPECT_EQ(v.type(), vocab_type::wpm);
  const ids got = v.tokenize("Hello world", true, false);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got.front(), 101);
  EXPECT_EQ(got.back(), 102);
  // WordPiece pieces carry their word-start space; llama_detokenize keeps it.
  EXPECT_EQ(v.detokenize(got, true), " hello world");
}

// Phi-3's special tokens eat the whitespace after them (llama.cpp sets rstrip by model name).
TEST(special_tokens, phi3_rstrip) {
  const vocab& v = test::shipped_vocab("models/llama.cpp-vocab/ggml-vocab-phi-3.gguf");
  EXPECT_TRUE(v.attr(32010) & token_attr_rstrip);
  EXPECT_FALSE(v.attr(1) & token_attr_rstrip);
  EXPECT_EQ(v.tokenize("<|user|>\n  Hello<|end|>\n", false, true), v.tokenize("<|user|>Hello<|end|>", false, true));
  EXPECT_NE(v.tokenize("<s>\nHello", false, true), v.tokenize("<s>Hello", false, true));
}

// A small BPE vocabulary with a user-defined token (split out even without parse_special), an
// lstrip token, and a control token.
TEST(special_tokens, user_defined_and_lstrip) {
  gguf::writer w;
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", "gpt-2");
  w.set("tokenizer.ggml.tokens", gguf::value::string_array({"a", "b", "\xC4\xA0", "<tool>", "<mask>", "<ctl>", "\xC4\xA0" "a"}));
  w.set("tokenizer.ggml.token_type", gguf::value::numeric_array<int32_t>(gguf::value_type::i32, {1, 1, 1, 4, 4, 3, 1}));
  w.set("tokenizer.ggml.merges", gguf::value::string_array({"\xC4\xA0 a"}));
  w.set_string("general.architecture", "nomic-bert-moe");  // llama.cpp gives <mask> lstrip for it
  auto v = test::vocab_from_writer(w);
  EXPECT_EQ(v->tokenize("a<tool>b", false, false), (ids{0, 3, 1}));
  for (int32_t id : v->tokenize("a <ctl>", false, false)) EXPECT_NE(id, 5);
  EXPECT_EQ(v->tokenize("a <ctl>", false, true), (ids{0, 2, 5}));
  EXPECT_EQ(v->tokenize("a   <mask> a", false, false), (ids{0, 4, 6}));
  EXPECT_EQ(v->token_to_piece(3, false), "<tool>");  // user-defined tokens are always rendered
  EXPECT_EQ(v->token_to_piece(5, false), "");
}

}  // namespace
}  // namespace hearth
