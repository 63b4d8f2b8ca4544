// The block allocator on its own (no device): small ranges share blocks (the first ones smaller
// than the full size), respect alignment, reuse freed space; large requests get their own block,
// empty blocks go back at once, out-of-memory is passed on after a block of just the request was
// tried.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "backend/block_allocator.h"
#include "core/error.h"

namespace hearth::test {
namespace {

// Fake memory: counts the blocks made and freed, refuses beyond a limit as a driver would.
struct fake_memory {
  uint64_t limit = UINT64_MAX;
  uint64_t held = 0;
  int n_created = 0, n_destroyed = 0;
  std::vector<uint64_t> created_sizes;
  std::map<void*, uint64_t> live;

  block_allocator make(uint64_t block_bytes) {
    return block_allocator(
        block_bytes,
        [this](uint64_t n) -> void* {
          if (held + n > limit) fail(error_kind::out_of_memory, "fake: out of memory");
          void* h = new char;
          live[h] = n;
          held += n;
          ++n_created;
          created_sizes.push_back(n);
          return h;
        },
        [this](void* h) {
          auto it = live.find(h);
          ASSERT_NE(it, live.end()) << "destroyed a block that was never made";
          held -= it->second;
          live.erase(it);
          ++n_destroyed;
          delete static_cast<char*>(h);
        });
  }
};

constexpr uint64_t MiB = 1 << 20;

TEST(BlockAllocator, SmallRequestsShareOneBlock) {
  fake_memory fm;
  auto a = fm.make(MiB);
  std::vector<block_allocator::range> rs;
  for (int i = 0; i < 10; ++i) rs.push_back(a.allocate(1000, 256));
  EXPECT_EQ(fm.n_created, 1);
  EXPECT_EQ(fm.created_sizes[0], MiB / 8) << "the first block is an eighth of the full size";
  for (size_t i = 0; i < rs.size(); ++i) {
    EXPECT_EQ(rs[i].block, rs[0].block);
    EXPECT_EQ(rs[i].offset % 256, 0u);
    EXPECT_EQ(rs[i].size, 1024u);
    EXPECT_FALSE(rs[i].dedicated);
    for (size_t j = 0; j < i; ++j) EXPECT_TRUE(rs[i].offset + rs[i].size <= rs[j].offset || rs[j].offset + rs[j].size <= rs[i].offset);
  }
  const auto s = a.get_stats();
  EXPECT_EQ(s.n_blocks, 1u);
  EXPECT_EQ(s.reserved_bytes, MiB / 8);
  EXPECT_EQ(s.used_bytes, 10 * 1024u);
}

TEST(BlockAllocator, AlignmentPaddingIsReused) {
  fake_memory fm;
  auto a = fm.make(MiB);
  const auto r1 = a.allocate(100, 16);
  const auto r2 = a.allocate(10, 4096);
  EXPECT_EQ(r1.offset, 0u);
  EXPECT_EQ(r1.size, 112u);
  EXPECT_EQ(r2.offset, 4096u);
  // The padding between the two is a free range: a small request lands there.
  const auto r3 = a.allocate(64, 16);
  EXPECT_EQ(r3.offset, 112u);
  EXPECT_EQ(fm.n_created, 1);
}

TEST(BlockAllocator, LargeRequestsAreDedicatedAndFreedAtOnce) {
  fake_memory fm;
  auto a = fm.make(MiB);
  const auto small = a.allocate(4096, 256);
  const auto big = a.allocate(3 * MiB + 5, 256);
  EXPECT_TRUE(big.dedicated);
  EXPECT_EQ(big.offset, 0u);
  EXPECT_EQ(big.size, 3 * MiB + 256);
  EXPECT_NE(big.block, small.block);
  EXPECT_EQ(fm.created_sizes.back(), 3 * MiB + 256);
  // Above an eighth of a block: dedicated too; an eighth exactly is shared.
  const auto over = a.allocate(MiB / 8 + 1, 256);
  EXPECT_TRUE(over.dedicated);
  EXPECT_EQ(fm.created_sizes.back(), MiB / 8 + 256);
  const auto eighth = a.allocate(MiB / 8, 256);
  EXPECT_FALSE(eighth.dedicated);
  EXPECT_EQ(a.get_stats().n_dedicated, 2u);
  a.release(over);
  a.release(big);
  EXPECT_EQ(fm.n_destroyed, 2);
  EXPECT_EQ(a.get_stats().n_dedicated, 0u);
  // Nothing else lands in a dedicated block: the next small request goes to the shared block.
  const auto next = a.allocate(100, 4);
  EXPECT_EQ(next.block, small.block);
}

TEST(BlockAllocator, EmptyBlocksGoBackAtOnce) {
  fake_memory fm;
  auto a = fm.make(MiB);
  std::vector<block_allocator::range> first, second;
  for (int i = 0; i < 4; ++i) first.push_back(a.allocate(MiB / 32, 256));
  for (int i = 0; i < 2; ++i) second.push_back(a.allocate(MiB / 32, 256));
  // The first block (an eighth) holds four; the next is larger than it, up to the full size.
  EXPECT_EQ(fm.n_created, 2);
  EXPECT_EQ(fm.created_sizes[0], MiB / 8);
  EXPECT_EQ(fm.created_sizes[1], MiB / 4);
  EXPECT_NE(first[0].block, second[0].block);
  for (size_t i = 0; i + 1 < first.size(); ++i) a.release(first[i]);
  EXPECT_EQ(fm.n_destroyed, 0);
  a.release(first.back());
  EXPECT_EQ(fm.n_destroyed, 1);
  EXPECT_EQ(fm.held, MiB / 4);
  EXPECT_EQ(a.get_stats().n_blocks, 1u);
  for (auto& r : second) a.release(r);
  EXPECT_EQ(fm.n_destroyed, 2);
  EXPECT_EQ(fm.held, 0u);
  EXPECT_EQ(a.get_stats().reserved_bytes, 0u);
}

TEST(BlockAllocator, BlocksGrowToTheFullSize) {
  fake_memory fm;
  auto a = fm.make(MiB);
  std::vector<block_allocator::range> r;
  for (int i = 0; i < 40; ++i) r.push_back(a.allocate(MiB / 16, 256));
  ASSERT_GE(fm.created_sizes.size(), 5u);
  EXPECT_EQ(fm.created_sizes[0], MiB / 8);
  EXPECT_EQ(fm.created_sizes[1], MiB / 4);
  EXPECT_EQ(fm.created_sizes[2], MiB / 2);
  EXPECT_EQ(fm.created_sizes[3], MiB);
  EXPECT_EQ(fm.created_sizes[4], MiB);
  EXPECT_EQ(a.get_stats().n_dedicated, 0u);
}

TEST(BlockAllocator, NeighbouringFreeRangesMerge) {
  fake_memory fm;
  auto a = fm.make(8192);
  std::vector<block_allocator::range> r;
  for (int i = 0; i < 4; ++i) r.push_back(a.allocate(256, 256));
  a.release(r[2]);
  a.release(r[1]);
  // 512 bytes fit only where the two freed ranges were merged.
  const auto m = a.allocate(512, 256);
  EXPECT_EQ(m.block, r[0].block);
  EXPECT_EQ(m.offset, 256u);
  EXPECT_EQ(fm.n_created, 1);
}

TEST(BlockAllocator, SmallestFittingHoleIsChosen) {
  fake_memory fm;
  auto a = fm.make(32768);
  std::vector<block_allocator::range> r;
  for (int i = 0; i < 8; ++i) r.push_back(a.allocate(512, 256));
  a.release(r[1]);  // a 512-byte hole at 512
  a.release(r[4]);
  a.release(r[5]);  // a 1024-byte hole at 2048
  const auto x = a.allocate(400, 256);
  EXPECT_EQ(x.offset, 512u);
  const auto y = a.allocate(1000, 8);
  EXPECT_EQ(y.offset, 2048u);
  EXPECT_EQ(fm.n_created, 1);
}

TEST(BlockAllocator, OutOfMemoryTriesTheRequestAloneThenFails) {
  fake_memory fm;
  fm.limit = 2 * MiB + 300 * 1024;
  auto a = fm.make(8 * MiB);
  const auto r1 = a.allocate(MiB, 256);
  const auto r2 = a.allocate(MiB, 256);
  EXPECT_EQ(fm.created_sizes, std::vector<uint64_t>{2 * MiB});
  // No room for a second block, but 200 KiB alone fit.
  const auto r3 = a.allocate(200 * 1024, 256);
  EXPECT_TRUE(r3.dedicated);
  EXPECT_EQ(fm.created_sizes.back(), 200 * 1024u);
  // Nothing fits now: the error says out of memory (what the offload planner reacts to).
  try {
    a.allocate(200 * 1024, 256);
    FAIL() << "no error";
  } catch (const error& e) {
    EXPECT_EQ(e.kind(), error_kind::out_of_memory);
  }
  try {
    a.allocate(5 * MiB, 256);
    FAIL() << "no error";
  } catch (const error& e) {
    EXPECT_EQ(e.kind(), error_kind::out_of_memory);
  }
  // A failed request leaves the allocator as it was.
  EXPECT_EQ(a.get_stats().n_blocks, 2u);
  a.release(r1);
  a.release(r2);
  a.release(r3);
  EXPECT_EQ(fm.held, 0u);
}

TEST(BlockAllocator, RejectsBadAlignmentAndDoubleRelease) {
  fake_memory fm;
  auto a = fm.make(MiB);
  EXPECT_THROW(a.allocate(10, 3), error);
  EXPECT_THROW(a.allocate(10, 0), error);
  const auto r = a.allocate(100, 64);
  const auto keep = a.allocate(100, 64);
  a.release(r);
  EXPECT_THROW(a.release(r), error);
  a.release(keep);
  EXPECT_THROW(a.release(keep), error);  // its block is gone
}

TEST(BlockAllocator, DestructorFreesWhatIsLeft) {
  fake_memory fm;
  {
    auto a = fm.make(MiB);
    a.allocate(100, 64);
    a.allocate(2 * MiB, 64);
  }
  EXPECT_EQ(fm.n_created, 2);
  EXPECT_EQ(fm.n_destroyed, 2);
  EXPECT_EQ(fm.held, 0u);
}

// Random requests and releases against a model of the live ranges: never overlapping inside a
// block, inside its bounds, aligned, and the statistics add up.
TEST(BlockAllocator, RandomWorkloadKeepsRangesDisjoint) {
  fake_memory fm;
  auto a = fm.make(64 * 1024);
  std::mt19937 rng(42);
  std::vector<std::pair<block_allocator::range, uint64_t>> live;  // range, alignment
  for (int step = 0; step < 4000; ++step) {
    if (live.empty() || rng() % 100 < 55) {
      const uint64_t align = uint64_t(1) << (rng() % 13);
      const uint64_t size = rng() % 100 == 0 ? 64 * 1024 + rng() % 50000 : 1 + rng() % 9000;
      const auto r = a.allocate(size, align);
      ASSERT_EQ(r.offset % align, 0u);
      ASSERT_GE(r.size, size);
      ASSERT_LE(r.offset + r.size, fm.live.at(r.block));
      for (const auto& [o, al] : live) {
        if (o.block != r.block) continue;
        ASSERT_TRUE(r.offset + r.size <= o.offset || o.offset + o.size <= r.offset) << "step " << step;
      }
      live.emplace_back(r, align);
    } else {
      const size_t i = rng() % live.size();
      a.release(live[i].first);
      live.erase(live.begin() + (long)i);
    }
    if (step % 500 == 0) {
      uint64_t used = 0;
      for (const auto& [o, al] : live) used += o.size;
      const auto s = a.get_stats();
      ASSERT_EQ(s.used_bytes, used);
      ASSERT_EQ(s.reserved_bytes, fm.held);
      ASSERT_EQ(s.n_blocks, fm.live.size());
    }
  }
  for (const auto& [o, al] : live) a.release(o);
  EXPECT_EQ(fm.held, 0u);
  EXPECT_EQ(fm.n_created, fm.n_destroyed);
  EXPECT_GT(fm.n_created, 3);
}

}  // namespace
}  // namespace hearth::test
