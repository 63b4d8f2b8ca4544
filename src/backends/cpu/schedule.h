// How the CPU stream runs a node list on its thread pool. Nodes are reordered a little and grouped
// into segments that need no barrier between them (products of one input, chains of row-wise
// ops); within a segment each op's work is split into one chunk per thread, and the chunks are
// claimed in order by whichever thread is free. A thread the OS has preempted therefore does not
// stall the others unless it holds a chunk: when other programs compete for the cores, decoding
// keeps going on the threads that run.
#pragma once
#include <atomic>
#include <memory>
#include <vector>

#include "backends/cpu/ops/ops.h"

namespace hearth::cpu {

struct step {
  int node;               // index into the node list
  bool wait;              // every earlier step must be complete (a segment starts here)
  bool lockstep;          // the op synchronises its threads itself: every thread runs its own share
  std::vector<int> deps;  // earlier steps of the segment whose chunk c must finish before chunk c here
};

// Chunks a chunked step is cut into for nth threads: a few per thread, so that a thread the OS
// preempts holds back little work and the others take what is left. Work buffers must be sized
// for max(nth, chunks_for(nth)) parts.
inline int chunks_for(int nth) { return nth <= 1 ? 1 : 4 * nth; }

// The execution order of nodes for nth threads (views and leaves are left out).
std::vector<step> plan_steps(const std::vector<tensor*>& nodes, int nth);

// Runs the planned steps on the pool. base is the context every chunk gets (its ith/nth set per
// chunk). With after_each, every step runs in lockstep followed by a barrier, and thread 0 calls
// after_each(step index) (profiling).
class step_runner {
 public:
  void run(thread_pool& pool, const std::vector<tensor*>& nodes, const std::vector<step>& order, const compute_ctx& base,
           void (*after_each)(void* user, size_t step) = nullptr, void* user = nullptr);

 private:
  struct run_range {
    size_t begin, end;  // steps
    bool lockstep;
  };
  std::vector<run_range> runs_;
  std::vector<size_t> seg_start_;
  std::unique_ptr<std::atomic<uint32_t>[]> done_;  // per (step, chunk): generation when done
  size_t done_size_ = 0;
  std::unique_ptr<std::atomic<int64_t>[]> tickets_, completed_;  // per run
  size_t run_capacity_ = 0;
  uint32_t gen_ = 0;
};

}  // namespace hearth::cpu
