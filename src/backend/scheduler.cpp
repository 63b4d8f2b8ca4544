#include "backend/scheduler.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>

#include "core/error.h"
#include "core/log.h"

namespace hearth {

namespace {

// Best-fit allocator over offsets of one compute buffer; tracks the high-water mark.
class offset_allocator {
 public:
  explicit offset_allocator(size_t alignment) : align_(alignment ? alignment : 1) {}
  size_t alloc(size_t size) {
    size = (size + align_ - 1) / align_ * align_;
    if (size == 0) size = align_;
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < free_.size(); ++i)
      if (free_[i].second >= size && (best == SIZE_MAX || free_[i].second < free_[best].second)) best = i;
    if (best != SIZE_MAX) {
      const size_t off = free_[best].first;
      free_[best].first += size;
      free_[best].second -= size;
      if (free_[best].second == 0) free_.erase(free_.begin() + (long)best);
      return off;
    }
    // Grow at the top; merge with a free block that ends at the top.
    size_t off = top_;
    if (!free_.empty()) {
      auto last = std::max_element(free_.begin(), free_.end(), [](auto& a, auto& b) { return a.first < b.first; });
      if (last->first + last->second == top_) {
        off = last->first;
        free_.erase(last);
      }
    }
    top_ = off + size;
    high_ = std::max(high_, top_);
    return off;
  }
  void release(size_t off, size_t size) {
    size = (size + align_ - 1) / align_ * align_;
    if (size == 0) size = align_;
    free_.emplace_back(off, size);
    std::sort(free_.begin(), free_.end());
    std::vector<std::pair<size_t, size_t>> merged;
    for (auto& b : free_) {
      if (!merged.empty() && merged.back().first + merged.back().second == b.first) merged.back().second += b.second;
      else merged.push_back(b);
    }
    free_ = std::move(merged);
    if (!free_.empty() && free_.back().first + free_.back().second == top_) {
      top_ = free_.back().first;
      free_.pop_back();
    }
  }
  size_t high_water() const { return high_; }

 private:
  size_t align_;
  size_t top_ = 0;
  size_t high_ = 0;
  std::vector<std::pair<size_t, size_t>> free_;
};

// Byte offset of a view relative to its storage tensor (sum of view_offs along the chain).
size_t offset_in_storage(const tensor* t) {
  size_t off = 0;
  while (t->view_src) {
    off += t->view_offs;
    t = t->view_src;
  }
  return off;
}

bool is_computed_view(const tensor* t) { return t->op == op::set_rows || t->op == op::cpy; }

}  // namespace

scheduler::scheduler(std::vector<device*> devices) : devices_(std::move(devices)) {
  if (devices_.empty()) fail("scheduler: no devices");
  for (size_t i = 0; i < devices_.size(); ++i) {
    per_device pd;
    pd.dev = devices_[i];
    pd.strm = devices_[i]->make_stream();
    per_dev_.push_back(std::move(pd));
    if (devices_[i]->kind() == device_kind::cpu) cpu_ = (int)i;
  }
  if (cpu_ < 0) fail("scheduler: the CPU device must be among the devices");
}

scheduler::~scheduler() {
  for (auto& pd : per_dev_)
    if (pd.strm) pd.strm->synchronize();
}

int scheduler::dev_index(const device* d) const {
  for (size_t i = 0; i < devices_.size(); ++i)
    if (devices_[i] == d) return (int)i;
  return -1;
}

int scheduler::home_of(const tensor* t) const {
  const tensor* st = t->storage();
  if (st->buf && !assigned_.count(st)) {
    const int d = dev_index(st->buf->dev());
    if (d < 0) fail("scheduler: tensor '{}' lives on device {} which this scheduler does not use", st->name, st->buf->dev()->name());
    return d;
  }
  auto it = assigned_.find(st);
  return it == assigned_.end() ? -1 : it->second;
}

bool scheduler::readable(int dev, const tensor* t) const {
  const tensor* st = t->storage();
  const int home = home_of(st);
  if (home == dev) return true;
  if (st->buf && !assigned_.count(st)) return devices_[dev]->can_read(*st->buf->type());
  if (home < 0) return false;
  return devices_[dev]->can_read(*devices_[home]->default_buffer_type());
}

