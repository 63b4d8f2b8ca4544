#include "hw/report.h"

#include <fmt/format.h>

#include <cctype>

#include "hw/sysfs_read.h"

namespace hearth::hw {
namespace {
using nlohmann::json;
using detail::format_bytes;

json opt_u64(const std::optional<uint64_t>& v) { return v ? json(*v) : json(nullptr); }
json opt_bool(const std::optional<bool>& v) { return v ? json(*v) : json(nullptr); }
std::string hex4(uint16_t v) { return fmt::format("0x{:04x}", v); }

json to_json(const library_probe& p) {
  return {{"name", p.name}, {"found", p.found}, {"path", p.path}, {"method", p.method}, {"error", p.error}};
}

json to_json(const icd_manifest& m) {
  return {{"path", m.path},       {"file", m.file_name},
          {"library_path", m.library_path}, {"api_version", m.api_version},
          {"driver", vulkan_driver_name(m.driver)}, {"vendor", gpu_vendor_name(m.vendor)},
          {"software", m.software}, {"parsed", m.parsed}};
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string bar_text(const pci_bar& b) {
  return fmt::format("{}{}: {}{}{}", b.index == 6 ? "ROM" : "", b.index == 6 ? "" : std::to_string(b.index),
                     format_bytes(b.size_bytes), b.io ? " I/O" : (b.is_64bit ? " 64-bit" : " 32-bit"),
                     b.prefetchable ? " prefetchable" : "");
}

std::string used_of(const std::optional<uint64_t>& total, const std::optional<uint64_t>& used) {
  if (!total) return "unknown";
  if (!used) return format_bytes(*total);
  return fmt::format("{} ({} used)", format_bytes(*total), format_bytes(*used));
}

// "#0: NVIDIA H200 — NVIDIA 580.159.04, API 1.4.312, sm_90, 139.8 GiB": the parts a backend reported.
std::string view_text(const api_device_view& v) {
  std::vector<std::string> parts;
  std::string driver = v.driver_name;
  if (!v.driver_version.empty()) driver += (driver.empty() ? "" : " ") + v.driver_version;
  if (!driver.empty()) parts.push_back(driver);
  if (!v.api_version.empty()) parts.push_back(std::isdigit((unsigned char)v.api_version[0]) ? "API " + v.api_version : v.api_version);
  if (!v.arch.empty()) parts.push_back(v.arch);
  if (v.total_bytes) parts.push_back(format_bytes(*v.total_bytes));
  return fmt::format("#{}: {}{}{}{}", v.index, v.name, v.software ? " (software)" : "", parts.empty() ? "" : " — ", join(parts, ", "));
}

}  // namespace

json to_json(const api_device_view& v) {
  json heaps = json::array();
  for (auto& h : v.heaps)
    heaps.push_back({{"size_bytes", h.size_bytes}, {"budget_bytes", opt_u64(h.budget_bytes)}, {"device_local", h.device_local}});
  json extra = json::object();
  for (auto& [k, val] : v.extra) extra[k] = val;
  return {{"api", v.api},
          {"index", v.index},
          {"name", v.name},
          {"pci_address", v.pci_address},
          {"vendor_id", hex4(v.vendor_id)},
          {"device_id", hex4(v.device_id)},
          {"device_type", v.device_type},
          {"software", v.software},
          {"driver_name", v.driver_name},
          {"driver_version", v.driver_version},
          {"api_version", v.api_version},
          {"arch", v.arch},
          {"heaps", heaps},
          {"total_bytes", opt_u64(v.total_bytes)},
          {"free_bytes", opt_u64(v.free_bytes)},
          {"subgroup_size", v.subgroup_size},
          {"fp16", opt_bool(v.fp16)},
          {"int8_dot", opt_bool(v.int8_dot)},
          {"bf16", opt_bool(v.bf16)},
          {"coopmat", opt_bool(v.coopmat)},
          {"extra", extra}};
}

json to_json(const memory_budget& b) {
  return {{"known", b.known}, {"total_bytes", b.total_bytes}, {"free_bytes", b.free_bytes}, {"source", b.source}};
}

json to_json(const device_verdict& v) {
  json alts = json::array();
  for (auto a : v.alternatives) alts.push_back(backend_name(a));
  return {{"backend", backend_name(v.primary)}, {"alternatives", alts}, {"used", v.used},
          {"ready", v.ready}, {"idle", v.idle}, {"summary", v.summary}, {"reason", v.reason}};
}

json to_json(const hw_survey& s) {
  json j;
  j["cpu"] = {{"arch", s.cpu.arch},           {"vendor", s.cpu.vendor},       {"model", s.cpu.model_name},
              {"sockets", s.cpu.n_sockets},   {"cores", s.cpu.n_cores},       {"threads", s.cpu.n_threads},
              {"isa", s.cpu.isa},             {"kernels", s.cpu.kernel_level()}};
  j["memory"] = {{"known", s.memory.known},
                 {"total_bytes", s.memory.total_bytes},
                 {"available_bytes", s.memory.available_bytes},
                 {"swap_total_bytes", s.memory.swap_total_bytes},
                 {"swap_free_bytes", s.memory.swap_free_bytes},
                 {"budget", to_json(host_memory_budget(s.memory))}};
  json gpus = json::array();
  for (auto& g : s.gpus) {
    json bars = json::array();
    for (auto& b : g.bars)
      bars.push_back({{"index", b.index}, {"start", b.start}, {"size_bytes", b.size_bytes}, {"io", b.io},
                      {"is_64bit", b.is_64bit}, {"prefetchable", b.prefetchable}});
    json views = json::array();
    for (auto& v : g.views) views.push_back(to_json(v));
    json amd = nullptr;
    if (g.vendor == gpu_vendor::amd) {
      const gfx_target_info* t = g.amd.target;
      amd = {{"gfx_target", g.amd.gfx_target},
             {"gfx_target_source", g.amd.gfx_target_source},
             {"family", t ? amd_family_name(t->family) : "unknown"},
             {"products", t ? t->products : ""},
             {"apu_target", t ? json(t->apu) : json(nullptr)},
             {"graphics", t ? json(t->graphics) : json(nullptr)},
             {"rocm_support", t ? rocm_support_name(t->rocm) : "unknown"},
             {"hsa_override_gfx_version", t && t->hsa_override ? json(t->hsa_override) : json(nullptr)},
             {"kfd_node", g.amd.kfd_node},
             {"compute_units", g.amd.n_compute_units}};
    }
    json nv = nullptr;
    if (g.vendor == gpu_vendor::nvidia)
      nv = {{"model", g.nvidia.model}, {"uuid", g.nvidia.uuid}, {"vbios", g.nvidia.vbios},
            {"bus_type", g.nvidia.bus_type}, {"device_minor", g.nvidia.device_minor}};
    gpus.push_back({
        {"index", g.index},
        {"name", g.display_name()},
        {"pci_address", g.pci_address},
        {"vendor", gpu_vendor_name(g.vendor)},
        {"vendor_id", hex4(g.vendor_id)},
        {"device_id", hex4(g.device_id)},
        {"subsystem_vendor_id", hex4(g.subsys_vendor_id)},
        {"subsystem_device_id", hex4(g.subsys_device_id)},
        {"revision", fmt::format("0x{:02x}", g.revision)},
        {"class", fmt::format("0x{:06x}", g.class_code)},
        {"vendor_name", g.vendor_name},
        {"device_name", g.device_name},
        {"subsystem_name", g.subsystem_name},
        {"driver", g.driver},
        {"drm_card", g.drm_card},
        {"drm_render", g.drm_render},
        {"boot_vga", opt_bool(g.boot_vga)},
        {"numa_node", g.numa_node ? json(*g.numa_node) : json(nullptr)},
        {"link_speed", g.link_speed},
        {"link_width", g.link_width},
        {"kind", gpu_kind_name(g.kind)},
        {"kind_reason", g.kind_reason},
        {"memory",
         {{"vram_total_bytes", opt_u64(g.memory.vram_total)},
          {"vram_used_bytes", opt_u64(g.memory.vram_used)},
          {"vis_vram_total_bytes", opt_u64(g.memory.vis_vram_total)},
          {"gtt_total_bytes", opt_u64(g.memory.gtt_total)},
          {"gtt_used_bytes", opt_u64(g.memory.gtt_used)}}},
        {"bars", bars},
        {"resizable_bar",
         {{"state", rebar_state_name(g.rebar.state)},
          {"aperture_bytes", g.rebar.aperture_bytes},
          {"capability_read", g.rebar.capability_read},
          {"capable", g.rebar.capable},
          {"capability_current_bytes", g.rebar.capability_current_bytes},
          {"capability_max_bytes", g.rebar.capability_max_bytes},
          {"reason", g.rebar.reason}}},
        {"amd", amd},
        {"nvidia", nv},
        {"views", views},
        {"budget", to_json(gpu_memory_budget(g, s.memory))},
        {"verdict", to_json(g.verdict)},
    });
  }
  j["gpus"] = gpus;
  const software_info& sw = s.software;
  json icds = json::array();
  for (auto& m : sw.vulkan_icds) icds.push_back(to_json(m));
  j["software"] = {
      {"vulkan", {{"loader", to_json(sw.vulkan_loader)}, {"icds", icds}}},
      {"rocm",
       {{"root", sw.rocm_root}, {"installed", sw.rocm_dir}, {"version", sw.rocm_version},
        {"hip_runtime", to_json(sw.hip_runtime)}, {"kfd", sw.kfd_present}}},
      {"cuda",
       {{"driver_library", to_json(sw.cuda_driver)}, {"nvidia_kernel_driver", sw.nvidia_kernel_driver},
        {"nvidia_driver_version", sw.nvidia_driver_version}}},
      {"kernel",
       {{"release", sw.kernel_release}, {"cmdline", sw.kernel_cmdline}, {"gpu_modules", sw.gpu_modules},
        {"ttm_pages_limit", opt_u64(sw.ttm_pages_limit)},
        {"amdgpu_gttsize_mib", sw.amdgpu_gttsize_mib ? json(*sw.amdgpu_gttsize_mib) : json(nullptr)}}},
      {"distro", {{"family", distro_family_name(sw.distro)}, {"name", sw.distro_name}}},
      {"hearth_build",
       {{"vulkan", sw.module_vulkan}, {"cuda", sw.module_cuda}, {"hip", sw.module_hip},
        {"hip_targets", sw.hip_build_targets}}},
  };
  j["user"] = {{"name", s.user.name}, {"uid", s.user.uid}, {"groups", s.user.groups},
               {"configured_groups", s.user.configured_groups}};
  json nodes = json::array();
  for (auto& n : s.dev_nodes)
    nodes.push_back({{"path", n.path}, {"exists", n.exists}, {"group", n.group}, {"mode", fmt::format("{:04o}", n.mode)},
                     {"accessible", opt_bool(n.accessible)}});
  j["dev_nodes"] = nodes;
  json unmatched = json::array();
  for (auto& v : s.unmatched_views) unmatched.push_back(to_json(v));
  j["unmatched_views"] = unmatched;
  j["cpu_verdict"] = to_json(s.cpu_verdict);
  j["notes"] = s.notes;
  return j;
}

std::string format_survey(const hw_survey& s) {
  std::string o;
  auto line = [&](const std::string& label, const std::string& text) {
    o += fmt::format("{:<9}{}\n", label, text);
  };
  const cpu_info& c = s.cpu;
  line("CPU", c.model_name);
  auto count = [](int n) { return n > 0 ? std::to_string(n) : std::string("?"); };
  line("", fmt::format("{}, {} socket{}, {} cores, {} threads", c.arch, count(c.n_sockets), c.n_sockets == 1 ? "" : "s",
                       count(c.n_cores), count(c.n_threads)));
  line("", fmt::format("ISA: {} (kernels: {})", c.isa.empty() ? "none of interest" : join(c.isa, " "), c.kernel_level()));
  if (s.memory.known)
    line("Memory", fmt::format("{} total, {} available; swap {} ({} free)", format_bytes(s.memory.total_bytes),
                               format_bytes(s.memory.available_bytes), format_bytes(s.memory.swap_total_bytes),
                               format_bytes(s.memory.swap_free_bytes)));
  else
    line("Memory", "unknown");
  o += "\n";
  if (s.gpus.empty()) {
    line("GPUs", "none found on the PCI bus or in /sys/class/drm");
    o += "\n";
  }
  for (auto& g : s.gpus) {
    std::string label = fmt::format("GPU {}", g.index);
    line(label, fmt::format("{}{}", g.display_name(), g.subsystem_name.empty() ? "" : " (" + g.subsystem_name + ")"));
    line("", fmt::format("{}{}, {:04x}:{:04x} rev {:02x}", g.pci_address.empty() ? "platform device" : "PCI ",
                         g.pci_address, g.vendor_id, g.device_id, g.revision));
    std::vector<std::string> nodes;
    for (auto* n : {&g.drm_card, &g.drm_render})
      if (!n->empty()) nodes.push_back(*n);
    std::string drm = nodes.empty() ? "no DRM node" : join(nodes, " / ");
    line("", fmt::format("{} ({}); driver {}; {}{}", gpu_kind_name(g.kind), g.kind_reason,
                         g.driver.empty() ? "NONE" : g.driver, drm,
                         g.boot_vga && *g.boot_vga ? "; boot display" : ""));
    if (g.vendor == gpu_vendor::amd) {
      const gfx_target_info* t = g.amd.target;
      std::string target = g.amd.gfx_target.empty() ? "gfx target unknown" : g.amd.gfx_target;
      std::string detail = t ? fmt::format(" ({}: {})", amd_family_name(t->family), t->products) : "";
      std::string src = g.amd.gfx_target_source.empty() ? "" : " from " + g.amd.gfx_target_source;
      std::string cus = g.amd.n_compute_units ? fmt::format(", {} CUs", g.amd.n_compute_units) : "";
      std::string rocm = t ? fmt::format("; ROCm: {}{}", rocm_support_name(t->rocm),
                                         t->hsa_override ? fmt::format(" (HSA_OVERRIDE_GFX_VERSION={})", t->hsa_override) : "")
                           : "";
      line("", target + detail + src + cus + rocm);
      line("", fmt::format("VRAM {}, CPU-visible {}; GTT {}", used_of(g.memory.vram_total, g.memory.vram_used),
                           g.memory.vis_vram_total ? format_bytes(*g.memory.vis_vram_total) : "unknown",
                           used_of(g.memory.gtt_total, g.memory.gtt_used)));
    }
    if (g.vendor == gpu_vendor::nvidia) {
      if (!g.nvidia.model.empty())
        line("", fmt::format("{}{}{}", g.nvidia.model, g.nvidia.uuid.empty() ? "" : ", " + g.nvidia.uuid,
                             g.nvidia.vbios.empty() ? "" : ", VBIOS " + g.nvidia.vbios));
      else
        line("", "no /proc/driver/nvidia entry (NVIDIA driver not loaded?)");
    }
    if (!g.link_speed.empty()) line("", fmt::format("PCIe link {} x{}", g.link_speed, g.link_width));
    if (g.kind != gpu_kind::display_only) {
      std::vector<std::string> bars;
      for (auto& b : g.bars)
        if (!b.io && b.index < 6) bars.push_back(bar_text(b));
      std::string rebar = fmt::format("resizable BAR {}", rebar_state_name(g.rebar.state));
      if (!g.rebar.reason.empty() && g.rebar.state != rebar_state::not_applicable) rebar += " (" + g.rebar.reason + ")";
      if (g.rebar.capability_read)
        rebar += g.rebar.capable ? fmt::format("; capability: {} now, up to {}", format_bytes(g.rebar.capability_current_bytes),
                                               format_bytes(g.rebar.capability_max_bytes))
                                 : "; no resizable-BAR capability (the BAR size is set by the firmware)";
      line("", fmt::format("BARs: {}; {}", bars.empty() ? "unknown" : join(bars, ", "), rebar));
      memory_budget b = gpu_memory_budget(g, s.memory);
      line("", b.known ? fmt::format("memory for models: {} free of {} ({})", format_bytes(b.free_bytes),
                                     format_bytes(b.total_bytes), b.source)
                       : "memory for models: unknown until a backend reports it");
    }
    for (auto& v : g.views) line("", fmt::format("{} {}", v.api, view_text(v)));
    o += "\n";
  }
  for (auto& v : s.unmatched_views)
    line(v.api, view_text(v));

  const software_info& sw = s.software;
  o += "Software\n";
  {
    std::vector<std::string> icds;
    for (auto& m : sw.vulkan_icds)
      icds.push_back(fmt::format("{}{} ({})", vulkan_driver_name(m.driver), m.api_version.empty() ? "" : " " + m.api_version,
                                 m.file_name));
    std::string loader = sw.vulkan_loader.found
                             ? "loader " + (sw.vulkan_loader.path.empty() ? sw.vulkan_loader.name : sw.vulkan_loader.path)
                             : "no loader (libvulkan.so.1)";
    line("  Vulkan", fmt::format("{}; ICDs: {}", loader, icds.empty() ? "none" : join(icds, ", ")));
  }
  line("  ROCm", fmt::format("{}; HIP runtime: {}; /dev/kfd: {}",
                             sw.rocm_dir ? fmt::format("{} {}", sw.rocm_root, sw.rocm_version.empty() ? "(version unknown)" : sw.rocm_version)
                                         : sw.rocm_root + " not present",
                             sw.hip_runtime.found ? sw.hip_runtime.path : "not found", sw.kfd_present ? "present" : "missing"));
  line("  CUDA", fmt::format("driver library: {}{}",
                             sw.cuda_driver.found ? (sw.cuda_driver.path.empty() ? sw.cuda_driver.name : sw.cuda_driver.path)
                                                  : "not found",
                             sw.nvidia_driver_version.empty() ? "" : "; NVIDIA kernel driver " + sw.nvidia_driver_version));
  std::string ttm = sw.ttm_pages_limit ? fmt::format("; ttm.pages_limit {} ({})", *sw.ttm_pages_limit,
                                                     format_bytes(*sw.ttm_pages_limit * 4096))
                                       : "";
  line("  Kernel", fmt::format("{}; GPU modules: {}{}", sw.kernel_release.empty() ? "unknown" : sw.kernel_release,
                               sw.gpu_modules.empty() ? "none" : join(sw.gpu_modules, " "), ttm));
  line("  Distro", sw.distro_name.empty() ? "unknown" : sw.distro_name);
  line("  Hearth", fmt::format("built with Vulkan {}, CUDA {}, ROCm {}{}", sw.module_vulkan ? "yes" : "no",
                               sw.module_cuda ? "yes" : "no", sw.module_hip ? "yes" : "no",
                               sw.module_hip ? " (" + join(sw.hip_build_targets, " ") + ")" : ""));
  o += "\nVerdict\n";
  for (auto& g : s.gpus) {
    o += fmt::format("  GPU {}   {}\n", g.index, g.verdict.summary);
    if (!g.verdict.reason.empty()) o += fmt::format("          {}\n", g.verdict.reason);
  }
  o += fmt::format("  CPU     {}\n          {}\n", s.cpu_verdict.summary, s.cpu_verdict.reason);
  if (!s.notes.empty()) {
    o += "\nNotes\n";
    for (auto& n : s.notes) o += "  " + n + "\n";
  }
  return o;
}

}  // namespace hearth::hw
