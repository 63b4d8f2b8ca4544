// The backend registry: statically linked backends (the CPU) plus shared modules
// (libhearth-vulkan.so, libhearth-cuda.so, libhearth-rocm.so) found next to the executable and
// loaded with dlopen. A module that cannot load (no loader, no driver, no device) leaves a message,
// never a crash.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace hearth {

class registry {
 public:
  static registry& instance();

  void add(std::unique_ptr<backend_module> module);
  // Loads libhearth-*.so from the module search path, once. The path is HEARTH_MODULE_PATH
  // (colon-separated) if set, else the executable's directory and ../lib/hearth beside it.
  void load_modules();

  std::vector<backend_module*> modules();
  // Devices of every usable module, GPUs first (discrete before integrated), the CPU last.
  std::vector<device*> devices();
  device* cpu();
  // The preferred GPU (the first non-CPU device of devices()), or nullptr where there is none.
  device* first_gpu();
  // Resolves "cpu", "vulkan" (first Vulkan device), "vulkan:1", "cuda:0", "rocm:0", or a
  // case-insensitive substring of a device description; throws listing what exists.
  device* find(const std::string& spec);
  // What happened while loading modules ("vulkan: libvulkan.so.1: cannot open ...").
  std::vector<std::string> messages();

 private:
  registry() = default;
  std::mutex mutex_;
  std::vector<std::unique_ptr<backend_module>> modules_;
  std::vector<void*> handles_;
  std::vector<std::string> messages_;
  bool loaded_ = false;
};

}  // namespace hearth
