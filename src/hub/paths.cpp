#include "hub/paths.h"

#include <pwd.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>

#include "core/error.h"

namespace hearth::hub {

namespace {
std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::vector<std::string> split_colon(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(':', start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}
}  // namespace

std::string home_dir() {
  std::string h = env_or_empty("HOME");
  if (!h.empty()) return h;
  if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_dir) return pw->pw_dir;
  fail("cannot find the home directory: HOME is not set");
}

std::string models_root() {
  if (auto v = env_or_empty("HEARTH_MODELS"); !v.empty()) return v;
  if (auto v = env_or_empty("XDG_DATA_HOME"); !v.empty() && v[0] == '/') return v + "/hearth/models";
  return home_dir() + "/.local/share/hearth/models";
}

std::vector<std::string> lmstudio_roots() {
  if (const char* v = std::getenv("HEARTH_LMSTUDIO_MODELS")) return split_colon(v);
  const std::string h = home_dir();
  return {h + "/.lmstudio/models", h + "/.cache/lm-studio/models"};
}

std::vector<std::string> ollama_roots() {
  if (const char* v = std::getenv("HEARTH_OLLAMA_MODELS")) return split_colon(v);
  if (auto v = env_or_empty("OLLAMA_MODELS"); !v.empty()) return {v};
  return {home_dir() + "/.ollama/models", "/usr/share/ollama/.ollama/models"};
}

bool is_safe_component(std::string_view s) {
  if (s.empty() || s.size() > 255 || s == "." || s == ".." || s[0] == '.') return false;
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f || c == '/' || c == '\\') return false;
  return true;
}

bool is_safe_relative_path(std::string_view path) {
  if (path.empty() || path.size() > 4096 || path[0] == '/') return false;
  size_t start = 0;
  while (true) {
    size_t end = path.find('/', start);
    std::string_view comp = path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (!is_safe_component(comp)) return false;
    if (end == std::string_view::npos) return true;
    start = end + 1;
  }
}

void check_safe_relative_path(std::string_view path) {
  if (!is_safe_relative_path(path)) {
    std::string shown;
    for (unsigned char c : path.substr(0, 200)) shown += (c < 0x20 || c == 0x7f) ? fmt::format("\\x{:02x}", c) : std::string(1, (char)c);
    fail(error_kind::invalid_argument, "unsafe file name from the hub: '{}' (absolute, '..', hidden or control characters)", shown);
  }
}

void check_repo_id(std::string_view repo) {
  auto ok_part = [](std::string_view p) {
    if (p.empty() || p.size() > 96 || p == "." || p == "..") return false;
    for (char c : p)
      if (!(std::isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.')) return false;
    return true;
  };
  const size_t slash = repo.find('/');
  if (slash == std::string_view::npos || !ok_part(repo.substr(0, slash)) || !ok_part(repo.substr(slash + 1)))
    fail(error_kind::invalid_argument, "'{}' is not a repository id of the form owner/name", repo);
}

}  // namespace hearth::hub
