// Ids back to text: pieces, llama_detokenize's rules (leading space, specials, space cleanup) and
// the streaming detokenizer that only ever emits complete, valid UTF-8.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_util.h"
#include "tokenizer/unicode.h"
#include "tokenizer_util.h"

namespace hearth {
namespace {

const vocab& spm() { return test::shipped_vocab("models/llama.cpp-vocab/ggml-vocab-llama-spm.gguf"); }
const vocab& gpt2() { return test::shipped_vocab("models/llama.cpp-vocab/ggml-vocab-gpt-2.gguf"); }

std::vector<std::string> vector_texts(const std::string& name) {
  const std::string base = test::data_path("models/llama.cpp-vocab/" + name);
  std::vector<std::string> texts;
  for (auto& c : test::read_vectors(base + ".inp", base + ".out")) texts.push_back(c.text);
  return texts;
}

std::string stream_all(const vocab& v, const std::vector<int32_t>& ids, bool special, bool at_start, std::vector<std::string>* parts = nullptr) {
  stream_detokenizer s(v, special, at_start);
  std::string out;
  for (int32_t id : ids) {
    std::string part = s.push(id);
    EXPECT_TRUE(tok::utf8_is_valid(part)) << test::escaped(part);
    if (parts) parts->push_back(part);
    out += part;
  }
  out += s.flush();
  return out;
}

TEST(detokenize, spm_round_trips_and_drops_the_added_space) {
  for (const char* file : {"ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf"}) {
    const vocab& v = test::shipped_vocab("models/llama.cpp-vocab/" + std::string(file));
    for (const std::string& text : vector_texts("ggml-vocab-llama-spm.gguf")) {
      const auto ids = v.tokenize(text, false, false);
      EXPECT_EQ(v.detokenize(ids), text) << file << ": " << test::escaped(text);
      EXPECT_EQ(stream_all(v, ids, false, true), text) << file << ": " << test::escaped(text);
    }
  }
  // After BOS the space stays, as in llama_detokenize (the first token's strip is spent on BOS).
  const auto ids = spm().tokenize("Hello world", true, false);
  ASSERT_EQ(ids, (std::vector<int32_t>{1, 15043, 3186}));
  EXPECT_EQ(spm().detokenize(ids), " Hello world");
  EXPECT_EQ(spm().detokenize(ids, true), " Hello world");
  EXPECT_EQ(spm().detokenize(ids, false, true), "<s> Hello world");
  EXPECT_EQ(stream_all(spm(), ids, true, false), "<s> Hello world");
}

TEST(detokenize, byte_level_bpe_round_trips) {
  // qwen2 does no space cleanup, so every string comes back byte for byte.
  for (const std::string& text : vector_texts("ggml-vocab-gpt-2.gguf")) {
    const auto ids = test::qwen2_vocab().tokenize(text, false, false);
    EXPECT_EQ(test::qwen2_vocab().detokenize(ids), text) << test::escaped(text);
    EXPECT_EQ(stream_all(test::qwen2_vocab(), ids, false, false), text) << test::escaped(text);
  }
}

TEST(detokenize, gpt2_cleans_tokenization_spaces) {
  EXPECT_FALSE(test::qwen2_vocab().clean_spaces());
  ASSERT_TRUE(gpt2().clean_spaces());
  const std::string text = "Hello , world ! Is it ? Yes . It 's mine , I 'm sure they 're here and we 've ' quoted ' it";
  EXPECT_EQ(gpt2().detokenize(gpt2().tokenize(text, false, false)),
            "Hello, world! Is it? Yes. It's mine, I'm sure they're here and we've'quoted'it");
  // " 't", " 'd" and " 'll" keep their space, as in llama.cpp.
  EXPECT_EQ(gpt2().detokenize(gpt2().tokenize("don 't I 'd we 'll", false, false)), "don 't I 'd we 'll");
}

TEST(detokenize, pieces_and_special_tokens) {
  EXPECT_EQ(spm().token_to_piece(15043, false), " Hello");
  EXPECT_EQ(spm().token_to_piece(1, false), "");
  EXPECT_EQ(spm().token_to_piece(1, true), "<s>");
  EXPECT_EQ(spm().token_to_piece(0, false), "");     // <unk> is hidden too
  EXPECT_EQ(spm().token_to_piece(13, false), "\n");  // <0x0A>
  EXPECT_TRUE(spm().is_byte(13));
  EXPECT_EQ(spm().nl(), 13);
  EXPECT_EQ(gpt2().token_to_piece(50256, false), "");
  EXPECT_EQ(gpt2().token_to_piece(50256, true), "<|endoftext|>");
  EXPECT_EQ(gpt2().token_to_piece(220, false), " ");
  EXPECT_EQ(gpt2().nl(), 198);
  const std::vector<int32_t> with_eos = {15496, 995, 50256};
  EXPECT_EQ(gpt2().detokenize(with_eos), "Hello world");
  EXPECT_EQ(gpt2().detokenize(with_eos, false, true), "Hello world<|endoftext|>");
}

TEST(stream_detokenizer, holds_back_split_characters) {
  // Korean and emoji fall back to byte tokens in the Llama-2 vocabulary.
  const auto ids = spm().tokenize("\xED\x85\x8D!", false, false);  // 텍!
  ASSERT_EQ(ids, (std::vector<int32_t>{29871, 240, 136, 144, 29991}));
  std::vector<std::string> parts;
  EXPECT_EQ(stream_all(spm(), ids, false, true, &parts), "\xED\x85\x8D!");
  EXPECT_EQ(parts, (std::vector<std::string>{"", "", "", "\xED\x85\x8D", "!"}));

  const auto emoji = spm().tokenize(" \xF0\x9F\x98\x80", false, false);  // " 😀"
  parts.clear();
  EXPECT_EQ(stream_all(spm(), emoji, false, false, &parts), "  \xF0\x9F\x98\x80");
  EXPECT_EQ(parts.back(), "\xF0\x9F\x98\x80");
  EXPECT_EQ(parts[parts.size() - 2], "");

  // GPT-2 splits emoji across byte-level tokens the same way.
  parts.clear();
  EXPECT_EQ(stream_all(gpt2(), {368, 31370, 30325, 222, 8582, 236, 231}, false, false, &parts), "emoji \xF0\x9F\x98\x80\xF0\x9F\x8E\x89");
  EXPECT_EQ(parts, (std::vector<std::string>{"em", "oji", " ", "\xF0\x9F\x98\x80", "", "", "\xF0\x9F\x8E\x89"}));
}

TEST(stream_detokenizer, invalid_bytes_become_replacement_characters) {
  const int32_t b80 = spm().find("<0x80>"), be4 = spm().find("<0xE4>"), a = spm().find("a");
  ASSERT_NE(b80, token_null);
  stream_detokenizer s(spm());
  EXPECT_EQ(s.push(b80), "\xEF\xBF\xBD");  // a lone continuation byte can never complete
  EXPECT_EQ(s.push(be4), "");
  EXPECT_EQ(s.pending_bytes(), 1u);
  EXPECT_EQ(s.push(a), "\xEF\xBF\xBD" "a");  // the lead byte was not followed by its continuation
  EXPECT_EQ(s.push(be4), "");
  EXPECT_EQ(s.flush(), "\xEF\xBF\xBD");  // unfinished at the end
  EXPECT_EQ(s.pending_bytes(), 0u);
  EXPECT_EQ(s.flush(), "");
}

TEST(stream_detokenizer, first_token_space_rule) {
  const auto ids = spm().tokenize("Hello world", false, false);
  EXPECT_EQ(stream_all(spm(), ids, false, true), "Hello world");
  EXPECT_EQ(stream_all(spm(), ids, false, false), " Hello world");  // continuing a text: keep it
  // Byte-level BPE adds no space, so there is nothing to strip.
  const auto g = gpt2().tokenize(" Hello", false, false);
  EXPECT_EQ(stream_all(gpt2(), g, false, true), " Hello");
  stream_detokenizer s(spm(), false, true);
  s.push(ids[0]);
  s.reset(true);
  EXPECT_EQ(s.push(ids[0]), "Hello");
}

// Over the llama-tokenize reference strings: streaming and detokenize agree for every vocabulary
// without space cleanup, and everything streamed is valid UTF-8.
TEST(stream_detokenizer, agrees_with_detokenize) {
  for (const char* name : {"ggml-vocab-llama-spm", "ggml-vocab-phi-3", "ggml-vocab-baichuan", "ggml-vocab-deepseek-coder",
                           "ggml-vocab-deepseek-llm", "stories260K"}) {
    const auto j = nlohmann::json::parse(test::read_file(test::data_path(std::string("reference/tokenizer/") + name + ".json")));
    const vocab& v = test::shipped_vocab(j["vocab_file"].get<std::string>().substr(6));
    ASSERT_FALSE(v.clean_spaces()) << name;
    for (const auto& c : j["cases"]) {
      for (const char* key : {"ids", "ids_special"}) {
        const auto ids = c[key].get<std::vector<int32_t>>();
        for (bool special : {false, true}) {
          const std::string whole = v.detokenize(ids, false, special);
          const std::string streamed = stream_all(v, ids, special, true);
          EXPECT_EQ(streamed, tok::utf8_sanitize(whole)) << name << " " << key << ": " << test::escaped(c["text"]);
        }
      }
    }
  }
}

}  // namespace
}  // namespace hearth
