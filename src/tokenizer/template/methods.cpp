// Python methods of builtin values as templates call them (message.content.strip(), d.get('k'),
// s.split('\n'), '{}'.format(x), ...), with the sandbox's refusal of methods that mutate a list or
// dict (append, update, ...) and markupsafe's rules for Markup strings.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unordered_set>

#include "tokenizer/template/objects.h"
#include "tokenizer/template/text.h"

namespace hearth::jinja {

namespace {

using cps_t = std::vector<uint32_t>;

const std::unordered_set<std::string_view>& str_methods() {
  static const std::unordered_set<std::string_view> s = {
      "capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs", "find", "format",
      "format_map", "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower",
      "isnumeric", "isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip",
      "maketrans", "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust",
      "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "swapcase", "title",
      "translate", "upper", "zfill"};
  return s;
}

// ---- string helpers on code points ----

std::string str_arg(const value& v, const char* what) {
  if (!v.is_string())
    raise(error_kind::type, fmt::format("{} must be str, not {}", what, type_name(v)));
  return v.str();
}

// Markup methods escape their string arguments.
std::string arg_text(const value& v, bool markup, const char* what) {
  std::string s = str_arg(v, what);
  return markup && !v.is_markup() ? html_escape(s) : s;
}

bool in_set(const cps_t& set, uint32_t c) { return std::find(set.begin(), set.end(), c) != set.end(); }

std::string strip_impl(const std::string& s, const value& chars, bool left, bool right) {
  cps_t set;
  const bool ws = chars.is_none() || chars.is_undefined();
  if (!ws) {
    if (!chars.is_string()) raise(error_kind::type, "strip arg must be None or str");
    set = text::to_code_points(chars.str());
  }
  const cps_t c = text::to_code_points(s);
  size_t b = 0, e = c.size();
  auto drop = [&](uint32_t x) { return ws ? text::is_space(x) : in_set(set, x); };
  if (left)
    while (b < e && drop(c[b])) ++b;
  if (right)
    while (e > b && drop(c[e - 1])) --e;
  return text::from_code_points(c.data() + b, e - b);
}

std::vector<std::string> split_ws(const std::string& s, int64_t maxsplit) {
  std::vector<std::string> out;
  const cps_t c = text::to_code_points(s);
  size_t i = 0, n = c.size();
  while (true) {
    while (i < n && text::is_space(c[i])) ++i;
    if (i >= n) break;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
      out.push_back(text::from_code_points(c.data() + i, n - i));
      break;
    }
    size_t j = i;
    while (j < n && !text::is_space(c[j])) ++j;
    out.push_back(text::from_code_points(c.data() + i, j - i));
    i = j;
  }
  return out;
}

std::vector<std::string> rsplit_ws(const std::string& s, int64_t maxsplit) {
  std::vector<std::string> out;
  const cps_t c = text::to_code_points(s);
  size_t e = c.size();
  while (true) {
    while (e > 0 && text::is_space(c[e - 1])) --e;
    if (e == 0) break;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
      out.push_back(text::from_code_points(c.data(), e));
      break;
    }
    size_t b = e;
    while (b > 0 && !text::is_space(c[b - 1])) --b;
    out.push_back(text::from_code_points(c.data() + b, e - b));
    e = b;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<std::string> split_sep(const std::string& s, const std::string& sep, int64_t maxsplit) {
  if (sep.empty()) raise(error_kind::value, "empty separator");
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) break;
    const size_t f = str_find(s, sep, pos);
    if (f == std::string::npos) break;
    out.push_back(s.substr(pos, f - pos));
    pos = f + sep.size();
  }
  out.push_back(s.substr(pos));
  return out;
}

std::vector<std::string> rsplit_sep(const std::string& s, const std::string& sep, int64_t maxsplit) {
  if (sep.empty()) raise(error_kind::value, "empty separator");
  std::vector<std::string> out;
  size_t end = s.size();
  while (true) {
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) break;
    if (end < sep.size()) break;
    const size_t f = str_rfind(std::string_view(s).substr(0, end), sep);
    if (f == std::string::npos) break;
    out.push_back(s.substr(f + sep.size(), end - f - sep.size()));
    end = f;
  }
  out.push_back(s.substr(0, end));
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<std::string> splitlines(const std::string& s, bool keepends) {
  std::vector<std::string> out;
  const cps_t c = text::to_code_points(s);
  size_t start = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    if (!text::is_linebreak(c[i])) continue;
    size_t end = i + 1;
    if (c[i] == '\r' && i + 1 < c.size() && c[i + 1] == '\n') end = i + 2;
    out.push_back(text::from_code_points(c.data() + start, (keepends ? end : i) - start));
    start = end;
    i = end - 1;
  }
  if (start < c.size()) out.push_back(text::from_code_points(c.data() + start, c.size() - start));
  return out;
}

