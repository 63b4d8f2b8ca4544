// The hardware survey: CPU, RAM, every GPU seen through PCI/DRM sysfs (plus amdgpu's memory counters,
// the KFD topology and NVIDIA's procfs), the GPU software stacks present (Vulkan loader and ICDs, ROCm,
// CUDA), device-node access, and one verdict per device: what Hearth will use it for and why.
// Backends add their own per-device views (Vulkan properties, CUDA/ROCm agents) through providers.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hw/gfx_targets.h"
#include "hw/paths.h"

namespace hearth::hw {

// ---- CPU and memory ------------------------------------------------------------------------------

struct cpu_info {
  std::string arch;        // "x86_64", "aarch64", ... (from the flags seen; "unknown" if none)
  std::string vendor;      // "AuthenticAMD", "GenuineIntel", ARM implementer, or "unknown"
  std::string model_name;  // "AMD Ryzen 7 7840U w/ Radeon 780M Graphics", or "unknown"
  int n_sockets = 0;       // 0 = unknown
  int n_cores = 0;         // physical cores
  int n_threads = 0;       // logical CPUs
  // The ISA features Hearth's CPU backend can use, canonical names in a fixed order:
  // x86: sse4.2 avx avx2 fma f16c avx512f avx512dq avx512bw avx512vl avx512_vnni avx512_bf16 avx_vnni amx_tile
  //      amx_int8 amx_bf16;  ARM: neon dotprod fp16 i8mm sve sve2 bf16.
  std::vector<std::string> isa;
  bool has(const std::string& feature) const;
  // The CPU backend's kernel level for this CPU ("avx512", "avx2_vnni", "avx2", "generic"): what the
  // backend itself chose when surveying this machine (backend_level, which honours HEARTH_CPU_ISA),
  // else decided from the flags by the backend's rule (recorded machines).
  std::string kernel_level() const;
  std::string backend_level;
};

struct memory_info {
  bool known = false;
  uint64_t total_bytes = 0;      // MemTotal
  uint64_t available_bytes = 0;  // MemAvailable (what can be allocated without swapping)
  uint64_t swap_total_bytes = 0;
  uint64_t swap_free_bytes = 0;
};

// ---- GPUs ----------------------------------------------------------------------------------------

enum class gpu_vendor { unknown, amd, nvidia, intel, other };
const char* gpu_vendor_name(gpu_vendor v);
enum class gpu_kind { unknown, discrete, integrated, display_only };
const char* gpu_kind_name(gpu_kind k);

struct pci_bar {
  int index = 0;             // BAR number (0-5); 6 = expansion ROM
  uint64_t start = 0;
  uint64_t size_bytes = 0;
  bool io = false;           // I/O port range rather than memory
  bool is_64bit = false;
  bool prefetchable = false;
};

enum class rebar_state { unknown, on, off, not_applicable };
const char* rebar_state_name(rebar_state s);

struct rebar_info {
  rebar_state state = rebar_state::unknown;
  uint64_t aperture_bytes = 0;          // largest prefetchable memory BAR (the VRAM window the CPU sees)
  // The PCIe Resizable BAR capability, when config space beyond 256 bytes is readable (root only).
  bool capability_read = false;
  bool capable = false;
  uint64_t capability_current_bytes = 0;
  uint64_t capability_max_bytes = 0;
  std::string reason;                   // how the state was decided
};

struct gpu_memory {
  // amdgpu's mem_info_* counters (bytes); absent on other drivers.
  std::optional<uint64_t> vram_total, vram_used, vis_vram_total, gtt_total, gtt_used;
};

struct amd_gpu_info {
  std::string gfx_target;               // "gfx1100", "" when unknown
  std::string gfx_target_source;        // "kfd" or "pci-id table"
  const gfx_target_info* target = nullptr;  // row of the gfx table, nullptr when not in it
  int kfd_node = -1;
  int n_compute_units = 0;              // simd_count / simd_per_cu from KFD, 0 = unknown
};

struct nvidia_gpu_info {
  std::string model;                    // "NVIDIA H100 80GB HBM3" (/proc/driver/nvidia/gpus/*/information)
  std::string uuid;
  std::string vbios;
  std::string bus_type;
  std::string device_minor;
};

// A backend's view of a device (Vulkan physical device, CUDA device, ROCm agent). Filled by a
// view provider (see survey_options::view_providers); attached to the PCI GPU with the same address,
// or kept in hw_survey::unmatched_views (software devices such as lavapipe, or devices with no PCI view).
struct memory_heap {
  uint64_t size_bytes = 0;
  std::optional<uint64_t> budget_bytes;  // VK_EXT_memory_budget / cudaMemGetInfo free
  bool device_local = false;
};

struct api_device_view {
  std::string api;              // "vulkan", "cuda", "rocm"
  int index = -1;               // device index within that API
  std::string name;             // as the API names it
  std::string pci_address;      // "0000:03:00.0" when the API tells it ("" otherwise)
  uint16_t vendor_id = 0, device_id = 0;  // for matching when there is no PCI address
  std::string device_type;      // "discrete", "integrated", "cpu", "virtual", ...
  bool software = false;        // a CPU implementation (lavapipe, SwiftShader)
  std::string driver_name;      // "radv", "NVIDIA", "AMDVLK", "CUDA", "HIP"
  std::string driver_version;
  std::string api_version;      // "1.3.289", "12.4", "6.2"
  std::string arch;             // "gfx1100", "sm_90", ...
  std::vector<memory_heap> heaps;
  std::optional<uint64_t> total_bytes, free_bytes;  // usable device memory as the API reports it
  int subgroup_size = 0;        // 0 = unknown (Vulkan subgroup size / warp size / wavefront size)
  std::optional<bool> fp16, int8_dot, bf16, coopmat;
  std::vector<std::pair<std::string, std::string>> extra;  // anything else worth showing
};

enum class backend_kind { none, cpu, vulkan, rocm, cuda };
const char* backend_name(backend_kind b);  // "none", "CPU", "Vulkan", "ROCm/HIP", "CUDA"

// What Hearth will do with a device, and why.
struct device_verdict {
  backend_kind primary = backend_kind::none;
  std::vector<backend_kind> alternatives;  // also possible (e.g. ROCm/HIP for an RDNA3 card)
  bool used = false;        // Hearth will place layers on it by default
  bool ready = false;       // the software it needs is present (loader/ICD, libcuda, HIP runtime)
  bool idle = false;        // works, but left idle by policy (iGPU beside a dGPU, too few CUs)
  std::string summary;      // "Vulkan (RADV); also ROCm/HIP"
  std::string reason;       // one or two sentences
};

struct gpu_device {
  int index = 0;                 // position in hw_survey::gpus
  std::string pci_address;       // "0000:03:00.0"; "" for a non-PCI (platform) GPU
  uint16_t vendor_id = 0, device_id = 0, subsys_vendor_id = 0, subsys_device_id = 0;
  uint8_t revision = 0;
  uint32_t class_code = 0;       // 0x030000 VGA, 0x030200 3D, 0x038000 display, 0x120000 accelerator
  gpu_vendor vendor = gpu_vendor::unknown;
  std::string vendor_name, device_name, subsystem_name;  // from pci.ids; "" when unknown
  std::string driver;            // bound kernel driver ("amdgpu", "nvidia", ...), "" when none
  std::string drm_card, drm_render;  // "card1", "renderD128"; "" when none
  std::optional<bool> boot_vga;
  std::optional<int> numa_node;
  std::string link_speed, link_width;  // current PCIe link ("16.0 GT/s PCIe", "16")
  gpu_kind kind = gpu_kind::unknown;
  std::string kind_reason;       // which rule decided discrete/integrated
  gpu_memory memory;
  std::vector<pci_bar> bars;
  rebar_info rebar;
  amd_gpu_info amd;
  nvidia_gpu_info nvidia;
  std::vector<api_device_view> views;
  device_verdict verdict;

