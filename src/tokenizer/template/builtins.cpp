// Jinja2's builtin filters, tests and globals (plus Hugging Face's tojson, raise_exception and
// strftime_now), each with the argument handling and edge cases of the Python original: generator
// results, Undefined inputs, case-insensitive sorting, Markup propagation.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>
#include <unordered_map>

#include "tokenizer/template/objects.h"
#include "tokenizer/template/parser.h"
#include "tokenizer/template/text.h"

namespace hearth::jinja {

namespace {

using filter_fn = value (*)(interpreter&, const value&, call_args&);
using test_fn = bool (*)(interpreter&, const value&, call_args&);

value soft_str(const value& v) { return v.is_string() ? v : value::string(to_str(v)); }

value lower_if_str(const value& v) { return v.is_string() ? value::string(text::lower(v.str()), v.is_markup()) : v; }

bool is_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Jinja's make_attrgetter: "a.b.0" walks getitem steps (digits become integer indexes).
std::vector<value> attribute_parts(const value& attr) {
  std::vector<value> parts;
  if (attr.is_none() || attr.is_undefined()) return parts;
  if (attr.is_string()) {
    size_t start = 0;
    const std::string& s = attr.str();
    while (true) {
      const size_t dot = s.find('.', start);
      const std::string part = s.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      if (is_digits(part) && part.size() < 18) parts.push_back(value::integer(std::stoll(part)));
      else parts.push_back(value::string(part));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    return parts;
  }
  parts.push_back(attr);
  return parts;
}

value get_path(interpreter& in, value item, const std::vector<value>& parts, const value& dflt, bool lower) {
  for (const auto& p : parts) {
    item = in.getitem(item, p);
    if (!dflt.is_none() && !dflt.is_undefined() && item.is_undefined()) item = dflt;
  }
  return lower ? lower_if_str(item) : item;
}

int64_t as_int(const value& v, const char* what) {
  if (v.is_undefined()) fail_undefined(v);
  if (!v.is_integral())
    raise(error_kind::type, fmt::format("{} object cannot be interpreted as an integer ({})", repr_string(type_name(v)), what));
  return v.get_int();
}

value first_item(const value& v, const char* empty_msg) {
  if (v.is_iterator()) {
    auto& it = v.iter();
    if (it.pos < it.items.size()) return it.items[it.pos++];
    it.fail_if_exhausted();
    return value::undefined_hint(empty_msg);
  }
  if (v.is_string()) {
    bool ok = false;
    value c = str_index(v, 0, ok);
    return ok ? value::string(c.str()) : value::undefined_hint(empty_msg);
  }
  const auto items = iterate(v);
  if (items.empty()) return value::undefined_hint(empty_msg);
  return items.front();
}

// Python sorted() with a key: stable, raising on unorderable keys.
void sort_by_keys(std::vector<value>& items, std::vector<value>& keys, bool reverse) {
  charge_steps(1 + items.size() * 20 / 8);
  std::vector<size_t> idx(items.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    return reverse ? less(keys[b], keys[a]) : less(keys[a], keys[b]);
  });
  std::vector<value> out, out_keys;
  out.reserve(items.size());
  for (size_t i : idx) {
    out.push_back(std::move(items[i]));
    out_keys.push_back(std::move(keys[i]));
  }
  items = std::move(out);
  keys = std::move(out_keys);
}

// Generator filters (map, select, items, ...) run their body eagerly; an error inside becomes a
// generator that raises when iteration reaches it, as the lazy Python generator would.
template <typename F> value generator(F body) {
  std::vector<value> out;
  try {
    body(out);
  } catch (const raw_error& e) {
    return value::failed_iterator(std::move(out), "generator", e);
  }
  return value::iterator(std::move(out), "generator");
}

// ---- filters ----

value f_abs(interpreter&, const value& v, call_args& a) {
  arg_binder("abs", a).done();
  if (v.is_integral()) {
    if (v.get_int() == INT64_MIN) raise(error_kind::unsupported, "integer overflow");
    return value::integer(std::llabs(v.get_int()));
  }
  if (v.is_float()) return value::floating(std::fabs(v.get_float()));
  raise(error_kind::type, fmt::format("bad operand type for abs(): {}", repr_string(type_name(v))));
}

value f_attr(interpreter& in, const value& v, call_args& a) {
  arg_binder b("attr", a);
  value name;
  if (!b.opt("name", name)) raise(error_kind::type, "do_attr() missing 1 required positional argument: 'name'");
  b.done();
  if (!name.is_string()) raise(error_kind::type, "attribute name must be string");
  if (v.is_undefined()) fail_undefined(v);
  value out;
  bool unsafe = false;
  bool found = false;
  if (auto* o = v.as<object_data>()) found = o->get_attr(name.str(), out);
  else found = builtin_getattr(v, name.str(), out, unsafe);
  if (!found) return value::undefined_member(v, name);
  return in.getattr(v, name.str());
}

value f_batch(interpreter&, const value& v, call_args& a) {
  arg_binder b("batch", a);
  value lc;
  if (!b.opt("linecount", lc)) raise(error_kind::type, "do_batch() missing 1 required positional argument: 'linecount'");
  const value fill = b.get("fill_with", value::none());
  b.done();
  return generator([&](std::vector<value>& out) {
    std::vector<value> tmp;
    for (auto& item : iterate(v)) {
      if (equal(value::integer(static_cast<int64_t>(tmp.size())), lc)) {
        out.push_back(value::list(std::move(tmp)));
        tmp.clear();
      }
      tmp.push_back(std::move(item));
    }
    if (!tmp.empty()) {
      if (!fill.is_none() && less(value::integer(static_cast<int64_t>(tmp.size())), lc)) {
        const int64_t n = as_int(lc, "linecount");
        check_sequence_size(static_cast<size_t>(n));
        while (static_cast<int64_t>(tmp.size()) < n) tmp.push_back(fill);
      }
      out.push_back(value::list(std::move(tmp)));
    }
  });
}

value f_capitalize(interpreter&, const value& v, call_args& a) {
  arg_binder("capitalize", a).done();
  const value s = soft_str(v);
  return value::string(text::capitalize(s.str()), s.is_markup());
}

value f_center(interpreter& in, const value& v, call_args& a) {
  arg_binder b("center", a);
  const value width = b.get("width", value::integer(80));
  b.done();
  const value s = soft_str(v);
  call_args m;
  m.pos.push_back(width);
  value method = in.getattr(s, "center");
  return in.call_value(method, m);
}

value f_length(interpreter&, const value& v, call_args& a) {
  arg_binder("length", a).done();
  return value::integer(static_cast<int64_t>(length(v)));
}

value f_default(interpreter&, const value& v, call_args& a) {
  arg_binder b("default", a);
  const value dflt = b.get("default_value", value::string(""));
  const bool boolean = truthy(b.get("boolean", value::boolean(false)));
  b.done();
  if (v.is_undefined() || (boolean && !truthy(v))) return dflt;
  return v;
}

value f_dictsort(interpreter&, const value& v, call_args& a) {
  arg_binder b("dictsort", a);
  const bool case_sensitive = truthy(b.get("case_sensitive", value::boolean(false)));
  const value by = b.get("by", value::string("key"));
  const bool reverse = truthy(b.get("reverse", value::boolean(false)));
  b.done();
  int pos;
  if (by.is_string() && by.str() == "key") pos = 0;
  else if (by.is_string() && by.str() == "value") pos = 1;
  else raise(error_kind::filter_argument, "You can only sort by either \"key\" or \"value\"");
  if (v.is_undefined()) fail_undefined(v);
  if (!v.is_dict()) raise(error_kind::type, fmt::format("{} object has no attribute 'items'", repr_string(type_name(v))));
  std::vector<value> items, keys;
  for (const auto& [k, x] : v.dct().items) {
    items.push_back(value::tuple({k, x}));
    const value& key = pos == 0 ? k : x;
    keys.push_back(case_sensitive ? key : lower_if_str(key));
  }
  sort_by_keys(items, keys, reverse);
  return value::list(std::move(items));
}

value f_escape(interpreter&, const value& v, call_args& a) {
  arg_binder("escape", a).done();
  if (v.is_markup()) return v;
  return value::string(html_escape(to_str(v)), true);
}

value f_forceescape(interpreter&, const value& v, call_args& a) {
  arg_binder("forceescape", a).done();
  return value::string(html_escape(to_str(v)), true);
}

value f_first(interpreter&, const value& v, call_args& a) {
  arg_binder("first", a).done();
  return first_item(v, "No first item, sequence was empty.");
}

value f_last(interpreter&, const value& v, call_args& a) {
  arg_binder("last", a).done();
  if (v.is_iterator() || v.is_object() || v.is_none() || v.is_number())
    raise(error_kind::type, fmt::format("{} object is not reversible", repr_string(type_name(v))));
  std::vector<value> items = iterate(v);
  if (items.empty()) return value::undefined_hint("No last item, sequence was empty.");
  return items.back();
}

bool parse_python_float(std::string s, double& out) {
  std::string_view t = text::lstrip_space(text::rstrip_space(s));
  std::string clean;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '_') {
      if (i == 0 || i + 1 >= t.size() || !std::isdigit(static_cast<unsigned char>(t[i - 1])) ||
          !std::isdigit(static_cast<unsigned char>(t[i + 1])))
        return false;
      continue;
    }
    clean.push_back(t[i]);
  }
  std::string low = text::lower(clean);
  size_t sign = (!low.empty() && (low[0] == '+' || low[0] == '-')) ? 1 : 0;
  const std::string body = low.substr(sign);
  if (body == "inf" || body == "infinity" || body == "nan") {
    out = body == "nan" ? std::nan("") : HUGE_VAL;
    if (low[0] == '-') out = -out;
    return true;
  }
  if (body.empty() || body.find_first_not_of("0123456789.e+-") != std::string::npos) return false;
  char* end = nullptr;
  out = std::strtod(clean.c_str(), &end);
  return end && *end == '\0' && end != clean.c_str();
}

