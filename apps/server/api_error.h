// Errors a request can cause, with their HTTP status; each API family renders them in its own JSON
// shape (OpenAI's {"error": {...}}, Anthropic's {"type": "error", "error": {...}}).
#pragma once
#include <stdexcept>
#include <string>

namespace hearth::server {

enum class error_type { invalid_request, authentication, permission, not_found, too_large, overloaded, internal };

class api_error : public std::runtime_error {
 public:
  api_error(int status, error_type type, const std::string& message, std::string param = {}, std::string code = {})
      : std::runtime_error(message), status(status), type(type), param(std::move(param)), code(std::move(code)) {}
  int status;
  error_type type;
  std::string param;  // the request field at fault, "" when none
  std::string code;   // a machine-readable code ("model_not_found", "context_length_exceeded"), "" when none
};

inline api_error bad_request(const std::string& message, std::string param = {}, std::string code = {}) {
  return api_error(400, error_type::invalid_request, message, std::move(param), std::move(code));
}

}  // namespace hearth::server
