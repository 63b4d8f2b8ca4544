#include "tokenizer/pretokenize.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace hearth::tok {

namespace {

// The regexes are llama.cpp's (which adapts the tokenizer.json ones for std::regex), written for
// PCRE2. Where llama.cpp had to rewrite a construct std::regex lacks (Unicode letter-case classes
// for tekken / gpt-4o), the tokenizer.json original is used, since PCRE2 supports it.
#define CONTRACTIONS "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
constexpr const char* k_gpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
constexpr const char* k_llama3 =
    CONTRACTIONS R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* k_qwen2 =
    CONTRACTIONS R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* k_qwen35 =
    CONTRACTIONS R"(|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* k_seed_coder =
    CONTRACTIONS R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* k_bailingmoe =
    R"('(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)";
#define UPPER "[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]"
#define LOWER "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]"
constexpr const char* k_tekken = "[^\\r\\n\\p{L}\\p{N}]?" UPPER "*" LOWER "+|[^\\r\\n\\p{L}\\p{N}]?" UPPER "+" LOWER
                                 R"(*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* k_gpt4o = "[^\\r\\n\\p{L}\\p{N}]?" UPPER "*" LOWER "+" CONTRACTIONS "?|[^\\r\\n\\p{L}\\p{N}]?" UPPER
                                "+" LOWER "*" CONTRACTIONS R"(?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Kimi K2 (tiktoken): Han runs are words of their own and never join letter runs; the class
// intersection [X&&[^\p{Han}]] of the original is written with a lookahead.
#define UPPER_NO_HAN "(?:(?!\\p{Han})[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}])"
#define LOWER_NO_HAN "(?:(?!\\p{Han})[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}])"
constexpr const char* k_kimi_k2 = "\\p{Han}+|[^\\r\\n\\p{L}\\p{N}]?" UPPER_NO_HAN "*" LOWER_NO_HAN "+" CONTRACTIONS
                                  "?|[^\\r\\n\\p{L}\\p{N}]?" UPPER_NO_HAN "+" LOWER_NO_HAN "*" CONTRACTIONS
                                  R"(?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* k_deepseek3 =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* k_cjk = R"([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";
constexpr const char* k_deepseek_llm_letters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF})"
    R"(\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1})"
    R"(\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5})"
    R"(\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A})"
    R"(\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B})"
    R"(\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC})"
    R"(\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107})"
    R"(\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134})"
    R"(\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4})"
    R"(\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787})"
    R"(\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A})"
    R"(\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2})"
    R"(\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
constexpr const char* k_deepseek_llm_punct = R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)";
constexpr const char* k_poro = R"( ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{964}\x{6D4}\x{60C})]+)";
constexpr const char* k_afmoe_digits = R"(\p{N}{1,3}(?=(?:\p{N}{3})*(?!\p{N})))";
constexpr const char* k_afmoe_cjk =
    R"([\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}\x{F900}-\x{FAFF}\x{3040}-\x{309F}\x{30A0}-\x{30FF}\x{FF65}-\x{FF9F})"
    R"(\x{2F00}-\x{2FDF}\x{E00}-\x{E7F}\x{E80}-\x{EFF}\x{1780}-\x{17FF}\x{1000}-\x{109F}\x{AA60}-\x{AA7F})"
    R"(\x{A9E0}-\x{A9FF}\x{AC00}-\x{D7AF}\x{1100}-\x{11FF}]+)";

std::vector<const char*> regexes_for(pre_type t) {
  switch (t) {
    case pre_type::llama3: case pre_type::dbrx: case pre_type::smaug: case pre_type::chatglm4:
      return {k_llama3};
    case pre_type::deepseek_llm:
      return {"[\r\n]", k_deepseek_llm_letters, k_deepseek_llm_punct, R"(\s+$)", k_cjk, R"(\p{N}+)"};
    case pre_type::deepseek3_llm: case pre_type::hunyuan_dense:
      return {R"(\p{N}{1,3})", R"([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)", k_deepseek3};
    case pre_type::deepseek_coder:
      return {"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", k_cjk, R"(\p{N})"};
    case pre_type::falcon:
      return {R"([\p{P}\$\+<=>\^~\|`]+)", k_gpt2, "[0-9][0-9][0-9]"};
    case pre_type::starcoder: case pre_type::refact: case pre_type::command_r: case pre_type::smollm:
    case pre_type::codeshell: case pre_type::exaone: case pre_type::minerva:
      return {R"(\p{N})", k_gpt2};
    case pre_type::gpt2: case pre_type::mpt: case pre_type::olmo: case pre_type::jais: case pre_type::trillion:
    case pre_type::granite_docling:
      return {k_gpt2};
    case pre_type::stablelm2: case pre_type::qwen2: case pre_type::hunyuan: case pre_type::grok2:
      return {k_qwen2};
    case pre_type::qwen35:
      return {k_qwen35};
    case pre_type::poro: case pre_type::bloom: case pre_type::gpt3_finnish:
      return {k_poro};
    case pre_type::viking:
      return {k_poro, R"(\p{N})"};
    case pre_type::tekken:
      return {k_tekken};
    case pre_type::chameleon:
      return {"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )", R"(\p{N})",
              R"([\p{P}!-/:-@\[-`{-~])", k_gpt2};
    case pre_type::gpt4o: case pre_type::minimax_m2:
      return {k_gpt4o};
    case pre_type::kimi_k2:
      return {k_kimi_k2};
    case pre_type::superbpe:
      return {R"(\p{N}+)", R"((?=(\d{3})+(?!\d)))"};
    case pre_type::bailingmoe:
      return {k_bailingmoe};
    case pre_type::seed_coder:
      return {k_seed_coder};
    case pre_type::afmoe:
      return {k_afmoe_digits, k_afmoe_cjk, k_deepseek3};
    case pre_type::default_: case pre_type::none:
      break;
  }
  return {R"([\p{P}\$\+<=>\^~\|]+)", k_gpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"};
}

// The Unicode White_Space characters, as a character-class body.
constexpr const char* k_space_class = "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

struct match_buffers {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* ctx = nullptr;
  pcre2_jit_stack* stack = nullptr;
  match_buffers() {
    data = pcre2_match_data_create(32, nullptr);
    ctx = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
    if (ctx && stack) pcre2_jit_stack_assign(ctx, nullptr, stack);
  }
  ~match_buffers() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(ctx);
    pcre2_match_data_free(data);
  }
};
match_buffers& buffers() {
  thread_local match_buffers b;
  return b;
}

}  // namespace

