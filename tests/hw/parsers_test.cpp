// The survey's parsers and tables, on literal inputs (including malformed ones).
#include <gtest/gtest.h>

#include <set>

#include "hw/gfx_targets.h"
#include "hw/parsers.h"
#include "hw/pci_ids.h"

using namespace hearth::hw;

TEST(PciIds, ParsesVendorsDevicesAndSubsystems) {
  const char* text =
      "# comment\n"
      "1002  Advanced Micro Devices, Inc. [AMD/ATI]\n"
      "\t744c  Navi 31 [Radeon RX 7900 XT/7900 XTX]\n"
      "\t\t1da2 e471  NITRO+ RX 7900 XTX Vapor-X\n"
      "\tzzzz  not hex, skipped\n"
      "\t\tbroken subsystem line\n"
      "10de  NVIDIA Corporation\n"
      "\t2331  GH100 [H100 PCIe]\n"
      "C 03  Display controller\n"
      "\t00  VGA compatible controller\n";
  auto db = pci_id_db::parse(text);
  EXPECT_EQ(db.n_vendors(), 2u);
  EXPECT_EQ(db.vendor_name(0x1002).value(), "Advanced Micro Devices, Inc. [AMD/ATI]");
  EXPECT_EQ(db.device_name(0x1002, 0x744c).value(), "Navi 31 [Radeon RX 7900 XT/7900 XTX]");
  EXPECT_EQ(db.subsystem_name(0x1002, 0x744c, 0x1da2, 0xe471).value(), "NITRO+ RX 7900 XTX Vapor-X");
  EXPECT_EQ(db.device_name(0x10de, 0x2331).value(), "GH100 [H100 PCIe]");
  EXPECT_FALSE(db.device_name(0x10de, 0x0000));
  EXPECT_FALSE(db.vendor_name(0x0003));  // "C 03" is a class, not vendor 0x0003
  EXPECT_FALSE(db.subsystem_name(0x1002, 0x744c, 0x1da2, 0x0000));
}

TEST(PciIds, MissingFileIsEmpty) {
  auto db = pci_id_db::load("/nonexistent/pci.ids");
  EXPECT_TRUE(db.empty());
  EXPECT_FALSE(db.vendor_name(0x1002));
}

TEST(GfxTargets, DecodesKfdVersions) {
  EXPECT_EQ(gfx_target_from_version(110000).value(), "gfx1100");
  EXPECT_EQ(gfx_target_from_version(110003).value(), "gfx1103");
  EXPECT_EQ(gfx_target_from_version(100306).value(), "gfx1036");
  EXPECT_EQ(gfx_target_from_version(90010).value(), "gfx90a");
  EXPECT_EQ(gfx_target_from_version(90402).value(), "gfx942");
  EXPECT_EQ(gfx_target_from_version(120001).value(), "gfx1201");
  EXPECT_FALSE(gfx_target_from_version(0));        // CPU node
  EXPECT_FALSE(gfx_target_from_version(91600));    // minor 16 is not one hex digit
  EXPECT_FALSE(gfx_target_from_version(5000000));  // nonsense
}

TEST(GfxTargets, OverrideSpelling) {
  EXPECT_EQ(gfx_target_to_override("gfx1103").value(), "11.0.3");
  EXPECT_EQ(gfx_target_to_override("gfx1030").value(), "10.3.0");
  EXPECT_EQ(gfx_target_to_override("gfx90a").value(), "9.0.10");
  EXPECT_FALSE(gfx_target_to_override("gfx"));
  EXPECT_FALSE(gfx_target_to_override("sm_90"));
}

