// The backend interface, in five small levels: device -> buffer_type -> buffer -> stream, plus the
// module a backend ships in. The CPU, Vulkan and CUDA/HIP backends implement it; the scheduler and
// the model loader only ever talk to these classes, so a new backend plugs in without model changes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace hearth {

class device;
class buffer_type;

// Everything a backend's recording of a node may depend on, appended to key: op, parameters,
// flags, and the type, shape, strides and address of the node and of its sources. Node lists with
// equal keys record to the same commands (a CUDA graph, a Vulkan command buffer), so a backend
// replays its last recording while the key repeats (the decode loop reuses its graph: only the
// inputs' values change).
inline void append_node_key(std::vector<int64_t>& key, const tensor& n) {
  auto add = [&](const tensor* t) {
    if (!t) {
      key.push_back(-1);
      return;
    }
    key.push_back((int64_t)(intptr_t)t->data);
    key.push_back((int64_t)t->type);
    for (int i = 0; i < 4; ++i) key.push_back(t->ne[i]);
    for (int i = 0; i < 4; ++i) key.push_back((int64_t)t->nb[i]);
  };
  key.push_back((int64_t)n.op);
  key.push_back((int64_t)n.flags);
  add(&n);
  for (const tensor* s : n.src) add(s);
  for (int32_t p : n.p.raw) key.push_back(p);
}

enum class device_kind { cpu, gpu_discrete, gpu_integrated, gpu_software };
const char* device_kind_name(device_kind k);

struct device_memory {
  uint64_t free_bytes = 0;
  uint64_t total_bytes = 0;
};

// Static facts about a device, for `hearth hw`, the planner and benchmarks.
struct device_props {
  std::string api;                 // "cpu", "vulkan", "cuda", "rocm"
  std::string driver;              // e.g. "NVIDIA 560.35", "RADV", "llvmpipe"
  uint64_t peak_bandwidth = 0;     // bytes/s if known (benchmarks report the fraction reached), else 0
  uint64_t max_alloc_bytes = 0;    // largest single allocation
  // Backend-specific facts. Keys the hardware survey reads: pci_address ("0000:03:00.0"), vendor_id
  // and device_id (hex), driver_version, api_version, arch ("gfx1100", "sm_90"), subgroup_size,
  // fp16 / int8_dot / bf16 / coopmat ("1" or "0"); keys starting with "info." are shown as they are.
  std::map<std::string, std::string> extra;
};

// One allocation on a device. Tensors placed in it have data = base() + offset; for device memory
// base() is an opaque, non-null address range that the backend maps back to its own handle.
class buffer {
 public:
  buffer(buffer_type* type, size_t size) : type_(type), size_(size) {}
  virtual ~buffer() = default;
  buffer(const buffer&) = delete;
  buffer& operator=(const buffer&) = delete;

  virtual uint8_t* base() = 0;
  // Copy bytes into / out of the storage of t (offset and n are relative to t.data).
  virtual void set(tensor& t, const void* src, size_t offset, size_t n) = 0;
  virtual void get(const tensor& t, void* dst, size_t offset, size_t n) = 0;
  virtual void clear(uint8_t value) = 0;

  size_t size() const { return size_; }
  buffer_type* type() const { return type_; }
  device* dev() const;
  bool is_host() const;
  // Places t at offset (t.data = base() + offset, t.buf = this).
  void place(tensor& t, size_t offset);

 private:
  buffer_type* type_;
  size_t size_;
};

// Storage that is never allocated: tensors placed on it only say on which device they would live.
// The planner's dry runs (scheduler::measure) use it to size buffers without allocating them.
class placeholder_buffer final : public buffer {
 public:
  using buffer::buffer;
  uint8_t* base() override { return nullptr; }
  void set(tensor&, const void*, size_t, size_t) override { placeholder_access(); }
  void get(const tensor&, void*, size_t, size_t) override { placeholder_access(); }
  void clear(uint8_t) override {}

 private:
  [[noreturn]] static void placeholder_access();
};

