// The key/value cache: per layer, one K and one V row per cell, stored on the device of that layer.
// Cells carry a position and the set of sequences that can see them, so several conversations can
// share one cache (continuous batching) and a sequence can be trimmed or forked.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "core/tensor.h"
#include "model/batch.h"

namespace hearth {

class model;

class kv_cache {
 public:
  static constexpr int max_seqs = 64;

  // allocate false: the tensors sit on placeholder buffers (the planner's dry runs).
  kv_cache(const model& m, uint32_t n_ctx, dtype type_k, dtype type_v, bool allocate = true);

  uint32_t size() const { return (uint32_t)cells_.size(); }
  tensor* k(uint32_t il) { return &k_[il]; }  // [n_embd_k_gqa, n_ctx]
  tensor* v(uint32_t il) { return &v_[il]; }  // [n_embd_v_gqa, n_ctx]
  dtype type_k() const { return type_k_; }
  dtype type_v() const { return type_v_; }

  // Chooses cells for the tokens of ub (a contiguous free run when possible); throws
  // error_kind::out_of_memory when the cache is full. The cells are marked used.
  std::vector<int32_t> place(const ubatch& ub);
  // Cells to attend over for the next graph: [0, n_kv) covers every used cell (padded).
  uint32_t n_kv() const;
  // Fills mask [n_tokens rows of n_kv]: 0 where token t may attend cell j, -inf elsewhere. A
  // window > 0 also hides cells more than window-1 positions behind the token.
  void fill_mask(const ubatch& ub, uint32_t n_kv, uint32_t window, float* mask) const;

  // Frees cells returned by place() (a decode that failed).
  void release(const std::vector<int32_t>& slots);
  void clear();
  // Removes positions [p0, p1) of seq (p1 < 0: to the end; seq < 0: every sequence).
  void seq_rm(int32_t seq, int32_t p0, int32_t p1);
  void seq_cp(int32_t from, int32_t to, int32_t p0, int32_t p1);
  int32_t seq_pos_max(int32_t seq) const;  // -1 when empty
  uint32_t used() const;
  // Bytes of cache per device.
  std::vector<std::pair<device*, uint64_t>> bytes() const;
  // Bytes a cache of n_ctx cells needs per layer, for the planner.
  static uint64_t layer_bytes(const model& m, uint32_t il, uint32_t n_ctx, dtype type_k, dtype type_v);

 private:
  struct cell {
    int32_t pos = -1;
    uint64_t seqs = 0;
    bool used() const { return seqs != 0; }
  };
  std::vector<cell> cells_;
  std::deque<tensor> k_, v_;
  std::vector<std::unique_ptr<buffer>> buffers_;
  dtype type_k_, type_v_;
  uint32_t head_ = 0;  // where the next search starts
  uint32_t pad_ = 32;  // n_kv() granularity: 256 when a layer's cache is on a GPU
};

}  // namespace hearth
