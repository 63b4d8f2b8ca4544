#include "backend/registry.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "core/log.h"

namespace hearth {

namespace fs = std::filesystem;

const char* device_kind_name(device_kind k) {
  switch (k) {
    case device_kind::cpu: return "cpu";
    case device_kind::gpu_discrete: return "discrete gpu";
    case device_kind::gpu_integrated: return "integrated gpu";
    case device_kind::gpu_software: return "software gpu";
  }
  return "?";
}

device* buffer::dev() const { return type_->dev(); }
bool buffer::is_host() const { return type_->is_host(); }
void placeholder_buffer::placeholder_access() { fail("internal error: data access to a placeholder buffer (a planner dry run)"); }

void buffer::place(tensor& t, size_t offset) {
  t.buf = this;
  uint8_t* b = base();
  t.data = b ? b + offset : nullptr;  // placeholder buffers have no memory
}

registry& registry::instance() {
  static registry r;
  return r;
}

void registry::add(std::unique_ptr<backend_module> module) {
  std::lock_guard<std::mutex> lock(mutex_);
  modules_.push_back(std::move(module));
}

namespace {
std::vector<fs::path> module_dirs() {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("HEARTH_MODULE_PATH")) {
    std::string s(env);
    size_t start = 0;
    while (start <= s.size()) {
      size_t end = s.find(':', start);
      if (end == std::string::npos) end = s.size();
      if (end > start) dirs.emplace_back(s.substr(start, end - start));
      start = end + 1;
    }
    return dirs;
  }
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    dirs.push_back(exe.parent_path());
    dirs.push_back(exe.parent_path() / ".." / "lib" / "hearth");
  }
  return dirs;
}
}  // namespace

void registry::load_modules() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (loaded_) return;
  loaded_ = true;
  for (const fs::path& dir : module_dirs()) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    std::vector<fs::path> found;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string n = e.path().filename().string();
      if (n.rfind("libhearth-", 0) == 0 && e.path().extension() == ".so") found.push_back(e.path());
    }
    std::sort(found.begin(), found.end());
    for (const fs::path& p : found) {
      const std::string stem = p.stem().string().substr(10);  // after "libhearth-"
      bool already = false;
      for (auto& m : modules_) already |= stem == m->name();
      if (already) continue;
      void* h = dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!h) {
        messages_.push_back(fmt::format("{}: module not loaded: {}", stem, dlerror()));
        continue;
      }
      auto entry_fn = reinterpret_cast<hearth_module_entry_fn>(dlsym(h, HEARTH_MODULE_ENTRY_SYMBOL));
      const hearth_module_entry_v1* entry = entry_fn ? entry_fn() : nullptr;
      if (!entry || entry->abi_version != HEARTH_BACKEND_ABI_VERSION) {
        messages_.push_back(fmt::format("{}: {} is not a compatible Hearth module (ABI {} expected)", stem, p.string(),
                                        HEARTH_BACKEND_ABI_VERSION));
        dlclose(h);
        continue;
      }
      if (entry->score() <= 0) {
        // Unusable here: creating it anyway is how the module says why (no driver, only a software
        // device, an unsupported GPU...).
        std::string why = "no usable device (driver or device missing)";
        try {
          std::unique_ptr<backend_module> probe(entry->create());
          if (probe && probe->status() != "ok") why = probe->status();
        } catch (const std::exception& e) {
          why = e.what();
        } catch (...) {
        }
        messages_.push_back(fmt::format("{}: {}", entry->name, why));
        dlclose(h);
        continue;
      }
      backend_module* m = nullptr;
      try {
        m = entry->create();
      } catch (const std::exception& e) {
        messages_.push_back(fmt::format("{}: initialisation failed: {}", entry->name, e.what()));
      }
      if (!m) {
        if (messages_.empty() || messages_.back().rfind(entry->name, 0) != 0)
          messages_.push_back(fmt::format("{}: initialisation failed", entry->name));
        dlclose(h);
        continue;
      }
      handles_.push_back(h);
      modules_.emplace_back(m);
      log_info("loaded backend module {} from {}", entry->name, p.string());
      // Loaded, but nothing to offer (no driver for the GPU, only a software device...): say why.
      if (m->devices().empty()) messages_.push_back(fmt::format("{}: {}", entry->name, m->status()));
    }
  }
  for (const auto& m : messages_) log_info("{}", m);
}

std::vector<backend_module*> registry::modules() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<backend_module*> out;
  for (auto& m : modules_) out.push_back(m.get());
  return out;
}

std::vector<device*> registry::devices() {
  std::vector<device*> out;
  for (backend_module* m : modules()) {
    if (m->score() <= 0) continue;
    for (device* d : m->devices()) out.push_back(d);
  }
  auto rank = [](const device* d) {
    switch (d->kind()) {
      case device_kind::gpu_discrete: return 0;
      case device_kind::gpu_integrated: return 1;
      case device_kind::gpu_software: return 2;
      case device_kind::cpu: return 3;
    }
    return 4;
  };
  std::stable_sort(out.begin(), out.end(), [&](device* a, device* b) { return rank(a) < rank(b); });
  return out;
}

device* registry::cpu() {
  for (device* d : devices())
    if (d->kind() == device_kind::cpu) return d;
  fail("no CPU backend registered");
}

device* registry::first_gpu() {
  for (device* d : devices())
    if (d->kind() != device_kind::cpu) return d;
  return nullptr;
}

device* registry::find(const std::string& spec) {
  const auto all = devices();
  std::string lower = spec;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return (char)std::tolower(c); });
  for (device* d : all)
    if (d->name() == lower) return d;
  // "vulkan" alone: the first device of that API.
  for (device* d : all) {
    const std::string n = d->name();
    if (n.rfind(lower + ":", 0) == 0) return d;
  }
  for (device* d : all) {
    std::string desc = d->description();
    std::transform(desc.begin(), desc.end(), desc.begin(), [](unsigned char c) { return (char)std::tolower(c); });
    if (!lower.empty() && desc.find(lower) != std::string::npos) return d;
  }
  std::string names;
  for (device* d : all) names += (names.empty() ? "" : ", ") + d->name() + " (" + d->description() + ")";
  std::string why;
  for (const auto& m : messages()) why += "; " + m;
  // A backend named by its API whose module is not there at all: say so rather than nothing.
  const std::string api = lower.substr(0, lower.find(':'));
  if ((api == "vulkan" || api == "cuda" || api == "rocm") && why.find("; " + api + ":") == std::string::npos) {
    bool loaded = false;
    for (auto& m : modules_) loaded |= api == m->name();
    if (!loaded) why += fmt::format("; {}: libhearth-{}.so not found (this build has no {} backend, or set HEARTH_MODULE_PATH)", api, api, api);
  }
  fail(error_kind::not_found, "no device '{}' (available: {}{})", spec, names, why);
}

std::vector<std::string> registry::messages() {
  std::lock_guard<std::mutex> lock(mutex_);
  return messages_;
}

}  // namespace hearth
