// Where the hardware survey looks: every filesystem root it reads is configurable, so that tests run
// the real code on recorded sysfs/proc/dev trees (tests/data/sysfs/<machine>/) instead of this machine.
#pragma once
#include <string>
#include <vector>

namespace hearth::hw {

struct hw_paths {
  std::string sysfs = "/sys";                        // HEARTH_SYSFS_ROOT
  std::string proc = "/proc";                        // HEARTH_PROC_ROOT
  std::string dev = "/dev";                          // HEARTH_DEV_ROOT
  std::string etc = "/etc";                          // HEARTH_ETC_ROOT: group, os-release, vulkan/icd.d
  std::string pci_ids = "/usr/share/misc/pci.ids";   // HEARTH_PCI_IDS
  std::string rocm = "/opt/rocm";                    // HEARTH_ROCM_ROOT (ROCM_PATH is honoured too)
  // Vulkan ICD manifest folders, in the loader's order. HEARTH_VULKAN_ICD_DIRS (colon-separated)
  // replaces them; VK_DRIVER_FILES / VK_ICD_FILENAMES, when set, name the manifests directly.
  std::vector<std::string> vulkan_icd_dirs;
  std::vector<std::string> vulkan_icd_files;
  // Folders searched for shared libraries by file name (libamdhip64.so*, and libvulkan/libcuda when
  // dlopen is off). HEARTH_LIB_DIRS (colon-separated) replaces them.
  std::vector<std::string> lib_dirs;
  // dlopen() libvulkan.so.1 / libcuda.so.1 to prove they load. Off for recorded trees
  // (HEARTH_HW_NO_DLOPEN=1), where the library folders of the tree are searched instead.
  bool use_dlopen = true;

  hw_paths();                       // this machine's defaults
  static hw_paths from_env();       // defaults overridden by the HEARTH_* variables above
  // A recorded tree: <root>/sys, <root>/proc, <root>/dev, <root>/etc, <root>/opt/rocm,
  // <root>/usr/share/vulkan/icd.d, <root>/usr/lib/...; no dlopen.
  static hw_paths recorded_tree(const std::string& root, const std::string& pci_ids_path);
};

}  // namespace hearth::hw
