#include "tokenizer/vocab.h"

#include <algorithm>
#include <limits>

#include "core/error.h"
#include "core/log.h"
#include "formats/gguf.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab_impl.h"

namespace hearth {

namespace {

using tok::token_data;

// tokenizer.ggml.token_type values (SentencePiece's, as the GGUF converters store them).
enum gguf_token_type { type_normal = 1, type_unknown = 2, type_control = 3, type_user_defined = 4, type_unused = 5, type_byte = 6 };

uint32_t attr_from_type(int64_t t) {
  switch (t) {
    case type_normal: return token_attr_normal;
    case type_unknown: return token_attr_unknown;
    case type_control: return token_attr_control;
    case type_user_defined: return token_attr_user_defined;
    case type_unused: return token_attr_unused;
    case type_byte: return token_attr_byte;
    default: return token_attr_undefined;
  }
}

const gguf::value* array_key(const gguf::file& f, const char* key, bool strings) {
  const gguf::value* v = f.find(key);
  if (!v) return nullptr;
  if (!v->is_array()) fail(error_kind::bad_format, "{}: {} is a {}, not an array", f.path(), key, gguf::value_type_name(v->type()));
  const auto e = v->elem_type();
  const bool ok = strings ? e == gguf::value_type::string
                          : (gguf::is_integer(e) || gguf::is_float(e) || e == gguf::value_type::boolean);
  if (!ok)
    fail(error_kind::bad_format, "{}: {} holds {} values, expected {}", f.path(), key, gguf::value_type_name(e),
         strings ? "strings" : "numbers");
  return v;
}

bool bool_key(const gguf::file& f, const char* key, bool fallback) {
  const gguf::value* v = f.find(key);
  if (!v) return fallback;
  if (!v->is_number()) fail(error_kind::bad_format, "{}: {} must be a bool, found {}", f.path(), key, gguf::value_type_name(v->type()));
  return v->as_bool();
}

std::string string_key(const gguf::file& f, const char* key) {
  const gguf::value* v = f.find(key);
  if (!v) return {};
  if (!v->is_string()) fail(error_kind::bad_format, "{}: {} must be a string, found {}", f.path(), key, gguf::value_type_name(v->type()));
  return v->as_string();
}

bool is_ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

const std::string k_empty;

}  // namespace

int32_t vocab::impl::byte_to_token(uint8_t b) const {
  if (type == vocab_type::spm) {
    static const char hex[] = "0123456789ABCDEF";
    const char buf[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
    const int32_t id = find(std::string_view(buf, 6));
    if (id != token_null) return id;
    return find(std::string_view((const char*)&b, 1));
  }
  return find(tok::byte_to_unicode_utf8(b));
}

// ---------------------------------------------------------------------------------------------
// loading

std::unique_ptr<vocab> vocab::from_gguf(const gguf::file& f) {
  auto p = std::make_unique<impl>();
  impl& v = *p;
  const std::string& path = f.path();

  if (!f.has("tokenizer.ggml.model"))
    fail(error_kind::bad_format, "{}: no tokenizer (tokenizer.ggml.model is missing)", path);
  v.model = string_key(f, "tokenizer.ggml.model");
  v.pre_name = string_key(f, "tokenizer.ggml.pre");
  if (v.model == "llama") {
    v.type = vocab_type::spm;
    v.bos = 1, v.eos = 2, v.unk = 0;
    v.add_space_prefix = true, v.add_bos = true;
  } else if (v.model == "bert") {
    v.type = vocab_type::wpm;
    v.bos = 101, v.unk = 100, v.sep = 102, v.pad = 0, v.mask = 103;
    v.clean_spaces = true, v.add_bos = true, v.add_sep = true;
  } else if (v.model == "gpt2") {
    v.type = vocab_type::bpe;
    v.bos = 11, v.eos = 11;
    tok::pre_settings s;
    if (!v.pre_name.empty()) {
      auto found = tok::lookup_pre(v.pre_name);
      if (!found) fail(error_kind::unsupported, "{}: unknown pre-tokenizer tokenizer.ggml.pre = '{}'", path, v.pre_name);
      s = *found;
    } else {
      log_warn("{}: tokenizer.ggml.pre is missing; using the default BPE pre-tokenizer", path);
    }
    v.pre = s.type;
    v.clean_spaces = s.clean_spaces, v.ignore_merges = s.ignore_merges, v.add_bos = s.add_bos, v.add_sep = s.add_sep;
    if (s.no_bos) v.bos = token_null;
  } else if (v.model == "no_vocab" || v.model == "none") {
    fail(error_kind::unsupported, "{}: the model has no vocabulary (tokenizer.ggml.model = '{}')", path, v.model);
  } else if (v.model == "t5" || v.model == "rwkv" || v.model == "plamo2") {
    fail(error_kind::unsupported, "{}: tokenizer.ggml.model '{}' is not supported yet", path, v.model);
  } else {
    fail(error_kind::unsupported, "{}: unknown tokenizer.ggml.model '{}'", path, v.model);
  }
  v.add_space_prefix = bool_key(f, "tokenizer.ggml.add_space_prefix", v.add_space_prefix);

  // Tokens, scores and types.
  const gguf::value* tokens = array_key(f, "tokenizer.ggml.tokens", true);
  if (!tokens) fail(error_kind::bad_format, "{}: tokenizer.ggml.tokens is missing", path);
  const size_t n = tokens->size();
  if (n == 0) fail(error_kind::bad_format, "{}: tokenizer.ggml.tokens is empty", path);
  if (n > (size_t)std::numeric_limits<int32_t>::max() / 2) fail(error_kind::bad_format, "{}: tokenizer.ggml.tokens has too many entries ({})", path, n);
  const gguf::value* scores = array_key(f, "tokenizer.ggml.scores", false);
  if (scores && scores->size() != n)
    fail(error_kind::bad_format, "{}: tokenizer.ggml.scores has {} entries but tokenizer.ggml.tokens has {}", path, scores->size(), n);
  const gguf::value* types = array_key(f, "tokenizer.ggml.token_type", false);
  if (types && types->size() != n)
    fail(error_kind::bad_format, "{}: tokenizer.ggml.token_type has {} entries but tokenizer.ggml.tokens has {}", path, types->size(), n);

  v.tokens.resize(n);
  v.to_id.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    token_data& t = v.tokens[i];
    t.text = tokens->string_at(i);
    if (t.text.empty()) t.text = "[EMPTY_" + std::to_string(i) + "]";
    t.score = scores ? (float)scores->float_at(i) : 0.0f;
    t.attr = types ? attr_from_type(types->int_at(i)) : token_attr_normal;
    v.to_id[t.text] = (int32_t)i;  // a duplicated text maps to its last id, as in llama.cpp
    v.max_token_len = std::max(v.max_token_len, t.text.size());
  }

  if (v.type == vocab_type::bpe) {
    const gguf::value* merges = array_key(f, "tokenizer.ggml.merges", true);
    if (!merges) fail(error_kind::bad_format, "{}: tokenizer.ggml.merges is missing (needed by a gpt2 tokenizer)", path);
    const size_t n_merges = merges->size();
    v.merges.by_ids.reserve(n_merges);
    std::string key;
    for (size_t i = 0; i < n_merges; ++i) {
      const std::string& m = merges->string_at(i);
      const size_t sp = m.find(' ', 1);
      if (sp == std::string::npos) continue;  // cannot match any pair of non-empty symbols
      const std::string_view a = std::string_view(m).substr(0, sp), b = std::string_view(m).substr(sp + 1);
      const int32_t ia = v.find(a), ib = v.find(b);
      if (ia != token_null && ib != token_null) {
        key.assign(a).append(b);
        v.merges.by_ids.try_emplace(tok::merge_table::key(ia, ib), tok::merge_table::entry{(int32_t)i, v.find(key)});
      } else {
        key.assign(a).push_back('\0');
        key.append(b);
        v.merges.by_text.try_emplace(key, (int32_t)i);
      }
    }
    v.pretok = std::make_unique<tok::pretokenizer>(v.pre);
  }

  if (v.type == vocab_type::spm) v.spm_split_words = tok::spm_can_split_words(v);

  // The newline token, found before special tokens are read (pad is still its default).
  if (v.type == vocab_type::spm) {
    v.nl = v.byte_to_token('\n');
    if (v.nl == token_null) v.nl = v.pad;
  } else if (v.type == vocab_type::wpm) {
    v.nl = v.pad;
  } else {
    std::vector<int32_t> ids;
    tok::bpe_session(v).encode("\n", ids);
    v.nl = ids.empty() ? v.pad : ids[0];
  }

  // Special token ids. An id past the vocabulary is an error for the tokens generation depends
  // on; llama.cpp's "use the default" is kept for -1 and for the optional ones.
  struct special_key { const char* key; int32_t* id; bool essential; };
  const special_key special_keys[] = {
      {"tokenizer.ggml.bos_token_id", &v.bos, true},        {"tokenizer.ggml.eos_token_id", &v.eos, true},
      {"tokenizer.ggml.eot_token_id", &v.eot, true},        {"tokenizer.ggml.eom_token_id", &v.eom, true},
      {"tokenizer.ggml.unknown_token_id", &v.unk, true},    {"tokenizer.ggml.seperator_token_id", &v.sep, false},
      {"tokenizer.ggml.padding_token_id", &v.pad, false},   {"tokenizer.ggml.mask_token_id", &v.mask, false},
      {"tokenizer.ggml.fim_pre_token_id", &v.fim_pre, false}, {"tokenizer.ggml.fim_suf_token_id", &v.fim_suf, false},
      {"tokenizer.ggml.fim_mid_token_id", &v.fim_mid, false}, {"tokenizer.ggml.fim_pad_token_id", &v.fim_pad, false},
      {"tokenizer.ggml.fim_rep_token_id", &v.fim_rep, false}, {"tokenizer.ggml.fim_sep_token_id", &v.fim_sep, false},
      {"tokenizer.ggml.prefix_token_id", &v.fim_pre, false},  {"tokenizer.ggml.suffix_token_id", &v.fim_suf, false},
      {"tokenizer.ggml.middle_token_id", &v.fim_mid, false},
  };
  for (const auto& sk : special_keys) {
    const gguf::value* val = f.find(sk.key);
    if (!val) continue;
    if (!val->is_number() || gguf::is_float(val->type()))
      fail(error_kind::bad_format, "{}: {} must be an integer, found {}", path, sk.key, gguf::value_type_name(val->type()));
    const int64_t id = val->type() == gguf::value_type::u64 ? (int64_t)std::min<uint64_t>(val->as_u64(), INT64_MAX) : val->as_i64();
    if (id >= 0 && id < (int64_t)n) {
      *sk.id = (int32_t)id;
    } else if (id == -1 || id == 0xFFFFFFFFll) {
      log_debug("{}: {} is -1 (not set)", path, sk.key);
    } else if (!sk.essential) {
      log_warn("{}: ignoring {} = {} (the vocabulary has {} tokens)", path, sk.key, id, n);
    } else {
      fail(error_kind::bad_format, "{}: {} = {} is out of range (the vocabulary has {} tokens)", path, sk.key, id, n);
    }
  }
  v.add_bos = bool_key(f, "tokenizer.ggml.add_bos_token", v.add_bos);
  v.add_eos = bool_key(f, "tokenizer.ggml.add_eos_token", v.add_eos);
  v.add_sep = bool_key(f, "tokenizer.ggml.add_sep_token", v.add_sep);

  // Converters do not always record these ids; llama.cpp recognises the tokens by their text and
  // makes them control tokens (keeping their other attributes).
  auto make_control = [&](int32_t id) {
    if (!(v.tokens[id].attr & token_attr_control)) {
      log_debug("{}: token {} '{}' looks like a control token; treating it as one", path, id, v.tokens[id].text);
      v.tokens[id].attr |= token_attr_control;
    }
  };
  // When several candidates exist (llama.cpp takes whichever its hash map yields first), the
  // earlier text in the list wins: Llama 3's eot is <|eot_id|>, not <|end_of_text|>.
  auto detect = [&](int32_t& slot, std::initializer_list<std::string_view> texts) {
    if (slot != token_null) return;
    for (std::string_view t : texts) {
      if (int32_t id = v.find(t); id != token_null) {
        slot = id;
        make_control(id);
        return;
      }
    }
  };
  detect(v.eot, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>",
                 "_<EOT>", "[EOT]", "<end_of_utterance>"});
  detect(v.eom, {"<|eom_id|>"});
  detect(v.fim_pre, {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<PRE>", "<|code_prefix|>", "<|prefix|>"});
  detect(v.fim_suf, {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<SUF>", "<|code_suffix|>", "<|suffix|>"});
  detect(v.fim_mid, {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<MID>", "<|code_middle|>", "<|middle|>"});
  detect(v.fim_pad, {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"});
  detect(v.fim_rep, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"});
  detect(v.fim_sep, {"<|file_sep|>"});

  // Control tokens named "unused" are unused.
  for (auto& t : v.tokens)
    if ((t.attr & token_attr_control) && t.text.find("unused") != std::string::npos) t.attr |= token_attr_unused;

  // Tokens that end generation.
  std::vector<int32_t> eog;
  for (int32_t id : {v.fim_pad, v.fim_rep, v.fim_sep})
    if (id != token_null) eog.push_back(id);
  static const std::string_view eog_texts[] = {
      "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
      "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
      "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>"};
  for (std::string_view t : eog_texts) {
    const int32_t id = v.find(t);
    if (id == token_null) continue;
    eog.push_back(id);
    make_control(id);
  }
  // gpt-oss (harmony) framing tokens are always rendered.
  for (std::string_view t : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"})
    if (int32_t id = v.find(t); id != token_null) v.tokens[id].attr = token_attr_user_defined;
  for (int32_t id : {v.eos, v.eot, v.eom})
    if (id != token_null) eog.push_back(id);
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  auto in_eog = [&](std::string_view text) {
    const int32_t id = v.find(text);
    return id != token_null && std::binary_search(eog.begin(), eog.end(), id);
  };
  auto drop_eog = [&](std::string_view text, uint32_t attr) {
    const int32_t id = v.find(text);
    eog.erase(std::find(eog.begin(), eog.end(), id));
    v.tokens[id].attr = attr;
  };
  // In harmony and solar-open vocabularies <|end|> closes a message, not the generation.
  const bool has_call = in_eog("<|call|>") || in_eog("<|calls|>");
  if (in_eog("<|end|>") && has_call && (in_eog("<|return|>") || in_eog("<|flush|>"))) drop_eog("<|end|>", token_attr_user_defined);
  // Gemma 4 uses </s> as text.
  if (in_eog("<|tool_response>") && in_eog("</s>")) drop_eog("</s>", token_attr_normal);
  v.eog = std::move(eog);

  // Tokens split out of text before the tokenizer runs, longest first.
  for (int32_t id = 0; id < (int32_t)n; ++id)
    if (v.tokens[id].attr & (token_attr_control | token_attr_user_defined | token_attr_unknown)) v.special_tokens.push_back(id);
  std::stable_sort(v.special_tokens.begin(), v.special_tokens.end(),
                   [&](int32_t a, int32_t b) { return v.tokens[a].text.size() > v.tokens[b].text.size(); });

  // Pieces (token_to_piece with special = true).
  v.pieces.resize(n);
  for (size_t id = 0; id < n; ++id) {
    const token_data& t = v.tokens[id];
    std::string& out = v.pieces[id];
    if (t.attr & (token_attr_unknown | token_attr_control | token_attr_user_defined)) {
      out = t.text;
    } else if (v.type == vocab_type::bpe) {
      if (!(t.attr & token_attr_normal)) continue;
      // Undo the byte-to-codepoint mapping; a codepoint outside it is shown, as llama.cpp does.
      std::string_view s = t.text;
      for (size_t off = 0; off < s.size();) {
        const uint32_t cpt = tok::utf8_decode_lenient(s, off);
        const int b = tok::unicode_to_byte(cpt);
        if (b >= 0) {
          out.push_back((char)b);
        } else {
          out += "[UNK_BYTE_0x";
          for (char c : tok::cpt_to_utf8(cpt)) out += fmt::format("{:02x}", (uint8_t)c);
          out += t.text + "]";
        }
      }
    } else if (t.attr & token_attr_normal) {
      // SPM / WordPiece: U+2581 stands for a space.
      for (size_t i = 0; i < t.text.size();) {
        if (t.text.compare(i, 3, "\xE2\x96\x81") == 0) {
          out.push_back(' ');
          i += 3;
        } else {
          out.push_back(t.text[i++]);
        }
      }
    } else if (t.attr & token_attr_byte) {
      const std::string& s = t.text;
      auto hexval = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
      if (s.size() == 6 && s.compare(0, 3, "<0x") == 0 && s[5] == '>' && hexval(s[3]) >= 0 && hexval(s[4]) >= 0)
        out.push_back((char)(hexval(s[3]) * 16 + hexval(s[4])));
      else
        out = s;
    }
  }

  // Per-model attributes llama.cpp applies by name (GGUF does not store them).
  const std::string name_lower = [&] {
    std::string s = f.has("general.name") && f.find("general.name")->is_string() ? f.find("general.name")->as_string() : "";
    for (char& c : s) c = (char)std::tolower((unsigned char)c);
    return s;
  }();
  const std::string arch = f.has("general.architecture") && f.find("general.architecture")->is_string()
                               ? f.find("general.architecture")->as_string() : "";
  auto contains_any = [](const std::string& s, std::initializer_list<std::string_view> subs) {
    for (auto x : subs)
      if (s.find(x) != std::string::npos) return true;
    return false;
  };
  auto set_attr = [&](int32_t id, uint32_t a, bool on) {
    if (id == token_null) return;
    v.tokens[id].attr = on ? (v.tokens[id].attr | a) : (v.tokens[id].attr & ~a);
  };
  if (contains_any(v.pre_name, {"jina-v2-de", "jina-v2-es", "jina-v2-code"}) || contains_any(arch, {"nomic-bert-moe", "jina-bert-v3"})) {
    set_attr(v.find("<mask>"), token_attr_lstrip, true);
  } else if (contains_any(name_lower, {"phi-3", "phi3"})) {
    for (int32_t id : v.special_tokens) set_attr(id, token_attr_rstrip, true);
    set_attr(v.find("</s>"), token_attr_rstrip, true);
    for (std::string_view t : {"<unk>", "<s>", "<|endoftext|>"}) set_attr(v.find(t), token_attr_rstrip, false);
  } else if (contains_any(name_lower, {"modern-bert"})) {
    set_attr(v.find("[MASK]"), token_attr_lstrip, true);
  }

  return std::unique_ptr<vocab>(new vocab(std::move(p)));
}

vocab::vocab(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
vocab::~vocab() = default;

// ---------------------------------------------------------------------------------------------
// tokenize

namespace {
struct fragment {
  int32_t token;  // token_null: raw text at [off, off + len)
  size_t off, len;
};

// Splits control / user-defined / unknown tokens out of the text, longest token first.
std::vector<fragment> partition(const vocab::impl& v, std::string_view text, bool parse_special) {
  std::vector<fragment> frags, next;
  if (text.empty()) return frags;
  frags.push_back({token_null, 0, text.size()});
  for (int32_t id : v.special_tokens) {
    const tok::token_data& t = v.tokens[id];
    if (!parse_special && (t.attr & (token_attr_control | token_attr_unknown))) continue;
    const std::string_view needle = t.text;
    bool any = false;
    for (const fragment& f : frags)
      if (f.token == token_null && text.substr(f.off, f.len).find(needle) != std::string_view::npos) { any = true; break; }
    if (!any) continue;
    next.clear();
    for (const fragment& f : frags) {
      if (f.token != token_null) {
        next.push_back(f);
        continue;
      }
      size_t base = f.off, len = f.len;
      while (len > 0) {
        const size_t pos = text.substr(base, len).find(needle);
        if (pos == std::string_view::npos) {
          next.push_back({token_null, base, len});
          break;
        }
        size_t left = pos;
        if (t.attr & token_attr_lstrip)
          while (left > 0 && is_ascii_space(text[base + left - 1])) --left;
        if (left > 0) next.push_back({token_null, base, left});
        next.push_back({id, 0, 0});
        size_t r_off = base + pos + needle.size(), r_len = base + len - r_off;
        if (t.attr & token_attr_rstrip)
          while (r_len > 0 && is_ascii_space(text[r_off])) ++r_off, --r_len;
        base = r_off, len = r_len;
      }
    }
    frags.swap(next);
  }
  return frags;
}
}  // namespace

std::vector<int32_t> vocab::tokenize(std::string_view text, bool add_special, bool parse_special) const {
  const impl& v = *impl_;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);  // typical texts take 2-5 bytes per token
  const std::vector<fragment> frags = partition(v, text, parse_special);
  switch (v.type) {
    case vocab_type::spm: {
      if (add_special && v.add_bos && v.bos != token_null) out.push_back(v.bos);
      bool prev_special = true;  // the text after a special token (or at the start) gets the space prefix
      std::string buf;
      for (const fragment& f : frags) {
        if (f.token != token_null) {
          out.push_back(f.token);
          prev_special = true;
          continue;
        }
        buf.clear();
        if (v.add_space_prefix && prev_special) buf += "\xE2\x96\x81";
        for (char c : text.substr(f.off, f.len)) {
          if (c == ' ') buf += "\xE2\x96\x81";
          else buf.push_back(c);
        }
        tok::spm_encode(v, buf, out);
        prev_special = false;
      }
      if (add_special && v.add_eos && v.eos != token_null) out.push_back(v.eos);
      break;
    }
    case vocab_type::bpe: {
      if (add_special && v.add_bos && v.bos != token_null) out.push_back(v.bos);
      tok::bpe_session session(v);
      for (const fragment& f : frags) {
        if (f.token != token_null) out.push_back(f.token);
        else session.encode(text.substr(f.off, f.len), out);
      }
      if (add_special && v.add_eos && v.eos != token_null) out.push_back(v.eos);
      break;
    }
    case vocab_type::wpm: {
      if (add_special && v.bos != token_null) out.push_back(v.bos);
      for (const fragment& f : frags) {
        if (f.token != token_null) out.push_back(f.token);
        else tok::wpm_encode(v, text.substr(f.off, f.len), out);
      }
      if (add_special && v.sep != token_null) out.push_back(v.sep);
      break;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// detokenize

const std::string& vocab::token_to_piece(int32_t id, bool special) const {
  const impl& v = *impl_;
  if (id < 0 || id >= (int32_t)v.tokens.size()) fail(error_kind::invalid_argument, "token id {} is out of range (vocabulary of {})", id, v.tokens.size());
  if (!special && (v.tokens[id].attr & (token_attr_control | token_attr_unknown))) return k_empty;
  return v.pieces[id];
}

std::string vocab::detokenize(std::span<const int32_t> ids, bool remove_special, bool unparse_special) const {
  const impl& v = *impl_;
  bool remove_space = v.add_space_prefix;
  if (remove_special && v.add_bos && !ids.empty() && ids.front() == v.bos) {
    remove_space = false;
    ids = ids.subspan(1);
  }
  if (remove_special && v.add_eos && !ids.empty() && ids.back() == v.eos) ids = ids.first(ids.size() - 1);

  std::string text;
  for (int32_t id : ids) {
    std::string_view piece = token_to_piece(id, unparse_special);
    if (remove_space && !piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
    remove_space = false;
    text += piece;
  }
  if (!v.clean_spaces || text.empty()) return text;

  // Hugging Face's clean_up_tokenization, in llama.cpp's three in-place passes.
  size_t total = text.size();
  char* s = text.data();
  // " ?", " !", " .", " ,"
  size_t t1 = total;
  total = 1;
  for (size_t i = 1; i < t1; ++i) {
    const char x = s[i];
    if (s[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --total;
    s[total++] = x;
  }
  // " ' " -> "'"
  size_t t2 = total;
  total = 1;
  for (size_t i = 1; i < t2; ++i) {
    const char x = s[i];
    if (x == '\'' && i + 1 < t2 && s[i - 1] == ' ' && s[i + 1] == ' ') {
      --total;
      s[++i] = '\0';
    }
    s[total++] = x;
  }
  // " 's", " 'm", " 're", " 've" -> no space
  size_t t3 = total;
  total = 1;
  for (size_t i = 1; i < t3; ++i) {
    const char x = s[i];
    if (s[i - 1] == ' ' && x == '\'' && i + 1 < t3) {
      const char x1 = s[i + 1];
      if (x1 == 's' || x1 == 'm') --total;
      else if (i + 2 < t3 && ((x1 == 'r' && s[i + 2] == 'e') || (x1 == 'v' && s[i + 2] == 'e'))) --total;
    }
    s[total++] = x;
  }
  text.resize(total);
  return text;
}

// ---------------------------------------------------------------------------------------------
// queries

vocab_type vocab::type() const { return impl_->type; }
const std::string& vocab::model() const { return impl_->model; }
const std::string& vocab::pre() const { return impl_->pre_name; }
int32_t vocab::n_tokens() const { return (int32_t)impl_->tokens.size(); }

namespace {
const tok::token_data& token_at(const vocab::impl& v, int32_t id) {
  if (id < 0 || id >= (int32_t)v.tokens.size()) fail(error_kind::invalid_argument, "token id {} is out of range (vocabulary of {})", id, v.tokens.size());
  return v.tokens[id];
}
bool attr_of(const vocab::impl& v, int32_t id, uint32_t a) {
  return id >= 0 && id < (int32_t)v.tokens.size() && (v.tokens[id].attr & a) != 0;
}
}  // namespace

const std::string& vocab::text(int32_t id) const { return token_at(*impl_, id).text; }
float vocab::score(int32_t id) const { return token_at(*impl_, id).score; }
uint32_t vocab::attr(int32_t id) const { return token_at(*impl_, id).attr; }
int32_t vocab::find(std::string_view text) const { return impl_->find(text); }

int32_t vocab::bos() const { return impl_->bos; }
int32_t vocab::eos() const { return impl_->eos; }
int32_t vocab::eot() const { return impl_->eot; }
int32_t vocab::eom() const { return impl_->eom; }
int32_t vocab::unk() const { return impl_->unk; }
int32_t vocab::sep() const { return impl_->sep; }
int32_t vocab::pad() const { return impl_->pad; }
int32_t vocab::mask() const { return impl_->mask; }
int32_t vocab::nl() const { return impl_->nl; }
int32_t vocab::fim_pre() const { return impl_->fim_pre; }
int32_t vocab::fim_suf() const { return impl_->fim_suf; }
int32_t vocab::fim_mid() const { return impl_->fim_mid; }
int32_t vocab::fim_pad() const { return impl_->fim_pad; }
int32_t vocab::fim_rep() const { return impl_->fim_rep; }
int32_t vocab::fim_sep() const { return impl_->fim_sep; }
const std::vector<int32_t>& vocab::eog_ids() const { return impl_->eog; }

bool vocab::add_bos() const { return impl_->add_bos; }
bool vocab::add_eos() const { return impl_->add_eos; }
bool vocab::add_sep() const { return impl_->add_sep; }
bool vocab::add_space_prefix() const { return impl_->add_space_prefix; }
bool vocab::clean_spaces() const { return impl_->clean_spaces; }
bool vocab::ignore_merges() const { return impl_->ignore_merges; }

bool vocab::is_eog(int32_t id) const { return id != token_null && std::binary_search(impl_->eog.begin(), impl_->eog.end(), id); }
bool vocab::is_control(int32_t id) const { return attr_of(*impl_, id, token_attr_control); }
bool vocab::is_user_defined(int32_t id) const { return attr_of(*impl_, id, token_attr_user_defined); }
bool vocab::is_byte(int32_t id) const { return attr_of(*impl_, id, token_attr_byte); }
bool vocab::is_unknown(int32_t id) const { return attr_of(*impl_, id, token_attr_unknown); }
bool vocab::is_normal(int32_t id) const { return attr_of(*impl_, id, token_attr_normal); }
bool vocab::is_unused(int32_t id) const { return attr_of(*impl_, id, token_attr_unused); }

// ---------------------------------------------------------------------------------------------
// streaming

stream_detokenizer::stream_detokenizer(const vocab& v, bool special, bool at_text_start)
    : vocab_(&v), special_(special), strip_space_(at_text_start && v.add_space_prefix()) {}

void stream_detokenizer::reset(bool at_text_start) {
  strip_space_ = at_text_start && vocab_->add_space_prefix();
  pending_.clear();
}

std::string stream_detokenizer::push(int32_t id) {
  std::string_view piece = vocab_->token_to_piece(id, special_);
  if (strip_space_ && !piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
  strip_space_ = false;
  pending_ += piece;
  bool incomplete = false;
  const size_t ok = tok::utf8_valid_prefix(pending_, &incomplete);
  if (ok == pending_.size()) return std::exchange(pending_, std::string());
  if (incomplete) {
    // Everything before the unfinished character goes out; the character waits.
    std::string out = pending_.substr(0, ok);
    pending_.erase(0, ok);
    return out;
  }
  // Invalid bytes: emit up to the last point where a character could still be unfinished.
  size_t keep_from = pending_.size();
  for (size_t back = 1; back <= 3 && back <= pending_.size(); ++back) {
    bool tail_incomplete = false;
    const std::string_view tail = std::string_view(pending_).substr(pending_.size() - back);
    if (tok::utf8_valid_prefix(tail, &tail_incomplete) == 0 && tail_incomplete) keep_from = pending_.size() - back;
  }
  std::string out = tok::utf8_sanitize(std::string_view(pending_).substr(0, keep_from));
  pending_.erase(0, keep_from);
  return out;
}

std::string stream_detokenizer::flush() {
  std::string out = tok::utf8_sanitize(pending_);
  pending_.clear();
  return out;
}

}  // namespace hearth
