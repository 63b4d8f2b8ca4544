// /proc/cpuinfo and /proc/meminfo.
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "hw/parsers.h"
#include "hw/sysfs_read.h"

namespace hearth::hw {
namespace {

struct flag_map { const char* kernel_flag; const char* name; };
// x86 flags as the kernel spells them in cpuinfo, in the order we report them.
constexpr flag_map k_x86[] = {
    {"sse4_2", "sse4.2"},       {"avx", "avx"},           {"avx2", "avx2"},
    {"fma", "fma"},             {"f16c", "f16c"},         {"avx512f", "avx512f"},
    {"avx512dq", "avx512dq"},   {"avx512bw", "avx512bw"},   {"avx512vl", "avx512vl"}, {"avx512_vnni", "avx512_vnni"},
    {"avx512_bf16", "avx512_bf16"}, {"avx_vnni", "avx_vnni"}, {"amx_tile", "amx_tile"},
    {"amx_int8", "amx_int8"},   {"amx_bf16", "amx_bf16"},
};
// arm64 "Features" as the kernel spells them.
constexpr flag_map k_arm[] = {
    {"asimd", "neon"}, {"asimddp", "dotprod"}, {"asimdhp", "fp16"}, {"i8mm", "i8mm"},
    {"sve", "sve"},    {"sve2", "sve2"},       {"bf16", "bf16"},
};

std::string arm_implementer(uint64_t id) {
  switch (id) {
    case 0x41: return "ARM";
    case 0x42: return "Broadcom";
    case 0x48: return "HiSilicon";
    case 0x4e: return "NVIDIA";
    case 0x51: return "Qualcomm";
    case 0x61: return "Apple";
    case 0xc0: return "Ampere";
    default: return fmt::format("implementer 0x{:02x}", id);
  }
}

}  // namespace

bool cpu_info::has(const std::string& feature) const {
  return std::find(isa.begin(), isa.end(), feature) != isa.end();
}

// The CPU backend's levels (backends/cpu/kernels/isa.h), decided from the flags the same way its CPUID
// check decides them; the kernels have no ARM-specific level yet, so ARM runs the generic ones.
std::string cpu_info::kernel_level() const {
  if (!backend_level.empty()) return backend_level;
  bool avx2 = has("avx2") && has("fma") && has("f16c");
  if (avx2 && has("avx512f") && has("avx512dq") && has("avx512bw") && has("avx512vl") && has("avx512_vnni")) return "avx512";
  if (avx2 && has("avx_vnni")) return "avx2_vnni";
  if (avx2) return "avx2";
  return "generic";
}

cpu_info parse_cpuinfo(std::string_view text) {
  cpu_info c;
  std::set<std::pair<std::string, std::string>> cores;  // (physical id, core id)
  std::set<std::string> sockets;
  std::string physical, implementer, part;
  std::set<std::string> flags;
  bool have_x86 = false, have_arm = false, cores_per_socket_known = false;
  int cores_per_socket = 0;
  for (auto& line : detail::split_lines(text)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = detail::trim(std::string_view(line).substr(0, colon));
    std::string value = detail::trim(std::string_view(line).substr(colon + 1));
    if (key == "processor") {
      // "processor : 0" starts a logical CPU (s390 prints a different line with no number; skip it).
      if (detail::parse_u64(value)) ++c.n_threads;
      physical.clear();
    } else if (key == "vendor_id") {
      if (c.vendor.empty()) c.vendor = value;
    } else if (key == "model name") {
      if (c.model_name.empty()) c.model_name = value;
    } else if (key == "physical id") {
      physical = value;
      sockets.insert(value);
    } else if (key == "core id") {
      cores.insert({physical, value});
    } else if (key == "cpu cores") {
      if (auto v = detail::parse_u64(value)) {
        cores_per_socket = (int)*v;
        cores_per_socket_known = true;
      }
    } else if (key == "flags" && !have_x86) {
      have_x86 = true;
      for (auto& f : detail::split_ws(value)) flags.insert(f);
    } else if (key == "Features" && !have_arm) {
      have_arm = true;
      for (auto& f : detail::split_ws(value)) flags.insert(f);
    } else if (key == "CPU implementer" && implementer.empty()) {
      implementer = value;
    } else if (key == "CPU part" && part.empty()) {
      part = value;
    }
  }
  if (have_x86) {
    c.arch = flags.count("lm") ? "x86_64" : "x86";
    for (auto& m : k_x86)
      if (flags.count(m.kernel_flag)) c.isa.push_back(m.name);
  } else if (have_arm) {
    c.arch = flags.count("asimd") ? "aarch64" : "arm";
    for (auto& m : k_arm)
      if (flags.count(m.kernel_flag)) c.isa.push_back(m.name);
    if (c.vendor.empty() && !implementer.empty())
      if (auto id = detail::parse_u64(implementer)) c.vendor = arm_implementer(*id);
    if (c.model_name.empty() && !part.empty()) c.model_name = fmt::format("{} CPU part {}", c.vendor, part);
  } else {
    c.arch = "unknown";
  }
  if (c.vendor.empty()) c.vendor = "unknown";
  if (c.model_name.empty()) c.model_name = "unknown";
  c.n_sockets = c.n_threads > 0 ? std::max<int>(1, (int)sockets.size()) : 0;
  if (!cores.empty()) c.n_cores = (int)cores.size();
  else if (cores_per_socket_known && cores_per_socket > 0) c.n_cores = cores_per_socket * std::max(1, c.n_sockets);
  else c.n_cores = c.n_threads;
  return c;
}

memory_info parse_meminfo(std::string_view text) {
  memory_info m;
  bool total = false, avail = false;
  for (auto& [key, value] : detail::parse_key_values(text, ':')) {
    auto parts = detail::split_ws(value);
    if (parts.empty()) continue;
    auto v = detail::parse_u64(parts[0]);
    if (!v) continue;
    uint64_t bytes = (parts.size() > 1 && parts[1] == "kB") ? *v * 1024 : *v;
    if (key == "MemTotal") { m.total_bytes = bytes; total = true; }
    else if (key == "MemAvailable") { m.available_bytes = bytes; avail = true; }
    else if (key == "SwapTotal") m.swap_total_bytes = bytes;
    else if (key == "SwapFree") m.swap_free_bytes = bytes;
  }
  // Kernels before 3.14 have no MemAvailable; MemFree is the conservative stand-in.
  if (total && !avail) {
    for (auto& [key, value] : detail::parse_key_values(text, ':'))
      if (key == "MemFree")
        if (auto v = detail::parse_u64(detail::split_ws(value).empty() ? "" : detail::split_ws(value)[0]))
          m.available_bytes = *v * 1024;
  }
  m.known = total;
  return m;
}

}  // namespace hearth::hw
