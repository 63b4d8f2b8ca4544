// Reading request bodies: JSON parsing with a nesting limit, and typed, range-checked access to
// fields that turns every wrong type or value into a 400 naming the field.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "apps/server/api_error.h"

namespace hearth::server {

// Parses a request body. Invalid JSON, nesting deeper than max_depth, or a top level that is not
// an object: api_error 400.
nlohmann::ordered_json parse_body(std::string_view body, int max_depth = 64);

// Typed views of an object's fields. A field that is absent or null reads as "not given".
class fields {
 public:
  explicit fields(const nlohmann::ordered_json& obj, std::string prefix = {}) : j_(obj), prefix_(std::move(prefix)) {}
  bool has(const char* key) const;
  const nlohmann::ordered_json* get(const char* key) const;
  std::optional<double> number(const char* key, double lo, double hi) const;
  std::optional<int64_t> integer(const char* key, int64_t lo, int64_t hi) const;
  std::optional<bool> boolean(const char* key) const;
  std::optional<std::string> string(const char* key) const;
  // A required string: absent or empty is an error.
  std::string required_string(const char* key) const;
  std::string name(const char* key) const { return prefix_ + key; }
  [[noreturn]] void fail_type(const char* key, const char* expected) const;

 private:
  const nlohmann::ordered_json& j_;
  std::string prefix_;
};

// The JSON type of a value as a client would name it ("string", "number", "array", ...).
const char* json_type_name(const nlohmann::ordered_json& v);

}  // namespace hearth::server
