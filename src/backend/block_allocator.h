// Sub-allocation of device memory: small buffers are ranges of blocks of up to block_bytes (drivers
// cap the number of allocations and make each one slow), a large request gets a block of its own,
// and a block goes back to the driver as soon as its last range is released. Pure bookkeeping: the
// backend passes the functions that create and destroy real memory, so it is testable without one.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace hearth {

class block_allocator {
 public:
  // create(bytes) returns a handle to a new block of memory, or throws hearth::error (kind
  // out_of_memory when memory is short); destroy(handle) frees a block.
  using create_fn = std::function<void*(uint64_t bytes)>;
  using destroy_fn = std::function<void(void* handle)>;

  block_allocator(uint64_t block_bytes, create_fn create, destroy_fn destroy);
  ~block_allocator();  // destroys the blocks still held
  block_allocator(const block_allocator&) = delete;
  block_allocator& operator=(const block_allocator&) = delete;

  struct range {
    void* block = nullptr;  // the handle create() returned
    uint64_t offset = 0;    // inside the block, a multiple of the alignment asked for
    uint64_t size = 0;      // bytes reserved: the request rounded up to the alignment
    bool dedicated = false; // the block holds this range only
  };
  // alignment: a power of two (Vulkan's VkMemoryRequirements::alignment).
  // A request larger than an eighth of a block is dedicated: such buffers are few (weights packed
  // into large buffers, caches, compute buffers) and a shared block would hold memory they leave
  // unused, which the offload planner does not count. Smaller ones share blocks; a new block is the
  // full size only once smaller ones exist (the first is an eighth), so a small model holds little.
  // When a new block cannot be created for lack of memory, a block of just the request is tried
  // before the error is passed on.
  range allocate(uint64_t size, uint64_t alignment);
  void release(const range& r);

  struct stats {
    size_t n_blocks = 0;       // shared and dedicated
    size_t n_dedicated = 0;
    uint64_t reserved_bytes = 0;  // held from the driver
    uint64_t used_bytes = 0;      // in live ranges
  };
  stats get_stats() const;
  uint64_t block_bytes() const { return block_bytes_; }

 private:
  struct block {
    void* handle = nullptr;
    uint64_t size = 0;
    uint64_t used = 0;
    bool dedicated = false;
    std::vector<std::pair<uint64_t, uint64_t>> free;  // (offset, size), sorted, never adjacent
  };
  block& add_block(uint64_t bytes, bool dedicated);
  void drop_block(size_t i);

  uint64_t block_bytes_;
  create_fn create_;
  destroy_fn destroy_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<block>> blocks_;
};

}  // namespace hearth
