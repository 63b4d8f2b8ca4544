// Logging to stderr. Level from HEARTH_LOG (error, warn, info, debug); default warn, so that
// stdout stays the program's output and stderr stays quiet unless something needs saying.
#pragma once
#include <fmt/format.h>

namespace hearth {

enum class log_level { error = 0, warn = 1, info = 2, debug = 3 };

log_level log_threshold();
void set_log_threshold(log_level level);
void log_write(log_level level, const std::string& msg);

template <typename... Args>
void log(log_level level, fmt::format_string<Args...> f, Args&&... args) {
  if (level <= log_threshold()) log_write(level, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args> void log_error(fmt::format_string<Args...> f, Args&&... a) { log(log_level::error, f, std::forward<Args>(a)...); }
template <typename... Args> void log_warn(fmt::format_string<Args...> f, Args&&... a) { log(log_level::warn, f, std::forward<Args>(a)...); }
template <typename... Args> void log_info(fmt::format_string<Args...> f, Args&&... a) { log(log_level::info, f, std::forward<Args>(a)...); }
template <typename... Args> void log_debug(fmt::format_string<Args...> f, Args&&... a) { log(log_level::debug, f, std::forward<Args>(a)...); }

}  // namespace hearth
