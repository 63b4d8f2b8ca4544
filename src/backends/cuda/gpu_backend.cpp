// The CUDA / HIP backend module: devices, device-memory buffers, and a stream that runs graph nodes
// as kernels. Whole node lists are captured into a CUDA (HIP) graph and replayed while the nodes'
// shapes and addresses stay the same (every token of a decode between KV-cache pad steps), and
// updated in place when only parameters change, so per-token launch overhead stays small.
// Built twice from this source: libhearth-cuda.so (nvcc) and libhearth-rocm.so (hipcc).
#include <algorithm>
#include <functional>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backends/cuda/ops.h"
#include "backends/cuda/vendors/gpu.h"
#include "core/error.h"
#include "core/log.h"

namespace hearth::gpu {

namespace {

void check(gpuError_t e, const char* what) {
  if (e != gpuSuccess) fail("{}: {} failed: {}", HEARTH_GPU_API, what, gpuGetErrorString(e));
}

constexpr size_t k_alignment = 256;

class gpu_device;

class gpu_buffer final : public buffer {
 public:
  gpu_buffer(buffer_type* type, size_t size, uint8_t* ptr, int dev) : buffer(type, size), ptr_(ptr), dev_(dev) {}
  ~gpu_buffer() override {
    (void)gpuSetDevice(dev_);
    (void)gpuFree(ptr_);
  }
  uint8_t* base() override { return ptr_; }
  void set(tensor& t, const void* src, size_t offset, size_t n) override {
    check(gpuSetDevice(dev_), "set device");
    check(gpuMemcpy(static_cast<uint8_t*>(t.data) + offset, src, n, gpuMemcpyHostToDevice), "copy to device");
  }
  void get(const tensor& t, void* dst, size_t offset, size_t n) override {
    check(gpuSetDevice(dev_), "set device");
    check(gpuMemcpy(dst, static_cast<const uint8_t*>(t.data) + offset, n, gpuMemcpyDeviceToHost), "copy from device");
  }
  void clear(uint8_t value) override {
    check(gpuSetDevice(dev_), "set device");
    check(gpuMemset(ptr_, value, size()), "memset");
  }

 private:
  uint8_t* ptr_;
  int dev_;
};

class gpu_buffer_type final : public buffer_type {
 public:
  gpu_buffer_type(device* dev, int index, size_t max_size) : buffer_type(dev), index_(index), max_size_(max_size) {}
  const char* name() const override { return HEARTH_GPU_API; }
  std::unique_ptr<buffer> allocate(size_t size) override {
    check(gpuSetDevice(index_), "set device");
    void* p = nullptr;
    const gpuError_t e = gpuMalloc(&p, std::max<size_t>(size, k_alignment));
    if (e != gpuSuccess) {
      (void)gpuGetLastError();
      fail(error_kind::out_of_memory, "{}:{}: cannot allocate {:.1f} MiB of device memory: {}", HEARTH_GPU_API, index_,
           size / 1048576.0, gpuGetErrorString(e));
    }
    return std::make_unique<gpu_buffer>(this, size, static_cast<uint8_t*>(p), index_);
  }
  size_t alignment() const override { return k_alignment; }
  size_t max_size() const override { return max_size_; }
  bool is_host() const override { return false; }

