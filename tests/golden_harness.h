// The golden-output harness shared by the CPU and GPU test binaries: runs a reference case from
// tests/data/reference (a model, a prompt, llama.cpp's logits and greedy continuation) on a given
// device placement and reports how far Hearth's numbers are from the reference.
#pragma once
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "backend/registry.h"
#include "backends/init.h"
#include "model/context.h"
#include "model/loader.h"
#include "test_util.h"

namespace hearth::test {

struct golden_case {
  std::string json_path;   // the reference JSON
  std::string stem;        // e.g. "synth-llama-f32.prompt16"
  nlohmann::json ref;
  nlohmann::json tol;      // its entry in tolerances.json (may be null)
};

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(f);
}

inline std::vector<float> read_f32(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw std::runtime_error("cannot open " + path);
  const auto n = (size_t)f.tellg();
  std::vector<float> v(n / 4);
  f.seekg(0);
  f.read(reinterpret_cast<char*>(v.data()), (std::streamsize)n);
  return v;
}

inline std::string model_path(const golden_case& c) {
  return (std::filesystem::path(c.json_path).parent_path() / c.ref["model_file"].get<std::string>()).lexically_normal().string();
}

// Every logits reference: logits/*.prompt16.json and stories260K/text-*.json.
inline std::vector<golden_case> golden_cases() {
  std::vector<golden_case> out;
  const nlohmann::json tol = read_json(data_path("reference/tolerances.json"))["references"];
  for (const char* dir : {"reference/logits", "reference/stories260K"}) {
    std::vector<std::string> files;
    for (auto& e : std::filesystem::directory_iterator(data_path(dir)))
      if (e.path().extension() == ".json") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      golden_case c;
      c.json_path = f;
      c.stem = std::filesystem::path(f).stem().string();
      c.ref = read_json(f);
      c.tol = tol.contains(c.stem) ? tol[c.stem] : nlohmann::json();
      // A carried subset of the data (HEARTH_TEST_DATA set) may leave models out; the tree never does.
      if (std::getenv("HEARTH_TEST_DATA") && !std::filesystem::exists(model_path(c))) continue;
      out.push_back(std::move(c));
    }
  }
  return out;
}

struct golden_result {
  double prompt_max_abs = 0;   // max |ours - reference| over all prompt logits
  double prompt_mean_abs = 0;
  double gen_max_abs = 0;      // teacher-forced along the reference continuation
  double gen_mean_abs = 0;
  int argmax_mismatch = 0;     // prompt rows whose argmax differs
  int greedy_checked = 0;      // leading greedy steps compared
  int greedy_first_diff = -1;  // first differing step among those (-1: none)
  std::vector<int32_t> greedy; // our greedy continuation
  std::vector<double> gen_step_max;  // per generation step
};

struct golden_options {
  std::vector<device*> gpus;
  int n_gpu_layers = 0;
  int n_threads = 2;
  int greedy_steps = -1;       // -1: as many as the reference has safe margins for
};


// Runs one case: prompt logits (all positions, one batch), teacher-forced generation logits
// along the reference's greedy ids, then our own greedy continuation.
inline golden_result run_golden(const golden_case& c, const golden_options& o) {
  init_backends(!o.gpus.empty());
  load_params lp;
  lp.gpus = o.gpus;
  lp.n_gpu_layers = o.n_gpu_layers;
  auto m = load_model(model_path(c), lp);
  context_params cp;
  cp.n_ctx = 256;
  cp.n_batch = 256;
  cp.type_k = cp.type_v = dtype::f32;
  cp.n_threads = o.n_threads;
  context ctx(*m, cp);
  const auto& ref = c.ref;
  const std::vector<int32_t> prompt = ref["prompt_ids"].get<std::vector<int32_t>>();
  const std::vector<int32_t> greedy_ref = ref["greedy_ids"].get<std::vector<int32_t>>();
  const size_t n_vocab = ref["n_vocab"].get<size_t>();
  const std::string dir = std::filesystem::path(c.json_path).parent_path().string();
  golden_result r;

  // 1. Prompt, all logits.
  const auto ref_prompt = read_f32(dir + "/" + ref["prompt_logits_file"].get<std::string>());
  ctx.decode(batch::of(prompt, 0, 0, true));
  double sum = 0;
  for (size_t i = 0; i < prompt.size(); ++i) {
    const float* ours = ctx.logits(i);
    const float* want = ref_prompt.data() + i * n_vocab;
    size_t a = 0, b = 0;
    for (size_t v = 0; v < n_vocab; ++v) {
      const double d = std::fabs((double)ours[v] - (double)want[v]);
      r.prompt_max_abs = std::max(r.prompt_max_abs, d);
      sum += d;
      if (ours[v] > ours[a]) a = v;
      if (want[v] > want[b]) b = v;
    }
    r.argmax_mismatch += a != b;
  }
  r.prompt_mean_abs = sum / (double)(prompt.size() * n_vocab);

  // 2. Teacher-forced decode along the reference continuation (exercises the KV-cache path).
  if (ref.contains("gen_logits_file")) {
    const auto ref_gen = read_f32(dir + "/" + ref["gen_logits_file"].get<std::string>());
    double gsum = 0;
    size_t gn = 0;
    for (size_t s = 1; s < greedy_ref.size(); ++s) {
      ctx.decode(batch::of({greedy_ref[s - 1]}, (int32_t)(prompt.size() + s - 1)));
      const float* ours = ctx.logits(0);
      const float* want = ref_gen.data() + s * n_vocab;
      r.gen_step_max.push_back(0);
      for (size_t v = 0; v < n_vocab; ++v) {
        const double d = std::fabs((double)ours[v] - (double)want[v]);
        r.gen_step_max.back() = std::max(r.gen_step_max.back(), d);
        r.gen_max_abs = std::max(r.gen_max_abs, d);
        gsum += d;
        ++gn;
      }
    }
    r.gen_mean_abs = gn ? gsum / (double)gn : 0;
  }

  // 3. Our own greedy continuation from a fresh cache.
  int steps = o.greedy_steps;
  if (steps < 0) steps = (int)greedy_ref.size();
  ctx.cache().clear();
  ctx.decode(batch::of(prompt, 0));
  for (int s = 0; s < steps; ++s) {
    const float* l = ctx.logits(0);
    int32_t best = 0;
    for (size_t v = 1; v < n_vocab; ++v)
      if (l[v] > l[best]) best = (int32_t)v;
    r.greedy.push_back(best);
    if (s + 1 < steps) ctx.decode(batch::of({best}, (int32_t)(prompt.size() + s)));
  }
  return r;
}