std::optional<pre_settings> lookup_pre(std::string_view n) {
  pre_settings s;
  auto is = [&](std::initializer_list<std::string_view> names) {
    return std::find(names.begin(), names.end(), n) != names.end();
  };
  auto set = [&](pre_type t, bool clean = true) {
    s.type = t;
    s.clean_spaces = clean;
    return s;
  };
  if (is({"default"})) return set(pre_type::default_);
  if (is({"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"})) {
    s.ignore_merges = true;
    s.add_bos = true;
    return set(pre_type::llama3);
  }
  if (is({"deepseek-llm"})) return set(pre_type::deepseek_llm, false);
  if (is({"deepseek-coder"})) return set(pre_type::deepseek_coder, false);
  if (is({"deepseek-v3"})) return set(pre_type::deepseek3_llm, false);
  if (is({"falcon"})) return set(pre_type::falcon);
  if (is({"mpt"})) return set(pre_type::mpt);
  if (is({"starcoder"})) return set(pre_type::starcoder);
  if (is({"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum", "exaone4"}))
    return set(pre_type::gpt2);
  if (is({"jina-v1-en", "jina-v2-code", "roberta-bpe"})) {
    s.add_sep = true;
    return set(pre_type::gpt2);
  }
  if (is({"refact"})) return set(pre_type::refact);
  if (is({"command-r"})) return set(pre_type::command_r, false);
  if (is({"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2"})) return set(pre_type::qwen2, false);
  if (is({"qwen35"})) return set(pre_type::qwen35, false);
  if (is({"megrez"})) return set(pre_type::qwen2);
  if (is({"stablelm2"})) return set(pre_type::stablelm2);
  if (is({"olmo"})) return set(pre_type::olmo);
  if (is({"dbrx"})) return set(pre_type::dbrx);
  if (is({"smaug-bpe"})) return set(pre_type::smaug);
  if (is({"poro-chat"})) return set(pre_type::poro, false);
  if (is({"glm4", "chatglm-bpe"})) {
    s.no_bos = true;
    return set(pre_type::chatglm4);
  }
  if (is({"viking"})) return set(pre_type::viking, false);
  if (is({"jais"})) return set(pre_type::jais);
  if (is({"tekken"})) {
    s.ignore_merges = true;
    s.add_bos = true;
    return set(pre_type::tekken, false);
  }
  if (is({"smollm"})) return set(pre_type::smollm, false);
  if (is({"codeshell"})) return set(pre_type::codeshell);
  if (is({"bloom"})) return set(pre_type::bloom);
  if (is({"gpt3-finnish"})) return set(pre_type::gpt3_finnish);
  if (is({"exaone"})) return set(pre_type::exaone);
  if (is({"chameleon"})) {
    s.add_bos = true;
    return set(pre_type::chameleon, false);
  }
  if (is({"minerva-7b"})) return set(pre_type::minerva);
  if (is({"gpt-4o", "llama4"})) return set(pre_type::gpt4o, false);
  if (is({"superbpe"})) return set(pre_type::superbpe, false);
  if (is({"trillion"})) return set(pre_type::trillion, false);
  if (is({"granite-docling"})) return set(pre_type::granite_docling, false);
  if (is({"bailingmoe", "bailingmoe2", "llada-moe"})) return set(pre_type::bailingmoe, false);
  if (is({"seed-coder"})) return set(pre_type::seed_coder, false);
  if (is({"hunyuan"})) return set(pre_type::hunyuan, false);
  if (is({"hunyuan-dense"})) return set(pre_type::hunyuan_dense, false);
  if (is({"kimi-k2"})) return set(pre_type::kimi_k2, false);
  if (is({"grok-2"})) return set(pre_type::grok2, false);
  if (is({"afmoe"})) return set(pre_type::afmoe, false);
  if (is({"minimax-m2"})) return set(pre_type::minimax_m2, false);
  return std::nullopt;
}

