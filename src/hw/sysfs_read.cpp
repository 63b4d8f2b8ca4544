#include "hw/sysfs_read.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace hearth::hw::detail {
namespace fs = std::filesystem;

std::optional<std::string> read_file(const std::string& path, size_t max_bytes) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return std::nullopt;
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::string out;
  char buf[8192];
  while (out.size() < max_bytes) {
    f.read(buf, (std::streamsize)std::min(sizeof buf, max_bytes - out.size()));
    std::streamsize n = f.gcount();
    if (n <= 0) break;
    out.append(buf, (size_t)n);
  }
  // A sysfs attribute whose show() fails (EIO, EPERM) reads as an error, not as empty text.
  if (f.bad()) return std::nullopt;
  return out;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace((unsigned char)s[b])) ++b;
  while (e > b && std::isspace((unsigned char)s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

std::optional<std::string> read_line(const std::string& path) {
  auto text = read_file(path, 64 * 1024);
  if (!text) return std::nullopt;
  size_t nl = text->find('\n');
  return trim(std::string_view(*text).substr(0, nl));
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  std::string t = trim(s);
  if (t.empty()) return std::nullopt;
  int base = 10;
  std::string_view v = t;
  if (v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
    base = 16;
    v.remove_prefix(2);
  }
  uint64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out, base);
  if (ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
  return out;
}

std::optional<uint64_t> read_u64(const std::string& path) {
  auto l = read_line(path);
  if (!l) return std::nullopt;
  return parse_u64(*l);
}

std::optional<int64_t> read_i64(const std::string& path) {
  auto l = read_line(path);
  if (!l || l->empty()) return std::nullopt;
  int64_t out = 0;
  auto [p, ec] = std::from_chars(l->data(), l->data() + l->size(), out, 10);
  if (ec != std::errc() || p != l->data() + l->size()) return std::nullopt;
  return out;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.emplace_back(line);
    start = end + 1;
  }
  return out;
}

std::vector<std::string> split_ws(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace((unsigned char)s[i])) ++i;
    size_t b = i;
    while (i < s.size() && !std::isspace((unsigned char)s[i])) ++i;
    if (i > b) out.emplace_back(s.substr(b, i - b));
  }
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = (char)std::tolower((unsigned char)c);
  return out;
}

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> out;
  std::error_code ec;
  fs::directory_iterator it(path, ec), end;
  if (ec) return out;
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    out.push_back(it->path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

bool is_dir(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

std::string link_name(const std::string& path) {
  std::error_code ec;
  fs::path target = fs::read_symlink(path, ec);
  if (ec) return "";
  std::string name = target.filename().string();
  if (name.empty() || name == "." || name == "..") return "";
  return name;
}

std::string resolved_name(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::canonical(path, ec);
  if (ec) return "";
  return p.filename().string();
}

std::vector<std::pair<std::string, std::string>> parse_key_values(std::string_view text, char sep) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& line : split_lines(text)) {
    size_t pos = sep == ' ' ? line.find_first_of(" \t") : line.find(sep);
    if (pos == std::string::npos) continue;
    std::string key = trim(std::string_view(line).substr(0, pos));
    if (key.empty()) continue;
    out.emplace_back(key, trim(std::string_view(line).substr(pos + 1)));
  }
  return out;
}

std::string format_bytes(uint64_t bytes) {
  const double gib = 1024.0 * 1024.0 * 1024.0;
  if (bytes >= (uint64_t)1 << 30) return fmt::format("{:.1f} GiB", (double)bytes / gib);
  if (bytes >= (uint64_t)1 << 20) return fmt::format("{} MiB", bytes >> 20);
  if (bytes >= (uint64_t)1 << 10) return fmt::format("{} KiB", bytes >> 10);
  return fmt::format("{} B", bytes);
}

}  // namespace hearth::hw::detail
