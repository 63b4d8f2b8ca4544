// BPE pre-tokenizers: the regular expressions, chosen by tokenizer.ggml.pre, that cut text into
// words before byte-level BPE runs on each word. Matching uses PCRE2 in UTF mode.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hearth::tok {

enum class pre_type {
  none,  // not a BPE vocabulary
  default_, llama3, dbrx, smaug, deepseek_llm, deepseek3_llm, deepseek_coder, falcon, mpt, starcoder,
  gpt2, refact, command_r, stablelm2, qwen2, qwen35, olmo, poro, chatglm4, viking, jais, tekken, smollm,
  codeshell, bloom, gpt3_finnish, exaone, chameleon, minerva, gpt4o, superbpe, trillion, bailingmoe,
  seed_coder, hunyuan, hunyuan_dense, kimi_k2, grok2, granite_docling, afmoe, minimax_m2,
};

// What a tokenizer.ggml.pre name implies besides the regexes (llama.cpp's per-name settings).
struct pre_settings {
  pre_type type = pre_type::default_;
  bool clean_spaces = true;
  bool ignore_merges = false;
  bool add_bos = false;   // the default when tokenizer.ggml.add_bos_token is absent
  bool add_sep = false;
  bool no_bos = false;    // the vocabulary has no BOS token
};
// nullopt for a name Hearth does not know.
std::optional<pre_settings> lookup_pre(std::string_view name);

class pretokenizer {
 public:
  explicit pretokenizer(pre_type type);
  ~pretokenizer();
  pretokenizer(const pretokenizer&) = delete;
  pretokenizer& operator=(const pretokenizer&) = delete;

  // Splits text into words, given as (offset, length) into the returned view: the text itself
  // when it is valid UTF-8, else a copy in `storage` decoded leniently and re-encoded, so invalid
  // bytes have become U+FFFD as llama.cpp makes them.
  std::string_view split(std::string_view text, std::string& storage, std::vector<std::pair<uint32_t, uint32_t>>& words) const;

  size_t n_regexes() const { return regexes_.size(); }

 private:
  struct compiled;
  std::vector<std::unique_ptr<compiled>> regexes_;
};

// The PCRE2 pattern for llama.cpp-style regex text: \s and \S become explicit classes of the
// Unicode White_Space characters, so the result does not depend on PCRE2's options or version.
std::string translate_regex(std::string_view pattern);

}  // namespace hearth::tok
