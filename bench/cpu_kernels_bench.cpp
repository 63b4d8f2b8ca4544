// CPU kernel throughput per weight type and ISA level, in GB/s of weights read:
//   gemv/<type>/<level>/<threads>: N = 1 (token generation), over weight matrices that together
//     exceed the last-level cache, so the figure is the one memory bandwidth allows;
//   gemm/<type>/<level>/<threads>: N = 512 (prompt processing), reported also as int8 GOP/s;
//   gemv_rp, gemm_rp: the same from weights repacked at load (mm_kernels::repack);
//   gemv_l2: N = 1 on a matrix that stays in L2 (the kernel's speed without the memory limit).
// Activation packing is timed separately (pack/<type>/<level>).
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "backends/cpu/kernels/isa.h"
#include "backends/cpu/kernels/qkernels.h"
#include "formats/quants.h"

using namespace hearth;
using namespace hearth::cpu;

namespace {

std::vector<uint8_t> make_weights(dtype t, int64_t M, int64_t K, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 0.05f);
  const size_t rb = row_bytes(t, K);
  std::vector<uint8_t> w(rb * (size_t)M);
  std::vector<float> x((size_t)K);
  // Quantizing every row is slow for big matrices: quantize 64 distinct rows and repeat them.
  for (int64_t m = 0; m < M; ++m) {
    if (m < 64) {
      for (auto& v : x) v = d(rng);
      ref::quantize_row(t, x.data(), w.data() + rb * (size_t)m, K);
    } else {
      std::memcpy(w.data() + rb * (size_t)m, w.data() + rb * (size_t)(m % 64), rb);
    }
  }
  return w;
}

// Runs fn(ith) on n threads (the caller is thread 0).
template <class F> void parallel(int n, F&& fn) {
  std::vector<std::thread> ts;
  for (int i = 1; i < n; ++i) ts.emplace_back(fn, i);
  fn(0);
  for (auto& t : ts) t.join();
}

struct product_case {
  dtype type;
  isa_level level;
  int64_t M, K, N;
  int n_mats;  // distinct weight matrices cycled through (to defeat the caches for GEMV)
  int threads;
  bool repacked = false;
};

void run_product(benchmark::State& state, product_case pc) {
  const mm_kernels& k = kernels_at(pc.type, pc.level);
  std::vector<std::vector<uint8_t>> mats;
  for (int i = 0; i < pc.n_mats; ++i) mats.push_back(make_weights(pc.type, pc.M, pc.K, 1 + i));
  const size_t ldw = row_bytes(pc.type, pc.K);
  if (pc.repacked) {
    if (!k.repack) {
      state.SkipWithError("no repacked layout");
      return;
    }
    std::vector<uint8_t> rs(k.repack_scratch_bytes(pc.K));
    for (auto& m : mats) {
      std::vector<uint8_t> rw(k.repacked_bytes(pc.M, pc.K));
      k.repack(m.data(), ldw, pc.M, pc.K, 0, pc.M, rw.data(), rs.data());
      m = std::move(rw);
    }
  }
  std::mt19937 rng(7);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> b((size_t)(pc.K * pc.N));
  for (auto& v : b) v = d(rng);
  std::vector<uint8_t> packed(k.act_bytes(pc.K, pc.N));
  for (int64_t n = 0; n < pc.N; ++n) k.pack_act(b.data() + pc.K * n, pc.K, n, pc.N, packed.data());
  std::vector<float> c((size_t)(pc.M * pc.N));
  std::vector<std::vector<uint8_t>> scratch(pc.threads, std::vector<uint8_t>(k.scratch_bytes(pc.K, pc.N) + 64));
  const int64_t rpp = k.rows_per_panel;
  const int64_t panels = (pc.M + rpp - 1) / rpp;
  int mat = 0;
  for (auto _ : state) {
    const uint8_t* w = mats[mat].data();
    mat = (mat + 1) % pc.n_mats;
    parallel(pc.threads, [&](int ith) {
      const int64_t per = (panels + pc.threads - 1) / pc.threads;
      const int64_t m0 = std::min(pc.M, per * ith * rpp), m1 = std::min(pc.M, per * (ith + 1) * rpp);
      if (m0 >= m1) return;
      if (pc.repacked) k.rows_repacked(w, pc.K, pc.M, m0, m1, packed.data(), pc.N, c.data(), (size_t)pc.M, scratch[ith].data());
      else k.rows(w, ldw, pc.K, m0, m1, packed.data(), pc.N, c.data(), (size_t)pc.M, scratch[ith].data());
    });
    benchmark::DoNotOptimize(c.data());
  }
  const double bytes = (double)ldw * (double)pc.M;
  state.SetBytesProcessed((int64_t)(bytes * (double)state.iterations()));
  state.counters["GOP/s"] = benchmark::Counter(2.0 * (double)pc.M * (double)pc.N * (double)pc.K * (double)state.iterations() / 1e9,
                                               benchmark::Counter::kIsRate);
}

