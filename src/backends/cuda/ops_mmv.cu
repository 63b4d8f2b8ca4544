// Matrix products, part 3: the matrix x vector product of token generation (one activation
// column). Two kernels compute the per-slice dot products of mmv.cuh: the default one has each
// thread read its slices of two weight rows straight from global memory; the staged one (HIP's, and
// a comparison on CUDA) has a warp stream a chunk of its weight row into shared memory with aligned
// 16-byte loads first. Up to k_mmv_max_seg products reading the same activations (q/k/v, gate/up)
// run as one launch. Integer sums are the reference's; only the float summation order differs.
#include <cstdlib>
#include <cstring>

#include "backends/cuda/mmv.cuh"
#include "backends/cuda/norm.cuh"
#include "backends/cuda/ops.h"
#include "backends/cuda/rope.cuh"

namespace hearth::gpu {

namespace {

constexpr int k_mmv_warps = 8;        // warps per block
constexpr int k_mmv_max_seg = 3;      // products per launch
constexpr int64_t k_mmv_target_warps = 8192;  // below this many rows x parts, a row is split over warps

struct mmv_seg {
  const uint8_t* a;  // weights, row m at a + m * nb1
  int64_t nb1, rows;
  float* dst;
  // Epilogue (direct kernel): with head > 0 the pairs (2i, 2i + 1) of each head of that many values
  // are rotated (rope, normal mode) before the store, and dst is the rope's result; with cache, the
  // result also goes to row ids[0] of a KV cache (f32 or f16), when that row exists.
  int head;
  bool cache_f16;
  uint8_t* cache;
  int64_t cache_rows, cache_nb1;
  const int32_t* ids;
};
struct mmv_args {
  mmv_seg seg[k_mmv_max_seg];
  int64_t total_rows, n_blocks;
  const uint8_t* act;  // one rounded activation row
  int split;           // warps per weight row (1, 2, 4 or 8), each taking every split-th chunk
  bool ahead2;         // asynchronous staging: two chunks requested ahead instead of one
  bool epilogue;       // some segment ropes or stores its result (every segment's rows are even)
  rope_args ra;        // the ropes' parameters, positions (one token) and frequency factors
  const int32_t* pos;
  const float* factors;
  // Norm tail (direct kernel, one segment): with tail_r > 0 the last block to finish (counted in
  // counter, reset to 0 by it) adds, normalises, scales and rounds the whole result, in chunks of
  // tail_r values per thread.
  int tail_r;
  norm_tail_args tail;
  unsigned* counter;
  bool w_const;  // no kernel writes the weights (the direct kernel may load them before its wait)
  int64_t t2_row;  // the first row of the second weight type (a launch of two types)
};

// Weight blocks staged per chunk (about CHM KiB): CHM x 8 super-blocks (256 values) or CHM x 64
// small blocks (32 for Q8_0).
template <dtype T, int CHM> __host__ __device__ constexpr int mmv_chunk() {
  return CHM * (mm<T>::qk == 256 ? 8 : mm<T>::qk == 1 ? 256 : T == dtype::q8_0 ? 32 : 64);
}
// 16-byte words staged per lane: the chunk, plus one word for a start that is not 16-byte aligned.
template <dtype T, int CHM> __host__ __device__ constexpr int mmv_per_lane() {
  return ((mmv_chunk<T, CHM>() * (int)sizeof(typename mm<T>::wblock) + 15) / 16 + 1 + warp - 1) / warp;
}

// The lanes' share of the dot products of one staged chunk of nb blocks.
template <dtype T, int CH>
__device__ __forceinline__ float chunk_dot(const typename mm<T>::wblock* xs, const typename mm<T>::ablock* y, int nb, int lane) {
  using tr = mm<T>;
  float acc = 0.0f;
  if (nb == CH) {  // whole chunk: a fixed trip count the compiler interleaves
HEARTH_UNROLL
    for (int t = 0; t < CH * tr::tpb / warp; ++t) {
      const int j = lane + t * warp;
      acc += tr::dot(xs + j / tr::tpb, y + j / tr::tpb, j % tr::tpb);
    }
  } else {
    for (int j = lane; j < nb * tr::tpb; j += warp) acc += tr::dot(xs + j / tr::tpb, y + j / tr::tpb, j % tr::tpb);
  }
  return acc;
}

// Row g of the launch's products: its weights, and (dst) where its result goes.
__device__ __forceinline__ const uint8_t* mmv_row(const mmv_args& p, int64_t g, float** dst) {
  const int si = g < p.seg[0].rows ? 0 : g < p.seg[0].rows + p.seg[1].rows ? 1 : 2;
  const int64_t m = g - (si > 0 ? p.seg[0].rows : 0) - (si > 1 ? p.seg[1].rows : 0);
  const uint8_t* a = si == 0 ? p.seg[0].a : si == 1 ? p.seg[1].a : p.seg[2].a;
  const int64_t nb1 = si == 0 ? p.seg[0].nb1 : si == 1 ? p.seg[1].nb1 : p.seg[2].nb1;
  if (dst) *dst = (si == 0 ? p.seg[0].dst : si == 1 ? p.seg[1].dst : p.seg[2].dst) + m;
  return a + m * nb1;
}

// ASYNC: double-buffered asynchronous staging (CUDA sm_80+); else loads through registers.
template <dtype T, int CHM, bool ASYNC>
__global__ void __launch_bounds__(k_mmv_warps * warp) k_mmv(mmv_args p) {
  using tr = mm<T>;
  using W = typename tr::wblock;
  using A = typename tr::ablock;
  constexpr int CH = mmv_chunk<T, CHM>(), PL = mmv_per_lane<T, CHM>();
  static_assert(CH * tr::tpb % warp == 0, "a whole chunk gives every lane the same number of slices");
  __shared__ int4 stage[k_mmv_warps][ASYNC ? 2 : 1][PL * warp];
  __shared__ float part[k_mmv_warps];
  const int lane = threadIdx.x % warp, w = threadIdx.x / warp;
  const int64_t g = (int64_t)blockIdx.x * (k_mmv_warps / p.split) + w / p.split;
  const int pi = w % p.split;
  const bool valid = g < p.total_rows;
  float* dst = nullptr;
  const uint8_t* row = valid ? mmv_row(p, g, &dst) : nullptr;
  float acc = 0.0f;
  // With ASYNC the first chunk of weights is requested before waiting for the previous kernel.
  if (!ASYNC || !valid) pdl_enter();
  if (valid) {
    const A* y = reinterpret_cast<const A*>(p.act);
    const int64_t step = (int64_t)p.split * CH;
    // chunk starting at block c0: its 16-byte aligned source words and where the blocks start
    auto geometry = [&](int64_t c0, const int4*& base, int& off, int& nb, int& n16) {
      nb = (int)min((int64_t)CH, p.n_blocks - c0);
      const uint8_t* lo = row + c0 * (int64_t)sizeof(W);
      base = reinterpret_cast<const int4*>(reinterpret_cast<uintptr_t>(lo) & ~(uintptr_t)15);
      off = (int)(lo - reinterpret_cast<const uint8_t*>(base));
      n16 = (off + nb * (int)sizeof(W) + 15) / 16;
    };
    const int4* base;
    int off, nb, n16;
    if constexpr (ASYNC) {
      auto issue = [&](int64_t c0, int b) {
        geometry(c0, base, off, nb, n16);
HEARTH_UNROLL
        for (int i = 0; i < PL; ++i)
          if (lane + i * warp < n16) copy16_async(&stage[w][b][lane + i * warp], base + lane + i * warp);
      };
      // The first two chunks (a whole row of an 8B model's 4096-wide products; one with
      // HEARTH_GPU_MMV_AHEAD=1) are requested before waiting for the previous kernel.
      int64_t c0 = (int64_t)pi * CH;
      if (c0 < p.n_blocks) issue(c0, 0);
      copy_async_commit();
      if (p.ahead2) {
        if (c0 + step < p.n_blocks) issue(c0 + step, 1);
        copy_async_commit();
      }
      pdl_enter();
      // One commit group per chunk slot, possibly empty, keeps the counting: one chunk ahead, the
      // next is requested before waiting for the current; two ahead, each consumed buffer is
      // refilled with the chunk after next.
      for (int b = 0; c0 < p.n_blocks; c0 += step, b ^= 1) {
        if (!p.ahead2) {
          if (c0 + step < p.n_blocks) issue(c0 + step, b ^ 1);
          copy_async_commit();
        }
        copy_async_wait_all_but_last();  // chunk c0 (in buffer b) has landed
        warp_sync();
        geometry(c0, base, off, nb, n16);
        acc += chunk_dot<T, CH>(reinterpret_cast<const W*>(reinterpret_cast<const uint8_t*>(stage[w][b]) + off), y + c0, nb, lane);
        warp_sync();
        if (p.ahead2) {
          if (c0 + 2 * step < p.n_blocks) issue(c0 + 2 * step, b);
          copy_async_commit();
        }
      }
    } else {
      int4* buf = stage[w][0];
      for (int64_t c0 = (int64_t)pi * CH; c0 < p.n_blocks; c0 += step) {
        geometry(c0, base, off, nb, n16);
        int4 v[PL];
        // All loads first (bytes in flight), then the stores to shared memory.
HEARTH_UNROLL
        for (int i = 0; i < PL; ++i)
          if (lane + i * warp < n16) v[i] = __ldg(base + lane + i * warp);
HEARTH_UNROLL
        for (int i = 0; i < PL; ++i)
          if (lane + i * warp < n16) buf[lane + i * warp] = v[i];
        warp_sync();
        acc += chunk_dot<T, CH>(reinterpret_cast<const W*>(reinterpret_cast<const uint8_t*>(buf) + off), y + c0, nb, lane);
        warp_sync();
      }
    }
  }
  acc = warp_sum(acc);
  if (p.split == 1) {
    if (valid && lane == 0) *dst = acc;
    return;
  }
  if (lane == 0) part[w] = acc;
  __syncthreads();
  if (valid && pi == 0 && lane == 0) {
    float s = part[w];
    for (int i = 1; i < p.split; ++i) s += part[w + i];
    *dst = s;
  }
}

// The default kernel (HEARTH_GPU_MMV=4): no staging. A block's threads split the slices of a row;
// each thread loads its activation slice once and takes the same slice of k_mmvd_rows consecutive
// weight rows straight from global memory into registers, so that the rows share the activation
// reads (L1) and every thread has several weight loads in flight. On the H200 (bench_gpu_products,
// docs/device-runs/cuda-mmv-direct.txt), against the staged kernel above (mode 3): 4096 x 4096
// Q4_K 8.34 -> 6.79 us, 14336 x 4096 Q4_K 17.0 -> 14.3 us, Q4_0 17.2 -> 15.1 us; 4 rows per block
// and 1 row per block were both slower than 2.
constexpr int k_mmvd_rows = 2;
constexpr int k_mmvd_threads = 128;

// The epilogue of rows g0 and g0 + 1 of the direct kernel (one thread): their sums from the warps'
// parts, the rope of the pair when the segment ropes (g0 is even within it), the store, and the
// KV cache store.
__device__ __forceinline__ void mmv_epilogue_rows(const mmv_args& p, int64_t g0, const float (*part)[k_mmvd_rows], int nw) {
  float v[k_mmvd_rows] = {};
  for (int r = 0; r < k_mmvd_rows; ++r)
    for (int i = 0; i < nw; ++i) v[r] += part[i][r];
  const int si = g0 < p.seg[0].rows ? 0 : g0 < p.seg[0].rows + p.seg[1].rows ? 1 : 2;
  const mmv_seg sg = si == 0 ? p.seg[0] : si == 1 ? p.seg[1] : p.seg[2];  // constant indices: no local copy of p
  const int64_t m = g0 - (si > 0 ? p.seg[0].rows : 0) - (si > 1 ? p.seg[1].rows : 0);
  static_assert(k_mmvd_rows == 2, "the rope rotates the block's pair of rows");
  if (sg.head > 0) {
    const int i0 = (int)(m % sg.head);
    if (i0 < p.ra.n_dims) {
      float c, s;
      rope_cos_sin(i0, p.pos[0], p.factors, p.ra, c, s);
      const float x0 = v[0], x1 = v[1];
      v[0] = x0 * c - x1 * s;
      v[1] = x0 * s + x1 * c;
    }
  }
  const int32_t id = sg.cache ? *sg.ids : -1;
  uint8_t* crow = id >= 0 && id < sg.cache_rows ? sg.cache + id * sg.cache_nb1 : nullptr;
  for (int r = 0; r < k_mmvd_rows && m + r < sg.rows; ++r) {
    sg.dst[m + r] = v[r];
    if (crow) store_elem(crow, sg.cache_f16, m + r, v[r]);
  }
}
// The norm tail: every block counts itself once its results are stored; the last one reads them
// all and runs the row's add -> rms_norm -> mul -> rounding for the next product.
template <bool Wide>
__device__ __forceinline__ void mmv_norm_tail(const mmv_args& p) {
  __shared__ float red[32];
  __shared__ bool last;
  __threadfence();  // this block's results are visible to the last block
  __syncthreads();
  if (threadIdx.x == 0) {
    last = atomicAdd(p.counter, 1u) == gridDim.x - 1;
    if (last) atomicExch(p.counter, 0u);  // every block has counted: ready for the next launch
  }
  __syncthreads();
  if (!last) return;
  __threadfence();
  if constexpr (Wide) norm_tail_row<32>(p.tail, p.seg[0].dst, p.seg[0].rows, red);
  else if (p.tail_r == 16) norm_tail_row<16>(p.tail, p.seg[0].dst, p.seg[0].rows, red);
  else norm_tail_row<8>(p.tail, p.seg[0].dst, p.seg[0].rows, red);
}

// This thread's share of the dot products of the block's rows g0 .. g0 + NR - 1 (weights of type T),
// added to acc; waits for the previous kernel (before any read of the activations).
template <dtype T>
__device__ __forceinline__ void mmv_direct_rows(const mmv_args& p, int64_t g0, float (&acc)[k_mmvd_rows]) {
  using tr = mm<T>;
  using W = typename tr::wblock;
  constexpr int NR = k_mmvd_rows;
  const W* rows[NR];
HEARTH_UNROLL
  for (int r = 0; r < NR; ++r) rows[r] = reinterpret_cast<const W*>(mmv_row(p, min(g0 + r, p.total_rows - 1), nullptr));
  const auto* y = reinterpret_cast<const typename tr::ablock*>(p.act);
  const int n_slices = (int)p.n_blocks * tr::tpb;
  int j0 = threadIdx.x;
  if constexpr (requires { typename tr::wslice; }) {
    // Weights no kernel writes: the thread's first slices load before the wait for the previous
    // kernel, which these blocks (placed early by the dependent launch) spend fetching them.
    if (p.w_const && j0 < n_slices) {
      const int b = j0 / tr::tpb, sl = j0 % tr::tpb;
      typename tr::wslice ws[NR];
HEARTH_UNROLL
      for (int r = 0; r < NR; ++r) ws[r] = tr::load(rows[r] + b, sl);
      pdl_enter();
HEARTH_UNROLL
      for (int r = 0; r < NR; ++r) acc[r] += tr::dot_w(ws[r], y + b, sl);
      j0 += blockDim.x;
    } else {
      pdl_enter();
    }
  } else {
    pdl_enter();
  }
  for (int j = j0; j < n_slices; j += blockDim.x) {
    const int b = j / tr::tpb, sl = j % tr::tpb;
HEARTH_UNROLL
    for (int r = 0; r < NR; ++r) acc[r] += tr::dot(rows[r] + b, y + b, sl);
  }
}

// Tail: 0 none, 1 the norm tail in chunks of 8 or 16 values per thread, 2 of 32 (instances of their
// own: the tail's registers cost the product occupancy, the more so the wider). T2: the weight type
// of the rows from p.t2_row on (the values' Q6_K product beside Q4_K queries and keys), T otherwise.
template <dtype T, dtype T2, int Tail>
__global__ void __launch_bounds__(k_mmvd_threads) k_mmv_direct(mmv_args p) {
  constexpr int NR = k_mmvd_rows;
  __shared__ float part[k_mmvd_threads / warp][NR];
  const int64_t g0 = (int64_t)blockIdx.x * NR;
  float acc[NR] = {};
  if constexpr (T2 != T) {
    if (g0 >= p.t2_row) mmv_direct_rows<T2>(p, g0, acc);  // a block's rows lie in one segment (even rows)
    else mmv_direct_rows<T>(p, g0, acc);
  } else {
    mmv_direct_rows<T>(p, g0, acc);
  }
  const int lane = threadIdx.x % warp, w = threadIdx.x / warp, nw = blockDim.x / warp;
HEARTH_UNROLL
  for (int r = 0; r < NR; ++r) {
    acc[r] = warp_sum(acc[r]);
    if (lane == 0) part[w][r] = acc[r];
  }
  if (nw > 1) __syncthreads();
  if (p.epilogue) {
    if (threadIdx.x == 0) mmv_epilogue_rows(p, g0, part, nw);
  } else if (threadIdx.x < NR && g0 + threadIdx.x < p.total_rows) {
    float v = 0.0f;
    for (int i = 0; i < nw; ++i) v += part[i][threadIdx.x];
    float* d;
    mmv_row(p, g0 + threadIdx.x, &d);
    *d = v;
  }
  if constexpr (Tail > 0) mmv_norm_tail<Tail == 2>(p);
}

// The weight types the one-token product kernels take.
template <dtype T>
constexpr bool mmv_has = T == dtype::f32 || T == dtype::f16 || T == dtype::q4_0 || T == dtype::q4_1 || T == dtype::q5_0 || T == dtype::q5_1 ||
                         T == dtype::q8_0 || T == dtype::iq4_nl || T == dtype::q4_k || T == dtype::q6_k;

bool mmv_type(dtype t) {
  bool r = false;
  dispatch_type(t, [&]<dtype T>() { r = mmv_has<T>; });
  return r;
}

// HEARTH_GPU_NORM_TAIL: 0 never, all wherever the kernel can (comparisons); by default only where
// the product's block keeps its own 128 threads and the tail takes the row in one pass of at most 16
// values per thread. On the H200 (docs/device-runs/cuda-norm-tail.txt) the tail saves ~2.6 us per
// use on the 1B shape (rows of 2,048: 1B Q4_0 tg +9%) but costs ~0.6-2.5 us more than the norm kernel
// on the 8B shape's rows of 4,096, in passes of 16 or with 32 values per thread (whose registers
// cost the product occupancy).
int tail_mode() {
  static const int m = env_is("HEARTH_GPU_NORM_TAIL", "0") ? 0 : env_is("HEARTH_GPU_NORM_TAIL", "all") ? 2 : 1;
  return m;
}
// The norm tail's values per thread and chunk for a row of n and blocks of the given threads: the
// whole row at once when that is 8, 16 or 32 values each (32 only with =all), else (=all) chunks
// of 16 or 8 values each that tile the row; 0 when none does.
int norm_tail_values(int64_t n, int threads) {
  for (int r : {8, 16, 32})
    if (n == (int64_t)r * threads && (r <= 16 || tail_mode() == 2)) return r;
  if (tail_mode() != 2) return 0;
  return n % (16 * threads) == 0 ? 16 : n % (8 * threads) == 0 ? 8 : 0;
}

// Threads per block of the direct kernel for rows of n_blocks weight blocks: a thread per slice of
// a row, 128 at most; with the norm tail 128 (a tail of fewer threads takes more passes).
int mmv_direct_threads(int64_t slices, bool tail) {
  return slices >= k_mmvd_threads || tail ? k_mmvd_threads : slices > warp ? 2 * warp : warp;
}

// A weight block's slices in the one-token product kernels.
int mmv_slices(dtype t) {
  int r = 1;
  dispatch_type(t, [&]<dtype T>() {
    if constexpr (mmv_has<T>)
      r = mm<T>::tpb;
  });
  return r;
}

// HEARTH_GPU_MMV=0: products of one column take the general kernel (comparisons); =1: chunks of
// about 1 KiB per warp staged through registers; =2: 2 KiB chunks; =3: 1 KiB chunks double-buffered
// with asynchronous copies (CUDA); =4: no staging, two rows per block. CUDA takes 4; HIP takes 1
// until 4 is measured on an AMD GPU. On the H200, tg t/s 8B Q4_K_M 259 (3) / 243-257 (1) / 251 (2);
// 8B Q4_0 266 / 232-256 / 249; 1B Q4_0 716 / 688-748 / 664 (before programmatic dependent launch).
// With it, two interleaved rounds (cuda-mmv-direct.txt): 8B Q4_K_M 287.5 (3) / 305.8 (4), 8B Q4_0
// 284.4 / 315.4, 1B Q4_0 814.3 / 847.4.
int mmv_mode() {
  static const int mode = [] {
    const char* e = std::getenv("HEARTH_GPU_MMV");
#if defined(HEARTH_GPU_HIP)
    const int dflt = 1;
#else
    const int dflt = 4;
#endif
    return e && *e ? std::atoi(e) : dflt;
  }();
  return mode;
}
bool mmv_enabled() { return mmv_mode() != 0; }
// HEARTH_GPU_MMV_AHEAD=1: one chunk requested ahead instead of two (comparisons). H200 tg128, three
// rounds of 5, with programmatic dependent launch: 8B Q4_K_M 283.1 (1) / 282.8 (2), 1B Q4_0
// 760.5 +- 90 (1) / 799.9 +- 20 (2); without it 270.3 / 274.3 and 750.5 / 750.6.
bool mmv_ahead2() {
  static const bool two = !env_is("HEARTH_GPU_MMV_AHEAD", "1");
  return two;
}

// T2: the second weight type of a launch of two (mmv_pair, no norm tail), else T.
template <dtype T, dtype T2 = T> void launch_mmv_direct(mmv_args& p, gpuStream_t s) {
  static_assert(mm<T>::tpb == mm<T2>::tpb && mm<T>::qk == mm<T2>::qk, "one launch: the same slices per block");
  const int threads = mmv_direct_threads(p.n_blocks * mm<T>::tpb, p.tail_r > 0);
  p.split = 1;
  const unsigned grid = (unsigned)((p.total_rows + k_mmvd_rows - 1) / k_mmvd_rows);
  if constexpr (T2 == T) {
    if (p.tail_r == 32) return launch(k_mmv_direct<T, T, 2>, grid, threads, 0, s, p);
    if (p.tail_r) return launch(k_mmv_direct<T, T, 1>, grid, threads, 0, s, p);
  }
  launch(k_mmv_direct<T, T2, 0>, grid, threads, 0, s, p);
}

template <dtype T, int CHM, bool ASYNC> void launch_mmv(mmv_args& p, gpuStream_t s) {
  const int64_t n_chunks = (p.n_blocks + mmv_chunk<T, CHM>() - 1) / mmv_chunk<T, CHM>();
  int split = 1;
  while (split < k_mmv_warps && 2 * split <= n_chunks && p.total_rows * split < k_mmv_target_warps) split *= 2;
  p.split = split;
  const int64_t rows_per_block = k_mmv_warps / split;
  const unsigned grid = (unsigned)((p.total_rows + rows_per_block - 1) / rows_per_block);
  launch(k_mmv<T, CHM, ASYNC>, grid, k_mmv_warps * warp, 0, s, p);
}

}  // namespace

bool mmv_eligible(const tensor& n) {
  if (!mmv_enabled() || n.op != op::mul_mat) return false;
  const tensor& a = *n.src[0];
  const tensor& b = *n.src[1];
  if (!mmv_type(a.type) || a.nb[0] != type_size(a.type) || a.ne[2] != 1 || a.ne[3] != 1 || b.nrows() != 1 || n.nb[0] != 4)
    return false;
  // the Q4_K slices read 16-byte words of their block from the staged copy
  if (a.type == dtype::q4_k && ((uintptr_t)a.data % 16 != 0 || a.nb[1] % 16 != 0)) return false;
  return true;
}

// The direct kernel's epilogue: one token, rows of the product even (a block's pair is a rope's
// pair), the rope's input a contiguous view of the whole result.
bool mmv_rope_fits(const tensor& product, const tensor& rope) {
  if (mmv_mode() != 4 || rope.op != op::rope || product.ne[0] % 2 != 0) return false;
  rope_params rp;
  std::memcpy(&rp, rope.p.raw, sizeof rp);
  const tensor& x = *rope.src[0];
  return rp.mode == rope_mode::normal && x.storage() == &product && x.data == product.data && x.is_contiguous() &&
         x.nelements() == product.ne[0] && x.ne[0] % 2 == 0 && x.ne[2] == 1 && x.ne[3] == 1 && rope.type == dtype::f32 &&
         rope.is_contiguous() && rope.src[1]->type == dtype::i32 && rope.src[1]->ne[0] == 1 && rp.n_rot <= x.ne[0] &&
         (!rope.src[2] || (rope.src[2]->type == dtype::f32 && rope.src[2]->is_contiguous()));
}

bool mmv_store_fits(const tensor& rows, const tensor& set_rows) {
  if (mmv_mode() != 4 || set_rows.op != op::set_rows || rows.nelements() % 2 != 0) return false;
  const tensor& c = *set_rows.src[0];
  const tensor& v = *set_rows.src[1];
  const tensor& ids = *set_rows.src[2];
  return v.storage() == rows.storage() && v.data == rows.data && v.is_contiguous() && v.ne[0] == rows.nelements() && v.ne[1] == 1 &&
         (c.type == dtype::f32 || c.type == dtype::f16) && c.nb[0] == type_size(c.type) && c.ne[0] >= v.ne[0] && c.ne[2] == 1 &&
         c.ne[3] == 1 && ids.type == dtype::i32 && ids.ne[0] == 1;
}

// HEARTH_GPU_MMV_PAIR=0: no launches of two weight types (comparisons).
bool mmv_pair(dtype first, dtype second) {
  static const bool off = env_is("HEARTH_GPU_MMV_PAIR", "0");
  return !off && mmv_mode() == 4 && first == dtype::q4_k && second == dtype::q6_k;
}

bool mmv_norm_fits(const tensor& product, const tensor& add, const tensor& norm, const tensor& mul, dtype act) {
  if (mmv_mode() != 4 || norm.op != op::rms_norm || !can_fuse_norm(&add, norm, mul) || (act != dtype::q8_0 && act != dtype::q8_1 && act != dtype::q8_k))
    return false;
  if (add.src[0] != &product && add.src[1] != &product) return false;
  const tensor& resid = add.src[0] == &product ? *add.src[1] : *add.src[0];
  const int64_t n = product.ne[0];
  const int64_t slices = product.src[0]->ne[0] / block_size(product.src[0]->type) * mmv_slices(product.src[0]->type);
  if (tail_mode() == 0 || (tail_mode() == 1 && mmv_direct_threads(slices, false) != k_mmvd_threads)) return false;
  if (norm_tail_values(n, k_mmvd_threads) == 0 || product.nelements() != n || add.nelements() != n || !product.is_contiguous() || !resid.is_contiguous() ||
      !add.is_contiguous() || !norm.is_contiguous() || !mul.is_contiguous() || !mul.src[1]->is_contiguous())
    return false;
  const tensor* const all[6] = {&product, &resid, mul.src[1], &add, &norm, &mul};
  for (const tensor* t : all)
    if (reinterpret_cast<uintptr_t>(t->data) % 16 != 0) return false;
  // Each thread reads and then writes only its own values, in two passes with a barrier between:
  // the sum (first pass) against what that pass reads, and the normalised values and the result
  // (second pass) against what it reads and each other, must be the same memory or apart.
  const auto same_or_apart = [](const tensor* a, const tensor* b) {
    const auto* pa = static_cast<const uint8_t*>(a->data);
    const auto* pb = static_cast<const uint8_t*>(b->data);
    return pa == pb || pa + a->nbytes() <= pb || pb + b->nbytes() <= pa;
  };
  return same_or_apart(&add, &product) && same_or_apart(&add, &resid) && same_or_apart(&norm, &add) && same_or_apart(&norm, mul.src[1]) &&
         same_or_apart(&mul, &add) && same_or_apart(&mul, mul.src[1]) && same_or_apart(&norm, &mul);
}

void run_mul_mat_vec(const tensor* const* nodes, int n_nodes, gpuStream_t s, uint8_t* scratch, bool quantize, const mmv_epilogue* eps,
                     const mmv_norm* norm, bool w_const) {
  const tensor& a0 = *nodes[0]->src[0];
  if (quantize) quantize_activations(a0.type, *nodes[0]->src[1], scratch, s);
  mmv_args p{};
  p.ahead2 = mmv_ahead2();
  p.w_const = w_const;
  p.n_blocks = a0.ne[0] / block_size(a0.type);
  p.act = scratch;
  p.total_rows = 0;
  for (int i = 0; i < k_mmv_max_seg; ++i) {
    if (i < n_nodes) {
      const tensor& a = *nodes[i]->src[0];
      p.seg[i].a = static_cast<const uint8_t*>(a.data);
      p.seg[i].nb1 = (int64_t)a.nb[1];
      p.seg[i].rows = a.ne[1];
      p.seg[i].dst = static_cast<float*>(nodes[i]->data);
      p.total_rows += a.ne[1];
      if (const tensor* r = eps ? eps[i].rope : nullptr) {
        p.epilogue = true;
        p.seg[i].dst = static_cast<float*>(r->data);
        p.seg[i].head = (int)r->src[0]->ne[0];
        p.ra = rope_setup(*r);
        p.pos = static_cast<const int32_t*>(r->src[1]->data);
        p.factors = r->src[2] ? static_cast<const float*>(r->src[2]->data) : nullptr;
      }
      if (const tensor* st = eps ? eps[i].store : nullptr) {
        const tensor& c = *st->src[0];
        p.epilogue = true;
        p.seg[i].cache = static_cast<uint8_t*>(c.data);
        p.seg[i].cache_f16 = c.type == dtype::f16;
        p.seg[i].cache_rows = c.ne[1];
        p.seg[i].cache_nb1 = (int64_t)c.nb[1];
        p.seg[i].ids = static_cast<const int32_t*>(st->src[2]->data);
      }
    } else {
      p.seg[i] = p.seg[0];
      p.seg[i].rows = INT64_MAX / 4;
    }
  }
  if (norm) {
    const tensor& add = *norm->add;
    const tensor* prod = nodes[0];
    p.tail_r = norm_tail_values(prod->ne[0], k_mmvd_threads);  // a launch with the tail has 128 threads
    p.tail.resid = static_cast<const float*>((add.src[0] == prod ? add.src[1] : add.src[0])->data);
    p.tail.w = static_cast<const float*>(norm->mul->src[1]->data);
    p.tail.xs = static_cast<float*>(add.data);
    p.tail.yn = static_cast<float*>(norm->norm->data);
    p.tail.yo = static_cast<float*>(norm->mul->data);
    p.tail.act = scratch;
    p.tail.eps = norm->norm->p.f(0);
    p.tail.qk = norm->act == dtype::q8_k ? 256 : 32;
    p.tail.with_sum = norm->act == dtype::q8_1;
    p.counter = norm->counter;
  }
  // a launch of two weight types (mmv_pair): the second type's rows come last
  p.t2_row = p.total_rows;
  int64_t before = 0;
  for (int i = 0; i < n_nodes; ++i) {
    if (nodes[i]->src[0]->type != a0.type) {
      p.t2_row = before;
      break;
    }
    before += nodes[i]->src[0]->ne[1];
  }
  if (p.t2_row < p.total_rows) return launch_mmv_direct<dtype::q4_k, dtype::q6_k>(p, s);
  dispatch_type(a0.type, [&]<dtype T>() {
    if constexpr (mmv_has<T>) {
      if (mmv_mode() == 4) return launch_mmv_direct<T>(p, s);
#if !defined(HEARTH_GPU_HIP)
      if (mmv_mode() == 3) return launch_mmv<T, 1, true>(p, s);
#endif
      if (mmv_mode() == 2) launch_mmv<T, 2, false>(p, s);
      else launch_mmv<T, 1, false>(p, s);
    }
  });
}

}  // namespace hearth::gpu
