// GPUs from sysfs: the PCI view (/sys/bus/pci/devices), the DRM view (/sys/class/drm), amdgpu's
// memory counters, the KFD topology (gfx target) and NVIDIA's procfs.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "hw/parsers.h"
#include "hw/survey_internal.h"
#include "hw/sysfs_read.h"

namespace hearth::hw {
namespace {

// Linux <linux/ioport.h> resource flags, as printed in the third column of `resource`.
constexpr uint64_t k_res_io = 0x100, k_res_mem = 0x200, k_res_prefetch = 0x2000, k_res_mem64 = 0x100000;

constexpr uint16_t k_vendor_amd = 0x1002, k_vendor_nvidia = 0x10de, k_vendor_intel = 0x8086;

uint32_t read_le32(std::span<const uint8_t> b, size_t off) {
  return (uint32_t)b[off] | ((uint32_t)b[off + 1] << 8) | ((uint32_t)b[off + 2] << 16) | ((uint32_t)b[off + 3] << 24);
}

bool is_pci_address(const std::string& s) {
  // dddd:bb:dd.f
  if (s.size() != 12 || s[4] != ':' || s[7] != ':' || s[10] != '.') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11})
    if (!std::isxdigit((unsigned char)s[i])) return false;
  return true;
}

// Display adapters that are not compute GPUs: server BMC VGA and virtual-machine display devices.
bool display_only_device(uint16_t vendor, const std::string& driver) {
  static const char* drivers[] = {"ast", "mgag200", "bochs", "bochs-drm", "cirrus", "cirrus-qemu", "qxl",
                                  "vboxvideo", "vmwgfx", "hibmc-drm", "simpledrm", "virtio-pci", "virtio_gpu"};
  for (auto d : drivers)
    if (driver == d) return true;
  switch (vendor) {
    case 0x1a03:  // ASPEED (BMC)
    case 0x102b:  // Matrox (BMC)
    case 0x1234:  // QEMU standard VGA
    case 0x1af4:  // virtio
    case 0x15ad:  // VMware SVGA
    case 0x80ee:  // VirtualBox
    case 0x1b36:  // Red Hat QXL
    case 0x19e5:  // Huawei (BMC)
      return true;
    default: return false;
  }
}

gpu_vendor vendor_of(uint16_t id) {
  switch (id) {
    case k_vendor_amd: return gpu_vendor::amd;
    case k_vendor_nvidia: return gpu_vendor::nvidia;
    case k_vendor_intel: return gpu_vendor::intel;
    default: return gpu_vendor::other;
  }
}

void read_amd_memory(const std::string& dir, gpu_memory& m) {
  m.vram_total = detail::read_u64(dir + "/mem_info_vram_total");
  m.vram_used = detail::read_u64(dir + "/mem_info_vram_used");
  m.vis_vram_total = detail::read_u64(dir + "/mem_info_vis_vram_total");
  m.gtt_total = detail::read_u64(dir + "/mem_info_gtt_total");
  m.gtt_used = detail::read_u64(dir + "/mem_info_gtt_used");
}

// The KFD topology: one node per CPU socket and per GPU; GPU nodes carry the gfx target and the PCI
// location (location_id = bus << 8 | devfn, with partition bits above bit 15 on MI300).
void read_kfd(const hw_paths& paths, hw_survey& s) {
  std::string nodes = paths.sysfs + "/class/kfd/kfd/topology/nodes";
  for (auto& name : detail::list_dir(nodes)) {
    auto node_id = detail::parse_u64(name);
    if (!node_id) continue;
    auto text = detail::read_file(nodes + "/" + name + "/properties");
    if (!text) continue;
    uint64_t gfx_version = 0, location = 0, domain = 0, simd = 0, simd_per_cu = 0, device_id = 0;
    bool have_location = false;
    for (auto& [k, v] : detail::parse_key_values(*text, ' ')) {
      auto n = detail::parse_u64(v);
      if (!n) continue;
      if (k == "gfx_target_version") gfx_version = *n;
      else if (k == "location_id") { location = *n; have_location = true; }
      else if (k == "domain") domain = *n;
      else if (k == "simd_count") simd = *n;
      else if (k == "simd_per_cu") simd_per_cu = *n;
      else if (k == "device_id") device_id = *n;
    }
    auto target = gfx_target_from_version(gfx_version);
    if (!target || !have_location) continue;  // CPU node, or a GPU node we cannot place
    uint64_t loc = location & 0xffff;
    std::string addr = fmt::format("{:04x}:{:02x}:{:02x}.{:x}", domain, (loc >> 8) & 0xff, (loc >> 3) & 0x1f, loc & 7);
    for (auto& g : s.gpus) {
      if (g.pci_address != addr || g.amd.kfd_node >= 0) continue;
      if (device_id && g.device_id && device_id != g.device_id) {
        s.notes.push_back(fmt::format("KFD node {} at {} has device id 0x{:04x}, PCI says 0x{:04x}", *node_id, addr,
                                      device_id, g.device_id));
      }
      g.amd.kfd_node = (int)*node_id;
      g.amd.gfx_target = *target;
      g.amd.gfx_target_source = "kfd";
      if (simd && simd_per_cu) g.amd.n_compute_units = (int)(simd / simd_per_cu);
    }
  }
}

