// Vulkan instance and devices, memory, synchronous transfers, pipelines, and the module entry point.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "backends/vulkan/vk_backend.h"
#include "backends/vulkan/vk_shaders.h"
#include "core/env.h"
#include "core/error.h"
#include "core/fp16.h"
#include "core/log.h"

namespace hearth::vk {

void check(VkResult r, const char* what) {
  if (r == VK_SUCCESS) return;
  if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
    fail(error_kind::out_of_memory, "vulkan: {}: out of {} memory", what, r == VK_ERROR_OUT_OF_DEVICE_MEMORY ? "device" : "host");
  if (r == VK_ERROR_DEVICE_LOST) fail("vulkan: {}: device lost (driver reset or crash)", what);
  fail("vulkan: {} failed (VkResult {})", what, (int)r);
}

// ---- buffers ------------------------------------------------------------------------------------

vk_buffer_type::vk_buffer_type(vk_device* dev) : buffer_type(dev), vdev_(dev) {}

std::unique_ptr<buffer> vk_buffer_type::allocate(size_t size) {
  allocation a = vdev_->allocate(std::max<size_t>(size, 256), vk_device::mem_kind::device);
  return std::make_unique<vk_buffer>(this, vdev_, a);
}

size_t vk_buffer_type::max_size() const { return vdev_->max_alloc(); }

vk_buffer::vk_buffer(vk_buffer_type* type, vk_device* dev, allocation a) : buffer(type, a.size), dev_(dev), a_(a) {}
vk_buffer::~vk_buffer() { dev_->release(a_); }

size_t vk_buffer::offset_of(const tensor& t, size_t offset) const {
  const uint64_t at = (uint64_t)reinterpret_cast<uintptr_t>(t.data) + offset;
  if (at < a_.addr || at > a_.addr + a_.size) fail("vulkan: tensor '{}' is not inside the buffer it names", t.name);
  return (size_t)(at - a_.addr);
}

void vk_buffer::set(tensor& t, const void* src, size_t offset, size_t n) {
  const size_t off = offset_of(t, offset);
  if (off + n > a_.size) fail("vulkan: write past the end of a buffer ({} bytes at {})", n, off);
  dev_->upload(a_, off, src, n);
}

void vk_buffer::get(const tensor& t, void* dst, size_t offset, size_t n) {
  const size_t off = offset_of(t, offset);
  if (off + n > a_.size) fail("vulkan: read past the end of a buffer ({} bytes at {})", n, off);
  dev_->download(a_, off, dst, n);
}

void vk_buffer::clear(uint8_t value) { dev_->fill(a_, value); }

// ---- device ---------------------------------------------------------------------------------------

namespace {

int find_memory(const VkPhysicalDeviceMemoryProperties& mp, uint32_t bits, VkMemoryPropertyFlags want, VkMemoryPropertyFlags avoid = 0) {
  for (uint32_t i = 0; i < mp.memoryTypeCount; ++i) {
    if (!(bits & (1u << i))) continue;
    const VkMemoryPropertyFlags f = mp.memoryTypes[i].propertyFlags;
    if ((f & want) == want && (f & avoid) == 0) return (int)i;
  }
  return -1;
}

// Memory bandwidth of well-known GPUs (Vulkan does not report it), for the fraction-of-peak figures.
uint64_t known_bandwidth(const std::string& name) {
  struct row { const char* key; double tbs; };
  static const row rows[] = {{"H200", 4.8},   {"H100 PCIe", 2.0}, {"H100", 3.35},  {"A100-SXM4-80GB", 2.039}, {"A100", 1.555},
                             {"RTX 4090", 1.008}, {"RTX 3090", 0.936}, {"L40S", 0.864}, {"MI300X", 5.3},   {"RX 7900 XTX", 0.96}};
  for (const row& r : rows)
    if (name.find(r.key) != std::string::npos) return (uint64_t)(r.tbs * 1e12);
  return 0;
}

}  // namespace

vk_device::vk_device(VkInstance inst, const device_info& info, int index) : inst_(inst), info_(info), index_(index), buft_(this) {
  uint32_t n_fam = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(info_.phys, &n_fam, nullptr);
  std::vector<VkQueueFamilyProperties> fams(n_fam);
  vkGetPhysicalDeviceQueueFamilyProperties(info_.phys, &n_fam, fams.data());
  int fam = -1;
  for (uint32_t i = 0; i < n_fam && fam < 0; ++i)
    if (fams[i].queueFlags & VK_QUEUE_COMPUTE_BIT) fam = (int)i;
  if (fam < 0) fail("vulkan: {} has no compute queue", info_.props.deviceName);
  qfamily_ = (uint32_t)fam;

  const float prio = 1.0f;
  VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qci.queueFamilyIndex = qfamily_;
  qci.queueCount = 1;
  qci.pQueuePriorities = &prio;

  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  f12.bufferDeviceAddress = VK_TRUE;
  f12.storageBuffer8BitAccess = VK_TRUE;
  f12.shaderInt8 = VK_TRUE;
  f12.scalarBlockLayout = VK_TRUE;
  VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  f11.storageBuffer16BitAccess = VK_TRUE;
  f11.pNext = &f12;
  VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  f2.features.shaderInt64 = VK_TRUE;
  f2.features.shaderInt16 = VK_TRUE;
  f2.pNext = &f11;
  std::vector<const char*> exts;
  if (info_.memory_budget) exts.push_back(VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
  VkPhysicalDeviceShaderIntegerDotProductFeaturesKHR idp{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES_KHR};
  if (info_.dot4) {
    exts.push_back("VK_KHR_shader_integer_dot_product");
    idp.shaderIntegerDotProduct = VK_TRUE;
    f12.pNext = &idp;
  }
  VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  dci.pNext = &f2;
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &qci;
  dci.enabledExtensionCount = (uint32_t)exts.size();
  dci.ppEnabledExtensionNames = exts.data();
  check(vkCreateDevice(info_.phys, &dci, nullptr, &dev_), "vkCreateDevice");
  vkGetDeviceQueue(dev_, qfamily_, 0, &queue_);

  // Memory types, probed with a small buffer's requirements.
  VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bci.size = 4096;
  bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT |
              VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT;
  VkBuffer probe;
  check(vkCreateBuffer(dev_, &bci, nullptr, &probe), "vkCreateBuffer");
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(dev_, probe, &req);
  vkDestroyBuffer(dev_, probe, nullptr);
  const auto& mp = info_.mem;
  constexpr VkMemoryPropertyFlags local = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
  constexpr VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  if (kind() == device_kind::gpu_discrete) {
    // VRAM the CPU cannot see is the fast kind (BAR-mapped VRAM is slow to read from the host).
    mem_device_ = find_memory(mp, req.memoryTypeBits, local, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT);
    if (mem_device_ < 0) mem_device_ = find_memory(mp, req.memoryTypeBits, local);
  } else {
    // Unified memory: host-visible device memory avoids staging copies.
    mem_device_ = find_memory(mp, req.memoryTypeBits, local | host);
    if (mem_device_ < 0) mem_device_ = find_memory(mp, req.memoryTypeBits, local);
    // An APU whose carve-out ("VRAM", often 512 MiB) is small next to its GTT heap (system memory
    // the GPU maps, read at the same speed): models go into GTT, or only a sliver would fit.
    const int gtt = find_memory(mp, req.memoryTypeBits, host);
    if (gtt >= 0 && mem_device_ >= 0) {
      const uint64_t carve = mp.memoryHeaps[mp.memoryTypes[mem_device_].heapIndex].size;
      const uint64_t gtt_size = mp.memoryHeaps[mp.memoryTypes[gtt].heapIndex].size;
      if (gtt_size > 2 * carve) {
        log_info("vulkan:{}: {} MiB device-local heap next to {} MiB of GTT: weights and caches go into GTT", index_, carve >> 20,
                 gtt_size >> 20);
        mem_device_ = gtt;
      }
    }
  }
  if (mem_device_ < 0) mem_device_ = find_memory(mp, req.memoryTypeBits, 0);
  mem_upload_ = find_memory(mp, req.memoryTypeBits, host);
  mem_readback_ = find_memory(mp, req.memoryTypeBits, host | VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
  if (mem_readback_ < 0) mem_readback_ = mem_upload_;
  if (mem_device_ < 0 || mem_upload_ < 0) fail("vulkan: {} offers no usable memory types", info_.props.deviceName);

  VkPhysicalDeviceMaintenance3Properties m3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
  VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  p2.pNext = &m3;
  vkGetPhysicalDeviceProperties2(info_.phys, &p2);
  max_alloc_ = m3.maxMemoryAllocationSize;
  const uint64_t heap = mp.memoryHeaps[mp.memoryTypes[mem_device_].heapIndex].size;
  if (max_alloc_ == 0 || max_alloc_ > heap) max_alloc_ = heap;
  // Element strides are 32-bit in the shaders: keep single buffers below 4 GiB.
  max_alloc_ = std::min<uint64_t>(max_alloc_, (uint64_t)4 << 30) - 4096;
  // Small buffers are ranges of blocks of up to 256 MiB (HEARTH_VK_BLOCK_MIB overrides; never
  // more than the driver allows in one allocation), large ones get their own (block_allocator.h).
  block_bytes_ = (uint64_t)256 << 20;
  if (const char* env = std::getenv("HEARTH_VK_BLOCK_MIB"); env && std::atoll(env) > 0) block_bytes_ = (uint64_t)std::atoll(env) << 20;
  block_bytes_ = std::min(block_bytes_, max_alloc_);

  VkPushConstantRange pcr{VK_SHADER_STAGE_COMPUTE_BIT, 0, 8};
  VkPipelineLayoutCreateInfo plci{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  plci.pushConstantRangeCount = 1;
  plci.pPushConstantRanges = &pcr;
  check(vkCreatePipelineLayout(dev_, &plci, nullptr, &layout_), "vkCreatePipelineLayout");

  VkCommandPoolCreateInfo cpci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  cpci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  cpci.queueFamilyIndex = qfamily_;
  check(vkCreateCommandPool(dev_, &cpci, nullptr, &xfer_pool_), "vkCreateCommandPool");
  VkCommandBufferAllocateInfo cbai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  cbai.commandPool = xfer_pool_;
  cbai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  cbai.commandBufferCount = 1;
  check(vkAllocateCommandBuffers(dev_, &cbai, &xfer_cmd_), "vkAllocateCommandBuffers");
  VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  check(vkCreateFence(dev_, &fci, nullptr, &xfer_fence_), "vkCreateFence");

  // gelu as the reference computes it: f16 input, f16 table of the tanh formula.
  std::vector<uint16_t> table(1 << 16);
  for (uint32_t i = 0; i < table.size(); ++i) {
    const float x = f16_to_f32((uint16_t)i);
    const float y = 0.5f * x * (1.0f + std::tanh(0.79788456080286535587989211986876f * x * (1.0f + 0.044715f * x * x)));
    table[i] = f32_to_f16(y);
  }
  gelu_ = allocate(table.size() * 2, mem_kind::device);
  upload(gelu_, 0, table.data(), table.size() * 2);
}

vk_device::~vk_device() {
  if (!dev_) return;
  vkDeviceWaitIdle(dev_);
  release(gelu_);
  release(staging_);
  blocks_.clear();  // the memory blocks, before the device goes
  for (auto& [n, p] : pipelines_) vkDestroyPipeline(dev_, p, nullptr);
  if (xfer_fence_) vkDestroyFence(dev_, xfer_fence_, nullptr);
  if (xfer_pool_) vkDestroyCommandPool(dev_, xfer_pool_, nullptr);
  if (layout_) vkDestroyPipelineLayout(dev_, layout_, nullptr);
  vkDestroyDevice(dev_, nullptr);
}

device_kind vk_device::kind() const {
  switch (info_.props.deviceType) {
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return device_kind::gpu_integrated;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return device_kind::gpu_software;
    default: return device_kind::gpu_discrete;
  }
}

device_memory vk_device::memory() const {
  device_memory m;
  const auto& mp = info_.mem;
  const uint32_t heap = mp.memoryTypes[mem_device_].heapIndex;
  m.total_bytes = mp.memoryHeaps[heap].size;
  m.free_bytes = m.total_bytes;
  if (info_.memory_budget) {
    VkPhysicalDeviceMemoryBudgetPropertiesEXT b{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
    VkPhysicalDeviceMemoryProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2};
    p2.pNext = &b;
    vkGetPhysicalDeviceMemoryProperties2(info_.phys, &p2);
    const uint64_t budget = b.heapBudget[heap], usage = b.heapUsage[heap];
    m.free_bytes = budget > usage ? budget - usage : 0;
  }
  return m;
}

device_props vk_device::props() const {
  device_props p;
  p.api = "vulkan";
  p.driver = info_.driver_name;
  if (!info_.driver_info.empty()) p.extra["driver_version"] = info_.driver_info;
  if (!info_.pci_address.empty()) p.extra["pci_address"] = info_.pci_address;
  p.extra["device_id"] = fmt::format("0x{:04x}", info_.props.deviceID);
  p.peak_bandwidth = known_bandwidth(info_.props.deviceName);
  p.max_alloc_bytes = max_alloc_;
  const uint32_t v = info_.props.apiVersion;
  p.extra["api_version"] = fmt::format("{}.{}.{}", VK_API_VERSION_MAJOR(v), VK_API_VERSION_MINOR(v), VK_API_VERSION_PATCH(v));
  p.extra["subgroup_size"] = std::to_string(info_.subgroup_size);
  p.extra["fp16"] = info_.fp16 ? "yes" : "no";
  p.extra["integer_dot_product"] = info_.int_dot ? "yes" : "no";
  p.extra["cooperative_matrix"] = info_.coopmat ? "yes (not used by this build's shaders)" : "no";
  p.extra["vendor_id"] = fmt::format("0x{:04x}", info_.props.vendorID);
  // Memory blocks held from the driver now (buffers are ranges of them).
  const block_allocator::stats ms = memory_stats();
  p.extra["memory_block_bytes"] = std::to_string(block_bytes_);
  p.extra["memory_blocks"] = std::to_string(ms.n_blocks);
  p.extra["memory_dedicated_blocks"] = std::to_string(ms.n_dedicated);
  p.extra["memory_reserved_bytes"] = std::to_string(ms.reserved_bytes);
  p.extra["memory_used_bytes"] = std::to_string(ms.used_bytes);
  return p;
}

bool vk_device::supports_op(const tensor& node) const { return vk_supports(*this, node); }
std::unique_ptr<stream> vk_device::make_stream() { return make_vk_stream(*this); }

namespace {
// A block of device memory handed to the block allocator, mapped once when host-visible.
struct mem_block {
  VkDeviceMemory mem = VK_NULL_HANDLE;
  uint8_t* mapped = nullptr;
};
}  // namespace

int vk_device::pool_of(int type, mem_kind kind) const {
  // HEARTH_VK_UNMAPPED=1: device buffers are never mapped, as on a discrete GPU whose memory the CPU
  // cannot see, so that a device whose memory is all host-visible (lavapipe) takes the staging,
  // transfer and read-back paths (the tests' vulkan.unmapped run). Their blocks form a pool of
  // their own (key ~type), apart from the mapped staging memory of the same type.
  static const bool unmapped = env_is("HEARTH_VK_UNMAPPED", "1");
  return unmapped && kind == mem_kind::device ? ~type : type;
}

block_allocator& vk_device::blocks_of(int pool) {
  std::lock_guard<std::mutex> lock(blocks_mutex_);
  auto& slot = blocks_[pool];
  if (slot) return *slot;
  const int type = pool < 0 ? ~pool : pool;
  const bool host_visible = pool >= 0 && (info_.mem.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT);
  // Memory the CPU sees but the GPU does not prefer (staging, argument arenas) is pinned system
  // memory on a discrete GPU: smaller blocks there.
  const uint64_t bytes = type == mem_device_ || !host_visible ? block_bytes_ : std::min<uint64_t>(block_bytes_, 64u << 20);
  auto create = [this, type, host_visible](uint64_t n) -> void* {
    VkMemoryAllocateFlagsInfo flags{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO};
    flags.flags = VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT;
    VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    mai.pNext = &flags;
    mai.allocationSize = n;
    mai.memoryTypeIndex = (uint32_t)type;
    mem_block b;
    const VkResult r = vkAllocateMemory(dev_, &mai, nullptr, &b.mem);
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
      fail(error_kind::out_of_memory, "{}: cannot allocate a {:.1f} MiB memory block", name(), n / 1048576.0);
    check(r, "vkAllocateMemory");
    if (host_visible) {
      void* p = nullptr;
      const VkResult m = vkMapMemory(dev_, b.mem, 0, VK_WHOLE_SIZE, 0, &p);
      if (m != VK_SUCCESS) vkFreeMemory(dev_, b.mem, nullptr);
      check(m, "vkMapMemory");
      b.mapped = static_cast<uint8_t*>(p);
    }
    return new mem_block(b);
  };
  auto destroy = [this](void* h) {
    auto* b = static_cast<mem_block*>(h);
    vkFreeMemory(dev_, b->mem, nullptr);
    delete b;
  };
  slot = std::make_unique<block_allocator>(bytes, create, destroy);
  return *slot;
}

block_allocator::stats vk_device::memory_stats() const {
  std::lock_guard<std::mutex> lock(blocks_mutex_);
  block_allocator::stats total;
  for (const auto& [type, b] : blocks_) {
    const block_allocator::stats s = b->get_stats();
    total.n_blocks += s.n_blocks;
    total.n_dedicated += s.n_dedicated;
    total.reserved_bytes += s.reserved_bytes;
    total.used_bytes += s.used_bytes;
  }
  return total;
}

allocation vk_device::allocate(size_t size, mem_kind kind) {
  allocation a;
  a.size = size;
  VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bci.size = size;
  bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT |
              VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT;
  check(vkCreateBuffer(dev_, &bci, nullptr, &a.buf), "vkCreateBuffer");
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(dev_, a.buf, &req);
  const int type = kind == mem_kind::device ? mem_device_ : kind == mem_kind::upload ? mem_upload_ : mem_readback_;
  if (!(req.memoryTypeBits & (1u << type))) {
    vkDestroyBuffer(dev_, a.buf, nullptr);
    fail("{}: a {:.1f} MiB buffer cannot live in the memory type chosen for buffers", name(), size / 1048576.0);
  }
  const int pool_key = pool_of(type, kind);
  block_allocator& pool = blocks_of(pool_key);
  try {
    a.range = pool.allocate(req.size, req.alignment);
  } catch (const error& e) {
    vkDestroyBuffer(dev_, a.buf, nullptr);
    if (e.kind() == error_kind::out_of_memory)
      fail(error_kind::out_of_memory, "{}: cannot allocate {:.1f} MiB of {} memory", name(), size / 1048576.0,
           kind == mem_kind::device ? "device" : "host-visible");
    throw;
  }
  a.pool = pool_key;
  const auto* blk = static_cast<const mem_block*>(a.range.block);
  const VkResult r = vkBindBufferMemory(dev_, a.buf, blk->mem, a.range.offset);
  if (r != VK_SUCCESS) release(a);
  check(r, "vkBindBufferMemory");
  VkBufferDeviceAddressInfo bdai{VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO};
  bdai.buffer = a.buf;
  a.addr = vkGetBufferDeviceAddress(dev_, &bdai);
  if (blk->mapped) a.mapped = blk->mapped + a.range.offset;
  return a;
}

void vk_device::release(allocation& a) {
  if (a.buf) {
    vkDestroyBuffer(dev_, a.buf, nullptr);
    ++n_released_;
  }
  if (a.range.block) {
    block_allocator* pool;
    {
      std::lock_guard<std::mutex> lock(blocks_mutex_);
      pool = blocks_.at(a.pool).get();
    }
    pool->release(a.range);
  }
  a = allocation{};
}

void vk_device::submit(VkCommandBuffer cmd, VkFence fence) {
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cmd;
  std::lock_guard<std::mutex> lock(queue_mutex_);
  check(vkQueueSubmit(queue_, 1, &si, fence), "vkQueueSubmit");
}

void vk_device::one_shot(const std::function<void(VkCommandBuffer)>& record) {
  check(vkResetCommandBuffer(xfer_cmd_, 0), "vkResetCommandBuffer");
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  check(vkBeginCommandBuffer(xfer_cmd_, &bi), "vkBeginCommandBuffer");
  // Whatever the queue ran before (graphs of streams) must be complete before the copy.
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_MEMORY_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT;
  vkCmdPipelineBarrier(xfer_cmd_, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
  record(xfer_cmd_);
  vkCmdPipelineBarrier(xfer_cmd_, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
  check(vkEndCommandBuffer(xfer_cmd_), "vkEndCommandBuffer");
  submit(xfer_cmd_, xfer_fence_);
  check(vkWaitForFences(dev_, 1, &xfer_fence_, VK_TRUE, UINT64_MAX), "vkWaitForFences");
  check(vkResetFences(dev_, 1, &xfer_fence_), "vkResetFences");
}

allocation& vk_device::staging(size_t need) {
  if (staging_.size < need) {
    release(staging_);
    staging_ = allocate(std::max<size_t>(need, 16u << 20), mem_kind::readback);
  }
  return staging_;
}

void vk_device::upload(const allocation& dst, size_t offset, const void* src, size_t n) {
  if (n == 0) return;
  if (dst.mapped) {
    std::memcpy(dst.mapped + offset, src, n);
    return;
  }
  std::lock_guard<std::mutex> lock(xfer_mutex_);
  constexpr size_t chunk = 64u << 20;
  allocation& st = staging(std::min(n, chunk));
  for (size_t done = 0; done < n;) {
    const size_t m = std::min(n - done, st.size);
    std::memcpy(st.mapped, static_cast<const uint8_t*>(src) + done, m);
    one_shot([&](VkCommandBuffer cmd) {
      VkBufferCopy c{0, offset + done, m};
      vkCmdCopyBuffer(cmd, st.buf, dst.buf, 1, &c);
    });
    done += m;
  }
}

void vk_device::download(const allocation& src, size_t offset, void* dst, size_t n) {
  if (n == 0) return;
  if (src.mapped) {
    std::memcpy(dst, src.mapped + offset, n);
    return;
  }
  std::lock_guard<std::mutex> lock(xfer_mutex_);
  constexpr size_t chunk = 64u << 20;
  allocation& st = staging(std::min(n, chunk));
  for (size_t done = 0; done < n;) {
    const size_t m = std::min(n - done, st.size);
    one_shot([&](VkCommandBuffer cmd) {
      VkBufferCopy c{offset + done, 0, m};
      vkCmdCopyBuffer(cmd, src.buf, st.buf, 1, &c);
    });
    std::memcpy(static_cast<uint8_t*>(dst) + done, st.mapped, m);
    done += m;
  }
}

void vk_device::fill(const allocation& dst, uint8_t value) {
  if (dst.mapped) {
    std::memset(dst.mapped, value, dst.size);
    return;
  }
  std::lock_guard<std::mutex> lock(xfer_mutex_);
  const uint32_t word = 0x01010101u * value;
  one_shot([&](VkCommandBuffer cmd) { vkCmdFillBuffer(cmd, dst.buf, 0, VK_WHOLE_SIZE, word); });
}

VkPipeline vk_device::pipeline(const std::string& name) {
  std::lock_guard<std::mutex> lock(pipe_mutex_);
  auto it = pipelines_.find(name);
  if (it != pipelines_.end()) return it->second;
  const shader_blob* blob = nullptr;
  for (unsigned i = 0; i < k_n_shaders; ++i)
    if (name == k_shaders[i].name) blob = &k_shaders[i];
  if (!blob) fail("vulkan: no shader variant '{}' in this build", name);
  VkShaderModuleCreateInfo smci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  smci.codeSize = blob->size;
  smci.pCode = reinterpret_cast<const uint32_t*>(blob->code);
  VkShaderModule sm;
  check(vkCreateShaderModule(dev_, &smci, nullptr, &sm), "vkCreateShaderModule");
  VkComputePipelineCreateInfo cpci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  cpci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  cpci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  cpci.stage.module = sm;
  cpci.stage.pName = "main";
  cpci.layout = layout_;
  VkPipeline p;
  const VkResult r = vkCreateComputePipelines(dev_, VK_NULL_HANDLE, 1, &cpci, nullptr, &p);
  vkDestroyShaderModule(dev_, sm, nullptr);
  check(r, "vkCreateComputePipelines");
  pipelines_[name] = p;
  return p;
}

// ---- instance and module ------------------------------------------------------------------------

namespace {

bool has_extension(VkPhysicalDevice pd, const char* name) {
  uint32_t n = 0;
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, nullptr);
  std::vector<VkExtensionProperties> ext(n);
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, ext.data());
  for (auto& e : ext)
    if (std::strcmp(e.extensionName, name) == 0) return true;
  return false;
}

VkInstance create_instance() {
  VkApplicationInfo ai{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  ai.pApplicationName = "hearth";
  ai.pEngineName = "hearth";
  ai.apiVersion = VK_API_VERSION_1_2;
  VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ici.pApplicationInfo = &ai;
  VkInstance inst = VK_NULL_HANDLE;
  if (vkCreateInstance(&ici, nullptr, &inst) != VK_SUCCESS) return VK_NULL_HANDLE;
  return inst;
}

device_info probe(VkPhysicalDevice pd) {
  device_info d;
  d.phys = pd;
  vkGetPhysicalDeviceProperties(pd, &d.props);
  vkGetPhysicalDeviceMemoryProperties(pd, &d.mem);
  if (d.props.apiVersion < VK_API_VERSION_1_2) {
    d.unusable = "needs Vulkan 1.2";
    return d;
  }
  VkPhysicalDeviceDriverProperties drv{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  VkPhysicalDeviceSubgroupProperties sg{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  sg.pNext = &drv;
  VkPhysicalDevicePCIBusInfoPropertiesEXT pci{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PCI_BUS_INFO_PROPERTIES_EXT};
  const bool has_pci = has_extension(pd, VK_EXT_PCI_BUS_INFO_EXTENSION_NAME);
  if (has_pci) drv.pNext = &pci;
  VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  p2.pNext = &sg;
  vkGetPhysicalDeviceProperties2(pd, &p2);
  d.driver_name = drv.driverName;
  d.driver_info = drv.driverInfo;
  if (has_pci) d.pci_address = fmt::format("{:04x}:{:02x}:{:02x}.{:x}", pci.pciDomain, pci.pciBus, pci.pciDevice, pci.pciFunction);
  d.subgroup_size = sg.subgroupSize;
  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  f11.pNext = &f12;
  VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  f2.pNext = &f11;
  vkGetPhysicalDeviceFeatures2(pd, &f2);
  d.fp16 = f12.shaderFloat16;
  d.quad = (sg.supportedOperations & VK_SUBGROUP_FEATURE_QUAD_BIT) && (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
           sg.subgroupSize >= 4 && d.props.limits.maxComputeSharedMemorySize >= 32768;
  std::string missing;
  auto need = [&](bool have, const char* what) {
    if (!have) missing += (missing.empty() ? "" : ", ") + std::string(what);
  };
  need(f12.bufferDeviceAddress, "bufferDeviceAddress");
  need(f12.storageBuffer8BitAccess, "storageBuffer8BitAccess");
  need(f12.shaderInt8, "shaderInt8");
  need(f12.scalarBlockLayout, "scalarBlockLayout");
  need(f11.storageBuffer16BitAccess, "storageBuffer16BitAccess");
  need(f2.features.shaderInt64, "shaderInt64");
  need(f2.features.shaderInt16, "shaderInt16");
  need((sg.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) && (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT),
       "subgroup arithmetic in compute shaders");
  if (!missing.empty()) d.unusable = "missing " + missing;
  d.memory_budget = has_extension(pd, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
  d.coopmat = has_extension(pd, "VK_KHR_cooperative_matrix");
  d.int_dot = has_extension(pd, "VK_KHR_shader_integer_dot_product") || d.props.apiVersion >= VK_API_VERSION_1_3;
  if (has_extension(pd, "VK_KHR_shader_integer_dot_product")) {
    VkPhysicalDeviceShaderIntegerDotProductFeaturesKHR idp{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES_KHR};
    VkPhysicalDeviceFeatures2 q2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    q2.pNext = &idp;
    vkGetPhysicalDeviceFeatures2(pd, &q2);
    d.dot4 = idp.shaderIntegerDotProduct == VK_TRUE;
  }
  return d;
}

// Physical devices this process may use: all usable ones, or the indices in HEARTH_VK_DEVICES.
std::vector<std::pair<int, device_info>> selected_devices(VkInstance inst, std::string* why) {
  uint32_t n = 0;
  vkEnumeratePhysicalDevices(inst, &n, nullptr);
  std::vector<VkPhysicalDevice> pds(n);
  vkEnumeratePhysicalDevices(inst, &n, pds.data());
  std::vector<int> wanted;
  if (const char* env = std::getenv("HEARTH_VK_DEVICES")) {
    std::stringstream ss(env);
    std::string item;
    while (std::getline(ss, item, ','))
      if (!item.empty()) wanted.push_back(std::atoi(item.c_str()));
  }
  // A CPU implementation of Vulkan (lavapipe) is never faster than the CPU backend: it is only
  // offered when asked for (HEARTH_VK_DEVICES naming it, or HEARTH_VK_SOFTWARE=1, as the tests do).
  const char* sw = std::getenv("HEARTH_VK_SOFTWARE");
  const bool allow_software = !wanted.empty() || (sw && std::string(sw) == "1");
  std::vector<std::pair<int, device_info>> out;
  for (uint32_t i = 0; i < n; ++i) {
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), (int)i) == wanted.end()) continue;
    device_info d = probe(pds[i]);
    if (d.props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU && !allow_software) {
      if (why) *why += fmt::format("{}{}: software device, not used (HEARTH_VK_SOFTWARE=1 enables it)", why->empty() ? "" : "; ", d.props.deviceName);
      continue;
    }
    if (!d.unusable.empty()) {
      if (why) *why += fmt::format("{}{}: {}", why->empty() ? "" : "; ", d.props.deviceName, d.unusable);
      continue;
    }
    out.emplace_back((int)i, d);
  }
  return out;
}

class vk_module final : public backend_module {
 public:
  vk_module() {
    inst_ = create_instance();
    if (!inst_) {
      status_ = "no Vulkan driver (vkCreateInstance failed)";
      return;
    }
    auto sel = selected_devices(inst_, &status_);
    for (auto& [idx, info] : sel) {
      try {
        devices_.push_back(std::make_unique<vk_device>(inst_, info, idx));
        log_debug("vulkan:{}: {} ({}, {})", idx, info.props.deviceName, info.driver_name, info.driver_info);
      } catch (const std::exception& e) {
        status_ += fmt::format("{}{}: {}", status_.empty() ? "" : "; ", info.props.deviceName, e.what());
      }
    }
    if (devices_.empty() && status_.empty()) status_ = "no Vulkan device";
  }
  // The module lives until the process exits; by then the driver's own exit handlers may have run,
  // so the devices and the instance are left to the operating system.
  ~vk_module() override {
    for (auto& d : devices_) (void)d.release();
  }
  const char* name() const override { return "vulkan"; }
  int score() const override {
    int best = 0;
    for (auto& d : devices_) best = std::max(best, d->kind() == device_kind::gpu_discrete ? 100 : d->kind() == device_kind::gpu_integrated ? 50 : 10);
    return best;
  }
  std::vector<device*> devices() override {
    std::vector<device*> out;
    for (auto& d : devices_) out.push_back(d.get());
    return out;
  }
  std::string status() const override { return devices_.empty() ? status_ : "ok"; }

 private:
  VkInstance inst_ = VK_NULL_HANDLE;
  std::vector<std::unique_ptr<vk_device>> devices_;
  std::string status_;
};

int probe_score() {
  VkInstance inst = create_instance();
  if (!inst) return 0;
  const int n = (int)selected_devices(inst, nullptr).size();
  vkDestroyInstance(inst, nullptr);
  return n > 0 ? 1 : 0;
}

backend_module* create_module() {
  auto* m = new vk_module();
  if (m->devices().empty()) {
    const std::string why = m->status();
    delete m;
    fail("{}", why);
  }
  return m;
}

}  // namespace

}  // namespace hearth::vk

extern "C" __attribute__((visibility("default"))) const hearth_module_entry_v1* hearth_backend_module_entry() {
  static const hearth_module_entry_v1 entry{HEARTH_BACKEND_ABI_VERSION, "vulkan", &hearth::vk::probe_score, &hearth::vk::create_module};
  return &entry;
}
