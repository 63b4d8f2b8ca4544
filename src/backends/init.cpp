#include "backends/init.h"

#include <mutex>

#include "backend/registry.h"
#include "backends/cpu/cpu_backend.h"

namespace hearth {

void init_backends(bool load_modules) {
  static std::once_flag cpu_once;
  std::call_once(cpu_once, [] { registry::instance().add(cpu::make_module()); });
  if (load_modules) registry::instance().load_modules();
}

}  // namespace hearth
