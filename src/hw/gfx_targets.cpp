// The AMD tables. Sources (facts only; nothing copied):
//  - gfx target of each chip and the APU/dGPU split: LLVM's AMDGPUUsage processor table and the Linux
//    amdgpu/amdkfd drivers (kfd_device.c sets gfx_target_version per IP version; amdgpu_drv.c lists PCI
//    ids per chip); PCI ids cross-checked with ROCT/libhsakmt's gfxip table and pci.ids.
//  - ROCm support: AMD's "System requirements (Linux)" pages for ROCm 6.x/7.x
//    (rocm.docs.amd.com/projects/install-on-linux/en/latest/reference/system-requirements.html).
//  - HSA_OVERRIDE_GFX_VERSION: Ollama's GPU documentation ("Overrides on Linux": e.g. gfx1034 runs as
//    10.3.0) and the ROCm issue tracker (gfx1031/gfx1032 -> 10.3.0; gfx1101/1102/1103 and the RDNA3.5
//    APUs -> 11.0.0). Only targets that share the ISA of a built sibling get an override; RDNA1 does
//    not (gfx101x code is not gfx1030-compatible), so it is Vulkan-only.
//  - CDNA (gfx908/gfx90a/gfx94x/gfx950) has no graphics engine: Mesa's RADV does not drive it, so these
//    are ROCm/HIP-only.
#include "hw/gfx_targets.h"

#include <fmt/format.h>

#include <cctype>

