// Vocabularies read from GGUF metadata (tokenizer.ggml.*) and the tokenizers that use them:
// SentencePiece-style (llama, mistral, gemma), byte-level BPE with the pre-tokenizer named by
// tokenizer.ggml.pre, and WordPiece (bert). Tokenization follows llama.cpp's rules exactly.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hearth {

namespace gguf { class file; }

constexpr int32_t token_null = -1;

enum class vocab_type { spm, bpe, wpm };

// Per-token attributes (a bit set), as llama.cpp derives them from tokenizer.ggml.token_type.
enum token_attr : uint32_t {
  token_attr_undefined = 0,
  token_attr_unknown = 1 << 0,
  token_attr_unused = 1 << 1,
  token_attr_normal = 1 << 2,
  token_attr_control = 1 << 3,  // special tokens: hidden unless asked for, parsed only on request
  token_attr_user_defined = 1 << 4,  // added tokens: always split out of text first
  token_attr_byte = 1 << 5,  // <0xNN> byte-fallback tokens
  token_attr_normalized = 1 << 6,
  token_attr_lstrip = 1 << 7,  // eats whitespace on its left when split out of text
  token_attr_rstrip = 1 << 8,  // eats whitespace on its right
  token_attr_single_word = 1 << 9,
};

class vocab {
 public:
  // Reads tokenizer.ggml.* from a GGUF file (a model or a vocab-only file). Malformed metadata
  // gives a hearth::error naming the key. The vocab does not keep a reference to the file.
  static std::unique_ptr<vocab> from_gguf(const gguf::file& f);
  ~vocab();
  vocab(const vocab&) = delete;
  vocab& operator=(const vocab&) = delete;

  // Text to token ids. add_special adds BOS/EOS/SEP as the vocabulary asks (add_bos() ...);
  // parse_special turns the text of control tokens (e.g. "<|im_start|>") into those tokens.
  // User-defined tokens are split out of the text either way. Invalid UTF-8 never fails.
  // Thread-safe: a vocab may be used from several threads at once.
  std::vector<int32_t> tokenize(std::string_view text, bool add_special, bool parse_special) const;

  // The bytes a token stands for. Control and unknown tokens render as "" unless special is true.
  // A byte-fallback token gives one (possibly partial UTF-8) byte. Throws for an id out of range.
  const std::string& token_to_piece(int32_t id, bool special) const;
  // Ids back to text, as llama_detokenize does: the space an SPM vocabulary puts in front of the
  // text is removed, remove_special drops the leading BOS / trailing EOS the vocab adds,
  // unparse_special renders control tokens, and BPE vocabularies that ask for it get
  // tokenization-space cleanup (" ," -> ","). The result may hold incomplete UTF-8.
  std::string detokenize(std::span<const int32_t> ids, bool remove_special = false, bool unparse_special = false) const;

  vocab_type type() const;
  const std::string& model() const;  // tokenizer.ggml.model: "llama", "gpt2", "bert"
  const std::string& pre() const;    // tokenizer.ggml.pre ("" when absent)
  int32_t n_tokens() const;
  const std::string& text(int32_t id) const;  // the token as stored in the vocabulary
  float score(int32_t id) const;
  uint32_t attr(int32_t id) const;  // token_attr bits
  int32_t find(std::string_view text) const;  // id of the token with exactly this text, or token_null

  // Special tokens (token_null when the vocabulary has none).
  int32_t bos() const;
  int32_t eos() const;
  int32_t eot() const;
  int32_t eom() const;
  int32_t unk() const;
  int32_t sep() const;
  int32_t pad() const;
  int32_t mask() const;
  int32_t nl() const;  // the newline token
  int32_t fim_pre() const;
  int32_t fim_suf() const;
  int32_t fim_mid() const;
  int32_t fim_pad() const;
  int32_t fim_rep() const;
  int32_t fim_sep() const;
  const std::vector<int32_t>& eog_ids() const;  // every token that ends generation, sorted

  bool add_bos() const;
  bool add_eos() const;
  bool add_sep() const;
  bool add_space_prefix() const;
  bool clean_spaces() const;
  bool ignore_merges() const;

  bool is_eog(int32_t id) const;
  bool is_control(int32_t id) const;
  bool is_user_defined(int32_t id) const;
  bool is_byte(int32_t id) const;
  bool is_unknown(int32_t id) const;
  bool is_normal(int32_t id) const;
  bool is_unused(int32_t id) const;

  struct impl;

 private:
  explicit vocab(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

// Turns a stream of generated tokens into text that is safe to send as it comes: a multi-byte
// UTF-8 character split over several tokens is held back until complete, and bytes that can never
// form valid UTF-8 become U+FFFD, so every returned string is valid UTF-8.
class stream_detokenizer {
 public:
  // special: render control tokens. at_text_start: the first token begins the text (nothing
  // before it, not even BOS), so the space an SPM vocabulary adds in front is dropped, as
  // vocab::detokenize does.
  explicit stream_detokenizer(const vocab& v, bool special = false, bool at_text_start = false);
  // Adds one token; returns the text completed by it (often the whole piece, sometimes "").
  std::string push(int32_t id);
  // End of stream: returns what was held back, an unfinished character becoming U+FFFD.
  std::string flush();
  // Bytes held back, waiting for the rest of a character.
  size_t pending_bytes() const { return pending_.size(); }
  void reset(bool at_text_start = false);

 private:
  const vocab* vocab_;
  bool special_;
  bool strip_space_;
  std::string pending_;
};

}  // namespace hearth
