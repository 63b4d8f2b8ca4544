// Python semantics on template values: str()/repr(), ==, <, truthiness, len() and iteration, with
// the exact spellings Python prints (True, None, 1.0, 1e-05, ['a', 1], {'k': 'v'}, Markup('x')).
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string.h>

#include "tokenizer/template/text.h"
#include "tokenizer/template/value.h"

namespace hearth::jinja {

const char* error_kind_name(error_kind k) {
  switch (k) {
    case error_kind::syntax: return "TemplateSyntaxError";
    case error_kind::undefined: return "UndefinedError";
    case error_kind::type: return "TypeError";
    case error_kind::value: return "ValueError";
    case error_kind::security: return "SecurityError";
    case error_kind::raised: return "TemplateError";
    case error_kind::limit: return "LimitExceeded";
    case error_kind::unsupported: return "Unsupported";
    case error_kind::runtime: return "TemplateRuntimeError";
    case error_kind::template_assertion: return "TemplateAssertionError";
    case error_kind::zero_division: return "ZeroDivisionError";
    case error_kind::overflow: return "OverflowError";
    case error_kind::index: return "IndexError";
    case error_kind::key: return "KeyError";
    case error_kind::assertion: return "AssertionError";
    case error_kind::filter_argument: return "FilterArgumentError";
    case error_kind::python_runtime: return "RuntimeError";
  }
  return "Error";
}

template_error::template_error(error_kind k, const std::string& message, int line)
    : hearth::error(line > 0 ? fmt::format("chat template line {}: {}", line, message)
                             : fmt::format("chat template: {}", message),
                    k == error_kind::unsupported ? hearth::error_kind::unsupported : hearth::error_kind::invalid_argument),
      kind_(k),
      line_(line),
      message_(message) {}

void raise(error_kind k, std::string message) { throw raw_error{k, std::move(message)}; }

size_limits& current_size_limits() {
  thread_local size_limits limits;
  return limits;
}
void check_string_size(size_t n) {
  if (n > current_size_limits().max_string_bytes)
    raise(error_kind::limit, fmt::format("string of {} bytes exceeds the template limit", n));
}
void charge_steps(uint64_t n) {
  size_limits& l = current_size_limits();
  l.steps += n;
  if (l.steps > l.max_steps)
    raise(error_kind::limit, fmt::format("template stopped after {} evaluation steps (infinite loop?)", l.max_steps));
}

size_t str_find(std::string_view hay, std::string_view needle, size_t pos) {
  if (pos > hay.size()) return std::string_view::npos;
  if (needle.empty()) return pos;
  const size_t m = needle.size();
  uint64_t work = 0;
  size_t i = pos;
  while (i + m <= hay.size()) {
    const void* p = std::memchr(hay.data() + i, needle[0], hay.size() - m + 1 - i);
    if (!p) {
      work += hay.size() - i;
      break;
    }
    const size_t j = static_cast<size_t>(static_cast<const char*>(p) - hay.data());
    work += j - i + m;
    if (work > (1u << 20)) {
      charge_bytes(work);
      work = 0;
    }
    if (std::memcmp(hay.data() + j, needle.data(), m) == 0) {
      charge_bytes(work);
      return j;
    }
    i = j + 1;
  }
  charge_bytes(work);
  return std::string_view::npos;
}

size_t str_rfind(std::string_view hay, std::string_view needle) {
  const size_t m = needle.size();
  if (m == 0) return hay.size();
  if (m > hay.size()) return std::string_view::npos;
  uint64_t work = 0;
  size_t end = hay.size() - m + 1;  // candidates start in [0, end)
  while (end > 0) {
    const void* p = memrchr(hay.data(), needle[0], end);
    if (!p) {
      work += end;
      break;
    }
    const size_t j = static_cast<size_t>(static_cast<const char*>(p) - hay.data());
    work += end - j + m;
    if (work > (1u << 20)) {
      charge_bytes(work);
      work = 0;
    }
    if (std::memcmp(hay.data() + j, needle.data(), m) == 0) {
      charge_bytes(work);
      return j;
    }
    end = j;
  }
  charge_bytes(work);
  return std::string_view::npos;
}

void check_sequence_size(size_t n) {
  if (n > current_size_limits().max_sequence_items)
    raise(error_kind::limit, fmt::format("sequence of {} items exceeds the template limit", n));
}

// ---- construction ----

value value::string(std::string s, bool markup) {
  value v;
  v.k_ = kind::string;
  v.markup_ = markup;
  auto d = std::make_shared<str_data>();
  d->s = std::move(s);
  v.ptr_ = std::move(d);
  return v;
}

namespace {
int depth_of(const std::vector<value>& items) {
  int d = 0;
  for (const auto& x : items) d = std::max(d, x.depth());
  if (d + 1 > max_value_depth) raise(error_kind::limit, "value nested too deeply");
  return d + 1;
}
}  // namespace

value value::sequence(seq_tag tag, std::vector<value> items) {
  check_sequence_size(items.size());
  value v;
  v.k_ = kind::sequence;
  auto d = std::make_shared<seq_data>();
  d->tag = tag;
  d->depth = depth_of(items);
  d->items = std::move(items);
  v.ptr_ = std::move(d);
  return v;
}

value value::range(int64_t start, int64_t stop, int64_t step) {
  std::vector<value> items;
  if (step > 0)
    for (int64_t i = start; i < stop; i += step) items.push_back(integer(i));
  else
    for (int64_t i = start; i > stop; i += step) items.push_back(integer(i));
  value v = sequence(seq_tag::range, std::move(items));
  auto& d = v.seq();
  d.r_start = start;
  d.r_stop = stop;
  d.r_step = step;
  return v;
}

value value::dict() {
  value v;
  v.k_ = kind::dict;
  v.ptr_ = std::make_shared<dict_data>();
  return v;
}

value value::iterator(std::vector<value> items, const char* type_name) {
  value v;
  v.k_ = kind::iterator;
  auto d = std::make_shared<iter_data>();
  d->depth = depth_of(items);
  d->items = std::move(items);
  d->type_name = type_name;
  v.ptr_ = std::move(d);
  return v;
}

value value::failed_iterator(std::vector<value> items, const char* type_name, raw_error error) {
  value v = iterator(std::move(items), type_name);
  v.iter().failed = true;
  v.iter().error = std::move(error);
  return v;
}

value value::object(std::shared_ptr<heap_data> obj) {
  value v;
  v.k_ = kind::object;
  v.ptr_ = std::move(obj);
  return v;
}

value value::undefined_name(std::string name) {
  value v;
  auto d = std::make_shared<undef_data>();
  d->name = repr_string(name);
  v.ptr_ = std::move(d);
  return v;
}

value value::undefined_hint(std::string hint) {
  value v;
  auto d = std::make_shared<undef_data>();
  d->hint = std::move(hint);
  v.ptr_ = std::move(d);
  return v;
}

value value::undefined_member(const value& obj, const value& name) {
  value v;
  auto d = std::make_shared<undef_data>();
  d->has_obj = true;
  d->obj_desc = object_type_repr(obj);
  d->name_is_str = name.is_string();
  d->name = repr(name);
  v.ptr_ = std::move(d);
  return v;
}

value value::unsafe_member(const value& obj, std::string_view attr) {
  value v = undefined_hint(fmt::format("access to attribute {} of {} object is unsafe.",
                                       repr_string(attr), repr_string(type_name(obj))));
  v.undef()->security = true;
  return v;
}

bool value::is_list() const { return k_ == kind::sequence && seq().tag == seq_tag::list; }
bool value::is_tuple() const { return k_ == kind::sequence && seq().tag == seq_tag::tuple; }
const std::string& value::str() const { return static_cast<str_data*>(ptr_.get())->s; }
seq_data& value::seq() const { return *static_cast<seq_data*>(ptr_.get()); }
dict_data& value::dct() const { return *static_cast<dict_data*>(ptr_.get()); }
iter_data& value::iter() const { return *static_cast<iter_data*>(ptr_.get()); }
undef_data* value::undef() const { return k_ == kind::undefined ? static_cast<undef_data*>(ptr_.get()) : nullptr; }

int value::depth() const {
  switch (k_) {
    case kind::sequence: return seq().depth;
    case kind::dict: return dct().depth;
    case kind::iterator: return iter().depth;
    case kind::object: return static_cast<object_data*>(ptr_.get())->depth();
    default: return 1;
  }
}

const value* dict_data::find(std::string_view key) const {
  auto it = index.find(std::string(key));
  return it == index.end() ? nullptr : &items[it->second].second;
}

const value* dict_data::find(const value& key) const {
  if (key.is_string()) return find(std::string_view(key.str()));
  for (const auto& [k, v] : items)
    if (!k.is_string() && equal(k, key)) return &v;
  return nullptr;
}

void dict_data::set(value key, value v) {
  depth = std::max(depth, std::max(key.depth(), v.depth()) + 1);
  if (depth > max_value_depth) raise(error_kind::limit, "value nested too deeply");
  if (key.is_string()) {
    auto [it, inserted] = index.emplace(key.str(), items.size());
    if (!inserted) {
      items[it->second].second = std::move(v);
      return;
    }
    items.emplace_back(std::move(key), std::move(v));
    return;
  }
  require_hashable(key);
  for (auto& [k, old] : items)
    if (!k.is_string() && equal(k, key)) {
      old = std::move(v);
      return;
    }
  items.emplace_back(std::move(key), std::move(v));
}

value make_dict(std::vector<std::pair<value, value>> items) {
  value d = value::dict();
  for (auto& [k, v] : items) d.dct().set(std::move(k), std::move(v));
  return d;
}

void dict_set(value& d, value key, value v) { d.dct().set(std::move(key), std::move(v)); }

value make_string_list(const std::vector<std::string>& items, bool markup) {
  std::vector<value> out;
  out.reserve(items.size());
  for (const auto& s : items) out.push_back(value::string(s, markup));
  return value::list(std::move(out));
}

bool call_args::take(std::string_view name, value& out) {
  for (size_t i = 0; i < kw.size(); ++i)
    if (kw[i].first == name) {
      out = std::move(kw[i].second);
      kw.erase(kw.begin() + static_cast<long>(i));
      return true;
    }
  return false;
}

std::string object_data::repr() const { return fmt::format("<{} object>", type_name()); }
value object_data::call(interpreter&, call_args&) {
  raise(error_kind::type, fmt::format("'{}' object is not callable", type_name()));
}

// ---- names and printing ----

const char* type_name(const value& v) {
  switch (v.k()) {
    case kind::undefined: return "Undefined";
    case kind::none: return "NoneType";
    case kind::boolean: return "bool";
    case kind::integer: return "int";
    case kind::floating: return "float";
    case kind::string: return v.is_markup() ? "Markup" : "str";
    case kind::sequence:
      switch (v.seq().tag) {
        case seq_tag::list: return "list";
        case seq_tag::tuple: return "tuple";
        case seq_tag::range: return "range";
        case seq_tag::dict_keys: return "dict_keys";
        case seq_tag::dict_values: return "dict_values";
        case seq_tag::dict_items: return "dict_items";
      }
      return "list";
    case kind::dict: return "dict";
    case kind::iterator: return v.iter().type_name;
    case kind::object: return v.as<object_data>()->type_name();
  }
  return "object";
}

std::string object_type_repr(const value& v) {
  if (v.is_none()) return "None";
  if (v.is_markup()) return "markupsafe.Markup object";
  if (v.is_undefined()) return "jinja2.runtime.Undefined object";
  if (v.is_object()) {
    const std::string n = type_name(v);
    if (n == "Namespace" || n == "Cycler" || n == "Joiner") return "jinja2.utils." + n + " object";
    if (n == "LoopContext" || n == "Macro") return "jinja2.runtime." + n + " object";
    return n + " object";
  }
  return std::string(type_name(v)) + " object";
}

std::string repr_string(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back(quote);
  for (size_t i = 0; i < s.size();) {
    const uint32_t cp = text::decode(s, i);
    if (cp == static_cast<uint32_t>(quote) || cp == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(cp));
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp < 0x20 || cp == 0x7F) {
      out += fmt::format("\\x{:02x}", cp);
    } else if (cp < 0x7F) {
      out.push_back(static_cast<char>(cp));
    } else if (text::is_printable(cp)) {
      text::append_utf8(out, cp);
    } else if (cp <= 0xFF) {
      out += fmt::format("\\x{:02x}", cp);
    } else if (cp <= 0xFFFF) {
      out += fmt::format("\\u{:04x}", cp);
    } else {
      out += fmt::format("\\U{:08x}", cp);
    }
  }
  out.push_back(quote);
  return out;
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  std::string out;
  size_t i = 0;
  if (sci[0] == '-') {
    out.push_back('-');
    i = 1;
  }
  const size_t epos = sci.find('e');
  std::string digits;
  for (size_t k = i; k < epos; ++k)
    if (sci[k] != '.') digits.push_back(sci[k]);
  int exp10 = 0;
  std::from_chars(sci.data() + epos + 1 + (sci[epos + 1] == '+' ? 1 : 0), sci.data() + sci.size(), exp10);
  const int decpt = exp10 + 1;
  const int nd = static_cast<int>(digits.size());
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out += "0.";
      out.append(static_cast<size_t>(-decpt), '0');
      out += digits;
    } else if (decpt >= nd) {
      out += digits;
      out.append(static_cast<size_t>(decpt - nd), '0');
      out += ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(decpt));
      out.push_back('.');
      out += digits.substr(static_cast<size_t>(decpt));
    }
  } else {
    out.push_back(digits[0]);
    if (nd > 1) {
      out.push_back('.');
      out += digits.substr(1);
    }
    const int e = decpt - 1;
    out += fmt::format("e{}{:02d}", e < 0 ? '-' : '+', std::abs(e));
  }
  return out;
}