 private:
  int index_;
  size_t max_size_;
};

bool f32(const tensor* t) { return t && t->type == dtype::f32; }
bool rows_f32(const tensor* t) { return f32(t) && t->nb[0] == 4; }

bool op_supported(const tensor& n) {
  switch (n.op) {
    case op::get_rows: return type_readable(n.src[0]->type) && n.src[1]->type == dtype::i32 && n.ne[1] < 65535;
    case op::set_rows:
      return (n.src[0]->type == dtype::f32 || n.src[0]->type == dtype::f16) && n.src[0]->nb[0] == type_size(n.src[0]->type) &&
             rows_f32(n.src[1]) && n.src[2]->type == dtype::i32 && n.src[1]->ne[1] < 65535;
    case op::cpy: return f32(n.src[0]) && (n.src[1]->type == dtype::f32 || n.src[1]->type == dtype::f16);
    case op::cont:
    case op::scale:
    case op::silu:
    case op::gelu:
    case op::softcap: return f32(n.src[0]) && f32(&n);
    case op::add:
    case op::mul: return f32(n.src[0]) && f32(n.src[1]);
    case op::glu: return f32(n.src[0]) && f32(n.src[1]);
    case op::rms_norm:
    case op::norm: return rows_f32(n.src[0]);
    case op::softmax: return rows_f32(n.src[0]) && (!n.src[1] || rows_f32(n.src[1]));
    case op::rope:
      return rows_f32(n.src[0]) && n.src[1]->type == dtype::i32 && n.src[0]->ne[0] <= 2048 && (!n.src[2] || f32(n.src[2])) &&
             n.src[0]->ne[1] < 65535 && n.src[0]->ne[2] < 65535;
    case op::attention: return rows_f32(n.src[0]) && rows_f32(n.src[3]) && attention_supported(n) && n.src[0]->ne[2] < 65535;
    case op::mul_mat:
    case op::mul_mat_id: return matmul_supported(n);
    case op::top_k: return rows_f32(n.src[0]);
    case op::gather: return rows_f32(n.src[0]) && n.src[1]->type == dtype::i32 && n.src[1]->nb[0] == 4;
    case op::moe_sum: return f32(n.src[0]) && rows_f32(n.src[1]) && n.ne[1] < 65535;
    default: return false;
  }
}

void run_node(const tensor& n, gpuStream_t s, uint8_t* scratch, bool quantize) {
  switch (n.op) {
    case op::get_rows: return run_get_rows(n, s);
    case op::set_rows: return run_set_rows(n, s);
    case op::cpy: return run_cpy(n, s);
    case op::cont: return run_cont(n, s);
    case op::add:
    case op::mul: return run_binary(n, s);
    case op::scale:
    case op::silu:
    case op::gelu:
    case op::softcap: return run_unary(n, s);
    case op::glu: return run_glu(n, s);
    case op::rms_norm:
    case op::norm: return run_norm(n, s);
    case op::softmax: return run_softmax(n, s);
    case op::rope: return run_rope(n, s);
    case op::attention: return run_attention(n, s, scratch);
    case op::mul_mat: return run_mul_mat(n, s, scratch, quantize);
    case op::mul_mat_id: return run_mul_mat_id(n, s, scratch, quantize);
    case op::top_k: return run_top_k(n, s);
    case op::gather: return run_gather(n, s);
    case op::moe_sum: return run_moe_sum(n, s);
    default: fail("{}: op {} is not supported", HEARTH_GPU_API, op_name(n.op));
  }
}

// Runs a node list. Consecutive products of the same activations (q/k/v, gate/up) round them once:
// the scratch keeps the last rounding until another product needs a different one.
// Per-node timing for HEARTH_GPU_STATS=2 (eager execution only): GPU milliseconds per op kind.
struct node_profile {
  std::map<std::string, std::pair<double, long>> ms;  // label -> (total ms, count)
  std::vector<std::pair<std::string, std::pair<gpuEvent_t, gpuEvent_t>>> pending;
  void collect() {
    for (auto& [label, ev] : pending) {
      float t = 0;
      (void)gpuEventSynchronize(ev.second);
      (void)gpuEventElapsedTime(&t, ev.first, ev.second);
      auto& e = ms[label];
      e.first += t;
      e.second += 1;
      (void)gpuEventDestroy(ev.first);
      (void)gpuEventDestroy(ev.second);
    }
    pending.clear();
  }
};

std::string node_label(const tensor& n) {
  std::string l = op_name(n.op);
  if (n.op == op::mul_mat || n.op == op::mul_mat_id) l += fmt::format(" {} n={}", dtype_name(n.src[0]->type), n.src[1]->ne[1]);
  return l;
}

// What the scratch holds between nodes: src1 of the last product (or the output of the producer
// that rounded it there) in activation format last_type.
struct run_state {
  const tensor* last_b = nullptr;
  dtype last_type = dtype::f32;
  std::vector<char> done;  // nodes already run ahead of their place (grouped products)
  unsigned* counters = nullptr;  // attention_counters zeroed words (attention rounding)
  int epi_ropes = 0, epi_stores = 0, epi_norms = 0;  // ropes, cache stores and norm tails the last launch took (profile labels)
  std::vector<const tensor*> written;  // the storages the graph's nodes write, sorted (is_constant)
};

// HEARTH_GPU_FUSE: 0 no fused kernels, 1 without the rope -> KV cache store and attention ->
// rounding fusions (comparisons), otherwise (the default) all.
int fusion_level() {
  static const int level = [] {
    const char* e = std::getenv("HEARTH_GPU_FUSE");
    return e && *e ? std::atoi(e) : 2;
  }();
  return level;
}
bool fusion_enabled() { return fusion_level() != 0; }
bool fusion2_enabled() { return fusion_level() >= 2; }

void run_one(const std::vector<const tensor*>& work, size_t& i, gpuStream_t s, uint8_t* scratch, run_state& st);

// Programmatic dependent launch pays off for token generation, whose kernels fill the GPU once or
// less: the next kernel's blocks are placed and its first weight loads start while the current one
// drains (H200, tg128: 8B Q4_K_M +4.6%, 1B Q4_0 +9%). The many-wave kernels of a prompt lose more
// than they gain from the early-placed blocks (pp512 -2.5% / -6%), so only graphs of a few token
// rows use it.
bool few_rows(const std::vector<const tensor*>& work) {
  for (const tensor* n : work) {
    if (n->op == op::mul_mat && n->src[1]->nrows() > 16) return false;
    if (n->op == op::mul_mat_id && n->src[1]->ne[2] > 16) return false;
  }
  return true;
}

void run_nodes(const std::vector<const tensor*>& work, gpuStream_t s, uint8_t* scratch, unsigned* counters, node_profile* prof = nullptr) {
  pdl_allow(few_rows(work));
  run_state st;
  st.done.assign(work.size(), 0);
  st.counters = counters;
  for (const tensor* n : work) st.written.push_back(n->storage());
  std::sort(st.written.begin(), st.written.end(), std::less<const tensor*>());
  for (size_t i = 0; i < work.size(); ++i) {
    if (st.done[i]) continue;
    const tensor* n = work[i];
    gpuEvent_t e0 = nullptr, e1 = nullptr;
    if (prof) {
      (void)gpuEventCreate(&e0);
      (void)gpuEventCreate(&e1);
      (void)gpuEventRecord(e0, s);
    }
    const size_t i0 = i;
    st.epi_ropes = st.epi_stores = st.epi_norms = 0;
    run_one(work, i, s, scratch, st);
    if (prof) {
      (void)gpuEventRecord(e1, s);
      std::string label = node_label(*n);
      if (i != i0) label = "fused " + label + "+" + node_label(*work[i]);
      if (st.epi_ropes || st.epi_stores) label += fmt::format(" +{} rope +{} store", st.epi_ropes, st.epi_stores);
      if (st.epi_norms) label += " +add+norm+mul";
      prof->pending.push_back({label, {e0, e1}});
    }
  }
}

// The activation format a producer may round its output t into for the product after it (next
// reads t as src1), or f32 when it should not.
dtype round_for_next(const std::vector<const tensor*>& work, size_t next, const tensor& t) {
  if (!fusion_enabled() || next >= work.size()) return dtype::f32;
  const tensor* c = work[next];
  if ((c->op != op::mul_mat && c->op != op::mul_mat_id) || c->src[1] != &t) return dtype::f32;
  const dtype act = vec_dot_type(c->src[0]->type);
  return can_round_into(t, act) ? act : dtype::f32;
}

// Bytes a tensor's elements may touch (exact for rows of consecutive elements, an over-estimate
// for other strides).
std::pair<uintptr_t, uintptr_t> byte_range(const tensor& t) {
  const uintptr_t lo = reinterpret_cast<uintptr_t>(t.data);
  const size_t extra = t.nb[0] == type_size(t.type) ? 0 : (size_t)std::max<int64_t>(t.ne[0] - 1, 0) * t.nb[0];
  return {lo, lo + t.nbytes() + extra};
}
bool overlaps(const tensor& a, const tensor& b) {
  const auto ra = byte_range(a), rb = byte_range(b);
  return ra.first < rb.second && rb.first < ra.second;
}

// Matrix x vector products that read the same activations with the same weight type, a few nodes
// apart (the graph orders q, rope q, k, rope k, ..., v): the later ones join work[i]'s launch when
// running them early is safe, i.e. their outputs overlap nothing the nodes they skip read or write.
// Returns the group size; the members after the first are marked done.
// Whether node c (at work[c_at]) may run before the nodes work[from .. c_at) that have not run yet:
// what it writes overlaps nothing they read or write, and (check_inputs) they write nothing it
// reads. skip(t): nodes (and storages) that run together with c, not checked.
template <typename Skip>
bool can_run_early(const std::vector<const tensor*>& work, const run_state& st, const tensor& c, size_t from, size_t c_at, bool check_inputs,
                   const Skip& skip) {
  for (size_t x = from; x < c_at; ++x) {
    const tensor* w = work[x];
    if (st.done[x] || skip(w)) continue;  // ran already, or runs with c
    if (overlaps(c, *w)) return false;
    for (const tensor* src : w->src)
      if (src && overlaps(c, *src)) return false;
    if (check_inputs)
      for (const tensor* src : c.src)
        if (src && !skip(src->storage()) && overlaps(*w, *src)) return false;
  }
  return true;
}
const auto no_skip = [](const tensor*) { return false; };

int gather_products(const std::vector<const tensor*>& work, size_t i, run_state& st, const tensor* (&group)[3], size_t (&at)[3]) {
  const tensor* n = work[i];
  at[0] = i;
  int k = 1;
  bool second = false;  // a member of the pair's second type joined: no more of the first
  for (size_t j = i + 1; j < work.size() && j <= i + 8 && k < 3; ++j) {
    const tensor* c = work[j];
    if (st.done[j] || !mmv_eligible(*c) || c->src[1] != n->src[1] || c->src[0]->ne[0] != n->src[0]->ne[0] || c->src[0]->storage()->op != op::none)
      continue;
    const bool same = c->src[0]->type == n->src[0]->type;
    if (same ? second : (!mmv_pair(n->src[0]->type, c->src[0]->type) || !fusion2_enabled())) continue;
    // the kernel takes a block's pair of rows from one type: the first type's rows even
    bool even = true;
    for (int g = 0; g < k && !same; ++g) even = even && group[g]->src[0]->ne[1] % 2 == 0;
    if (!even) continue;
    bool safe = can_run_early(work, st, *c, i + 1, j, false, no_skip);
    for (int g = 0; g < k && safe; ++g) safe = !overlaps(*c, *group[g]) && !overlaps(*c, *group[g]->src[1]);
    if (!safe) continue;
    at[k] = j;
    group[k++] = c;
    st.done[j] = 1;
    second = second || !same;
  }
  return k;
}

// HEARTH_GPU_ROPE_PRODUCT=0: the ropes and KV cache stores of one token's queries, keys and values
// run as kernels of their own (comparisons).
bool rope_product_on() {
  static const bool on = !env_is("HEARTH_GPU_ROPE_PRODUCT", "0");
  return on && fusion2_enabled();
}

// Whether any source of x is (a view of) t.
bool reads_storage(const tensor& x, const tensor* t) {
  return std::any_of(std::begin(x.src), std::end(x.src), [&](const tensor* s) { return s && s->storage() == t; });
}

// For the products group[0..k) launched at work[exec_at] (member g at work[at[g]]): the rope that is
// the only reader of a member's result and the set_rows that stores the roped result into a KV
// cache, or the set_rows of the result itself, found a few nodes on (the queries', keys' and
// values' ropes and cache stores of one token). They run in the launch, so none costs a launch of
// its own. Moving a node to the launch is safe when what it writes touches nothing the nodes it
// skips read or write, and those write nothing it reads; the launch's own writes must be disjoint.
// Marks the moved nodes done; returns whether there are any.
bool find_epilogues(const std::vector<const tensor*>& work, size_t exec_at, run_state& st, const tensor* const (&group)[3], const size_t (&at)[3],
                    int k, mmv_epilogue (&eps)[3]) {
  const size_t end = std::min(work.size(), exec_at + 24);
  size_t pos[3][2] = {};  // work positions of each member's rope and store
  bool any = false;
  for (int g = 0; g < k; ++g) {
    if (group[g]->ne[0] % 2 != 0) return false;  // every member's rows even: a block's pair stays in one member
    const tensor* p = group[g];
    if (p->flags & tf_output) continue;
    // readers of the result after it: one rope, or set_rows (the values), and nothing else
    const tensor* reader = nullptr;
    size_t reader_at = 0;
    int n_readers = 0;
    for (size_t j = at[g] + 1; j < work.size(); ++j)
      if (reads_storage(*work[j], p)) {
        ++n_readers;
        reader = work[j];
        reader_at = j;
      }
    if (n_readers != 1 || reader_at >= end || st.done[reader_at]) continue;
    if (reader->op == op::rope) {
      if (!mmv_rope_fits(*p, *reader) || (reader->flags & tf_output)) continue;
      const tensor* r0 = nullptr;  // ropes of one launch share positions, factors and parameters
      for (int h = 0; h < g; ++h)
        if (eps[h].rope) r0 = eps[h].rope;
      if (r0 && (r0->src[1] != reader->src[1] || r0->src[2] != reader->src[2] || std::memcmp(r0->p.raw, reader->p.raw, sizeof r0->p.raw) != 0))
        continue;
      eps[g].rope = reader;
      pos[g][0] = reader_at;
      // the roped result's one reader may be its cache store (the queries go to the attention)
      for (size_t j = reader_at + 1; j < end; ++j)
        if (work[j]->op == op::set_rows && !st.done[j] && reads_storage(*work[j], reader) && mmv_store_fits(*reader, *work[j])) {
          eps[g].store = work[j];
          pos[g][1] = j;
          break;
        }
    } else if (reader->op == op::set_rows && mmv_store_fits(*p, *reader)) {
      eps[g].store = reader;
      pos[g][1] = reader_at;
    }
    any = any || eps[g].rope || eps[g].store;
  }
  if (!any) return false;
  // what runs in the launch
  auto in_launch = [&](const tensor* x) {
    for (int g = 0; g < k; ++g)
      if (x == group[g] || x == eps[g].rope || x == eps[g].store) return true;
    return false;
  };
  // the moved node c (its result rows come from the launch) against the nodes it skips
  auto movable = [&](const tensor* c, size_t c_at) { return can_run_early(work, st, *c, exec_at + 1, c_at, true, in_launch); };
  for (int g = 0; g < k; ++g) {
    if (eps[g].rope && !movable(eps[g].rope, pos[g][0])) eps[g] = {};
    if (eps[g].store && !movable(eps[g].store, pos[g][1])) eps[g].store = nullptr;
  }
  // the launch's writes: each member's rope result or own result, and the cache stores
  const tensor* writes[6];
  int n_writes = 0;
  for (int g = 0; g < k; ++g) {
    writes[n_writes++] = eps[g].rope ? eps[g].rope : group[g];
    if (eps[g].store) writes[n_writes++] = eps[g].store;
  }
  for (int a = 0; a < n_writes; ++a)
    for (int b = a + 1; b < n_writes; ++b)
      if (overlaps(*writes[a], *writes[b])) return false;
  any = false;
  for (int g = 0; g < k; ++g) {
    if (eps[g].rope) st.done[pos[g][0]] = 1;
    if (eps[g].store) st.done[pos[g][1]] = 1;
    st.epi_ropes += eps[g].rope ? 1 : 0;
    st.epi_stores += eps[g].store ? 1 : 0;
    any = any || eps[g].rope || eps[g].store;
  }
  return any;
}

// Whether no kernel writes t: a leaf (weights, inputs copied in before the graph) that no node of
// the graph stores into (as set_rows stores into a KV cache).
bool is_constant(const run_state& st, const tensor& t) {
  const tensor* s = t.storage();
  return s->op == op::none && !std::binary_search(st.written.begin(), st.written.end(), s, std::less<const tensor*>());
}

// Whether the products group[0..k) may load their first weights before the previous kernel ends:
// no kernel writes them (HEARTH_GPU_MMV_EARLY=0: never, a comparison).
bool weights_early(const run_state& st, const tensor* const* group, int k) {
  static const bool off = env_is("HEARTH_GPU_MMV_EARLY", "0");
  if (off) return false;
  for (int g = 0; g < k; ++g)
    if (!is_constant(st, *group[g]->src[0])) return false;
  return true;
}

// Runs work[i] (or a fused group starting there, advancing i to its last node).
void run_one(const std::vector<const tensor*>& work, size_t& i, gpuStream_t s, uint8_t* scratch, run_state& st) {
  const tensor* n = work[i];
  // add -> norm -> mul and norm -> mul run as one kernel, which may also round the result for the
  // product that follows.
  const tensor* add = nullptr;
  size_t norm_at = i;
  if (n->op == op::add && i + 2 < work.size() && (work[i + 1]->op == op::rms_norm || work[i + 1]->op == op::norm) &&
      can_fuse_norm(n, *work[i + 1], *work[i + 2])) {
    add = n;
    norm_at = i + 1;
  }
  if ((work[norm_at]->op == op::rms_norm || work[norm_at]->op == op::norm) && norm_at + 1 < work.size() &&
      can_fuse_norm(add, *work[norm_at], *work[norm_at + 1])) {
    const tensor& mul = *work[norm_at + 1];
    const dtype act = round_for_next(work, norm_at + 2, mul);
    const bool w_const = is_constant(st, *mul.src[1]);
    if (act != dtype::f32) {
      run_norm_fused(add, *work[norm_at], mul, s, scratch, act, w_const);
      st.last_b = &mul;
      st.last_type = act;
    } else {
      run_norm_fused(add, *work[norm_at], mul, s, nullptr, dtype::f32, w_const);
    }
    i = norm_at + 1;
    return;
  }
  if (n->op == op::glu && can_fuse_glu_round(*n)) {
    const dtype act = round_for_next(work, i + 1, *n);
    if (act != dtype::f32) {
      run_glu_round(*n, s, scratch, act);
      st.last_b = n;
      st.last_type = act;
      return;
    }
  }
  // two independent ropes (q, k) or cache writes (k, v) in a row: one launch
  if (fusion_enabled() && i + 1 < work.size() && !st.done[i + 1]) {
    const tensor* n2 = work[i + 1];
    // neither reads what the other writes (the allocator may give n2's output the memory of an
    // input whose last reader is n)
    const auto reads = [](const tensor* r, const tensor* w) {
      return std::any_of(std::begin(r->src), std::end(r->src), [&](const tensor* t) { return t && overlaps(*w, *t); });
    };
    const bool independent = !overlaps(*n, *n2) && !reads(n2, n) && !reads(n, n2);
    // [rope q,] rope k, then the keys' and values' cache writes: one launch, when the cache writes
    // touch nothing the ropes read or write and the values do not overlap the ropes' results.
    // (The two ropes are rarely independent in a model graph: the allocator may give the keys'
    // rope result the memory of the queries, whose last reader is the queries' rope.)
    for (int with_q = 1; with_q >= 0 && fusion2_enabled(); --with_q) {
      const size_t k_at = i + (size_t)with_q;
      if ((with_q && !independent) || k_at + 2 >= work.size() || st.done[k_at] || st.done[k_at + 1] || st.done[k_at + 2]) continue;
      const tensor *rq = with_q ? n : nullptr, *rk = work[k_at], *sk = work[k_at + 1], *sv = work[k_at + 2];
      if (!can_rope_store(rq, *rk, *sk, *sv)) continue;
      bool safe = !overlaps(*sk, *sv) && !reads(sv, sk) && !reads(sk, sv);
      for (const tensor* r : {rq, rk}) {
        if (!r) continue;
        for (const tensor* w : {sk, sv}) safe = safe && !reads(r, w) && !overlaps(*w, *r);
        safe = safe && !overlaps(*r, *sv->src[1]) && !overlaps(*r, *sk->src[2]);
      }
      if (safe) {
        run_rope_store(rq, *rk, *sk, *sv, s);
        i = k_at + 2;
        return;
      }
    }
    if (independent && can_pair_rope(*n, *n2)) {
      run_rope_pair(*n, *n2, s);
      i += 1;
      return;
    }
    if (independent && can_pair_set_rows(*n, *n2)) {
      run_set_rows_pair(*n, *n2, s);
      i += 1;
      return;
    }
  }
  // attention whose output rows the next product reads: the attention rounds them for it
  if (n->op == op::attention && fusion2_enabled() && st.counters && i + 1 < work.size() && !st.done[i + 1]) {
    const tensor& next = *work[i + 1];
    const dtype act = attention_round_type(*n, next);
    if (act != dtype::f32) {
      run_attention(*n, s, scratch, act, st.counters, n->src[3] && is_constant(st, *n->src[3]));
      st.last_b = next.src[1];
      st.last_type = act;
      return;
    }
  }
  // a node other than a product that uses the scratch (an attention split over a long cache keeps
  // its chunk states there) overwrites the rounded activations a later product could reuse
  if (n->op != op::mul_mat && n->op != op::mul_mat_id && scratch_bytes(*n) > 0) st.last_b = nullptr;
  // whether a product must round its activations (the scratch does not hold them in its format)
  const auto must_round = [&](const tensor& p) {
    const dtype t = vec_dot_type(p.src[0]->type);
    const bool q = !(st.last_b == p.src[1] && st.last_type == t);
    st.last_b = p.src[1];
    st.last_type = t;
    return q;
  };
  if (mmv_eligible(*n) && rope_product_on()) {
    // Products of the same activations with weights of another type a few nodes on (the values'
    // product beside the queries' and keys'): launched first with their own epilogues, so that the
    // ropes of the group may then overwrite what only those products read (the allocator gives the
    // queries' rope the memory of the layer's normalised input, whose last reader they are).
    for (size_t j = i + 1; j < work.size() && j <= i + 8; ++j) {
      const tensor* c = work[j];
      if (st.done[j] || !mmv_eligible(*c) || c->src[1] != n->src[1] || c->src[0]->type == n->src[0]->type ||
          c->src[0]->storage()->op != op::none || mmv_pair(n->src[0]->type, c->src[0]->type))
        continue;
      if (!can_run_early(work, st, *c, i, j, false, no_skip)) continue;
      st.done[j] = 1;
      const tensor* one[3] = {c, nullptr, nullptr};
      const size_t at[3] = {j, 0, 0};
      mmv_epilogue eps[3];
      const bool with_eps = find_epilogues(work, i, st, one, at, 1, eps);
      run_mul_mat_vec(one, 1, s, scratch, must_round(*c), with_eps ? eps : nullptr, nullptr, weights_early(st, one, 1));
    }
  }
  bool quantize = true;
  if (n->op == op::mul_mat || n->op == op::mul_mat_id) quantize = must_round(*n);
  if (mmv_eligible(*n)) {
    const tensor* group[3] = {n, nullptr, nullptr};
    size_t at[3] = {i, 0, 0};
    const int k = fusion_enabled() ? gather_products(work, i, st, group, at) : 1;
    mmv_epilogue eps[3];
    const bool with_eps = rope_product_on() && find_epilogues(work, i, st, group, at, k, eps);
    // a lone product followed by add -> rms_norm -> mul whose result the next product reads (the
    // attention output's and the feed-forward's products): the product's last block runs them
    // (where mmv_norm_fits says it pays; HEARTH_GPU_NORM_TAIL switches it)
    mmv_norm nm;
    if (k == 1 && !with_eps && fusion2_enabled() && st.counters && i + 4 < work.size() && !st.done[i + 1] && !st.done[i + 2] && !st.done[i + 3]) {
      const tensor *add = work[i + 1], *norm = work[i + 2], *mul = work[i + 3];
      const dtype act = round_for_next(work, i + 4, *mul);
      if (add->op == op::add && mmv_norm_fits(*n, *add, *norm, *mul, act)) nm = {add, norm, mul, act, st.counters + attention_counters};
    }
    run_mul_mat_vec(group, k, s, scratch, quantize, with_eps ? eps : nullptr, nm.add ? &nm : nullptr, weights_early(st, group, k));
    if (nm.add) {
      st.last_b = nm.mul;
      st.last_type = nm.act;
      st.epi_norms = 1;
      i += 3;
    }
    return;
  }
  run_node(*n, s, scratch, quantize);
}

class gpu_stream final : public stream {
 public:
  explicit gpu_stream(int dev) : dev_(dev) {
    check(gpuSetDevice(dev_), "set device");
    check(gpuStreamCreateWithFlags(&s_, gpuStreamNonBlocking), "create stream");
    const char* env = std::getenv("HEARTH_GPU_GRAPHS");
    graphs_ = !(env && std::strcmp(env, "0") == 0);
    const char* st = std::getenv("HEARTH_GPU_STATS");
    stats_ = st != nullptr;
    if (st && std::strcmp(st, "2") == 0) {
      prof_ = std::make_unique<node_profile>();
      graphs_ = false;
    }
  }
  ~gpu_stream() override {
    if (stats_ && n_compute_)
      std::fprintf(stderr, "%s:%d stream: %ld computes (%ld recorded, %ld replayed), host %.3f ms/compute, wait %.3f ms/sync (%ld syncs)\n",
                   HEARTH_GPU_API, dev_, n_compute_, n_record_, n_compute_ - n_record_, host_s_ * 1e3 / (double)n_compute_,
                   n_sync_ ? wait_s_ * 1e3 / (double)n_sync_ : 0.0, n_sync_);
    if (prof_) {
      prof_->collect();
      std::vector<std::pair<double, std::string>> rows;
      double total = 0;
      for (auto& [label, e] : prof_->ms) {
        rows.push_back({e.first, fmt::format("{:>10.3f} ms {:>8} x {:>8.2f} us  {}", e.first, e.second, e.first * 1e3 / e.second, label)});
        total += e.first;
      }
      std::sort(rows.rbegin(), rows.rend());
      std::fprintf(stderr, "GPU time by op (total %.3f ms over %ld computes):\n", total, n_compute_);
      for (auto& r : rows) std::fprintf(stderr, "  %s\n", r.second.c_str());
    }
    (void)gpuSetDevice(dev_);
    (void)gpuStreamSynchronize(s_);
    if (exec_) (void)gpuGraphExecDestroy(exec_);
    if (scratch_) (void)gpuFree(scratch_);
    if (counters_) (void)gpuFree(counters_);
    if (pinned_) (void)gpuFreeHost(pinned_);
    (void)gpuStreamDestroy(s_);
  }

