// UTF-8 and Unicode helpers. General categories come from PCRE2's Unicode tables (the same data
// family Python uses), case mapping from the C library's C.UTF-8 locale.
#include "tokenizer/template/text.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <locale.h>
#include <wctype.h>

#include <mutex>

namespace hearth::jinja::text {

uint32_t decode(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int n = 0;
  uint32_t cp = 0;
  if ((b0 & 0xE0) == 0xC0) {
    n = 1;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 2;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 3;
    cp = b0 & 0x07;
  } else {
    ++i;
    return b0;
  }
  if (i + static_cast<size_t>(n) >= s.size()) {
    ++i;
    return b0;
  }
  for (int k = 1; k <= n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return b0;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  // Reject overlong forms and out-of-range values: treat the lead byte as a raw byte.
  if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF))) {
    ++i;
    return b0;
  }
  i += n + 1;
  return cp;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    if (cp > 0x10FFFF) cp = 0xFFFD;
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

size_t count_code_points(std::string_view s) {
  if (is_ascii(s)) return s.size();
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    decode(s, i);
    ++n;
  }
  return n;
}

std::vector<uint32_t> to_code_points(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) out.push_back(decode(s, i));
  return out;
}

std::string from_code_points(const uint32_t* cps, size_t n) {
  std::string out;
  out.reserve(n);
  for (size_t k = 0; k < n; ++k) append_utf8(out, cps[k]);
  return out;
}

size_t byte_offset(std::string_view s, size_t cp_index) {
  size_t i = 0;
  for (size_t n = 0; n < cp_index && i < s.size(); ++n) decode(s, i);
  return i;
}

bool is_space(uint32_t cp) {
  if (cp < 0x80) return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20);
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool is_linebreak(uint32_t cp) {
  return cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cp == 0x1C || cp == 0x1D || cp == 0x1E ||
         cp == 0x85 || cp == 0x2028 || cp == 0x2029;
}

namespace {

// One compiled PCRE2 class per property; matched against a single encoded code point.
class unicode_class {
 public:
  explicit unicode_class(const char* pattern) {
    int err = 0;
    PCRE2_SIZE off = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern), PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
                          &err, &off, nullptr);
  }
  bool matches(uint32_t cp) const {
    if (!code_ || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    thread_local pcre2_match_data* md = pcre2_match_data_create(4, nullptr);
    std::string enc;
    append_utf8(enc, cp);
    return pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(enc.data()), enc.size(), 0, PCRE2_NO_UTF_CHECK, md,
                       nullptr) >= 0;
  }

 private:
  pcre2_code* code_ = nullptr;
};

const unicode_class& cls_nonprintable() {
  static const unicode_class c("^[\\p{C}\\p{Z}]$");
  return c;
}
const unicode_class& cls_alpha() {
  static const unicode_class c("^\\p{L}$");
  return c;
}
const unicode_class& cls_decimal() {
  static const unicode_class c("^\\p{Nd}$");
  return c;
}
const unicode_class& cls_numeric() {
  static const unicode_class c("^\\p{N}$");
  return c;
}
const unicode_class& cls_upper() {
  static const unicode_class c("^[\\p{Lu}\\p{Lt}]$");
  return c;
}
const unicode_class& cls_lower() {
  static const unicode_class c("^\\p{Ll}$");
  return c;
}

locale_t utf8_locale() {
  static locale_t loc = [] {
    locale_t l = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
    if (!l) l = newlocale(LC_CTYPE_MASK, "C.utf8", static_cast<locale_t>(nullptr));
    return l;
  }();
  return loc;
}

bool is_cased(uint32_t cp) { return is_upper(cp) || is_lower(cp); }

}  // namespace

bool is_printable(uint32_t cp) {
  if (cp < 0x80) return cp >= 0x20 && cp < 0x7F;
  return !cls_nonprintable().matches(cp) && !(cp >= 0xD800 && cp <= 0xDFFF) && cp <= 0x10FFFF;
}
bool is_alpha(uint32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  return cls_alpha().matches(cp);
}
bool is_decimal(uint32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return cls_decimal().matches(cp);
}
bool is_digit(uint32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  if ((cp >= 0xB2 && cp <= 0xB3) || cp == 0xB9 || (cp >= 0x2070 && cp <= 0x2079) || (cp >= 0x2080 && cp <= 0x2089))
    return cp != 0x2071 && cp != 0x2072 && cp != 0x2073;
  return cls_decimal().matches(cp);
}
bool is_numeric(uint32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return cls_numeric().matches(cp);
}
bool is_upper(uint32_t cp) {
  if (cp < 0x80) return cp >= 'A' && cp <= 'Z';
  return cls_upper().matches(cp);
}
bool is_lower(uint32_t cp) {
  if (cp < 0x80) return cp >= 'a' && cp <= 'z';
  return cls_lower().matches(cp);
}
bool is_word(uint32_t cp) { return cp == '_' || is_alpha(cp) || is_numeric(cp); }

uint32_t to_upper(uint32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') ? cp - 32 : cp;
  locale_t l = utf8_locale();
  if (!l || cp > 0x10FFFF) return cp;
  return static_cast<uint32_t>(towupper_l(static_cast<wint_t>(cp), l));
}
uint32_t to_lower(uint32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  locale_t l = utf8_locale();
  if (!l || cp > 0x10FFFF) return cp;
  return static_cast<uint32_t>(towlower_l(static_cast<wint_t>(cp), l));
}

namespace {
template <typename F> std::string map_cps(std::string_view s, F f) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(f(c)));
      ++i;
      continue;
    }
    append_utf8(out, f(decode(s, i)));
  }
  return out;
}
}  // namespace

std::string upper(std::string_view s) {
  // German sharp s is the one full-case mapping real text hits; Python maps it to "SS".
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const uint32_t cp = decode(s, i);
    if (cp == 0xDF) {
      out += "SS";
      continue;
    }
    append_utf8(out, to_upper(cp));
  }
  return out;
}
std::string lower(std::string_view s) { return map_cps(s, [](uint32_t c) { return to_lower(c); }); }
std::string swapcase(std::string_view s) {
  return map_cps(s, [](uint32_t c) { return is_upper(c) ? to_lower(c) : is_lower(c) ? to_upper(c) : c; });
}

std::string capitalize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool first = true;
  for (size_t i = 0; i < s.size();) {
    const uint32_t cp = decode(s, i);
    append_utf8(out, first ? to_upper(cp) : to_lower(cp));
    first = false;
  }
  return out;
}

std::string title(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool prev_cased = false;
  for (size_t i = 0; i < s.size();) {
    const uint32_t cp = decode(s, i);
    const uint32_t m = prev_cased ? to_lower(cp) : to_upper(cp);
    append_utf8(out, m);
    prev_cased = is_cased(cp);
  }
  return out;
}

size_t space_at(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  const unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return is_space(c) ? 1 : 0;
  size_t j = i;
  const uint32_t cp = decode(s, j);
  return is_space(cp) ? j - i : 0;
}

std::string_view rstrip_space(std::string_view s) {
  // Walk forward remembering the end of the last non-space code point (UTF-8 can't be walked back
  // safely when it may be invalid).
  size_t keep = 0;
  for (size_t i = 0; i < s.size();) {
    size_t j = i;
    const uint32_t cp = decode(s, j);
    if (!is_space(cp)) keep = j;
    i = j;
  }
  return s.substr(0, keep);
}

std::string_view lstrip_space(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t n = space_at(s, i);
    if (!n) break;
    i += n;
  }
  return s.substr(i);
}

}  // namespace hearth::jinja::text