value f_float(interpreter&, const value& v, call_args& a) {
  arg_binder b("float", a);
  const value dflt = b.get("default", value::floating(0.0));
  b.done();
  if (v.is_number()) return value::floating(v.to_double());
  if (v.is_string()) {
    double d;
    if (parse_python_float(v.str(), d)) return value::floating(d);
  }
  return dflt;
}

bool parse_python_int(const std::string& s, int64_t base, int64_t& out) {
  std::string_view t = text::lstrip_space(text::rstrip_space(s));
  bool neg = false;
  if (!t.empty() && (t[0] == '+' || t[0] == '-')) {
    neg = t[0] == '-';
    t.remove_prefix(1);
  }
  if (base == 0 || base == 16 || base == 8 || base == 2) {
    if (t.size() >= 2 && t[0] == '0') {
      const char p = static_cast<char>(t[1] | 0x20);
      const int64_t pb = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
      if (pb && (base == 0 || base == pb)) {
        base = pb;
        t.remove_prefix(2);
        if (!t.empty() && t[0] == '_') t.remove_prefix(1);
      }
    }
    if (base == 0) base = 10;
  }
  if (base < 2 || base > 36 || t.empty()) return false;
  uint64_t acc = 0;
  bool prev_us = true;
  for (char c : t) {
    if (c == '_') {
      if (prev_us) return false;
      prev_us = true;
      continue;
    }
    prev_us = false;
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') d = (c | 0x20) - 'a' + 10;
    else return false;
    if (d >= base) return false;
    if (acc > (static_cast<uint64_t>(INT64_MAX) - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base))
      raise(error_kind::unsupported, "integer overflow (Python would switch to a big integer)");
    acc = acc * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  if (prev_us) return false;
  out = neg ? -static_cast<int64_t>(acc) : static_cast<int64_t>(acc);
  return true;
}

value f_int(interpreter&, const value& v, call_args& a) {
  arg_binder b("int", a);
  const value dflt = b.get("default", value::integer(0));
  const value base = b.get("base", value::integer(10));
  b.done();
  if (v.is_integral()) return value::integer(v.get_int());
  if (v.is_float()) {
    if (std::isnan(v.get_float())) return dflt;
    if (std::isinf(v.get_float())) raise(error_kind::overflow, "cannot convert float infinity to integer");
    if (std::fabs(v.get_float()) >= 9.2e18) raise(error_kind::unsupported, "integer overflow");
    return value::integer(static_cast<int64_t>(std::trunc(v.get_float())));
  }
  if (v.is_string()) {
    int64_t r;
    if (base.is_integral() && parse_python_int(v.str(), base.get_int(), r)) return value::integer(r);
    double d;
    if (parse_python_float(v.str(), d) && std::isinf(d))
      raise(error_kind::overflow, "cannot convert float infinity to integer");
    if (parse_python_float(v.str(), d) && std::isfinite(d)) {
      if (std::fabs(d) >= 9.2e18) raise(error_kind::unsupported, "integer overflow");
      return value::integer(static_cast<int64_t>(std::trunc(d)));
    }
  }
  return dflt;
}

value f_format(interpreter&, const value& v, call_args& a) {
  if (!a.pos.empty() && !a.kw.empty())
    raise(error_kind::filter_argument, "can't handle positional and keyword arguments at the same time");
  const value s = soft_str(v);
  value args;
  if (!a.kw.empty()) {
    args = value::dict();
    for (auto& [k, x] : a.kw) dict_set(args, value::string(k), x);
  } else {
    args = value::tuple(a.pos);
  }
  return value::string(percent_format(s.str(), args, s.is_markup()), s.is_markup());
}

value f_groupby(interpreter& in, const value& v, call_args& a) {
  arg_binder b("groupby", a);
  value attr;
  if (!b.opt("attribute", attr)) raise(error_kind::type, "do_groupby() missing 1 required positional argument: 'attribute'");
  const value dflt = b.get("default", value::none());
  const bool case_sensitive = truthy(b.get("case_sensitive", value::boolean(false)));
  b.done();
  const auto parts = attribute_parts(attr);
  std::vector<value> items = iterate(v);
  std::vector<value> keys;
  for (const auto& x : items) keys.push_back(get_path(in, x, parts, dflt, !case_sensitive));
  sort_by_keys(items, keys, false);
  std::vector<value> groups;
  for (size_t i = 0; i < items.size();) {
    size_t j = i + 1;
    while (j < items.size() && equal(keys[j], keys[i])) ++j;
    std::vector<value> members(items.begin() + static_cast<long>(i), items.begin() + static_cast<long>(j));
    value key = case_sensitive ? keys[i] : get_path(in, members[0], parts, dflt, false);
    value t = value::tuple({key, value::list(std::move(members))});
    t.seq().group = true;
    groups.push_back(std::move(t));
    i = j;
  }
  return value::list(std::move(groups));
}

value f_indent(interpreter&, const value& v, call_args& a) {
  arg_binder b("indent", a);
  const value width = b.get("width", value::integer(4));
  const bool first = truthy(b.get("first", value::boolean(false)));
  const bool blank = truthy(b.get("blank", value::boolean(false)));
  b.done();
  std::string ind;
  if (width.is_string()) ind = width.str();
  else if (width.is_integral()) {
    if (width.get_int() > 0) {
      check_string_size(static_cast<size_t>(width.get_int()));
      ind.assign(static_cast<size_t>(width.get_int()), ' ');
    }
  } else raise(error_kind::type, fmt::format("can't multiply sequence by non-int of type {}", repr_string(type_name(width))));
  if (v.is_undefined()) fail_undefined(v);
  if (!v.is_string())
    raise(error_kind::type, fmt::format("unsupported operand type(s) for +=: {} and 'str'", repr_string(type_name(v))));
  call_args none;
  value s2 = value::string(v.str() + "\n");
  std::vector<std::string> lines;
  {
    const std::string& s = s2.str();
    const auto cps = text::to_code_points(s);
    size_t start = 0;
    for (size_t i = 0; i < cps.size(); ++i) {
      if (!text::is_linebreak(cps[i])) continue;
      lines.push_back(text::from_code_points(cps.data() + start, i - start));
      if (cps[i] == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') ++i;
      start = i + 1;
    }
    if (start < cps.size()) lines.push_back(text::from_code_points(cps.data() + start, cps.size() - start));
  }
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) rv += "\n" + ind;
      rv += lines[i];
    }
  } else {
    rv = lines.empty() ? std::string() : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      rv += "\n";
      if (!lines[i].empty()) rv += ind;
      rv += lines[i];
      check_string_size(rv.size());
    }
  }
  if (first) rv = ind + rv;
  return value::string(std::move(rv), v.is_markup());
}