void read_nvidia_proc(const hw_paths& paths, gpu_device& g) {
  auto text = detail::read_file(paths.proc + "/driver/nvidia/gpus/" + g.pci_address + "/information");
  if (!text) return;
  for (auto& [k, v] : detail::parse_key_values(*text, ':')) {
    if (k == "Model") g.nvidia.model = v;
    else if (k == "GPU UUID") g.nvidia.uuid = v;
    else if (k == "Video BIOS") g.nvidia.vbios = v;
    else if (k == "Bus Type") g.nvidia.bus_type = v;
    else if (k == "Device Minor") g.nvidia.device_minor = v;
  }
}

// Integrated or discrete; the rule, in order:
//  1. display-only adapters (BMC VGA, virtual displays) by vendor id or driver;
//  2. AMD: the gfx target's row in the gfx table (APU-only targets are integrated), the target coming
//     from KFD or, without KFD, from the PCI device id table;
//  3. AMD with an unknown target: integrated when amdgpu reports all of VRAM as CPU-visible although no
//     BAR is that large (an APU's carve-out is system RAM, reached without the BAR), else discrete;
//  4. NVIDIA on PCI: discrete;
//  5. Intel: integrated at 0000:00:02.0 (where Intel places its iGPU), discrete elsewhere (Arc);
//  6. anything else: unknown.
void classify(gpu_device& g) {
  if (display_only_device(g.vendor_id, g.driver)) {
    g.kind = gpu_kind::display_only;
    g.kind_reason = "display adapter (BMC or virtual machine), not a compute GPU";
    return;
  }
  if (g.vendor == gpu_vendor::amd) {
    if (g.amd.target) {
      g.kind = g.amd.target->apu ? gpu_kind::integrated : gpu_kind::discrete;
      g.kind_reason = fmt::format("{} is {} target", g.amd.gfx_target, g.amd.target->apu ? "an APU" : "a discrete-GPU");
      return;
    }
    uint64_t biggest = g.rebar.aperture_bytes;
    auto& m = g.memory;
    if (m.vram_total && m.vis_vram_total && *m.vram_total > 0) {
      bool apu = *m.vis_vram_total >= *m.vram_total && biggest > 0 && biggest < *m.vram_total;
      g.kind = apu ? gpu_kind::integrated : gpu_kind::discrete;
      g.kind_reason = apu ? "all VRAM CPU-visible through a smaller BAR: a carve-out (APU)"
                          : "VRAM behind the PCI BAR: a discrete card";
      return;
    }
    g.kind = gpu_kind::discrete;
    g.kind_reason = "AMD GPU with unknown target and no memory counters: assumed discrete";
    return;
  }
  if (g.vendor == gpu_vendor::nvidia) {
    g.kind = gpu_kind::discrete;
    g.kind_reason = "NVIDIA PCI GPU";
    return;
  }
  if (g.vendor == gpu_vendor::intel) {
    bool igpu = g.pci_address.size() == 12 && g.pci_address.substr(5) == "00:02.0";
    g.kind = igpu ? gpu_kind::integrated : gpu_kind::discrete;
    g.kind_reason = igpu ? "Intel GPU at 00:02.0, the integrated GPU's slot" : "Intel GPU off 00:02.0: a discrete Arc card";
    return;
  }
  g.kind = gpu_kind::unknown;
  g.kind_reason = "unknown vendor";
}

void decide_rebar(const std::string& dir, gpu_device& g) {
  rebar_info& r = g.rebar;
  int aperture_bar = -1;
  for (auto& b : g.bars)
    if (!b.io && b.prefetchable && b.index < 6 && b.size_bytes > r.aperture_bytes) {
      r.aperture_bytes = b.size_bytes;
      aperture_bar = b.index;
    }
  // Config space beyond the first 64 bytes is readable by root only; without it we judge by sizes.
  if (auto cfg = detail::read_file(dir + "/config", 4096); cfg && aperture_bar >= 0) {
    std::span<const uint8_t> bytes((const uint8_t*)cfg->data(), cfg->size());
    parse_rebar_capability(bytes, aperture_bar, r);
  }
}

