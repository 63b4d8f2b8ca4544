// Shared by the Vulkan tests: the first Vulkan device (tests skip when there is none).
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>

#include "backend/registry.h"
#include "backends/init.h"

namespace hearth::test {

// The Vulkan device the tests run on: HEARTH_TEST_VK_DEVICE ("vulkan:1") or the first one.
inline device* vulkan_device() {
  setenv("HEARTH_VK_SOFTWARE", "1", 0);  // lavapipe counts here (CI has no GPU)
  init_backends(true);
  const char* want = std::getenv("HEARTH_TEST_VK_DEVICE");
  for (device* d : registry::instance().devices())
    if (d->props().api == "vulkan" && (!want || d->name() == want)) return d;
  return nullptr;
}

#define HEARTH_REQUIRE_VULKAN(dev)                                                             \
  device* dev = ::hearth::test::vulkan_device();                                               \
  if (!dev) GTEST_SKIP() << "no Vulkan device (messages: " << ::hearth::test::vk_messages() << ")"

inline std::string vk_messages() {
  std::string s;
  for (const auto& m : registry::instance().messages()) s += m + "; ";
  return s;
}

}  // namespace hearth::test
