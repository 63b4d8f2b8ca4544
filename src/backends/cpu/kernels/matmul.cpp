#include "backends/cpu/kernels/matmul.h"

#include <algorithm>
#include <cstring>

namespace hearth::cpu {
namespace {

size_t align64(size_t x) { return (x + 63) / 64 * 64; }

// [begin, end) of n items for thread ith of nth, in units of `unit` items (the last share may be
// shorter).
void share(int64_t n, int64_t unit, int ith, int nth, int64_t& begin, int64_t& end) {
  const int64_t units = (n + unit - 1) / unit;
  const int64_t per = units / nth, extra = units % nth;
  const int64_t u0 = ith * per + std::min<int64_t>(ith, extra);
  const int64_t u1 = u0 + per + (ith < extra ? 1 : 0);
  begin = std::min(n, u0 * unit);
  end = std::min(n, u1 * unit);
}

void rows(const mm_kernels& k, const void* w, size_t ldw, const uint8_t* rw, int64_t M, int64_t K, int64_t m0, int64_t m1,
          const uint8_t* packed, int64_t N, float* c, size_t ldc, uint8_t* scratch) {
  if (m0 >= m1) return;
  if (rw) k.rows_repacked(rw, K, M, m0, m1, packed, N, c, ldc, scratch);
  else k.rows(w, ldw, K, m0, m1, packed, N, c, ldc, scratch);
}

}  // namespace

size_t matmul_work_bytes(const mm_kernels& k, int64_t K, int64_t N, int nth) {
  const size_t copies = N <= k_private_pack_cols ? (size_t)nth : 1;
  return copies * align64(k.act_bytes(K, N)) + (size_t)nth * align64(k.scratch_bytes(K, N));
}

void matmul(const matmul_desc& d, int ith, int nth, uint8_t* work, const std::function<void()>& barrier) {
  const mm_kernels& k = *d.k;
  const bool priv = d.N <= k_private_pack_cols;
  const size_t act = align64(k.act_bytes(d.K, d.N));
  uint8_t* packed = work + (priv ? act * (size_t)ith : 0);
  uint8_t* scratch = work + act * (priv ? (size_t)nth : 1) + (size_t)ith * align64(k.scratch_bytes(d.K, d.N));
  int64_t n0 = 0, n1 = d.N;
  if (!priv) share(d.N, 1, ith, nth, n0, n1);
  for (int64_t n = n0; n < n1; ++n)
    k.pack_act(reinterpret_cast<const float*>(reinterpret_cast<const uint8_t*>(d.b) + (size_t)n * d.ldb), d.K, n, d.N, packed);
  if (!priv) barrier();
  int64_t m0, m1;
  share(d.M, k.rows_per_panel, ith, nth, m0, m1);
  rows(k, d.w, d.ldw, d.w_repacked, d.M, d.K, m0, m1, packed, d.N, d.c, d.ldc, scratch);
}

// Work layout: routing (per-expert first column, per-expert packed-activation offset, fill cursors,
// the (token, slot) list sorted by expert), each expert's packed activation columns, an output block
// per routed column (M floats), then per-thread scratch.
namespace {
struct id_layout {
  size_t offsets, pack_off, cursor, pairs, packed, cbuf, scratch, scratch_each, total_bytes;
  id_layout(const mm_kernels& k, int64_t n_expert, int64_t K, int64_t M, int64_t total, int nth) {
    offsets = 0;
    pack_off = offsets + align64((size_t)(n_expert + 1) * 8);
    cursor = pack_off + align64((size_t)(n_expert + 1) * 8);
    pairs = cursor + align64((size_t)n_expert * 8);
    packed = pairs + align64((size_t)total * 8);
    // An expert with ne columns packs at most ne + 15 column slots (partial last group).
    cbuf = packed + k.act_bytes(K, 1) * (size_t)(total + 16 * n_expert) + 64 * (size_t)(n_expert + 1);
    scratch = cbuf + align64((size_t)M * (size_t)total * 4);
    scratch_each = align64(k.scratch_bytes(K, std::max<int64_t>(total, 1)));
    total_bytes = scratch + (size_t)nth * scratch_each;
  }
};

bool id_private(int64_t total) { return total <= 2 * k_private_pack_cols; }

}  // namespace

size_t matmul_id_work_bytes(const mm_kernels& k, int64_t n_expert, int64_t K, int64_t M, int64_t n_used,
                            int64_t n_tokens, int nth) {
  const int64_t total = n_used * n_tokens;
  const id_layout L(k, n_expert, K, M, total, nth);
  // Private mode: each thread has its own copy of everything before the scratch.
  return L.total_bytes + (id_private(total) ? (size_t)(nth - 1) * L.scratch : 0);
}

void matmul_id(const matmul_id_desc& d, int ith, int nth, uint8_t* work, const std::function<void()>& barrier) {
  const mm_kernels& k = *d.k;
  const int64_t total = d.n_used * d.n_tokens;
  const id_layout L(k, d.n_expert, d.K, d.M, total, nth);
  const bool priv = id_private(total);
  uint8_t* scratch = work + L.scratch * (priv ? (size_t)nth : 1) + (size_t)ith * L.scratch_each;
  if (priv) work += L.scratch * (size_t)ith;
  int64_t* offsets = reinterpret_cast<int64_t*>(work + L.offsets);  // first routed column of each expert
  size_t* pack_off = reinterpret_cast<size_t*>(work + L.pack_off);   // its packed activations
  int64_t* cursor = reinterpret_cast<int64_t*>(work + L.cursor);
  int64_t* pairs = reinterpret_cast<int64_t*>(work + L.pairs);       // t * n_used + j, grouped by expert
  uint8_t* packed = work + L.packed;
  float* cbuf = reinterpret_cast<float*>(work + L.cbuf);
  auto expert_of = [&](int64_t t, int64_t j) { return d.ids[(size_t)t * d.ld_ids + (size_t)j]; };
  if (ith == 0 || priv) {
    std::fill(offsets, offsets + d.n_expert + 1, 0);
    for (int64_t t = 0; t < d.n_tokens; ++t)
      for (int64_t j = 0; j < d.n_used; ++j) {
        const int32_t e = expert_of(t, j);
        if (e >= 0 && e < d.n_expert) ++offsets[e + 1];
      }
    pack_off[0] = 0;
    for (int64_t e = 0; e < d.n_expert; ++e) {
      offsets[e + 1] += offsets[e];
      const int64_t ne = offsets[e + 1] - offsets[e];
      pack_off[e + 1] = pack_off[e] + (ne ? align64(k.act_bytes(d.K, ne)) : 0);
    }
    std::copy(offsets, offsets + d.n_expert, cursor);
    for (int64_t t = 0; t < d.n_tokens; ++t)
      for (int64_t j = 0; j < d.n_used; ++j) {
        const int32_t e = expert_of(t, j);
        if (e >= 0 && e < d.n_expert) pairs[cursor[e]++] = t * d.n_used + j;
        else if (ith == 0) std::memset(d.out + (size_t)j * d.ldo1 + (size_t)t * d.ldo2, 0, (size_t)d.M * 4);
      }
  }
  if (!priv) barrier();
  // Pack: the routed columns split evenly over threads, each into its expert's layout.
  const int64_t routed = offsets[d.n_expert];
  int64_t c0 = 0, c1 = routed;
  if (!priv) share(routed, 1, ith, nth, c0, c1);
  int64_t e = 0;
  for (int64_t i = c0; i < c1; ++i) {
    while (offsets[e + 1] <= i) ++e;
    const int64_t t = pairs[i] / d.n_used, j = pairs[i] % d.n_used;
    const float* col = reinterpret_cast<const float*>(reinterpret_cast<const uint8_t*>(d.b) + (size_t)(j % d.nb) * d.ldb1 +
                                                      (size_t)t * d.ldb2);
    k.pack_act(col, d.K, i - offsets[e], offsets[e + 1] - offsets[e], packed + pack_off[e]);
  }
  if (!priv) barrier();
  // Rows: each expert's rows split over all threads (experts in turn), then scattered to out.
  int64_t m0, m1;
  share(d.M, k.rows_per_panel, ith, nth, m0, m1);
  if (m0 >= m1) return;
  for (int64_t x = 0; x < d.n_expert; ++x) {
    const int64_t ne = offsets[x + 1] - offsets[x];
    if (ne == 0) continue;
    float* c = cbuf + (size_t)offsets[x] * (size_t)d.M;
    const void* w = static_cast<const uint8_t*>(d.w) + (size_t)x * d.ldw_expert;
    const uint8_t* rw = d.w_repacked ? d.w_repacked + (size_t)x * d.repacked_expert_bytes : nullptr;
    rows(k, w, d.ldw, rw, d.M, d.K, m0, m1, packed + pack_off[x], ne, c, (size_t)d.M, scratch);
    for (int64_t i = 0; i < ne; ++i) {
      const int64_t t = pairs[offsets[x] + i] / d.n_used, j = pairs[offsets[x] + i] % d.n_used;
      std::memcpy(d.out + (size_t)j * d.ldo1 + (size_t)t * d.ldo2 + m0, c + (size_t)i * d.M + m0, (size_t)(m1 - m0) * 4);
    }
  }
}

}  // namespace hearth::cpu
