#include "hw/doctor.h"

#include <fcntl.h>
#include <sys/klog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "hw/sysfs_read.h"

namespace hearth::hw {
namespace {
using detail::format_bytes;

bool contains(const std::string& hay, std::string_view needle) { return hay.find(needle) != std::string::npos; }

bool wants(const device_verdict& v, backend_kind b) {
  return v.primary == b || std::find(v.alternatives.begin(), v.alternatives.end(), b) != v.alternatives.end();
}

std::string label(const gpu_device& g) { return fmt::format("GPU {} ({})", g.index, g.display_name()); }

// Adding kernel parameters, per distribution (GRUB on Debian/Ubuntu and Arch, grubby on Fedora).
fix_steps kernel_param_fix(const std::string& params) {
  fix_steps f;
  f.debian = fmt::format(
      "sudo sed -i 's/^GRUB_CMDLINE_LINUX_DEFAULT=\"/&{} /' /etc/default/grub && sudo update-grub, then reboot", params);
  f.fedora = fmt::format("sudo grubby --update-kernel=ALL --args=\"{}\", then reboot", params);
  f.arch = fmt::format(
      "add \"{}\" to GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub, then sudo grub-mkconfig -o /boot/grub/grub.cfg "
      "and reboot (systemd-boot: append it to the options line in /boot/loader/entries/*.conf)",
      params);
  return f;
}

fix_steps driver_fix(const gpu_device& g) {
  fix_steps f;
  switch (g.vendor) {
    case gpu_vendor::amd:
      f.any = "then: sudo modprobe amdgpu, and check `sudo dmesg | grep -i amdgpu` for firmware errors; "
              "make sure no file in /etc/modprobe.d blacklists amdgpu";
      f.debian = "sudo apt install firmware-amd-graphics (Debian, non-free-firmware) or linux-firmware (Ubuntu)";
      f.fedora = "sudo dnf install amd-gpu-firmware";
      f.arch = "sudo pacman -S linux-firmware";
      break;
    case gpu_vendor::nvidia:
      f.debian = "sudo apt install nvidia-driver (Debian, contrib non-free) or sudo ubuntu-drivers install (Ubuntu), then reboot";
      f.fedora = "enable RPM Fusion (nonfree), then sudo dnf install akmod-nvidia and reboot";
      f.arch = "sudo pacman -S nvidia-open (Turing and newer; nvidia for older cards), then reboot";
      break;
    case gpu_vendor::intel:
      f.any = "then: sudo modprobe i915 (or xe for Lunar Lake / Battlemage)";
      f.debian = "sudo apt install firmware-misc-nonfree (Debian) or linux-firmware (Ubuntu)";
      f.fedora = "sudo dnf install intel-gpu-firmware";
      f.arch = "sudo pacman -S linux-firmware";
      break;
    default: break;
  }
  return f;
}

fix_steps icd_fix(const gpu_device& g) {
  fix_steps f;
  if (g.vendor == gpu_vendor::amd) {
    f.debian = "sudo apt install mesa-vulkan-drivers";
    f.fedora = "sudo dnf install mesa-vulkan-drivers";
    f.arch = "sudo pacman -S vulkan-radeon";
  } else if (g.vendor == gpu_vendor::intel) {
    f.debian = "sudo apt install mesa-vulkan-drivers";
    f.fedora = "sudo dnf install mesa-vulkan-drivers";
    f.arch = "sudo pacman -S vulkan-intel";
  } else if (g.vendor == gpu_vendor::nvidia && g.driver == "nouveau") {
    f.debian = "sudo apt install mesa-vulkan-drivers (NVK needs Mesa 24.1 or newer)";
    f.fedora = "sudo dnf install mesa-vulkan-drivers";
    f.arch = "sudo pacman -S vulkan-nouveau";
  } else if (g.vendor == gpu_vendor::nvidia) {
    f.debian = "sudo apt install nvidia-vulkan-icd (Debian) or libnvidia-gl-<driver version> (Ubuntu)";
    f.fedora = "sudo dnf install xorg-x11-drv-nvidia (RPM Fusion)";
    f.arch = "sudo pacman -S nvidia-utils";
  }
  return f;
}

fix_steps loader_fix() {
  fix_steps f;
  f.debian = "sudo apt install libvulkan1";
  f.fedora = "sudo dnf install vulkan-loader";
  f.arch = "sudo pacman -S vulkan-icd-loader";
  return f;
}

fix_steps rocm_fix() {
  fix_steps f;
  f.debian = "sudo apt install libamdhip64-dev rocminfo (Debian 12+, Ubuntu 24.04+; or AMD's amdgpu-install from repo.radeon.com)";
  f.fedora = "sudo dnf install rocm-hip rocminfo";
  f.arch = "sudo pacman -S rocm-hip-runtime rocminfo";
  return f;
}

fix_steps group_fix(const hw_survey& s, const std::string& group) {
  fix_steps f;
  std::string g = group.empty() ? "render" : group;
  if (s.user.configured_in_group(g) && !s.user.in_group(g))
    f.any = fmt::format("you are in '{}' in /etc/group but this session started before that: log out and back in "
                        "(or run `newgrp {}` in this shell)", g, g);
  else
    f.any = fmt::format("sudo usermod -aG render,video {}, then log out and back in",
                        s.user.name.empty() ? "$USER" : s.user.name);
  return f;
}

const icd_manifest* hardware_icd(const hw_survey& s, const gpu_device& g) {
  const icd_manifest* best = nullptr;
  for (auto& m : s.software.vulkan_icds) {
    if (m.software || m.vendor != g.vendor) continue;
    if (g.vendor == gpu_vendor::nvidia && ((m.driver == vulkan_driver::nvk) != (g.driver == "nouveau"))) continue;
    if (!best || m.driver == vulkan_driver::radv) best = &m;
  }
  return best;
}

bool is_kmsg_record(const std::string& line, size_t* text_start) {
  // "6,1234,5678901,-;message": three comma-separated numbers, flags, then ';'.
  size_t semi = line.find(';');
  if (semi == std::string::npos || semi > 40) return false;
  int commas = 0;
  for (size_t i = 0; i < semi; ++i) {
    char c = line[i];
    if (c == ',') ++commas;
    else if (!std::isdigit((unsigned char)c) && !(commas == 3)) return false;
  }
  if (commas < 3) return false;
  *text_start = semi + 1;
  return true;
}

}  // namespace

const char* check_status_name(check_status s) {
  switch (s) {
    case check_status::pass: return "PASS";
    case check_status::info: return "INFO";
    case check_status::warn: return "WARN";
    case check_status::fail: return "FAIL";
    default: return "SKIP";
  }
}

kernel_log scan_kernel_log(std::string_view text, std::string source) {
  kernel_log k;
  k.readable = true;
  k.source = std::move(source);
  for (auto& raw : detail::split_lines(text)) {
    if (raw.empty() || raw[0] == ' ') continue;  // kmsg continuation ("SUBSYSTEM=...")
    size_t start = 0;
    std::string line = is_kmsg_record(raw, &start) ? raw.substr(start) : raw;
    ++k.n_lines;
    std::string low = detail::to_lower(line);
    bool amd = contains(low, "amdgpu") &&
               (contains(low, "error") || contains(low, "fail") || contains(low, "fault") || contains(low, "timeout") ||
                contains(low, "timed out") || contains(low, "hang") || contains(low, "gpu reset"));
    bool nv = contains(low, "nvrm: xid");
    if (!amd && !nv) continue;
    ++k.n_gpu_errors;
    k.gpu_errors.push_back(detail::trim(line));
    if (k.gpu_errors.size() > 8) k.gpu_errors.erase(k.gpu_errors.begin());
  }
  return k;
}

kernel_log read_kernel_log(const hw_paths& paths) {
  std::string path = paths.dev + "/kmsg";
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd >= 0) {
    struct stat st{};
    std::string text;
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
      ::close(fd);
      auto t = detail::read_file(path, 32u << 20);
      if (t) return scan_kernel_log(*t, path);
    } else {
      // /dev/kmsg hands out one record per read() and EAGAIN at the end of the buffer.
      std::vector<char> buf(16384);
      for (int n_records = 0; n_records < 500000 && text.size() < (64u << 20); ++n_records) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n > 0) {
          text.append(buf.data(), (size_t)n);
          if (text.back() != '\n') text.push_back('\n');
          continue;
        }
        if (n < 0 && (errno == EINTR || errno == EPIPE)) continue;  // EPIPE: a record was overwritten
        break;
      }
      ::close(fd);
      return scan_kernel_log(text, path);
    }
  }
  kernel_log k;
  k.error = fmt::format("{}: {}", path, std::strerror(errno));
  if (paths.dev == "/dev") {
    int size = ::klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, nullptr, 0);
    if (size > 0) {
      std::string text((size_t)size, '\0');
      int n = ::klogctl(3 /* SYSLOG_ACTION_READ_ALL */, text.data(), size);
      if (n >= 0) {
        text.resize((size_t)n);
        return scan_kernel_log(text, "syslog(2)");
      }
    }
    k.error += fmt::format("; syslog(2): {}", std::strerror(errno));
  }
  return k;
}