// Every override must point at a target ROCm actually builds, of the same family generation; CDNA has no
// graphics; every PCI id maps to a row of the table.
TEST(GfxTargets, TableIsConsistent) {
  std::set<std::string> seen;
  for (auto& t : gfx_target_table()) {
    EXPECT_TRUE(seen.insert(t.target).second) << "duplicate " << t.target;
    bool cdna = t.family == amd_family::cdna1 || t.family == amd_family::cdna2 || t.family == amd_family::cdna3 ||
                t.family == amd_family::cdna4;
    EXPECT_EQ(cdna, !t.graphics) << t.target;
    if (!t.hsa_override) continue;
    std::string sibling;
    for (auto& u : gfx_target_table())
      if (gfx_target_to_override(u.target).value_or("") == t.hsa_override) sibling = u.target;
    ASSERT_FALSE(sibling.empty()) << t.target << " -> " << t.hsa_override;
    const gfx_target_info* s = find_gfx_target(sibling);
    EXPECT_TRUE(s->rocm == rocm_support::official || s->rocm == rocm_support::builds) << sibling;
    EXPECT_EQ(std::string(t.target).substr(0, 5), sibling.substr(0, 5)) << "override crosses a generation";
  }
  for (uint16_t id : {0x744c, 0x15bf, 0x73bf, 0x164e, 0x740f, 0x7550, 0x1586}) {
    auto t = gfx_target_for_pci_device(id);
    ASSERT_TRUE(t) << std::hex << id;
    EXPECT_NE(find_gfx_target(*t), nullptr) << *t;
  }
  EXPECT_EQ(gfx_target_for_pci_device(0x744c).value(), "gfx1100");
  EXPECT_EQ(gfx_target_for_pci_device(0x15bf).value(), "gfx1103");
  EXPECT_FALSE(gfx_target_for_pci_device(0x0001));
  // The brief's tested mapping.
  for (const char* t : {"gfx1031", "gfx1032"}) EXPECT_STREQ(find_gfx_target(t)->hsa_override, "10.3.0");
  for (const char* t : {"gfx1101", "gfx1102", "gfx1103"}) EXPECT_STREQ(find_gfx_target(t)->hsa_override, "11.0.0");
  EXPECT_EQ(find_gfx_target("gfx1010")->hsa_override, nullptr);
}

TEST(CpuInfo, Arm64Features) {
  const char* text =
      "processor\t: 0\nBogoMIPS\t: 2000.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp "
      "cpuid asimdrdm lrcpc dcpop asimddp i8mm bf16 sve sve2\nCPU implementer\t: 0x41\nCPU architecture: 8\n"
      "CPU variant\t: 0x0\nCPU part\t: 0xd4f\nCPU revision\t: 1\n\n"
      "processor\t: 1\nFeatures\t: fp asimd\nCPU implementer\t: 0x41\nCPU part\t: 0xd4f\n";
  auto c = parse_cpuinfo(text);
  EXPECT_EQ(c.arch, "aarch64");
  EXPECT_EQ(c.vendor, "ARM");
  EXPECT_EQ(c.model_name, "ARM CPU part 0xd4f");
  EXPECT_EQ(c.n_threads, 2);
  EXPECT_EQ(c.n_cores, 2);
  EXPECT_EQ(c.isa, (std::vector<std::string>{"neon", "dotprod", "fp16", "i8mm", "sve", "sve2", "bf16"}));
  EXPECT_EQ(c.kernel_level(), "generic");  // no ARM kernels yet
}

TEST(CpuInfo, GarbageGivesUnknown) {
  auto c = parse_cpuinfo("no colon here\n:\nprocessor : x\n\x01\x02: \xff\n");
  EXPECT_EQ(c.arch, "unknown");
  EXPECT_EQ(c.model_name, "unknown");
  EXPECT_EQ(c.n_threads, 0);
  EXPECT_EQ(c.n_sockets, 0);
  EXPECT_EQ(c.kernel_level(), "generic");
}

TEST(CpuInfo, KernelLevelFollowsTheBackendsRule) {
  auto level = [](const char* flags) {
    return parse_cpuinfo(std::string("processor : 0\nflags : lm ") + flags + "\n").kernel_level();
  };
  EXPECT_EQ(level("avx2 fma f16c"), "avx2");
  EXPECT_EQ(level("avx2 fma"), "generic");  // no F16C
  EXPECT_EQ(level("avx2 fma f16c avx_vnni"), "avx2_vnni");
  EXPECT_EQ(level("avx2 fma f16c avx512f avx512dq avx512bw avx512vl avx512_vnni"), "avx512");
  EXPECT_EQ(level("avx2 fma f16c avx512f avx512dq avx512bw avx512vl avx_vnni"), "avx2_vnni");  // no 512-bit VNNI
  cpu_info c = parse_cpuinfo("processor : 0\nflags : lm avx2 fma f16c\n");
  c.backend_level = "generic";  // what the backend chose (HEARTH_CPU_ISA=generic) wins
  EXPECT_EQ(c.kernel_level(), "generic");
}

