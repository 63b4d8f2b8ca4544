#include "hw/mem_bandwidth.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "core/error.h"

namespace hearth::hw {

namespace {

using clock_type = std::chrono::steady_clock;

// Sums 64-byte lines with eight independent 64-bit lanes: the loads are the only work, and the
// sum is returned so the compiler cannot drop them.
#if defined(__x86_64__)
__attribute__((target("avx2"))) uint64_t read_avx2(const uint64_t* p, size_t n) {
  typedef unsigned long long v4 __attribute__((vector_size(32)));  // unsigned: the sums wrap
  v4 a = {0, 0, 0, 0}, b = a, c = a, d = a;
  const v4* v = reinterpret_cast<const v4*>(p);
  const size_t nv = n / 4;
  for (size_t i = 0; i + 8 <= nv; i += 8) {
    a += v[i] + v[i + 4];
    b += v[i + 1] + v[i + 5];
    c += v[i + 2] + v[i + 6];
    d += v[i + 3] + v[i + 7];
  }
  const v4 s = a + b + c + d;
  return (uint64_t)(s[0] + s[1] + s[2] + s[3]);
}
#endif

uint64_t read_generic(const uint64_t* p, size_t n) {
  uint64_t s[8] = {};
  for (size_t i = 0; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) s[j] += p[i + j];
  uint64_t t = 0;
  for (uint64_t x : s) t += x;
  return t;
}

uint64_t read_slice(const uint64_t* p, size_t n) {
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) return read_avx2(p, n);
#endif
  return read_generic(p, n);
}

}  // namespace

bandwidth_result measure_read_bandwidth(int n_threads, size_t bytes, int passes) {
  n_threads = std::max(1, n_threads);
  passes = std::max(1, passes);
  // Slices of whole 4 KiB pages, one per thread.
  const size_t slice = std::max<size_t>(4096, bytes / (size_t)n_threads / 4096 * 4096);
  bytes = slice * (size_t)n_threads;
  void* mem = std::aligned_alloc(2 << 20, (bytes + (2 << 20) - 1) / (2 << 20) * (2 << 20));
  if (!mem) fail(error_kind::out_of_memory, "memory bandwidth test: cannot allocate {} MiB", bytes >> 20);
  std::unique_ptr<void, void (*)(void*)> hold(mem, std::free);
  ::madvise(mem, bytes, MADV_HUGEPAGE);
  auto* base = static_cast<uint8_t*>(mem);

  std::vector<double> seconds((size_t)passes);
  std::atomic<uint64_t> sink{0};
  clock_type::time_point t0;
  int pass = -1;  // -1: first touch
  std::barrier sync(n_threads, [&]() noexcept {
    const auto now = clock_type::now();
    if (pass >= 0) seconds[(size_t)pass] = std::chrono::duration<double>(now - t0).count();
    ++pass;
    t0 = clock_type::now();
  });
  auto work = [&](int ith) {
    uint8_t* p = base + slice * (size_t)ith;
    std::memset(p, ith + 1, slice);  // each thread touches its own pages (local NUMA node)
    sync.arrive_and_wait();
    uint64_t s = 0;
    for (int i = 0; i < passes; ++i) {
      s += read_slice(reinterpret_cast<const uint64_t*>(p), slice / 8);
      sync.arrive_and_wait();
    }
    sink += s;
  };
  std::vector<std::thread> th;
  for (int i = 1; i < n_threads; ++i) th.emplace_back(work, i);
  work(0);
  for (auto& t : th) t.join();

  bandwidth_result r;
  r.n_threads = n_threads;
  r.buffer_bytes = bytes;
  double best = 1e30, sum = 0;
  for (double s : seconds) {
    best = std::min(best, s);
    sum += s;
  }
  r.bytes_per_s = (double)bytes / best;
  r.mean_bytes_per_s = (double)bytes * passes / sum;
  if (sink.load() == 42) r.bytes_per_s += 0;  // keep the reads
  return r;
}

}  // namespace hearth::hw
