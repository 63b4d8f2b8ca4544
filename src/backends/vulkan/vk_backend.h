// The Vulkan backend's internals: a device (instance-level facts, the logical device, its queue,
// memory types, lazily created pipelines), its buffers (one VkBuffer each, addressed by buffer
// device address) and the stream that records whole graphs into one command buffer.
// Tensors on a Vulkan device carry their GPU virtual address in tensor::data.
#pragma once
#include <vulkan/vulkan.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend/backend.h"
#include "backend/block_allocator.h"

namespace hearth::vk {

void check(VkResult r, const char* what);

// One VkBuffer bound to a range of a memory block (see block_allocator); addr is its device
// address, mapped non-null when host-visible.
struct allocation {
  VkBuffer buf = VK_NULL_HANDLE;
  uint64_t addr = 0;
  uint8_t* mapped = nullptr;
  size_t size = 0;
  int pool = -1;  // the block pool it came from (vk_device::pool_of)
  block_allocator::range range;
};

// The argument block every shader reads (mirrors shaders/include/common.glsl).
struct tdesc {
  uint64_t addr;
  uint32_t ne[4];
  uint32_t nb[4];
};
struct dispatch_args {
  tdesc t[5];  // src0..src3, dst
  int32_t p[16];
  uint32_t u[8];
  uint64_t aux[4];
};
static_assert(sizeof(dispatch_args) == 328);

class vk_device;

class vk_buffer_type final : public buffer_type {
 public:
  explicit vk_buffer_type(vk_device* dev);
  const char* name() const override { return "vulkan"; }
  std::unique_ptr<buffer> allocate(size_t size) override;
  size_t alignment() const override { return 256; }
  size_t max_size() const override;
  bool is_host() const override { return false; }

 private:
  vk_device* vdev_;
};

class vk_buffer final : public buffer {
 public:
  vk_buffer(vk_buffer_type* type, vk_device* dev, allocation a);
  ~vk_buffer() override;
  uint8_t* base() override { return reinterpret_cast<uint8_t*>(static_cast<uintptr_t>(a_.addr)); }
  void set(tensor& t, const void* src, size_t offset, size_t n) override;
  void get(const tensor& t, void* dst, size_t offset, size_t n) override;
  void clear(uint8_t value) override;
  const allocation& alloc() const { return a_; }
  // Byte offset of t.data + offset inside this buffer.
  size_t offset_of(const tensor& t, size_t offset) const;

 private:
  vk_device* dev_;
  allocation a_;
};

struct device_info {
  VkPhysicalDevice phys = VK_NULL_HANDLE;
  VkPhysicalDeviceProperties props{};
  VkPhysicalDeviceMemoryProperties mem{};
  std::string driver_name, driver_info;
  std::string pci_address;  // "0000:03:00.0" when the driver has VK_EXT_pci_bus_info
  uint32_t subgroup_size = 0;
  bool memory_budget = false;
  bool coopmat = false;
  bool int_dot = false;
  bool dot4 = false;  // VK_KHR_shader_integer_dot_product with its feature: enabled, for packed 4 x int8 dot products
  bool fp16 = false;
  bool quad = false;  // subgroup quad operations in compute shaders, and 32 KiB of shared memory (prompt attention)
  std::string unusable;  // why the device cannot run Hearth's shaders ("" when usable)
};

class vk_device final : public device {
 public:
  vk_device(VkInstance inst, const device_info& info, int index);
  ~vk_device() override;

  std::string name() const override { return "vulkan:" + std::to_string(index_); }
  std::string description() const override { return info_.props.deviceName; }
  device_kind kind() const override;
  device_memory memory() const override;
  device_props props() const override;
  bool supports_op(const tensor& node) const override;
  buffer_type* default_buffer_type() override { return &buft_; }
  std::unique_ptr<stream> make_stream() override;

  // --- for the buffers and streams -----------------------------------------------------------
  enum class mem_kind { device, upload, readback };
  allocation allocate(size_t size, mem_kind kind);
  void release(allocation& a);
  // Synchronous transfers through a staging buffer (or a plain memcpy for host-visible memory).
  void upload(const allocation& dst, size_t offset, const void* src, size_t n);
  void download(const allocation& src, size_t offset, void* dst, size_t n);
  void fill(const allocation& dst, uint8_t value);
  VkPipeline pipeline(const std::string& name);
  VkPipelineLayout layout() const { return layout_; }
  VkDevice handle() const { return dev_; }
  uint32_t queue_family() const { return qfamily_; }
  // Submits under the queue lock.
  void submit(VkCommandBuffer cmd, VkFence fence);
  uint64_t gelu_table() const { return gelu_.addr; }
  const device_info& info() const { return info_; }
  uint64_t max_alloc() const { return max_alloc_; }
  // Buffers destroyed so far: a recorded command buffer made before the last one may name it.
  uint64_t n_released() const { return n_released_.load(); }
  // Memory blocks held from the driver, over every memory type.
  block_allocator::stats memory_stats() const;

 private:
  void one_shot(const std::function<void(VkCommandBuffer)>& record);
  int pool_of(int memory_type, mem_kind kind) const;
  block_allocator& blocks_of(int pool);
  allocation& staging(size_t need);

  VkInstance inst_;
  device_info info_;
  int index_;
  VkDevice dev_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  uint32_t qfamily_ = 0;
  int mem_device_ = -1, mem_upload_ = -1, mem_readback_ = -1;
  uint64_t max_alloc_ = 0;
  std::atomic<uint64_t> n_released_{0};
  // One block allocator per memory type in use (device-local, upload and readback may share one).
  mutable std::mutex blocks_mutex_;
  std::unordered_map<int, std::unique_ptr<block_allocator>> blocks_;
  uint64_t block_bytes_ = 0;
  vk_buffer_type buft_;
  VkPipelineLayout layout_ = VK_NULL_HANDLE;
  std::mutex pipe_mutex_;
  std::unordered_map<std::string, VkPipeline> pipelines_;
  std::mutex queue_mutex_;
  std::mutex xfer_mutex_;  // the transfer command buffer and staging buffer
  VkCommandPool xfer_pool_ = VK_NULL_HANDLE;
  VkCommandBuffer xfer_cmd_ = VK_NULL_HANDLE;
  VkFence xfer_fence_ = VK_NULL_HANDLE;
  allocation staging_;
  allocation gelu_;
};

std::unique_ptr<stream> make_vk_stream(vk_device& dev);
bool vk_supports(const vk_device& dev, const tensor& node);

}  // namespace hearth::vk
