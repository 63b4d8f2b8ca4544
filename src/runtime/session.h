// A generation session: one model, one context, one sequence. generate() evaluates a prompt
// (reusing the longest common prefix already in the KV cache), then samples token by token,
// streaming text that is safe to show: complete UTF-8, and never a piece of a stop sequence.
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/context.h"
#include "runtime/sampler.h"
#include "tokenizer/vocab.h"

namespace hearth {

enum class finish_reason {
  eos,            // the model produced an end-of-generation token
  length,         // max_tokens reached
  stop_sequence,  // one of the stop strings appeared (it is not part of the text)
  context_full,   // no room left in the context
  cancelled,      // the caller asked to stop (callback returned false or cancel flag set)
};
const char* finish_reason_name(finish_reason r);  // "stop", "length", "stop", "length", "cancelled"

struct generate_params {
  sampling_params sampling;
  int32_t max_tokens = -1;          // -1: until EOS or the context is full
  std::vector<std::string> stop;    // stop sequences (text)
  bool ignore_eos = false;
  const std::atomic<bool>* cancel = nullptr;  // checked between tokens
};

// One step of output. text is the newly releasable text (may be empty while held back). A last
// call with id -1 may carry text held back until the end (no token).
struct generated_token {
  int32_t id = 0;
  std::string text;
  float logprob = 0;
  std::vector<token_logprob> top;
};

struct generate_result {
  std::string text;                 // everything released (stop sequence excluded)
  std::vector<int32_t> tokens;      // generated ids
  finish_reason finish = finish_reason::length;
  int32_t n_prompt = 0;             // prompt tokens
  int32_t n_cached = 0;             // of which reused from the cache
  int32_t n_generated = 0;
  double prompt_ms = 0;             // time to evaluate the new prompt tokens
  double gen_ms = 0;                // time from the first to the last generated token
  double ttft_ms = 0;               // from the call to the first sampled token
};

class session {
 public:
  session(model& m, const context_params& cp);
  // on_token is called for every generated token; returning false cancels.
  generate_result generate(const std::vector<int32_t>& prompt, const generate_params& gp,
                           const std::function<bool(const generated_token&)>& on_token = {});
  std::vector<int32_t> tokenize(const std::string& text, bool add_special = true, bool parse_special = true) const;
  const vocab& voc() const;
  context& ctx() { return *ctx_; }
  model& mdl() { return m_; }
  // Forgets the cached prefix (next generate() evaluates the whole prompt).
  void clear();

 private:
  model& m_;
  std::unique_ptr<context> ctx_;
  std::vector<int32_t> cached_;  // tokens whose K/V are in the cache, in order from position 0
};

}  // namespace hearth
