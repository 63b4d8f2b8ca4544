// Template lexer. The state machine follows Jinja2's: a root state that finds the next "{{", "{%"
// or "{#" (lazily, with raw blocks first), and tag states that read expression tokens until the
// matching end marker while brackets are balanced. Whitespace control is applied to the data before
// a tag ("-" strips all, lstrip_blocks strips an indentation-only line start) and after it
// ("-" strips all, trim_blocks eats one newline after a block or comment tag).
#include "tokenizer/template/lexer.h"

#include <charconv>

#include "tokenizer/template/text.h"
#include "tokenizer/template/value.h"

namespace hearth::jinja {

namespace {

[[noreturn]] void syntax(int line, std::string msg) { throw template_error(error_kind::syntax, msg, line); }

int count_nl(std::string_view s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// Source with every \r\n, \r and \n turned into \n, less one trailing newline (Jinja's
// keep_trailing_newline=False).
std::string normalize(std::string_view src) {
  std::string out;
  out.reserve(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
    } else {
      out.push_back(src[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

size_t skip_spaces(std::string_view s, size_t i) {
  while (i < s.size()) {
    const size_t n = text::space_at(s, i);
    if (!n) break;
    i += n;
  }
  return i;
}

bool all_space(std::string_view s) {
  if (s.empty()) return false;
  return skip_spaces(s, 0) == s.size();
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// (\d+_)*\d+ at i; returns end or npos.
size_t match_digits(std::string_view s, size_t i) {
  if (i >= s.size() || !is_digit(s[i])) return std::string_view::npos;
  while (true) {
    while (i < s.size() && is_digit(s[i])) ++i;
    if (i + 1 < s.size() && s[i] == '_' && is_digit(s[i + 1])) {
      ++i;
      continue;
    }
    return i;
  }
}

size_t match_float(std::string_view s, size_t i) {
  if (i > 0 && s[i - 1] == '.') return std::string_view::npos;
  size_t j = match_digits(s, i);
  if (j == std::string_view::npos) return j;
  // Alternative 1: optional fraction then exponent.
  auto exponent = [&](size_t k) -> size_t {
    if (k < s.size() && (s[k] == 'e' || s[k] == 'E')) {
      size_t m = k + 1;
      if (m < s.size() && (s[m] == '+' || s[m] == '-')) ++m;
      return match_digits(s, m);
    }
    return std::string_view::npos;
  };
  size_t frac_end = std::string_view::npos;
  if (j < s.size() && s[j] == '.') frac_end = match_digits(s, j + 1);
  if (frac_end != std::string_view::npos) {
    const size_t e = exponent(frac_end);
    if (e != std::string_view::npos) return e;
  }
  const size_t e = exponent(j);
  if (e != std::string_view::npos) return e;
  return frac_end;  // alternative 2: required fraction
}

bool is_digit_in_base(char c, int base) {
  if (base == 2) return c == '0' || c == '1';
  if (base == 8) return c >= '0' && c <= '7';
  if (base == 16) return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  return is_digit(c);
}

// Integer literal at i: returns end (npos when none) and the digits/base for conversion.
size_t match_integer(std::string_view s, size_t i, std::string& digits, int& base) {
  digits.clear();
  if (i >= s.size() || !is_digit(s[i])) return std::string_view::npos;
  if (s[i] == '0' && i + 1 < s.size()) {
    const char p = static_cast<char>(s[i + 1] | 0x20);
    const int b = p == 'b' ? 2 : p == 'o' ? 8 : p == 'x' ? 16 : 0;
    if (b) {
      size_t j = i + 2;
      std::string d;
      while (true) {
        size_t k = j;
        if (k < s.size() && s[k] == '_') ++k;
        if (k < s.size() && is_digit_in_base(s[k], b)) {
          d.push_back(s[k]);
          j = k + 1;
        } else {
          break;
        }
      }
      if (!d.empty()) {
        digits = d;
        base = b;
        return j;
      }
    }
  }
  base = 10;
  if (s[i] == '0') {  // 0(_?0)*
    size_t j = i + 1;
    while (true) {
      size_t k = j;
      if (k < s.size() && s[k] == '_') ++k;
      if (k < s.size() && s[k] == '0') j = k + 1;
      else break;
    }
    digits.assign(1, '0');
    return j;
  }
  size_t j = i;  // [1-9](_?\d)*
  digits.push_back(s[j++]);
  while (true) {
    size_t k = j;
    if (k < s.size() && s[k] == '_') ++k;
    if (k < s.size() && is_digit(s[k])) {
      digits.push_back(s[k]);
      j = k + 1;
    } else {
      break;
    }
  }
  return j;
}

bool name_start(uint32_t cp) { return cp == '_' || text::is_alpha(cp); }
bool name_char(uint32_t cp) { return cp == '_' || text::is_alpha(cp) || text::is_numeric(cp); }

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(c | 0x20);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Decodes a string literal body the way Jinja does: Python's "unicode-escape" codec applied to the
// body with non-ASCII characters first turned into backslash escapes.
std::string unescape(std::string_view body, int line) {
  std::string out;
  out.reserve(body.size());
  for (size_t i = 0; i < body.size();) {
    const char c = body[i];
    if (c != '\\') {
      const size_t start = i;
      text::decode(body, i);
      out.append(body.substr(start, i - start));
      continue;
    }
    if (i + 1 >= body.size()) syntax(line, "\\ at end of string");
    const unsigned char e = static_cast<unsigned char>(body[i + 1]);
    if (e >= 0x80) {
      // The non-ASCII character became "\xNN"/"\uNNNN" text; the backslash pair decodes to "\".
      size_t j = i + 1;
      const uint32_t cp = text::decode(body, j);
      out.push_back('\\');
      if (cp <= 0xFF) out += fmt::format("x{:02x}", cp);
      else if (cp <= 0xFFFF) out += fmt::format("u{:04x}", cp);
      else out += fmt::format("U{:08x}", cp);
      i = j;
      continue;
    }
    i += 2;
    switch (e) {
      case '\n': break;
      case '\\': out.push_back('\\'); break;
      case '\'': out.push_back('\''); break;
      case '"': out.push_back('"'); break;
      case 'a': out.push_back('\a'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'v': out.push_back('\v'); break;
      case 'x':
      case 'u':
      case 'U': {
        const int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (int k = 0; k < n; ++k) {
          if (i + static_cast<size_t>(k) >= body.size() || hexval(body[i + k]) < 0)
            syntax(line, fmt::format("truncated \\{}{} escape", static_cast<char>(e), std::string(n, 'X')));
          cp = cp * 16 + static_cast<uint32_t>(hexval(body[i + k]));
        }
        i += static_cast<size_t>(n);
        if (cp > 0x10FFFF) syntax(line, "illegal Unicode character");
        text::append_utf8(out, cp);
        break;
      }
      case 'N':
        if (i >= body.size() || body[i] != '{' || body.find('}', i) == std::string_view::npos)
          syntax(line, "malformed \\N character escape");
        throw template_error(error_kind::unsupported, "\\N{name} escapes in string literals are not supported", line);
      default:
        if (e >= '0' && e <= '7') {
          uint32_t cp = e - '0';
          for (int k = 0; k < 2 && i < body.size() && body[i] >= '0' && body[i] <= '7'; ++k) cp = cp * 8 + (body[i++] - '0');
          text::append_utf8(out, cp);
        } else {
          out.push_back('\\');
          out.push_back(static_cast<char>(e));
        }
    }
  }
  return out;
}

class lexer {
 public:
  lexer(std::string src, const lexer_options& opt) : s_(std::move(src)), opt_(opt) {}

  std::vector<token> run() {
    size_t pos = 0;
    while (pos < s_.size()) pos = root(pos);
    push(tok::eof, "");
    return std::move(out_);
  }

 private:
  std::string s_;
  lexer_options opt_;
  std::vector<token> out_;
  int line_ = 1;
  bool line_starting_ = true;

  void push(tok t, std::string text) {
    token k;
    k.type = t;
    k.line = line_;
    k.text = std::move(text);
    out_.push_back(std::move(k));
  }

  // Whitespace control on the data before a tag.
  std::string_view strip_before(std::string_view text, char sign, bool is_variable) {
    if (sign == '-') return text::rstrip_space(text);
    if (sign != '+' && opt_.lstrip_blocks && !is_variable) {
      const size_t nl = text.rfind('\n');
      const size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
      if ((l_pos > 0 || line_starting_) && all_space(text.substr(l_pos))) return text.substr(0, l_pos);
    }
    return text;
  }

  void emit_data(std::string_view original, std::string_view stripped) {
    if (!stripped.empty()) push(tok::data, std::string(stripped));
    line_ += count_nl(original);
  }

  // "{%" sign? \s* raw \s* ("-%}" \s* | "%}") at p; returns the end or npos.
  size_t match_raw_begin(size_t p, char& sign, bool end_tag) {
    size_t i = p + 2;
    sign = 0;
    if (i < s_.size() && (s_[i] == '-' || s_[i] == '+')) sign = s_[i++];
    i = skip_spaces(s_, i);
    const std::string_view word = end_tag ? "endraw" : "raw";
    if (s_.compare(i, word.size(), word) != 0) return std::string_view::npos;
    i = skip_spaces(s_, i + word.size());
    if (end_tag && s_.compare(i, 3, "+%}") == 0) return i + 3;
    if (s_.compare(i, 3, "-%}") == 0) return skip_spaces(s_, i + 3);
    if (s_.compare(i, 2, "%}") == 0) {
      i += 2;
      if (end_tag && opt_.trim_blocks && i < s_.size() && s_[i] == '\n') ++i;
      return i;
    }
    return std::string_view::npos;
  }

  size_t root(size_t pos) {
    size_t p = pos;
    size_t raw_end = std::string_view::npos;
    char kind = 0;
    char sign = 0;
    for (;; ++p) {
      p = s_.find('{', p);
      if (p == std::string::npos || p + 1 >= s_.size()) {
        emit_data(std::string_view(s_).substr(pos), std::string_view(s_).substr(pos));
        return s_.size();
      }
      const char c = s_[p + 1];
      if (c == '%') {
        raw_end = match_raw_begin(p, sign, false);
        kind = '%';
        break;
      }
      if (c == '{' || c == '#') {
        kind = c;
        break;
      }
    }
    const size_t tag_len = 2;
    if (raw_end == std::string_view::npos) {
      sign = 0;
      if (p + tag_len < s_.size() && (s_[p + tag_len] == '-' || s_[p + tag_len] == '+')) sign = s_[p + tag_len];
    }
    const std::string_view text = std::string_view(s_).substr(pos, p - pos);
    emit_data(text, strip_before(text, sign, kind == '{' && raw_end == std::string_view::npos));
    if (raw_end != std::string_view::npos) {
      line_ += count_nl(std::string_view(s_).substr(p, raw_end - p));
      line_starting_ = s_[raw_end - 1] == '\n';
      return raw_body(raw_end);
    }
    line_starting_ = false;
    size_t i = p + tag_len + (sign ? 1 : 0);
    if (kind == '#') return comment(i);
    push(kind == '{' ? tok::var_begin : tok::block_begin, "");
    return tag(i, kind == '{');
  }

  size_t raw_body(size_t pos) {
    for (size_t p = pos;; ++p) {
      p = s_.find("{%", p);
      if (p == std::string::npos) syntax(line_, "Missing end of raw directive");
      char sign = 0;
      const size_t end = match_raw_begin(p, sign, true);
      if (end == std::string_view::npos) continue;
      const std::string_view text = std::string_view(s_).substr(pos, p - pos);
      emit_data(text, strip_before(text, sign, false));
      line_ += count_nl(std::string_view(s_).substr(p, end - p));
      line_starting_ = s_[end - 1] == '\n';
      return end;
    }
  }

  size_t comment(size_t pos) {
    const size_t h = s_.find("#}", pos);
    if (h == std::string::npos) syntax(line_, "Missing end of comment tag");
    size_t q = h;
    char sign = 0;
    if (h > pos && (s_[h - 1] == '-' || s_[h - 1] == '+')) {
      q = h - 1;
      sign = s_[q];
    }
    size_t end = h + 2;
    if (sign == '-') end = skip_spaces(s_, end);
    else if (!sign && opt_.trim_blocks && end < s_.size() && s_[end] == '\n') ++end;
    line_ += count_nl(std::string_view(s_).substr(pos, end - pos));
    line_starting_ = s_[end - 1] == '\n';
    return end;
  }

  // Tokens inside {{ }} or {% %} up to the end marker.
  size_t tag(size_t i, bool variable) {
    std::vector<char> balance;
    while (true) {
      if (i >= s_.size()) return i;  // the parser reports the unexpected end
      if (balance.empty()) {
        size_t end = std::string::npos;
        if (variable) {
          if (s_.compare(i, 3, "-}}") == 0) end = skip_spaces(s_, i + 3);
          else if (s_.compare(i, 2, "}}") == 0) end = i + 2;
        } else {
          if (s_.compare(i, 3, "+%}") == 0) end = i + 3;
          else if (s_.compare(i, 3, "-%}") == 0) end = skip_spaces(s_, i + 3);
          else if (s_.compare(i, 2, "%}") == 0) {
            end = i + 2;
            if (opt_.trim_blocks && end < s_.size() && s_[end] == '\n') ++end;
          }
        }
        if (end != std::string::npos) {
          push(variable ? tok::var_end : tok::block_end, "");
          line_ += count_nl(std::string_view(s_).substr(i, end - i));
          line_starting_ = s_[end - 1] == '\n';
          return end;
        }
      }
      if (const size_t n = text::space_at(s_, i)) {
        size_t j = skip_spaces(s_, i);
        line_ += count_nl(std::string_view(s_).substr(i, j - i));
        i = j;
        (void)n;
        continue;
      }
      if (size_t j = match_float(s_, i); j != std::string_view::npos) {
        std::string digits;
        for (size_t k = i; k < j; ++k)
          if (s_[k] != '_') digits.push_back(s_[k]);
        token t;
        t.type = tok::floating;
        t.line = line_;
        t.text = s_.substr(i, j - i);
        std::from_chars(digits.data(), digits.data() + digits.size(), t.fval);
        out_.push_back(std::move(t));
        i = j;
        continue;
      }
      std::string digits;
      int base = 10;
      if (size_t j = match_integer(s_, i, digits, base); j != std::string_view::npos) {
        token t;
        t.type = tok::integer;
        t.line = line_;
        t.text = s_.substr(i, j - i);
        uint64_t v = 0;
        auto r = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
        if (r.ec != std::errc() || v > static_cast<uint64_t>(INT64_MAX))
          throw template_error(error_kind::unsupported, fmt::format("integer literal {} is too large", t.text), line_);
        t.ival = static_cast<int64_t>(v);
        out_.push_back(std::move(t));
        i = j;
        continue;
      }
      {
        size_t j = i;
        const uint32_t cp = text::decode(s_, j);
        if (name_start(cp)) {
          while (j < s_.size()) {
            size_t k = j;
            if (!name_char(text::decode(s_, k))) break;
            j = k;
          }
          push(tok::name, s_.substr(i, j - i));
          i = j;
          continue;
        }
      }
      if (s_[i] == '\'' || s_[i] == '"') {
        const char q = s_[i];
        size_t j = i + 1;
        while (j < s_.size() && s_[j] != q) j += s_[j] == '\\' ? 2 : 1;
        if (j >= s_.size()) syntax(line_, fmt::format("unexpected char {} at {}", repr_string(std::string(1, q)), i));
        push(tok::string, unescape(std::string_view(s_).substr(i + 1, j - i - 1), line_));
        line_ += count_nl(std::string_view(s_).substr(i, j - i));
        i = j + 1;
        continue;
      }
      static const char* const ops2[] = {"**", "//", "==", "!=", ">=", "<="};
      std::string op;
      for (const char* o : ops2)
        if (s_.compare(i, 2, o) == 0) op = o;
      if (op.empty() && std::string_view("+-/*%~[](){}><=.:|,;").find(s_[i]) != std::string_view::npos) op = s_.substr(i, 1);
      if (op.empty()) {
        size_t j = i;
        const uint32_t cp = text::decode(s_, j);
        std::string ch;
        text::append_utf8(ch, cp);
        syntax(line_, fmt::format("unexpected char {} at {}", repr_string(ch), i));
      }
      if (op == "{" || op == "(" || op == "[") {
        balance.push_back(op == "{" ? '}' : op == "(" ? ')' : ']');
      } else if (op == "}" || op == ")" || op == "]") {
        if (balance.empty()) syntax(line_, fmt::format("unexpected '{}'", op));
        const char want = balance.back();
        balance.pop_back();
        if (want != op[0]) syntax(line_, fmt::format("unexpected '{}', expected '{}'", op, want));
      }
      push(tok::op, op);
      i += op.size();
    }
  }
};

}  // namespace

std::vector<token> lex(std::string_view source, const lexer_options& opt) {
  return lexer(normalize(source), opt).run();
}

const char* describe(const token& t) {
  switch (t.type) {
    case tok::data: return "template data / text";
    case tok::var_begin: return "begin of print statement";
    case tok::var_end: return "end of print statement";
    case tok::block_begin: return "begin of statement block";
    case tok::block_end: return "end of statement block";
    case tok::name: return "name";
    case tok::string: return "string";
    case tok::integer: return "integer";
    case tok::floating: return "float";
    case tok::op: return "operator";
    case tok::eof: return "end of template";
  }
  return "token";
}

}  // namespace hearth::jinja