std::string float_to_int_text(double d) {
  if (std::isnan(d)) raise(error_kind::value, "cannot convert float NaN to integer");
  if (std::isinf(d)) raise(error_kind::overflow, "cannot convert float infinity to integer");
  char buf[400];
  const int n = std::snprintf(buf, sizeof buf, "%.0f", std::trunc(d));
  std::string s(buf, static_cast<size_t>(std::max(0, n)));
  if (s == "-0") s = "0";
  return s;
}

namespace {

void repr_into(std::string& out, const value& v);

void repr_items(std::string& out, const std::vector<value>& items, const char* open, const char* close,
                bool one_tuple) {
  out += open;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    repr_into(out, items[i]);
  }
  if (one_tuple && items.size() == 1) out.push_back(',');
  out += close;
}

void repr_dict_items(std::string& out, const dict_data& d) {
  out.push_back('{');
  bool first = true;
  for (const auto& [k, v] : d.items) {
    if (!first) out += ", ";
    first = false;
    repr_into(out, k);
    out += ": ";
    repr_into(out, v);
  }
  out.push_back('}');
}

void repr_into(std::string& out, const value& v) {
  switch (v.k()) {
    case kind::undefined: out += "Undefined"; return;
    case kind::none: out += "None"; return;
    case kind::boolean: out += v.get_bool() ? "True" : "False"; return;
    case kind::integer: out += std::to_string(v.get_int()); return;
    case kind::floating: out += float_repr(v.get_float()); return;
    case kind::string:
      if (v.is_markup()) {
        out += "Markup(";
        out += repr_string(v.str());
        out += ")";
      } else {
        out += repr_string(v.str());
      }
      return;
    case kind::sequence: {
      const auto& s = v.seq();
      switch (s.tag) {
        case seq_tag::list: repr_items(out, s.items, "[", "]", false); return;
        case seq_tag::tuple: repr_items(out, s.items, "(", ")", true); return;
        case seq_tag::range:
          if (s.r_step == 1)
            out += fmt::format("range({}, {})", s.r_start, s.r_stop);
          else
            out += fmt::format("range({}, {}, {})", s.r_start, s.r_stop, s.r_step);
          return;
        case seq_tag::dict_keys: repr_items(out, s.items, "dict_keys([", "])", false); return;
        case seq_tag::dict_values: repr_items(out, s.items, "dict_values([", "])", false); return;
        case seq_tag::dict_items: repr_items(out, s.items, "dict_items([", "])", false); return;
      }
      return;
    }
    case kind::dict: repr_dict_items(out, v.dct()); return;
    case kind::iterator: out += fmt::format("<{} object at 0x7f0000000000>", v.iter().type_name); return;
    case kind::object: out += v.as<object_data>()->repr(); return;
  }
}

}  // namespace