  std::string display_name() const;  // best name we have: pci.ids device name, NVIDIA model, ids
};

// ---- software --------------------------------------------------------------------------------------

struct library_probe {
  std::string name;          // "libvulkan.so.1"
  bool found = false;
  std::string path;          // where it was found ("" when found by dlopen without a path)
  std::string method;        // "dlopen" or "file"
  std::string error;         // dlerror() text when dlopen failed
};

enum class vulkan_driver { unknown, radv, amdvlk, amdgpu_pro, anv, hasvk, nvidia, nvk, lavapipe, swiftshader, virtio, other };
const char* vulkan_driver_name(vulkan_driver d);

struct icd_manifest {
  std::string path;
  std::string file_name;
  std::string library_path;  // ICD.library_path
  std::string api_version;   // ICD.api_version
  vulkan_driver driver = vulkan_driver::unknown;
  gpu_vendor vendor = gpu_vendor::unknown;  // whose GPUs it drives (unknown for software/other)
  bool software = false;
  bool parsed = false;       // the JSON was readable and had an ICD object
};

enum class distro_family { unknown, debian, fedora, arch };
const char* distro_family_name(distro_family d);

struct software_info {
  library_probe vulkan_loader;
  std::vector<icd_manifest> vulkan_icds;
  // ROCm
  bool rocm_dir = false;            // /opt/rocm (or ROCM_PATH) exists
  std::string rocm_root;
  std::string rocm_version;         // from <rocm>/.info/version, "" when unknown
  library_probe hip_runtime;        // libamdhip64.so
  bool kfd_present = false;         // /dev/kfd exists
  // CUDA / NVIDIA
  library_probe cuda_driver;        // libcuda.so.1
  std::string nvidia_kernel_driver; // first line of /proc/driver/nvidia/version
  std::string nvidia_driver_version;  // "550.90.07" from that line
  // Kernel
  std::string kernel_release;       // /proc/sys/kernel/osrelease
  std::string kernel_cmdline;       // /proc/cmdline
  std::vector<std::string> gpu_modules;  // loaded modules among amdgpu radeon nvidia nouveau i915 xe
  std::optional<uint64_t> ttm_pages_limit;  // /sys/module/ttm/parameters/pages_limit (4 KiB pages)
  std::optional<int64_t> amdgpu_gttsize_mib;  // /sys/module/amdgpu/parameters/gttsize (-1 = auto)
  // Distribution (for the doctor's fixes)
  distro_family distro = distro_family::unknown;
  std::string distro_name;          // PRETTY_NAME
  // What this build of Hearth can run (compile-time facts)
  std::vector<std::string> hip_build_targets;  // HEARTH_HIP_TARGETS of the ROCm module
  bool module_vulkan = false, module_cuda = false, module_hip = false;  // built with it
  bool module_loaded(const std::string& name) const;
};

// ---- user and device nodes -------------------------------------------------------------------------

struct user_info {
  std::string name;
  uint32_t uid = 0;
  std::vector<std::string> groups;             // groups of this process (getgroups): what counts now
  std::vector<std::string> configured_groups;  // groups /etc/group gives the user: what counts after
                                               // the next login (differs right after `usermod -aG`)
  bool in_group(const std::string& g) const;
  bool configured_in_group(const std::string& g) const;
};

struct dev_node {
  std::string path;              // "/dev/dri/renderD128" (as on the machine, not the test root)
  bool exists = false;
  std::string group;             // owning group name, "" when unknown
  uint32_t mode = 0;             // permission bits, 0 when unknown
  std::optional<bool> accessible;  // read+write for this user (access(2) on the real machine)
};

// ---- the survey ----------------------------------------------------------------------------------

struct hw_survey {
  cpu_info cpu;
  memory_info memory;
  std::vector<gpu_device> gpus;
  software_info software;
  user_info user;
  std::vector<dev_node> dev_nodes;
  std::vector<api_device_view> unmatched_views;  // views that belong to no PCI GPU (e.g. lavapipe)
  device_verdict cpu_verdict;
  std::vector<std::string> notes;                // files that could not be read, odd values