  void compute(const std::vector<tensor*>& nodes) override {
    const auto t0 = std::chrono::steady_clock::now();
    compute_nodes(nodes);
    host_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++n_compute_;
  }

  void compute_nodes(const std::vector<tensor*>& nodes) {
    check(gpuSetDevice(dev_), "set device");
    // The node list of the recording (same plan id): replay it without building its key.
    static const bool keys = env_is("HEARTH_GPU_KEYS", "1");  // compare keys every compute (comparisons)
    if (graphs_ && exec_ && plan_id_ != 0 && plan_id_ == rec_plan_id_ && !keys) {
      check(gpuGraphLaunch(exec_, s_), "launch graph");
      return;
    }
    rec_plan_id_ = 0;
    std::vector<const tensor*>& work = work_;  // reused: no allocation per token
    work.clear();
    size_t need = 0;
    for (const tensor* n : nodes) {
      if (n->op == op::view || n->op == op::none) continue;
      work.push_back(n);
      need = std::max(need, scratch_bytes(*n));
    }
    if (work.empty()) return;
    if (!counters_) {
      void* p = nullptr;
      check(gpuMalloc(&p, gpu_counters * sizeof(unsigned)), "allocate counters");
      check(gpuMemsetAsync(p, 0, gpu_counters * sizeof(unsigned), s_), "clear counters");
      counters_ = static_cast<unsigned*>(p);
    }
    if (need > scratch_bytes_) {
      check(gpuStreamSynchronize(s_), "synchronize");
      if (scratch_) (void)gpuFree(scratch_);
      scratch_ = nullptr;
      scratch_bytes_ = 0;
      check(gpuMalloc(reinterpret_cast<void**>(&scratch_), need), "allocate scratch");
      scratch_bytes_ = need;
    }
    if (!graphs_) {
      run_nodes(work, s_, scratch_, counters_, prof_.get());
      check_launches();
      return;
    }
    std::vector<int64_t>& key = key_next_;
    key.clear();
    key.push_back((int64_t)(intptr_t)scratch_);
    for (const tensor* n : work) append_node_key(key, *n);
    if (!exec_ || key != key_) {
      record(work);
      ++n_record_;
    }
    key_.swap(key);
    rec_plan_id_ = plan_id_;
    check(gpuGraphLaunch(exec_, s_), "launch graph");
  }