void finish_rebar(gpu_device& g) {
  rebar_info& r = g.rebar;
  if (g.kind != gpu_kind::discrete) {
    r.state = rebar_state::not_applicable;
    r.reason = "not a discrete card";
    return;
  }
  auto& m = g.memory;
  if (m.vram_total && m.vis_vram_total && *m.vram_total > 0) {
    bool on = *m.vis_vram_total >= *m.vram_total;
    r.state = on ? rebar_state::on : rebar_state::off;
    r.reason = fmt::format("CPU-visible VRAM {} of {}", detail::format_bytes(*m.vis_vram_total),
                           detail::format_bytes(*m.vram_total));
    return;
  }
  if (r.aperture_bytes == 0) {
    r.state = rebar_state::unknown;
    r.reason = "no prefetchable BAR found";
    return;
  }
  const uint64_t legacy = 256ull << 20;
  if (r.aperture_bytes > legacy) {
    r.state = rebar_state::on;
    r.reason = fmt::format("VRAM window {}, larger than the legacy 256 MiB", detail::format_bytes(r.aperture_bytes));
  } else {
    r.state = rebar_state::off;
    r.reason = fmt::format("VRAM window is only {}", detail::format_bytes(r.aperture_bytes));
  }
}

}  // namespace

std::vector<pci_bar> parse_pci_resource(std::string_view text) {
  std::vector<pci_bar> out;
  int index = 0;
  for (auto& line : detail::split_lines(text)) {
    if (index > 6) break;  // 7+ are SR-IOV and bridge windows
    auto parts = detail::split_ws(line);
    int i = index++;
    if (parts.size() < 3) continue;
    auto start = detail::parse_u64(parts[0]), end = detail::parse_u64(parts[1]), flags = detail::parse_u64(parts[2]);
    if (!start || !end || !flags || *end <= *start) continue;  // unused BAR prints zeros
    if (!(*flags & (k_res_io | k_res_mem))) continue;
    pci_bar b;
    b.index = i;
    b.start = *start;
    b.size_bytes = *end - *start + 1;
    b.io = (*flags & k_res_io) != 0;
    b.prefetchable = (*flags & k_res_prefetch) != 0;
    b.is_64bit = (*flags & k_res_mem64) != 0;
    out.push_back(b);
  }
  return out;
}

// Extended capabilities start at 0x100: a 32-bit header (id 15:0, version 19:16, next 31:20). The
// Resizable BAR capability (id 0x15) then holds, per resizable BAR, a capability register (bit n, n >= 4,
// = size 2^(n-4) MiB supported) and a control register (BAR index 2:0, number of resizable BARs 7:5
// in the first, current size 13:8 as log2(MiB)).
void parse_rebar_capability(std::span<const uint8_t> cfg, int bar_index, rebar_info& out) {
  if (cfg.size() < 0x104) return;
  out.capability_read = true;
  size_t off = 0x100;
  for (int guard = 0; guard < 64 && off >= 0x100 && off + 4 <= cfg.size(); ++guard) {
    uint32_t hdr = read_le32(cfg, off);
    if (hdr == 0 || hdr == 0xffffffffu) return;
    uint32_t id = hdr & 0xffff;
    if (id == 0x15 && off + 12 <= cfg.size()) {
      uint32_t ctrl0 = read_le32(cfg, off + 8);
      int n = (int)((ctrl0 >> 5) & 7);
      n = std::clamp(n, 1, 6);
      out.capable = true;
      int chosen = 0;
      for (int e = 0; e < n; ++e) {
        size_t base = off + 4 + (size_t)e * 8;
        if (base + 8 <= cfg.size() && (int)(read_le32(cfg, base + 4) & 7) == bar_index) {
          chosen = e;
          break;
        }
      }
      size_t base = off + 4 + (size_t)chosen * 8;
      if (base + 8 > cfg.size()) return;
      uint32_t cap = read_le32(cfg, base), ctrl = read_le32(cfg, base + 4);
      int top = -1;
      for (int bit = 31; bit >= 4; --bit)
        if (cap & (1u << bit)) {
          top = bit;
          break;
        }
      out.capability_max_bytes = top >= 0 ? (1ull << 20) << (top - 4) : 0;
      out.capability_current_bytes = (1ull << 20) << ((ctrl >> 8) & 0x3f);
      return;
    }
    size_t next = hdr >> 20;
    if (next <= off) return;  // lists only go forward; anything else is corrupt
    off = next;
  }
}