class buffer_type {
 public:
  explicit buffer_type(device* dev) : dev_(dev) {}
  virtual ~buffer_type() = default;
  virtual const char* name() const = 0;
  // Throws hearth::error of kind out_of_memory when the device cannot provide size bytes.
  virtual std::unique_ptr<buffer> allocate(size_t size) = 0;
  virtual size_t alignment() const = 0;
  virtual size_t max_size() const = 0;  // largest single allocation (drivers cap it)
  // True when the CPU can read and write the memory through plain pointers.
  virtual bool is_host() const = 0;
  // Bytes a tensor needs in a buffer of this type (a backend may pad rows).
  virtual size_t alloc_size(const tensor& t) const { return t.nbytes(); }
  device* dev() const { return dev_; }

 private:
  device* dev_;
};

// Executes nodes of a graph on one device, in order. May be asynchronous: results are ready after
// synchronize(). Node lists passed to compute() are stable between calls of an unchanged graph
// shape, which lets a backend reuse a recording (a Vulkan command buffer, a CUDA graph).
class stream {
 public:
  virtual ~stream() = default;
  virtual void compute(const std::vector<tensor*>& nodes) = 0;
  // The id of the node list passed to the next compute(): the scheduler gives each split of each
  // plan its own, so equal nonzero ids mean the same nodes with the same shapes and addresses, and a
  // stream may replay its recording without comparing them (0: unknown, compare).
  void set_plan_id(uint64_t id) { plan_id_ = id; }
  virtual void synchronize() = 0;
  // Host <-> device copies ordered with the stream's work (default: synchronous through the buffer).
  virtual void set_async(tensor& t, const void* src, size_t offset, size_t n) { t.storage()->buf->set(t, src, offset, n); }
  virtual void get_async(const tensor& t, void* dst, size_t offset, size_t n) { const_cast<tensor&>(t).storage()->buf->get(t, dst, offset, n); }

 protected:
  uint64_t plan_id_ = 0;
};

class device {
 public:
  virtual ~device() = default;
  virtual std::string name() const = 0;         // "cpu", "vulkan:0", "cuda:1"
  virtual std::string description() const = 0;  // "NVIDIA H100 80GB HBM3"
  virtual device_kind kind() const = 0;
  virtual device_memory memory() const = 0;
  virtual device_props props() const = 0;
  // Whether this device can compute node (its op, types and shapes) with operands it can read.
  virtual bool supports_op(const tensor& node) const = 0;
  // Whether this device's kernels can read tensors stored in buffers of type bt directly.
  virtual bool can_read(const buffer_type& bt) const { return bt.dev() == this; }
  virtual buffer_type* default_buffer_type() = 0;
  // Pinned host memory the device copies from/to fast (staging); nullptr when not applicable.
  virtual buffer_type* host_buffer_type() { return nullptr; }
  // Wraps existing host memory (an mmapped model file) as a buffer without copying; nullptr when
  // the device cannot use host memory directly.
  virtual std::unique_ptr<buffer> wrap_host(void* ptr, size_t size) { return nullptr; }
  virtual std::unique_ptr<stream> make_stream() = 0;
  // Worth running this op here even though its weight lives in host memory (large batches).
  virtual bool offload_op(const tensor& node) const { return false; }
  // Threads for backends that use the CPU (ignored by GPUs).
  virtual void set_threads(int n) {}
};

// A backend shipped as a module (statically linked, or a shared library loaded with dlopen).
class backend_module {
 public:
  virtual ~backend_module() = default;
  virtual const char* name() const = 0;  // "cpu", "vulkan", "cuda", "rocm"
  // 0 = unusable on this machine (no driver, no device); higher = preferred.
  virtual int score() const = 0;
  virtual std::vector<device*> devices() = 0;
  // Why the module is unusable (score 0), for `hearth hw` / `hearth doctor`.
  virtual std::string status() const { return score() > 0 ? "ok" : "unavailable"; }
};

}  // namespace hearth

// The C entry point of a backend shared module, versioned so an old module is refused cleanly.
// The module is built from the same sources as the host; the returned object lives as long as the
// module is loaded.
#define HEARTH_BACKEND_ABI_VERSION 1
extern "C" {
struct hearth_module_entry_v1 {
  uint32_t abi_version;
  const char* name;
  int (*score)(void);                         // cheap probe, safe to call without initialising
  hearth::backend_module* (*create)(void);    // initialises the backend (may return nullptr)
};
typedef const hearth_module_entry_v1* (*hearth_module_entry_fn)(void);
}
#define HEARTH_MODULE_ENTRY_SYMBOL "hearth_backend_module_entry"
