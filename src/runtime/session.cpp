#include "runtime/session.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "core/error.h"

namespace hearth {

const char* finish_reason_name(finish_reason r) {
  switch (r) {
    case finish_reason::eos:
    case finish_reason::stop_sequence: return "stop";
    case finish_reason::length:
    case finish_reason::context_full: return "length";
    case finish_reason::cancelled: return "cancelled";
  }
  return "stop";
}

namespace {

using clock_type = std::chrono::steady_clock;
double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

// Holds back generated text that could still turn into a stop sequence.
class stop_matcher {
 public:
  explicit stop_matcher(const std::vector<std::string>& stops) {
    for (const auto& s : stops)
      if (!s.empty()) stops_.push_back(s);
  }
  // Adds text; returns what may be released. Sets `hit` when a stop sequence completed (the
  // released text then ends right before it and the rest is dropped).
  std::string push(const std::string& text, bool& hit) {
    pending_ += text;
    size_t first = std::string::npos;
    for (const auto& s : stops_) first = std::min(first, pending_.find(s));
    if (first != std::string::npos) {
      hit = true;
      std::string out = pending_.substr(0, first);
      pending_.clear();
      return out;
    }
    size_t hold = 0;
    for (const auto& s : stops_)
      for (size_t k = std::min(s.size() - 1, pending_.size()); k > hold; --k)
        if (pending_.compare(pending_.size() - k, k, s, 0, k) == 0) {
          hold = k;
          break;
        }
    std::string out = pending_.substr(0, pending_.size() - hold);
    pending_.erase(0, pending_.size() - hold);
    return out;
  }
  std::string flush() { return std::exchange(pending_, {}); }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
};

}  // namespace

session::session(model& m, const context_params& cp) : m_(m), ctx_(std::make_unique<context>(m, cp)) {
  if (!m.voc) fail("session: the model has no vocabulary");
}

const vocab& session::voc() const { return *m_.voc; }

std::vector<int32_t> session::tokenize(const std::string& text, bool add_special, bool parse_special) const {
  return m_.voc->tokenize(text, add_special, parse_special);
}

void session::clear() {
  ctx_->cache().clear();
  cached_.clear();
}

generate_result session::generate(const std::vector<int32_t>& prompt, const generate_params& gp,
                                  const std::function<bool(const generated_token&)>& on_token) {
  const auto t0 = clock_type::now();
  const uint32_t n_ctx = ctx_->n_ctx();
  if (prompt.empty()) fail(error_kind::invalid_argument, "the prompt is empty");
  if (prompt.size() >= n_ctx)
    fail(error_kind::invalid_argument, "the prompt is {} tokens; the context holds {} (raise --ctx-size)", prompt.size(), n_ctx);
  const int32_t n_vocab = (int32_t)ctx_->n_vocab();
  for (int32_t t : prompt)
    if (t < 0 || t >= n_vocab) fail(error_kind::invalid_argument, "token id {} is outside the vocabulary (0..{})", t, n_vocab - 1);

  // Reuse the longest common prefix; at least the last prompt token is evaluated for its logits.
  size_t keep = 0;
  while (keep < cached_.size() && keep < prompt.size() && cached_[keep] == prompt[keep]) ++keep;
  keep = std::min(keep, prompt.size() - 1);
  ctx_->cache().seq_rm(0, (int32_t)keep, -1);
  cached_.resize(keep);

  generate_result r;
  r.n_prompt = (int32_t)prompt.size();
  r.n_cached = (int32_t)keep;
  sampler smp(gp.sampling, n_vocab);
  for (int32_t t : prompt) smp.accept(t);

  const std::vector<int32_t> tail(prompt.begin() + (ptrdiff_t)keep, prompt.end());
  try {
    ctx_->decode(batch::of(tail, (int32_t)keep));
  } catch (...) {
    clear();
    throw;
  }
  cached_.insert(cached_.end(), tail.begin(), tail.end());
  r.prompt_ms = ms_since(t0);

  stream_detokenizer detok(*m_.voc);
  stop_matcher stops(gp.stop);
  const auto cancelled = [&] { return gp.cancel && gp.cancel->load(std::memory_order_relaxed); };
  clock_type::time_point t_first{};
  bool stopped = false;
  r.finish = finish_reason::length;
  while (true) {
    if (gp.max_tokens >= 0 && r.n_generated >= gp.max_tokens) { r.finish = finish_reason::length; break; }
    if (cancelled()) { r.finish = finish_reason::cancelled; break; }
    const sample_result s = smp.sample(ctx_->logits(ctx_->n_outputs() - 1));
    if (r.n_generated == 0) {
      t_first = clock_type::now();
      r.ttft_ms = ms_since(t0);
    }
    if (!gp.ignore_eos && m_.voc->is_eog(s.id)) { r.finish = finish_reason::eos; break; }
    smp.accept(s.id);
    r.tokens.push_back(s.id);
    ++r.n_generated;
    generated_token g;
    g.id = s.id;
    g.logprob = s.logprob;
    g.top = s.top;
    g.text = stops.push(detok.push(s.id), stopped);
    r.text += g.text;
    const bool go_on = !on_token || on_token(g);
    if (stopped) { r.finish = finish_reason::stop_sequence; break; }
    if (!go_on) { r.finish = finish_reason::cancelled; break; }
    if (gp.max_tokens >= 0 && r.n_generated >= gp.max_tokens) { r.finish = finish_reason::length; break; }
    if (cached_.size() >= n_ctx) { r.finish = finish_reason::context_full; break; }
    try {
      ctx_->decode(batch::of({s.id}, (int32_t)cached_.size()));
    } catch (...) {
      clear();
      throw;
    }
    cached_.push_back(s.id);
  }
  if (!stopped) {
    // The end: what the detokenizer and the stop matcher held back is final text now.
    generated_token g;
    g.text = stops.push(detok.flush(), stopped);
    g.text += stopped ? std::string() : stops.flush();
    if (stopped) r.finish = finish_reason::stop_sequence;
    if (!g.text.empty()) {
      r.text += g.text;
      g.id = -1;
      if (on_token) on_token(g);
    }
  }
  if (r.n_generated > 0) r.gen_ms = std::chrono::duration<double, std::milli>(clock_type::now() - t_first).count();
  return r;
}

}  // namespace hearth
