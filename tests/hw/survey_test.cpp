// The survey and the verdicts on the recorded machines (tests/data/sysfs/<machine>, see its README).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "hw/report.h"
#include "hw/survey.h"
#include "hw_test_util.h"

using namespace hearth;
using namespace hearth::hw;
namespace fs = std::filesystem;

namespace {
const gpu_device* by_address(const hw_survey& s, const std::string& addr) {
  for (auto& g : s.gpus)
    if (g.pci_address == addr) return &g;
  return nullptr;
}
bool has_alt(const device_verdict& v, backend_kind b) {
  return std::find(v.alternatives.begin(), v.alternatives.end(), b) != v.alternatives.end();
}
constexpr uint64_t GiB = 1ull << 30, MiB = 1ull << 20;
}  // namespace

TEST(SurveyTree, DesktopRx7900Xtx) {
  auto s = test::survey_tree("desktop-rx7900xtx");
  EXPECT_EQ(s.cpu.model_name, "AMD Ryzen 7 5800X3D 8-Core Processor");
  EXPECT_EQ(s.cpu.n_cores, 8);
  EXPECT_EQ(s.cpu.n_threads, 16);
  EXPECT_TRUE(s.cpu.has("avx2"));
  EXPECT_FALSE(s.cpu.has("avx512f"));
  EXPECT_EQ(s.cpu.kernel_level(), "avx2");
  EXPECT_EQ(s.memory.total_bytes, 65761364ull * 1024);
  EXPECT_EQ(s.memory.available_bytes, 58213440ull * 1024);

  ASSERT_EQ(s.gpus.size(), 1u);
  const gpu_device& g = s.gpus[0];
  EXPECT_EQ(g.pci_address, "0000:03:00.0");
  EXPECT_EQ(g.vendor, gpu_vendor::amd);
  EXPECT_EQ(g.device_id, 0x744c);
  EXPECT_EQ(g.device_name, "Navi 31 [Radeon RX 7900 XT/7900 XTX]");
  EXPECT_EQ(g.subsystem_name, "NITRO+ RX 7900 XTX Vapor-X");
  EXPECT_EQ(g.driver, "amdgpu");
  EXPECT_EQ(g.drm_card, "card1");
  EXPECT_EQ(g.drm_render, "renderD128");
  EXPECT_EQ(g.boot_vga, true);
  EXPECT_EQ(g.kind, gpu_kind::discrete);
  EXPECT_EQ(g.amd.gfx_target, "gfx1100");
  EXPECT_EQ(g.amd.gfx_target_source, "kfd");
  EXPECT_EQ(g.amd.n_compute_units, 96);
  ASSERT_NE(g.amd.target, nullptr);
  EXPECT_EQ(g.amd.target->family, amd_family::rdna3);
  EXPECT_EQ(g.memory.vram_total.value(), 25753026560ull);
  EXPECT_EQ(g.memory.gtt_total.value(), 33669818368ull);
  EXPECT_EQ(g.rebar.aperture_bytes, 32 * GiB);
  EXPECT_EQ(g.rebar.state, rebar_state::on);

  EXPECT_TRUE(s.software.vulkan_loader.found);
  EXPECT_EQ(s.software.vulkan_icds.size(), 3u);  // radeon + lvp in /usr/share, AMDVLK in /etc
  EXPECT_TRUE(s.software.rocm_dir);
  EXPECT_EQ(s.software.rocm_version, "6.2.0-66");
  EXPECT_TRUE(s.software.hip_runtime.found);
  EXPECT_TRUE(s.software.kfd_present);
  EXPECT_FALSE(s.software.cuda_driver.found);
  EXPECT_EQ(s.software.distro, distro_family::debian);
  EXPECT_TRUE(s.software.module_loaded("amdgpu"));
  EXPECT_EQ(s.software.ttm_pages_limit.value(), 8220170u);

  // Support table: RDNA3 -> Vulkan (RADV), ROCm/HIP as an alternative (gfx1100 is official).
  EXPECT_EQ(g.verdict.primary, backend_kind::vulkan);
  EXPECT_TRUE(has_alt(g.verdict, backend_kind::rocm));
  EXPECT_TRUE(g.verdict.used);
  EXPECT_TRUE(g.verdict.ready);
  EXPECT_EQ(g.verdict.summary, "Vulkan (RADV); also ROCm/HIP");
  EXPECT_TRUE(s.cpu_verdict.used);
  EXPECT_NE(s.cpu_verdict.summary.find("do not fit"), std::string::npos);

  auto b = gpu_memory_budget(g, s.memory);
  EXPECT_TRUE(b.known);
  EXPECT_EQ(b.total_bytes, 25753026560ull);
  EXPECT_EQ(b.free_bytes, 25753026560ull - 1103630336ull);
  EXPECT_EQ(b.source, "amdgpu VRAM");

  auto* node = s.find_node("/dev/dri/renderD128");
  ASSERT_NE(node, nullptr);
  EXPECT_TRUE(node->exists);
  EXPECT_EQ(node->group, "render");
  EXPECT_EQ(node->accessible, true);
}