int scheduler::assign(graph& g) {
  assigned_.clear();
  auto& nodes = g.nodes();
  // 1. Nodes that read weights or cache storage run where that storage lives, if supported.
  for (tensor* n : nodes) {
    if (n->op == op::view) continue;
    int chosen = -1;
    for (int pass = 0; pass < 2 && chosen < 0; ++pass) {
      for (tensor* s : n->src) {
        if (!s) continue;
        const tensor* st = s->storage();
        if (!st->buf) continue;
        if (pass == 0 && !(st->flags & tf_weight)) continue;
        const int d = dev_index(st->buf->dev());
        if (d >= 0 && devices_[d]->supports_op(*n)) { chosen = d; break; }
      }
    }
    if (is_computed_view(n)) {
      // set_rows / cpy write into their destination: they run where it lives.
      const tensor* st = n->view_src->storage();
      const int d = st->buf ? dev_index(st->buf->dev()) : -1;
      chosen = d >= 0 && devices_[d]->supports_op(*n) ? d : cpu_;
    }
    if (chosen >= 0) assigned_[n] = chosen;
  }
  // 2. Others follow the previous node (forward), the ones before the first assigned node follow
  //    the next one (backward); the CPU takes whatever a device cannot do.
  int cur = -1;
  for (tensor* n : nodes) {
    if (n->op == op::view) continue;
    auto it = assigned_.find(n);
    if (it != assigned_.end()) { cur = it->second; continue; }
    if (cur >= 0 && devices_[cur]->supports_op(*n)) assigned_[n] = cur;
  }
  cur = -1;
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    tensor* n = *it;
    if (n->op == op::view) continue;
    auto a = assigned_.find(n);
    if (a != assigned_.end()) { cur = a->second; continue; }
    if (cur >= 0 && devices_[cur]->supports_op(*n)) assigned_[n] = cur;
    else {
      if (!devices_[cpu_]->supports_op(*n)) fail("no device supports op {} ({})", op_name(n->op), n->name);
      assigned_[n] = cpu_;
    }
  }
  // 3. Views and inputs: views live with their storage; inputs live with their first consumer.
  for (tensor* n : nodes) {
    if (n->op == op::view) continue;
    for (tensor* s : n->src) {
      if (!s) continue;
      tensor* st = s->storage();
      if (!st->buf && st->op == op::none && !assigned_.count(st)) assigned_[st] = assigned_[n];
    }
  }
  return 0;
}

namespace {
uint64_t next_split_id() {
  static std::atomic<uint64_t> next{0};
  return ++next;
}
}  // namespace

void scheduler::plan(graph& g) {
  planned_ = &g;
  splits_.clear();
  copies_pool_.clear();
  assign(g);

  // Splits and copies.
  for (tensor* n : g.nodes()) {
    if (n->op == op::view) continue;
    const int d = assigned_.at(n);
    if (splits_.empty() || splits_.back().dev != d) splits_.push_back(split{d, {}, {}, next_split_id()});
    split& sp = splits_.back();
    for (tensor*& s : n->src) {
      if (!s || readable(d, s)) continue;
      tensor* st = s->storage();
      tensor* c = nullptr;
      for (auto& cp : sp.copies)
        if (cp.src == st) c = cp.dst;
      if (!c) {
        tensor& nc = copies_pool_.emplace_back();
        nc.type = st->type;
        std::copy(std::begin(st->ne), std::end(st->ne), nc.ne);
        std::copy(std::begin(st->nb), std::end(st->nb), nc.nb);
        nc.name = st->name + "#copy";
        c = &nc;
        assigned_[c] = d;
        sp.copies.push_back({st, c});
      }
      if (s == st) {
        s = c;
      } else {
        tensor& v = copies_pool_.emplace_back(*s);
        v.op = op::view;
        std::fill(std::begin(v.src), std::end(v.src), nullptr);
        v.src[0] = c;
        v.view_src = c;
        v.view_offs = offset_in_storage(s);
        v.buf = nullptr;
        v.data = nullptr;
        s = &v;
      }
    }
    sp.nodes.push_back(n);
  }
  allocate(g);
}