  const dev_node* find_node(const std::string& path) const;
  bool any_gpu_used() const;
};

// Fills views for the devices an API sees; called once per survey. Must not throw (a provider that
// cannot load its library returns nothing).
using view_provider = std::function<std::vector<api_device_view>()>;

struct survey_options {
  hw_paths paths;
  // Replaces the process's identity (user name and groups) and decides node access from recorded
  // modes and groups instead of access(2). For recorded trees.
  std::optional<user_info> user;
  std::vector<view_provider> view_providers;
  std::vector<std::string> hip_build_targets;  // defaults to this build's HEARTH_HIP_TARGETS
  // Ask the CPU backend which kernel level it runs here (only meaningful for this machine, not for a
  // recorded tree).
  bool query_cpu_backend = false;
};

// Options for this machine (paths from the HEARTH_* environment, the registered view providers).
survey_options default_survey_options();
// Process-wide view providers: the backend layer's adapter registers one per API at start-up.
void register_view_provider(view_provider p);
std::vector<view_provider> registered_view_providers();
// The provider of the backend modules (Vulkan, CUDA, ROCm devices in the registry); part of the
// default options.
std::vector<api_device_view> backend_device_views();

hw_survey run_survey(const survey_options& opts);

// Verdicts from the facts in the survey (run_survey calls it; call again after editing a survey).
void decide_verdicts(hw_survey& s);

// ---- memory the planner can count on ---------------------------------------------------------------

struct memory_budget {
  bool known = false;
  uint64_t total_bytes = 0;   // capacity of the pool(s)
  uint64_t free_bytes = 0;    // what can still be allocated now, before any safety margin
  std::string source;         // "vulkan heaps", "amdgpu VRAM", "amdgpu VRAM + GTT", "MemAvailable", ...
};
// For a GPU: a backend view's numbers when present, else amdgpu's counters (VRAM for a discrete card;
// VRAM carve-out + GTT for an integrated one, GTT capped by the host's MemAvailable). Unknown for a
// GPU with neither (NVIDIA without the CUDA view).
memory_budget gpu_memory_budget(const gpu_device& gpu, const memory_info& host);
memory_budget host_memory_budget(const memory_info& host);

}  // namespace hearth::hw