std::vector<finding> run_doctor(const hw_survey& s, const kernel_log& log, const doctor_options& opts) {
  std::vector<finding> out;
  auto add = [&](std::string id, check_status st, std::string device, std::string title, std::string detail = "",
                 fix_steps fix = {}) {
    out.push_back(finding{std::move(id), st, std::move(device), std::move(title), std::move(detail), std::move(fix)});
  };
  const software_info& sw = s.software;

  // ---- machine ----
  {
    std::string level = s.cpu.kernel_level();
    bool weak = s.cpu.arch == "x86_64" && level == "generic";
    add("cpu.isa", weak ? check_status::warn : check_status::pass, "",
        fmt::format("CPU kernels: {} ({}, {} threads)", level, s.cpu.model_name, s.cpu.n_threads),
        weak ? "Without AVX2 and FMA, Hearth's CPU kernels fall back to slow paths; expect low tokens/s on the CPU." : "");
  }
  if (!s.memory.known) {
    add("memory.ram", check_status::skip, "", "RAM unknown: /proc/meminfo not readable");
  } else {
    bool low = s.memory.available_bytes < (4ull << 30);
    add("memory.ram", low ? check_status::warn : check_status::pass, "",
        fmt::format("RAM {} total, {} available", format_bytes(s.memory.total_bytes), format_bytes(s.memory.available_bytes)),
        low ? "Under 4 GiB free: only small models (1-3B at 4 bits) will load; close other programs first." : "");
  }

  std::vector<const gpu_device*> gpus;
  for (auto& g : s.gpus)
    if (g.kind != gpu_kind::display_only) gpus.push_back(&g);
  if (gpus.empty()) {
    add("gpu.found", check_status::warn, "", "No GPU found: Hearth will run models on the CPU",
        "No display or 3D controller of a GPU vendor is on the PCI bus (what `lspci -nn | grep -Ei 'vga|3d|display'` "
        "would show). If this machine has a GPU, check that it is seated and powered, enabled in the firmware setup, "
        "or passed through to this virtual machine.");
  } else {
    std::string names;
    for (auto* g : gpus) names += (names.empty() ? "" : ", ") + label(*g);
    add("gpu.found", check_status::pass, "", fmt::format("{} GPU{} found: {}", gpus.size(), gpus.size() == 1 ? "" : "s", names));
  }

  // ---- per GPU: driver ----
  bool any_amd = false;
  for (auto* gp : gpus) {
    const gpu_device& g = *gp;
    any_amd |= g.vendor == gpu_vendor::amd;
    const std::string& dev = g.pci_address;
    if (g.driver.empty()) {
      add("gpu.driver", check_status::fail, dev, fmt::format("{}: no kernel driver bound", label(g)),
          "The GPU is on the bus but no driver claimed it (lspci -k shows no 'Kernel driver in use'), so no API can "
          "reach it. Usually the driver module is not loaded, is blacklisted, or its firmware is missing.",
          driver_fix(g));
    } else if (g.driver == "vfio-pci" || g.driver == "pci-stub") {
      add("gpu.driver", check_status::warn, dev, fmt::format("{}: reserved for a virtual machine ({})", label(g), g.driver),
          "The GPU is bound to a passthrough stub, so this system cannot use it. If that is not intended, remove its "
          "ids from the vfio-pci.ids= kernel parameter or /etc/modprobe.d and reboot.");
    } else if (g.driver == "radeon") {
      fix_steps f = kernel_param_fix("radeon.si_support=0 amdgpu.si_support=1 radeon.cik_support=0 amdgpu.cik_support=1");
      add("gpu.driver", check_status::warn, dev, fmt::format("{}: bound to the old radeon driver", label(g)),
          "Vulkan (RADV) and ROCm need the amdgpu driver; GCN 1/2 cards (Southern/Sea Islands) default to radeon.", f);
    } else if (g.vendor == gpu_vendor::nvidia && g.driver == "nouveau") {
      fix_steps f = driver_fix(g);
      add("gpu.driver", check_status::warn, dev, fmt::format("{}: nouveau driver (no CUDA)", label(g)),
          "CUDA needs NVIDIA's driver; with nouveau only Vulkan through Mesa's NVK is possible, and it is slower.", f);
    } else {
      add("gpu.driver", check_status::pass, dev, fmt::format("{}: driver {} bound", label(g), g.driver));
    }
  }
  if (any_amd) {
    if (sw.module_loaded("amdgpu"))
      add("amdgpu.module", check_status::pass, "", "amdgpu kernel module loaded");
    else {
      fix_steps f;
      f.any = "sudo modprobe amdgpu (and remove any 'blacklist amdgpu' from /etc/modprobe.d); to load it at boot: "
              "echo amdgpu | sudo tee /etc/modules-load.d/amdgpu.conf";
      f.debian = "if modprobe says 'not found': sudo apt install linux-image-amd64 (Debian) or linux-modules-extra-$(uname -r) (Ubuntu)";
      f.fedora = "if modprobe says 'not found': sudo dnf install kernel-modules";
      f.arch = "if modprobe says 'not found': sudo pacman -S linux (the module ships with the kernel package)";
      add("amdgpu.module", check_status::fail, "", "amdgpu kernel module not loaded (/sys/module/amdgpu missing)",
          "An AMD GPU is present but the amdgpu module is not loaded: no Vulkan, no ROCm.", f);
    }
  }

  // ---- Vulkan ----
  bool vulkan_wanted = gpus.empty();
  bool vulkan_primary = false;
  for (auto* g : gpus)
    if (!g->driver.empty() && wants(g->verdict, backend_kind::vulkan)) {
      vulkan_wanted = true;
      vulkan_primary |= g->verdict.primary == backend_kind::vulkan;
    }
  if (vulkan_wanted) {
    if (sw.vulkan_loader.found)
      add("vulkan.loader", check_status::pass, "",
          fmt::format("Vulkan loader found ({})", sw.vulkan_loader.path.empty() ? sw.vulkan_loader.name : sw.vulkan_loader.path));
    else
      add("vulkan.loader", vulkan_primary ? check_status::fail : (gpus.empty() ? check_status::info : check_status::warn), "",
          "No Vulkan loader (libvulkan.so.1)",
          sw.vulkan_loader.error.empty() ? "Without the loader no Vulkan driver can be used." : sw.vulkan_loader.error,
          loader_fix());
  }
  for (auto* gp : gpus) {
    const gpu_device& g = *gp;
    if (g.driver.empty() || g.verdict.idle || !wants(g.verdict, backend_kind::vulkan)) continue;
    bool primary = g.verdict.primary == backend_kind::vulkan;
    if (const icd_manifest* icd = hardware_icd(s, g))
      add("vulkan.icd", check_status::pass, g.pci_address,
          fmt::format("{}: Vulkan driver {} ({})", label(g), vulkan_driver_name(icd->driver), icd->file_name));
    else
      add("vulkan.icd", primary ? check_status::fail : check_status::warn,
          g.pci_address, fmt::format("{}: no Vulkan driver (ICD) for it", label(g)),
          "No ICD manifest in /usr/share/vulkan/icd.d or /etc/vulkan/icd.d names a driver for this GPU "
          "(vulkaninfo would list no device for it).",
          icd_fix(g));
  }
  {
    // Software Vulkan: lavapipe (Mesa) or SwiftShader run Vulkan on the CPU.
    std::vector<const icd_manifest*> soft;
    for (auto& m : sw.vulkan_icds)
      if (m.software) soft.push_back(&m);
    bool hw_vulkan = std::any_of(gpus.begin(), gpus.end(), [&](const gpu_device* g) {
      return !g->driver.empty() && hardware_icd(s, *g) != nullptr;
    });
    bool any_view = false, hw_view = false;
    auto scan_views = [&](const std::vector<api_device_view>& views) {
      for (auto& v : views)
        if (v.api == "vulkan") {
          any_view = true;
          hw_view |= !v.software;
        }
    };
    scan_views(s.unmatched_views);
    for (auto& g : s.gpus) scan_views(g.views);
    if (any_view) hw_vulkan = hw_view;
    if (!hw_vulkan && (!soft.empty() || (any_view && !hw_view))) {
      std::string which = soft.empty() ? "a software device" : soft[0]->file_name;
      fix_steps f;
      if (gpus.empty()) f.any = "nothing to install on a machine without a GPU: Hearth's CPU backend is the right one";
      else f = icd_fix(*gpus[0]);
      add("vulkan.software_only", check_status::warn, "",
          fmt::format("Only a software Vulkan device is available ({}: {})", soft.empty() ? "software" : vulkan_driver_name(soft[0]->driver), which),
          "lavapipe runs Vulkan on the CPU: it is slower than Hearth's own CPU kernels, so Hearth ignores it and "
          "runs on the CPU backend.",
          f);
    } else if (hw_vulkan) {
      add("vulkan.software_only", check_status::pass, "", "A hardware Vulkan driver is present");
    }
  }
  for (auto* gp : gpus) {
    if (gp->vendor != gpu_vendor::amd) continue;
    const icd_manifest* amdvlk = nullptr;
    bool radv = false;
    for (auto& m : sw.vulkan_icds) {
      if (m.driver == vulkan_driver::amdvlk || m.driver == vulkan_driver::amdgpu_pro) amdvlk = &m;
      radv |= m.driver == vulkan_driver::radv;
    }
    if (amdvlk) {
      fix_steps f;
      f.any = "or keep it and start Hearth with AMD_VULKAN_ICD=RADV (AMDVLK's switch layer then hides itself)";
      f.debian = "sudo apt remove amdvlk";
      f.fedora = "sudo dnf remove amdvlk";
      f.arch = "sudo pacman -Rns amdvlk";
      add("vulkan.amdvlk", check_status::warn, "",
          fmt::format("AMDVLK is installed ({}){}", amdvlk->file_name, radv ? " beside RADV" : " and RADV is not"),
          "With AMDVLK installed its switchable-graphics layer makes it the default AMD Vulkan driver. RADV (Mesa) is "
          "the driver Hearth is tuned and tested on, it is faster for these kernels, and AMD discontinued AMDVLK in 2025.",
          radv ? f : fix_steps{f.any, f.debian + " && sudo apt install mesa-vulkan-drivers", f.fedora + " && sudo dnf install mesa-vulkan-drivers",
                               f.arch + " && sudo pacman -S vulkan-radeon"});
    }
    break;  // one finding for the machine
  }

  // ---- device access ----
  for (auto* gp : gpus) {
    const gpu_device& g = *gp;
    if (g.drm_render.empty()) continue;
    std::string path = "/dev/dri/" + g.drm_render;
    const dev_node* n = s.find_node(path);
    if (!n || !n->exists) {
      add("access.render", check_status::fail, g.pci_address, fmt::format("{}: {} is missing", label(g), path),
          "The kernel lists a render node but /dev has none: udev did not run or /dev is a container's minimal one. "
          "In a container, pass the device in (docker: --device /dev/dri).");
    } else if (n->accessible.value_or(true)) {
      add("access.render", check_status::pass, g.pci_address, fmt::format("{}: {} is accessible", label(g), path));
    } else {
      add("access.render", check_status::fail, g.pci_address,
          fmt::format("{}: no read/write access to {} (group {}, mode {:04o})", label(g), path, n->group, n->mode),
          fmt::format("User {} is {}in group '{}'. Vulkan and ROCm open the render node; without it they see no GPU.",
                      s.user.name, s.user.in_group(n->group) ? "" : "not ", n->group),
          group_fix(s, n->group));
    }
  }
  {
    bool rocm_relevant = false, rocm_primary = false;
    for (auto* g : gpus)
      if (g->vendor == gpu_vendor::amd && !g->driver.empty() && !g->verdict.idle && wants(g->verdict, backend_kind::rocm)) {
        rocm_relevant = true;
        rocm_primary |= g->verdict.primary == backend_kind::rocm;
      }
    if (rocm_relevant) {
      const dev_node* kfd = s.find_node("/dev/kfd");
      check_status bad = rocm_primary ? check_status::fail : check_status::warn;
      if (!kfd || !kfd->exists) {
        add("access.kfd", bad, "", "/dev/kfd is missing: ROCm cannot run",
            "amdgpu creates /dev/kfd when the kernel is built with CONFIG_HSA_AMD (all distribution kernels are). "
            "A container needs it passed in (docker: --device /dev/kfd).");
      } else if (kfd->accessible.value_or(true)) {
        add("access.kfd", check_status::pass, "", "/dev/kfd is accessible");
      } else {
        add("access.kfd", bad, "", fmt::format("no read/write access to /dev/kfd (group {}, mode {:04o})", kfd->group, kfd->mode),
            fmt::format("User {} is {}in group '{}'. ROCm needs /dev/kfd.", s.user.name,
                        s.user.in_group(kfd->group) ? "" : "not ", kfd->group),
            group_fix(s, kfd->group));
      }
    }
  }
  for (auto* gp : gpus) {
    const gpu_device& g = *gp;
    if (g.vendor != gpu_vendor::nvidia || g.driver != "nvidia") continue;
    std::vector<std::string> missing, denied;
    for (auto& p : {std::string("/dev/nvidiactl"), g.nvidia.device_minor.empty() ? std::string() : "/dev/nvidia" + g.nvidia.device_minor,
                    std::string("/dev/nvidia-uvm")}) {
      if (p.empty()) continue;
      const dev_node* n = s.find_node(p);
      if (!n || !n->exists) missing.push_back(p);
      else if (!n->accessible.value_or(true)) denied.push_back(p);
    }
    if (!missing.empty()) {
      fix_steps f;
      f.any = "sudo modprobe nvidia-uvm && sudo nvidia-modprobe -u -c=0 (nvidia-modprobe creates the nodes)";
      add("access.nvidia", check_status::warn, g.pci_address, fmt::format("{}: missing {}", label(g), fmt::join(missing, ", ")),
          "CUDA opens these nodes; /dev/nvidia-uvm appears only once nvidia_uvm is loaded.", f);
    } else if (!denied.empty()) {
      add("access.nvidia", check_status::fail, g.pci_address, fmt::format("{}: no access to {}", label(g), fmt::join(denied, ", ")),
          "CUDA needs read/write access to the NVIDIA device nodes.", group_fix(s, "video"));
    } else {
      add("access.nvidia", check_status::pass, g.pci_address, fmt::format("{}: NVIDIA device nodes accessible", label(g)));
    }
  }

  // ---- CUDA ----
  for (auto* gp : gpus) {
    const gpu_device& g = *gp;
    if (g.vendor != gpu_vendor::nvidia || g.driver != "nvidia") continue;
    if (sw.cuda_driver.found) {
      add("cuda.driver", check_status::pass, g.pci_address,
          fmt::format("{}: CUDA driver library found ({}){}", label(g), sw.cuda_driver.path.empty() ? sw.cuda_driver.name : sw.cuda_driver.path,
                      sw.nvidia_driver_version.empty() ? "" : "; NVIDIA driver " + sw.nvidia_driver_version));
    } else {
      fix_steps f;
      f.debian = "sudo apt install libcuda1 (Debian, from nvidia-driver) or libnvidia-compute-<driver version> (Ubuntu)";
      f.fedora = "sudo dnf install xorg-x11-drv-nvidia-cuda-libs (RPM Fusion)";
      f.arch = "sudo pacman -S nvidia-utils";
      add("cuda.driver", g.verdict.primary == backend_kind::cuda ? check_status::fail : check_status::warn, g.pci_address,
          fmt::format("{}: CUDA driver library libcuda.so.1 not found", label(g)),
          sw.cuda_driver.error.empty() ? "The kernel driver is loaded but its user-space CUDA library is missing."
                                       : sw.cuda_driver.error,
          f);
    }
  }

  // ---- ROCm ----
  for (auto* gp : gpus) {
    const gpu_device& g = *gp;
    if (g.vendor != gpu_vendor::amd || g.driver.empty() || g.verdict.idle) continue;
    const gfx_target_info* t = g.amd.target;
    bool rocm_primary = g.verdict.primary == backend_kind::rocm;
    bool rocm_present = sw.hip_runtime.found;
    if (!wants(g.verdict, backend_kind::rocm) && !(t && t->rocm == rocm_support::none)) continue;
    // Runtime presence.
    if (rocm_present) {
      add("rocm.runtime", check_status::pass, g.pci_address,
          fmt::format("{}: ROCm HIP runtime found ({}{})", label(g), sw.hip_runtime.path,
                      sw.rocm_version.empty() ? "" : ", ROCm " + sw.rocm_version));
    } else if (wants(g.verdict, backend_kind::rocm)) {
      add("rocm.runtime", rocm_primary ? check_status::fail : check_status::info, g.pci_address,
          fmt::format("{}: ROCm is not installed{}", label(g), rocm_primary ? "" : " (optional: Vulkan serves this GPU)"),
          rocm_primary ? fmt::format("{} has no Vulkan driver; ROCm/HIP is the only way to use it.", g.amd.gfx_target)
                       : "Install ROCm only to try the ROCm/HIP backend; Hearth uses Vulkan (RADV) by default.",
          rocm_fix());
    }
    // Target support.
    if (!t) {
      add("rocm.target", check_status::skip, g.pci_address, fmt::format("{}: gfx target unknown, ROCm support not checked", label(g)));
      continue;
    }
    std::string target = g.amd.gfx_target;
    if (t->rocm == rocm_support::official || t->rocm == rocm_support::builds) {
      add("rocm.target", check_status::pass, g.pci_address,
          fmt::format("{}: {} is supported by ROCm ({})", label(g), target, rocm_support_name(t->rocm)));
      if (sw.module_hip && !sw.hip_build_targets.empty() &&
          std::find(sw.hip_build_targets.begin(), sw.hip_build_targets.end(), target) == sw.hip_build_targets.end()) {
        fix_steps f;
        f.any = fmt::format("rebuild with -DHEARTH_HIP_TARGETS=\"{};{}\"", fmt::join(sw.hip_build_targets, ";"), target);
        add("rocm.build", check_status::warn, g.pci_address,
            fmt::format("{}: Hearth's ROCm module has no {} code (built for {})", label(g), target, fmt::join(sw.hip_build_targets, " ")),
            "", f);
      }
    } else if (t->rocm == rocm_support::deprecated) {
      add("rocm.target", check_status::warn, g.pci_address,
          fmt::format("{}: {} is deprecated in ROCm (maintenance only)", label(g), target),
          "It still runs with the ROCm releases that ship it; newer releases may drop it. Vulkan keeps working.");
    } else if (t->hsa_override) {
      bool set_ok = opts.hsa_override && *opts.hsa_override == t->hsa_override;
      fix_steps f;
      f.any = fmt::format("export HSA_OVERRIDE_GFX_VERSION={} before starting Hearth with the ROCm backend "
                          "(or keep the default Vulkan backend, which needs nothing)", t->hsa_override);
      if (set_ok)
        add("rocm.target", check_status::pass, g.pci_address,
            fmt::format("{}: {} runs ROCm through HSA_OVERRIDE_GFX_VERSION={} (set)", label(g), target, t->hsa_override));
      else
        add("rocm.target", rocm_primary ? check_status::warn : check_status::info, g.pci_address,
            fmt::format("{}: ROCm has no {} code; it runs as {} with HSA_OVERRIDE_GFX_VERSION={}", label(g), target,
                        std::string("gfx") + [&] {
                          std::string v = t->hsa_override, o;
                          for (char c : v) if (c != '.') o += c;
                          return o;
                        }(),
                        t->hsa_override),
            fmt::format("The override makes ROCm load the code of a sibling target with the same instruction set "
                        "(tested by ROCm and Ollama users for {}).{}", target,
                        opts.hsa_override ? fmt::format(" HSA_OVERRIDE_GFX_VERSION is set to {}, which is not the tested value.", *opts.hsa_override) : ""),
            f);
    } else {
      add("rocm.target", rocm_primary ? check_status::fail : check_status::info, g.pci_address,
          fmt::format("{}: ROCm does not support {} and no override is known to work", label(g), target),
          "Use the Vulkan backend (Hearth's default for this GPU).");
    }
  }

  // ---- PCIe BAR ----
  for (auto* gp : gpus) {
    const gpu_device& g = *gp;
    if (g.kind != gpu_kind::discrete || g.driver.empty()) continue;
    const rebar_info& r = g.rebar;
    if (r.state == rebar_state::on) {
      add("pci.rebar", check_status::pass, g.pci_address, fmt::format("{}: resizable BAR on ({})", label(g), r.reason));
    } else if (r.state == rebar_state::off) {
      fix_steps f;
      f.any = "in the firmware (BIOS/UEFI) setup enable 'Above 4G Decoding' and 'Re-Size BAR Support' "
              "(AMD boards: 'Smart Access Memory'); the firmware must boot in UEFI mode with CSM off";
      std::string cap = r.capability_read
                            ? (r.capable ? fmt::format(" The card supports a BAR up to {}.", format_bytes(r.capability_max_bytes))
                                         : " The card reports no resizable-BAR capability, so only a firmware update could help.")
                            : "";
      add("pci.rebar", check_status::warn, g.pci_address, fmt::format("{}: resizable BAR off ({})", label(g), r.reason),
          "The CPU reaches VRAM through a 256 MiB window: loading weights is slower and the Vulkan backend has "
          "little host-visible device memory for staging." + cap,
          f);
    } else {
      add("pci.rebar", check_status::skip, g.pci_address, fmt::format("{}: resizable BAR state unknown ({})", label(g), r.reason));
    }
  }

  // ---- integrated AMD: carve-out vs GTT ----
  for (auto* gp : gpus) {
    const gpu_device& g = *gp;
    if (g.kind != gpu_kind::integrated || g.vendor != gpu_vendor::amd || g.driver.empty()) continue;
    if (g.verdict.idle) continue;
    auto& m = g.memory;
    if (!m.vram_total || !m.gtt_total) {
      add("igpu.memory", check_status::skip, g.pci_address, fmt::format("{}: VRAM/GTT sizes not readable", label(g)));
      continue;
    }
    uint64_t ram = s.memory.known ? s.memory.total_bytes : 0;
    // 3/4 of RAM for the GPU leaves the OS and the CPU side of Hearth room; expressed in 4 KiB pages.
    uint64_t target_pages = ram ? ram * 3 / 4 / 4096 : 0;
    std::string params = target_pages ? fmt::format("ttm.pages_limit={} ttm.page_pool_size={}", target_pages, target_pages)
                                      : "ttm.pages_limit=<pages of 4 KiB>";
    fix_steps f = kernel_param_fix(params);
    f.any = ram ? fmt::format("this raises GTT to {} (3/4 of RAM); if GTT does not grow after the reboot (older "
                              "kernels size it from amdgpu.gttsize), add amdgpu.gttsize={} as well",
                              format_bytes(target_pages * 4096), target_pages * 4096 >> 20)
                : "raise GTT to 3/4 of RAM; older kernels size it from amdgpu.gttsize=<MiB> instead";
    bool small_carve = *m.vram_total <= (2ull << 30);
    bool big_gtt = ram ? *m.gtt_total >= ram * 2 / 5 : *m.gtt_total >= (8ull << 30);
    std::string why = fmt::format(
        "The VRAM carve-out ({}) is RAM the firmware reserves for the GPU; GTT ({}) is ordinary RAM the GPU maps on "
        "demand. On an APU both are the same DRAM at the same speed, and RADV offers both to Hearth, so model weights go "
        "to GTT and the small carve-out does not limit model size. GTT's size is set by the kernel (by default half of RAM, "
        "ttm.pages_limit).",
        format_bytes(*m.vram_total), format_bytes(*m.gtt_total));
    if (big_gtt)
      add("igpu.memory", check_status::info, g.pci_address,
          fmt::format("{}: {}VRAM carve-out {}, GTT {}: models can use the GTT", label(g), small_carve ? "small " : "",
                      format_bytes(*m.vram_total), format_bytes(*m.gtt_total)),
          why + " To give the GPU more, raise the limit:", f);
    else
      add("igpu.memory", check_status::warn, g.pci_address,
          fmt::format("{}: GTT is only {} of {} RAM", label(g), format_bytes(*m.gtt_total), ram ? format_bytes(ram) : "?"),
          why + " Here GTT is small, which caps the model size the GPU can hold.", f);
  }

  // ---- kernel log ----
  if (!log.readable) {
    fix_steps f;
    f.any = "run `sudo dmesg | grep -iE 'amdgpu|nvrm'` yourself, or `sudo hearth doctor`";
    add("kernel.log", check_status::skip, "", "Kernel log not readable here (dmesg_restrict or no /dev/kmsg)", log.error, f);
  } else if (log.n_gpu_errors == 0) {
    add("kernel.log", check_status::pass, "", fmt::format("No GPU driver errors in the kernel log ({} lines from {})", log.n_lines, log.source));
  } else {
    std::string lines;
    for (auto& l : log.gpu_errors) lines += "\n  " + l;
    fix_steps f;
    f.any = "firmware load failures: update the firmware package and reboot; ring timeouts / GPU resets: update the "
            "kernel and Mesa; page faults while Hearth runs: report them with `hearth hw --json` attached";
    add("kernel.log", check_status::warn, "", fmt::format("{} GPU driver error line{} in the kernel log", log.n_gpu_errors, log.n_gpu_errors == 1 ? "" : "s"),
        "Most recent:" + lines, f);
  }

  // ---- this build of Hearth ----
  for (auto* gp : gpus) {
    const gpu_device& g = *gp;
    if (!g.verdict.used) continue;
    bool built = g.verdict.primary == backend_kind::vulkan ? sw.module_vulkan
               : g.verdict.primary == backend_kind::cuda   ? sw.module_cuda
               : g.verdict.primary == backend_kind::rocm   ? sw.module_hip
                                                           : true;
    if (built) continue;
    const char* opt = g.verdict.primary == backend_kind::vulkan ? "HEARTH_VULKAN"
                    : g.verdict.primary == backend_kind::cuda   ? "HEARTH_CUDA"
                                                                : "HEARTH_HIP";
    fix_steps f;
    f.any = fmt::format("rebuild Hearth with -D{}=ON (or install a build that ships the module)", opt);
    add("hearth.build", check_status::warn, g.pci_address,
        fmt::format("{}: this Hearth was built without the {} backend", label(g), backend_name(g.verdict.primary)), "", f);
  }
  return out;
}

