// Vulkan device memory through the module: many buffers share a few blocks and keep their bytes
// apart, a large buffer (beyond an eighth of a block, or beyond a whole block) gets its own, blocks
// go back when their buffers do, and a request beyond the device's memory is an out-of-memory error.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "core/error.h"
#include "core/tensor.h"
#include "vk_test_util.h"

namespace hearth::test {
namespace {

struct mem_stats {
  uint64_t block_bytes, blocks, dedicated, reserved, used;
};

mem_stats stats_of(device* dev) {
  const device_props p = dev->props();
  auto num = [&](const char* k) { return (uint64_t)std::stoull(p.extra.at(k)); };
  return {num("memory_block_bytes"), num("memory_blocks"), num("memory_dedicated_blocks"), num("memory_reserved_bytes"),
          num("memory_used_bytes")};
}

// A tensor of n floats at the start of buf.
tensor floats_at(buffer& buf, size_t n) {
  tensor t;
  t.type = dtype::f32;
  t.ne[0] = (int64_t)n;
  set_contiguous_strides(t);
  buf.place(t, 0);
  return t;
}

TEST(VulkanMemory, SmallBuffersShareBlocksAndKeepTheirBytes) {
  HEARTH_REQUIRE_VULKAN(dev);
  const mem_stats before = stats_of(dev);
  ASSERT_GT(before.block_bytes, 0u);
  std::vector<std::unique_ptr<buffer>> bufs;
  std::vector<size_t> sizes;
  uint64_t total = 0;
  for (int i = 0; i < 300; ++i) {
    const size_t n = 1 + (size_t)(i * 37 % 1500);  // floats
    bufs.push_back(dev->default_buffer_type()->allocate(n * 4));
    sizes.push_back(n);
    total += n * 4;
  }
  const mem_stats mid = stats_of(dev);
  ASSERT_LT(total, before.block_bytes / 2);
  EXPECT_LE(mid.blocks, before.blocks + 1) << "300 small buffers fit one block";
  EXPECT_GE(mid.used, before.used + total);
  EXPECT_LE(mid.reserved, before.reserved + before.block_bytes);
  // Every buffer keeps its own bytes: none overlaps another.
  for (size_t i = 0; i < bufs.size(); ++i) {
    tensor t = floats_at(*bufs[i], sizes[i]);
    std::vector<float> x(sizes[i]);
    for (size_t j = 0; j < x.size(); ++j) x[j] = (float)(i * 10000 + j);
    bufs[i]->set(t, x.data(), 0, x.size() * 4);
  }
  for (size_t i = 0; i < bufs.size(); ++i) {
    tensor t = floats_at(*bufs[i], sizes[i]);
    std::vector<float> y(sizes[i]);
    bufs[i]->get(t, y.data(), 0, y.size() * 4);
    for (size_t j = 0; j < y.size(); ++j) ASSERT_EQ(y[j], (float)(i * 10000 + j)) << "buffer " << i;
  }
  // clear() touches its own buffer only.
  bufs[5]->clear(0);
  {
    tensor t4 = floats_at(*bufs[4], sizes[4]), t6 = floats_at(*bufs[6], sizes[6]), t5 = floats_at(*bufs[5], sizes[5]);
    std::vector<float> y4(sizes[4]), y5(sizes[5]), y6(sizes[6]);
    bufs[4]->get(t4, y4.data(), 0, y4.size() * 4);
    bufs[5]->get(t5, y5.data(), 0, y5.size() * 4);
    bufs[6]->get(t6, y6.data(), 0, y6.size() * 4);
    EXPECT_EQ(y4.back(), (float)(4 * 10000 + sizes[4] - 1));
    EXPECT_EQ(y6[0], (float)(6 * 10000));
    for (float v : y5) ASSERT_EQ(v, 0.0f);
  }
  bufs.clear();
  const mem_stats after = stats_of(dev);
  EXPECT_EQ(after.blocks, before.blocks);
  EXPECT_EQ(after.reserved, before.reserved);
  EXPECT_EQ(after.used, before.used);
}

TEST(VulkanMemory, LargeBuffersGetTheirOwnBlock) {
  HEARTH_REQUIRE_VULKAN(dev);
  const mem_stats before = stats_of(dev);
  {
    // More than an eighth of a block (caches, compute buffers): dedicated, nothing held beyond it.
    auto mid_buf = dev->default_buffer_type()->allocate(before.block_bytes / 8 + 4096);
    const mem_stats mid = stats_of(dev);
    EXPECT_EQ(mid.dedicated, before.dedicated + 1);
    EXPECT_LT(mid.reserved - before.reserved, before.block_bytes / 8 + 65536);
  }
  EXPECT_EQ(stats_of(dev).reserved, before.reserved);
  const size_t bytes = before.block_bytes + 4096;
  if (bytes > dev->default_buffer_type()->max_size()) GTEST_SKIP() << "the driver's largest allocation is one block";
  auto big = dev->default_buffer_type()->allocate(bytes);
  const mem_stats mid = stats_of(dev);
  EXPECT_EQ(mid.dedicated, before.dedicated + 1);
  EXPECT_EQ(mid.blocks, before.blocks + 1);
  EXPECT_GE(mid.reserved - before.reserved, bytes);
  // Both ends hold what was written.
  tensor t = floats_at(*big, bytes / 4);
  std::vector<float> x(1024), y(1024);
  for (size_t j = 0; j < x.size(); ++j) x[j] = (float)j + 0.25f;
  big->set(t, x.data(), 0, 4096);
  big->set(t, x.data(), bytes - 4096, 4096);
  big->get(t, y.data(), bytes - 4096, 4096);
  EXPECT_EQ(x, y);
  std::fill(y.begin(), y.end(), 0.0f);
  big->get(t, y.data(), 0, 4096);
  EXPECT_EQ(x, y);
  big.reset();
  const mem_stats after = stats_of(dev);
  EXPECT_EQ(after.blocks, before.blocks);
  EXPECT_EQ(after.reserved, before.reserved);
}

TEST(VulkanMemory, BeyondTheDeviceIsOutOfMemory) {
  HEARTH_REQUIRE_VULKAN(dev);
  const mem_stats before = stats_of(dev);
  const uint64_t too_much = dev->memory().total_bytes * 4;
  try {
    auto b = dev->default_buffer_type()->allocate(too_much);
    FAIL() << "allocated " << too_much << " bytes";
  } catch (const error& e) {
    EXPECT_EQ(e.kind(), error_kind::out_of_memory) << e.what();
  }
  const mem_stats after = stats_of(dev);
  EXPECT_EQ(after.blocks, before.blocks);
  EXPECT_EQ(after.reserved, before.reserved);
}

}  // namespace
}  // namespace hearth::test