TEST(SurveyTree, Laptop780m) {
  auto s = test::survey_tree("laptop-780m");
  EXPECT_EQ(s.cpu.model_name, "AMD Ryzen 7 7840U w/ Radeon  780M Graphics");
  EXPECT_EQ(s.cpu.kernel_level(), "avx512");
  EXPECT_TRUE(s.cpu.has("avx512_bf16"));
  EXPECT_FALSE(s.cpu.has("avx_vnni"));  // Zen 4 has the EVEX VNNI only
  ASSERT_EQ(s.gpus.size(), 1u);
  const gpu_device& g = s.gpus[0];
  EXPECT_EQ(g.device_name, "Phoenix1");
  EXPECT_EQ(g.amd.gfx_target, "gfx1103");
  EXPECT_EQ(g.amd.n_compute_units, 12);
  EXPECT_EQ(g.kind, gpu_kind::integrated);
  EXPECT_EQ(g.memory.vram_total.value(), 512 * MiB);
  EXPECT_EQ(g.memory.gtt_total.value(), 16378085376ull);
  EXPECT_EQ(g.rebar.state, rebar_state::not_applicable);
  EXPECT_EQ(s.software.distro, distro_family::fedora);
  EXPECT_FALSE(s.software.rocm_dir);
  EXPECT_FALSE(s.software.hip_runtime.found);

  EXPECT_EQ(g.verdict.primary, backend_kind::vulkan);
  EXPECT_TRUE(g.verdict.used);
  EXPECT_EQ(g.verdict.summary, "Vulkan (RADV); also ROCm/HIP (with HSA_OVERRIDE_GFX_VERSION=11.0.0)");
  EXPECT_NE(g.verdict.reason.find("GTT"), std::string::npos);

  // The planner's number: carve-out free + GTT free (GTT capped by MemAvailable, here not binding).
  auto b = gpu_memory_budget(g, s.memory);
  EXPECT_EQ(b.source, "amdgpu VRAM carve-out + GTT");
  EXPECT_EQ(b.free_bytes, (536870912ull - 398340096ull) + (16378085376ull - 106102784ull));
  EXPECT_EQ(b.total_bytes, 536870912ull + 16378085376ull);
  memory_info tight = s.memory;
  tight.available_bytes = 4 * GiB;  // GTT is system RAM: never more than the host can give
  EXPECT_EQ(gpu_memory_budget(g, tight).free_bytes, (536870912ull - 398340096ull) + 4 * GiB);

  // bob's session predates `usermod -aG render bob`: /etc/group lists him, the process is not in it.
  EXPECT_FALSE(s.user.in_group("render"));
  EXPECT_TRUE(s.user.configured_in_group("render"));
  auto* node = s.find_node("/dev/dri/renderD128");
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->accessible, false);
}

TEST(SurveyTree, DesktopRx6800XtWithIgpu) {
  auto s = test::survey_tree("desktop-rx6800xt-igpu");
  ASSERT_EQ(s.gpus.size(), 2u);
  const gpu_device* d = by_address(s, "0000:03:00.0");
  const gpu_device* i = by_address(s, "0000:13:00.0");
  ASSERT_TRUE(d && i);
  EXPECT_EQ(d->amd.gfx_target, "gfx1030");
  EXPECT_EQ(d->amd.n_compute_units, 72);
  EXPECT_EQ(d->kind, gpu_kind::discrete);
  EXPECT_EQ(d->subsystem_name, "NITRO+ Radeon RX 6800 XT");
  // Resizable BAR off: 256 MiB window on a 16 GiB card.
  EXPECT_EQ(d->rebar.aperture_bytes, 256 * MiB);
  EXPECT_EQ(d->rebar.state, rebar_state::off);
  EXPECT_EQ(d->verdict.primary, backend_kind::vulkan);
  EXPECT_TRUE(has_alt(d->verdict, backend_kind::rocm));
  EXPECT_TRUE(d->verdict.used);

  EXPECT_EQ(i->amd.gfx_target, "gfx1036");
  EXPECT_EQ(i->amd.n_compute_units, 2);
  EXPECT_EQ(i->kind, gpu_kind::integrated);
  EXPECT_EQ(i->drm_render, "renderD129");
  EXPECT_FALSE(i->verdict.used);
  EXPECT_TRUE(i->verdict.idle);
  EXPECT_NE(i->verdict.summary.find("discrete GPU is present"), std::string::npos);
  EXPECT_EQ(s.software.distro, distro_family::arch);
  EXPECT_TRUE(s.software.vulkan_loader.found);  // Arch keeps libraries in /usr/lib
}