std::string replace_impl(const std::string& s, const std::string& old, const std::string& rep, int64_t count) {
  std::string out;
  if (old.empty()) {
    const cps_t c = text::to_code_points(s);
    int64_t done = 0;
    for (size_t i = 0; i <= c.size(); ++i) {
      if (count < 0 || done < count) {
        out += rep;
        ++done;
      }
      if (i < c.size()) text::append_utf8(out, c[i]);
      check_string_size(out.size());
    }
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t f = str_find(s, old, pos);
    if (f == std::string::npos) break;
    out.append(s, pos, f - pos);
    out += rep;
    check_string_size(out.size());
    pos = f + old.size();
    ++done;
  }
  out.append(s, pos, std::string::npos);
  return out;
}

// Python's ADJUST_INDICES for str methods' (start, end), in code points: end is clamped to the
// length, negative values count from the end; start is not clamped above.
void bounds(const value& start, const value& end, int64_t len, int64_t& b, int64_t& e) {
  auto norm = [&](const value& v, int64_t dflt) {
    if (v.is_none() || v.is_undefined()) return dflt;
    if (!v.is_integral()) raise(error_kind::type, "slice indices must be integers or None or have an __index__ method");
    int64_t x = v.get_int();
    if (x < 0) x = std::max<int64_t>(0, x + len);
    return x;
  };
  b = norm(start, 0);
  e = std::min(norm(end, len), len);
}

// The byte range of code points [b, e) of s (b <= e <= length).
std::string_view cp_range(const std::string& s, bool ascii, int64_t b, int64_t e) {
  if (ascii) return std::string_view(s).substr(static_cast<size_t>(b), static_cast<size_t>(e - b));
  const size_t bb = text::byte_offset(s, static_cast<size_t>(b));
  const size_t be = bb + text::byte_offset(std::string_view(s).substr(bb), static_cast<size_t>(e - b));
  return std::string_view(s).substr(bb, be - bb);
}

int64_t find_impl(const std::string& s, const std::string& sub, const value& start, const value& end, bool reverse) {
  const bool ascii = text::is_ascii(s);
  const int64_t len = static_cast<int64_t>(ascii ? s.size() : text::count_code_points(s));
  int64_t b, e;
  bounds(start, end, len, b, e);
  const int64_t m = static_cast<int64_t>(text::count_code_points(sub));
  if (e - b < m) return -1;
  const std::string_view hay = cp_range(s, ascii, b, e);
  const size_t pos = reverse ? str_rfind(hay, sub) : str_find(hay, sub);
  if (pos == std::string_view::npos) return -1;
  return b + static_cast<int64_t>(ascii ? pos : text::count_code_points(hay.substr(0, pos)));
}

bool affix_impl(const std::string& s, const value& affix, const value& start, const value& end, bool suffix,
                const char* fname) {
  std::vector<std::string> options;
  if (affix.is_string()) options.push_back(affix.str());
  else if (affix.is_tuple())
    for (const auto& x : affix.seq().items) {
      if (!x.is_string())
        raise(error_kind::type, fmt::format("tuple for {} must only contain str, not {}", fname, type_name(x)));
      options.push_back(x.str());
    }
  else
    raise(error_kind::type, fmt::format("{} first arg must be str or a tuple of str, not {}", fname, type_name(affix)));
  std::string_view hay = s;
  if (!(start.is_none() || start.is_undefined()) || !(end.is_none() || end.is_undefined())) {
    const bool ascii = text::is_ascii(s);
    const int64_t len = static_cast<int64_t>(ascii ? s.size() : text::count_code_points(s));
    int64_t b, e;
    bounds(start, end, len, b, e);
    if (b > len) return false;
    hay = e > b ? cp_range(s, ascii, b, e) : std::string_view();
  }
  for (const auto& o : options) {
    if (o.size() > hay.size()) continue;
    if (!suffix && hay.compare(0, o.size(), o) == 0) return true;
    if (suffix && hay.compare(hay.size() - o.size(), o.size(), o) == 0) return true;
  }
  return false;
}

std::string justify(const std::string& s, int64_t width, const value& fill, char how) {
  uint32_t f = ' ';
  if (!fill.is_undefined()) {
    if (!fill.is_string() || str_len(fill) != 1)
      raise(error_kind::type, "The fill character must be exactly one character long");
    size_t i = 0;
    f = text::decode(fill.str(), i);
  }
  const int64_t n = static_cast<int64_t>(text::count_code_points(s));
  if (width <= n) return s;
  check_string_size(static_cast<size_t>(width) * 4);
  const int64_t total = width - n;
  int64_t left = 0;
  if (how == 'r') left = total;
  else if (how == 'c') left = total / 2 + (total & width & 1);
  std::string out;
  for (int64_t i = 0; i < left; ++i) text::append_utf8(out, f);
  out += s;
  for (int64_t i = 0; i < total - left; ++i) text::append_utf8(out, f);
  return out;
}