namespace hearth::hw {

const char* amd_family_name(amd_family f) {
  switch (f) {
    case amd_family::gcn5: return "GCN5 (Vega)";
    case amd_family::cdna1: return "CDNA1";
    case amd_family::cdna2: return "CDNA2";
    case amd_family::cdna3: return "CDNA3";
    case amd_family::cdna4: return "CDNA4";
    case amd_family::rdna1: return "RDNA1";
    case amd_family::rdna2: return "RDNA2";
    case amd_family::rdna3: return "RDNA3";
    case amd_family::rdna3_5: return "RDNA3.5";
    case amd_family::rdna4: return "RDNA4";
    default: return "unknown";
  }
}

const char* rocm_support_name(rocm_support s) {
  switch (s) {
    case rocm_support::official: return "official";
    case rocm_support::builds: return "built";
    case rocm_support::deprecated: return "deprecated";
    default: return "none";
  }
}

namespace {
using F = amd_family;
using R = rocm_support;

// clang-format off
constexpr gfx_target_info k_targets[] = {
  // target     family      products                                                      apu    gfx    rocm           override
  {"gfx900",  F::gcn5,    "Vega 10: RX Vega 56/64, Instinct MI25",                         false, true,  R::none,       nullptr},
  {"gfx902",  F::gcn5,    "Raven/Picasso APU: Ryzen 2000/3000 Vega graphics",              true,  true,  R::none,       nullptr},
  {"gfx904",  F::gcn5,    "Vega 12: Radeon Pro Vega 20",                                   false, true,  R::none,       nullptr},
  {"gfx906",  F::gcn5,    "Vega 20: Radeon VII, Instinct MI50/MI60",                       false, true,  R::deprecated, nullptr},
  {"gfx909",  F::gcn5,    "Raven2 APU",                                                    true,  true,  R::none,       nullptr},
  {"gfx90c",  F::gcn5,    "Renoir/Lucienne/Cezanne/Barcelo APU: Ryzen 4000/5000 graphics", true,  true,  R::none,       nullptr},
  {"gfx908",  F::cdna1,   "Arcturus: Instinct MI100",                                      false, false, R::official,   nullptr},
  {"gfx90a",  F::cdna2,   "Aldebaran: Instinct MI210/MI250/MI250X",                        false, false, R::official,   nullptr},
  {"gfx940",  F::cdna3,   "Aqua Vanjaram (early): Instinct MI300",                         false, false, R::builds,     nullptr},
  {"gfx941",  F::cdna3,   "Aqua Vanjaram (early): Instinct MI300",                         false, false, R::builds,     nullptr},
  {"gfx942",  F::cdna3,   "Aqua Vanjaram: Instinct MI300X/MI300A/MI325X",                  false, false, R::official,   nullptr},
  {"gfx950",  F::cdna4,   "Instinct MI350X/MI355X",                                        false, false, R::official,   nullptr},
  {"gfx1010", F::rdna1,   "Navi 10: RX 5700/5700 XT/5600 XT",                              false, true,  R::none,       nullptr},
  {"gfx1011", F::rdna1,   "Navi 12: Radeon Pro 5600M, V520",                               false, true,  R::none,       nullptr},
  {"gfx1012", F::rdna1,   "Navi 14: RX 5500/5500 XT/5300",                                 false, true,  R::none,       nullptr},
  {"gfx1013", F::rdna1,   "Cyan Skillfish APU",                                            true,  true,  R::none,       nullptr},
  {"gfx1030", F::rdna2,   "Navi 21: RX 6800/6800 XT/6900 XT/6950 XT, PRO W6800, V620",     false, true,  R::official,   nullptr},
  {"gfx1031", F::rdna2,   "Navi 22: RX 6700/6700 XT/6750 XT",                              false, true,  R::none,       "10.3.0"},
  {"gfx1032", F::rdna2,   "Navi 23: RX 6600/6600 XT/6650 XT, PRO W6600",                   false, true,  R::none,       "10.3.0"},
  {"gfx1033", F::rdna2,   "Van Gogh APU: Steam Deck",                                      true,  true,  R::none,       "10.3.0"},
  {"gfx1034", F::rdna2,   "Navi 24: RX 6500 XT/6400",                                      false, true,  R::none,       "10.3.0"},
  {"gfx1035", F::rdna2,   "Rembrandt APU: Radeon 680M/660M",                               true,  true,  R::none,       "10.3.0"},
  {"gfx1036", F::rdna2,   "Raphael/Granite Ridge APU: Ryzen 7000/9000 desktop graphics",   true,  true,  R::none,       "10.3.0"},
  {"gfx1037", F::rdna2,   "Mendocino APU: Ryzen 7020 graphics",                            true,  true,  R::none,       nullptr},
  {"gfx1100", F::rdna3,   "Navi 31: RX 7900 XTX/XT/GRE, PRO W7900/W7800",                  false, true,  R::official,   nullptr},
  {"gfx1101", F::rdna3,   "Navi 32: RX 7800 XT/7700 XT, PRO W7700",                        false, true,  R::builds,     "11.0.0"},
  {"gfx1102", F::rdna3,   "Navi 33: RX 7600/7600 XT, PRO W7600/W7500",                     false, true,  R::none,       "11.0.0"},
  {"gfx1103", F::rdna3,   "Phoenix/Hawk Point APU: Radeon 780M/760M/740M",                 true,  true,  R::none,       "11.0.0"},
  {"gfx1150", F::rdna3_5, "Strix Point APU: Radeon 890M/880M",                             true,  true,  R::none,       "11.0.0"},
  {"gfx1151", F::rdna3_5, "Strix Halo APU: Radeon 8060S/8050S",                            true,  true,  R::builds,     "11.0.0"},
  {"gfx1152", F::rdna3_5, "Krackan Point APU: Radeon 860M/840M",                           true,  true,  R::none,       "11.0.0"},
  {"gfx1153", F::rdna3_5, "RDNA3.5 APU",                                                   true,  true,  R::none,       nullptr},
  {"gfx1200", F::rdna4,   "Navi 44: RX 9060 XT",                                           false, true,  R::official,   nullptr},
  {"gfx1201", F::rdna4,   "Navi 48: RX 9070/9070 XT, Radeon AI PRO R9700",                 false, true,  R::official,   nullptr},
};

struct pci_map { uint16_t device; const char* target; };
constexpr pci_map k_pci[] = {
  // Vega 10
  {0x6860, "gfx900"}, {0x6861, "gfx900"}, {0x6862, "gfx900"}, {0x6863, "gfx900"}, {0x6864, "gfx900"},
  {0x6867, "gfx900"}, {0x6868, "gfx900"}, {0x6869, "gfx900"}, {0x686a, "gfx900"}, {0x686b, "gfx900"},
  {0x686c, "gfx900"}, {0x686d, "gfx900"}, {0x686e, "gfx900"}, {0x687f, "gfx900"},
  // Raven / Picasso
  {0x15dd, "gfx902"}, {0x15d8, "gfx902"},
  // Vega 20
  {0x66a0, "gfx906"}, {0x66a1, "gfx906"}, {0x66a2, "gfx906"}, {0x66a3, "gfx906"}, {0x66a4, "gfx906"},
  {0x66a7, "gfx906"}, {0x66af, "gfx906"},
  // Renoir / Cezanne / Lucienne / Barcelo
  {0x15e7, "gfx90c"}, {0x1636, "gfx90c"}, {0x1638, "gfx90c"}, {0x164c, "gfx90c"},
  // Arcturus, Aldebaran, Aqua Vanjaram
  {0x7388, "gfx908"}, {0x738c, "gfx908"}, {0x738e, "gfx908"}, {0x7390, "gfx908"},
  {0x7408, "gfx90a"}, {0x740c, "gfx90a"}, {0x740f, "gfx90a"}, {0x7410, "gfx90a"},
  {0x74a0, "gfx942"}, {0x74a1, "gfx942"}, {0x74a5, "gfx942"},
  // Navi 1x
  {0x7310, "gfx1010"}, {0x7312, "gfx1010"}, {0x7318, "gfx1010"}, {0x731a, "gfx1010"}, {0x731e, "gfx1010"},
  {0x731f, "gfx1010"}, {0x7360, "gfx1011"}, {0x7362, "gfx1011"}, {0x7340, "gfx1012"}, {0x7341, "gfx1012"},
  {0x7347, "gfx1012"},
  // Navi 21
  {0x73a0, "gfx1030"}, {0x73a1, "gfx1030"}, {0x73a2, "gfx1030"}, {0x73a3, "gfx1030"}, {0x73a5, "gfx1030"},
  {0x73a8, "gfx1030"}, {0x73a9, "gfx1030"}, {0x73ab, "gfx1030"}, {0x73ac, "gfx1030"}, {0x73ad, "gfx1030"},
  {0x73ae, "gfx1030"}, {0x73bf, "gfx1030"},
  // Navi 22
  {0x73c0, "gfx1031"}, {0x73c1, "gfx1031"}, {0x73c3, "gfx1031"}, {0x73da, "gfx1031"}, {0x73db, "gfx1031"},
  {0x73dc, "gfx1031"}, {0x73dd, "gfx1031"}, {0x73de, "gfx1031"}, {0x73df, "gfx1031"},
  // Navi 23
  {0x73e0, "gfx1032"}, {0x73e1, "gfx1032"}, {0x73e2, "gfx1032"}, {0x73e8, "gfx1032"}, {0x73e9, "gfx1032"},
  {0x73ea, "gfx1032"}, {0x73eb, "gfx1032"}, {0x73ec, "gfx1032"}, {0x73ed, "gfx1032"}, {0x73ef, "gfx1032"},
  {0x73ff, "gfx1032"},
  // Van Gogh, Navi 24, Rembrandt, Raphael / Granite Ridge, Mendocino
  {0x163f, "gfx1033"},
  {0x7420, "gfx1034"}, {0x7421, "gfx1034"}, {0x7422, "gfx1034"}, {0x7423, "gfx1034"}, {0x743f, "gfx1034"},
  {0x164d, "gfx1035"}, {0x1681, "gfx1035"},
  {0x164e, "gfx1036"}, {0x13c0, "gfx1036"},
  {0x1506, "gfx1037"},
  // Navi 3x, Phoenix, Strix
  {0x744c, "gfx1100"}, {0x7448, "gfx1100"}, {0x745e, "gfx1100"},
  {0x747e, "gfx1101"},
  {0x7480, "gfx1102"},
  {0x15bf, "gfx1103"}, {0x15c8, "gfx1103"},
  {0x150e, "gfx1150"}, {0x1586, "gfx1151"},
  // Navi 4x
  {0x7590, "gfx1200"}, {0x7550, "gfx1201"},
};
// clang-format on

}  // namespace

std::span<const gfx_target_info> gfx_target_table() { return k_targets; }

const gfx_target_info* find_gfx_target(std::string_view target) {
  for (auto& t : k_targets)
    if (target == t.target) return &t;
  return nullptr;
}

std::optional<std::string> gfx_target_from_version(uint64_t v) {
  if (v == 0 || v > 999999) return std::nullopt;
  uint64_t major = v / 10000, minor = (v / 100) % 100, step = v % 100;
  if (major == 0 || minor > 15 || step > 15) return std::nullopt;
  return fmt::format("gfx{}{:x}{:x}", major, minor, step);
}

std::optional<std::string> gfx_target_to_override(std::string_view target) {
  if (target.size() < 6 || target.substr(0, 3) != "gfx") return std::nullopt;
  std::string_view digits = target.substr(3);
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  // Last two characters are minor and stepping (one hex digit each); the rest is the decimal major.
  std::string_view major = digits.substr(0, digits.size() - 2);
  int minor = hex(digits[digits.size() - 2]), step = hex(digits[digits.size() - 1]);
  if (major.empty() || minor < 0 || step < 0) return std::nullopt;
  for (char c : major)
    if (!std::isdigit((unsigned char)c)) return std::nullopt;
  return fmt::format("{}.{}.{}", major, minor, step);
}

std::optional<std::string> gfx_target_for_pci_device(uint16_t device_id) {
  for (auto& m : k_pci)
    if (m.device == device_id) return std::string(m.target);
  return std::nullopt;
}

}  // namespace hearth::hw
