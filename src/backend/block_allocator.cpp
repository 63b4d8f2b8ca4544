#include "backend/block_allocator.h"

#include <algorithm>
#include <limits>

#include "core/error.h"

namespace hearth {

namespace {
uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }
}  // namespace

block_allocator::block_allocator(uint64_t block_bytes, create_fn create, destroy_fn destroy)
    : block_bytes_(block_bytes), create_(std::move(create)), destroy_(std::move(destroy)) {
  if (block_bytes_ == 0) fail(error_kind::invalid_argument, "block allocator: the block size must not be zero");
}

block_allocator::~block_allocator() {
  for (auto& b : blocks_) destroy_(b->handle);
}

block_allocator::block& block_allocator::add_block(uint64_t bytes, bool dedicated) {
  auto b = std::make_unique<block>();
  b->handle = create_(bytes);
  b->size = bytes;
  b->dedicated = dedicated;
  b->free.emplace_back(0, bytes);
  blocks_.push_back(std::move(b));
  return *blocks_.back();
}

void block_allocator::drop_block(size_t i) {
  destroy_(blocks_[i]->handle);
  blocks_.erase(blocks_.begin() + (long)i);
}

block_allocator::range block_allocator::allocate(uint64_t size, uint64_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0)
    fail(error_kind::invalid_argument, "block allocator: alignment {} is not a power of two", alignment);
  if (size > std::numeric_limits<uint64_t>::max() - alignment)
    fail(error_kind::out_of_memory, "block allocator: a request of {} bytes cannot be met", size);
  size = align_up(std::max<uint64_t>(size, 1), alignment);
  std::lock_guard<std::mutex> lock(mutex_);

  auto take = [&](block& b, size_t fi, uint64_t at) {
    const auto [off, len] = b.free[fi];
    b.free.erase(b.free.begin() + (long)fi);
    // What is left before and after the range stays free (in offset order).
    if (at + size < off + len) b.free.insert(b.free.begin() + (long)fi, {at + size, off + len - at - size});
    if (at > off) b.free.insert(b.free.begin() + (long)fi, {off, at - off});
    b.used += size;
    return range{b.handle, at, size, b.dedicated};
  };

  if (size > block_bytes_ / 8) {
    block& b = add_block(size, true);
    return take(b, 0, 0);
  }
  // Best fit over the free ranges of the shared blocks: the smallest one the request fits keeps
  // large holes for large requests.
  block* best = nullptr;
  size_t best_i = 0;
  uint64_t best_at = 0, best_len = 0;
  for (auto& bp : blocks_) {
    if (bp->dedicated) continue;
    for (size_t i = 0; i < bp->free.size(); ++i) {
      const auto [off, len] = bp->free[i];
      const uint64_t at = align_up(off, alignment);
      if (at + size > off + len) continue;
      if (!best || len < best_len) {
        best = bp.get();
        best_i = i;
        best_at = at;
        best_len = len;
      }
    }
  }
  if (best) return take(*best, best_i, best_at);
  // A new block: halved (at most three times) while still larger than every shared block held and
  // at least twice the request.
  uint64_t largest = 0;
  for (auto& bp : blocks_)
    if (!bp->dedicated) largest = std::max(largest, bp->size);
  uint64_t bytes = block_bytes_;
  for (int i = 0; i < 3 && bytes / 2 > largest && bytes / 2 >= 2 * size; ++i) bytes /= 2;
  try {
    block& b = add_block(bytes, false);
    return take(b, 0, 0);
  } catch (const error& e) {
    if (e.kind() != error_kind::out_of_memory || size == bytes) throw;
  }
  // No room for a whole block: the request alone may still fit.
  block& b = add_block(size, true);
  return take(b, 0, 0);
}

void block_allocator::release(const range& r) {
  if (!r.block) return;
  std::lock_guard<std::mutex> lock(mutex_);
  size_t bi = 0;
  while (bi < blocks_.size() && blocks_[bi]->handle != r.block) ++bi;
  HEARTH_ASSERT(bi < blocks_.size());
  block& b = *blocks_[bi];
  HEARTH_ASSERT(r.offset + r.size <= b.size && r.size <= b.used);
  auto it = std::lower_bound(b.free.begin(), b.free.end(), std::make_pair(r.offset, uint64_t(0)));
  // A range released twice (or never handed out) overlaps a free one.
  HEARTH_ASSERT(it == b.free.end() || r.offset + r.size <= it->first);
  HEARTH_ASSERT(it == b.free.begin() || std::prev(it)->first + std::prev(it)->second <= r.offset);
  b.used -= r.size;
  if (b.used == 0) {
    drop_block(bi);
    return;
  }
  it = b.free.insert(it, {r.offset, r.size});
  if (std::next(it) != b.free.end() && it->first + it->second == std::next(it)->first) {
    it->second += std::next(it)->second;
    b.free.erase(std::next(it));
  }
  if (it != b.free.begin() && std::prev(it)->first + std::prev(it)->second == it->first) {
    std::prev(it)->second += it->second;
    b.free.erase(it);
  }
}

block_allocator::stats block_allocator::get_stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  stats s;
  for (const auto& b : blocks_) {
    ++s.n_blocks;
    s.n_dedicated += b->dedicated;
    s.reserved_bytes += b->size;
    s.used_bytes += b->used;
  }
  return s;
}

}  // namespace hearth