namespace detail {

void survey_gpus(const hw_paths& paths, const pci_id_db& ids, hw_survey& s) {
  std::string bus = paths.sysfs + "/bus/pci/devices";
  for (auto& addr : list_dir(bus)) {
    std::string dir = bus + "/" + addr;
    auto cls = read_u64(dir + "/class");
    if (!cls) continue;
    auto vendor = read_u64(dir + "/vendor");
    uint32_t base = (uint32_t)(*cls >> 16);
    bool gpu = base == 0x03 || (base == 0x12 && vendor && (*vendor == k_vendor_amd || *vendor == k_vendor_nvidia));
    if (!gpu) continue;
    gpu_device g;
    g.pci_address = to_lower(addr);
    g.class_code = (uint32_t)*cls;
    g.vendor_id = (uint16_t)vendor.value_or(0);
    g.device_id = (uint16_t)read_u64(dir + "/device").value_or(0);
    g.subsys_vendor_id = (uint16_t)read_u64(dir + "/subsystem_vendor").value_or(0);
    g.subsys_device_id = (uint16_t)read_u64(dir + "/subsystem_device").value_or(0);
    g.revision = (uint8_t)read_u64(dir + "/revision").value_or(0);
    g.vendor = vendor ? vendor_of(g.vendor_id) : gpu_vendor::unknown;
    g.vendor_name = ids.vendor_name(g.vendor_id).value_or("");
    g.device_name = ids.device_name(g.vendor_id, g.device_id).value_or("");
    g.subsystem_name = ids.subsystem_name(g.vendor_id, g.device_id, g.subsys_vendor_id, g.subsys_device_id).value_or("");
    g.driver = link_name(dir + "/driver");
    if (auto v = read_u64(dir + "/boot_vga")) g.boot_vga = *v != 0;
    if (auto v = read_i64(dir + "/numa_node"); v && *v >= 0) g.numa_node = (int)*v;
    g.link_speed = read_line(dir + "/current_link_speed").value_or("");
    g.link_width = read_line(dir + "/current_link_width").value_or("");
    for (auto& e : list_dir(dir + "/drm")) {
      if (starts_with(e, "card") && e.find('-') == std::string::npos) g.drm_card = e;
      else if (starts_with(e, "renderD")) g.drm_render = e;
    }
    if (auto res = read_file(dir + "/resource")) g.bars = parse_pci_resource(*res);
    else s.notes.push_back(fmt::format("{}: resource not readable", g.pci_address));
    decide_rebar(dir, g);
    if (g.vendor == gpu_vendor::amd) read_amd_memory(dir, g.memory);
    if (g.vendor == gpu_vendor::nvidia) read_nvidia_proc(paths, g);
    g.index = (int)s.gpus.size();
    s.gpus.push_back(std::move(g));
  }

  // GPUs with a DRM card but no PCI device of display class (SoC GPUs on a platform bus).
  for (auto& card : list_dir(paths.sysfs + "/class/drm")) {
    if (!starts_with(card, "card") || card.find('-') != std::string::npos) continue;
    std::string dev = paths.sysfs + "/class/drm/" + card + "/device";
    std::string name = resolved_name(dev);
    if (name.empty() || is_pci_address(to_lower(name))) continue;
    gpu_device g;
    g.vendor = gpu_vendor::other;
    g.device_name = name;
    g.driver = link_name(dev + "/driver");
    g.drm_card = card;
    for (auto& e : list_dir(dev + "/drm"))
      if (starts_with(e, "renderD")) g.drm_render = e;
    g.kind = gpu_kind::integrated;
    g.kind_reason = "GPU on a platform bus (SoC)";
    g.index = (int)s.gpus.size();
    s.gpus.push_back(std::move(g));
  }

  read_kfd(paths, s);
  for (auto& g : s.gpus) {
    if (g.vendor != gpu_vendor::amd) continue;
    if (g.amd.gfx_target.empty())
      if (auto t = gfx_target_for_pci_device(g.device_id)) {
        g.amd.gfx_target = *t;
        g.amd.gfx_target_source = "pci-id table";
      }
    if (!g.amd.gfx_target.empty()) g.amd.target = find_gfx_target(g.amd.gfx_target);
  }
  for (auto& g : s.gpus) {
    if (g.pci_address.empty()) continue;
    classify(g);
    finish_rebar(g);
  }
}

}  // namespace detail
}  // namespace hearth::hw
