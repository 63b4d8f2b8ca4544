// Python's arithmetic and membership operators on template values, and printf-style "%" formatting.
#include <cmath>
#include <cstdio>

#include "tokenizer/template/text.h"
#include "tokenizer/template/value.h"

namespace hearth::jinja {

namespace {

[[noreturn]] void unsupported_operands(const char* op, const value& a, const value& b) {
  raise(error_kind::type, fmt::format("unsupported operand type(s) for {}: {} and {}", op, repr_string(type_name(a)),
                                      repr_string(type_name(b))));
}

void check_undefined(const value& a, const value& b) {
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
}

[[noreturn]] void overflow() {
  raise(error_kind::unsupported, "integer overflow (Python would switch to a big integer)");
}

int64_t checked_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) overflow();
  return r;
}
int64_t checked_sub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) overflow();
  return r;
}
int64_t checked_mul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) overflow();
  return r;
}

std::string escaped_text(const value& v) { return v.is_markup() ? v.str() : html_escape(to_str(v)); }

value repeat(const value& seq, int64_t n) {
  if (n < 0) n = 0;
  if (seq.is_string()) {
    const std::string& s = seq.str();
    if (!s.empty() && static_cast<uint64_t>(n) > current_size_limits().max_string_bytes / s.size())
      check_string_size(current_size_limits().max_string_bytes + 1);
    std::string out;
    charge_bytes(s.size() * static_cast<size_t>(n));
    out.reserve(s.size() * static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out += s;
    return value::string(std::move(out), seq.is_markup());
  }
  const auto& items = seq.seq().items;
  if (!items.empty() && static_cast<uint64_t>(n) > current_size_limits().max_sequence_items / items.size())
    check_sequence_size(current_size_limits().max_sequence_items + 1);
  std::vector<value> out;
  charge_steps(1 + items.size() * static_cast<size_t>(n) / 8);
  out.reserve(items.size() * static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), items.begin(), items.end());
  return value::sequence(seq.seq().tag, std::move(out));
}

// Python's float floor division and modulo (Objects/floatobject.c float_divmod).
void float_divmod(double vx, double wx, double& floordiv, double& mod) {
  mod = std::fmod(vx, wx);
  double div = (vx - mod) / wx;
  if (mod != 0.0) {
    if ((wx < 0) != (mod < 0)) {
      mod += wx;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, wx);
  }
  if (div != 0.0) {
    floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
  } else {
    floordiv = std::copysign(0.0, vx / wx);
  }
}

bool concat_seq(const value& a, const value& b) {
  return a.is_seq() && b.is_seq() && a.seq().tag == b.seq().tag &&
         (a.seq().tag == seq_tag::list || a.seq().tag == seq_tag::tuple);
}

}  // namespace

value op_add(const value& a, const value& b) {
  check_undefined(a, b);
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return value::integer(checked_add(a.get_int(), b.get_int()));
    return value::floating(a.to_double() + b.to_double());
  }
  if (a.is_string() && b.is_string()) {
    check_string_size(a.str().size() + b.str().size());
    charge_bytes(a.str().size() + b.str().size());
    if (a.is_markup() || b.is_markup()) return value::string(escaped_text(a) + escaped_text(b), true);
    return value::string(a.str() + b.str());
  }
  if (a.is_markup() && !b.is_string()) unsupported_operands("+", a, b);
  if (concat_seq(a, b)) {
    charge_steps(1 + (a.seq().items.size() + b.seq().items.size()) / 8);
    std::vector<value> items = a.seq().items;
    items.insert(items.end(), b.seq().items.begin(), b.seq().items.end());
    return value::sequence(a.seq().tag, std::move(items));
  }
  if (a.is_string() || (a.is_seq() && (a.is_list() || a.is_tuple())))
    raise(error_kind::type, fmt::format("can only concatenate {} (not \"{}\") to {}", type_name(a), type_name(b), type_name(a)));
  unsupported_operands("+", a, b);
}

value op_sub(const value& a, const value& b) {
  check_undefined(a, b);
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return value::integer(checked_sub(a.get_int(), b.get_int()));
    return value::floating(a.to_double() - b.to_double());
  }
  unsupported_operands("-", a, b);
}

