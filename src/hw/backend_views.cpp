// The backends' view of their devices for the survey: every GPU device the backend modules expose
// (Vulkan, CUDA, ROCm) becomes an api_device_view. Backends describe themselves through
// device_props; the keys of props().extra read here are listed in backend/backend.h.
#include <fmt/format.h>

#include <charconv>

#include "backend/registry.h"
#include "backends/init.h"
#include "hw/survey.h"

namespace hearth::hw {

namespace {

std::optional<bool> flag(const std::map<std::string, std::string>& m, const char* key) {
  auto it = m.find(key);
  if (it == m.end()) return std::nullopt;
  return it->second == "1" || it->second == "true" || it->second == "yes";
}

std::string text(const std::map<std::string, std::string>& m, const char* key) {
  auto it = m.find(key);
  return it == m.end() ? std::string() : it->second;
}

uint64_t number(const std::string& s, int base = 10) {
  uint64_t v = 0;
  const char* b = s.data();
  if (base == 16 && s.starts_with("0x")) b += 2;
  std::from_chars(b, s.data() + s.size(), v, base);
  return v;
}

}  // namespace

std::vector<api_device_view> backend_device_views() {
  std::vector<api_device_view> out;
  try {
    init_backends(true);
    std::map<std::string, int> per_api;
    for (device* d : registry::instance().devices()) {
      if (d->kind() == device_kind::cpu) continue;
      const device_props p = d->props();
      const auto& x = p.extra;
      api_device_view v;
      v.api = p.api;
      const std::string name = d->name();
      const size_t colon = name.find(':');
      v.index = colon == std::string::npos ? per_api[p.api]++ : (int)number(name.substr(colon + 1));
      v.name = d->description();
      v.pci_address = text(x, "pci_address");
      v.vendor_id = (uint16_t)number(text(x, "vendor_id"), 16);
      v.device_id = (uint16_t)number(text(x, "device_id"), 16);
      v.device_type = d->kind() == device_kind::gpu_integrated ? "integrated" : d->kind() == device_kind::gpu_software ? "cpu" : "discrete";
      v.software = d->kind() == device_kind::gpu_software;
      v.driver_name = p.driver;
      v.driver_version = text(x, "driver_version");
      v.api_version = text(x, "api_version");
      v.arch = text(x, "arch");
      const device_memory mem = d->memory();
      if (mem.total_bytes) v.total_bytes = mem.total_bytes;
      if (mem.free_bytes) v.free_bytes = mem.free_bytes;
      v.subgroup_size = (int)number(text(x, "subgroup_size"));
      v.fp16 = flag(x, "fp16");
      v.int8_dot = flag(x, "int8_dot");
      v.bf16 = flag(x, "bf16");
      v.coopmat = flag(x, "coopmat");
      if (p.peak_bandwidth) v.extra.emplace_back("peak bandwidth", fmt::format("{:.0f} GB/s", p.peak_bandwidth / 1e9));
      for (const auto& [k, val] : x)
        if (k.starts_with("info.")) v.extra.emplace_back(k.substr(5), val);
      out.push_back(std::move(v));
    }
  } catch (...) {
    // A provider never throws: a backend that cannot start simply shows no devices.
  }
  return out;
}

}  // namespace hearth::hw