void scheduler::allocate(graph& g) {
  const size_t n_dev = devices_.size();
  // Execution positions: copies of a split happen at its first node's position.
  std::unordered_map<const tensor*, int> def, last;
  int pos = 0;
  std::vector<std::vector<tensor*>> owned(n_dev);  // tensors to place, per device, in definition order
  auto needs_storage = [&](tensor* t) { return !t->buf && !t->view_src && t->op != op::view; };
  // Inputs first (defined before everything).
  for (tensor* l : g.leafs())
    if (needs_storage(l) && assigned_.count(l)) {
      def[l] = -1;
      owned[assigned_[l]].push_back(l);
    }
  for (split& sp : splits_) {
    for (auto& cp : sp.copies) {
      def[cp.dst] = pos;
      owned[sp.dev].push_back(cp.dst);
      last[cp.src] = std::max(last[cp.src], pos);
    }
    for (tensor* n : sp.nodes) {
      if (needs_storage(n)) {
        def[n] = pos;
        owned[sp.dev].push_back(n);
      }
      for (tensor* s : n->src)
        if (s) last[s->storage()] = std::max(last[s->storage()], pos);
      if (n->view_src) last[n->storage()] = std::max(last[n->storage()], pos);
      if (n->flags & tf_output) last[n->storage()] = INT_MAX;
      ++pos;
    }
  }
  for (tensor* n : g.nodes())
    if (n->flags & tf_output) last[n->storage()] = INT_MAX;

  for (size_t d = 0; d < n_dev; ++d) {
    if (owned[d].empty()) continue;
    buffer_type* bt = devices_[d]->default_buffer_type();
    offset_allocator alloc(bt->alignment());
    std::unordered_map<const tensor*, size_t> offset;
    // Walk positions in order: allocate what is defined, then free what died at that position.
    std::vector<std::pair<int, tensor*>> frees;
    for (tensor* t : owned[d]) {
      int l = last.count(t) ? last[t] : def[t];
      frees.emplace_back(l, t);
    }
    std::stable_sort(frees.begin(), frees.end(), [](auto& a, auto& b) { return a.first < b.first; });
    size_t fi = 0;
    size_t oi = 0;
    for (int p = -1; p <= pos; ++p) {
      while (oi < owned[d].size() && def[owned[d][oi]] == p) {
        tensor* t = owned[d][oi++];
        offset[t] = alloc.alloc(bt->alloc_size(*t));
      }
      while (fi < frees.size() && frees[fi].first == p) {
        tensor* t = frees[fi++].second;
        alloc.release(offset[t], bt->alloc_size(*t));
      }
    }
    HEARTH_ASSERT(oi == owned[d].size());
    const size_t need = alloc.high_water();
    if (dry_run_) {
      measured_[d] = need;
      continue;
    }
    per_device& pd = per_dev_[d];
    if (!pd.buf || pd.buf->size() < need) {
      pd.strm->synchronize();
      pd.buf.reset();
      try {
        pd.buf = bt->allocate(need);
      } catch (const error& e) {
        fail(error_kind::out_of_memory, "{}: cannot allocate a {:.1f} MiB compute buffer: {}", devices_[d]->name(),
             need / 1048576.0, e.what());
      }
      log_debug("{}: compute buffer {:.2f} MiB", devices_[d]->name(), need / 1048576.0);
    }
    for (tensor* t : owned[d]) pd.buf->place(*t, offset[t]);
  }
  // Views (graph views, computed views, remapped views) take their storage's address.
  auto place_view = [](tensor* t) {
    if (!t->view_src) return;
    t->buf = t->view_src->buf;
    t->data = t->view_src->data ? static_cast<uint8_t*>(t->view_src->data) + t->view_offs : nullptr;
  };
  if (dry_run_) return;
  for (tensor* n : g.nodes()) place_view(n);
  for (tensor& c : copies_pool_) place_view(&c);
}

