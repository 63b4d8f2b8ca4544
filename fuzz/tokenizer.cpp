// Fuzz target: tokenize and detokenize arbitrary bytes with real vocabularies (SPM, byte-level BPE,
// WordPiece). Nothing may crash or read out of bounds; ids stay in range; streamed text is valid
// UTF-8; SPM (valid UTF-8) and byte-level BPE give back exactly the text they were given.
// Input: byte 0 picks the vocabulary and flags, the rest is the text. Run from the repository root
// (scripts/fuzz.sh does) or set HEARTH_TEST_DATA to the tests/data folder.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "formats/gguf.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace {

struct loaded {
  std::unique_ptr<hearth::vocab> v;
  bool lossless_spm = false;  // every byte is a token: tokenize + detokenize is the identity
  bool lossless_bpe = false;  // the pieces spell the (leniently decoded) text
};

std::vector<loaded>& vocabs() {
  static std::vector<loaded> all = [] {
    const char* env = std::getenv("HEARTH_TEST_DATA");
    const std::string dir = std::string(env ? env : "tests/data") + "/models/llama.cpp-vocab/";
    std::vector<loaded> out;
    for (const char* name : {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-bert-bge.gguf",
                             "ggml-vocab-deepseek-llm.gguf"}) {
      auto f = hearth::gguf::file::open(dir + name);
      loaded l;
      l.v = hearth::vocab::from_gguf(*f);
      l.lossless_spm = std::string(name) == "ggml-vocab-llama-spm.gguf";
      l.lossless_bpe = std::string(name) == "ggml-vocab-gpt-2.gguf";
      out.push_back(std::move(l));
    }
    return out;
  }();
  return all;
}

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  vocabs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t sel = data[0];
  const loaded& l = vocabs()[sel % vocabs().size()];
  const hearth::vocab& v = *l.v;
  const bool add_special = sel & 0x08, parse_special = sel & 0x10, remove_special = sel & 0x20, unparse = sel & 0x40;
  const std::string_view text((const char*)data + 1, size - 1);
  try {
    const std::vector<int32_t> ids = v.tokenize(text, add_special, parse_special);
    for (int32_t id : ids) check(id >= 0 && id < v.n_tokens());
    const std::string back = v.detokenize(ids, remove_special, unparse);

    if (!add_special && !parse_special && !remove_special && !unparse) {
      // SPM reads broken UTF-8 in byte groups that can swallow part of an escaped space, so the
      // identity holds for valid text (without a literal U+2581, which reads back as a space).
      if (l.lossless_spm && hearth::tok::utf8_is_valid(text) && text.find("\xE2\x96\x81") == std::string_view::npos)
        check(back == text);
      if (l.lossless_bpe) {
        std::string joined, expected;
        for (int32_t id : ids) joined += v.token_to_piece(id, false);
        for (size_t off = 0; off < text.size();) {
          uint32_t cpt = hearth::tok::utf8_decode_lenient(text, off);
          hearth::tok::append_utf8(expected, cpt < 0x110000 ? cpt : hearth::tok::k_replacement_cpt);
        }
        check(joined == expected);
      }
    }

    hearth::stream_detokenizer stream(v, unparse, !add_special);
    std::string streamed;
    for (int32_t id : ids) {
      const std::string part = stream.push(id);
      check(hearth::tok::utf8_is_valid(part));
      streamed += part;
    }
    streamed += stream.flush();
    check(hearth::tok::utf8_is_valid(streamed));

    // The input read as token ids: detokenize must cope with any sequence, rejecting bad ids.
    std::vector<int32_t> raw;
    for (size_t i = 1; i + 4 <= size; i += 4) {
      int32_t id;
      __builtin_memcpy(&id, data + i, 4);
      raw.push_back(sel & 0x80 ? id : (int32_t)((uint32_t)id % (uint32_t)v.n_tokens()));
    }
    const std::string s = v.detokenize(raw, remove_special, unparse);
    (void)s;
  } catch (const hearth::error&) {
    // Out-of-range ids (only from the raw-id path) are rejected with an error.
  }
  return 0;
}
