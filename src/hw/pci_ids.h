// Names for PCI vendor/device/subsystem ids, from the pci.ids database (Debian package `pci.ids`,
// /usr/share/misc/pci.ids). We parse the file ourselves rather than run lspci.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace hearth::hw {

class pci_id_db {
 public:
  // Empty database when the file is missing or unreadable (every lookup then says nothing).
  static pci_id_db load(const std::string& path);
  // The text of a pci.ids file (the vendor section; the class section after it is ignored).
  static pci_id_db parse(std::string_view text);

  bool empty() const { return vendors_.empty(); }
  size_t n_vendors() const { return vendors_.size(); }
  std::optional<std::string> vendor_name(uint16_t vendor) const;
  std::optional<std::string> device_name(uint16_t vendor, uint16_t device) const;
  std::optional<std::string> subsystem_name(uint16_t vendor, uint16_t device, uint16_t sub_vendor,
                                            uint16_t sub_device) const;

 private:
  struct device_entry {
    std::string name;
    std::map<uint32_t, std::string> subsystems;  // (sub_vendor << 16) | sub_device
  };
  struct vendor_entry {
    std::string name;
    std::map<uint16_t, device_entry> devices;
  };
  std::map<uint16_t, vendor_entry> vendors_;
};

}  // namespace hearth::hw