value op_mul(const value& a, const value& b) {
  check_undefined(a, b);
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return value::integer(checked_mul(a.get_int(), b.get_int()));
    return value::floating(a.to_double() * b.to_double());
  }
  auto seq_like = [](const value& v) { return v.is_string() || v.is_list() || v.is_tuple(); };
  if (seq_like(a) && b.is_integral()) return repeat(a, b.get_int());
  if (a.is_integral() && seq_like(b)) return repeat(b, a.get_int());
  if (seq_like(a) || seq_like(b))
    raise(error_kind::type, fmt::format("can't multiply sequence by non-int of type {}",
                                        repr_string(type_name(seq_like(a) ? b : a))));
  unsupported_operands("*", a, b);
}

value op_div(const value& a, const value& b) {
  check_undefined(a, b);
  if (a.is_number() && b.is_number()) {
    if (b.to_double() == 0.0) raise(error_kind::zero_division, "division by zero");
    return value::floating(a.to_double() / b.to_double());
  }
  unsupported_operands("/", a, b);
}

value op_floordiv(const value& a, const value& b) {
  check_undefined(a, b);
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) {
      const int64_t x = a.get_int(), y = b.get_int();
      if (y == 0) raise(error_kind::zero_division, "integer division or modulo by zero");
      if (x == INT64_MIN && y == -1) overflow();
      int64_t q = x / y;
      if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
      return value::integer(q);
    }
    if (b.to_double() == 0.0) raise(error_kind::zero_division, "float floor division by zero");
    double q, m;
    float_divmod(a.to_double(), b.to_double(), q, m);
    return value::floating(q);
  }
  unsupported_operands("//", a, b);
}

value op_mod(const value& a, const value& b) {
  check_undefined(a, b);
  if (a.is_string()) return value::string(percent_format(a.str(), b, a.is_markup()), a.is_markup());
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) {
      const int64_t x = a.get_int(), y = b.get_int();
      if (y == 0) raise(error_kind::zero_division, "integer modulo by zero");
      if (y == -1) return value::integer(0);
      int64_t r = x % y;
      if (r != 0 && ((r < 0) != (y < 0))) r += y;
      return value::integer(r);
    }
    if (b.to_double() == 0.0) raise(error_kind::zero_division, "float modulo");
    double q, m;
    float_divmod(a.to_double(), b.to_double(), q, m);
    return value::floating(m);
  }
  unsupported_operands("%", a, b);
}

value op_pow(const value& a, const value& b) {
  check_undefined(a, b);
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral() && b.get_int() >= 0) {
      int64_t base = a.get_int(), e = b.get_int(), r = 1;
      while (e > 0) {
        if (e & 1) r = checked_mul(r, base);
        e >>= 1;
        if (e) base = checked_mul(base, base);
      }
      return value::integer(r);
    }
    const double x = a.to_double(), y = b.to_double();
    if (x == 0.0 && y < 0) raise(error_kind::zero_division, "0.0 cannot be raised to a negative power");
    if (x < 0 && std::floor(y) != y) raise(error_kind::unsupported, "complex results of ** are not supported");
    const double r = std::pow(x, y);
    if (std::isinf(r) && std::isfinite(x) && std::isfinite(y)) raise(error_kind::value, "(34, 'Numerical result out of range')");
    return value::floating(r);
  }
  unsupported_operands("** or pow()", a, b);
}

value op_neg(const value& a) {
  if (a.is_undefined()) fail_undefined(a);
  if (a.is_integral()) {
    if (a.get_int() == INT64_MIN) overflow();
    return value::integer(-a.get_int());
  }
  if (a.is_float()) return value::floating(-a.get_float());
  raise(error_kind::type, fmt::format("bad operand type for unary -: {}", repr_string(type_name(a))));
}

value op_pos(const value& a) {
  if (a.is_undefined()) fail_undefined(a);
  if (a.is_integral()) return value::integer(a.get_int());
  if (a.is_float()) return a;
  raise(error_kind::type, fmt::format("bad operand type for unary +: {}", repr_string(type_name(a))));
}

