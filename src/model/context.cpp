#include "model/context.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "backend/registry.h"
#include "core/error.h"
#include "core/log.h"
#include "model/archs/archs.h"
#include "model/graph_builder.h"

namespace hearth {

namespace {

std::vector<device*> devices_of(const model& m) {
  std::vector<device*> out;
  auto add = [&](device* d) {
    if (d && d->kind() != device_kind::cpu && std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
  };
  for (device* d : m.place.layers) add(d);
  add(m.place.output);
  add(m.place.input);
  out.push_back(registry::instance().cpu());
  return out;
}

struct dump_state {
  std::string dir;
  uint64_t pass;
  std::ofstream index;
};

void dump_nodes(void* user, const std::vector<tensor*>& nodes, scheduler& s) {
  auto* st = static_cast<dump_state*>(user);
  for (tensor* n : nodes) {
    if (n->name.empty() || n->type != dtype::f32 || !n->is_contiguous()) continue;
    std::vector<float> data((size_t)n->nelements());
    s.get(n, data.data(), 0, data.size() * 4);
    const std::string file = fmt::format("{}/{}.f32", st->dir, n->name);
    std::ofstream out(file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(data.data()), (std::streamsize)(data.size() * 4));
    st->index << n->name << '\t' << op_name(n->op) << '\t' << n->ne[0] << '\t' << n->ne[1] << '\t' << n->ne[2] << '\t' << n->ne[3]
              << '\t' << s.device_of(n)->name() << '\n';
  }
}

}  // namespace

struct context::built_graph {
  graph g;
  std::unique_ptr<graph_builder> b;
  tensor* logits = nullptr;
  int64_t n_tokens = 0, n_out = 0;
  uint32_t n_kv = 0;
};

// Where the host time of decode() goes (HEARTH_DECODE_STATS=1; printed when the context ends):
// building and planning graphs, setting the inputs, the scheduler's compute (launching every split
// and waiting for it), reading the logits.
struct context::decode_stats {
  using clock = std::chrono::steady_clock;
  uint64_t n = 0, n_built = 0;
  double build = 0, inputs = 0, compute = 0, get = 0;
  std::vector<scheduler::split_info> splits;
  static double since(clock::time_point& t) {
    const clock::time_point now = clock::now();
    const double s = std::chrono::duration<double>(now - t).count();
    t = now;
    return s;
  }
  ~decode_stats() {
    if (!n) return;
    const double k = 1e3 / (double)n;
    std::fprintf(stderr, "decode: %lu micro-batches (%lu graphs built): build+plan %.3f ms, inputs %.3f ms, compute %.3f ms, logits %.3f ms each\n",
                 (unsigned long)n, (unsigned long)n_built, build * k, inputs * k, compute * k, get * k);
    for (const auto& sp : splits) std::fprintf(stderr, "  split on %s: %d nodes, %d copies in\n", sp.dev->name().c_str(), sp.n_nodes, sp.n_copies);
  }
};

context::context(model& m, const context_params& p) : m_(m), params_(p) {
  if (params_.n_ctx == 0) params_.n_ctx = std::min<uint32_t>(m.hp.n_ctx_train, 4096);
  if (params_.n_batch == 0) fail(error_kind::invalid_argument, "batch size must be positive");
  params_.n_batch = std::min(params_.n_batch, params_.n_ctx);
  if (params_.n_threads > 0)
    for (device* d : devices_of(m)) d->set_threads(params_.n_threads);
  kv_ = std::make_unique<kv_cache>(m, params_.n_ctx, params_.type_k, params_.type_v);
  sched_ = std::make_unique<scheduler>(devices_of(m));
  // Size every buffer for the largest graph now: the decode loop then never allocates.
  graph g;
  graph_builder b(m, *kv_, g, params_.n_batch, params_.n_batch, params_.n_ctx);
  g.mark_output(arch_for(m.hp.a).build(b));
  sched_->reserve(g);
  if (const char* e = std::getenv("HEARTH_DECODE_STATS"); e && *e == '1') stats_ = std::make_unique<decode_stats>();
}

context::~context() = default;

std::vector<std::pair<device*, uint64_t>> context::memory() const {
  std::map<device*, uint64_t> by;
  for (auto& [d, n] : kv_->bytes()) by[d] += n;
  for (auto& [d, n] : sched_->buffer_sizes()) by[d] += n;
  return {by.begin(), by.end()};
}

void context::decode(const batch& b) {
  if (b.size() == 0) fail(error_kind::invalid_argument, "decode: empty batch");
  if (b.pos.size() != b.size() || b.seq.size() != b.size() || b.logits.size() != b.size())
    fail(error_kind::invalid_argument, "decode: batch fields have different lengths");
  for (size_t i = 0; i < b.size(); ++i) {
    if (b.tokens[i] < 0 || (uint32_t)b.tokens[i] >= m_.hp.n_vocab)
      fail(error_kind::invalid_argument, "decode: token id {} is outside the vocabulary (0..{})", b.tokens[i], m_.hp.n_vocab - 1);
    if (b.pos[i] < 0) fail(error_kind::invalid_argument, "decode: negative position {}", b.pos[i]);
  }
  n_outputs_ = (size_t)std::count(b.logits.begin(), b.logits.end(), true);
  logits_.resize(n_outputs_ * m_.hp.n_vocab);
  size_t out_base = 0;
  for (size_t begin = 0; begin < b.size(); begin += params_.n_batch) {
    const ubatch ub{&b, begin, std::min(b.size(), begin + params_.n_batch)};
    decode_ubatch(ub, out_base);
    out_base += (size_t)std::count(b.logits.begin() + (long)ub.begin, b.logits.begin() + (long)ub.end, true);
  }
}

void context::decode_ubatch(const ubatch& ub, size_t out_base) {
  const int64_t n_tokens = (int64_t)ub.size();
  std::vector<int32_t> out_ids;
  for (size_t i = ub.begin; i < ub.end; ++i)
    if (ub.b->logits[i]) out_ids.push_back((int32_t)(i - ub.begin));
  // Graphs always produce at least one row; unwanted rows are simply not copied out.
  const int64_t n_out = std::max<int64_t>(1, (int64_t)out_ids.size());
  if (out_ids.empty()) out_ids.push_back((int32_t)n_tokens - 1);

  auto t = stats_ ? decode_stats::clock::now() : decode_stats::clock::time_point{};  // no clock read per token unless asked
  std::vector<int32_t> slots = kv_->place(ub);
  try {
    const uint32_t n_kv = kv_->n_kv();
    if (!last_ || last_->n_tokens != n_tokens || last_->n_out != n_out || last_->n_kv != n_kv || !params_.dump_dir.empty()) {
      last_.reset();
      auto bg = std::make_unique<built_graph>();
      bg->b = std::make_unique<graph_builder>(m_, *kv_, bg->g, n_tokens, n_out, n_kv);
      bg->logits = arch_for(m_.hp.a).build(*bg->b);
      bg->g.mark_output(bg->logits);
      bg->n_tokens = n_tokens;
      bg->n_out = n_out;
      bg->n_kv = n_kv;
      sched_->plan(bg->g);
      last_ = std::move(bg);
      if (stats_) {
        ++stats_->n_built;
        stats_->splits = sched_->splits();
      }
    }
    if (stats_) stats_->build += decode_stats::since(t);
    graph_builder& b = *last_->b;
    tensor* logits = last_->logits;
    std::unique_ptr<dump_state> dump;
    if (!params_.dump_dir.empty()) {
      dump = std::make_unique<dump_state>();
      dump->dir = fmt::format("{}/pass{}", params_.dump_dir, pass_);
      std::filesystem::create_directories(dump->dir);
      dump->index.open(dump->dir + "/index.tsv");
      sched_->set_node_callback(dump_nodes, dump.get());
    }
    sched_->set_input(b.in.tokens, ub.b->tokens.data() + ub.begin, (size_t)n_tokens * 4);
    sched_->set_input(b.in.pos, ub.b->pos.data() + ub.begin, (size_t)n_tokens * 4);
    sched_->set_input(b.in.kv_idx, slots.data(), (size_t)n_tokens * 4);
    std::vector<float> mask((size_t)n_kv * (size_t)n_tokens);
    kv_->fill_mask(ub, n_kv, 0, mask.data());
    sched_->set_input(b.in.mask, mask.data(), mask.size() * 4);
    if (b.in.mask_swa) {
      kv_->fill_mask(ub, n_kv, m_.hp.n_swa, mask.data());
      sched_->set_input(b.in.mask_swa, mask.data(), mask.size() * 4);
    }
    if (b.in.out_ids) sched_->set_input(b.in.out_ids, out_ids.data(), out_ids.size() * 4);
    if (stats_) stats_->inputs += decode_stats::since(t);
    sched_->compute();
    sched_->set_node_callback(nullptr, nullptr);
    if (stats_) stats_->compute += decode_stats::since(t);
    const size_t n_copy = (size_t)std::count(ub.b->logits.begin() + (long)ub.begin, ub.b->logits.begin() + (long)ub.end, true);
    if (n_copy) sched_->get(logits, logits_.data() + out_base * m_.hp.n_vocab, 0, n_copy * m_.hp.n_vocab * 4);
    if (stats_) {
      stats_->get += decode_stats::since(t);
      ++stats_->n;
    }
    ++pass_;
  } catch (...) {
    sched_->set_node_callback(nullptr, nullptr);
    last_.reset();
    kv_->release(slots);
    throw;
  }
}

const float* context::logits(size_t i) const {
  if (i >= n_outputs_) fail(error_kind::invalid_argument, "logits: output {} of {}", i, n_outputs_);
  return logits_.data() + i * m_.hp.n_vocab;
}

}  // namespace hearth
