// The GPU software stacks (Vulkan loader and ICD manifests, ROCm, CUDA driver), the kernel's GPU
// modules and parameters, the distribution, and who may open the GPU device nodes.
#include <dlfcn.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "hw/parsers.h"
#include "hw/survey_internal.h"
#include "hw/sysfs_read.h"

namespace hearth::hw {
namespace {

// Looks for a file whose name starts with `stem` ("libamdhip64.so") in the folders, in order.
library_probe find_library_file(const std::string& stem, const std::vector<std::string>& dirs) {
  library_probe p;
  p.name = stem;
  p.method = "file";
  for (auto& d : dirs)
    for (auto& f : detail::list_dir(d))
      if (f == stem || detail::starts_with(f, stem + ".")) {
        p.found = true;
        p.path = d + "/" + f;
        return p;
      }
  return p;
}

// dlopen proves the library and its dependencies load here; dladdr on one of its symbols says where
// it came from. The handle is closed again: the backends load what they use themselves.
library_probe dlopen_library(const std::string& soname, const char* symbol) {
  library_probe p;
  p.name = soname;
  p.method = "dlopen";
  void* h = dlopen(soname.c_str(), RTLD_LAZY | RTLD_LOCAL);
  if (!h) {
    const char* e = dlerror();
    p.error = e ? e : "not found";
    return p;
  }
  p.found = true;
  if (void* sym = dlsym(h, symbol)) {
    Dl_info info{};
    if (dladdr(sym, &info) && info.dli_fname) p.path = info.dli_fname;
  }
  dlclose(h);
  return p;
}

library_probe probe_library(const hw_paths& paths, const std::string& soname, const char* symbol) {
  if (paths.use_dlopen) return dlopen_library(soname, symbol);
  auto p = find_library_file(soname, paths.lib_dirs);
  p.name = soname;
  return p;
}

struct driver_rule { const char* needle; vulkan_driver driver; gpu_vendor vendor; bool software; };
// Matched against the manifest's file name, then its library path (lower case).
constexpr driver_rule k_icd_rules[] = {
    {"radeon_icd", vulkan_driver::radv, gpu_vendor::amd, false},
    {"libvulkan_radeon", vulkan_driver::radv, gpu_vendor::amd, false},
    {"amd_pro_icd", vulkan_driver::amdgpu_pro, gpu_vendor::amd, false},
    {"amdvlk", vulkan_driver::amdvlk, gpu_vendor::amd, false},
    {"amd_icd", vulkan_driver::amdvlk, gpu_vendor::amd, false},
    {"intel_hasvk", vulkan_driver::hasvk, gpu_vendor::intel, false},
    {"libvulkan_intel_hasvk", vulkan_driver::hasvk, gpu_vendor::intel, false},
    {"intel_icd", vulkan_driver::anv, gpu_vendor::intel, false},
    {"libvulkan_intel", vulkan_driver::anv, gpu_vendor::intel, false},
    {"nvidia_icd", vulkan_driver::nvidia, gpu_vendor::nvidia, false},
    {"libglx_nvidia", vulkan_driver::nvidia, gpu_vendor::nvidia, false},
    {"nouveau_icd", vulkan_driver::nvk, gpu_vendor::nvidia, false},
    {"libvulkan_nouveau", vulkan_driver::nvk, gpu_vendor::nvidia, false},
    {"lvp_icd", vulkan_driver::lavapipe, gpu_vendor::unknown, true},
    {"libvulkan_lvp", vulkan_driver::lavapipe, gpu_vendor::unknown, true},
    {"swiftshader", vulkan_driver::swiftshader, gpu_vendor::unknown, true},
    {"virtio_icd", vulkan_driver::virtio, gpu_vendor::other, false},
    {"libvulkan_virtio", vulkan_driver::virtio, gpu_vendor::other, false},
};

std::vector<std::string> gpu_module_names() { return {"amdgpu", "radeon", "nvidia", "nouveau", "i915", "xe"}; }

// /dev nodes' recorded ownership for a relocated /dev: "<path under dev> <owner> <group> <octal mode>"
// per line in <dev root>/.nodes (the real /dev is stat'ed instead).
struct node_meta { std::string group; uint32_t mode = 0; bool known = false; };

node_meta recorded_meta(const hw_paths& paths, const std::string& rel) {
  node_meta m;
  auto text = detail::read_file(paths.dev + "/.nodes");
  if (!text) return m;
  for (auto& line : detail::split_lines(*text)) {
    auto parts = detail::split_ws(line);
    if (parts.size() < 4 || parts[0] != rel) continue;
    m.group = parts[2];
    m.mode = (uint32_t)std::strtoul(parts[3].c_str(), nullptr, 8) & 07777;
    m.known = true;
  }
  return m;
}

}  // namespace

icd_manifest parse_icd_manifest(const std::string& path, std::string_view text) {
  icd_manifest m;
  m.path = path;
  size_t slash = path.find_last_of('/');
  m.file_name = slash == std::string::npos ? path : path.substr(slash + 1);
  auto j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (!j.is_discarded() && j.is_object()) {
    auto icd = j.find("ICD");
    if (icd != j.end() && icd->is_object()) {
      m.parsed = true;
      if (auto lp = icd->find("library_path"); lp != icd->end() && lp->is_string()) m.library_path = lp->get<std::string>();
      if (auto av = icd->find("api_version"); av != icd->end() && av->is_string()) m.api_version = av->get<std::string>();
    }
  }
  std::string file = detail::to_lower(m.file_name), lib = detail::to_lower(m.library_path);
  for (auto* subject : {&file, &lib}) {
    for (auto& r : k_icd_rules)
      if (subject->find(r.needle) != std::string::npos) {
        m.driver = r.driver;
        m.vendor = r.vendor;
        m.software = r.software;
        return m;
      }
  }
  m.driver = vulkan_driver::other;
  return m;
}

distro_family parse_os_release(std::string_view text, std::string* pretty_name) {
  std::string id, like;
  for (auto& [k, v] : detail::parse_key_values(text, '=')) {
    std::string value = v;
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'')) value = value.substr(1, value.size() - 2);
    if (k == "ID") id = detail::to_lower(value);
    else if (k == "ID_LIKE") like = detail::to_lower(value);
    else if (k == "PRETTY_NAME" && pretty_name) *pretty_name = value;
  }
  auto words = detail::split_ws(like);
  words.insert(words.begin(), id);
  for (auto& w : words) {
    if (w == "debian" || w == "ubuntu") return distro_family::debian;
    if (w == "fedora" || w == "rhel" || w == "centos") return distro_family::fedora;
    if (w == "arch" || w == "archlinux") return distro_family::arch;
  }
  return distro_family::unknown;
}