value f_join(interpreter& in, const value& v, call_args& a) {
  arg_binder b("join", a);
  const value d = b.get("d", value::string(""));
  const value attr = b.get("attribute", value::none());
  b.done();
  const std::string sep = to_str(d);
  std::vector<value> items = iterate(v);
  const auto parts = attribute_parts(attr);
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    const value x = attr.is_none() ? items[i] : get_path(in, items[i], parts, value::none(), false);
    out += to_str(x);
    check_string_size(out.size());
  }
  return value::string(std::move(out));
}

value f_list(interpreter&, const value& v, call_args& a) {
  arg_binder("list", a).done();
  return value::list(iterate(v));
}

value f_lower(interpreter&, const value& v, call_args& a) {
  arg_binder("lower", a).done();
  const value s = soft_str(v);
  return value::string(text::lower(s.str()), s.is_markup());
}

value f_upper(interpreter&, const value& v, call_args& a) {
  arg_binder("upper", a).done();
  const value s = soft_str(v);
  return value::string(text::upper(s.str()), s.is_markup());
}

value f_items(interpreter&, const value& v, call_args& a) {
  arg_binder("items", a).done();
  return generator([&](std::vector<value>& out) {
    if (v.is_undefined()) return;
    if (!v.is_dict()) raise(error_kind::type, "Can only get item pairs from a mapping.");
    for (const auto& [k, x] : v.dct().items) out.push_back(value::tuple({k, x}));
  });
}

value f_map(interpreter& in, const value& v, call_args& a) {
  return generator([&](std::vector<value>& out) {
    if (!truthy(v)) return;
    value attr;
    if (a.pos.empty() && a.take("attribute", attr)) {
      value dflt = value::none();
      a.take("default", dflt);
      if (!a.kw.empty())
        raise(error_kind::filter_argument, fmt::format("Unexpected keyword argument {}", repr_string(a.kw[0].first)));
      const auto parts = attribute_parts(attr);
      for (const auto& item : iterate(v)) out.push_back(get_path(in, item, parts, dflt, false));
      return;
    }
    if (a.pos.empty()) raise(error_kind::filter_argument, "map requires a filter argument");
    const value name = a.pos[0];
    if (!name.is_string()) raise(error_kind::runtime, fmt::format("No filter named {}.", repr(name)));
    for (const auto& item : iterate(v)) {
      call_args sub;
      sub.pos.assign(a.pos.begin() + 1, a.pos.end());
      sub.kw = a.kw;
      in.step();
      out.push_back(in.call_filter(name.str(), item, sub, 0));
    }
  });
}

value min_max(interpreter& in, const value& v, call_args& a, bool is_max) {
  arg_binder b(is_max ? "max" : "min", a);
  const bool case_sensitive = truthy(b.get("case_sensitive", value::boolean(false)));
  const value attr = b.get("attribute", value::none());
  b.done();
  std::vector<value> items = iterate(v);
  if (items.empty()) return value::undefined_hint("No aggregated item, sequence was empty.");
  const auto parts = attribute_parts(attr);
  size_t best = 0;
  value best_key = get_path(in, items[0], parts, value::none(), !case_sensitive);
  for (size_t i = 1; i < items.size(); ++i) {
    value k = get_path(in, items[i], parts, value::none(), !case_sensitive);
    if (is_max ? less(best_key, k) : less(k, best_key)) {
      best = i;
      best_key = std::move(k);
    }
  }
  return items[best];
}
value f_min(interpreter& in, const value& v, call_args& a) { return min_max(in, v, a, false); }
value f_max(interpreter& in, const value& v, call_args& a) { return min_max(in, v, a, true); }

