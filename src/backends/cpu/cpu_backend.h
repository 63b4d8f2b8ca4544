// The CPU backend: host buffers (including zero-copy views of mmapped model files), a multi-threaded
// stream that runs a whole node list in one parallel region, and the device that reports the CPU.
#pragma once
#include <memory>

#include "backend/backend.h"

namespace hearth::cpu {

std::unique_ptr<backend_module> make_module();
// Threads a CPU stream uses by default: the physical cores (at least 1).
int default_threads();

}  // namespace hearth::cpu