std::vector<std::string> groups_of_user(std::string_view group_text, const std::string& user, long primary_gid) {
  std::vector<std::string> out;
  for (auto& line : detail::split_lines(group_text)) {
    // name:password:gid:member,member
    std::vector<std::string> f;
    size_t start = 0;
    for (int i = 0; i < 3; ++i) {
      size_t c = line.find(':', start);
      if (c == std::string::npos) break;
      f.push_back(line.substr(start, c - start));
      start = c + 1;
    }
    if (f.size() < 3) continue;
    std::string members = line.substr(start);
    bool member = false;
    size_t p = 0;
    while (p <= members.size()) {
      size_t c = members.find(',', p);
      if (c == std::string::npos) c = members.size();
      if (detail::trim(std::string_view(members).substr(p, c - p)) == user) member = true;
      p = c + 1;
    }
    auto gid = detail::parse_u64(f[2]);
    if (member || (gid && primary_gid >= 0 && (long)*gid == primary_gid))
      if (std::find(out.begin(), out.end(), f[0]) == out.end()) out.push_back(f[0]);
  }
  return out;
}

std::string group_name_of(std::string_view group_text, long gid) {
  for (auto& line : detail::split_lines(group_text)) {
    size_t a = line.find(':');
    if (a == std::string::npos) continue;
    size_t b = line.find(':', a + 1);
    if (b == std::string::npos) continue;
    size_t c = line.find(':', b + 1);
    auto v = detail::parse_u64(std::string_view(line).substr(b + 1, (c == std::string::npos ? line.size() : c) - b - 1));
    if (v && (long)*v == gid) return line.substr(0, a);
  }
  return "";
}

