#include "backends/cpu/schedule.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "backends/cpu/kernels/matmul.h"
#include "backends/cpu/spin_wait.h"

namespace hearth::cpu {

// Which nodes must wait for every thread to finish the nodes before them. A barrier is needed when
// a node reads bytes an earlier node of the current segment writes (except row-wise ops reading
// the previous row-wise op's rows: a thread only reads rows it wrote itself), writes bytes an
// earlier node reads or writes, or shares the work buffer with one in another layout. Consecutive
// products of one input (q, k, v; gate, up) and chains of row-wise ops then run without waiting,
// which matters most when other programs compete for the cores.
namespace {

struct range {
  uintptr_t lo = 0, hi = 0;
};
range extent(const tensor& t) {
  const auto lo = reinterpret_cast<uintptr_t>(t.data);
  if (t.nelements() == 0) return {lo, lo};
  size_t n = std::max(row_bytes(t.type, t.ne[0]), (size_t)(t.ne[0] - 1) * t.nb[0] + type_size(t.type));
  for (int i = 1; i < max_dims; ++i) n += (size_t)(t.ne[i] - 1) * t.nb[i];
  return {lo, lo + n};
}
bool overlap(range a, range b) { return a.lo < b.hi && b.lo < a.hi; }

// Ops whose thread ith handles exactly the rows thread_range(dst rows) gives it, row i of dst from
// row i of each same-shaped source.
bool row_wise(const tensor& n) {
  switch (n.op) {
    case op::add: case op::mul: case op::scale: case op::silu: case op::gelu: case op::softcap:
    case op::rms_norm: case op::norm: case op::glu:
      return true;
    default:
      return false;
  }
}
bool same_layout(const tensor& a, const tensor& b) {
  for (int i = 0; i < max_dims; ++i)
    if (a.ne[i] != b.ne[i] || a.nb[i] != b.nb[i]) return false;
  return true;
}

// Layout key of a node's use of the work buffer: 0 none; equal keys lay it out identically with
// per-thread parts (products with few columns); ~0 anything else (always waits).
uint64_t work_key(const tensor& n, int nth) {
  if (work_size(n, nth) == 0) return 0;
  if (n.op == op::mul_mat && nth > 1) {
    const tensor& a = *n.src[0];
    const tensor& b = *n.src[1];
    const int64_t cols = b.ne[1] * b.ne[2] * b.ne[3];
    if (cols <= k_private_pack_cols)
      return ((uint64_t)a.type << 48) ^ ((uint64_t)a.ne[0] << 16) ^ ((uint64_t)b.ne[1] << 8) ^ (uint64_t)(b.ne[2] * b.ne[3]);
  }
  return ~0ull;
}

// A node's reads and write, for the hazard checks.
struct access {
  const tensor* n;
  range out;
  range in[max_srcs];
  const tensor* src[max_srcs];
  uint64_t work;
};

access access_of(const tensor& n, int nth) {
  access a{&n, extent(n), {}, {}, work_key(n, nth)};
  for (int s = 0; s < max_srcs; ++s) {
    a.src[s] = n.src[s];
    if (n.src[s]) a.in[s] = extent(*n.src[s]);
  }
  return a;
}

// Whether b may run in the same barrier-free segment as a, which runs before it on every thread.
bool may_share_segment(const access& a, const access& b) {
  if (a.work && b.work && (a.work == ~0ull || b.work != a.work)) return false;
  const bool rows = row_wise(*a.n) && row_wise(*b.n) && same_layout(*a.n, *b.n);
  for (int s = 0; s < max_srcs; ++s) {
    // b reads what a writes: only its own rows, from a itself.
    if (b.src[s] && overlap(b.in[s], a.out) && !(rows && b.src[s] == a.n)) return false;
    // b writes what a reads: only over the rows this thread read (same place, same layout).
    if (a.src[s] && overlap(b.out, a.in[s]) && !(rows && a.src[s]->data == b.n->data && same_layout(*a.src[s], *b.n))) return false;
  }
  return !overlap(a.out, b.out);
}

// Whether b, later in the graph, may be moved before a: no data or memory dependence either way.
bool independent(const access& a, const access& b) {
  if (a.work && b.work) return false;
  for (int s = 0; s < max_srcs; ++s) {
    if (b.src[s] && overlap(b.in[s], a.out)) return false;
    if (a.src[s] && overlap(a.in[s], b.out)) return false;
  }
  return !overlap(a.out, b.out);
}

// Whether a and b touch the same bytes (one of them writing) or both use the work buffer.
bool touches(const access& a, const access& b) {
  if (a.work && b.work) return true;
  return !independent(a, b);
}

// Ops that synchronise their own threads (products packing shared activation columns).
bool is_lockstep(const tensor& n, int nth) {
  if (nth <= 1) return false;
  if (n.op == op::mul_mat) {
    const tensor& b = *n.src[1];
    return b.ne[1] * b.ne[2] * b.ne[3] > k_private_pack_cols;
  }
  if (n.op == op::mul_mat_id) {
    const tensor& ids = *n.src[2];
    return ids.ne[0] * ids.ne[1] > 2 * k_private_pack_cols;
  }
  return false;
}

// The execution order: nodes are moved up (past nodes they do not depend on, within a window) into
// the current barrier-free segment when they can share it, e.g. the k and v products next to q.
}  // namespace

std::vector<step> plan_steps(const std::vector<tensor*>& nodes, int nth) {
  std::vector<access> acc;
  std::vector<int> idx;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i]->op == op::view || nodes[i]->op == op::none) continue;
    acc.push_back(access_of(*nodes[i], nth));
    idx.push_back((int)i);
  }
  std::vector<step> order;
  // HEARTH_CPU_SYNC=all: the plain schedule, every op waiting for the one before (for comparisons).
  static const bool sync_all = [] {
    const char* e = std::getenv("HEARTH_CPU_SYNC");
    return e && std::string(e) == "all";
  }();
  if (nth <= 1 || sync_all) {
    for (size_t i = 0; i < idx.size(); ++i) order.push_back({idx[i], nth > 1 && i > 0, is_lockstep(*nodes[(size_t)idx[i]], nth), {}});
    return order;
  }
  constexpr size_t window = 24;
  std::vector<char> done(acc.size(), 0);
  std::vector<size_t> seg;
  size_t first = 0;  // first node not yet placed
  while (first < acc.size()) {
    // Start a segment with the first unplaced node, then pull in later nodes that can join it.
    seg.clear();
    std::vector<int> seg_pos;  // positions in order of the segment's steps
    order.push_back({idx[first], !order.empty(), is_lockstep(*nodes[(size_t)idx[first]], nth), {}});
    seg_pos.push_back((int)order.size() - 1);
    done[first] = 1;
    seg.push_back(first);
    for (size_t j = first + 1; j < acc.size() && j < first + 1 + window && !order.back().lockstep; ++j) {
      if (done[j]) continue;
      bool ok = true;
      for (size_t k = first; k < j && ok; ++k)
        if (!done[k]) ok = independent(acc[k], acc[j]);
      for (size_t k = 0; k < seg.size() && ok; ++k) ok = may_share_segment(acc[seg[k]], acc[j]);
      if (!ok) continue;
      // Ops that synchronise themselves start their own segment.
      if (is_lockstep(*nodes[(size_t)idx[j]], nth)) continue;
      step st{idx[j], false, false, {}};
      for (size_t k = 0; k < seg.size(); ++k)
        if (touches(acc[seg[k]], acc[j])) st.deps.push_back(seg_pos[k]);
      order.push_back(std::move(st));
      seg_pos.push_back((int)order.size() - 1);
      done[j] = 1;
      seg.push_back(j);
    }
    while (first < acc.size() && done[first]) ++first;
  }
  static const bool debug = std::getenv("HEARTH_BARRIER_DEBUG") != nullptr;
  if (debug)
    for (const auto& st : order)
      std::fprintf(stderr, "%c%c %s %s (%zu deps)\n", st.wait ? 'B' : ' ', st.lockstep ? 'L' : ' ', op_name(nodes[(size_t)st.node]->op),
                   nodes[(size_t)st.node]->name.c_str(), st.deps.size());
  return order;
}