TEST(MemInfo, ParsesAndFallsBack) {
  auto m = parse_meminfo("MemTotal:       16384000 kB\nMemFree:         1024000 kB\nSwapTotal: 0 kB\n");
  EXPECT_TRUE(m.known);
  EXPECT_EQ(m.total_bytes, 16384000ull * 1024);
  EXPECT_EQ(m.available_bytes, 1024000ull * 1024);  // no MemAvailable: MemFree
  auto bad = parse_meminfo("MemTotal: lots\n");
  EXPECT_FALSE(bad.known);
}

TEST(PciResource, ParsesBars) {
  const char* text =
      "0x0000007800000000 0x0000007fffffffff 0x000000000014220c\n"
      "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
      "0x0000008000000000 0x00000080001fffff 0x000000000014220c\n"
      "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
      "0x000000000000e000 0x000000000000e0ff 0x0000000000040101\n"
      "0x00000000fca00000 0x00000000fcafffff 0x0000000000040200\n"
      "0x00000000fcb00000 0x00000000fcb1ffff 0x0000000000046200\n"
      "0x00000000f0000000 0x00000000f7ffffff 0x0000000000040200\n"  // SR-IOV: ignored
      "garbage line\n";
  auto bars = parse_pci_resource(text);
  ASSERT_EQ(bars.size(), 5u);
  EXPECT_EQ(bars[0].index, 0);
  EXPECT_EQ(bars[0].size_bytes, 32ull << 30);
  EXPECT_TRUE(bars[0].prefetchable);
  EXPECT_TRUE(bars[0].is_64bit);
  EXPECT_EQ(bars[1].index, 2);
  EXPECT_EQ(bars[2].index, 4);
  EXPECT_TRUE(bars[2].io);
  EXPECT_EQ(bars[3].size_bytes, 1u << 20);
  EXPECT_FALSE(bars[3].prefetchable);
  EXPECT_EQ(bars[4].index, 6);
  EXPECT_TRUE(parse_pci_resource("").empty());
  EXPECT_TRUE(parse_pci_resource("0x10 0x5 0x200\n").empty());  // end before start
}

namespace {
void put32(std::vector<uint8_t>& b, size_t off, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[off + i] = (uint8_t)(v >> (8 * i));
}
}  // namespace

TEST(Rebar, ReadsCapabilityFromConfigSpace) {
  std::vector<uint8_t> cfg(4096, 0);
  // 0x100: AER (id 1, version 2) -> next 0x150; 0x150: Resizable BAR (id 0x15, version 1) -> end.
  put32(cfg, 0x100, 0x0001 | (2u << 16) | (0x150u << 20));
  put32(cfg, 0x150, 0x0015 | (1u << 16));
  // Entry 0: sizes 256 MiB .. 32 GiB supported (bits 12..19), BAR 0, 1 resizable BAR, now 256 MiB (2^8 MiB).
  uint32_t sizes = 0;
  for (int bit = 12; bit <= 19; ++bit) sizes |= 1u << bit;
  put32(cfg, 0x154, sizes);
  put32(cfg, 0x158, 0u | (1u << 5) | (8u << 8));
  rebar_info r;
  parse_rebar_capability(cfg, 0, r);
  EXPECT_TRUE(r.capability_read);
  EXPECT_TRUE(r.capable);
  EXPECT_EQ(r.capability_current_bytes, 256ull << 20);
  EXPECT_EQ(r.capability_max_bytes, 32ull << 30);

  // Only the first 64 bytes (what a non-root reader gets): nothing known.
  rebar_info r2;
  parse_rebar_capability(std::span<const uint8_t>(cfg.data(), 64), 0, r2);
  EXPECT_FALSE(r2.capability_read);

  // A loop in the capability list ends instead of spinning.
  std::vector<uint8_t> loop(4096, 0);
  put32(loop, 0x100, 0x0001 | (0x100u << 20));
  rebar_info r3;
  parse_rebar_capability(loop, 0, r3);
  EXPECT_TRUE(r3.capability_read);
  EXPECT_FALSE(r3.capable);

  // Header pointing past the end.
  std::vector<uint8_t> past(0x108, 0);
  put32(past, 0x100, 0x0001 | (0xff0u << 20));
  rebar_info r4;
  parse_rebar_capability(past, 0, r4);
  EXPECT_FALSE(r4.capable);
}