// Logit tolerances for a case. tolerances.json measured, per reference, how far an independent
// float64 computation lands from llama.cpp: "emulated" rounds activations exactly where llama.cpp
// does (so it only differs by summation order), "exact" does not. Kernels that sum in llama.cpp's
// order (the generic level) must land within 3x the emulated figure. SIMD kernels sum in another
// order; one activation that lands on the other side of a quantization step then moves later logits
// by up to the "exact" figure, which is the noise floor of any correct implementation.
struct golden_tolerance {
  double prompt = 0;
  double gen = 0;
};
inline golden_tolerance tolerance_for(const golden_case& c, bool reference_order) {
  constexpr double floor = 5e-5;
  double emul = 0, exact = 0;
  if (!c.tol.is_null()) {
    emul = c.tol["float64_emulated_activation_rounding"]["max_abs"].get<double>();
    exact = c.tol["float64_exact_activations"]["max_abs"].get<double>();
  }
  golden_tolerance t;
  t.prompt = std::max(3 * emul, floor);
  if (!reference_order) t.prompt = std::max(t.prompt, 1.1 * exact);
  // No emulated figure exists for the single-token steps: they get the cascade floor either way.
  t.gen = std::max(t.prompt, 1.1 * exact);
  return t;
}

// How many leading greedy steps can be trusted at a logit tolerance tol: the steps before the
// reference's top-1/top-2 margin first drops below 2 tol (a smaller margin may flip legitimately).
inline int safe_greedy_steps(const golden_case& c, double tol) {
  const auto margins = c.ref["greedy_margins"].get<std::vector<double>>();
  int n = 0;
  while (n < (int)margins.size() && margins[n] >= 2 * tol) ++n;
  return n;
}

// The assertions every golden test makes (CPU, Vulkan, CUDA): prompt and teacher-forced logits
// within tol, the same argmax at every prompt position, and the safe greedy steps identical.
inline void expect_matches_reference(const golden_case& c, const golden_result& r, const golden_tolerance& tol) {
  EXPECT_LE(r.prompt_max_abs, tol.prompt) << "prompt logits, mean abs " << r.prompt_mean_abs;
  EXPECT_EQ(r.argmax_mismatch, 0) << "prompt positions whose argmax differs";
  EXPECT_LE(r.gen_max_abs, tol.gen) << "teacher-forced generation logits, mean abs " << r.gen_mean_abs;
  const auto want = c.ref["greedy_ids"].get<std::vector<int32_t>>();
  const int safe = safe_greedy_steps(c, tol.gen);
  ASSERT_GE(r.greedy.size(), (size_t)safe);
  for (int s = 0; s < safe; ++s) ASSERT_EQ(r.greedy[s], want[s]) << "greedy step " << s << " of " << safe << " safe steps";
}

// Repeating layers of a case's model (from its header; nothing is loaded).
inline int layer_count(const golden_case& c) { return (int)open_model(model_path(c))->hp.n_layer; }

// Every case twice for a GPU: fully offloaded, and with half the layers on the GPU.
struct placement_case {
  golden_case c;
  bool half;
};
inline void PrintTo(const placement_case& p, std::ostream* os) { *os << p.c.stem << (p.half ? " half" : " full"); }
inline std::vector<placement_case> placement_cases() {
  std::vector<placement_case> out;
  for (auto& c : golden_cases()) {
    out.push_back({c, false});
    out.push_back({c, true});
  }
  return out;
}
inline std::string placement_case_name(const ::testing::TestParamInfo<placement_case>& info) {
  std::string n = info.param.c.stem + (info.param.half ? "_half" : "_full");
  for (char& ch : n)
    if (!std::isalnum((unsigned char)ch)) ch = '_';
  return n;
}

}  // namespace hearth::test
