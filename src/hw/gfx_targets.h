// AMD GPU facts as data: gfx target -> architecture family, APU or not, graphics (Vulkan) or not,
// ROCm support level and the tested HSA_OVERRIDE_GFX_VERSION; plus PCI device id -> gfx target for
// machines where the KFD topology is missing. Sources are listed in gfx_targets.cpp.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace hearth::hw {

enum class amd_family { unknown, gcn5, cdna1, cdna2, cdna3, cdna4, rdna1, rdna2, rdna3, rdna3_5, rdna4 };
const char* amd_family_name(amd_family f);

// How well AMD's ROCm stack serves a target.
//  official:   on AMD's ROCm Linux support matrix.
//  builds:     not (or not for every product) on the matrix, but AMD's ROCm libraries ship code objects
//              for it, so it runs without an override.
//  deprecated: still shipped, in maintenance mode; expect it to go.
//  none:       no code objects; only an HSA_OVERRIDE_GFX_VERSION to a sibling target (when one is known
//              to work) makes ROCm run on it.
enum class rocm_support { none, deprecated, builds, official };
const char* rocm_support_name(rocm_support s);

struct gfx_target_info {
  const char* target;        // "gfx1100"
  amd_family family;
  const char* products;      // "Navi 31: RX 7900 XTX/XT/GRE, PRO W7900/W7800"
  bool apu;                  // only ever an integrated GPU (an APU)
  bool graphics;             // has a graphics engine, so RADV (Vulkan) drives it; CDNA does not
  rocm_support rocm;
  const char* hsa_override;  // tested HSA_OVERRIDE_GFX_VERSION ("10.3.0"), or nullptr
};

std::span<const gfx_target_info> gfx_target_table();
const gfx_target_info* find_gfx_target(std::string_view target);

// KFD's gfx_target_version (major*10000 + minor*100 + stepping) -> "gfxNNNN" (minor and stepping are
// one hex digit each: 90010 -> gfx90a). nullopt for 0 (a CPU node) or out-of-range values.
std::optional<std::string> gfx_target_from_version(uint64_t gfx_target_version);
// "gfx1103" -> "11.0.3", the HSA_OVERRIDE_GFX_VERSION spelling of a target.
std::optional<std::string> gfx_target_to_override(std::string_view target);

// PCI device id (vendor 0x1002) -> gfx target, for the GPUs we know; nullopt otherwise.
std::optional<std::string> gfx_target_for_pci_device(uint16_t device_id);

}  // namespace hearth::hw