TEST(SurveyTree, IgpuAloneWithTwoCusStaysIdle) {
  // The same desktop with the RX 6800 XT's driver unbound: the 2-CU iGPU would be the only GPU, and is
  // still not worth using.
  auto s = test::survey_tree("desktop-rx6800xt-igpu");
  s.gpus[0].driver.clear();
  decide_verdicts(s);
  EXPECT_FALSE(s.gpus[0].verdict.used);
  EXPECT_NE(s.gpus[0].verdict.summary.find("no kernel driver"), std::string::npos);
  EXPECT_FALSE(s.gpus[1].verdict.used);
  EXPECT_NE(s.gpus[1].verdict.summary.find("2 compute units"), std::string::npos);
  EXPECT_NE(s.cpu_verdict.summary.find("every layer"), std::string::npos);
}

TEST(SurveyTree, ServerMi210) {
  auto s = test::survey_tree("server-mi210");
  EXPECT_EQ(s.cpu.kernel_level(), "avx2");
  ASSERT_EQ(s.gpus.size(), 2u);
  const gpu_device* mi = by_address(s, "0000:83:00.0");
  const gpu_device* bmc = by_address(s, "0000:c2:00.0");
  ASSERT_TRUE(mi && bmc);
  EXPECT_EQ(mi->class_code, 0x038000u);
  EXPECT_EQ(mi->device_name, "Aldebaran/MI200 [Instinct MI210]");
  EXPECT_EQ(mi->amd.gfx_target, "gfx90a");
  EXPECT_EQ(mi->amd.n_compute_units, 104);
  EXPECT_EQ(mi->kind, gpu_kind::discrete);
  EXPECT_EQ(mi->rebar.state, rebar_state::on);
  EXPECT_EQ(mi->numa_node, 0);
  // CDNA: no graphics engine, so ROCm/HIP only.
  EXPECT_EQ(mi->verdict.primary, backend_kind::rocm);
  EXPECT_TRUE(mi->verdict.alternatives.empty());
  EXPECT_TRUE(mi->verdict.used);
  EXPECT_EQ(mi->verdict.summary, "ROCm/HIP");
  EXPECT_FALSE(s.software.vulkan_loader.found);

  EXPECT_EQ(bmc->kind, gpu_kind::display_only);
  EXPECT_EQ(bmc->driver, "ast");
  EXPECT_FALSE(bmc->verdict.used);
  EXPECT_EQ(bmc->verdict.primary, backend_kind::none);
}

