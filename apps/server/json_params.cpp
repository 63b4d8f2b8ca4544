// Request body parsing and typed field access.
#include "apps/server/json_params.h"

#include <cmath>
#include <fmt/format.h>

namespace hearth::server {

namespace {

// Deepest nesting of arrays/objects in a JSON text, strings skipped; stops counting once over limit
// so hostile inputs cost one linear scan.
int nesting_depth(std::string_view s, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if (c == ']' || c == '}') --depth;
  }
  return deepest;
}

}  // namespace

nlohmann::ordered_json parse_body(std::string_view body, int max_depth) {
  if (body.empty()) throw bad_request("the request body is empty; expected a JSON object");
  if (nesting_depth(body, max_depth) > max_depth)
    throw bad_request(fmt::format("the request body nests JSON deeper than {} levels", max_depth));
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    // nlohmann's messages start with "[json.exception.parse_error.101] "; keep the readable part.
    std::string what = e.what();
    if (auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    throw bad_request("invalid JSON in the request body: " + what);
  }
  if (!j.is_object()) throw bad_request(fmt::format("the request body must be a JSON object, got {}", json_type_name(j)));
  return j;
}

const char* json_type_name(const nlohmann::ordered_json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::object: return "object";
    case nlohmann::json::value_t::array: return "array";
    case nlohmann::json::value_t::string: return "string";
    case nlohmann::json::value_t::boolean: return "boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "integer";
    case nlohmann::json::value_t::number_float: return "number";
    default: return "value";
  }
}

const nlohmann::ordered_json* fields::get(const char* key) const {
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool fields::has(const char* key) const { return get(key) != nullptr; }

void fields::fail_type(const char* key, const char* expected) const {
  const auto* v = get(key);
  throw bad_request(fmt::format("'{}' must be {}, got {}", name(key), expected, v ? json_type_name(*v) : "nothing"), name(key));
}

std::optional<double> fields::number(const char* key, double lo, double hi) const {
  const auto* v = get(key);
  if (!v) return std::nullopt;
  if (!v->is_number()) fail_type(key, "a number");
  const double d = v->get<double>();
  if (!std::isfinite(d) || d < lo || d > hi)
    throw bad_request(fmt::format("'{}' must be between {} and {}, got {}", name(key), lo, hi, v->dump()), name(key));
  return d;
}

std::optional<int64_t> fields::integer(const char* key, int64_t lo, int64_t hi) const {
  const auto* v = get(key);
  if (!v) return std::nullopt;
  int64_t x = 0;
  if (v->is_number_integer()) {
    if (v->is_number_unsigned() && v->get<uint64_t>() > (uint64_t)INT64_MAX)
      throw bad_request(fmt::format("'{}' must be between {} and {}, got {}", name(key), lo, hi, v->dump()), name(key));
    x = v->get<int64_t>();
  } else if (v->is_number_float()) {
    // 5.0 is accepted as 5, as Python-based servers do; 5.5 is not an integer.
    const double d = v->get<double>();
    if (!std::isfinite(d) || d != std::floor(d)) fail_type(key, "an integer");
    if (d < (double)lo || d > (double)hi)
      throw bad_request(fmt::format("'{}' must be between {} and {}, got {}", name(key), lo, hi, v->dump()), name(key));
    x = (int64_t)d;
  } else {
    fail_type(key, "an integer");
  }
  if (x < lo || x > hi)
    throw bad_request(fmt::format("'{}' must be between {} and {}, got {}", name(key), lo, hi, x), name(key));
  return x;
}

std::optional<bool> fields::boolean(const char* key) const {
  const auto* v = get(key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) fail_type(key, "a boolean");
  return v->get<bool>();
}

std::optional<std::string> fields::string(const char* key) const {
  const auto* v = get(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) fail_type(key, "a string");
  return v->get<std::string>();
}

std::string fields::required_string(const char* key) const {
  auto s = string(key);
  if (!s || s->empty()) throw bad_request(fmt::format("'{}' is required", name(key)), name(key));
  return *s;
}

}  // namespace hearth::server