TEST(IcdManifest, RecognisesDrivers) {
  auto radv = parse_icd_manifest("/usr/share/vulkan/icd.d/radeon_icd.x86_64.json",
                                 R"({"ICD": {"api_version": "1.3.274", "library_path": "/usr/lib/libvulkan_radeon.so"}})");
  EXPECT_TRUE(radv.parsed);
  EXPECT_EQ(radv.driver, vulkan_driver::radv);
  EXPECT_EQ(radv.vendor, gpu_vendor::amd);
  EXPECT_EQ(radv.api_version, "1.3.274");
  auto lvp = parse_icd_manifest("/x/lvp_icd.aarch64.json", R"({"ICD": {"library_path": "libvulkan_lvp.so"}})");
  EXPECT_TRUE(lvp.software);
  EXPECT_EQ(lvp.driver, vulkan_driver::lavapipe);
  auto amdvlk = parse_icd_manifest("/etc/vulkan/icd.d/amd_icd64.json", "{ not json");
  EXPECT_FALSE(amdvlk.parsed);
  EXPECT_EQ(amdvlk.driver, vulkan_driver::amdvlk);  // known by its name even when unreadable
  auto hasvk = parse_icd_manifest("/x/intel_hasvk_icd.x86_64.json", "{}");
  EXPECT_EQ(hasvk.driver, vulkan_driver::hasvk);
  auto nv = parse_icd_manifest("/x/nvidia_icd.json", R"({"ICD": {"library_path": "libGLX_nvidia.so.0"}})");
  EXPECT_EQ(nv.driver, vulkan_driver::nvidia);
  auto odd = parse_icd_manifest("/x/something.json", R"({"ICD": 5})");
  EXPECT_EQ(odd.driver, vulkan_driver::other);
  EXPECT_FALSE(odd.parsed);
}

TEST(OsRelease, Families) {
  std::string name;
  EXPECT_EQ(parse_os_release("ID=ubuntu\nID_LIKE=debian\nPRETTY_NAME=\"Ubuntu 24.04 LTS\"\n", &name), distro_family::debian);
  EXPECT_EQ(name, "Ubuntu 24.04 LTS");
  EXPECT_EQ(parse_os_release("ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n", nullptr), distro_family::fedora);
  EXPECT_EQ(parse_os_release("ID=endeavouros\nID_LIKE=arch\n", nullptr), distro_family::arch);
  EXPECT_EQ(parse_os_release("ID=opensuse-tumbleweed\nID_LIKE=\"suse opensuse\"\n", nullptr), distro_family::unknown);
  EXPECT_EQ(parse_os_release("", nullptr), distro_family::unknown);
}

TEST(EtcGroup, MembershipAndNames) {
  const char* text = "root:x:0:\nvideo:x:44:bob,alice\nrender:x:105:alice\nalice:x:1000:\nbroken line\nx::\n";
  EXPECT_EQ(groups_of_user(text, "alice", 1000), (std::vector<std::string>{"video", "render", "alice"}));
  EXPECT_EQ(groups_of_user(text, "bob", -1), (std::vector<std::string>{"video"}));
  EXPECT_TRUE(groups_of_user(text, "carol", -1).empty());
  EXPECT_EQ(group_name_of(text, 105), "render");
  EXPECT_EQ(group_name_of(text, 7), "");
}
