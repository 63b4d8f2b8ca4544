// The matrix products of one Llama-3.2-1B forward pass (16 layers of q/k/v/o and gate/up/down, plus
// the 128256-row output head), in the type mixes of llama.cpp's Q4_0 and Q4_K_M files, run by a
// persistent pool of threads through the same drivers the CPU backend uses. Reports tokens/s of
// the matrix products alone, an upper bound for tg (1 token) and pp (512 tokens, head on the last
// token only, as llama-bench does):
//   llama1b/<mix>/<tg|pp512>/<threads>/<plain|repacked>
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "backends/cpu/kernels/matmul.h"
#include "formats/quants.h"

using namespace hearth;
using namespace hearth::cpu;

namespace {

// Spins a little, then yields: pure spinning collapses when other processes share the cores.
template <class F> void wait_until(F&& ready) {
  for (int i = 0; !ready(); ++i) {
    if (i < 4000) __builtin_ia32_pause();
    else std::this_thread::yield();
  }
}

// Barrier and a pool that runs one job on n threads (the caller is thread 0).
class spin_pool {
 public:
  explicit spin_pool(int n) : n_(n) {
    for (int i = 1; i < n; ++i) threads_.emplace_back([this, i] { worker(i); });
  }
  ~spin_pool() {
    quit_ = true;
    gen_.fetch_add(1);
    for (auto& t : threads_) t.join();
  }
  void barrier() {
    const uint32_t phase = phase_.load();
    if (arrived_.fetch_add(1) + 1 == n_) {
      arrived_.store(0);
      phase_.fetch_add(1);
    } else {
      wait_until([&] { return phase_.load() != phase; });
    }
  }
  void run(const std::function<void(int)>& fn) {
    job_ = &fn;
    done_.store(0);
    gen_.fetch_add(1);
    fn(0);
    wait_until([&] { return done_.load() == n_ - 1; });
  }

 private:
  void worker(int i) {
    uint32_t seen = 0;
    for (;;) {
      wait_until([&] { return gen_.load() != seen; });
      seen = gen_.load();
      if (quit_) return;
      (*job_)(i);
      done_.fetch_add(1);
    }
  }
  int n_;
  std::vector<std::thread> threads_;
  std::atomic<uint32_t> gen_{0}, phase_{0};
  std::atomic<int> arrived_{0}, done_{0};
  std::atomic<bool> quit_{false};
  const std::function<void(int)>* job_ = nullptr;
};

struct weight {
  dtype type;
  int64_t M, K;
  std::vector<uint8_t> data;  // plain
  std::vector<uint8_t> repacked;
};

weight make_weight(dtype t, int64_t M, int64_t K, std::mt19937& rng) {
  weight w{t, M, K, {}, {}};
  const size_t rb = row_bytes(t, K);
  w.data.resize(rb * (size_t)M);
  std::normal_distribution<float> d(0.f, 0.05f);
  std::vector<float> x((size_t)K);
  for (int64_t m = 0; m < std::min<int64_t>(M, 32); ++m) {
    for (auto& v : x) v = d(rng);
    ref::quantize_row(t, x.data(), w.data.data() + rb * (size_t)m, K);
  }
  for (int64_t m = 32; m < M; ++m) std::memcpy(w.data.data() + rb * (size_t)m, w.data.data() + rb * (size_t)(m % 32), rb);
  const mm_kernels& k = kernels_for_type(t);
  if (k.repack) {
    w.repacked.resize(k.repacked_bytes(M, K));
    std::vector<uint8_t> rs(k.repack_scratch_bytes(K));
    k.repack(w.data.data(), rb, M, K, 0, M, w.repacked.data(), rs.data());
  }
  return w;
}

struct model {
  std::vector<weight> layers;  // per layer: q k v o gate up down
  weight head;
};

model make_model(bool k_mix) {
  std::mt19937 rng(1);
  const dtype main_t = k_mix ? dtype::q4_k : dtype::q4_0;
  model m;
  for (int il = 0; il < 16; ++il) {
    // Q4_K_M gives attn_v and ffn_down Q6_K in about half the layers.
    const dtype more = k_mix && (il < 2 || il >= 14 || il % 3 == 2) ? dtype::q6_k : main_t;
    m.layers.push_back(make_weight(main_t, 2048, 2048, rng));  // q
    m.layers.push_back(make_weight(main_t, 512, 2048, rng));   // k
    m.layers.push_back(make_weight(more, 512, 2048, rng));     // v
    m.layers.push_back(make_weight(main_t, 2048, 2048, rng));  // o
    m.layers.push_back(make_weight(main_t, 8192, 2048, rng));  // gate
    m.layers.push_back(make_weight(main_t, 8192, 2048, rng));  // up
    m.layers.push_back(make_weight(more, 2048, 8192, rng));    // down
  }
  m.head = make_weight(dtype::q6_k, 128256, 2048, rng);  // llama.cpp keeps the output in Q6_K
  return m;
}

void run(benchmark::State& state, bool k_mix, int64_t n_tokens, int nth, bool repacked) {
  static model mq4_0, mq4_k;
  model& m = k_mix ? mq4_k : mq4_0;
  if (m.layers.empty()) m = make_model(k_mix);
  spin_pool pool(nth);
  std::vector<float> b((size_t)8192 * (size_t)n_tokens, 0.01f), c((size_t)8192 * (size_t)n_tokens);
  std::vector<float> logits(128256);
  std::mt19937 rng(2);
  std::normal_distribution<float> d(0.f, 1.f);
  for (auto& v : b) v = d(rng);
  size_t work_bytes = 0;
  for (const auto& w : m.layers) work_bytes = std::max(work_bytes, matmul_work_bytes(kernels_for_type(w.type), w.K, n_tokens, nth));
  work_bytes = std::max(work_bytes, matmul_work_bytes(kernels_for_type(dtype::q6_k), 2048, 1, nth));
  std::vector<uint8_t> work(work_bytes);
  auto product = [&](const weight& w, int64_t N, float* out, int ith) {
    matmul_desc md;
    md.k = &kernels_for_type(w.type);
    md.w = w.data.data();
    md.ldw = row_bytes(w.type, w.K);
    md.w_repacked = repacked && !w.repacked.empty() ? w.repacked.data() : nullptr;
    md.M = w.M; md.K = w.K; md.N = N;
    md.b = b.data(); md.ldb = (size_t)w.K * 4;
    md.c = out; md.ldc = (size_t)w.M;
    matmul(md, ith, nth, work.data(), [&] { pool.barrier(); });
    pool.barrier();  // the next op reads this one's output
  };
  for (auto _ : state) {
    pool.run([&](int ith) {
      for (const auto& w : m.layers) product(w, n_tokens, c.data(), ith);
      product(m.head, 1, logits.data(), ith);
    });
  }
  state.counters["tok/s"] = benchmark::Counter((double)n_tokens * (double)state.iterations(), benchmark::Counter::kIsRate);
}

}  // namespace

int main(int argc, char** argv) {
  for (bool k_mix : {false, true})
    for (int64_t n : {1, 512})
      for (int th : {2, 1})
        for (bool rp : {true, false}) {
          const std::string name = std::string("llama1b/") + (k_mix ? "q4_k_m" : "q4_0") + "/" + (n == 1 ? "tg" : "pp512") + "/" +
                                   std::to_string(th) + "/" + (rp ? "repacked" : "plain");
          benchmark::RegisterBenchmark(name.c_str(), run, k_mix, n, th, rp)->UseRealTime()->Unit(benchmark::kMillisecond);
        }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
