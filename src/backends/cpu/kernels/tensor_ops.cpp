#include "backends/cpu/kernels/tensor_ops.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "backends/cpu/kernels/matmul.h"
#include "core/error.h"

namespace hearth::cpu {
namespace {

size_t align64(size_t x) { return (x + 63) / 64 * 64; }

// Repacked weights are streamed once per token: large ones go on 2 MiB pages, so the hardware
// prefetchers are not stopped at every 4 KiB page boundary and the TLB covers the whole stream.
void* alloc_weights(size_t bytes) {
  constexpr size_t huge = size_t(2) << 20;
  if (bytes < 2 * huge) return std::aligned_alloc(64, align64(std::max<size_t>(bytes, 64)));
  const size_t n = (bytes + huge - 1) / huge * huge;
  void* p = std::aligned_alloc(huge, n);
  if (p) ::madvise(p, n, MADV_HUGEPAGE);
  return p;
}

const uint8_t* raw(const tensor& t) { return static_cast<const uint8_t*>(t.data); }
uint8_t* raw(tensor& t) { return static_cast<uint8_t*>(t.data); }

void check_rows_contiguous(const tensor& t, const char* op, const char* what) {
  const size_t es = t.type == dtype::f32 ? 4 : 0;
  if (es && t.nb[0] != es) fail("{}: {} {} must have contiguous rows", op, what, t.shape_str());
}

}  // namespace

// ---- repack cache ----------------------------------------------------------------------------------

bool repack_cache::repackable(dtype t) { return has_kernels(t) && kernels_for_type(t).repack != nullptr; }

bool repack_cache::prepare(const tensor& w, int n_threads) {
  if (!repackable(w.type) || !w.data) return false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (map_.count(w.data)) return true;
  }
  const mm_kernels& k = kernels_for_type(w.type);
  const int64_t K = w.ne[0], M = w.ne[1], n_mat = w.ne[2] * w.ne[3];
  if (K % block_size(w.type) != 0) return false;
  const size_t per = k.repacked_bytes(M, K);
  const size_t total = (per * (size_t)n_mat + 63) / 64 * 64;
  auto* data = static_cast<uint8_t*>(alloc_weights(total));
  if (!data) fail(error_kind::out_of_memory, "cpu: cannot allocate {:.1f} MiB for repacked weights {}", total / 1048576.0, w.name);
  const int64_t panels = (M + k.rows_per_panel - 1) / k.rows_per_panel;
  const int nth = (int)std::max<int64_t>(1, std::min<int64_t>(n_threads, panels * n_mat));
  auto work = [&](int ith) {
    std::vector<uint8_t> scratch(k.repack_scratch_bytes(K));
    for (int64_t mat = 0; mat < n_mat; ++mat) {
      const int64_t i2 = mat % w.ne[2], i3 = mat / w.ne[2];
      const uint8_t* src = raw(w) + (size_t)i2 * w.nb[2] + (size_t)i3 * w.nb[3];
      const int64_t per_thread = (panels + nth - 1) / nth;
      const int64_t m0 = std::min(M, per_thread * ith * k.rows_per_panel);
      const int64_t m1 = std::min(M, per_thread * (ith + 1) * k.rows_per_panel);
      if (m0 < m1) k.repack(src, w.nb[1], M, K, m0, m1, data + per * (size_t)mat, scratch.data());
    }
  };
  std::vector<std::thread> threads;
  for (int i = 1; i < nth; ++i) threads.emplace_back(work, i);
  work(0);
  for (auto& t : threads) t.join();
  std::lock_guard<std::mutex> lock(mutex_);
  auto [it, inserted] = map_.emplace(w.data, entry{&k, data, per});
  if (!inserted) std::free(data);
  else bytes_ += total;
  return true;
}

const repack_cache::entry* repack_cache::find(const tensor& w) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = map_.find(w.data);
  return it == map_.end() ? nullptr : &it->second;
}

void repack_cache::erase(const void* data) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = map_.find(data);
  if (it == map_.end()) return;
  std::free(it->second.data);
  map_.erase(it);
}

void repack_cache::erase_range(const void* begin, size_t size) {
  const auto lo = reinterpret_cast<uintptr_t>(begin), hi = lo + size;
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = map_.begin(); it != map_.end();) {
    const auto p = reinterpret_cast<uintptr_t>(it->first);
    if (p >= lo && p < hi) {
      std::free(it->second.data);
      it = map_.erase(it);
    } else {
      ++it;
    }
  }
}