void run_pack(benchmark::State& state, dtype t, isa_level level, int64_t K, int64_t N) {
  const mm_kernels& k = kernels_at(t, level);
  std::vector<float> b((size_t)(K * N), 0.5f);
  for (size_t i = 0; i < b.size(); ++i) b[i] = (float)((i * 7919) % 1000) * 0.001f - 0.5f;
  std::vector<uint8_t> packed(k.act_bytes(K, N));
  for (auto _ : state) {
    for (int64_t n = 0; n < N; ++n) k.pack_act(b.data() + K * n, K, n, N, packed.data());
    benchmark::DoNotOptimize(packed.data());
  }
  state.SetBytesProcessed((int64_t)((double)K * (double)N * 4 * (double)state.iterations()));
}

const dtype k_types[] = {dtype::q4_0, dtype::q4_k, dtype::q6_k, dtype::q8_0, dtype::q5_0, dtype::q5_k, dtype::q4_1,
                         dtype::q5_1, dtype::q2_k, dtype::q3_k, dtype::iq4_nl, dtype::iq4_xs, dtype::f16, dtype::bf16, dtype::f32};

void register_all() {
  for (isa_level l : {isa_level::avx512, isa_level::avx2_vnni, isa_level::avx2, isa_level::generic}) {
    if (!isa_available(l)) continue;
    for (dtype t : k_types) {
      const std::string tl = std::string(dtype_name(t)) + "/" + isa_name(l);
      const bool slow = l == isa_level::generic;
      for (bool rp : {false, true}) {
        if (rp && (slow || !kernels_at(t, l).repack)) continue;
        const std::string v = rp ? "_rp" : "";
        // 2048 x 8192 weights (Llama-3.2-1B's FFN shape); 12 of them outsize any L3 for GEMV.
        for (int th : {1, 2})
          benchmark::RegisterBenchmark(("gemv" + v + "/" + tl + "/" + std::to_string(th)).c_str(), run_product,
                                       product_case{t, l, 2048, 8192, 1, slow ? 1 : 12, th, rp})
              ->UseRealTime()->Unit(benchmark::kMicrosecond);
        // 256 x 2048: stays in L2, so this is the kernel's own speed without the memory limit.
        benchmark::RegisterBenchmark(("gemv_l2" + v + "/" + tl).c_str(), run_product, product_case{t, l, 256, 2048, 1, 1, 1, rp})
            ->UseRealTime()->Unit(benchmark::kMicrosecond);
        if (!slow)
          for (int th : {1, 2})
            benchmark::RegisterBenchmark(("gemm" + v + "/" + tl + "/" + std::to_string(th)).c_str(), run_product,
                                         product_case{t, l, 2048, 2048, 512, 1, th, rp})
                ->UseRealTime()->Unit(benchmark::kMillisecond);
      }
      benchmark::RegisterBenchmark(("pack/" + tl).c_str(), run_pack, t, l, (int64_t)2048, (int64_t)512)->Unit(benchmark::kMicrosecond);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
