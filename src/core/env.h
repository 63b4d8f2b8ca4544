// Environment switches: the comparison and tuning variables (HEARTH_GPU_*, HEARTH_VK_*, ...) that
// every backend and the loader read the same way.
#pragma once
#include <cstdlib>
#include <cstring>

namespace hearth {

// Whether variable name is set to exactly value.
inline bool env_is(const char* name, const char* value) {
  const char* e = std::getenv(name);
  return e && std::strcmp(e, value) == 0;
}

// A switch that is on unless set to 0.
inline bool env_on(const char* name) {
  const char* e = std::getenv(name);
  return !(e && *e == '0');
}

}  // namespace hearth
