// Old vocab files in GGUF v1 and v2 containers (2023) still load and tokenize sensibly.
#include <gtest/gtest.h>

#include "test_util.h"
#include "tokenizer_util.h"

namespace hearth {
namespace {

// The LLaMA-1 vocabulary is the Llama-2 one, so the llama-spm vectors apply to the v1 file.
TEST(legacy_vocab, llama_v1_matches_the_llama_spm_vectors) {
  const vocab& v = test::shipped_vocab("models/llama.cpp-vocab/legacy/ggml-vocab-llama.v1-2023-08.gguf");
  EXPECT_EQ(v.type(), vocab_type::spm);
  EXPECT_EQ(v.n_tokens(), 32000);
  EXPECT_EQ(v.bos(), 1);
  EXPECT_EQ(v.eos(), 2);
  EXPECT_TRUE(v.add_bos());
  const std::string base = test::data_path("models/llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
  for (const auto& c : test::read_vectors(base + ".inp", base + ".out")) {
    EXPECT_EQ(v.tokenize(c.text, false, false), c.ids) << test::escaped(c.text);
    EXPECT_EQ(v.detokenize(c.ids), c.text) << test::escaped(c.text);
  }
  EXPECT_EQ(v.tokenize("Hello world", true, false), (std::vector<int32_t>{1, 15043, 3186}));
}

// The 2023 Falcon file predates tokenizer.ggml.pre: it gets the default BPE pre-tokenizer,
// which differs from Falcon's own only in how digits and some punctuation are grouped.
TEST(legacy_vocab, falcon_v2_loads_and_round_trips) {
  const vocab& v = test::shipped_vocab("models/llama.cpp-vocab/legacy/ggml-vocab-falcon.v2-2023-10.gguf");
  const vocab& modern = test::shipped_vocab("models/llama.cpp-vocab/ggml-vocab-falcon.gguf");
  EXPECT_EQ(v.type(), vocab_type::bpe);
  EXPECT_EQ(v.pre(), "");
  EXPECT_EQ(v.n_tokens(), 65024);
  EXPECT_EQ(v.eos(), 11);
  const std::string base = test::data_path("models/llama.cpp-vocab/ggml-vocab-falcon.gguf");
  int same = 0, total = 0;
  for (const auto& c : test::read_vectors(base + ".inp", base + ".out")) {
    const auto ids = v.tokenize(c.text, false, false);
    for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < v.n_tokens());
    // Pieces concatenate back to the text (detokenize would also clean " ," spacing).
    std::string joined;
    for (int32_t id : ids) joined += v.token_to_piece(id, false);
    EXPECT_EQ(joined, c.text);
    same += ids == c.ids;
    ++total;
  }
  RecordProperty("same_as_modern", same);
  EXPECT_GE(same, total - 2) << same << " of " << total << " match modern Falcon";
  EXPECT_EQ(v.tokenize("Hello world, this is Falcon.", false, false),
            modern.tokenize("Hello world, this is Falcon.", false, false));
}

}  // namespace
}  // namespace hearth
