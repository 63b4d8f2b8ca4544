#include "backends/cpu/cpu_backend.h"

#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backends/cpu/ops/ops.h"
#include "backends/cpu/schedule.h"
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
    // Large buffers (KV cache, compute buffers, uploaded weights) on 2 MiB pages: fewer TLB misses
    // and prefetch streams that do not stop at 4 KiB boundaries.
    constexpr size_t huge = size_t(2) << 20;
    const size_t align = size >= 2 * huge ? huge : k_alignment;
    const size_t n = (std::max<size_t>(size, 1) + align - 1) / align * align;
    void* p = std::aligned_alloc(align, n);
    if (p && align == huge) ::madvise(p, n, MADV_HUGEPAGE);
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

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

// HEARTH_PROFILE=1: wall time of every op (thread 0's clock between the barriers that end each op),
// summed by op and weight (layers merged: "mul_mat q4_K ffn_up"), printed to stderr at exit with
// the bandwidth of each product's weight bytes.
class op_profile {
 public:
  static op_profile* get() {
    static op_profile* p = [] {
      const char* e = std::getenv("HEARTH_PROFILE");
      return e && *e && std::strcmp(e, "0") != 0 ? new op_profile() : nullptr;
    }();
    return p;
  }
  void add(const tensor& n, double seconds, double cpu_seconds) {
    std::string key = op_name(n.op);
    uint64_t bytes = 0;
    if ((n.op == op::mul_mat || n.op == op::mul_mat_id) && n.src[0]) {
      std::string w = n.src[0]->name;
      if (w.rfind("blk.", 0) == 0 && w.find('.', 4) != std::string::npos) w = w.substr(w.find('.', 4) + 1);
      key += fmt::format(" {} {} N={}", dtype_name(n.src[0]->type), w, n.src[1] ? n.src[1]->ne[1] : 0);
      if (n.src[0]->flags & tf_weight) bytes = n.src[0]->nbytes();
    } else if (n.op == op::attention && n.src[1]) {
      key += fmt::format(" N={}", n.src[0]->ne[2]);
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto& e = rows_[key];
    e.count++;
    e.seconds += seconds;
    e.cpu_seconds += cpu_seconds;
    e.bytes += bytes;
  }
  void count_barriers(int64_t needed, int64_t nodes) {
    std::lock_guard<std::mutex> lock(mu_);
    barriers_ += needed;
    nodes_ += nodes;
    ++graphs_;
  }
  ~op_profile() {
    std::vector<std::pair<std::string, row>> v(rows_.begin(), rows_.end());
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
    double total = 0;
    for (auto& [k, r] : v) total += r.seconds;
    double total_cpu = 0;
    for (auto& [k, r] : v) total_cpu += r.cpu_seconds;
    std::fprintf(stderr, "\n%-48s %8s %10s %10s %9s %6s %8s\n", "op (HEARTH_PROFILE)", "count", "total ms", "cpu0 ms", "avg us", "%", "GB/s");
    for (auto& [k, r] : v)
      std::fprintf(stderr, "%-48s %8llu %10.2f %10.2f %9.1f %6.1f %8s\n", k.c_str(), (unsigned long long)r.count, r.seconds * 1e3,
                   r.cpu_seconds * 1e3, r.seconds * 1e6 / (double)r.count, 100.0 * r.seconds / total,
                   r.bytes ? fmt::format("{:.1f}", (double)r.bytes / r.seconds / 1e9).c_str() : "");
    std::fprintf(stderr, "%-48s %8s %10.2f %10.2f\n", "total", "", total * 1e3, total_cpu * 1e3);
    if (graphs_)
      std::fprintf(stderr, "%lld graphs: %.1f ops and %.1f barriers each (unprofiled runs; profiling waits after every op)\n",
                   (long long)graphs_, (double)nodes_ / (double)graphs_, (double)barriers_ / (double)graphs_);
  }

 private:
  struct row {
    uint64_t count = 0;
    double seconds = 0;
    double cpu_seconds = 0;  // thread 0's CPU time (with one thread: the op's cost whatever the load)
    uint64_t bytes = 0;
  };
  std::mutex mu_;
  std::map<std::string, row> rows_;
  int64_t barriers_ = 0, nodes_ = 0, graphs_ = 0;
};
// Printed when the program exits.
struct op_profile_printer {
  ~op_profile_printer() { delete op_profile::get(); }
} g_op_profile_printer;


// A small row lookup (the token embedding of a decode step whose layers run on a GPU) costs more
// to hand to the pool than to compute: waking the threads and meeting at the end take
// tens of microseconds on every token. It runs on the calling thread alone.
bool runs_inline(const std::vector<tensor*>& nodes) {
  int64_t elements = 0;
  for (const tensor* n : nodes) {
    if (n->op == op::view || n->op == op::none) continue;
    if (n->op != op::get_rows) return false;
    elements += n->nelements();
  }
  return elements <= 65536;
}

class cpu_stream final : public stream {
 public:
  cpu_stream(int n_threads, repack_cache* cache) : pool_(n_threads), cache_(cache) {}
  void set_threads(int n) { pool_.resize(n); }
  void compute(const std::vector<tensor*>& nodes) override {
    const int nth = pool_.size();
    size_t need = 0;
    // Work for the threads of lockstep ops and for the chunks of chunked ones.
    for (tensor* n : nodes) need = std::max({need, work_size(*n, nth), work_size(*n, chunks_for(nth))});
    if (work_.size() < need) work_.resize(need);
    uint8_t* work = work_.data();
    // Weights get their repacked copy the first time a product reads them (later runs only look up).
    for (tensor* n : nodes)
      if ((n->op == op::mul_mat || n->op == op::mul_mat_id) && (n->src[0]->flags & tf_weight)) cache_->prepare(*n->src[0], nth);
    op_profile* prof = op_profile::get();
    static std::atomic<uint64_t> passes{0};
    if (!prof && runs_inline(nodes)) {
      const compute_ctx one{0, 1, nullptr, work, need, cache_, ++passes};
      for (const step& st : plan_steps(nodes, 1)) compute_node(one, *nodes[(size_t)st.node]);
      return;
    }
    const std::vector<step> order = plan_steps(nodes, nth);
    compute_ctx base{0, nth, &pool_, work, need, cache_, ++passes};
    if (!prof) {
      runner_.run(pool_, nodes, order, base);
      return;
    }
    // Profiling: every op alone (lockstep, then a barrier), timed on thread 0.
    struct timing {
      cpu_stream* self;
      const std::vector<step>* order;
      std::chrono::steady_clock::time_point t0;
      double c0;
    } tm{this, &order, std::chrono::steady_clock::now(), thread_cpu_seconds()};
    times_.assign(nodes.size(), 0.0);
    cpu_times_.assign(nodes.size(), 0.0);
    runner_.run(pool_, nodes, order, base, [](void* user, size_t i) {
      auto* t = static_cast<timing*>(user);
      const auto t1 = std::chrono::steady_clock::now();
      const double c1 = thread_cpu_seconds();
      const size_t n = (size_t)(*t->order)[i].node;
      t->self->times_[n] = std::chrono::duration<double>(t1 - t->t0).count();
      t->self->cpu_times_[n] = c1 - t->c0;
      t->t0 = t1;
      t->c0 = c1;
    }, &tm);
    int64_t n_wait = 0;
    for (const auto& st : plan_steps(nodes, nth)) n_wait += st.wait;
    prof->count_barriers(n_wait, (int64_t)order.size());
    for (const auto& st : order) prof->add(*nodes[(size_t)st.node], times_[(size_t)st.node], cpu_times_[(size_t)st.node]);
  }

  void synchronize() override {}

 private:
  thread_pool pool_;
  std::vector<uint8_t> work_;
  step_runner runner_;
  std::vector<double> times_, cpu_times_;  // HEARTH_PROFILE: per node
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
