// Token-generation matrix products on one GPU device, alone: a chain of one-column products
// x -> W1 x -> V1 (W1 x) -> W2 (...) ... with distinct weights (W: M x K, V: K x M; V is left out
// when M == K), enough of them that the weights are several times the GPU's last-level cache. Each
// product also rounds its activations, as in a model graph. Reports the time of one product, the
// weight bytes per second and the fraction of the device's peak memory bandwidth: the ceiling that
// the products alone put on a model's token generation.
//
//   bench_gpu_products [--device cuda:0] [google-benchmark flags]
// The device is the first GPU by default (HEARTH_BENCH_DEVICE or --device names another).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backend/registry.h"
#include "backend/scheduler.h"
#include "backends/init.h"
#include "core/graph.h"
#include "formats/quants.h"

using namespace hearth;

namespace {

struct shape {
  const char* name;
  dtype type;
  int64_t M, K;
};

// The one-column products of the Llama 3.1 8B and 3.2 1B shapes: the attention output product
// (square) and the feed-forward pair up (M x K) / down (K x M). q/k/v and gate/up run fused as one
// product of their summed rows in the CUDA backend; those widths lie between the ones here.
const shape k_shapes[] = {
    {"8B_attn_out", dtype::q4_k, 4096, 4096}, {"8B_ffn_up_down", dtype::q4_k, 14336, 4096},
    {"8B_ffn_up_down", dtype::q6_k, 14336, 4096}, {"8B_attn_out", dtype::q4_0, 4096, 4096},
    {"8B_ffn_up_down", dtype::q4_0, 14336, 4096}, {"1B_attn_out", dtype::q4_0, 2048, 2048},
    {"1B_ffn_up_down", dtype::q4_0, 8192, 2048},
};

constexpr size_t k_min_weight_bytes = size_t(512) << 20;  // >= 8x the L2 of an H100/H200

// One chain, planned once, run per benchmark iteration.
struct chain {
  graph g;
  std::unique_ptr<buffer> weights;
  std::unique_ptr<scheduler> sched;
  tensor* out = nullptr;
  size_t weight_bytes = 0;
  int products = 0;
};

// rows x cols weights: 64 rows quantized from random values, repeated (quick to make; the
// products' speed does not depend on the values).
std::vector<uint8_t> random_matrix(dtype t, int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f / std::sqrt((float)cols));
  std::vector<float> row((size_t)cols);
  const size_t rb = row_bytes(t, cols);
  const int64_t distinct = std::min<int64_t>(rows, 64);
  std::vector<uint8_t> bytes(rb * (size_t)rows);
  for (int64_t r = 0; r < distinct; ++r) {
    for (auto& x : row) x = d(rng);
    ref::quantize_row(t, row.data(), bytes.data() + (size_t)r * rb, cols);
  }
  for (int64_t r = distinct; r < rows; ++r) std::memcpy(bytes.data() + (size_t)r * rb, bytes.data() + (size_t)(r % distinct) * rb, rb);
  return bytes;
}

std::unique_ptr<chain> build(device* dev, const shape& s) {
  auto c = std::make_unique<chain>();
  const bool square = s.M == s.K;
  // The two matrices of a step; every copy gets the same bytes at a different address.
  const auto w_bytes = random_matrix(s.type, s.M, s.K, 1);
  const auto v_bytes = square ? std::vector<uint8_t>{} : random_matrix(s.type, s.K, s.M, 2);
  const size_t step_bytes = w_bytes.size() + v_bytes.size();
  const int steps = (int)((k_min_weight_bytes + step_bytes - 1) / step_bytes);
  buffer_type* bt = dev->default_buffer_type();
  const size_t al = bt->alignment();
  auto pad = [al](size_t n) { return (n + al - 1) / al * al; };
  std::vector<tensor*> ws;
  tensor* x = c->g.new_tensor(dtype::f32, {s.K}, "x");
  for (int i = 0; i < steps; ++i) {
    ws.push_back(c->g.new_tensor(s.type, {s.K, s.M}));
    if (!square) ws.push_back(c->g.new_tensor(s.type, {s.M, s.K}));
  }
  size_t total = pad(x->nbytes());
  for (tensor* w : ws) total += pad(w->nbytes());
  c->weights = bt->allocate(total);
  size_t off = 0;
  std::vector<float> xv((size_t)s.K, 0.5f);
  c->weights->place(*x, off);
  c->weights->set(*x, xv.data(), 0, x->nbytes());
  off += pad(x->nbytes());
  tensor* cur = x;
  for (size_t i = 0; i < ws.size(); ++i) {
    tensor* w = ws[i];
    c->weights->place(*w, off);
    const auto& src = (!square && i % 2 == 1) ? v_bytes : w_bytes;
    c->weights->set(*w, src.data(), 0, src.size());
    off += pad(w->nbytes());
    c->weight_bytes += w->nbytes();
    cur = c->g.mul_mat(w, cur);
  }
  c->products = (int)ws.size();
  c->out = cur;
  c->g.mark_output(cur);
  c->sched = std::make_unique<scheduler>(std::vector<device*>{dev, registry::instance().cpu()});
  c->sched->plan(c->g);
  return c;
}

void run_chain(benchmark::State& st, device* dev, shape s) {
  std::unique_ptr<chain> c;
  try {
    c = build(dev, s);
  } catch (const std::exception& e) {
    st.SkipWithError(e.what());
    return;
  }
  if (c->sched->device_of(c->out->storage()) != dev) {
    st.SkipWithError("the device does not run this product");
    return;
  }
  float probe = 0;
  c->sched->compute();  // warm-up: recording, pipelines, first touch
  double seconds = 0;
  for (auto _ : st) {
    const auto a = std::chrono::steady_clock::now();
    c->sched->compute();
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
    st.SetIterationTime(t);
    seconds += t;
  }
  c->sched->get(c->out, &probe, 0, sizeof probe);
  benchmark::DoNotOptimize(probe);
  const double n = (double)st.iterations();
  const double gbs = (double)c->weight_bytes * n / seconds / 1e9;
  st.counters["products"] = c->products;
  st.counters["us/product"] = seconds * 1e6 / (n * c->products);
  st.counters["GB/s"] = gbs;
  const double peak = (double)dev->props().peak_bandwidth;
  if (peak > 0) st.counters["%peak"] = 100.0 * gbs * 1e9 / peak;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dev_name;
  if (const char* e = std::getenv("HEARTH_BENCH_DEVICE")) dev_name = e;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (i + 1 < argc && std::strcmp(argv[i], "--device") == 0) {
      dev_name = argv[++i];
      continue;
    }
    rest.push_back(argv[i]);
  }
  int n = (int)rest.size();
  benchmark::Initialize(&n, rest.data());
  try {
    init_backends(true);
    device* dev = dev_name.empty() ? registry::instance().first_gpu() : registry::instance().find(dev_name);
    if (!dev) {
      std::fprintf(stderr, "bench_gpu_products: no GPU device (name one with --device)\n");
      return 1;
    }
    std::printf("device %s (%s), peak %.0f GB/s\n", dev->name().c_str(), dev->description().c_str(), dev->props().peak_bandwidth / 1e9);
    for (const shape& s : k_shapes) {
      const std::string name = std::string(s.name) + "/" + dtype_name(s.type) + "/" + std::to_string(s.M) + "x" + std::to_string(s.K);
      benchmark::RegisterBenchmark(name.c_str(), run_chain, dev, s)->UseManualTime()->Unit(benchmark::kMicrosecond)->MinTime(0.2);
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_gpu_products: %s\n", e.what());
    return 1;
  }
  return 0;
}
