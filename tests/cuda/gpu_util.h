// The CUDA/HIP device under test: the first device of a loaded libhearth-cuda.so or
// libhearth-rocm.so module, or nullptr (tests then skip: CI machines have no GPU).
#pragma once
#include "backend/registry.h"
#include "backends/init.h"

namespace hearth::test {

inline device* cuda_device() {
  init_backends(true);
  for (device* d : registry::instance().devices()) {
    const std::string api = d->props().api;
    if (api == "cuda" || api == "rocm") return d;
  }
  return nullptr;
}

#define HEARTH_NEED_GPU(dev)                                                      \
  ::hearth::device* dev = ::hearth::test::cuda_device();                          \
  if (!dev) GTEST_SKIP() << "no CUDA/ROCm device (libhearth-cuda/rocm module absent or no GPU)"

}  // namespace hearth::test