bool str_predicate(const std::string& s, std::string_view name) {
  const cps_t c = text::to_code_points(s);
  if (name == "isascii") {
    for (uint32_t x : c)
      if (x >= 0x80) return false;
    return true;
  }
  if (name == "isprintable") {
    for (uint32_t x : c)
      if (!text::is_printable(x)) return false;
    return true;
  }
  if (c.empty()) return false;
  if (name == "isupper" || name == "islower") {
    bool cased = false;
    for (uint32_t x : c) {
      if (text::is_upper(x) || text::is_lower(x)) {
        cased = true;
        if (name == "isupper" ? text::is_lower(x) : text::is_upper(x)) return false;
      }
    }
    return cased;
  }
  if (name == "istitle") {
    bool prev_cased = false, any = false;
    for (uint32_t x : c) {
      if (text::is_upper(x)) {
        if (prev_cased) return false;
        prev_cased = any = true;
      } else if (text::is_lower(x)) {
        if (!prev_cased) return false;
        prev_cased = any = true;
      } else {
        prev_cased = false;
      }
    }
    return any;
  }
  if (name == "isidentifier") {
    if (!(c[0] == '_' || text::is_alpha(c[0]))) return false;
    for (uint32_t x : c)
      if (!(x == '_' || text::is_alpha(x) || text::is_numeric(x))) return false;
    return true;
  }
  for (uint32_t x : c) {
    bool ok = false;
    if (name == "isalnum") ok = text::is_alpha(x) || text::is_numeric(x);
    else if (name == "isalpha") ok = text::is_alpha(x);
    else if (name == "isdecimal") ok = text::is_decimal(x);
    else if (name == "isdigit") ok = text::is_digit(x);
    else if (name == "isnumeric") ok = text::is_numeric(x);
    else if (name == "isspace") ok = text::is_space(x);
    if (!ok) return false;
  }
  return true;
}

int64_t int_arg(const value& v, const char* what) {
  if (!v.is_integral())
    raise(error_kind::type, fmt::format("{} object cannot be interpreted as an integer", repr_string(type_name(v))));
  (void)what;
  return v.get_int();
}

}  // namespace

// ---- format() ----

std::string format_spec_value(const value& v, const std::string& spec);

namespace {

struct spec_parts {
  uint32_t fill = ' ';
  char align = 0;
  char sign = '-';
  bool alt = false;
  bool zero = false;
  int64_t width = -1;
  char grouping = 0;
  int precision = -1;
  char type = 0;
};

spec_parts parse_spec(const std::string& spec) {
  spec_parts p;
  const cps_t c = text::to_code_points(spec);
  size_t i = 0;
  auto is_align = [](uint32_t x) { return x == '<' || x == '>' || x == '^' || x == '='; };
  if (c.size() >= 2 && is_align(c[1])) {
    p.fill = c[0];
    p.align = static_cast<char>(c[1]);
    i = 2;
  } else if (!c.empty() && is_align(c[0])) {
    p.align = static_cast<char>(c[0]);
    i = 1;
  }
  if (i < c.size() && (c[i] == '+' || c[i] == '-' || c[i] == ' ')) p.sign = static_cast<char>(c[i++]);
  if (i < c.size() && c[i] == '#') {
    p.alt = true;
    ++i;
  }
  if (i < c.size() && c[i] == '0') {
    p.zero = true;
    ++i;
  }
  if (i < c.size() && c[i] >= '0' && c[i] <= '9') {
    p.width = 0;
    while (i < c.size() && c[i] >= '0' && c[i] <= '9') p.width = std::min<int64_t>(p.width * 10 + (c[i++] - '0'), 1 << 20);
  }
  if (i < c.size() && (c[i] == ',' || c[i] == '_')) p.grouping = static_cast<char>(c[i++]);
  if (i < c.size() && c[i] == '.') {
    ++i;
    if (i >= c.size() || c[i] < '0' || c[i] > '9') raise(error_kind::value, "Format specifier missing precision");
    p.precision = 0;
    while (i < c.size() && c[i] >= '0' && c[i] <= '9') p.precision = std::min(p.precision * 10 + static_cast<int>(c[i++] - '0'), 1 << 16);
  }
  if (i < c.size()) p.type = static_cast<char>(c[i++]);
  if (i < c.size()) raise(error_kind::value, "Invalid format specifier");
  return p;
}

std::string group_digits(const std::string& digits, char sep, size_t every) {
  std::string out;
  const size_t n = digits.size();
  for (size_t i = 0; i < n; ++i) {
    if (i && (n - i) % every == 0) out.push_back(sep);
    out.push_back(digits[i]);
  }
  return out;
}

std::string apply_width(const std::string& sign, const std::string& body, const spec_parts& p, char default_align) {
  char align = p.align ? p.align : (p.zero ? '=' : default_align);
  uint32_t fill = p.align ? p.fill : (p.zero ? '0' : ' ');
  const int64_t len = static_cast<int64_t>(text::count_code_points(sign) + text::count_code_points(body));
  if (p.width <= len) return sign + body;
  const int64_t pad = p.width - len;
  std::string f;
  auto fills = [&](int64_t n) {
    std::string s;
    for (int64_t i = 0; i < n; ++i) text::append_utf8(s, fill);
    return s;
  };
  switch (align) {
    case '<': return sign + body + fills(pad);
    case '^': return fills(pad / 2) + sign + body + fills(pad - pad / 2);
    case '=': return sign + fills(pad) + body;
    default: return fills(pad) + sign + body;
  }
}

std::string c_float(const char* spec, double d) {
  char buf[512];
  int n = std::snprintf(buf, sizeof buf, spec, d);
  if (n < 0) return {};
  if (static_cast<size_t>(n) < sizeof buf) return std::string(buf, static_cast<size_t>(n));
  std::string big(static_cast<size_t>(n) + 1, '\0');
  std::snprintf(big.data(), big.size(), spec, d);
  big.resize(static_cast<size_t>(n));
  return big;
}

}  // namespace

