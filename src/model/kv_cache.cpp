#include "model/kv_cache.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "core/error.h"
#include "model/model.h"

namespace hearth {

uint64_t kv_cache::layer_bytes(const model& m, uint32_t il, uint32_t n_ctx, dtype type_k, dtype type_v) {
  return row_bytes(type_k, m.hp.n_embd_k_gqa(il)) * (uint64_t)n_ctx + row_bytes(type_v, m.hp.n_embd_v_gqa(il)) * (uint64_t)n_ctx;
}

kv_cache::kv_cache(const model& m, uint32_t n_ctx, dtype type_k, dtype type_v, bool allocate) : type_k_(type_k), type_v_(type_v) {
  if (n_ctx == 0) fail(error_kind::invalid_argument, "context size must be positive");
  if ((type_k != dtype::f32 && type_k != dtype::f16) || (type_v != dtype::f32 && type_v != dtype::f16))
    fail(error_kind::invalid_argument, "KV cache types must be f32 or f16");
  cells_.resize(n_ctx);
  const hparams& hp = m.hp;
  // One buffer per device for the layers it holds.
  std::map<device*, std::vector<uint32_t>> by_dev;
  for (uint32_t il = 0; il < hp.n_layer; ++il) by_dev[m.place.layers[il]].push_back(il);
  for (const auto& [dev, layers] : by_dev)
    if (dev->kind() != device_kind::cpu) pad_ = 256;
  k_.resize(hp.n_layer);
  v_.resize(hp.n_layer);
  for (auto& [dev, layers] : by_dev) {
    buffer_type* bt = dev->default_buffer_type();
    const size_t align = bt->alignment();
    size_t total = 0;
    std::vector<size_t> offs;
    for (uint32_t il : layers) {
      for (int kv = 0; kv < 2; ++kv) {
        tensor& t = kv == 0 ? k_[il] : v_[il];
        t.type = kv == 0 ? type_k : type_v;
        t.ne[0] = kv == 0 ? hp.n_embd_k_gqa(il) : hp.n_embd_v_gqa(il);
        t.ne[1] = n_ctx;
        set_contiguous_strides(t);
        t.name = fmt::format("cache_{}_l{}", kv == 0 ? "k" : "v", il);
        total = (total + align - 1) / align * align;
        offs.push_back(total);
        total += bt->alloc_size(t);
      }
    }
    std::unique_ptr<buffer> buf;
    try {
      if (!allocate) buf = std::make_unique<placeholder_buffer>(bt, total);
      else buf = bt->allocate(total);
    } catch (const error& e) {
      fail(error_kind::out_of_memory, "{}: cannot allocate the {:.1f} MiB KV cache for {} cells: {}", dev->name(), total / 1048576.0,
           n_ctx, e.what());
    }
    buf->clear(0);
    size_t i = 0;
    for (uint32_t il : layers) {
      buf->place(k_[il], offs[i++]);
      buf->place(v_[il], offs[i++]);
    }
    buffers_.push_back(std::move(buf));
  }
}

std::vector<int32_t> kv_cache::place(const ubatch& ub) {
  const uint32_t n = (uint32_t)ub.size();
  const uint32_t size = this->size();
  if (n > size) fail(error_kind::out_of_memory, "a batch of {} tokens does not fit a context of {}", n, size);
  for (size_t i = ub.begin; i < ub.end; ++i)
    if (ub.b->seq[i] < 0 || ub.b->seq[i] >= max_seqs) fail(error_kind::invalid_argument, "sequence id {} out of range", ub.b->seq[i]);
  std::vector<int32_t> slots;
  // Prefer a contiguous run of free cells starting at head_ (then from 0).
  auto find_run = [&](uint32_t from) -> int64_t {
    uint32_t run = 0;
    for (uint32_t c = from; c < size; ++c) {
      run = cells_[c].used() ? 0 : run + 1;
      if (run == n) return (int64_t)c + 1 - n;
    }
    return -1;
  };
  int64_t start = find_run(head_);
  if (start < 0) start = find_run(0);
  if (start >= 0) {
    for (uint32_t i = 0; i < n; ++i) slots.push_back((int32_t)start + (int32_t)i);
  } else {
    for (uint32_t c = 0; c < size && slots.size() < n; ++c)
      if (!cells_[c].used()) slots.push_back((int32_t)c);
    if (slots.size() < n)
      fail(error_kind::out_of_memory, "the context is full ({} of {} cells used); start a new conversation or raise the context size", used(), size);
  }
  for (uint32_t i = 0; i < n; ++i) {
    cell& c = cells_[slots[i]];
    c.pos = ub.b->pos[ub.begin + i];
    c.seqs = 1ull << ub.b->seq[ub.begin + i];
  }
  head_ = (uint32_t)slots.back() + 1;
  if (head_ >= size) head_ = 0;
  return slots;
}

uint32_t kv_cache::n_kv() const {
  uint32_t last = 0;
  for (uint32_t c = 0; c < size(); ++c)
    if (cells_[c].used()) last = c + 1;
  // Padding keeps graph shapes stable across tokens: GPU backends reuse a recording until the
  // shape changes, and re-recording a GPU graph costs milliseconds of host time (~4 ms for an 8B
  // model through CUDA graphs), so when a layer's cache is on a GPU the step is 256 cells (reading
  // up to 255 masked cells costs microseconds there). On the CPU every cell read is paid: 32.
  return std::min(size(), std::max(pad_, (last + pad_ - 1) / pad_ * pad_));
}

void kv_cache::fill_mask(const ubatch& ub, uint32_t n_kv, uint32_t window, float* mask) const {
  const float ninf = -std::numeric_limits<float>::infinity();
  for (size_t t = 0; t < ub.size(); ++t) {
    const int32_t p = ub.b->pos[ub.begin + t];
    const uint64_t s = 1ull << ub.b->seq[ub.begin + t];
    float* row = mask + t * n_kv;
    for (uint32_t j = 0; j < n_kv; ++j) {
      const cell& c = cells_[j];
      bool visible = (c.seqs & s) && c.pos <= p;
      if (visible && window > 0 && p - c.pos >= (int32_t)window) visible = false;
      row[j] = visible ? 0.0f : ninf;
    }
  }
}

void kv_cache::release(const std::vector<int32_t>& slots) {
  for (int32_t s : slots)
    if (s >= 0 && (uint32_t)s < size()) cells_[s] = cell{};
}

void kv_cache::clear() {
  for (cell& c : cells_) c = cell{};
  head_ = 0;
}

void kv_cache::seq_rm(int32_t seq, int32_t p0, int32_t p1) {
  if (p1 < 0) p1 = std::numeric_limits<int32_t>::max();
  for (uint32_t i = 0; i < size(); ++i) {
    cell& c = cells_[i];
    if (!c.used() || c.pos < p0 || c.pos >= p1) continue;
    if (seq < 0) c.seqs = 0;
    else c.seqs &= ~(1ull << seq);
    if (!c.used()) {
      c.pos = -1;
      if (i < head_) head_ = i;
    }
  }
}

void kv_cache::seq_cp(int32_t from, int32_t to, int32_t p0, int32_t p1) {
  if (p1 < 0) p1 = std::numeric_limits<int32_t>::max();
  for (cell& c : cells_)
    if ((c.seqs & (1ull << from)) && c.pos >= p0 && c.pos < p1) c.seqs |= 1ull << to;
}

int32_t kv_cache::seq_pos_max(int32_t seq) const {
  int32_t m = -1;
  for (const cell& c : cells_)
    if (c.seqs & (1ull << seq)) m = std::max(m, c.pos);
  return m;
}

uint32_t kv_cache::used() const {
  uint32_t n = 0;
  for (const cell& c : cells_) n += c.used();
  return n;
}

std::vector<std::pair<device*, uint64_t>> kv_cache::bytes() const {
  std::vector<std::pair<device*, uint64_t>> out;
  for (const auto& b : buffers_) out.emplace_back(b->dev(), b->size());
  return out;
}

}  // namespace hearth