void step_runner::run(thread_pool& pool, const std::vector<tensor*>& nodes, const std::vector<step>& order, const compute_ctx& base,
                      void (*after_each)(void* user, size_t step), void* user) {
  const int nth = base.nth;         // threads (lockstep steps)
  const int nch = chunks_for(nth);  // chunks of a chunked step
  // Runs: single lockstep steps, and maximal stretches of chunked steps.
  runs_.clear();
  seg_start_.assign(order.size(), 0);
  for (size_t i = 0; i < order.size(); ++i) {
    seg_start_[i] = order[i].wait || i == 0 ? i : seg_start_[i - 1];
    const bool lock = order[i].lockstep || after_each != nullptr || nth == 1;
    if (lock || runs_.empty() || runs_.back().lockstep) runs_.push_back({i, i + 1, lock});
    else runs_.back().end = i + 1;
  }
  if (done_size_ < order.size() * (size_t)nch) {
    done_size_ = order.size() * (size_t)nch;
    done_.reset(new std::atomic<uint32_t>[done_size_]);
    for (size_t i = 0; i < done_size_; ++i) done_[i].store(0, std::memory_order_relaxed);
    gen_ = 0;
  }
  if (run_capacity_ < runs_.size()) {
    run_capacity_ = runs_.size();
    tickets_.reset(new std::atomic<int64_t>[run_capacity_]);
    completed_.reset(new std::atomic<int64_t>[run_capacity_]);
  }
  for (size_t r = 0; r < runs_.size(); ++r) {
    tickets_[r].store(0, std::memory_order_relaxed);
    completed_[r].store(0, std::memory_order_relaxed);
  }
  const uint32_t gen = ++gen_;  // done flags hold the generation of the run that set them

  pool.run([&](int ith) {
    for (size_t r = 0; r < runs_.size(); ++r) {
      const run_range& rr = runs_[r];
      if (rr.lockstep) {
        const step& st = order[rr.begin];
        if (r > 0) pool.barrier();
        compute_ctx ctx = base;
        ctx.ith = ith;
        compute_node(ctx, *nodes[(size_t)st.node]);
        if (after_each) {
          pool.barrier();
          if (ith == 0) after_each(user, rr.begin);
        }
        continue;
      }
      if (r > 0 && runs_[r - 1].lockstep) pool.barrier();  // the lockstep op is complete everywhere
      const int64_t n_tickets = (int64_t)(rr.end - rr.begin) * nch;
      for (;;) {
        const int64_t t = tickets_[r].fetch_add(1, std::memory_order_relaxed);
        if (t >= n_tickets) break;
        const size_t s = rr.begin + (size_t)(t / nch);
        const int c = (int)(t % nch);
        // The segment's earlier segments are complete, and this chunk's inputs within it.
        const int64_t before = (int64_t)(std::max(seg_start_[s], rr.begin) - rr.begin) * nch;
        wait_until(completed_[r], [&] { return completed_[r].load(std::memory_order_acquire) >= before; });
        for (int d : order[s].deps)
          wait_until(done_[(size_t)d * nch + (size_t)c], [&] { return done_[(size_t)d * nch + (size_t)c].load(std::memory_order_acquire) == gen; });
        compute_ctx ctx = base;
        ctx.ith = c;
        ctx.nth = nch;
        ctx.pool = nullptr;  // chunked ops never synchronise
        compute_node(ctx, *nodes[(size_t)order[s].node]);
        done_[s * (size_t)nch + (size_t)c].store(gen, std::memory_order_release);
        done_[s * (size_t)nch + (size_t)c].notify_all();
        completed_[r].fetch_add(1, std::memory_order_acq_rel);
        completed_[r].notify_all();
      }
    }
  });
}

}  // namespace hearth::cpu