bool op_contains(const value& c, const value& item) {
  switch (c.k()) {
    case kind::undefined: return false;
    case kind::string:
      if (!item.is_string())
        raise(error_kind::type, fmt::format("'in <string>' requires string as left operand, not {}", type_name(item)));
      return str_find(c.str(), item.str()) != std::string_view::npos;
    case kind::sequence:
      for (const auto& x : c.seq().items)
        if (equal(x, item)) return true;
      return false;
    case kind::dict:
      require_hashable(item);
      return c.dct().find(item) != nullptr;
    case kind::iterator: {
      auto& it = c.iter();
      while (it.pos < it.items.size())
        if (equal(it.items[it.pos++], item)) return true;
      it.fail_if_exhausted();
      return false;
    }
    case kind::object:
      if (c.as<object_data>()->iterable()) {
        for (const auto& x : c.as<object_data>()->items())
          if (equal(x, item)) return true;
        return false;
      }
      break;
    default: break;
  }
  raise(error_kind::type, fmt::format("argument of type {} is not iterable", repr_string(type_name(c))));
}

// ---- printf-style formatting ----

namespace {

std::string pad(std::string s, size_t width, bool left, char fill) {
  const size_t n = text::count_code_points(s);
  if (n >= width) return s;
  const std::string padding(width - n, fill);
  return left ? s + padding : padding + s;
}

std::string c_format(const char* spec, double d) {
  char buf[512];
  const int n = std::snprintf(buf, sizeof buf, spec, d);
  if (n < 0) return {};
  if (static_cast<size_t>(n) < sizeof buf) return std::string(buf, static_cast<size_t>(n));
  std::string big(static_cast<size_t>(n) + 1, '\0');
  std::snprintf(big.data(), big.size(), spec, d);
  big.resize(static_cast<size_t>(n));
  return big;
}

}  // namespace

