// Errors: every failure the user can cause (bad file, bad argument, out of memory) is a hearth::error
// carrying one clear line; the CLI prints it and exits non-zero, the server maps it to an HTTP error.
#pragma once
#include <fmt/format.h>
#include <stdexcept>
#include <string>

namespace hearth {

enum class error_kind { generic, invalid_argument, not_found, bad_format, unsupported, out_of_memory, io, cancelled };

class error : public std::runtime_error {
 public:
  explicit error(const std::string& msg, error_kind kind = error_kind::generic)
      : std::runtime_error(msg), kind_(kind) {}
  error_kind kind() const { return kind_; }

 private:
  error_kind kind_;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw error(fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
[[noreturn]] void fail(error_kind kind, fmt::format_string<Args...> f, Args&&... args) {
  throw error(fmt::format(f, std::forward<Args>(args)...), kind);
}

}  // namespace hearth

// Internal invariant: a broken one is a bug in Hearth, not in the user's input.
#define HEARTH_ASSERT(cond)                                                                        \
  do {                                                                                             \
    if (!(cond)) ::hearth::fail("internal error: {}:{}: assertion failed: {}", __FILE__, __LINE__, #cond); \
  } while (0)
