// JSON the way Python's json.dumps writes it (separators, indent, ensure_ascii, sort_keys, float
// repr, NaN/Infinity), and conversion of nlohmann JSON documents into template values.
#include <cmath>

#include "tokenizer/template/interpreter.h"
#include "tokenizer/template/template.h"
#include "tokenizer/template/text.h"

namespace hearth::jinja {

namespace {

void dump_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
          if (c < 0x20 || (ensure_ascii && c == 0x7F)) out += fmt::format("\\u{:04x}", c);
          else out.push_back(static_cast<char>(c));
      }
      continue;
    }
    const size_t start = i;
    const uint32_t cp = text::decode(s, i);
    if (!ensure_ascii) {
      out.append(s.substr(start, i - start));
    } else if (cp >= 0x10000) {
      const uint32_t v = cp - 0x10000;
      out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
    } else {
      out += fmt::format("\\u{:04x}", cp);
    }
  }
  out.push_back('"');
}

std::string float_json(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return float_repr(d);
}

[[noreturn]] void not_serializable(const value& v) {
  raise(error_kind::type, fmt::format("Object of type {} is not JSON serializable", type_name(v)));
}

class dumper {
 public:
  explicit dumper(const dumps_options& o) : o_(o) {}
  std::string out;

  void dump(const value& v, int level) {
    if (level > max_value_depth) raise(error_kind::limit, "value nested too deeply");
    switch (v.k()) {
      case kind::none: out += "null"; return;
      case kind::boolean: out += v.get_bool() ? "true" : "false"; return;
      case kind::integer: out += std::to_string(v.get_int()); return;
      case kind::floating: out += float_json(v.get_float()); return;
      case kind::string: dump_string(out, v.str(), o_.ensure_ascii); break;
      case kind::sequence: {
        const auto& s = v.seq();
        if (s.tag != seq_tag::list && s.tag != seq_tag::tuple) not_serializable(v);
        if (s.items.empty()) {
          out += "[]";
          return;
        }
        out.push_back('[');
        newline(level + 1);
        for (size_t i = 0; i < s.items.size(); ++i) {
          if (i) {
            out += o_.item_sep;
            newline(level + 1);
          }
          dump(s.items[i], level + 1);
        }
        newline(level);
        out.push_back(']');
        break;
      }
      case kind::dict: {
        const auto& d = v.dct();
        if (d.items.empty()) {
          out += "{}";
          return;
        }
        std::vector<const std::pair<value, value>*> items;
        for (const auto& kv : d.items) items.push_back(&kv);
        if (o_.sort_keys)
          std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return less(a->first, b->first); });
        out.push_back('{');
        newline(level + 1);
        bool first = true;
        for (const auto* kv : items) {
          if (!first) {
            out += o_.item_sep;
            newline(level + 1);
          }
          first = false;
          const value& k = kv->first;
          std::string key;
          if (k.is_string()) key = k.str();
          else if (k.is_float()) key = float_json(k.get_float());
          else if (k.is_bool()) key = k.get_bool() ? "true" : "false";
          else if (k.is_int()) key = std::to_string(k.get_int());
          else if (k.is_none()) key = "null";
          else raise(error_kind::type, fmt::format("keys must be str, int, float, bool or None, not {}", type_name(k)));
          dump_string(out, key, o_.ensure_ascii);
          out += o_.key_sep;
          dump(kv->second, level + 1);
        }
        newline(level);
        out.push_back('}');
        break;
      }
      default: not_serializable(v);
    }
    check_string_size(out.size());
  }

 private:
  const dumps_options& o_;
  void newline(int level) {
    if (!o_.has_indent) return;
    out.push_back('\n');
    for (int i = 0; i < level; ++i) out += o_.indent;
  }
};

template <typename J> value convert(const J& j, int depth) {
  if (depth > max_value_depth) throw template_error(error_kind::limit, "JSON input nested too deeply", 0);
  switch (j.type()) {
    case nlohmann::json::value_t::null: return value::none();
    case nlohmann::json::value_t::boolean: return value::boolean(j.template get<bool>());
    case nlohmann::json::value_t::number_integer: return value::integer(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      const uint64_t u = j.template get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return value::floating(static_cast<double>(u));
      return value::integer(static_cast<int64_t>(u));
    }
    case nlohmann::json::value_t::number_float: return value::floating(j.template get<double>());
    case nlohmann::json::value_t::string: return value::string(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      std::vector<value> items;
      items.reserve(j.size());
      for (const auto& x : j) items.push_back(convert(x, depth + 1));
      return value::list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      value d = value::dict();
      for (auto it = j.begin(); it != j.end(); ++it) dict_set(d, value::string(it.key()), convert(it.value(), depth + 1));
      return d;
    }
    default: return value::none();
  }
}

}  // namespace

std::string py_json_dumps(const value& v, const dumps_options& opt) {
  dumper d(opt);
  d.dump(v, 0);
  charge_bytes(d.out.size());
  return std::move(d.out);
}

value from_json(const nlohmann::ordered_json& j) {
  try {
    return convert(j, 0);
  } catch (const raw_error& e) {
    throw template_error(e.kind, e.message, 0);
  }
}

value from_json(const nlohmann::json& j) {
  try {
    return convert(j, 0);
  } catch (const raw_error& e) {
    throw template_error(e.kind, e.message, 0);
  }
}

}  // namespace hearth::jinja