std::vector<std::pair<device*, size_t>> scheduler::measure(graph& g) {
  dry_run_ = true;
  measured_.assign(devices_.size(), 0);
  try {
    plan(g);
  } catch (...) {
    dry_run_ = false;
    planned_ = nullptr;
    throw;
  }
  dry_run_ = false;
  planned_ = nullptr;  // nothing is placed: compute() needs a real plan first
  std::vector<std::pair<device*, size_t>> out;
  for (size_t d = 0; d < devices_.size(); ++d) out.emplace_back(devices_[d], measured_[d]);
  return out;
}

void scheduler::set_input(tensor* t, const void* data, size_t n_bytes) {
  if (!t->buf) {
    log_debug("scheduler: input {} is unused by this graph", t->name);
    return;
  }
  if (n_bytes > t->nbytes()) fail("scheduler: {} bytes for input {} of {} bytes", n_bytes, t->name, t->nbytes());
  const int d = home_of(t);
  per_dev_[d].strm->set_async(*t, data, 0, n_bytes);
}

void scheduler::compute() {
  if (!planned_) fail("scheduler: compute() before plan()");
  std::vector<bool> busy(devices_.size(), false);
  for (split& sp : splits_) {
    for (auto& cp : sp.copies) {
      const int from = home_of(cp.src);
      if (from >= 0 && busy[from]) {
        per_dev_[from].strm->synchronize();
        busy[from] = false;
      }
      const size_t n = cp.src->nbytes();
      if (cp.src->buf->is_host()) {
        per_dev_[sp.dev].strm->set_async(*cp.dst, cp.src->data, 0, n);
      } else {
        staging_.resize(n);
        if (from >= 0) per_dev_[from].strm->get_async(*cp.src, staging_.data(), 0, n);
        else cp.src->buf->get(*cp.src, staging_.data(), 0, n);
        if (from >= 0) per_dev_[from].strm->synchronize();
        per_dev_[sp.dev].strm->set_async(*cp.dst, staging_.data(), 0, n);
      }
    }
    per_dev_[sp.dev].strm->set_plan_id(sp.id);
    per_dev_[sp.dev].strm->compute(sp.nodes);
    busy[sp.dev] = true;
    if (callback_) {
      per_dev_[sp.dev].strm->synchronize();
      busy[sp.dev] = false;
      callback_(callback_user_, sp.nodes, *this);
    }
  }
  for (size_t d = 0; d < devices_.size(); ++d)
    if (busy[d]) per_dev_[d].strm->synchronize();
}

void scheduler::get(const tensor* t, void* dst, size_t offset, size_t n_bytes) {
  const tensor* st = t->storage();
  if (!st->buf) fail("scheduler: tensor {} has no storage", t->name);
  if (offset + n_bytes > t->nbytes()) fail("scheduler: read past the end of {}", t->name);
  // Through the device's stream, which may hold a copy of the result in host memory already (the
  // Vulkan stream reads a graph's small outputs back at its end).
  const int d = dev_index(st->buf->dev());
  if (d >= 0 && per_dev_[(size_t)d].strm) {
    per_dev_[(size_t)d].strm->get_async(*t, dst, offset, n_bytes);
    per_dev_[(size_t)d].strm->synchronize();
    return;
  }
  st->buf->get(*t, dst, offset, n_bytes);
}

std::vector<scheduler::split_info> scheduler::splits() const {
  std::vector<split_info> out;
  for (const split& s : splits_) out.push_back({devices_[s.dev], (int)s.nodes.size(), (int)s.copies.size()});
  return out;
}

std::vector<std::pair<device*, size_t>> scheduler::buffer_sizes() const {
  std::vector<std::pair<device*, size_t>> out;
  for (const auto& pd : per_dev_) out.emplace_back(pd.dev, pd.buf ? pd.buf->size() : 0);
  return out;
}

device* scheduler::device_of(const tensor* t) const {
  const int d = home_of(t);
  return d < 0 ? nullptr : devices_[d];
}

}  // namespace hearth