std::string repr(const value& v) {
  std::string out;
  repr_into(out, v);
  charge_bytes(out.size());
  check_string_size(out.size());
  return out;
}

std::string to_str(const value& v) {
  switch (v.k()) {
    case kind::undefined: return "";
    case kind::string: return v.str();
    default: return repr(v);
  }
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '\'': out += "&#39;"; break;
      case '"': out += "&#34;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// ---- truthiness, equality, ordering ----

bool has_length(const value& v) {
  switch (v.k()) {
    case kind::undefined:
    case kind::string:
    case kind::sequence:
    case kind::dict: return true;
    case kind::object: return v.as<object_data>()->has_len();
    default: return false;
  }
}

size_t str_len(const value& s) {
  charge_bytes(s.str().size());
  return text::count_code_points(s.str());
}

size_t length(const value& v) {
  switch (v.k()) {
    case kind::undefined: return 0;
    case kind::string: return str_len(v);
    case kind::sequence: return v.seq().items.size();
    case kind::dict: return v.dct().items.size();
    case kind::object:
      if (v.as<object_data>()->has_len()) return v.as<object_data>()->len();
      break;
    default: break;
  }
  raise(error_kind::type, fmt::format("object of type {} has no len()", repr_string(type_name(v))));
}

bool truthy(const value& v) {
  switch (v.k()) {
    case kind::undefined:
    case kind::none: return false;
    case kind::boolean:
    case kind::integer: return v.get_int() != 0;
    case kind::floating: return v.get_float() != 0.0;
    case kind::string: return !v.str().empty();
    case kind::sequence: return !v.seq().items.empty();
    case kind::dict: return !v.dct().items.empty();
    case kind::iterator: return true;
    case kind::object: {
      auto* o = v.as<object_data>();
      return o->has_len() ? o->len() != 0 : true;
    }
  }
  return true;
}

bool equal(const value& a, const value& b) {
  if (a.is_undefined() || b.is_undefined()) return a.is_undefined() && b.is_undefined();
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return a.get_int() == b.get_int();
    return a.to_double() == b.to_double();
  }
  if (a.k() != b.k()) return false;
  switch (a.k()) {
    case kind::none: return true;
    case kind::string: return a.str() == b.str();
    case kind::sequence: {
      const auto& x = a.seq();
      const auto& y = b.seq();
      if (x.tag != y.tag) return false;
      if (x.items.size() != y.items.size()) return false;
      if (x.tag == seq_tag::dict_values) return &x == &y;
      if (x.tag == seq_tag::dict_keys || x.tag == seq_tag::dict_items) {
        for (const auto& e : x.items) {
          bool found = false;
          for (const auto& f : y.items)
            if (equal(e, f)) {
              found = true;
              break;
            }
          if (!found) return false;
        }
        return true;
      }
      for (size_t i = 0; i < x.items.size(); ++i)
        if (!equal(x.items[i], y.items[i])) return false;
      return true;
    }
    case kind::dict: {
      const auto& x = a.dct();
      const auto& y = b.dct();
      if (x.items.size() != y.items.size()) return false;
      for (const auto& [k, v] : x.items) {
        const value* o = y.find(k);
        if (!o || !equal(v, *o)) return false;
      }
      return true;
    }
    default: return a.identity() == b.identity();
  }
}