  void synchronize() override {
    const auto t0 = std::chrono::steady_clock::now();
    check(gpuSetDevice(dev_), "set device");
    check(gpuStreamSynchronize(s_), "synchronize");
    pinned_used_ = 0;  // every staged copy has run
    if (prof_) prof_->collect();
    wait_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++n_sync_;
  }
  void set_async(tensor& t, const void* src, size_t offset, size_t n) override {
    check(gpuSetDevice(dev_), "set device");
    // Small inputs (tokens, positions, masks of a decode step) go through a pinned staging area:
    // a copy from pageable memory costs far more than the memcpy into it.
    if (n <= k_pinned_bytes / 4) {
      if (!pinned_ && !pinned_failed_) {
        void* p = nullptr;
        if (gpuMallocHost(&p, k_pinned_bytes) == gpuSuccess) {
          pinned_ = static_cast<uint8_t*>(p);
        } else {
          (void)gpuGetLastError();
          pinned_failed_ = true;
        }
      }
      if (pinned_) {
        if (pinned_used_ + n > k_pinned_bytes) {
          check(gpuStreamSynchronize(s_), "synchronize");
          pinned_used_ = 0;
        }
        std::memcpy(pinned_ + pinned_used_, src, n);
        check(gpuMemcpyAsync(static_cast<uint8_t*>(t.data) + offset, pinned_ + pinned_used_, n, gpuMemcpyHostToDevice, s_),
              "copy to device");
        pinned_used_ += (n + 63) / 64 * 64;
        return;
      }
    }
    check(gpuMemcpyAsync(static_cast<uint8_t*>(t.data) + offset, src, n, gpuMemcpyHostToDevice, s_), "copy to device");
  }
  void get_async(const tensor& t, void* dst, size_t offset, size_t n) override {
    check(gpuSetDevice(dev_), "set device");
    check(gpuMemcpyAsync(dst, static_cast<const uint8_t*>(t.data) + offset, n, gpuMemcpyDeviceToHost, s_), "copy from device");
  }