TEST(SurveyTree, ServerH100) {
  auto s = test::survey_tree("server-h100");
  EXPECT_EQ(s.cpu.vendor, "GenuineIntel");
  EXPECT_EQ(s.cpu.n_cores, 12);
  EXPECT_EQ(s.cpu.n_threads, 24);
  EXPECT_EQ(s.cpu.kernel_level(), "avx512");
  for (const char* f : {"avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16"})
    EXPECT_TRUE(s.cpu.has(f)) << f;
  ASSERT_EQ(s.gpus.size(), 2u);
  const gpu_device* h = by_address(s, "0000:4a:00.0");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->vendor, gpu_vendor::nvidia);
  EXPECT_EQ(h->class_code, 0x030200u);
  EXPECT_EQ(h->device_name, "GH100 [H100 PCIe]");
  EXPECT_EQ(h->nvidia.model, "NVIDIA H100 PCIe");
  EXPECT_EQ(h->nvidia.uuid, "GPU-5e4c2a11-8f3d-4b1c-9a27-0c6d2e7f4b90");
  EXPECT_EQ(h->nvidia.device_minor, "0");
  EXPECT_EQ(h->display_name(), "NVIDIA H100 PCIe");
  EXPECT_EQ(h->link_speed, "32.0 GT/s PCIe");
  EXPECT_TRUE(h->drm_render.empty());
  EXPECT_EQ(h->kind, gpu_kind::discrete);
  EXPECT_EQ(h->rebar.aperture_bytes, 128 * GiB);  // BAR1
  EXPECT_EQ(h->rebar.state, rebar_state::on);
  EXPECT_EQ(s.software.nvidia_driver_version, "550.90.07");
  EXPECT_TRUE(s.software.cuda_driver.found);

  EXPECT_EQ(h->verdict.primary, backend_kind::cuda);
  EXPECT_TRUE(has_alt(h->verdict, backend_kind::vulkan));
  EXPECT_EQ(h->verdict.summary, "CUDA; also Vulkan (NVIDIA)");
  // sysfs says nothing about NVIDIA memory: unknown until the CUDA view fills it.
  EXPECT_FALSE(gpu_memory_budget(*h, s.memory).known);
  ASSERT_NE(s.find_node("/dev/nvidiactl"), nullptr);
  EXPECT_EQ(s.find_node("/dev/nvidiactl")->accessible, true);
}

TEST(SurveyTree, H100WithoutLibcudaFallsBackToVulkan) {
  auto s = test::survey_tree("server-h100");
  s.software.cuda_driver.found = false;
  decide_verdicts(s);
  const gpu_device* h = by_address(s, "0000:4a:00.0");
  EXPECT_EQ(h->verdict.primary, backend_kind::vulkan);
  EXPECT_TRUE(h->verdict.used);
  EXPECT_NE(h->verdict.reason.find("libcuda.so.1"), std::string::npos);
  // With neither, nothing runs it.
  s.software.vulkan_loader.found = false;
  decide_verdicts(s);
  EXPECT_FALSE(h->verdict.used);
  EXPECT_NE(h->verdict.summary.find("once installed"), std::string::npos);
}

TEST(SurveyTree, NoGpu) {
  auto s = test::survey_tree("no-gpu");
  EXPECT_EQ(s.cpu.model_name, "AMD EPYC");
  EXPECT_EQ(s.cpu.n_threads, 2);
  EXPECT_EQ(s.cpu.kernel_level(), "avx512");
  EXPECT_TRUE(s.gpus.empty());  // virtio devices and a host bridge only
  EXPECT_EQ(s.software.vulkan_icds.size(), 4u);
  EXPECT_TRUE(s.software.hip_runtime.found);  // Debian's libamdhip64 package, without /opt/rocm
  EXPECT_FALSE(s.software.rocm_dir);
  EXPECT_FALSE(s.any_gpu_used());
  EXPECT_EQ(s.cpu_verdict.primary, backend_kind::cpu);
  EXPECT_NE(s.cpu_verdict.summary.find("every layer"), std::string::npos);
  EXPECT_NE(s.cpu_verdict.reason.find("lavapipe"), std::string::npos);
}

