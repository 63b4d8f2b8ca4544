// The CPU backend's matrix products and row lookups on hearth::tensor (semantics in core/tensor.h:
// mul_mat with batch broadcasting, mul_mat_id, get_rows), run by nth threads together on the fastest
// kernels this CPU has. Weights with a copy in a repack_cache are read from the copy.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>

#include "backends/cpu/kernels/qkernels.h"
#include "core/tensor.h"

namespace hearth::cpu {

// Repacked copies of weight tensors, keyed by the address of their bytes. Build them between graph
// runs (prepare() is not safe while ops read the cache); ops only call find().
class repack_cache {
 public:
  struct entry {
    const mm_kernels* k = nullptr;
    uint8_t* data = nullptr;
    size_t matrix_bytes = 0;  // one [K, M] matrix (3-D weights hold ne[2] * ne[3] of them)
  };
  repack_cache() = default;
  repack_cache(const repack_cache&) = delete;
  repack_cache& operator=(const repack_cache&) = delete;
  ~repack_cache() { clear(); }

  // Whether weights of type t have a repacked layout at the active level.
  static bool repackable(dtype t);
  // Makes w's repacked copy (w: a weight leaf with contiguous rows) unless it has one or its type
  // has no repacked layout; n_threads threads share the work. Returns whether w has a copy.
  bool prepare(const tensor& w, int n_threads = 1);
  const entry* find(const tensor& w) const;
  void erase(const void* data);
  // Drops the copies of every weight whose bytes start in [begin, begin + size) (a freed buffer).
  void erase_range(const void* begin, size_t size);
  void clear();
  size_t bytes() const { return bytes_; }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<const void*, entry> map_;
  size_t bytes_ = 0;
};

size_t mul_mat_work_bytes(const tensor& dst, int nth);
// pass: a number unique to this execution of the graph (0: none). With few activation columns,
// each thread then keeps the activations it packed and reuses them when the next products of the
// pass read the same tensor (q, k and v; gate and up; the chunks of one product).
void mul_mat(tensor& dst, int ith, int nth, uint8_t* work, const std::function<void()>& barrier,
             const repack_cache* cache = nullptr, uint64_t pass = 0);

size_t mul_mat_id_work_bytes(const tensor& dst, int nth);
void mul_mat_id(tensor& dst, int ith, int nth, uint8_t* work, const std::function<void()>& barrier,
                const repack_cache* cache = nullptr);

// No work buffer and no barrier: every thread dequantizes its share of the rows.
void get_rows(tensor& dst, int ith, int nth);

}  // namespace hearth::cpu