value select_reject(interpreter& in, const value& v, call_args& a, bool select, bool by_attr) {
  return generator([&](std::vector<value>& out) {
  if (!truthy(v)) return;
  std::vector<value> parts;
  size_t off = 0;
  if (by_attr) {
    if (a.pos.empty()) raise(error_kind::filter_argument, "Missing parameter for attribute name");
    parts = attribute_parts(a.pos[0]);
    off = 1;
  }
  const bool has_test = a.pos.size() > off;
  std::string test;
  if (has_test) {
    if (!a.pos[off].is_string()) raise(error_kind::runtime, fmt::format("No test named {}.", repr(a.pos[off])));
    test = a.pos[off].str();
  }
  for (const auto& item : iterate(v)) {
    in.step();
    const value x = by_attr ? get_path(in, item, parts, value::none(), false) : item;
    bool r;
    if (has_test) {
      call_args sub;
      sub.pos.assign(a.pos.begin() + static_cast<long>(off) + 1, a.pos.end());
      sub.kw = a.kw;
      r = in.call_test(test, x, sub, 0);
    } else {
      r = truthy(x);
    }
    if (r == select) out.push_back(item);
  }
  });
}
value f_select(interpreter& in, const value& v, call_args& a) { return select_reject(in, v, a, true, false); }
value f_reject(interpreter& in, const value& v, call_args& a) { return select_reject(in, v, a, false, false); }
value f_selectattr(interpreter& in, const value& v, call_args& a) { return select_reject(in, v, a, true, true); }
value f_rejectattr(interpreter& in, const value& v, call_args& a) { return select_reject(in, v, a, false, true); }

value f_replace(interpreter& in, const value& v, call_args& a) {
  arg_binder b("replace", a);
  value old, rep;
  if (!b.opt("old", old) || !b.opt("new", rep))
    raise(error_kind::type, "do_replace() missing required positional arguments: 'old' and 'new'");
  const value count = b.get("count", value::none());
  b.done();
  const value s = value::string(to_str(v));
  call_args m;
  m.pos = {value::string(to_str(old)), value::string(to_str(rep))};
  m.pos.push_back(count.is_none() ? value::integer(-1) : count);
  return in.call_value(in.getattr(s, "replace"), m);
}

value f_reverse(interpreter&, const value& v, call_args& a) {
  arg_binder("reverse", a).done();
  if (v.is_string()) {
    auto cps = text::to_code_points(v.str());
    std::reverse(cps.begin(), cps.end());
    return value::string(text::from_code_points(cps.data(), cps.size()), v.is_markup());
  }
  if (v.is_seq() || v.is_dict() || v.is_undefined()) {
    std::vector<value> items = iterate(v);
    std::reverse(items.begin(), items.end());
    const char* tn = "list_reverseiterator";
    if (v.is_dict()) tn = "dict_reversekeyiterator";
    else if (v.is_tuple()) tn = "reversed";
    else if (v.is_seq() && v.seq().tag == seq_tag::range) tn = "range_iterator";
    return value::iterator(std::move(items), tn);
  }
  if (!is_iterable(v)) raise(error_kind::filter_argument, "argument must be iterable");
  std::vector<value> items = iterate(v);
  std::reverse(items.begin(), items.end());
  return value::list(std::move(items));
}

double round_half_even_decimal(double x, int64_t nd) {
  if (!std::isfinite(x)) return x;
  if (nd >= 0) {
    if (nd > 300) return x;
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(nd), x);
    return std::strtod(buf, nullptr);
  }
  if (nd < -308) return std::copysign(0.0, x);
  const double p = std::pow(10.0, static_cast<double>(-nd));
  const double y = x / p;
  double r = std::nearbyint(y);
  return r * p;
}

value f_round(interpreter&, const value& v, call_args& a) {
  arg_binder b("round", a);
  const value precision = b.get("precision", value::integer(0));
  const value method = b.get("method", value::string("common"));
  b.done();
  const std::string m = method.is_string() ? method.str() : "";
  if (m != "common" && m != "ceil" && m != "floor") raise(error_kind::filter_argument, "method must be common, ceil or floor");
  if (v.is_undefined()) fail_undefined(v);
  if (!v.is_number()) raise(error_kind::type, fmt::format("type {} doesn't define __round__ method", type_name(v)));
  if (!precision.is_integral())
    raise(error_kind::type, fmt::format("{} object cannot be interpreted as an integer", repr_string(type_name(precision))));
  const int64_t nd = precision.get_int();
  if (m == "common") {
    if (v.is_integral()) {
      if (nd >= 0) return value::integer(v.get_int());
      if (nd < -18) return value::integer(0);
      int64_t p = 1;
      for (int64_t i = 0; i < -nd; ++i) p *= 10;
      const int64_t x = v.get_int();
      int64_t q = x / p, r = x % p;
      if (r < 0) {
        r += p;
        --q;
      }
      if (2 * r > p || (2 * r == p && (q & 1))) ++q;
      return value::integer(q * p);
    }
    return value::floating(round_half_even_decimal(v.get_float(), nd));
  }
  const double p = std::pow(10.0, static_cast<double>(nd));
  const double x = v.to_double() * p;
  const double r = m == "ceil" ? std::ceil(x) : std::floor(x);
  return value::floating(r / p);
}

value f_safe(interpreter&, const value& v, call_args& a) {
  arg_binder("safe", a).done();
  if (v.is_markup()) return v;
  return value::string(to_str(v), true);
}

value f_slice(interpreter&, const value& v, call_args& a) {
  arg_binder b("slice", a);
  value sl;
  if (!b.opt("slices", sl)) raise(error_kind::type, "do_slice() missing 1 required positional argument: 'slices'");
  const value fill = b.get("fill_with", value::none());
  b.done();
  return generator([&](std::vector<value>& out) {
    const std::vector<value> seq = iterate(v);
    const int64_t slices = as_int(sl, "slices");
    if (slices == 0) raise(error_kind::zero_division, "integer division or modulo by zero");
    if (slices < 0) return;
    check_sequence_size(static_cast<size_t>(slices));
    const int64_t len = static_cast<int64_t>(seq.size());
    const int64_t per = len / slices, extra = len % slices;
    int64_t offset = 0;
    for (int64_t n = 0; n < slices; ++n) {
      const int64_t start = offset + n * per;
      if (n < extra) ++offset;
      const int64_t end = offset + (n + 1) * per;
      std::vector<value> tmp(seq.begin() + start, seq.begin() + end);
      if (!fill.is_none() && n >= extra) tmp.push_back(fill);
      out.push_back(value::list(std::move(tmp)));
    }
  });
}

