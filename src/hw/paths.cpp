#include "hw/paths.h"

#include <cstdlib>

namespace hearth::hw {
namespace {

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

void env_string(const char* name, std::string& out) {
  const char* v = std::getenv(name);
  if (v && *v) out = v;
}

std::vector<std::string> default_lib_dirs() {
  return {"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64",
          "/usr/lib", "/usr/local/lib", "/usr/lib/wsl/lib"};
}

}  // namespace

hw_paths::hw_paths()
    : vulkan_icd_dirs{"/usr/local/etc/vulkan/icd.d", "/usr/local/share/vulkan/icd.d", "/usr/share/vulkan/icd.d",
                      "/etc/vulkan/icd.d"},
      lib_dirs(default_lib_dirs()) {}

hw_paths hw_paths::from_env() {
  hw_paths p;
  env_string("HEARTH_SYSFS_ROOT", p.sysfs);
  env_string("HEARTH_PROC_ROOT", p.proc);
  env_string("HEARTH_DEV_ROOT", p.dev);
  env_string("HEARTH_ETC_ROOT", p.etc);
  env_string("HEARTH_PCI_IDS", p.pci_ids);
  env_string("ROCM_PATH", p.rocm);
  env_string("HEARTH_ROCM_ROOT", p.rocm);
  if (const char* v = std::getenv("HEARTH_ETC_ROOT"); v && *v) {
    // A relocated /etc carries its own vulkan/icd.d; the /usr ones stay unless replaced below.
    p.vulkan_icd_dirs.back() = std::string(v) + "/vulkan/icd.d";
  }
  if (const char* v = std::getenv("HEARTH_VULKAN_ICD_DIRS"); v && *v) p.vulkan_icd_dirs = split_colon(v);
  if (const char* v = std::getenv("VK_DRIVER_FILES"); v && *v) p.vulkan_icd_files = split_colon(v);
  else if (const char* w = std::getenv("VK_ICD_FILENAMES"); w && *w) p.vulkan_icd_files = split_colon(w);
  if (const char* v = std::getenv("HEARTH_LIB_DIRS"); v && *v) p.lib_dirs = split_colon(v);
  else if (const char* w = std::getenv("LD_LIBRARY_PATH"); w && *w) {
    auto extra = split_colon(w);
    p.lib_dirs.insert(p.lib_dirs.begin(), extra.begin(), extra.end());
  }
  if (const char* v = std::getenv("HEARTH_HW_NO_DLOPEN"); v && *v && std::string(v) != "0") p.use_dlopen = false;
  return p;
}

hw_paths hw_paths::recorded_tree(const std::string& root, const std::string& pci_ids_path) {
  hw_paths p;
  p.sysfs = root + "/sys";
  p.proc = root + "/proc";
  p.dev = root + "/dev";
  p.etc = root + "/etc";
  p.pci_ids = pci_ids_path;
  p.rocm = root + "/opt/rocm";
  p.vulkan_icd_dirs = {root + "/usr/share/vulkan/icd.d", root + "/etc/vulkan/icd.d"};
  p.lib_dirs = {root + "/usr/lib/x86_64-linux-gnu", root + "/usr/lib64", root + "/usr/lib"};
  p.use_dlopen = false;
  return p;
}

}  // namespace hearth::hw