namespace detail {

void survey_software(const hw_paths& paths, hw_survey& s) {
  software_info& sw = s.software;
  sw.vulkan_loader = probe_library(paths, "libvulkan.so.1", "vkGetInstanceProcAddr");

  std::vector<std::string> manifests = paths.vulkan_icd_files;
  if (manifests.empty())
    for (auto& d : paths.vulkan_icd_dirs)
      for (auto& f : list_dir(d))
        if (f.size() > 5 && f.substr(f.size() - 5) == ".json") manifests.push_back(d + "/" + f);
  for (auto& m : manifests) {
    auto text = read_file(m, 1 << 20);
    if (!text) {
      s.notes.push_back(fmt::format("Vulkan ICD manifest {} not readable", m));
      continue;
    }
    sw.vulkan_icds.push_back(parse_icd_manifest(m, *text));
  }

  sw.rocm_root = paths.rocm;
  sw.rocm_dir = is_dir(paths.rocm);
  if (sw.rocm_dir) sw.rocm_version = read_line(paths.rocm + "/.info/version").value_or("");
  std::vector<std::string> hip_dirs = {paths.rocm + "/lib", paths.rocm + "/lib64"};
  hip_dirs.insert(hip_dirs.end(), paths.lib_dirs.begin(), paths.lib_dirs.end());
  sw.hip_runtime = find_library_file("libamdhip64.so", hip_dirs);
  sw.kfd_present = exists(paths.dev + "/kfd");

  sw.cuda_driver = probe_library(paths, "libcuda.so.1", "cuInit");
  if (auto v = read_line(paths.proc + "/driver/nvidia/version")) {
    sw.nvidia_kernel_driver = *v;
    for (auto& tok : split_ws(*v))
      if (tok.find('.') != std::string::npos && tok.find_first_not_of("0123456789.") == std::string::npos) {
        sw.nvidia_driver_version = tok;
        break;
      }
  }

  sw.kernel_release = read_line(paths.proc + "/sys/kernel/osrelease").value_or("");
  sw.kernel_cmdline = read_line(paths.proc + "/cmdline").value_or("");
  for (auto& m : gpu_module_names())
    if (is_dir(paths.sysfs + "/module/" + m)) sw.gpu_modules.push_back(m);
  if (auto v = read_u64(paths.sysfs + "/module/ttm/parameters/pages_limit")) sw.ttm_pages_limit = *v;
  if (auto v = read_i64(paths.sysfs + "/module/amdgpu/parameters/gttsize")) sw.amdgpu_gttsize_mib = *v;

  if (auto text = read_file(paths.etc + "/os-release")) sw.distro = parse_os_release(*text, &sw.distro_name);
  else if (auto text2 = read_file("/usr/lib/os-release"); text2 && paths.etc == "/etc")
    sw.distro = parse_os_release(*text2, &sw.distro_name);
}

void survey_access(const hw_paths& paths, const std::optional<user_info>& user_override, hw_survey& s) {
  auto group_text = read_file(paths.etc + "/group").value_or("");
  user_info& u = s.user;
  long primary_gid = -1;
  if (user_override) {
    u = *user_override;
  } else {
    u.uid = (uint32_t)geteuid();
    primary_gid = (long)getegid();
    if (struct passwd* pw = getpwuid(u.uid)) u.name = pw->pw_name;
    else u.name = fmt::format("uid {}", u.uid);
    int n = getgroups(0, nullptr);
    std::vector<gid_t> gids(n > 0 ? (size_t)n : 0);
    if (n > 0) n = getgroups(n, gids.data());
    gids.resize(n > 0 ? (size_t)n : 0);
    gids.push_back(getegid());
    for (gid_t g : gids) {
      std::string name;
      if (struct group* gr = getgrgid(g)) name = gr->gr_name;
      else name = group_name_of(group_text, (long)g);
      if (name.empty()) name = fmt::format("{}", g);
      if (std::find(u.groups.begin(), u.groups.end(), name) == u.groups.end()) u.groups.push_back(name);
    }
  }
  if (u.configured_groups.empty()) u.configured_groups = groups_of_user(group_text, u.name, primary_gid);

  // The nodes a backend opens: DRM render nodes (Vulkan, ROCm), /dev/kfd (ROCm), /dev/nvidia* (CUDA).
  std::vector<std::string> rel;
  bool any_amd = false, any_nvidia = false;
  for (auto& g : s.gpus) {
    if (!g.drm_render.empty()) rel.push_back("dri/" + g.drm_render);
    any_amd |= g.vendor == gpu_vendor::amd;
    if (g.vendor == gpu_vendor::nvidia) {
      any_nvidia = true;
      if (!g.nvidia.device_minor.empty()) rel.push_back("nvidia" + g.nvidia.device_minor);
    }
  }
  if (any_amd || s.software.kfd_present) rel.push_back("kfd");
  if (any_nvidia) {
    rel.push_back("nvidiactl");
    rel.push_back("nvidia-uvm");
  }
  for (auto& r : rel) {
    dev_node n;
    n.path = "/dev/" + r;
    std::string full = paths.dev + "/" + r;
    struct stat st{};
    n.exists = ::stat(full.c_str(), &st) == 0;
    if (!n.exists) {
      s.dev_nodes.push_back(n);
      continue;
    }
    node_meta meta = user_override ? recorded_meta(paths, r) : node_meta{};
    if (meta.known) {
      n.group = meta.group;
      n.mode = meta.mode;
    } else {
      n.mode = st.st_mode & 07777;
      if (struct group* gr = user_override ? nullptr : getgrgid(st.st_gid)) n.group = gr->gr_name;
      else n.group = group_name_of(group_text, (long)st.st_gid);
    }
    if (user_override) {
      // Recorded tree: decide from mode bits and groups, as the kernel would (no ACLs recorded).
      bool rw_other = (n.mode & 06) == 06, rw_group = (n.mode & 060) == 060;
      n.accessible = u.uid == 0 || rw_other || (rw_group && !n.group.empty() && u.in_group(n.group));
    } else {
      // access(2) also honours ACLs (logind grants the seat's user access to render nodes this way).
      n.accessible = ::access(full.c_str(), R_OK | W_OK) == 0;
    }
    s.dev_nodes.push_back(n);
  }
}

}  // namespace detail
}  // namespace hearth::hw
