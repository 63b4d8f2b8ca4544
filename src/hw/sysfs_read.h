// Small, forgiving readers for sysfs/procfs text files: a missing, unreadable or malformed file gives
// std::nullopt (the survey then says "unknown"), never an exception. Internal to src/hw.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hearth::hw::detail {

// Whole file (at most max_bytes: sysfs files are small, /proc/cpuinfo on a big server is ~1 MB).
std::optional<std::string> read_file(const std::string& path, size_t max_bytes = 4u << 20);
// First line, surrounding whitespace removed.
std::optional<std::string> read_line(const std::string& path);
// Unsigned integer in decimal, or hex with 0x (sysfs writes "0x1002" for ids, decimal for sizes).
std::optional<uint64_t> parse_u64(std::string_view s);
std::optional<uint64_t> read_u64(const std::string& path);
std::optional<int64_t> read_i64(const std::string& path);

std::string trim(std::string_view s);
std::vector<std::string> split_lines(std::string_view text);
std::vector<std::string> split_ws(std::string_view s);
bool starts_with(std::string_view s, std::string_view prefix);
std::string to_lower(std::string_view s);

// Names in a directory (no "." / ".."), sorted; empty when the directory is missing.
std::vector<std::string> list_dir(const std::string& path);
bool exists(const std::string& path);
bool is_dir(const std::string& path);
// Last component of a symlink's target ("driver" -> ".../drivers/amdgpu" gives "amdgpu"); "" if none.
std::string link_name(const std::string& path);
// Canonical path's last component (follows every link); "" if it does not resolve.
std::string resolved_name(const std::string& path);

// "key value" lines (KFD properties) or "key: value" lines (/proc/meminfo, NVIDIA information).
std::vector<std::pair<std::string, std::string>> parse_key_values(std::string_view text, char sep);

// Sizes for people: "24.0 GiB", "512 MiB".
std::string format_bytes(uint64_t bytes);

}  // namespace hearth::hw::detail