void repack_cache::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [p, e] : map_) std::free(e.data);
  map_.clear();
  bytes_ = 0;
}

// ---- mul_mat ---------------------------------------------------------------------------------------
// Work: the packed activations of every batch (all packed before the one barrier; with few columns
// in all, each thread packs its own copy and there is no barrier), then per-thread scratch.

namespace {
struct mm_layout {
  size_t act, copies, scratch_each, scratch, total;
  mm_layout(const mm_kernels& k, int64_t K, int64_t N, int64_t batches, int nth) {
    act = align64(k.act_bytes(K, N));
    copies = batches * N <= k_private_pack_cols ? (size_t)nth : 1;
    scratch_each = align64(k.scratch_bytes(K, N));
    scratch = act * (size_t)batches * copies;
    total = scratch + scratch_each * (size_t)nth;
  }
};
}  // namespace

size_t mul_mat_work_bytes(const tensor& dst, int nth) {
  const tensor& a = *dst.src[0];
  const tensor& b = *dst.src[1];
  return mm_layout(kernels_for_type(a.type), a.ne[0], b.ne[1], b.ne[2] * b.ne[3], nth).total;
}

namespace {
// The activations this thread packed last (private mode), and for which tensor of which pass.
struct packed_memo {
  const tensor* src = nullptr;
  uint64_t pass = 0;
  const mm_kernels* k = nullptr;
  int64_t K = 0, N = 0, batches = 0;
  std::vector<uint8_t> buf;
};
thread_local packed_memo t_packed;
}  // namespace

void mul_mat(tensor& dst, int ith, int nth, uint8_t* work, const std::function<void()>& barrier, const repack_cache* cache,
             uint64_t pass) {
  const tensor& a = *dst.src[0];
  const tensor& b = *dst.src[1];
  const mm_kernels& k = kernels_for_type(a.type);
  check_rows_contiguous(b, "mul_mat", "activations");
  check_rows_contiguous(dst, "mul_mat", "result");
  const int64_t K = a.ne[0], M = a.ne[1], N = b.ne[1];
  const int64_t r2 = b.ne[2] / a.ne[2], r3 = b.ne[3] / a.ne[3];
  const int64_t batches = b.ne[2] * b.ne[3];
  const mm_layout L(k, K, N, batches, nth);
  const bool priv = L.copies > 1;
  uint8_t* packed = work + (priv ? L.act * (size_t)batches * (size_t)ith : 0);
  uint8_t* scratch = work + L.scratch + L.scratch_each * (size_t)ith;
  const repack_cache::entry* rp = cache ? cache->find(a) : nullptr;
  if (rp && rp->k != &k) rp = nullptr;  // packed for another level
  // Pack every column of every batch (split over the threads, or all of them by each thread).
  const int64_t cols = batches * N;
  const int64_t per = priv ? cols : (cols + nth - 1) / nth;
  int64_t c0 = priv ? 0 : per * ith;
  if (priv && pass != 0) {
    packed_memo& m = t_packed;
    if (m.src == &b && m.pass == pass && m.k == &k && m.K == K && m.N == N && m.batches == batches) {
      c0 = cols;  // already packed by this thread
    } else {
      m = packed_memo{&b, pass, &k, K, N, batches, std::move(m.buf)};
      if (m.buf.size() < L.act * (size_t)batches) m.buf.resize(L.act * (size_t)batches);
    }
    packed = m.buf.data();
  }
  for (int64_t i = c0; i < std::min(cols, c0 + per); ++i) {
    const int64_t bi = i / N, n = i % N, i2 = bi % b.ne[2], i3 = bi / b.ne[2];
    const float* col = reinterpret_cast<const float*>(raw(b) + (size_t)n * b.nb[1] + (size_t)i2 * b.nb[2] + (size_t)i3 * b.nb[3]);
    k.pack_act(col, K, n, N, packed + L.act * (size_t)bi);
  }
  if (!priv) barrier();
  const int64_t rpp = k.rows_per_panel;
  const int64_t panels = (M + rpp - 1) / rpp;
  const int64_t pp = panels / nth, extra = panels % nth;
  const int64_t p0 = ith * pp + std::min<int64_t>(ith, extra), p1 = p0 + pp + (ith < extra ? 1 : 0);
  const int64_t m0 = std::min(M, p0 * rpp), m1 = std::min(M, p1 * rpp);
  if (m0 >= m1) return;
  for (int64_t bi = 0; bi < batches; ++bi) {
    const int64_t i2 = bi % b.ne[2], i3 = bi / b.ne[2];
    const int64_t j2 = i2 / r2, j3 = i3 / r3;
    float* c = reinterpret_cast<float*>(raw(dst) + (size_t)i2 * dst.nb[2] + (size_t)i3 * dst.nb[3]);
    const uint8_t* w = raw(a) + (size_t)j2 * a.nb[2] + (size_t)j3 * a.nb[3];
    const uint8_t* rw = rp ? rp->data + rp->matrix_bytes * (size_t)(j2 + a.ne[2] * j3) : nullptr;
    const uint8_t* act = packed + L.act * (size_t)bi;
    if (rw) k.rows_repacked(rw, K, M, m0, m1, act, N, c, dst.nb[1] / 4, scratch);
    else k.rows(w, a.nb[1], K, m0, m1, act, N, c, dst.nb[1] / 4, scratch);
  }
}