TEST(SurveyTree, AmdGpuWithoutKfdUsesThePciIdTable) {
  auto o = test::tree_options("laptop-780m", test::tree_user("laptop-780m"));
  // A copy of the laptop without its KFD topology (a kernel built without HSA_AMD).
  fs::path tmp = fs::temp_directory_path() / ("hearth_hw_nokfd_" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::copy(test::data_path("sysfs/laptop-780m"), tmp, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  fs::remove_all(tmp / "sys/class/kfd");
  o.paths = hw_paths::recorded_tree(tmp.string(), test::data_path("sysfs/pci.ids"));
  auto s = run_survey(o);
  fs::remove_all(tmp);
  ASSERT_EQ(s.gpus.size(), 1u);
  EXPECT_EQ(s.gpus[0].amd.gfx_target, "gfx1103");
  EXPECT_EQ(s.gpus[0].amd.gfx_target_source, "pci-id table");
  EXPECT_EQ(s.gpus[0].amd.n_compute_units, 0);
  EXPECT_EQ(s.gpus[0].kind, gpu_kind::integrated);
}

TEST(Survey, UnknownAmdGpuIsClassifiedByItsMemory) {
  // An AMD id in neither KFD nor our table: an APU shows all of its carve-out as CPU-visible through a
  // BAR smaller than it; a discrete card does not.
  fs::path tmp = fs::temp_directory_path() / ("hearth_hw_unknown_" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::copy(test::data_path("sysfs/laptop-780m"), tmp, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  fs::remove_all(tmp / "sys/class/kfd");
  std::string dev = (tmp / "sys/bus/pci/devices/0000:c4:00.0").string();
  std::ofstream(dev + "/device") << "0x1900\n";
  std::ofstream(dev + "/mem_info_vram_total") << "1073741824\n";
  std::ofstream(dev + "/mem_info_vis_vram_total") << "1073741824\n";
  auto o = test::tree_options("laptop-780m", test::tree_user("laptop-780m"));
  o.paths = hw_paths::recorded_tree(tmp.string(), test::data_path("sysfs/pci.ids"));
  auto s = run_survey(o);
  ASSERT_EQ(s.gpus.size(), 1u);
  EXPECT_TRUE(s.gpus[0].amd.gfx_target.empty());
  EXPECT_EQ(s.gpus[0].kind, gpu_kind::integrated);
  EXPECT_EQ(s.gpus[0].verdict.primary, backend_kind::vulkan);
  std::ofstream(dev + "/mem_info_vis_vram_total") << "268435456\n";  // 256 MiB of 1 GiB visible: discrete
  s = run_survey(o);
  EXPECT_EQ(s.gpus[0].kind, gpu_kind::discrete);
  EXPECT_EQ(s.gpus[0].rebar.state, rebar_state::off);
  fs::remove_all(tmp);
}

TEST(Survey, BrokenTreeNeverThrows) {
  fs::path tmp = fs::temp_directory_path() / ("hearth_hw_broken_" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  std::string dev = (tmp / "sys/bus/pci/devices/0000:01:00.0").string();
  fs::create_directories(dev);
  std::ofstream(dev + "/class") << "0x030000\n";
  std::ofstream(dev + "/vendor") << "0x1002\n";
  std::ofstream(dev + "/device") << "banana\n";
  std::ofstream(dev + "/resource") << "0xzz 0x10\n\n0xffffffffffffffff 0x0 0x200\n";
  std::ofstream(dev + "/mem_info_vram_total") << "-5\n";
  std::ofstream(dev + "/mem_info_gtt_total") << "99999999999999999999999\n";
  fs::create_directories(dev + "/boot_vga");  // a directory where a file should be
  fs::create_symlink("/nonexistent/drivers/amdgpu", dev + "/driver");  // dangling: the name still counts
  std::string bad = (tmp / "sys/bus/pci/devices/garbage").string();
  fs::create_directories(bad);
  std::ofstream(bad + "/class") << "\x01\x02\n";
  std::string kfd = (tmp / "sys/class/kfd/kfd/topology/nodes/1").string();
  fs::create_directories(kfd);
  std::ofstream(kfd + "/properties") << "gfx_target_version 999999999\nlocation_id\n";
  fs::create_directories(tmp / "proc");
  std::ofstream(tmp / "proc/cpuinfo") << "\xff\xfe garbage\n";
  std::ofstream(tmp / "proc/meminfo") << "MemTotal: x kB\n";
  fs::create_directories(tmp / "usr/share/vulkan/icd.d");
  std::ofstream(tmp / "usr/share/vulkan/icd.d/radeon_icd.x86_64.json") << "[1, 2";
  auto o = test::tree_options("broken", test::make_user("u", 1000, {"u"}));
  o.paths = hw_paths::recorded_tree(tmp.string(), (tmp / "no-pci.ids").string());
  hw_survey s;
  ASSERT_NO_THROW(s = run_survey(o));
  EXPECT_EQ(s.cpu.model_name, "unknown");
  EXPECT_FALSE(s.memory.known);
  ASSERT_EQ(s.gpus.size(), 1u);
  const gpu_device& g = s.gpus[0];
  EXPECT_EQ(g.device_id, 0);
  EXPECT_EQ(g.driver, "amdgpu");
  EXPECT_FALSE(g.boot_vga.has_value());
  EXPECT_FALSE(g.memory.vram_total.has_value());
  EXPECT_FALSE(g.memory.gtt_total.has_value());
  EXPECT_TRUE(g.bars.empty());
  EXPECT_TRUE(g.amd.gfx_target.empty());
  EXPECT_EQ(g.device_name, "");
  EXPECT_EQ(s.software.vulkan_icds.size(), 1u);
  EXPECT_FALSE(s.software.vulkan_icds[0].parsed);
  EXPECT_FALSE(s.notes.empty());
  ASSERT_NO_THROW(format_survey(s));
  ASSERT_NO_THROW(to_json(s).dump());
  fs::remove_all(tmp);

  // Nothing at all.
  o.paths = hw_paths::recorded_tree("/nonexistent/hearth/tree", "/nonexistent/pci.ids");
  ASSERT_NO_THROW(s = run_survey(o));
  EXPECT_TRUE(s.gpus.empty());
  EXPECT_EQ(s.cpu.arch, "unknown");
}

TEST(Survey, ViewProvidersAttachByAddressOrId) {
  auto o = test::tree_options("desktop-rx7900xtx", test::tree_user("desktop-rx7900xtx"));
  o.view_providers.push_back([] {
    api_device_view radv;
    radv.api = "vulkan";
    radv.index = 0;
    radv.name = "AMD Radeon RX 7900 XTX (RADV NAVI31)";
    radv.pci_address = "0000:03:00.0";
    radv.driver_name = "radv";
    radv.heaps = {{24 * GiB, 20 * GiB, true}, {31 * GiB, 30 * GiB, false}};
    radv.subgroup_size = 64;
    api_device_view lvp;
    lvp.api = "vulkan";
    lvp.index = 1;
    lvp.name = "llvmpipe (LLVM 15.0.6, 256 bits)";
    lvp.software = true;
    return std::vector<api_device_view>{radv, lvp};
  });
  o.view_providers.push_back([] {
    api_device_view hip;
    hip.api = "rocm";
    hip.vendor_id = 0x1002;
    hip.device_id = 0x744c;  // no address: matched by id (one such card)
    hip.arch = "gfx1100";
    hip.total_bytes = 24 * GiB;
    hip.free_bytes = 23 * GiB;
    return std::vector<api_device_view>{hip};
  });
  o.view_providers.push_back([]() -> std::vector<api_device_view> { throw std::runtime_error("no libvulkan"); });
  auto s = run_survey(o);
  ASSERT_EQ(s.gpus[0].views.size(), 2u);
  EXPECT_EQ(s.gpus[0].views[0].api, "vulkan");
  EXPECT_EQ(s.gpus[0].views[1].api, "rocm");
  ASSERT_EQ(s.unmatched_views.size(), 1u);
  EXPECT_TRUE(s.unmatched_views[0].software);
  bool noted = false;
  for (auto& n : s.notes) noted |= n.find("no libvulkan") != std::string::npos;
  EXPECT_TRUE(noted);
  // The first view with device-local heaps gives the budget.
  auto b = gpu_memory_budget(s.gpus[0], s.memory);
  EXPECT_EQ(b.source, "vulkan heaps");
  EXPECT_EQ(b.total_bytes, 24 * GiB);
  EXPECT_EQ(b.free_bytes, 20 * GiB);
  auto j = to_json(s);
  EXPECT_EQ(j["gpus"][0]["views"][0]["subgroup_size"], 64);
  EXPECT_EQ(j["unmatched_views"].size(), 1u);
}

TEST(Survey, JsonAndText) {
  auto s = test::survey_tree("laptop-780m");
  auto j = to_json(s);
  EXPECT_EQ(j["gpus"][0]["amd"]["gfx_target"], "gfx1103");
  EXPECT_EQ(j["gpus"][0]["amd"]["hsa_override_gfx_version"], "11.0.0");
  EXPECT_EQ(j["gpus"][0]["kind"], "integrated");
  EXPECT_EQ(j["gpus"][0]["memory"]["vram_total_bytes"], 536870912ull);
  EXPECT_EQ(j["gpus"][0]["verdict"]["backend"], "Vulkan");
  EXPECT_EQ(j["gpus"][0]["budget"]["source"], "amdgpu VRAM carve-out + GTT");
  EXPECT_EQ(j["cpu"]["kernels"], "avx512");
  EXPECT_EQ(j["software"]["distro"]["family"], "fedora");
  auto text = format_survey(s);
  EXPECT_NE(text.find("gfx1103 (RDNA3"), std::string::npos);
  EXPECT_NE(text.find("GPU 0   Vulkan (RADV)"), std::string::npos);
  EXPECT_NE(text.find("VRAM 512 MiB"), std::string::npos);
}