std::string translate_regex(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 64);
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char d = p[++i];
      if (d == 's') {
        out += in_class ? std::string(k_space_class) : "[" + std::string(k_space_class) + "]";
      } else if (d == 'S') {
        if (in_class) fail("tokenizer: \\S inside a character class is not supported");
        out += "[^" + std::string(k_space_class) + "]";
      } else {
        out += c;
        out += d;
      }
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      out += c;
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];  // a literal ']' first in the class
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

struct pretokenizer::compiled {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~compiled() { pcre2_code_free(code); }
};

pretokenizer::pretokenizer(pre_type type) {
  for (const char* src : regexes_for(type)) {
    const std::string pattern = translate_regex(src);
    int err = 0;
    PCRE2_SIZE err_off = 0;
    auto c = std::make_unique<compiled>();
    c->code = pcre2_compile((PCRE2_SPTR)pattern.data(), pattern.size(), PCRE2_UTF | PCRE2_DOLLAR_ENDONLY, &err, &err_off,
                            nullptr);
    if (!c->code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      fail("tokenizer: pre-tokenizer regex does not compile at offset {}: {}", (size_t)err_off, (const char*)msg);
    }
    c->jit = pcre2_jit_compile(c->code, PCRE2_JIT_COMPLETE) == 0;
    regexes_.push_back(std::move(c));
  }
}

pretokenizer::~pretokenizer() = default;

std::string_view pretokenizer::split(std::string_view text, std::string& storage,
                                     std::vector<std::pair<uint32_t, uint32_t>>& words) const {
  words.clear();
  // PCRE2 needs valid UTF-8. Broken input is decoded the way llama.cpp decodes it; the match text
  // shows a surrogate as U+FFFD (same length, same classes) while the words keep its bytes.
  std::string match_text;
  std::string_view clean = text, subject_all = text;
  if (!utf8_is_valid(text)) {
    storage.clear();
    for (size_t off = 0; off < text.size();) {
      uint32_t cpt = utf8_decode_lenient(text, off);
      if (cpt >= 0x110000) cpt = k_replacement_cpt;
      append_utf8(storage, cpt);
      append_utf8(match_text, (cpt >= 0xD800 && cpt <= 0xDFFF) ? k_replacement_cpt : cpt);
    }
    clean = storage;
    subject_all = match_text;
  }
  if (clean.size() > UINT32_MAX) fail("tokenizer: text of {} bytes is too long", clean.size());
  if (clean.empty()) return clean;

  match_buffers& mb = buffers();
  if (!mb.data || !mb.ctx) fail(error_kind::out_of_memory, "tokenizer: out of memory for regex matching");
  std::vector<std::pair<uint32_t, uint32_t>> segments{{0u, (uint32_t)clean.size()}};
  for (size_t r = 0; r < regexes_.size(); ++r) {
    const compiled& re = *regexes_[r];
    // The last regex writes straight into `words`.
    std::vector<std::pair<uint32_t, uint32_t>> next;
    auto& dest = r + 1 == regexes_.size() ? words : next;
    dest.reserve(clean.size() / 4 + 16);
    for (const auto& seg : segments) {
      // Plain variables: clang 14 cannot capture structured bindings in the lambda below.
      const auto seg_off = seg.first;
      const auto seg_len = seg.second;
      const auto* subject = (PCRE2_SPTR)subject_all.data() + seg_off;
      size_t last = 0;  // end of what has been emitted so far
      auto cut = [&](size_t at) {
        if (at > last) dest.emplace_back(seg_off + (uint32_t)last, (uint32_t)(at - last));
        last = std::max(last, at);
      };
      size_t pos = 0;
      uint32_t opts = 0;
      while (pos <= seg_len) {
        int rc = pcre2_match(re.code, subject, seg_len, pos, opts | PCRE2_NO_UTF_CHECK, mb.data, mb.ctx);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
          rc = pcre2_match(re.code, subject, seg_len, pos, opts | PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, mb.data, mb.ctx);
        if (rc == PCRE2_ERROR_NOMATCH) {
          if (!opts) break;
          // After an empty match nothing non-empty starts here: move on one character.
          opts = 0;
          if (pos >= seg_len) break;
          pos += std::min<size_t>(utf8_len(subject[pos]), seg_len - pos);
          continue;
        }
        if (rc < 0) {
          PCRE2_UCHAR msg[256];
          pcre2_get_error_message(rc, msg, sizeof msg);
          fail("tokenizer: pre-tokenizer regex failed: {}", (const char*)msg);
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(mb.data);
        cut(ov[0]);  // the text before the match is a piece of its own
        cut(ov[1]);
        pos = ov[1];
        opts = ov[0] == ov[1] ? (PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED) : 0;
      }
      cut(seg_len);
    }
    if (r + 1 < regexes_.size()) segments.swap(next);
  }
  return clean;
}

}  // namespace hearth::tok