// ---- mul_mat_id ------------------------------------------------------------------------------------

size_t mul_mat_id_work_bytes(const tensor& dst, int nth) {
  const tensor& a = *dst.src[0];
  const tensor& ids = *dst.src[2];
  return matmul_id_work_bytes(kernels_for_type(a.type), a.ne[2], a.ne[0], a.ne[1], ids.ne[0], ids.ne[1], nth);
}

void mul_mat_id(tensor& dst, int ith, int nth, uint8_t* work, const std::function<void()>& barrier, const repack_cache* cache) {
  const tensor& a = *dst.src[0];
  const tensor& b = *dst.src[1];
  const tensor& ids = *dst.src[2];
  check_rows_contiguous(b, "mul_mat_id", "activations");
  check_rows_contiguous(dst, "mul_mat_id", "result");
  if (ids.nb[0] != 4) fail("mul_mat_id: expert ids {} must be contiguous", ids.shape_str());
  const mm_kernels& k = kernels_for_type(a.type);
  const repack_cache::entry* rp = cache ? cache->find(a) : nullptr;
  if (rp && rp->k != &k) rp = nullptr;
  matmul_id_desc d;
  d.k = &k;
  d.w = a.data;
  d.ldw = a.nb[1];
  d.ldw_expert = a.nb[2];
  d.w_repacked = rp ? rp->data : nullptr;
  d.repacked_expert_bytes = rp ? rp->matrix_bytes : 0;
  d.n_expert = a.ne[2];
  d.M = a.ne[1];
  d.K = a.ne[0];
  d.n_used = ids.ne[0];
  d.n_tokens = ids.ne[1];
  d.nb = b.ne[1];
  d.ids = reinterpret_cast<const int32_t*>(ids.data);
  d.ld_ids = ids.nb[1] / 4;
  d.b = reinterpret_cast<const float*>(b.data);
  d.ldb1 = b.nb[1];
  d.ldb2 = b.nb[2];
  d.out = reinterpret_cast<float*>(dst.data);
  d.ldo1 = dst.nb[1] / 4;
  d.ldo2 = dst.nb[2] / 4;
  matmul_id(d, ith, nth, work, barrier);
}

// ---- get_rows --------------------------------------------------------------------------------------

void get_rows(tensor& dst, int ith, int nth) {
  const tensor& table = *dst.src[0];
  const tensor& ids = *dst.src[1];
  const mm_kernels& k = kernels_for_type(table.type);
  const int64_t m = dst.ne[1];
  const int64_t per = (m + nth - 1) / nth;
  for (int64_t i = per * ith; i < std::min(m, per * (ith + 1)); ++i) {
    int32_t id;
    std::memcpy(&id, raw(ids) + (size_t)i * ids.nb[0], 4);
    float* out = reinterpret_cast<float*>(raw(dst) + (size_t)i * dst.nb[1]);
    if (id < 0 || id >= table.ne[1]) {  // ids are validated upstream; never read outside the table
      std::memset(out, 0, (size_t)dst.ne[0] * 4);
      continue;
    }
    k.dequantize(raw(table) + (size_t)id * table.nb[1], out, table.ne[0]);
  }
}

}  // namespace hearth::cpu
