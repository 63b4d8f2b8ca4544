// Threaded drivers for the CPU matrix products, on top of the per-type kernels of qkernels.h. Every
// thread of a parallel region calls the same function with its index; the function packs that
// thread's share of the activation columns, waits on the barrier, then computes its share of rows.
// The CPU ops (mul_mat, mul_mat_id) are thin wrappers around these.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>

#include "backends/cpu/kernels/qkernels.h"

namespace hearth::cpu {

// C = W x B for one matrix (one batch slice of mul_mat).
struct matmul_desc {
  const mm_kernels* k = nullptr;
  const void* w = nullptr;  // plain GGUF rows: row m at w + m * ldw bytes
  size_t ldw = 0;
  const uint8_t* w_repacked = nullptr;  // or weights repacked by k->repack (then w, ldw are unused)
  int64_t M = 0, K = 0, N = 0;
  const float* b = nullptr;  // column n: K floats at (const uint8_t*)b + n * ldb
  size_t ldb = 0;            // bytes
  float* c = nullptr;        // C[m, n] at c + n * ldc + m
  size_t ldc = 0;            // floats
};

// Up to this many activation columns, every thread packs all of them into its own part of the work
// buffer and no barrier is needed (token generation: one barrier less per product).
constexpr int64_t k_private_pack_cols = 4;

// Bytes of the work buffer (shared by the nth threads) matmul needs.
size_t matmul_work_bytes(const mm_kernels& k, int64_t K, int64_t N, int nth);
// Thread ith of nth. `barrier` must wait for all nth threads; it is called once, or not at all when
// N <= k_private_pack_cols.
void matmul(const matmul_desc& d, int ith, int nth, uint8_t* work, const std::function<void()>& barrier);

// mul_mat_id: token t's slot j (j < n_used) multiplies expert ids[j, t] with activation column
// b[:, j % nb, t] into out[:, j, t]. Tokens routed to the same expert are batched into one product.
struct matmul_id_desc {
  const mm_kernels* k = nullptr;
  const void* w = nullptr;             // expert e, row m at w + e * ldw_expert + m * ldw
  size_t ldw = 0, ldw_expert = 0;
  const uint8_t* w_repacked = nullptr;  // or repacked experts, expert e at w_repacked + e * repacked_expert_bytes
  size_t repacked_expert_bytes = 0;
  int64_t n_expert = 0, M = 0, K = 0;
  int64_t n_used = 0, n_tokens = 0, nb = 1;
  const int32_t* ids = nullptr;  // ids[j, t] at ids + t * ld_ids + j (ints); out-of-range ids give zeros
  size_t ld_ids = 0;
  const float* b = nullptr;  // column (i, t): K floats at (const uint8_t*)b + i * ldb1 + t * ldb2
  size_t ldb1 = 0, ldb2 = 0;
  float* out = nullptr;      // out[:, j, t] at out + j * ldo1 + t * ldo2 (floats)
  size_t ldo1 = 0, ldo2 = 0;
};

size_t matmul_id_work_bytes(const mm_kernels& k, int64_t n_expert, int64_t K, int64_t M, int64_t n_used,
                            int64_t n_tokens, int nth);
// Calls barrier twice, or not at all when n_used * n_tokens <= 2 * k_private_pack_cols (then every
// thread routes and packs every column itself).
void matmul_id(const matmul_id_desc& d, int ith, int nth, uint8_t* work, const std::function<void()>& barrier);

}  // namespace hearth::cpu