value f_sort(interpreter& in, const value& v, call_args& a) {
  arg_binder b("sort", a);
  const bool reverse = truthy(b.get("reverse", value::boolean(false)));
  const bool case_sensitive = truthy(b.get("case_sensitive", value::boolean(false)));
  const value attr = b.get("attribute", value::none());
  b.done();
  std::vector<value> items = iterate(v);
  std::vector<std::vector<value>> multi;
  if (attr.is_string()) {
    size_t start = 0;
    const std::string& s = attr.str();
    while (true) {
      const size_t comma = s.find(',', start);
      multi.push_back(attribute_parts(value::string(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start))));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  } else {
    multi.push_back(attribute_parts(attr));
  }
  std::vector<value> keys;
  for (const auto& item : items) {
    std::vector<value> k;
    for (const auto& parts : multi) k.push_back(get_path(in, item, parts, value::none(), !case_sensitive));
    keys.push_back(value::list(std::move(k)));
  }
  sort_by_keys(items, keys, reverse);
  return value::list(std::move(items));
}

value f_string(interpreter&, const value& v, call_args& a) {
  arg_binder("string", a).done();
  return soft_str(v);
}

value f_striptags(interpreter&, const value& v, call_args& a) {
  arg_binder("striptags", a).done();
  std::string s = to_str(v);
  std::string no_tags;
  for (size_t i = 0; i < s.size();) {
    if (s.compare(i, 4, "<!--") == 0) {
      const size_t e = s.find("-->", i + 4);
      if (e != std::string::npos) {
        i = e + 3;
        continue;
      }
    }
    if (s[i] == '<') {
      const size_t e = s.find('>', i + 1);
      if (e != std::string::npos) {
        i = e + 1;
        continue;
      }
    }
    no_tags.push_back(s[i++]);
  }
  std::vector<std::string> words;
  std::string cur;
  for (size_t i = 0; i < no_tags.size();) {
    const size_t n = text::space_at(no_tags, i);
    if (n) {
      if (!cur.empty()) words.push_back(std::move(cur));
      cur.clear();
      i += n;
    } else {
      cur.push_back(no_tags[i++]);
    }
  }
  if (!cur.empty()) words.push_back(cur);
  std::string joined;
  for (size_t i = 0; i < words.size(); ++i) joined += (i ? " " : "") + words[i];
  static const std::pair<const char*, const char*> ents[] = {{"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""},
                                                             {"&#34;", "\""}, {"&#39;", "'"}, {"&amp;", "&"}};
  for (const auto& [e, r] : ents) {
    size_t p = 0;
    while ((p = joined.find(e, p)) != std::string::npos) {
      joined.replace(p, std::strlen(e), r);
      p += std::strlen(r);
    }
  }
  return value::string(std::move(joined));
}

value f_sum(interpreter& in, const value& v, call_args& a) {
  arg_binder b("sum", a);
  const value attr = b.get("attribute", value::none());
  value acc = b.get("start", value::integer(0));
  b.done();
  if (acc.is_string()) raise(error_kind::type, "sum() can't sum strings [use ''.join(seq) instead]");
  const auto parts = attribute_parts(attr);
  for (const auto& item : iterate(v)) {
    const value x = attr.is_none() ? item : get_path(in, item, parts, value::none(), false);
    acc = op_add(acc, x);
  }
  return acc;
}

value f_title(interpreter&, const value& v, call_args& a) {
  arg_binder("title", a).done();
  const std::string s = to_str(soft_str(v));
  const auto cps = text::to_code_points(s);
  auto is_sep = [](uint32_t c) { return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || text::is_space(c); };
  std::string out;
  size_t i = 0;
  while (i < cps.size()) {
    const bool sep = is_sep(cps[i]);
    size_t j = i;
    while (j < cps.size() && is_sep(cps[j]) == sep) ++j;
    // item[0].upper() + item[1:].lower()
    out += text::upper(text::from_code_points(cps.data() + i, 1));
    out += text::lower(text::from_code_points(cps.data() + i + 1, j - i - 1));
    i = j;
  }
  return value::string(std::move(out));
}

value f_trim(interpreter& in, const value& v, call_args& a) {
  arg_binder b("trim", a);
  const value chars = b.get("chars", value::none());
  b.done();
  const value s = soft_str(v);
  call_args m;
  m.pos.push_back(chars);
  return in.call_value(in.getattr(s, "strip"), m);
}

value f_truncate(interpreter&, const value& v, call_args& a) {
  arg_binder b("truncate", a);
  const int64_t len = as_int(b.get("length", value::integer(255)), "length");
  const bool killwords = truthy(b.get("killwords", value::boolean(false)));
  const value end = b.get("end", value::string("..."));
  const value leeway_v = b.get("leeway", value::none());
  b.done();
  const int64_t leeway = leeway_v.is_none() ? 5 : as_int(leeway_v, "leeway");
  const int64_t end_len = static_cast<int64_t>(length(end));
  if (len < end_len) raise(error_kind::assertion, fmt::format("expected length >= {}, got {}", end_len, len));
  if (leeway < 0) raise(error_kind::assertion, fmt::format("expected leeway >= 0, got {}", leeway));
  if (v.is_undefined()) fail_undefined(v);
  if (!v.is_string()) raise(error_kind::type, fmt::format("object of type {} has no len()", repr_string(type_name(v))));
  const auto cps = text::to_code_points(v.str());
  if (static_cast<int64_t>(cps.size()) <= len + leeway) return v;
  const size_t keep = static_cast<size_t>(std::max<int64_t>(0, std::min<int64_t>(len - end_len, static_cast<int64_t>(cps.size()))));
  std::string head = text::from_code_points(cps.data(), keep);
  if (!killwords) {
    const size_t sp = head.rfind(' ');
    if (sp != std::string::npos) head = head.substr(0, sp);
  }
  return op_add(value::string(head, v.is_markup()), end);
}

value f_unique(interpreter& in, const value& v, call_args& a) {
  arg_binder b("unique", a);
  const bool case_sensitive = truthy(b.get("case_sensitive", value::boolean(false)));
  const value attr = b.get("attribute", value::none());
  b.done();
  const auto parts = attribute_parts(attr);
  return generator([&](std::vector<value>& out) {
    std::vector<value> seen;
    for (const auto& item : iterate(v)) {
      const value key = get_path(in, item, parts, value::none(), !case_sensitive);
      require_hashable(key);
      bool dup = false;
      for (const auto& s : seen)
        if (equal(s, key)) {
          dup = true;
          break;
        }
      if (!dup) {
        seen.push_back(key);
        out.push_back(item);
      }
    }
  });
}

value f_wordcount(interpreter&, const value& v, call_args& a) {
  arg_binder("wordcount", a).done();
  const auto cps = text::to_code_points(to_str(v));
  int64_t n = 0;
  bool in_word = false;
  for (uint32_t c : cps) {
    const bool w = text::is_word(c);
    if (w && !in_word) ++n;
    in_word = w;
  }
  return value::integer(n);
}

value f_tojson(interpreter&, const value& v, call_args& a) {
  arg_binder b("tojson", a);
  const bool ensure_ascii = truthy(b.get("ensure_ascii", value::boolean(false)));
  const value indent = b.get("indent", value::none());
  const value separators = b.get("separators", value::none());
  const bool sort_keys = truthy(b.get("sort_keys", value::boolean(false)));
  b.done();
  dumps_options o;
  o.ensure_ascii = ensure_ascii;
  o.sort_keys = sort_keys;
  if (!indent.is_none()) {
    o.has_indent = true;
    if (indent.is_string()) o.indent = indent.str();
    else if (indent.is_integral()) {
      if (indent.get_int() > 0) {
        check_string_size(static_cast<size_t>(indent.get_int()));
        o.indent.assign(static_cast<size_t>(indent.get_int()), ' ');
      }
    } else raise(error_kind::type, fmt::format("can't multiply sequence by non-int of type {}", repr_string(type_name(indent))));
    o.item_sep.assign(1, ',');
  }
  if (!separators.is_none()) {
    const std::vector<value> parts = iterate(separators);
    if (parts.size() != 2)
      raise(error_kind::value, fmt::format("{} values to unpack (expected 2{})",
                                           parts.size() < 2 ? "not enough" : "too many",
                                           parts.size() < 2 ? fmt::format(", got {}", parts.size()) : ""));
    for (const auto& p : parts)
      if (!p.is_string()) raise(error_kind::type, fmt::format("separator must be str, not {}", type_name(p)));
    o.item_sep = parts[0].str();
    o.key_sep = parts[1].str();
  }
  return value::string(py_json_dumps(v, o));
}

value f_xmlattr(interpreter&, const value& v, call_args& a) {
  arg_binder b("xmlattr", a);
  const bool autospace = truthy(b.get("autospace", value::boolean(true)));
  b.done();
  if (!v.is_dict()) raise(error_kind::type, fmt::format("{} object has no attribute 'items'", repr_string(type_name(v))));
  std::string rv;
  for (const auto& [k, x] : v.dct().items) {
    if (x.is_none() || x.is_undefined()) continue;
    const std::string key = to_str(k);
    for (char c : key)
      if (c == '/' || c == '>' || c == '=' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f')
        raise(error_kind::value, fmt::format("Invalid character in attribute name: {}", repr_string(key)));
    if (!rv.empty()) rv += ' ';
    rv += html_escape(key) + "=\"" + (x.is_markup() ? x.str() : html_escape(to_str(x))) + "\"";
  }
  if (autospace && !rv.empty()) rv = " " + rv;
  return value::string(std::move(rv));
}

value f_filesizeformat(interpreter&, const value& v, call_args& a) {
  arg_binder b("filesizeformat", a);
  const bool binary = truthy(b.get("binary", value::boolean(false)));
  b.done();
  double bytes;
  if (v.is_number()) bytes = v.to_double();
  else if (v.is_string() && parse_python_float(v.str(), bytes)) {
  } else raise(error_kind::type, fmt::format("float() argument must be a string or a real number, not {}", repr_string(type_name(v))));
  const double base = binary ? 1024 : 1000;
  static const char* dec[] = {"kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  static const char* bin[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
  if (bytes == 1) return value::string("1 Byte");
  if (bytes < base) return value::string(fmt::format("{} Bytes", float_to_int_text(bytes)));
  double unit = base;
  for (int i = 0; i < 8; ++i) {
    unit = std::pow(base, i + 2);
    if (bytes < unit || i == 7) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.1f %s", base * bytes / unit, binary ? bin[i] : dec[i]);
      return value::string(buf);
    }
  }
  return value::string("");
}

value f_unsupported(interpreter&, const value&, call_args&) {
  raise(error_kind::unsupported, "this filter is not supported by Hearth's template engine");
}

const std::unordered_map<std::string_view, filter_fn>& filters() {
  static const std::unordered_map<std::string_view, filter_fn> m = {
      {"abs", f_abs},         {"attr", f_attr},
      {"batch", f_batch},     {"capitalize", f_capitalize},
      {"center", f_center},   {"count", f_length},
      {"d", f_default},       {"default", f_default},
      {"dictsort", f_dictsort}, {"e", f_escape},
      {"escape", f_escape},   {"filesizeformat", f_filesizeformat},
      {"first", f_first},     {"float", f_float},
      {"forceescape", f_forceescape}, {"format", f_format},
      {"groupby", f_groupby}, {"indent", f_indent},
      {"int", f_int},         {"join", f_join},
      {"last", f_last},       {"length", f_length},
      {"list", f_list},       {"lower", f_lower},
      {"items", f_items},     {"map", f_map},
      {"min", f_min},         {"max", f_max},
      {"pprint", f_unsupported}, {"random", f_unsupported},
      {"reject", f_reject},   {"rejectattr", f_rejectattr},
      {"replace", f_replace}, {"reverse", f_reverse},
      {"round", f_round},     {"safe", f_safe},
      {"select", f_select},   {"selectattr", f_selectattr},
      {"slice", f_slice},     {"sort", f_sort},
      {"string", f_string},   {"striptags", f_striptags},
      {"sum", f_sum},         {"title", f_title},
      {"trim", f_trim},       {"truncate", f_truncate},
      {"unique", f_unique},   {"upper", f_upper},
      {"urlencode", f_unsupported}, {"urlize", f_unsupported},
      {"wordcount", f_wordcount}, {"wordwrap", f_unsupported},
      {"xmlattr", f_xmlattr}, {"tojson", f_tojson},
  };
  return m;
}

// ---- tests ----

value one_arg(call_args& a, const char* fname, const char* pname) {
  arg_binder b(fname, a);
  value x;
  if (!b.opt(pname, x)) raise(error_kind::type, fmt::format("{}() missing 1 required positional argument: {}", fname, repr_string(pname)));
  b.done();
  return x;
}

bool t_odd(interpreter&, const value& v, call_args& a) {
  arg_binder("test_odd", a).done();
  return equal(op_mod(v, value::integer(2)), value::integer(1));
}
bool t_even(interpreter&, const value& v, call_args& a) {
  arg_binder("test_even", a).done();
  return equal(op_mod(v, value::integer(2)), value::integer(0));
}
bool t_divisibleby(interpreter&, const value& v, call_args& a) {
  return equal(op_mod(v, one_arg(a, "test_divisibleby", "num")), value::integer(0));
}
bool t_defined(interpreter&, const value& v, call_args& a) {
  arg_binder("test_defined", a).done();
  return !v.is_undefined();
}
bool t_undefined(interpreter&, const value& v, call_args& a) {
  arg_binder("test_undefined", a).done();
  return v.is_undefined();
}
bool t_filter(interpreter&, const value& v, call_args& a) {
  arg_binder("test_filter", a).done();
  require_hashable(v);
  return v.is_string() && has_filter(v.str());
}
bool t_test(interpreter&, const value& v, call_args& a) {
  arg_binder("test_test", a).done();
  require_hashable(v);
  return v.is_string() && has_test(v.str());
}
bool t_none(interpreter&, const value& v, call_args& a) {
  arg_binder("test_none", a).done();
  return v.is_none();
}
bool t_boolean(interpreter&, const value& v, call_args& a) {
  arg_binder("test_boolean", a).done();
  return v.is_bool();
}
bool t_false(interpreter&, const value& v, call_args& a) {
  arg_binder("test_false", a).done();
  return v.is_bool() && !v.get_bool();
}
bool t_true(interpreter&, const value& v, call_args& a) {
  arg_binder("test_true", a).done();
  return v.is_bool() && v.get_bool();
}
bool t_integer(interpreter&, const value& v, call_args& a) {
  arg_binder("test_integer", a).done();
  return v.is_int();
}
bool t_float(interpreter&, const value& v, call_args& a) {
  arg_binder("test_float", a).done();
  return v.is_float();
}
bool t_lower(interpreter&, const value& v, call_args& a) {
  arg_binder("test_lower", a).done();
  const std::string s = to_str(v);
  bool cased = false;
  for (uint32_t c : text::to_code_points(s)) {
    if (text::is_upper(c)) return false;
    if (text::is_lower(c)) cased = true;
  }
  return cased;
}
bool t_upper(interpreter&, const value& v, call_args& a) {
  arg_binder("test_upper", a).done();
  const std::string s = to_str(v);
  bool cased = false;
  for (uint32_t c : text::to_code_points(s)) {
    if (text::is_lower(c)) return false;
    if (text::is_upper(c)) cased = true;
  }
  return cased;
}
bool t_string(interpreter&, const value& v, call_args& a) {
  arg_binder("test_string", a).done();
  return v.is_string();
}
bool t_mapping(interpreter&, const value& v, call_args& a) {
  arg_binder("test_mapping", a).done();
  return v.is_dict();
}
bool t_number(interpreter&, const value& v, call_args& a) {
  arg_binder("test_number", a).done();
  return v.is_number();
}
bool t_sequence(interpreter&, const value& v, call_args& a) {
  arg_binder("test_sequence", a).done();
  switch (v.k()) {
    case kind::undefined:
    case kind::string:
    case kind::dict: return true;
    case kind::sequence: {
      const seq_tag t = v.seq().tag;
      return t == seq_tag::list || t == seq_tag::tuple || t == seq_tag::range;
    }
    default: return false;
  }
}
bool t_iterable(interpreter&, const value& v, call_args& a) {
  arg_binder("test_iterable", a).done();
  return is_iterable(v);
}
bool t_callable(interpreter&, const value& v, call_args& a) {
  arg_binder("callable", a).done();
  if (v.is_undefined()) return true;
  auto* o = v.as<object_data>();
  return o && o->callable();
}
bool t_sameas(interpreter&, const value& v, call_args& a) {
  const value other = one_arg(a, "test_sameas", "other");
  if (v.k() != other.k()) return false;
  switch (v.k()) {
    case kind::undefined: return v.identity() == other.identity();
    case kind::none: return true;
    case kind::boolean: return v.get_bool() == other.get_bool();
    case kind::integer: return v.get_int() == other.get_int() && v.get_int() >= -5 && v.get_int() <= 256;
    case kind::floating: return false;
    default: return v.identity() == other.identity();
  }
}
bool t_escaped(interpreter&, const value& v, call_args& a) {
  arg_binder("test_escaped", a).done();
  return v.is_markup();
}
bool t_in(interpreter&, const value& v, call_args& a) { return op_contains(one_arg(a, "test_in", "seq"), v); }
bool t_eq(interpreter&, const value& v, call_args& a) { return equal(v, one_arg(a, "eq", "b")); }
bool t_ne(interpreter&, const value& v, call_args& a) { return !equal(v, one_arg(a, "ne", "b")); }

bool ordered_test(const value& x, const value& y, const char* sym) {
  if (x.is_undefined()) fail_undefined(x);
  if (y.is_undefined()) fail_undefined(y);
  const bool ok = (x.is_number() && y.is_number()) || (x.is_string() && y.is_string()) ||
                  (x.is_list() && y.is_list()) || (x.is_tuple() && y.is_tuple());
  if (!ok)
    raise(error_kind::type, fmt::format("'{}' not supported between instances of {} and {}", sym,
                                        repr_string(type_name(x)), repr_string(type_name(y))));
  const std::string_view s = sym;
  if (s == "<") return less(x, y, sym);
  if (s == ">") return less(y, x, sym);
  if (s == "<=") return less(x, y, sym) || equal(x, y);
  return less(y, x, sym) || equal(x, y);
}
bool t_gt(interpreter&, const value& v, call_args& a) { return ordered_test(v, one_arg(a, "gt", "b"), ">"); }
bool t_ge(interpreter&, const value& v, call_args& a) { return ordered_test(v, one_arg(a, "ge", "b"), ">="); }
bool t_lt(interpreter&, const value& v, call_args& a) { return ordered_test(v, one_arg(a, "lt", "b"), "<"); }
bool t_le(interpreter&, const value& v, call_args& a) { return ordered_test(v, one_arg(a, "le", "b"), "<="); }

const std::unordered_map<std::string_view, test_fn>& tests() {
  static const std::unordered_map<std::string_view, test_fn> m = {
      {"odd", t_odd},         {"even", t_even},       {"divisibleby", t_divisibleby},
      {"defined", t_defined}, {"undefined", t_undefined}, {"filter", t_filter},
      {"test", t_test},       {"none", t_none},       {"boolean", t_boolean},
      {"false", t_false},     {"true", t_true},       {"integer", t_integer},
      {"float", t_float},     {"lower", t_lower},     {"upper", t_upper},
      {"string", t_string},   {"mapping", t_mapping}, {"number", t_number},
      {"sequence", t_sequence}, {"iterable", t_iterable}, {"callable", t_callable},
      {"sameas", t_sameas},   {"escaped", t_escaped}, {"in", t_in},
      {"==", t_eq},           {"eq", t_eq},           {"equalto", t_eq},
      {"!=", t_ne},           {"ne", t_ne},           {">", t_gt},
      {"gt", t_gt},           {"greaterthan", t_gt},  {"ge", t_ge},
      {">=", t_ge},           {"<", t_lt},            {"lt", t_lt},
      {"lessthan", t_lt},     {"<=", t_le},           {"le", t_le},
  };
  return m;
}

// ---- globals ----

value dict_from_args(call_args& a, const char* fname) {
  value d = value::dict();
  if (a.pos.size() > 1) raise(error_kind::type, fmt::format("{} expected at most 1 argument, got {}", fname, a.pos.size()));
  if (a.pos.size() == 1) {
    const value& src = a.pos[0];
    if (src.is_dict()) {
      for (const auto& [k, v] : src.dct().items) dict_set(d, k, v);
    } else {
      size_t idx = 0;
      for (const auto& item : iterate(src)) {
        std::vector<value> kv;
        if (is_iterable(item)) kv = iterate(item);
        else raise(error_kind::type, fmt::format("cannot convert dictionary update sequence element #{} to a sequence", idx));
        if (kv.size() != 2)
          raise(error_kind::value,
                fmt::format("dictionary update sequence element #{} has length {}; 2 is required", idx, kv.size()));
        require_hashable(kv[0]);
        dict_set(d, kv[0], kv[1]);
        ++idx;
      }
    }
  }
  for (auto& [k, v] : a.kw) dict_set(d, value::string(k), v);
  return d;
}

value g_range(interpreter&, call_args& a) {
  if (!a.kw.empty()) raise(error_kind::type, "range() takes no keyword arguments");
  if (a.pos.empty() || a.pos.size() > 3)
    raise(error_kind::type, fmt::format("range expected at {} 1 argument{}, got {}", a.pos.empty() ? "least" : "most",
                                        a.pos.empty() ? "" : "s", a.pos.size()));
  for (const auto& x : a.pos)
    if (!x.is_integral())
      raise(error_kind::type, fmt::format("{} object cannot be interpreted as an integer", repr_string(type_name(x))));
  int64_t start = 0, stop, step = 1;
  if (a.pos.size() == 1) stop = a.pos[0].get_int();
  else {
    start = a.pos[0].get_int();
    stop = a.pos[1].get_int();
    if (a.pos.size() == 3) step = a.pos[2].get_int();
  }
  if (step == 0) raise(error_kind::value, "range() arg 3 must not be zero");
  const long double span = step > 0 ? static_cast<long double>(stop) - start : static_cast<long double>(start) - stop;
  const long double len = span <= 0 ? 0 : std::ceil(span / std::fabs(static_cast<long double>(step)));
  if (len > 100000)
    raise(error_kind::overflow, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  return value::range(start, stop, step);
}

value g_dict(interpreter&, call_args& a) { return dict_from_args(a, "dict"); }

value g_namespace(interpreter& in, call_args& a) {
  auto ns = std::make_shared<namespace_object>();
  ns->attrs = dict_from_args(a, "dict");
  in.track_namespace(ns);
  return value::object(ns);
}

value g_cycler(interpreter&, call_args& a) {
  if (!a.kw.empty()) raise(error_kind::type, "Cycler.__init__() got an unexpected keyword argument");
  if (a.pos.empty()) raise(error_kind::python_runtime, "at least one item has to be provided");
  auto c = std::make_shared<cycler_object>();
  c->items = a.pos;
  return value::object(c);
}

value g_joiner(interpreter&, call_args& a) {
  arg_binder b("Joiner.__init__", a);
  const value sep = b.get("sep", value::string(", "));
  b.done();
  auto j = std::make_shared<joiner_object>();
  j->sep = to_str(sep);
  return value::object(j);
}

value g_lipsum(interpreter&, call_args&) {
  raise(error_kind::unsupported, "lipsum() is not supported (its output is random)");
}

value g_raise_exception(interpreter&, call_args& a) {
  arg_binder b("raise_exception", a);
  value msg;
  if (!b.opt("message", msg)) raise(error_kind::type, "raise_exception() missing 1 required positional argument: 'message'");
  b.done();
  raise(error_kind::raised, to_str(msg));
}

value g_strftime_now(interpreter& in, call_args& a) {
  arg_binder b("strftime_now", a);
  value f;
  if (!b.opt("format", f)) raise(error_kind::type, "strftime_now() missing 1 required positional argument: 'format'");
  b.done();
  if (!f.is_string()) raise(error_kind::type, fmt::format("strftime() argument 1 must be str, not {}", type_name(f)));
  std::time_t t;
  long micros = 0;
  if (in.options().now >= 0) {
    t = static_cast<std::time_t>(in.options().now);
  } else {
    const auto now = std::chrono::system_clock::now();
    t = std::chrono::system_clock::to_time_t(now);
    micros = static_cast<long>(std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000);
  }
  std::tm tm{};
  localtime_r(&t, &tm);
  // A naive datetime (datetime.now()) prints %z and %Z as empty and %f as microseconds; the rest is
  // the C library's strftime, as in Python.
  std::string spec;
  const std::string& s = f.str();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 1 < s.size()) {
      const char c = s[i + 1];
      if (c == 'z' || c == 'Z') {
        ++i;
        continue;
      }
      if (c == 'f') {
        spec += fmt::format("{:06d}", micros);
        ++i;
        continue;
      }
      spec += s[i];
      spec += c;
      ++i;
      continue;
    }
    spec += s[i];
  }
  if (spec.empty()) return value::string("");
  std::string out(spec.size() * 4 + 256, '\0');
  const size_t n = std::strftime(out.data(), out.size(), spec.c_str(), &tm);
  out.resize(n);
  return value::string(std::move(out));
}

}  // namespace

