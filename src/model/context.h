// An inference context over a loaded model: the KV cache, the scheduler with its compute buffers,
// and decode(), which turns a batch of tokens into logits. Buffers are sized once for the largest
// micro-batch, so decoding allocates nothing per token.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "backend/scheduler.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/model.h"

namespace hearth {

struct context_params {
  uint32_t n_ctx = 0;          // cells of KV cache; 0: the model's training context, at most 4096
  uint32_t n_batch = 512;      // largest micro-batch (prompt tokens per graph)
  dtype type_k = dtype::f16;   // KV cache storage type (f16 or f32)
  dtype type_v = dtype::f16;
  int n_threads = 0;           // CPU threads; 0: one per physical core
  std::string dump_dir;        // when set, every named intermediate tensor is written there
};

class context {
 public:
  context(model& m, const context_params& p);
  ~context();

  // Decodes b (any size: it is cut into micro-batches). Afterwards logits(i) holds the logits of
  // the i-th token of b whose logits flag is set. Throws on an invalid token, a full cache or a
  // device failure; the cache is then left as before the call.
  void decode(const batch& b);
  const float* logits(size_t i) const;
  size_t n_outputs() const { return n_outputs_; }
  uint32_t n_vocab() const { return m_.hp.n_vocab; }
  uint32_t n_ctx() const { return kv_->size(); }
  kv_cache& cache() { return *kv_; }
  model& mdl() { return m_; }
  scheduler& sched() { return *sched_; }
  const context_params& params() const { return params_; }
  // Device memory held by this context (KV cache + compute buffers), per device.
  std::vector<std::pair<device*, uint64_t>> memory() const;

 private:
  void decode_ubatch(const ubatch& ub, size_t out_base);
  struct built_graph;
  struct decode_stats;

  model& m_;
  context_params params_;
  std::unique_ptr<kv_cache> kv_;
  std::unique_ptr<scheduler> sched_;
  std::vector<float> logits_;
  size_t n_outputs_ = 0;
  uint64_t pass_ = 0;
  // The last planned graph, reused while the next micro-batch has the same shape (every token of a
  // generation between KV-cache pad steps): rebuilding and re-planning it costs more host time per
  // token than a GPU spends computing a small model.
  std::unique_ptr<built_graph> last_;
  std::unique_ptr<decode_stats> stats_;  // HEARTH_DECODE_STATS=1: host time per decode phase
};

}  // namespace hearth
