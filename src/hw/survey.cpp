// run_survey: gathers the facts (cpu.cpp, pci.cpp, software.cpp), attaches backend views, and decides
// what Hearth will run where (the support table below).
#include "hw/survey.h"

#include "backends/cpu/kernels/isa.h"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>

#include "hw/parsers.h"
#include "hw/survey_internal.h"
#include "hw/sysfs_read.h"

#ifndef HEARTH_HW_HIP_TARGETS
#define HEARTH_HW_HIP_TARGETS ""
#endif
#ifndef HEARTH_HW_WITH_VULKAN
#define HEARTH_HW_WITH_VULKAN 0
#endif
#ifndef HEARTH_HW_WITH_CUDA
#define HEARTH_HW_WITH_CUDA 0
#endif
#ifndef HEARTH_HW_WITH_HIP
#define HEARTH_HW_WITH_HIP 0
#endif

namespace hearth::hw {

const char* gpu_vendor_name(gpu_vendor v) {
  switch (v) {
    case gpu_vendor::amd: return "AMD";
    case gpu_vendor::nvidia: return "NVIDIA";
    case gpu_vendor::intel: return "Intel";
    case gpu_vendor::other: return "other";
    default: return "unknown";
  }
}

const char* gpu_kind_name(gpu_kind k) {
  switch (k) {
    case gpu_kind::discrete: return "discrete";
    case gpu_kind::integrated: return "integrated";
    case gpu_kind::display_only: return "display-only";
    default: return "unknown";
  }
}

const char* rebar_state_name(rebar_state s) {
  switch (s) {
    case rebar_state::on: return "on";
    case rebar_state::off: return "off";
    case rebar_state::not_applicable: return "n/a";
    default: return "unknown";
  }
}

const char* backend_name(backend_kind b) {
  switch (b) {
    case backend_kind::cpu: return "CPU";
    case backend_kind::vulkan: return "Vulkan";
    case backend_kind::rocm: return "ROCm/HIP";
    case backend_kind::cuda: return "CUDA";
    default: return "none";
  }
}

const char* vulkan_driver_name(vulkan_driver d) {
  switch (d) {
    case vulkan_driver::radv: return "RADV";
    case vulkan_driver::amdvlk: return "AMDVLK";
    case vulkan_driver::amdgpu_pro: return "AMDGPU-PRO";
    case vulkan_driver::anv: return "ANV";
    case vulkan_driver::hasvk: return "hasvk";
    case vulkan_driver::nvidia: return "NVIDIA";
    case vulkan_driver::nvk: return "NVK";
    case vulkan_driver::lavapipe: return "lavapipe";
    case vulkan_driver::swiftshader: return "SwiftShader";
    case vulkan_driver::virtio: return "venus (virtio)";
    case vulkan_driver::other: return "other";
    default: return "unknown";
  }
}

const char* distro_family_name(distro_family d) {
  switch (d) {
    case distro_family::debian: return "debian";
    case distro_family::fedora: return "fedora";
    case distro_family::arch: return "arch";
    default: return "unknown";
  }
}

bool software_info::module_loaded(const std::string& name) const {
  return std::find(gpu_modules.begin(), gpu_modules.end(), name) != gpu_modules.end();
}

bool user_info::in_group(const std::string& g) const { return std::find(groups.begin(), groups.end(), g) != groups.end(); }
bool user_info::configured_in_group(const std::string& g) const {
  return std::find(configured_groups.begin(), configured_groups.end(), g) != configured_groups.end();
}

const dev_node* hw_survey::find_node(const std::string& path) const {
  for (auto& n : dev_nodes)
    if (n.path == path) return &n;
  return nullptr;
}

bool hw_survey::any_gpu_used() const {
  return std::any_of(gpus.begin(), gpus.end(), [](const gpu_device& g) { return g.verdict.used; });
}

std::string gpu_device::display_name() const {
  std::string base;
  if (!nvidia.model.empty()) base = nvidia.model;
  else if (!device_name.empty()) base = device_name;
  else base = fmt::format("device {:04x}:{:04x}", vendor_id, device_id);
  if (vendor == gpu_vendor::amd || vendor == gpu_vendor::intel)
    if (!detail::starts_with(base, gpu_vendor_name(vendor))) return fmt::format("{} {}", gpu_vendor_name(vendor), base);
  return base;
}

// ---- view providers ----------------------------------------------------------------------------------

namespace {
std::mutex g_providers_mutex;
std::vector<view_provider>& providers() {
  static std::vector<view_provider> p;
  return p;
}

std::vector<std::string> split_semicolons(const std::string& s) {
  std::vector<std::string> out;
  size_t p = 0;
  while (p <= s.size()) {
    size_t c = s.find_first_of(";,", p);
    if (c == std::string::npos) c = s.size();
    std::string t = detail::trim(std::string_view(s).substr(p, c - p));
    if (!t.empty()) out.push_back(t);
    p = c + 1;
  }
  return out;
}
}  // namespace

void register_view_provider(view_provider p) {
  std::lock_guard<std::mutex> lock(g_providers_mutex);
  providers().push_back(std::move(p));
}

std::vector<view_provider> registered_view_providers() {
  std::lock_guard<std::mutex> lock(g_providers_mutex);
  return providers();
}

survey_options default_survey_options() {
  survey_options o;
  o.paths = hw_paths::from_env();
  o.view_providers = registered_view_providers();
  o.view_providers.push_back(backend_device_views);  // the loaded backend modules' devices
  o.hip_build_targets = split_semicolons(HEARTH_HW_HIP_TARGETS);
  o.query_cpu_backend = true;
  return o;
}

namespace detail {

void survey_cpu_memory(const hw_paths& paths, hw_survey& s) {
  if (auto text = read_file(paths.proc + "/cpuinfo", 16u << 20)) s.cpu = parse_cpuinfo(*text);
  else {
    s.cpu.arch = s.cpu.vendor = s.cpu.model_name = "unknown";
    s.notes.push_back("/proc/cpuinfo not readable");
  }
  if (s.cpu.n_threads == 0) {
    // Fall back to sysfs' list of present CPUs ("0-15").
    if (auto present = read_line(paths.sysfs + "/devices/system/cpu/present")) {
      int n = 0;
      for (auto& range : split_ws([&] { std::string t = *present; std::replace(t.begin(), t.end(), ',', ' '); return t; }())) {
        size_t dash = range.find('-');
        auto a = parse_u64(range.substr(0, dash));
        auto b = dash == std::string::npos ? a : parse_u64(range.substr(dash + 1));
        if (a && b && *b >= *a && *b - *a < 1u << 20) n += (int)(*b - *a + 1);
      }
      s.cpu.n_threads = n;
      if (s.cpu.n_cores == 0) s.cpu.n_cores = n;
    }
  }
  if (auto text = read_file(paths.proc + "/meminfo")) s.memory = parse_meminfo(*text);
  if (!s.memory.known) s.notes.push_back("/proc/meminfo not readable: RAM unknown");
}

void attach_views(const std::vector<view_provider>& list, hw_survey& s) {
  for (auto& provider : list) {
    std::vector<api_device_view> views;
    try {
      views = provider();
    } catch (const std::exception& e) {
      s.notes.push_back(fmt::format("a device view provider failed: {}", e.what()));
      continue;
    }
    for (auto& v : views) {
      gpu_device* match = nullptr;
      if (!v.pci_address.empty()) {
        std::string addr = to_lower(v.pci_address);
        for (auto& g : s.gpus)
          if (g.pci_address == addr) match = &g;
      }
      if (!match && !v.software && v.vendor_id) {
        int n = 0;
        for (auto& g : s.gpus)
          if (g.vendor_id == v.vendor_id && g.device_id == v.device_id) {
            match = &g;
            ++n;
          }
        if (n != 1) match = nullptr;  // two identical cards: only the address can tell them apart
      }
      if (match) match->views.push_back(std::move(v));
      else s.unmatched_views.push_back(std::move(v));
    }
  }
}

}  // namespace detail

// ---- verdicts: the support table ------------------------------------------------------------------
//   AMD RDNA1-RDNA4, GCN5 and integrated Radeon -> Vulkan (RADV); ROCm/HIP as an alternative where the
//                                                  gfx target is supported or has a tested override
//   AMD CDNA (MI100/MI200/MI300/MI350)          -> ROCm/HIP only (no graphics engine, no Vulkan)
//   NVIDIA with NVIDIA's driver                 -> CUDA; Vulkan as an alternative
//   NVIDIA with nouveau                         -> Vulkan (NVK)
//   Intel                                       -> Vulkan (ANV)
//   no usable GPU                               -> CPU
// An integrated GPU is left out by default when a discrete GPU is used, or when it has fewer than 4
// compute units (then the CPU is as fast: both read the same DRAM and the CPU has more FLOPs).

namespace {

bool has_view(const gpu_device& g, const char* api) {
  return std::any_of(g.views.begin(), g.views.end(), [&](const api_device_view& v) { return v.api == api; });
}

// The hardware ICD that would drive this GPU, preferring RADV for AMD.
const icd_manifest* vulkan_icd_for(const hw_survey& s, const gpu_device& g) {
  const icd_manifest* best = nullptr;
  for (auto& m : s.software.vulkan_icds) {
    if (m.software || m.vendor != g.vendor) continue;
    if (g.vendor == gpu_vendor::nvidia) {
      bool nvk = m.driver == vulkan_driver::nvk;
      if (nvk != (g.driver == "nouveau")) continue;
    }
    if (!best || m.driver == vulkan_driver::radv) best = &m;
  }
  return best;
}

bool vulkan_ready(const hw_survey& s, const gpu_device& g) {
  if (has_view(g, "vulkan")) return true;
  return s.software.vulkan_loader.found && vulkan_icd_for(s, g) != nullptr;
}
bool rocm_ready(const hw_survey& s, const gpu_device& g) {
  if (has_view(g, "rocm")) return true;
  return s.software.hip_runtime.found && s.software.kfd_present;
}
bool cuda_ready(const hw_survey& s, const gpu_device& g) {
  if (has_view(g, "cuda")) return true;
  return s.software.cuda_driver.found;
}
bool ready_for(const hw_survey& s, const gpu_device& g, backend_kind b) {
  switch (b) {
    case backend_kind::vulkan: return vulkan_ready(s, g);
    case backend_kind::rocm: return rocm_ready(s, g);
    case backend_kind::cuda: return cuda_ready(s, g);
    default: return false;
  }
}

std::string backend_label(const hw_survey& s, const gpu_device& g, backend_kind b) {
  if (b == backend_kind::rocm && g.amd.target && g.amd.target->rocm == rocm_support::none && g.amd.target->hsa_override)
    return fmt::format("ROCm/HIP (with HSA_OVERRIDE_GFX_VERSION={})", g.amd.target->hsa_override);
  if (b != backend_kind::vulkan) return backend_name(b);
  if (auto* icd = vulkan_icd_for(s, g)) return fmt::format("Vulkan ({})", vulkan_driver_name(icd->driver));
  switch (g.vendor) {
    case gpu_vendor::amd: return "Vulkan (RADV)";
    case gpu_vendor::intel: return "Vulkan (ANV)";
    case gpu_vendor::nvidia: return g.driver == "nouveau" ? "Vulkan (NVK)" : "Vulkan (NVIDIA)";
    default: return "Vulkan";
  }
}

std::string missing_for(backend_kind b, const hw_survey& s) {
  switch (b) {
    case backend_kind::vulkan:
      return s.software.vulkan_loader.found ? "no Vulkan driver (ICD) for it" : "no Vulkan loader (libvulkan.so.1)";
    case backend_kind::rocm:
      return !s.software.hip_runtime.found ? "no ROCm HIP runtime (libamdhip64)" : "no /dev/kfd";
    case backend_kind::cuda: return "no CUDA driver library (libcuda.so.1)";
    default: return "nothing to run it";
  }
}

device_verdict decide_gpu(const hw_survey& s, const gpu_device& g, bool have_discrete) {
  device_verdict v;
  std::vector<std::string> why;
  bool eligible = true, idle = false;
  std::string skip;

  if (g.kind == gpu_kind::display_only) {
    v.summary = "not used (display adapter)";
    v.reason = g.kind_reason + ".";
    return v;
  }

  // What the hardware calls for.
  switch (g.vendor) {
    case gpu_vendor::amd: {
      const gfx_target_info* t = g.amd.target;
      std::string tname = g.amd.gfx_target.empty() ? "unknown gfx target" : g.amd.gfx_target;
      std::string fam = t ? amd_family_name(t->family) : "";
      if (t && !t->graphics) {
        v.primary = backend_kind::rocm;
        why.push_back(fmt::format("{} {} has no graphics engine, so no Vulkan driver runs on it; ROCm/HIP does (ROCm support: {})",
                                  fam, tname, rocm_support_name(t->rocm)));
      } else {
        v.primary = backend_kind::vulkan;
        if (t) why.push_back(fmt::format("{} {}: Vulkan through Mesa's RADV is Hearth's main path for Radeon", fam, tname));
        else why.push_back(fmt::format("{}: Vulkan (RADV) is the safe path", tname));
        if (t) {
          if (t->rocm == rocm_support::official || t->rocm == rocm_support::builds || t->rocm == rocm_support::deprecated) {
            v.alternatives.push_back(backend_kind::rocm);
            why.push_back(fmt::format("ROCm/HIP also runs it ({} in ROCm)", rocm_support_name(t->rocm)));
          } else if (t->hsa_override) {
            v.alternatives.push_back(backend_kind::rocm);
            why.push_back(fmt::format("ROCm/HIP only with HSA_OVERRIDE_GFX_VERSION={} (ROCm has no {} code)", t->hsa_override, tname));
          } else {
            why.push_back(fmt::format("ROCm does not support {}", tname));
          }
        }
      }
      if (g.driver == "radeon") {
        eligible = false;
        skip = "bound to the old radeon driver; Vulkan and ROCm need amdgpu";
      }
      break;
    }
    case gpu_vendor::nvidia:
      if (g.driver == "nouveau") {
        v.primary = backend_kind::vulkan;
        why.push_back("nouveau driver: CUDA needs NVIDIA's driver; Vulkan runs through Mesa's NVK");
      } else {
        v.primary = backend_kind::cuda;
        v.alternatives.push_back(backend_kind::vulkan);
        why.push_back("NVIDIA GPU: CUDA first, Vulkan also works");
      }
      break;
    case gpu_vendor::intel:
      v.primary = backend_kind::vulkan;
      why.push_back("Intel GPU: Vulkan through Mesa's ANV");
      break;
    default:
      eligible = false;
      skip = "no Hearth backend drives this GPU";
      break;
  }

  if (g.driver.empty()) {
    eligible = false;
    skip = "no kernel driver is bound to it (see `hearth doctor`)";
  } else if (g.driver == "vfio-pci" || g.driver == "pci-stub") {
    eligible = false;
    skip = fmt::format("reserved for a virtual machine ({})", g.driver);
  }

  if (eligible && g.kind == gpu_kind::integrated) {
    if (have_discrete) {
      eligible = false;
      idle = true;
      skip = "integrated GPU left idle: a discrete GPU is present";
    } else if (g.amd.n_compute_units > 0 && g.amd.n_compute_units < 4) {
      eligible = false;
      idle = true;
      skip = fmt::format("only {} compute units: the CPU is as fast on the same memory", g.amd.n_compute_units);
    } else if (g.vendor == gpu_vendor::amd) {
      why.push_back("integrated: model weights live in GTT (shared system RAM), not only in the small VRAM carve-out");
    }
  }

  // Use the first of primary/alternatives whose software is present.
  v.ready = v.primary != backend_kind::none && ready_for(s, g, v.primary);
  if (!v.ready) {
    for (size_t i = 0; i < v.alternatives.size(); ++i) {
      backend_kind alt = v.alternatives[i];
      // An override-only ROCm is not a silent fallback: the user has to set the variable.
      bool override_only = alt == backend_kind::rocm && g.amd.target &&
                           (g.amd.target->rocm == rocm_support::none);
      if (!override_only && ready_for(s, g, alt)) {
        why.push_back(fmt::format("{} is not ready ({}), so {} is used", backend_label(s, g, v.primary),
                                  missing_for(v.primary, s), backend_label(s, g, alt)));
        v.alternatives[i] = v.primary;
        v.primary = alt;
        v.ready = true;
        break;
      }
    }
  }

  std::string label = v.primary == backend_kind::none ? "none" : backend_label(s, g, v.primary);
  std::string also;
  for (auto a : v.alternatives) also += (also.empty() ? "; also " : ", ") + backend_label(s, g, a);
  v.idle = idle;
  if (!eligible) {
    v.used = false;
    v.summary = fmt::format("not used: {}", skip);
  } else if (!v.ready) {
    v.used = false;
    v.summary = fmt::format("{} once installed: {}", label, missing_for(v.primary, s));
  } else {
    v.used = true;
    v.summary = label + also;
  }
  std::string reason;
  for (auto& w : why) reason += (reason.empty() ? "" : "; ") + w;
  v.reason = reason.empty() ? "" : reason + ".";
  return v;
}

}  // namespace

void decide_verdicts(hw_survey& s) {
  bool have_discrete = false;
  // Discrete first: whether one is used decides whether integrated GPUs stay idle.
  for (auto& g : s.gpus)
    if (g.kind != gpu_kind::integrated) {
      g.verdict = decide_gpu(s, g, false);
      have_discrete |= g.kind == gpu_kind::discrete && g.verdict.used;
    }
  for (auto& g : s.gpus)
    if (g.kind == gpu_kind::integrated) g.verdict = decide_gpu(s, g, have_discrete);

  device_verdict& c = s.cpu_verdict;
  c.primary = backend_kind::cpu;
  c.used = true;
  c.ready = true;
  std::string level = s.cpu.kernel_level();
  if (s.any_gpu_used()) {
    c.summary = fmt::format("CPU ({} kernels) for the layers that do not fit on the GPU", level);
    c.reason = "Hearth offloads as many layers as fit to the GPU(s) and runs the rest here.";
  } else {
    c.summary = fmt::format("CPU ({} kernels) for every layer", level);
    bool software_vk = std::any_of(s.software.vulkan_icds.begin(), s.software.vulkan_icds.end(),
                                   [](const icd_manifest& m) { return m.software; });
    c.reason = s.gpus.empty() ? "No GPU found." : "No GPU that Hearth can use right now.";
    if (software_vk) c.reason += " A software Vulkan device (lavapipe) is ignored: it is slower than the CPU backend.";
  }
}

hw_survey run_survey(const survey_options& opts) {
  hw_survey s;
  pci_id_db ids = pci_id_db::load(opts.paths.pci_ids);
  if (ids.empty()) s.notes.push_back(fmt::format("{} not readable: GPU names unknown (install pci.ids)", opts.paths.pci_ids));
  detail::survey_cpu_memory(opts.paths, s);
  if (opts.query_cpu_backend) s.cpu.backend_level = cpu::isa_name(cpu::active_isa());
  detail::survey_gpus(opts.paths, ids, s);
  detail::survey_software(opts.paths, s);
  s.software.hip_build_targets = opts.hip_build_targets;
  s.software.module_vulkan = HEARTH_HW_WITH_VULKAN;
  s.software.module_cuda = HEARTH_HW_WITH_CUDA;
  s.software.module_hip = HEARTH_HW_WITH_HIP;
  detail::survey_access(opts.paths, opts.user, s);
  detail::attach_views(opts.view_providers, s);
  decide_verdicts(s);
  return s;
}

// ---- memory budgets -------------------------------------------------------------------------------

memory_budget host_memory_budget(const memory_info& host) {
  memory_budget b;
  if (!host.known) return b;
  b.known = true;
  b.total_bytes = host.total_bytes;
  b.free_bytes = host.available_bytes;
  b.source = "MemAvailable";
  return b;
}

memory_budget gpu_memory_budget(const gpu_device& g, const memory_info& host) {
  memory_budget b;
  // A backend's own numbers win: they are what its allocator will see.
  for (auto& v : g.views) {
    if (v.total_bytes && v.free_bytes) {
      b.known = true;
      b.total_bytes = *v.total_bytes;
      b.free_bytes = *v.free_bytes;
      b.source = v.api + " device memory";
      return b;
    }
    uint64_t total = 0, free = 0;
    bool have_budget = false;
    for (auto& h : v.heaps)
      if (h.device_local) {
        total += h.size_bytes;
        if (h.budget_bytes) {
          free += *h.budget_bytes;
          have_budget = true;
        }
      }
    if (total > 0) {
      b.known = true;
      b.total_bytes = total;
      b.free_bytes = have_budget ? free : total;
      b.source = v.api + " heaps";
      return b;
    }
  }
  auto& m = g.memory;
  if (!m.vram_total) return b;
  uint64_t vram_free = *m.vram_total - std::min(*m.vram_total, m.vram_used.value_or(0));
  if (g.kind == gpu_kind::integrated && m.gtt_total) {
    uint64_t gtt_free = *m.gtt_total - std::min(*m.gtt_total, m.gtt_used.value_or(0));
    // GTT is system RAM: never count more of it than the host can still give.
    if (host.known) gtt_free = std::min(gtt_free, host.available_bytes);
    b.known = true;
    b.total_bytes = *m.vram_total + *m.gtt_total;
    b.free_bytes = vram_free + gtt_free;
    b.source = "amdgpu VRAM carve-out + GTT";
    return b;
  }
  b.known = true;
  b.total_bytes = *m.vram_total;
  b.free_bytes = vram_free;
  b.source = "amdgpu VRAM";
  return b;
}

}  // namespace hearth::hw
