// hearth-cupti-trace: a preloaded library that records every CUDA kernel a process runs (CUPTI
// activity records, also inside CUDA graphs) and prints, at exit, where the GPU time went per kernel
// name. Events around kernels (HEARTH_GPU_STATS) inflate short kernels and break graphs; these
// records come from the GPU's own timestamps without changing how the work is launched.
//
//   LD_PRELOAD=hearth-cupti-trace.so hearth bench MODEL --device cuda -p 0 -n 64
//
// Per kernel name: launches, summed duration (start to end, which under programmatic dependent
// launch includes the time a kernel's blocks wait for the previous kernel) and summed marginal time
// (its end minus the previous kernel's end: what it added to the chain). Kernels closer than
// HEARTH_TRACE_GAP_US (default 50 us) form one chain; a chain is about one graph replay (one token).
// HEARTH_TRACE_MIN_CHAIN=N ignores chains of fewer than N kernels (warm-up, copies).
// HEARTH_TRACE_POS=FILE also writes, for the chains of the most common length (one graph replay
// each), every position's kernel, grid and block with its mean duration and marginal time: the
// cost of each node of a token.
#include <cupti.h>
#include <cxxabi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace {

struct rec {
  uint64_t start, end;
  std::string name;
  int grid, block;
};

std::mutex g_mu;
std::vector<rec>* g_recs = nullptr;

void CUPTIAPI on_request(uint8_t** buf, size_t* size, size_t* max_records) {
  *size = size_t(8) << 20;
  *buf = static_cast<uint8_t*>(std::aligned_alloc(8, *size));
  *max_records = 0;
}

std::string pretty(const char* mangled) {
  int st = 0;
  char* d = abi::__cxa_demangle(mangled, nullptr, nullptr, &st);
  std::string s = st == 0 && d ? d : mangled;
  std::free(d);
  for (size_t at; (at = s.find("(anonymous namespace)::")) != std::string::npos;) s.erase(at, 23);
  for (const char* ns : {"void ", "hearth::gpu::", "hearth::"})
    for (size_t at; (at = s.find(ns)) != std::string::npos;) s.erase(at, std::strlen(ns));
  // drop the parameter list, keep the template arguments
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '<') ++depth;
    if (s[i] == '>') --depth;
    if (s[i] == '(' && depth == 0 && i > 0) return s.substr(0, i);
  }
  return s;
}

void CUPTIAPI on_complete(CUcontext, uint32_t, uint8_t* buf, size_t, size_t valid) {
  CUpti_Activity* r = nullptr;
  std::lock_guard<std::mutex> lk(g_mu);
  while (cuptiActivityGetNextRecord(buf, valid, &r) == CUPTI_SUCCESS) {
    if (r->kind != CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL && r->kind != CUPTI_ACTIVITY_KIND_KERNEL) continue;
    const auto* k = reinterpret_cast<const CUpti_ActivityKernel10*>(r);
    g_recs->push_back({k->start, k->end, pretty(k->name), k->gridX * k->gridY * k->gridZ, k->blockX * k->blockY * k->blockZ});
  }
  std::free(buf);
}

double env_num(const char* name, double dflt) {
  const char* e = std::getenv(name);
  return e && *e ? std::atof(e) : dflt;
}

// Per position of the chains of the most common length: kernel, grid, block, mean duration and
// mean marginal time (end minus the previous kernel's end).
void write_positions(const char* path, const std::vector<rec>& v, const std::vector<std::pair<size_t, size_t>>& bounds) {
  std::map<size_t, int> lengths;
  for (const auto& [a, b] : bounds) ++lengths[b - a];
  size_t len = 0;
  int most = 0;
  for (const auto& [l, c] : lengths)
    if (c > most || (c == most && l > len)) { len = l; most = c; }
  std::vector<double> dur(len), marg(len);
  for (const auto& [a, b] : bounds) {
    if (b - a != len) continue;
    for (size_t k = 0; k < len; ++k) {
      dur[k] += (double)(v[a + k].end - v[a + k].start);
      const uint64_t prev = k == 0 ? v[a].start : v[a + k - 1].end;
      marg[k] += v[a + k].end > prev ? (double)(v[a + k].end - prev) : 0.0;
    }
  }
  std::FILE* f = std::fopen(path, "w");
  if (!f) return;
  std::fprintf(f, "# %d chains of %zu kernels: position, marginal us, duration us, grid, block, kernel\n", most, len);
  for (const auto& [a, b] : bounds) {
    if (b - a != len) continue;
    for (size_t k = 0; k < len; ++k)
      std::fprintf(f, "%zu %.3f %.3f %d %d %s\n", k, marg[k] / most / 1e3, dur[k] / most / 1e3, v[a + k].grid, v[a + k].block, v[a + k].name.c_str());
    break;
  }
  std::fclose(f);
}