bool less(const value& a, const value& b, const char* op) {
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return a.get_int() < b.get_int();
    return a.to_double() < b.to_double();
  }
  if (a.is_string() && b.is_string()) return a.str() < b.str();
  if (a.is_seq() && b.is_seq() && a.seq().tag == b.seq().tag &&
      (a.seq().tag == seq_tag::list || a.seq().tag == seq_tag::tuple)) {
    const auto& x = a.seq().items;
    const auto& y = b.seq().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i)
      if (!equal(x[i], y[i])) return less(x[i], y[i], op);
    return x.size() < y.size();
  }
  raise(error_kind::type, fmt::format("'{}' not supported between instances of {} and {}", op,
                                      repr_string(type_name(a)), repr_string(type_name(b))));
}

int compare_for_sort(const value& a, const value& b) {
  if (less(a, b)) return -1;
  if (less(b, a)) return 1;
  return 0;
}

bool hashable(const value& v) {
  switch (v.k()) {
    case kind::sequence:
      if (v.seq().tag == seq_tag::tuple || v.seq().tag == seq_tag::range) {
        for (const auto& x : v.seq().items)
          if (!hashable(x)) return false;
        return true;
      }
      return false;
    case kind::dict: return false;
    default: return true;
  }
}

void require_hashable(const value& v) {
  if (!hashable(v)) raise(error_kind::type, fmt::format("unhashable type: {}", repr_string(type_name(v))));
}