std::string format_spec_value(const value& v, const std::string& spec) {
  if (spec.empty()) return to_str(v);
  const spec_parts p = parse_spec(spec);
  if (v.is_string()) {
    if (p.type && p.type != 's') raise(error_kind::value, fmt::format("Unknown format code '{}' for object of type 'str'", p.type));
    std::string s = v.str();
    if (p.precision >= 0) s = s.substr(0, text::byte_offset(s, static_cast<size_t>(p.precision)));
    return apply_width("", s, p, '<');
  }
  if (v.is_integral() && (p.type == 0 || std::string_view("dbcoxXn").find(p.type) != std::string_view::npos)) {
    const int64_t n = v.get_int();
    const uint64_t mag = n < 0 ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
    std::string digits;
    std::string prefix;
    switch (p.type) {
      case 'b': digits = fmt::format("{:b}", mag); prefix = p.alt ? "0b" : ""; break;
      case 'o': digits = fmt::format("{:o}", mag); prefix = p.alt ? "0o" : ""; break;
      case 'x': digits = fmt::format("{:x}", mag); prefix = p.alt ? "0x" : ""; break;
      case 'X': digits = fmt::format("{:X}", mag); prefix = p.alt ? "0X" : ""; break;
      case 'c': {
        std::string s;
        text::append_utf8(s, static_cast<uint32_t>(n));
        return apply_width("", s, p, '<');
      }
      default: digits = std::to_string(mag);
    }
    if (p.grouping) digits = group_digits(digits, p.grouping, p.type == 0 || p.type == 'd' || p.type == 'n' ? 3 : 4);
    std::string sign = n < 0 ? "-" : p.sign == '+' ? "+" : p.sign == ' ' ? " " : "";
    return apply_width(sign + prefix, digits, p, '>');
  }
  if (v.is_number()) {
    const double d = v.to_double();
    char type = p.type;
    int prec = p.precision;
    std::string body;
    const bool neg = std::signbit(d) && !std::isnan(d);
    const double a = std::fabs(d);
    if (type == 0 && prec < 0) {
      body = float_repr(a);
    } else if (type == '%') {
      body = c_float(fmt::format("%.{}f", prec < 0 ? 6 : prec).c_str(), a * 100) + "%";
    } else {
      if (type == 0) type = 'g';
      if (std::string_view("eEfFgGn").find(type) == std::string_view::npos)
        raise(error_kind::value, fmt::format("Unknown format code '{}' for object of type '{}'", type, type_name(v)));
      if (type == 'n') type = 'g';
      body = c_float(fmt::format("%{}.{}{}", p.alt ? "#" : "", prec < 0 ? 6 : prec, type).c_str(), a);
      if (p.type == 0 && body.find_first_of(".en") == std::string::npos) body += ".0";
    }
    if (p.grouping && std::isfinite(a)) {
      size_t end = body.find_first_of(".eE%");
      if (end == std::string::npos) end = body.size();
      body = group_digits(body.substr(0, end), p.grouping, 3) + body.substr(end);
    }
    std::string sign = neg ? "-" : p.sign == '+' ? "+" : p.sign == ' ' ? " " : "";
    return apply_width(sign, body, p, '>');
  }
  raise(error_kind::type, fmt::format("unsupported format string passed to {}.__format__", type_name(v)));
}