std::string percent_format(const std::string& f, const value& args, bool markup) {
  std::vector<value> pos;
  const value* mapping = nullptr;
  if (args.is_tuple()) pos = args.seq().items;
  else if (args.is_dict()) mapping = &args;
  else pos.push_back(args);
  if (args.is_dict()) pos.push_back(args);
  size_t next_arg = 0;
  bool used_mapping = false;
  auto take = [&]() -> value {
    if (next_arg >= pos.size()) raise(error_kind::type, "not enough arguments for format string");
    return pos[next_arg++];
  };
  std::string out;
  for (size_t i = 0; i < f.size();) {
    if (f[i] != '%') {
      out.push_back(f[i++]);
      continue;
    }
    ++i;
    if (i >= f.size()) raise(error_kind::value, "incomplete format");
    value arg;
    bool have_arg = false;
    if (f[i] == '(') {
      const size_t close = f.find(')', i);
      if (close == std::string::npos) raise(error_kind::value, "incomplete format key");
      if (!mapping) raise(error_kind::type, "format requires a mapping");
      const value* v = mapping->dct().find(std::string_view(f).substr(i + 1, close - i - 1));
      if (!v) raise(error_kind::key, repr_string(f.substr(i + 1, close - i - 1)));
      arg = *v;
      have_arg = true;
      used_mapping = true;
      i = close + 1;
    }
    bool left = false, zero = false, plus = false, space = false, alt = false;
    for (; i < f.size(); ++i) {
      if (f[i] == '-') left = true;
      else if (f[i] == '0') zero = true;
      else if (f[i] == '+') plus = true;
      else if (f[i] == ' ') space = true;
      else if (f[i] == '#') alt = true;
      else break;
    }
    size_t width = 0;
    if (i < f.size() && f[i] == '*') {
      const value w = take();
      if (!w.is_integral()) raise(error_kind::type, "* wants int");
      width = static_cast<size_t>(std::max<int64_t>(0, std::min<int64_t>(w.get_int(), 1 << 20)));
      ++i;
    } else {
      while (i < f.size() && f[i] >= '0' && f[i] <= '9') width = std::min<size_t>(width * 10 + (f[i++] - '0'), 1 << 20);
    }
    int precision = -1;
    if (i < f.size() && f[i] == '.') {
      ++i;
      precision = 0;
      if (i < f.size() && f[i] == '*') {
        const value p = take();
        if (!p.is_integral()) raise(error_kind::type, "* wants int");
        precision = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(p.get_int(), 1 << 16)));
        ++i;
      } else {
        while (i < f.size() && f[i] >= '0' && f[i] <= '9') precision = std::min(precision * 10 + (f[i++] - '0'), 1 << 16);
      }
    }
    while (i < f.size() && (f[i] == 'h' || f[i] == 'l' || f[i] == 'L')) ++i;
    if (i >= f.size()) raise(error_kind::value, "incomplete format");
    const char conv = f[i++];
    if (conv == '%') {
      out.push_back('%');
      continue;
    }
    if (!have_arg) arg = take();
    std::string piece;
    char fill = ' ';
    switch (conv) {
      case 's':
      case 'r':
      case 'a': {
        piece = conv == 's' ? to_str(arg) : repr(arg);
        if (markup && !(conv == 's' && arg.is_markup())) piece = html_escape(piece);
        if (precision >= 0) piece = piece.substr(0, text::byte_offset(piece, static_cast<size_t>(precision)));
        break;
      }
      case 'd':
      case 'i':
      case 'u':
      case 'x':
      case 'X':
      case 'o': {
        int64_t n = 0;
        std::string big;  // a float too large for int64, printed exactly as Python would
        if (arg.is_integral()) n = arg.get_int();
        else if (arg.is_float() && (conv == 'd' || conv == 'i' || conv == 'u')) {
          const double d = arg.get_float();
          if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) big = float_to_int_text(d);
          else n = static_cast<int64_t>(std::trunc(d));
        } else {
          raise(error_kind::type, fmt::format("%{} format: {} is required, not {}", conv,
                                              conv == 'd' || conv == 'i' || conv == 'u' ? "a real number" : "an integer",
                                              type_name(arg)));
        }
        const bool neg = big.empty() ? n < 0 : big[0] == '-';
        const uint64_t mag = neg ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
        std::string digits = !big.empty() ? big.substr(neg ? 1 : 0)
                             : conv == 'x' ? fmt::format("{:x}", mag)
                             : conv == 'X' ? fmt::format("{:X}", mag)
                             : conv == 'o' ? fmt::format("{:o}", mag)
                                           : fmt::format("{}", mag);
        if (precision >= 0 && digits.size() < static_cast<size_t>(precision))
          digits = std::string(static_cast<size_t>(precision) - digits.size(), '0') + digits;
        std::string prefix = neg ? "-" : plus ? "+" : space ? " " : "";
        if (alt && conv == 'x') prefix += "0x";
        if (alt && conv == 'X') prefix += "0X";
        if (alt && conv == 'o') prefix += "0o";
        if (zero && !left && width > prefix.size() + digits.size())
          digits = std::string(width - prefix.size() - digits.size(), '0') + digits;
        piece = prefix + digits;
        break;
      }
      case 'e':
      case 'E':
      case 'f':
      case 'F':
      case 'g':
      case 'G': {
        if (!arg.is_number()) raise(error_kind::type, fmt::format("must be real number, not {}", type_name(arg)));
        std::string spec = "%";
        if (plus) spec += '+';
        if (space) spec += ' ';
        if (alt) spec += '#';
        if (zero && !left) spec += '0';
        if (width && zero && !left) spec += std::to_string(width);
        spec += '.' + std::to_string(precision < 0 ? 6 : precision);
        spec += conv;
        piece = c_format(spec.c_str(), arg.to_double());
        break;
      }
      case 'c': {
        if (arg.is_integral()) {
          if (arg.get_int() < 0 || arg.get_int() > 0x10FFFF) raise(error_kind::value, "%c arg not in range(0x110000)");
          text::append_utf8(piece, static_cast<uint32_t>(arg.get_int()));
        } else if (arg.is_string() && str_len(arg) == 1) {
          piece = arg.str();
        } else {
          raise(error_kind::type, "%c requires int or char");
        }
        break;
      }
      default:
        raise(error_kind::value, fmt::format("unsupported format character {} (0x{:x}) at index {}",
                                             repr_string(std::string(1, conv)), static_cast<unsigned char>(conv), i - 1));
    }
    out += pad(piece, width, left, fill);
  }
  if (!mapping && next_arg < pos.size()) raise(error_kind::type, "not all arguments converted during string formatting");
  (void)used_mapping;
  check_string_size(out.size());
  return out;
}

}  // namespace hearth::jinja