 private:
  void check_launches() {
    const char* e = take_launch_error();
    if (*e) fail("{}: kernel launch failed: {}", HEARTH_GPU_API, e);
  }

  // Captures the node list into a graph; updates the executable graph in place when the topology
  // is unchanged, else instantiates a new one.
  void record(const std::vector<const tensor*>& work) {
    gpuGraph_t g = nullptr;
    check(gpuStreamBeginCaptureRelaxed(s_), "begin graph capture");
    run_nodes(work, s_, scratch_, counters_);
    const gpuError_t e = gpuStreamEndCapture(s_, &g);
    check_launches();
    check(e, "end graph capture");
    if (!exec_ || !gpuGraphExecUpdateOk(exec_, g)) {
      if (exec_) (void)gpuGraphExecDestroy(exec_);
      exec_ = nullptr;
      const gpuError_t ie = gpuGraphInstantiateSimple(&exec_, g);
      if (ie != gpuSuccess) {
        (void)gpuGraphDestroy(g);
        exec_ = nullptr;
        check(ie, "instantiate graph");
      }
    }
    (void)gpuGraphDestroy(g);
  }

  static constexpr size_t k_pinned_bytes = 4 << 20;
  int dev_;
  gpuStream_t s_ = nullptr;
  uint8_t* pinned_ = nullptr;
  size_t pinned_used_ = 0;
  bool pinned_failed_ = false;
  std::vector<const tensor*> work_;
  std::vector<int64_t> key_next_;
  uint8_t* scratch_ = nullptr;
  size_t scratch_bytes_ = 0;
  unsigned* counters_ = nullptr;
  bool graphs_ = true;
  gpuGraphExec_t exec_ = nullptr;
  std::vector<int64_t> key_;
  uint64_t rec_plan_id_ = 0;  // the plan id of the node list whose graph exec_ replays
  std::unique_ptr<node_profile> prof_;
  bool stats_ = false;  // HEARTH_GPU_STATS: timing summary on stderr when the stream ends
  long n_compute_ = 0, n_record_ = 0, n_sync_ = 0;
  double host_s_ = 0, wait_s_ = 0;
};

class gpu_device final : public device {
 public:
  gpu_device(int index, const gpuDeviceProp& p, std::string arch) : index_(index), prop_(p), arch_(std::move(arch)) {
    buft_ = std::make_unique<gpu_buffer_type>(this, index, (size_t)p.totalGlobalMem);
  }
  std::string name() const override { return std::string(HEARTH_GPU_API) + ":" + std::to_string(index_); }
  std::string description() const override { return prop_.name; }
  device_kind kind() const override { return prop_.integrated ? device_kind::gpu_integrated : device_kind::gpu_discrete; }
  device_memory memory() const override {
    device_memory m;
    size_t free_b = 0, total_b = 0;
    if (gpuSetDevice(index_) == gpuSuccess && gpuMemGetInfo(&free_b, &total_b) == gpuSuccess) {
      m.free_bytes = free_b;
      m.total_bytes = total_b;
    } else {
      (void)gpuGetLastError();
      m.total_bytes = prop_.totalGlobalMem;
    }
    return m;
  }
  device_props props() const override {
    device_props p;
    p.api = HEARTH_GPU_API;
    int drv = 0, rt = 0;
    (void)gpuDriverGetVersion(&drv);
    (void)gpuRuntimeGetVersion(&rt);
    // Versions come as 1000 * major + 10 * minor (CUDA) or a build number (HIP): shown as major.minor.
    auto version = [](int v) { return v >= 1000 ? fmt::format("{}.{}", v / 1000, (v % 1000) / 10) : std::to_string(v); };
    p.driver = std::string(HEARTH_GPU_API) == "cuda" ? "CUDA" : "HIP";
    const double clock_khz = gpuMemoryClockKhz(index_), bus_bits = gpuMemoryBusWidth(index_);
    p.peak_bandwidth = (uint64_t)(2.0 * clock_khz * 1000.0 * bus_bits / 8.0);
    p.max_alloc_bytes = prop_.totalGlobalMem;
    p.extra["arch"] = arch_;
    p.extra["pci_address"] = fmt::format("{:04x}:{:02x}:{:02x}.0", prop_.pciDomainID, prop_.pciBusID, prop_.pciDeviceID);
    p.extra.emplace("vendor_id", std::string(HEARTH_GPU_API) == "cuda" ? "10de" : "1002");
    p.extra["driver_version"] = version(drv);
    p.extra["api_version"] = "runtime " + version(rt);
    p.extra["subgroup_size"] = std::to_string(prop_.warpSize);
    p.extra.emplace("fp16", "1");  // emplace: GCC 12 warns (-Wrestrict) on assigning a literal here
    p.extra["info.multiprocessors"] = std::to_string(prop_.multiProcessorCount);
    if (const char* v = std::getenv(gpuVisibleDevicesVar())) p.extra[std::string("info.") + gpuVisibleDevicesVar()] = v;
    if (const char* v = std::getenv("HSA_OVERRIDE_GFX_VERSION")) p.extra["info.HSA_OVERRIDE_GFX_VERSION"] = v;
    return p;
  }
  bool supports_op(const tensor& node) const override { return op_supported(node); }
  buffer_type* default_buffer_type() override { return buft_.get(); }
  std::unique_ptr<stream> make_stream() override { return std::make_unique<gpu_stream>(index_); }