std::string format_string(interpreter& in, const std::string& f, const std::vector<value>& pos, const value& kw,
                          bool markup, int depth = 0) {
  if (depth > 2) raise(error_kind::value, "Max string recursion exceeded");
  std::string out;
  size_t auto_index = 0;
  bool used_auto = false, used_manual = false;
  for (size_t i = 0; i < f.size();) {
    const char c = f[i];
    if (c == '}') {
      if (i + 1 < f.size() && f[i + 1] == '}') {
        out.push_back('}');
        i += 2;
        continue;
      }
      raise(error_kind::value, "Single '}' encountered in format string");
    }
    if (c != '{') {
      out.push_back(c);
      ++i;
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '{') {
      out.push_back('{');
      i += 2;
      continue;
    }
    size_t j = i + 1;
    int nest = 1;
    while (j < f.size()) {
      if (f[j] == '{') ++nest;
      else if (f[j] == '}' && --nest == 0) break;
      ++j;
    }
    if (j >= f.size()) raise(error_kind::value, "expected '}' before end of string");
    const std::string field = f.substr(i + 1, j - i - 1);
    i = j + 1;
    // field_name [!conv] [:spec]
    size_t stop = field.find_first_of("!:");
    std::string name = field.substr(0, stop);
    char conv = 0;
    std::string spec;
    if (stop != std::string::npos && field[stop] == '!') {
      if (stop + 1 >= field.size()) raise(error_kind::value, "end of string while looking for conversion specifier");
      conv = field[stop + 1];
      const size_t colon = stop + 2;
      if (colon < field.size()) {
        if (field[colon] != ':') raise(error_kind::value, "expected ':' after conversion specifier");
        spec = field.substr(colon + 1);
      }
    } else if (stop != std::string::npos) {
      spec = field.substr(stop + 1);
    }
    size_t k = 0;
    while (k < name.size() && name[k] != '.' && name[k] != '[') ++k;
    const std::string first = name.substr(0, k);
    value obj;
    if (first.empty()) {
      if (used_manual) raise(error_kind::value, "cannot switch from manual field specification to automatic field numbering");
      used_auto = true;
      if (auto_index >= pos.size()) raise(error_kind::index, "tuple index out of range");
      obj = pos[auto_index++];
    } else if (std::all_of(first.begin(), first.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
      if (used_auto) raise(error_kind::value, "cannot switch from automatic field numbering to manual field specification");
      used_manual = true;
      const size_t idx = first.size() > 9 ? SIZE_MAX : std::stoul(first);
      if (idx >= pos.size()) raise(error_kind::index, "tuple index out of range");
      obj = pos[idx];
    } else {
      const value* v = kw.is_dict() ? kw.dct().find(first) : nullptr;
      if (!v) raise(error_kind::key, repr_string(first));
      obj = *v;
    }
    while (k < name.size()) {
      if (name[k] == '.') {
        size_t e = k + 1;
        while (e < name.size() && name[e] != '.' && name[e] != '[') ++e;
        obj = in.getattr(obj, name.substr(k + 1, e - k - 1));
        k = e;
      } else {
        const size_t e = name.find(']', k);
        if (e == std::string::npos) raise(error_kind::value, "Missing ']' in format string");
        const std::string key = name.substr(k + 1, e - k - 1);
        const bool numeric = !key.empty() && key.size() < 18 &&
                             std::all_of(key.begin(), key.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
        obj = in.getitem(obj, numeric ? value::integer(std::stoll(key)) : value::string(key));
        k = e + 1;
      }
    }
    if (conv == 'r' || conv == 'a') obj = value::string(repr(obj));
    else if (conv == 's') obj = value::string(to_str(obj));
    else if (conv) raise(error_kind::value, fmt::format("Unknown conversion specifier {}", conv));
    if (spec.find('{') != std::string::npos) spec = format_string(in, spec, pos, kw, false, depth + 1);
    std::string piece = format_spec_value(obj, spec);
    if (markup && !obj.is_markup()) piece = html_escape(piece);
    out += piece;
    check_string_size(out.size());
  }
  return out;
}

namespace {

value call_str_method(interpreter& in, const value& self, const std::string& name, call_args& args) {
  const std::string& s = self.str();
  charge_bytes(s.size());
  const bool mk = self.is_markup();
  arg_binder b(name.c_str(), args);
  auto str_result = [&](std::string r) { return value::string(std::move(r), mk); };
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const value chars = b.get("chars", value::none());
    b.done();
    return str_result(strip_impl(s, chars, name != "rstrip", name != "lstrip"));
  }
  if (name == "split" || name == "rsplit") {
    const value sep = b.get("sep", value::none());
    const int64_t maxsplit = int_arg(b.get("maxsplit", value::integer(-1)), "maxsplit");
    b.done();
    std::vector<std::string> parts;
    if (sep.is_none()) parts = name == "split" ? split_ws(s, maxsplit) : rsplit_ws(s, maxsplit);
    else {
      const std::string sp = arg_text(sep, mk, "sep");
      parts = name == "split" ? split_sep(s, sp, maxsplit) : rsplit_sep(s, sp, maxsplit);
    }
    return make_string_list(parts, mk);
  }
  if (name == "splitlines") {
    const bool keep = truthy(b.get("keepends", value::boolean(false)));
    b.done();
    return make_string_list(splitlines(s, keep), mk);
  }
  if (name == "startswith" || name == "endswith") {
    value affix;
    if (!b.opt(name == "startswith" ? "prefix" : "suffix", affix))
      raise(error_kind::type, fmt::format("{}() takes at least 1 argument (0 given)", name));
    const value start = b.get("start", value::none());
    const value end = b.get("end", value::none());
    b.done();
    return value::boolean(affix_impl(s, affix, start, end, name == "endswith", name.c_str()));
  }
  if (name == "replace") {
    value old, rep;
    if (!b.opt("old", old) || !b.opt("new", rep)) raise(error_kind::type, "replace expected at least 2 arguments");
    const int64_t count = int_arg(b.get("count", value::integer(-1)), "count");
    b.done();
    return str_result(replace_impl(s, arg_text(old, mk, "replace() argument 1"), arg_text(rep, mk, "replace() argument 2"), count));
  }
  if (name == "upper") return b.done(), str_result(text::upper(s));
  if (name == "lower" || name == "casefold") return b.done(), str_result(text::lower(s));
  if (name == "title") return b.done(), str_result(text::title(s));
  if (name == "capitalize") return b.done(), str_result(text::capitalize(s));
  if (name == "swapcase") return b.done(), str_result(text::swapcase(s));
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex") {
    value sub;
    if (!b.opt("sub", sub)) raise(error_kind::type, fmt::format("{}() takes at least 1 argument (0 given)", name));
    const value start = b.get("start", value::none());
    const value end = b.get("end", value::none());
    b.done();
    const int64_t r = find_impl(s, str_arg(sub, "must be str"), start, end, name[0] == 'r');
    if (r < 0 && (name == "index" || name == "rindex")) raise(error_kind::value, "substring not found");
    return value::integer(r);
  }
  if (name == "count") {
    value sub;
    if (!b.opt("sub", sub)) raise(error_kind::type, "count() takes at least 1 argument (0 given)");
    const value start = b.get("start", value::none());
    const value end = b.get("end", value::none());
    b.done();
    const std::string t = str_arg(sub, "must be str");
    const bool ascii = text::is_ascii(s);
    const int64_t len = static_cast<int64_t>(ascii ? s.size() : text::count_code_points(s));
    int64_t lo, hi;
    bounds(start, end, len, lo, hi);
    if (hi < lo) return value::integer(0);
    if (t.empty()) return value::integer(hi - lo + 1);
    const std::string_view hay = cp_range(s, ascii, lo, hi);
    int64_t n = 0;
    for (size_t p = str_find(hay, t); p != std::string_view::npos; p = str_find(hay, t, p + t.size())) ++n;
    return value::integer(n);
  }
  if (name == "join") {
    value it;
    if (!b.opt("iterable", it)) raise(error_kind::type, "join() takes exactly one argument (0 given)");
    b.done();
    std::string out;
    size_t idx = 0;
    for (const auto& x : iterate(it)) {
      if (!x.is_string())
        raise(error_kind::type, fmt::format("sequence item {}: expected str instance, {} found", idx, type_name(x)));
      if (idx++) out += s;
      out += mk && !x.is_markup() ? html_escape(x.str()) : x.str();
      check_string_size(out.size());
    }
    return str_result(std::move(out));
  }
  if (name == "format") {
    const value kw = value::dict();
    value kwd = kw;
    for (auto& [k, v] : args.kw) dict_set(kwd, value::string(k), v);
    return str_result(format_string(in, s, args.pos, kwd, mk));
  }
  if (name == "format_map") {
    value m;
    if (!b.opt("mapping", m)) raise(error_kind::type, "format_map() takes exactly one argument (0 given)");
    b.done();
    return str_result(format_string(in, s, {}, m, mk));
  }
  if (name.rfind("is", 0) == 0 && name != "isdisjoint") return b.done(), value::boolean(str_predicate(s, name));
  if (name == "center" || name == "ljust" || name == "rjust") {
    value w;
    if (!b.opt("width", w)) raise(error_kind::type, fmt::format("{}() takes at least 1 argument (0 given)", name));
    const value fill = b.get("fillchar", value());
    b.done();
    return str_result(justify(s, int_arg(w, "width"), fill, name == "center" ? 'c' : name == "ljust" ? 'l' : 'r'));
  }
  if (name == "zfill") {
    const int64_t w = int_arg(b.get("width", value::integer(0)), "width");
    b.done();
    const int64_t n = static_cast<int64_t>(text::count_code_points(s));
    if (w <= n) return str_result(s);
    check_string_size(static_cast<size_t>(w));
    const size_t sign = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
    return str_result(s.substr(0, sign) + std::string(static_cast<size_t>(w - n), '0') + s.substr(sign));
  }
  if (name == "partition" || name == "rpartition") {
    value sep;
    if (!b.opt("sep", sep)) raise(error_kind::type, fmt::format("{}() takes exactly one argument (0 given)", name));
    b.done();
    const std::string sp = arg_text(sep, mk, "sep");
    if (sp.empty()) raise(error_kind::value, "empty separator");
    const size_t f = name == "partition" ? str_find(s, sp) : str_rfind(s, sp);
    std::vector<value> parts;
    if (f == std::string::npos) {
      if (name == "partition") parts = {str_result(s), str_result(""), str_result("")};
      else parts = {str_result(""), str_result(""), str_result(s)};
    } else {
      parts = {str_result(s.substr(0, f)), str_result(sp), str_result(s.substr(f + sp.size()))};
    }
    return value::tuple(std::move(parts));
  }
  if (name == "removeprefix" || name == "removesuffix") {
    value a;
    if (!b.opt("affix", a)) raise(error_kind::type, fmt::format("{}() takes exactly one argument (0 given)", name));
    b.done();
    const std::string x = arg_text(a, mk, name.c_str());
    if (name == "removeprefix" && s.compare(0, x.size(), x) == 0) return str_result(s.substr(x.size()));
    if (name == "removesuffix" && !x.empty() && s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0)
      return str_result(s.substr(0, s.size() - x.size()));
    return str_result(s);
  }
  if (name == "expandtabs") {
    const int64_t tab = int_arg(b.get("tabsize", value::integer(8)), "tabsize");
    b.done();
    std::string out;
    int64_t col = 0;
    for (uint32_t c : text::to_code_points(s)) {
      if (c == '\t') {
        if (tab > 0) {
          const int64_t n = tab - col % tab;
          check_string_size(out.size() + static_cast<size_t>(n));
          out.append(static_cast<size_t>(n), ' ');
          col += n;
        }
      } else {
        text::append_utf8(out, c);
        col = (c == '\n' || c == '\r') ? 0 : col + 1;
      }
    }
    return str_result(std::move(out));
  }
  if (name == "escape" && mk) return b.done(), self;
  if (name == "unescape" || name == "striptags")
    raise(error_kind::unsupported, fmt::format("Markup.{}() is not supported", name));
  raise(error_kind::unsupported, fmt::format("str.{}() is not supported", name));
}

value call_list_method(const value& self, const std::string& name, call_args& args) {
  auto& items = self.seq().items;
  charge_steps(1 + items.size() / 8);
  arg_binder b(name.c_str(), args);
  if (name == "pop") {
    value idx = b.get("index", value::integer(-1));
    b.done();
    if (items.empty()) raise(error_kind::index, "pop from empty list");
    int64_t i = int_arg(idx, "index");
    const int64_t n = static_cast<int64_t>(items.size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) raise(error_kind::index, "pop index out of range");
    value r = items[static_cast<size_t>(i)];
    items.erase(items.begin() + i);
    return r;
  }
  if (name == "clear") {
    b.done();
    items.clear();
    return value::none();
  }
  if (name == "copy") return b.done(), value::list(items);
  if (name == "count") {
    value x;
    if (!b.opt("value", x)) raise(error_kind::type, "count() takes exactly one argument (0 given)");
    b.done();
    int64_t n = 0;
    for (const auto& y : items) n += equal(y, x);
    return value::integer(n);
  }
  if (name == "index") {
    value x;
    if (!b.opt("value", x)) raise(error_kind::type, "index expected at least 1 argument, got 0");
    const value start = b.get("start", value::none());
    const value stop = b.get("stop", value::none());
    b.done();
    int64_t lo, hi;
    bounds(start, stop, static_cast<int64_t>(items.size()), lo, hi);
    for (int64_t i = lo; i < hi; ++i)
      if (equal(items[static_cast<size_t>(i)], x)) return value::integer(i);
    raise(error_kind::value, fmt::format("{} is not in {}", repr(x), self.is_tuple() ? "tuple" : "list"));
  }
  raise(error_kind::unsupported, fmt::format("{}.{}() is not supported", type_name(self), name));
}

value call_dict_method(const value& self, const std::string& name, call_args& args) {
  const auto& d = self.dct();
  charge_steps(1 + d.items.size() / 8);
  arg_binder b(name.c_str(), args);
  if (name == "get") {
    value key;
    if (!b.opt("key", key)) raise(error_kind::type, "get expected at least 1 argument, got 0");
    const value dflt = b.get("default", value::none());
    b.done();
    require_hashable(key);
    const value* v = d.find(key);
    return v ? *v : dflt;
  }
  if (name == "items" || name == "keys" || name == "values") {
    b.done();
    std::vector<value> out;
    out.reserve(d.items.size());
    for (const auto& [k, v] : d.items) {
      if (name == "items") out.push_back(value::tuple({k, v}));
      else out.push_back(name == "keys" ? k : v);
    }
    return value::sequence(name == "items" ? seq_tag::dict_items : name == "keys" ? seq_tag::dict_keys : seq_tag::dict_values,
                           std::move(out));
  }
  if (name == "copy") {
    b.done();
    return make_dict(d.items);
  }
  if (name == "fromkeys") {
    value it;
    if (!b.opt("iterable", it)) raise(error_kind::type, "fromkeys expected at least 1 argument, got 0");
    const value v = b.get("value", value::none());
    b.done();
    value out = value::dict();
    for (auto& k : iterate(it)) {
      require_hashable(k);
      dict_set(out, k, v);
    }
    return out;
  }
  raise(error_kind::unsupported, fmt::format("dict.{}() is not supported", name));
}

value bound(const value& self, std::string name, value (*fn)(interpreter&, const value&, const std::string&, call_args&)) {
  const std::string owner = type_name(self);
  return make_native(
      name, [self, name, fn](interpreter& in, call_args& a) { return fn(in, self, name, a); }, owner);
}

value str_trampoline(interpreter& in, const value& self, const std::string& name, call_args& a) {
  return call_str_method(in, self, name, a);
}
value list_trampoline(interpreter&, const value& self, const std::string& name, call_args& a) {
  return call_list_method(self, name, a);
}
value dict_trampoline(interpreter&, const value& self, const std::string& name, call_args& a) {
  return call_dict_method(self, name, a);
}
value unsupported_trampoline(interpreter&, const value& self, const std::string& name, call_args&) {
  raise(error_kind::unsupported, fmt::format("{}.{}() is not supported", type_name(self), name));
}
value int_trampoline(interpreter&, const value& self, const std::string& name, call_args& a) {
  arg_binder b(name.c_str(), a);
  b.done();
  if (name == "conjugate") return self.is_float() ? self : value::integer(self.get_int());
  if (name == "is_integer") return value::boolean(std::isfinite(self.get_float()) && std::floor(self.get_float()) == self.get_float());
  if (name == "bit_length") {
    uint64_t m = self.get_int() < 0 ? 0 - static_cast<uint64_t>(self.get_int()) : static_cast<uint64_t>(self.get_int());
    int64_t n = 0;
    while (m) {
      ++n;
      m >>= 1;
    }
    return value::integer(n);
  }
  raise(error_kind::unsupported, fmt::format("{}.{}() is not supported", type_name(self), name));
}

}  // namespace

