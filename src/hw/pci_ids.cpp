#include "hw/pci_ids.h"

#include <cctype>

#include "hw/sysfs_read.h"

namespace hearth::hw {
namespace {

bool parse_hex4(std::string_view s, uint16_t& out) {
  if (s.size() < 4) return false;
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    char c = s[i];
    int d = std::isdigit((unsigned char)c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
    if (d < 0) return false;
    v = v * 16 + (uint32_t)d;
  }
  out = (uint16_t)v;
  return true;
}

// The name after an id: separated from it by whitespace (pci.ids uses two spaces).
std::string name_after(std::string_view line, size_t pos) {
  return detail::trim(pos < line.size() ? line.substr(pos) : std::string_view{});
}

}  // namespace

pci_id_db pci_id_db::load(const std::string& path) {
  auto text = detail::read_file(path, 64u << 20);
  if (!text) return pci_id_db{};
  return parse(*text);
}

// Format (from the file's own header): "vendor  vendor_name", then "<TAB>device  device_name", then
// "<TAB><TAB>subvendor subdevice  subsystem_name"; '#' starts a comment; "C class  class_name" begins
// the class list, which we do not need.
pci_id_db pci_id_db::parse(std::string_view text) {
  pci_id_db db;
  vendor_entry* vendor = nullptr;
  device_entry* device = nullptr;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    if (line.size() >= 2 && line[0] == 'C' && line[1] == ' ') break;
    uint16_t id = 0;
    if (line[0] != '\t') {
      device = nullptr;
      vendor = nullptr;
      if (!parse_hex4(line, id)) continue;
      auto& v = db.vendors_[id];
      v.name = name_after(line, 4);
      vendor = &v;
    } else if (line.size() > 1 && line[1] != '\t') {
      device = nullptr;
      if (!vendor || !parse_hex4(line.substr(1), id)) continue;
      auto& d = vendor->devices[id];
      d.name = name_after(line, 5);
      device = &d;
    } else {
      uint16_t sv = 0, sd = 0;
      std::string_view rest = line.substr(2);
      if (!device || rest.size() < 9 || !parse_hex4(rest, sv) || rest[4] != ' ' || !parse_hex4(rest.substr(5), sd))
        continue;
      device->subsystems[((uint32_t)sv << 16) | sd] = name_after(rest, 9);
    }
  }
  return db;
}

std::optional<std::string> pci_id_db::vendor_name(uint16_t vendor) const {
  auto it = vendors_.find(vendor);
  if (it == vendors_.end() || it->second.name.empty()) return std::nullopt;
  return it->second.name;
}

std::optional<std::string> pci_id_db::device_name(uint16_t vendor, uint16_t device) const {
  auto it = vendors_.find(vendor);
  if (it == vendors_.end()) return std::nullopt;
  auto d = it->second.devices.find(device);
  if (d == it->second.devices.end() || d->second.name.empty()) return std::nullopt;
  return d->second.name;
}

std::optional<std::string> pci_id_db::subsystem_name(uint16_t vendor, uint16_t device, uint16_t sub_vendor,
                                                     uint16_t sub_device) const {
  auto it = vendors_.find(vendor);
  if (it == vendors_.end()) return std::nullopt;
  auto d = it->second.devices.find(device);
  if (d == it->second.devices.end()) return std::nullopt;
  auto s = d->second.subsystems.find(((uint32_t)sub_vendor << 16) | sub_device);
  if (s == d->second.subsystems.end() || s->second.empty()) return std::nullopt;
  return s->second;
}

}  // namespace hearth::hw
