// The survey's text parsers, exposed for tests: each takes the text of one file (or config-space bytes)
// and never throws; malformed input yields empty or partial results.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hw/survey.h"

namespace hearth::hw {

cpu_info parse_cpuinfo(std::string_view cpuinfo_text);
memory_info parse_meminfo(std::string_view meminfo_text);
// A PCI device's sysfs `resource` file: one "start end flags" line per resource; BARs 0-5 and the ROM (6).
std::vector<pci_bar> parse_pci_resource(std::string_view resource_text);
// The PCIe Resizable BAR extended capability (id 0x15) in config space, for the given BAR; fills the
// capability_* fields (capability_read stays false when the config space is too short to hold it).
void parse_rebar_capability(std::span<const uint8_t> config, int bar_index, rebar_info& out);
// An ICD manifest's JSON; the driver is recognised from the file name and library path.
icd_manifest parse_icd_manifest(const std::string& path, std::string_view json_text);
// /etc/os-release -> distribution family and PRETTY_NAME.
distro_family parse_os_release(std::string_view text, std::string* pretty_name);
// /etc/group: the groups that list `user` as a member, plus the one whose gid is primary_gid (if given).
std::vector<std::string> groups_of_user(std::string_view group_text, const std::string& user, long primary_gid);
// /etc/group: name of a gid ("" when absent).
std::string group_name_of(std::string_view group_text, long gid);

}  // namespace hearth::hw