bool is_iterable(const value& v) {
  switch (v.k()) {
    case kind::undefined:
    case kind::string:
    case kind::sequence:
    case kind::dict:
    case kind::iterator: return true;
    case kind::object: return v.as<object_data>()->iterable();
    default: return false;
  }
}

std::vector<value> iterate(const value& v) {
  switch (v.k()) {
    case kind::string: charge_bytes(v.str().size()); break;
    case kind::sequence: charge_steps(1 + v.seq().items.size() / 8); break;
    case kind::dict: charge_steps(1 + v.dct().items.size() / 8); break;
    default: break;
  }
  switch (v.k()) {
    case kind::undefined: return {};
    case kind::string: {
      std::vector<value> out;
      const std::string& s = v.str();
      for (size_t i = 0; i < s.size();) {
        const size_t start = i;
        text::decode(s, i);
        out.push_back(value::string(s.substr(start, i - start)));
      }
      return out;
    }
    case kind::sequence: return v.seq().items;
    case kind::dict: {
      std::vector<value> out;
      out.reserve(v.dct().items.size());
      for (const auto& [k, x] : v.dct().items) out.push_back(k);
      return out;
    }
    case kind::iterator: {
      auto& it = v.iter();
      std::vector<value> out(it.items.begin() + static_cast<long>(std::min(it.pos, it.items.size())), it.items.end());
      it.pos = it.items.size();
      it.fail_if_exhausted();
      return out;
    }
    case kind::object:
      if (v.as<object_data>()->iterable()) return v.as<object_data>()->items();
      break;
    default: break;
  }
  raise(error_kind::type, fmt::format("{} object is not iterable", repr_string(type_name(v))));
}

value str_index(const value& s, int64_t i, bool& ok) {
  const std::string& str = s.str();
  charge_bytes(str.size());
  const int64_t n = static_cast<int64_t>(str_len(s));
  if (i < 0) i += n;
  if (i < 0 || i >= n) {
    ok = false;
    return {};
  }
  ok = true;
  size_t off = text::is_ascii(str) ? static_cast<size_t>(i) : text::byte_offset(str, static_cast<size_t>(i));
  size_t end = off;
  text::decode(str, end);
  return value::string(str.substr(off, end - off), s.is_markup());
}

std::string undefined_message(const value& v) {
  const undef_data* u = v.undef();
  if (!u) return "'<unknown>' is undefined";
  if (!u->hint.empty()) return u->hint;
  if (!u->has_obj) return u->name + " is undefined";
  if (!u->name_is_str) return fmt::format("{} has no element {}", u->obj_desc, u->name);
  return fmt::format("{} has no attribute {}", repr_string(u->obj_desc), u->name);
}

void fail_undefined(const value& v) {
  const undef_data* u = v.undef();
  raise(u && u->security ? error_kind::security : error_kind::undefined, undefined_message(v));
}

}  // namespace hearth::jinja