void report() {
  cuptiActivityFlushAll(1);
  std::lock_guard<std::mutex> lk(g_mu);
  std::vector<rec>& v = *g_recs;
  std::sort(v.begin(), v.end(), [](const rec& a, const rec& b) { return a.start < b.start; });
  const uint64_t gap = (uint64_t)(env_num("HEARTH_TRACE_GAP_US", 50) * 1000);
  const size_t min_chain = (size_t)env_num("HEARTH_TRACE_MIN_CHAIN", 1);
  struct agg { long n = 0; double dur = 0, marg = 0; };
  std::map<std::string, agg> by;
  long chains = 0;
  double span = 0, busy = 0;
  std::vector<std::pair<size_t, size_t>> bounds;  // every chain's [first, end)
  for (size_t i = 0; i < v.size();) {
    size_t j = i + 1;
    uint64_t last_end = v[i].end;
    while (j < v.size() && v[j].start < last_end + gap) last_end = std::max(last_end, v[j++].end);
    bounds.push_back({i, j});
    if (j - i >= min_chain) {
      ++chains;
      span += (double)(last_end - v[i].start);
      uint64_t prev_end = v[i].start;
      for (size_t k = i; k < j; ++k) {
        agg& a = by[v[k].name];
        ++a.n;
        a.dur += (double)(v[k].end - v[k].start);
        const uint64_t from = std::max(prev_end, std::min(v[k].start, v[k].end));
        a.marg += v[k].end > from ? (double)(v[k].end - from) : 0.0;
        busy += v[k].end > from ? (double)(v[k].end - from) : 0.0;
        prev_end = std::max(prev_end, v[k].end);
      }
    }
    i = j;
  }
  std::vector<std::pair<std::string, agg>> rows(by.begin(), by.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.marg > b.second.marg; });
  std::FILE* out = stderr;
  if (const char* path = std::getenv("HEARTH_TRACE_OUT")) out = std::fopen(path, "w");
  if (!out) out = stderr;
  const double c = chains > 0 ? (double)chains : 1.0;
  std::fprintf(out, "cupti-trace: %zu kernels, %ld chains (>= %zu kernels), per chain: span %.1f us, covered by kernels %.1f us\n",
               v.size(), chains, min_chain, span / c / 1e3, busy / c / 1e3);
  std::fprintf(out, "%10s %10s %10s %10s %10s  %s\n", "per chain", "marg us", "marg/ea", "dur/ea", "%span", "kernel");
  for (const auto& [name, a] : rows)
    std::fprintf(out, "%10.2f %10.2f %10.3f %10.3f %9.1f%%  %s\n", a.n / c, a.marg / c / 1e3, a.marg / a.n / 1e3, a.dur / a.n / 1e3,
                 span > 0 ? 100.0 * a.marg / span : 0.0, name.c_str());
  if (out != stderr) std::fclose(out);
  if (const char* path = std::getenv("HEARTH_TRACE_POS")) write_positions(path, v, bounds);
}

struct init {
  init() {
    g_recs = new std::vector<rec>();
    g_recs->reserve(1 << 20);
    if (cuptiActivityRegisterCallbacks(on_request, on_complete) != CUPTI_SUCCESS ||
        cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) != CUPTI_SUCCESS) {
      std::fprintf(stderr, "cupti-trace: CUPTI could not be enabled\n");
      return;
    }
    std::atexit(report);
  }
} g_init;

}  // namespace
