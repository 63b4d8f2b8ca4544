#include "backends/cpu/cpu_backend.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

#include "backends/cpu/ops/ops.h"
#include "backends/cpu/thread_pool.h"
#include "core/error.h"

namespace hearth::cpu {

namespace {

constexpr size_t k_alignment = 64;

class host_buffer final : public buffer {
 public:
  host_buffer(buffer_type* type, size_t size, uint8_t* data, bool owned, repack_cache* cache)
      : buffer(type, size), data_(data), owned_(owned), cache_(cache) {}
  ~host_buffer() override {
    if (cache_) cache_->erase_range(data_, size());
    if (owned_) std::free(data_);
  }
  uint8_t* base() override { return data_; }
  void set(tensor& t, const void* src, size_t offset, size_t n) override { std::memcpy(static_cast<uint8_t*>(t.data) + offset, src, n); }
  void get(const tensor& t, void* dst, size_t offset, size_t n) override { std::memcpy(dst, static_cast<const uint8_t*>(t.data) + offset, n); }
  void clear(uint8_t value) override { std::memset(data_, value, size()); }

 private:
  uint8_t* data_;
  bool owned_;
  repack_cache* cache_;  // the device's copies of weights in this buffer are dropped with it
};

class cpu_buffer_type final : public buffer_type {
 public:
  cpu_buffer_type(device* dev, repack_cache* cache) : buffer_type(dev), cache_(cache) {}
  const char* name() const override { return "cpu"; }
  std::unique_ptr<buffer> allocate(size_t size) override {
    const size_t n = (std::max<size_t>(size, 1) + k_alignment - 1) / k_alignment * k_alignment;
    void* p = std::aligned_alloc(k_alignment, n);
    if (!p) fail(error_kind::out_of_memory, "cpu: cannot allocate {:.1f} MiB of host memory", n / 1048576.0);
    return std::make_unique<host_buffer>(this, size, static_cast<uint8_t*>(p), true, cache_);
  }
  size_t alignment() const override { return k_alignment; }
  size_t max_size() const override { return SIZE_MAX; }
  bool is_host() const override { return true; }
  repack_cache* cache() const { return cache_; }

 private:
  repack_cache* cache_;
};

std::string cpu_model_name() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t c = line.find(':');
      if (c != std::string::npos) return line.substr(c + 2);
    }
  }
  return "CPU";
}

device_memory host_memory() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  uint64_t value = 0;
  std::string unit;
  device_memory m;
  while (f >> key >> value) {
    std::getline(f, unit);
    if (key == "MemTotal:") m.total_bytes = value * 1024;
    if (key == "MemAvailable:") m.free_bytes = value * 1024;
  }
  return m;
}

class cpu_stream final : public stream {
 public:
  cpu_stream(int n_threads, repack_cache* cache) : pool_(n_threads), cache_(cache) {}
  void set_threads(int n) { pool_.resize(n); }
  void compute(const std::vector<tensor*>& nodes) override {
    const int nth = pool_.size();
    size_t need = 0;
    for (tensor* n : nodes) need = std::max(need, work_size(*n, nth));
    if (work_.size() < need) work_.resize(need);
    uint8_t* work = work_.data();
    // Weights get their repacked copy the first time a product reads them (later runs only look up).
    for (tensor* n : nodes)
      if ((n->op == op::mul_mat || n->op == op::mul_mat_id) && (n->src[0]->flags & tf_weight)) cache_->prepare(*n->src[0], nth);
    pool_.run([&](int ith) {
      compute_ctx ctx{ith, nth, &pool_, work, need, cache_};
      for (tensor* n : nodes) {
        if (n->op == op::view || n->op == op::none) continue;
        compute_node(ctx, *n);
        pool_.barrier();
      }
    });
  }
  void synchronize() override {}

 private:
  thread_pool pool_;
  std::vector<uint8_t> work_;
  repack_cache* cache_;
};

class cpu_device final : public device {
 public:
  cpu_device() : buft_(this, &cache_), threads_(default_threads()) {
    if (const char* env = std::getenv("HEARTH_THREADS")) threads_ = std::max(1, std::atoi(env));
  }
  std::string name() const override { return "cpu"; }
  std::string description() const override { return cpu_model_name(); }
  device_kind kind() const override { return device_kind::cpu; }
  device_memory memory() const override { return host_memory(); }
  device_props props() const override {
    device_props p;
    p.api = "cpu";
    p.driver = "hearth";
    p.max_alloc_bytes = SIZE_MAX;
    p.extra["threads"] = std::to_string(threads_);
    return p;
  }
  bool supports_op(const tensor& node) const override { return supports(node); }
  bool can_read(const buffer_type& bt) const override { return bt.is_host(); }
  buffer_type* default_buffer_type() override { return &buft_; }
  std::unique_ptr<buffer> wrap_host(void* ptr, size_t size) override {
    return std::make_unique<host_buffer>(&buft_, size, static_cast<uint8_t*>(ptr), false, &cache_);
  }
  std::unique_ptr<stream> make_stream() override { return std::make_unique<cpu_stream>(threads_, &cache_); }
  void set_threads(int n) override { threads_ = std::max(1, n); }

 private:
  repack_cache cache_;  // declared first: buffers and streams point into it
  cpu_buffer_type buft_;
  int threads_;
};

class cpu_module final : public backend_module {
 public:
  const char* name() const override { return "cpu"; }
  int score() const override { return 1; }
  std::vector<device*> devices() override { return {&dev_}; }

 private:
  cpu_device dev_;
};

}  // namespace

int default_threads() {
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  // With SMT on, half the logical CPUs are siblings that share a core's execution units: use one
  // thread per physical core, as matrix kernels saturate a core on their own.
  std::ifstream smt("/sys/devices/system/cpu/smt/active");
  int active = 0;
  if (smt >> active && active == 1 && hw > 1) return (int)hw / 2;
  return (int)hw;
}

std::unique_ptr<backend_module> make_module() { return std::make_unique<cpu_module>(); }

}  // namespace hearth::cpu
