// The embedded SPIR-V shader variants (generated table, see CMakeLists.txt).
#pragma once

namespace hearth::vk {

struct shader_blob {
  const char* name;
  const unsigned char* code;
  unsigned size;
};
extern const shader_blob k_shaders[];
extern const unsigned k_n_shaders;

}  // namespace hearth::vk