 private:
  int index_;
  gpuDeviceProp prop_;
  std::string arch_;
  std::unique_ptr<gpu_buffer_type> buft_;
};

#if defined(HEARTH_GPU_HIP)
// "gfx90a:sramecc+:xnack-" -> "gfx90a"
std::string base_arch(const char* name) {
  std::string s(name);
  return s.substr(0, s.find(':'));
}
bool built_for(const std::string& arch) {
  std::stringstream ss(HEARTH_GPU_TARGETS);
  std::string t;
  while (std::getline(ss, t, ';'))
    if (t == arch) return true;
  return false;
}
#endif

class gpu_module final : public backend_module {
 public:
  gpu_module() {
    int n = 0;
    if (gpuGetDeviceCount(&n) != gpuSuccess) {
      (void)gpuGetLastError();
      status_ = "no driver or no device";
      return;
    }
    for (int i = 0; i < n; ++i) {
      gpuDeviceProp p;
      if (gpuGetDeviceProperties(&p, i) != gpuSuccess) continue;
#if defined(HEARTH_GPU_HIP)
      const std::string arch = base_arch(p.gcnArchName);
      if (!built_for(arch)) {
        const char* ov = std::getenv("HSA_OVERRIDE_GFX_VERSION");
        notes_.push_back(fmt::format("rocm:{} ({}): {} is not among the targets this module was built for ({}){}", i, p.name, arch,
                                     HEARTH_GPU_TARGETS, ov ? fmt::format("; HSA_OVERRIDE_GFX_VERSION={} is set", ov) : ""));
        continue;
      }
      if (const char* ov = std::getenv("HSA_OVERRIDE_GFX_VERSION")) log_info("rocm:{}: HSA_OVERRIDE_GFX_VERSION={} in effect ({})", i, ov, arch);
#else
      const std::string arch = fmt::format("sm_{}{}", p.major, p.minor);
#endif
      devices_.push_back(std::make_unique<gpu_device>(i, p, arch));
    }
    status_ = devices_.empty() ? (notes_.empty() ? "no device" : notes_.front()) : "ok";
    for (const auto& s : notes_) log_warn("{}", s);
  }
  const char* name() const override { return HEARTH_GPU_API; }
  int score() const override { return devices_.empty() ? 0 : 100; }
  std::vector<device*> devices() override {
    std::vector<device*> out;
    for (auto& d : devices_) out.push_back(d.get());
    return out;
  }
  std::string status() const override { return status_; }

 private:
  std::vector<std::unique_ptr<gpu_device>> devices_;
  std::vector<std::string> notes_;
  std::string status_;
};

int probe() {
  int n = 0;
  if (gpuGetDeviceCount(&n) != gpuSuccess) {
    (void)gpuGetLastError();
    return 0;
  }
  return n > 0 ? 100 : 0;
}

backend_module* create() {
  auto* m = new gpu_module();
  if (m->score() <= 0) {
    const std::string why = m->status();
    delete m;
    fail("{}", why);
  }
  return m;
}

}  // namespace

}  // namespace hearth::gpu

extern "C" __attribute__((visibility("default"))) const hearth_module_entry_v1* hearth_backend_module_entry() {
  static const hearth_module_entry_v1 entry{HEARTH_BACKEND_ABI_VERSION, HEARTH_GPU_API, &hearth::gpu::probe, &hearth::gpu::create};
  return &entry;
}