int doctor_exit_code(const std::vector<finding>& findings) {
  return std::any_of(findings.begin(), findings.end(), [](const finding& f) { return f.status == check_status::fail; }) ? 1 : 0;
}

std::string format_doctor(const std::vector<finding>& findings, const hw_survey& s) {
  std::string o = fmt::format("hearth doctor: {}, kernel {}\n\n", s.software.distro_name.empty() ? "unknown distribution" : s.software.distro_name,
                              s.software.kernel_release.empty() ? "unknown" : s.software.kernel_release);
  distro_family d = s.software.distro;
  size_t counts[5] = {};
  for (auto& f : findings) {
    ++counts[(int)f.status];
    o += fmt::format("{}  {:<22} {}\n", check_status_name(f.status), f.id, f.title);
    if (f.status == check_status::pass) continue;
    if (!f.detail.empty()) {
      std::string d = f.detail;
      for (size_t p = d.find('\n'); p != std::string::npos; p = d.find('\n', p + 7)) d.replace(p, 1, "\n      ");
      o += fmt::format("      {}\n", d);
    }
    auto fix_line = [&](const char* who, distro_family fam, const std::string& text) {
      if (text.empty()) return;
      o += fmt::format("      fix ({}{}): {}\n", who, fam != distro_family::unknown && fam == d ? ", this system" : "", text);
    };
    fix_line("Debian/Ubuntu", distro_family::debian, f.fix.debian);
    fix_line("Fedora", distro_family::fedora, f.fix.fedora);
    fix_line("Arch", distro_family::arch, f.fix.arch);
    if (!f.fix.any.empty()) o += fmt::format("      fix: {}\n", f.fix.any);
  }
  int code = doctor_exit_code(findings);
  o += fmt::format("\n{} pass, {} info, {} warn, {} fail, {} skipped; exit code {}\n", counts[0], counts[1], counts[2], counts[3],
                   counts[4], code);
  return o;
}

nlohmann::json doctor_to_json(const std::vector<finding>& findings, const hw_survey& s) {
  nlohmann::json arr = nlohmann::json::array();
  for (auto& f : findings)
    arr.push_back({{"id", f.id},
                   {"status", check_status_name(f.status)},
                   {"device", f.device},
                   {"title", f.title},
                   {"detail", f.detail},
                   {"fix", {{"any", f.fix.any}, {"debian", f.fix.debian}, {"fedora", f.fix.fedora}, {"arch", f.fix.arch}}}});
  return {{"distro", {{"family", distro_family_name(s.software.distro)}, {"name", s.software.distro_name}}},
          {"findings", arr},
          {"exit_code", doctor_exit_code(findings)}};
}

}  // namespace hearth::hw
