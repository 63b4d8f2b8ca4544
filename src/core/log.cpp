#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace hearth {
namespace {
log_level initial_level() {
  const char* env = std::getenv("HEARTH_LOG");
  if (!env) return log_level::warn;
  if (!std::strcmp(env, "error")) return log_level::error;
  if (!std::strcmp(env, "info")) return log_level::info;
  if (!std::strcmp(env, "debug")) return log_level::debug;
  return log_level::warn;
}
std::atomic<int> g_level{static_cast<int>(initial_level())};
std::mutex g_mutex;
}  // namespace

log_level log_threshold() { return static_cast<log_level>(g_level.load(std::memory_order_relaxed)); }
void set_log_threshold(log_level level) { g_level.store(static_cast<int>(level)); }

void log_write(log_level level, const std::string& msg) {
  static const char* names[] = {"error", "warn", "info", "debug"};
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fprintf(stderr, "hearth: %s: %s\n", names[static_cast<int>(level)], msg.c_str());
}

}  // namespace hearth