bool has_filter(std::string_view name) { return filters().count(name) != 0; }
bool has_test(std::string_view name) { return tests().count(name) != 0; }

value apply_filter(interpreter& in, std::string_view name, const value& input, call_args& args) {
  if (input.is_string()) charge_bytes(input.str().size());
  else if (input.is_seq()) charge_steps(1 + input.seq().items.size() / 8);
  else if (input.is_dict()) charge_steps(1 + input.dct().items.size() / 8);
  auto it = filters().find(name);
  if (it == filters().end()) raise(error_kind::runtime, fmt::format("No filter named {}.", repr_string(name)));
  if (it->second == f_unsupported)
    raise(error_kind::unsupported, fmt::format("the '{}' filter is not supported", name));
  return it->second(in, input, args);
}

bool apply_test(interpreter& in, std::string_view name, const value& input, call_args& args) {
  auto it = tests().find(name);
  if (it == tests().end()) raise(error_kind::runtime, fmt::format("No test named {}.", repr_string(name)));
  return it->second(in, input, args);
}

value make_global(std::string_view name) {
  static const std::pair<const char*, value (*)(interpreter&, call_args&)> table[] = {
      {"range", g_range},   {"dict", g_dict},     {"namespace", g_namespace},
      {"cycler", g_cycler}, {"joiner", g_joiner}, {"lipsum", g_lipsum},
      {"raise_exception", g_raise_exception},     {"strftime_now", g_strftime_now},
  };
  for (const auto& [n, fn] : table)
    if (name == n) return make_native(n, fn);
  return value();
}

}  // namespace hearth::jinja