bool builtin_getattr(const value& obj, std::string_view name, value& out, bool& unsafe) {
  unsafe = false;
  const std::string n(name);
  switch (obj.k()) {
    case kind::string:
      if (str_methods().count(name) || (obj.is_markup() && (name == "escape" || name == "unescape" || name == "striptags"))) {
        out = bound(obj, n, str_trampoline);
        return true;
      }
      return false;
    case kind::sequence: {
      const seq_tag tag = obj.seq().tag;
      if (tag == seq_tag::list) {
        if (name == "append" || name == "extend" || name == "insert" || name == "remove" || name == "reverse" ||
            name == "sort") {
          unsafe = true;
          return true;
        }
        if (name == "pop" || name == "clear" || name == "copy" || name == "count" || name == "index") {
          out = bound(obj, n, list_trampoline);
          return true;
        }
        return false;
      }
      if (tag == seq_tag::tuple || tag == seq_tag::range) {
        if (name == "count" || name == "index") {
          out = bound(obj, n, list_trampoline);
          return true;
        }
        if (tag == seq_tag::range && (name == "start" || name == "stop" || name == "step")) {
          const auto& s = obj.seq();
          out = value::integer(name == "start" ? s.r_start : name == "stop" ? s.r_stop : s.r_step);
          return true;
        }
        if (obj.seq().group && (name == "grouper" || name == "list")) {
          out = obj.seq().items[name == "grouper" ? 0 : 1];
          return true;
        }
        return false;
      }
      if (name == "mapping" || (tag != seq_tag::dict_values && name == "isdisjoint")) {
        out = bound(obj, n, unsupported_trampoline);
        return true;
      }
      return false;
    }
    case kind::dict:
      if (name == "clear" || name == "pop" || name == "popitem" || name == "setdefault" || name == "update") {
        unsafe = true;
        return true;
      }
      if (name == "get" || name == "items" || name == "keys" || name == "values" || name == "copy" || name == "fromkeys") {
        out = bound(obj, n, dict_trampoline);
        return true;
      }
      return false;
    case kind::boolean:
    case kind::integer:
    case kind::floating:
      if (name == "real") {
        out = obj.is_float() ? obj : value::integer(obj.get_int());
        return true;
      }
      if (name == "imag") {
        out = obj.is_float() ? value::floating(0.0) : value::integer(0);
        return true;
      }
      if (!obj.is_float() && (name == "numerator" || name == "denominator")) {
        out = value::integer(name == "numerator" ? obj.get_int() : 1);
        return true;
      }
      if (name == "conjugate" || (obj.is_float() ? (name == "is_integer" || name == "hex" || name == "as_integer_ratio" ||
                                                     name == "fromhex")
                                                  : (name == "bit_length" || name == "bit_count" || name == "to_bytes" ||
                                                     name == "from_bytes" || name == "as_integer_ratio"))) {
        out = bound(obj, n, int_trampoline);
        return true;
      }
      return false;
    case kind::iterator:
      if (name == "send" || name == "throw" || name == "close") {
        out = bound(obj, n, unsupported_trampoline);
        return true;
      }
      return false;
    default: return false;
  }
}

}  // namespace hearth::jinja
