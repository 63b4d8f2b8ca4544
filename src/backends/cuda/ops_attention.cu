// Fused attention over the KV cache (f32 or f16 storage), three kernels:
// - a few tokens (generation): one block per (query head, token); its warps stride over the cache
//   cells with an online softmax, then merge their partial sums. Over a long cache the cells are
//   split into chunks, each a block, whose states a second kernel merges (flash decoding).
// - prompts: one block per (query head, 32 tokens) streaming the cache through shared memory.
// Masked cells (-inf) are skipped, so a fully masked row gives zeros as in the reference. For the
// product that reads its output (token generation) the attention may also round that output to the
// product's activation format, which saves the product's rounding kernel.
#include <algorithm>

#include "backends/cuda/mmv.cuh"
#include "backends/cuda/ops.h"

namespace hearth::gpu {

namespace {

constexpr int k_max_hd = 256;  // head sizes up to this (lanes hold k_max_hd / 32 values each)
constexpr int k_warps = 8;
constexpr int k_cpw = 4;  // cells a warp takes per step in the per-token kernels

struct attn_args {
  tdesc q, k, v, mask, dst;
  float scale, cap;
  int group;  // query heads per KV head
  // Optional: each token's output row also rounded to activation blocks of qk values (32: q8_0 /
  // q8_1, 256: q8_K) at act + t * act_rb for the product that reads it. hpb > 1 heads share a
  // block: the last of them to finish (counted in counters, reset to 0 by it) rounds it.
  uint8_t* act;
  int64_t act_rb;
  int qk, hpb;
  bool with_sum;
  unsigned* counters;
  bool mask_const;  // no kernel writes the mask (the one-block kernel loads its first values early)
};

// Shared memory of the per-token kernels: the query, and each warp's softmax state and sums.
struct attn_shared {
  float qs[k_max_hd];
  float part_m[k_warps], part_l[k_warps];
  float part_acc[k_warps][k_max_hd];
  bool last;
};

// Elements lane, lane + 32, ... of a key or value row (f16 or f32), 0 past n values or when !use.
template <bool F16, int N>
__device__ __forceinline__ void row_lanes(const uint8_t* row, int lane, int n, bool use, float (&out)[N]) {
#pragma unroll
  for (int k = 0; k < N; ++k) {
    const int i = lane + k * warp;
    out[k] = use && i < n ? (F16 ? h2f(reinterpret_cast<const uint16_t*>(row)[i]) : reinterpret_cast<const float*>(row)[i]) : 0.0f;
  }
}

// The mask value this lane holds for a batch of warp / CPW steps of its warp (CPW > 1), the first
// step's cells from jb on: lane l holds cell l % CPW of step l / CPW; -inf past j1.
template <int CPW>
__device__ __forceinline__ float mask_batch(const float* mrow, int64_t jb, int64_t j1) {
  const int lane = threadIdx.x % warp;
  const int64_t j = jb + (int64_t)(lane / CPW) * k_warps * CPW + lane % CPW;
  return j < j1 ? mrow[j] : -INFINITY;
}
__device__ __forceinline__ const float* mask_row(const attn_args& a, int64_t t) {
  return reinterpret_cast<const float*>(a.mask.data + t * a.mask.nb[1]);
}

// Cells j0 .. j1 - 1 for query head h, token t: the block's warps stride over them with an online
// softmax, then merge their states. On return (after a barrier): M is the largest score (-inf when
// every cell is masked), L the sum of exp(s - M), and sm.part_acc[0][i] the sum of exp(s - M) v[i].
// m0: with pre, the first batch's mask_batch, loaded already (before the wait for the previous kernel).
template <bool KF16, int VPL, int CPW>
__device__ __forceinline__ void attend(const attn_args& a, attn_shared& sm, int h, int64_t t, int64_t j0, int64_t j1, float& M, float& L,
                                       float m0 = 0.0f, bool pre = false) {
  const int kh = h / a.group;
  const int lane = threadIdx.x % warp, w = threadIdx.x / warp;
  const int hd = (int)a.q.ne[0], hd_v = (int)a.v.ne[0];
  const float* q = reinterpret_cast<const float*>(a.q.data + h * a.q.nb[1] + t * a.q.nb[2]);
  for (int i = threadIdx.x; i < hd; i += blockDim.x) sm.qs[i] = q[i];
  __syncthreads();
  const float* mrow = mask_row(a, t);
  float m = -INFINITY, l = 0.0f;
  float acc[VPL];
#pragma unroll
  for (int r = 0; r < VPL; ++r) acc[r] = 0.0f;
  if constexpr (CPW == 1) {
    for (int64_t j = j0 + w; j < j1; j += k_warps) {
      const float mv = mrow[j];
      if (mv == -INFINITY) continue;
      const uint8_t* krow = a.k.data + kh * a.k.nb[1] + j * a.k.nb[2];
      float s = 0.0f;
      for (int i = lane; i < hd; i += warp)
        s += sm.qs[i] * (KF16 ? h2f(reinterpret_cast<const uint16_t*>(krow)[i]) : reinterpret_cast<const float*>(krow)[i]);
      s = warp_sum(s) * a.scale;
      if (a.cap > 0.0f) s = a.cap * tanhf(s / a.cap);
      s += mv;
      const float m_new = fmaxf(m, s);
      const float corr = expf(m - m_new);  // 0 on the first cell (m = -inf)
      const float p = expf(s - m_new);
      l = l * corr + p;
      const uint8_t* vrow = a.v.data + kh * a.v.nb[1] + j * a.v.nb[2];
#pragma unroll
      for (int r = 0; r < VPL; ++r) {
        const int i = lane + r * warp;
        const float vv = i < hd_v ? (KF16 ? h2f(reinterpret_cast<const uint16_t*>(vrow)[i]) : reinterpret_cast<const float*>(vrow)[i]) : 0.0f;
        acc[r] = acc[r] * corr + p * vv;
      }
      m = m_new;
    }
  } else {
    // CPW > 1 (the one-block kernel): a warp takes CPW cells per step, issuing all their key and
    // value loads before any sum, so that a step waits on one memory round trip instead of one per
    // cell and operand; the mask values of 32 / CPW steps come with one load. Steps whose cells are
    // all masked load nothing; in a partly masked step the masked cells' keys are read but not used,
    // and their values are not read. H200 tg128: 8B Q4_K_M
    // 333.5-339.9 -> 349.4-355.4 t/s, 1B Q4_0 924-931 -> 1015-1048. The split kernel over a long
    // cache keeps one cell per step (CPW = 1): there this loop measured slower (8B at 4096 cells
    // 177-179 against 231-243 t/s; docs/device-runs/tg-epilogue-host.txt).
    constexpr int KPL = k_max_hd / warp;
    constexpr int SPL = warp / CPW;  // steps whose mask values one load of the warp brings
    static_assert(warp % CPW == 0, "a warp's lanes hold the mask values of whole steps");
    float mlane = -INFINITY;  // lane l: the mask value of cell l % CPW of step l / CPW of the batch
    int si = 0;
    for (int64_t jb = j0 + (int64_t)w * CPW; jb < j1; jb += (int64_t)k_warps * CPW, ++si) {
      if (si == 0 && pre) {
        mlane = m0;
      } else if (si % SPL == 0) {
        mlane = mask_batch<CPW>(mrow, jb, j1);
      }
      float s[CPW];
      bool any = false;
#pragma unroll
      for (int c = 0; c < CPW; ++c) {
        s[c] = shfl(mlane, (si % SPL) * CPW + c);
        any = any || s[c] != -INFINITY;
      }
      if (!any) continue;
      float kx[CPW][KPL], vv[CPW][VPL];
#pragma unroll
      for (int c = 0; c < CPW; ++c) row_lanes<KF16>(a.k.data + kh * a.k.nb[1] + min(jb + c, j1 - 1) * a.k.nb[2], lane, hd, true, kx[c]);
#pragma unroll
      for (int c = 0; c < CPW; ++c)
        row_lanes<KF16>(a.v.data + kh * a.v.nb[1] + min(jb + c, j1 - 1) * a.v.nb[2], lane, hd_v, s[c] != -INFINITY, vv[c]);
#pragma unroll
      for (int c = 0; c < CPW; ++c) {
        float d = 0.0f;
#pragma unroll
        for (int k = 0; k < KPL; ++k)
          if (lane + k * warp < hd) d += sm.qs[lane + k * warp] * kx[c][k];
        d = warp_sum(d) * a.scale;
        if (a.cap > 0.0f) d = a.cap * tanhf(d / a.cap);
        if (s[c] != -INFINITY) s[c] += d;
      }
      float m_new = m;
#pragma unroll
      for (int c = 0; c < CPW; ++c) m_new = fmaxf(m_new, s[c]);
      const float corr = expf(m - m_new);  // 0 while m = -inf (m_new is finite: some cell is not masked)
      float p[CPW];
#pragma unroll
      for (int c = 0; c < CPW; ++c) p[c] = s[c] == -INFINITY ? 0.0f : expf(s[c] - m_new);
      l = l * corr + p[0];
#pragma unroll
      for (int c = 1; c < CPW; ++c) l += p[c];
#pragma unroll
      for (int r = 0; r < VPL; ++r) {
        acc[r] = acc[r] * corr + p[0] * vv[0][r];
#pragma unroll
        for (int c = 1; c < CPW; ++c) acc[r] += p[c] * vv[c][r];
      }
      m = m_new;
    }
  }
  if (lane == 0) {
    sm.part_m[w] = m;
    sm.part_l[w] = l;
  }
#pragma unroll
  for (int r = 0; r < VPL; ++r) {
    const int i = lane + r * warp;
    if (i < hd_v) sm.part_acc[w][i] = acc[r];
  }
  __syncthreads();
  M = -INFINITY;
  for (int i = 0; i < k_warps; ++i) M = fmaxf(M, sm.part_m[i]);
  L = 0.0f;
  if (M != -INFINITY)
    for (int i = 0; i < k_warps; ++i)
      if (sm.part_m[i] != -INFINITY) L += sm.part_l[i] * expf(sm.part_m[i] - M);
  for (int i = threadIdx.x; i < hd_v; i += blockDim.x) {  // column i: read and written by this thread only
    float o = 0.0f;
    if (M != -INFINITY)
      for (int ww = 0; ww < k_warps; ++ww)
        if (sm.part_m[ww] != -INFINITY) o += sm.part_acc[ww][i] * expf(sm.part_m[ww] - M);
    sm.part_acc[0][i] = o;
  }
  __syncthreads();
}

// The output row of head h, token t from the merged sums (zeros for a fully masked row), then, for
// instances with Round and a.qk set, its rounding for the next product (the token's row: heads side
// by side, contiguous).
template <bool Round>
__device__ __forceinline__ void finish(const attn_args& a, attn_shared& sm, int h, int64_t t, float M, float L) {
  const int lane = threadIdx.x % warp, w = threadIdx.x / warp;
  const int hd_v = (int)a.v.ne[0];
  float* out = reinterpret_cast<float*>(a.dst.data + h * a.dst.nb[1] + t * a.dst.nb[2]);
  const float inv = M == -INFINITY ? 0.0f : 1.0f / L;
  for (int i = threadIdx.x; i < hd_v; i += blockDim.x) out[i] = M == -INFINITY ? 0.0f : sm.part_acc[0][i] * inv;
  if (!Round || a.qk == 0) return;
  const float* orow = reinterpret_cast<const float*>(a.dst.data + t * a.dst.nb[2]);
  uint8_t* arow = a.act + t * a.act_rb;
  if (a.hpb == 1) {  // the head's own blocks
    __syncthreads();  // the head's values are written
    const int64_t first = (int64_t)h * (hd_v / a.qk);  // its first block in the row
    if (a.qk == 256) round_row<256>(orow + h * hd_v, hd_v, reinterpret_cast<uint8_t*>(reinterpret_cast<a8_256*>(arow) + first), false, w, k_warps, lane);
    else round_row<32>(orow + h * hd_v, hd_v, reinterpret_cast<uint8_t*>(reinterpret_cast<a8_32*>(arow) + first), a.with_sum, w, k_warps, lane);
    return;
  }
  // heads h0 .. h0 + hpb - 1 share one q8_K block: the last block to finish rounds it
  __threadfence();  // this thread's writes are visible to the other blocks
  __syncthreads();
  if (threadIdx.x == 0) {
    unsigned* c = a.counters + t * (gridDim.x / a.hpb) + h / a.hpb;
    sm.last = atomicAdd(c, 1u) == (unsigned)a.hpb - 1;
    if (sm.last) atomicExch(c, 0u);  // every head of the group has counted: ready for the next run
  }
  __syncthreads();
  if (!sm.last || w != 0) return;
  __threadfence();
  const int64_t gb = h / a.hpb;
  const volatile float* vo = orow;  // written by other blocks: not through the L1 cache
  float v[8];
#pragma unroll
  for (int k = 0; k < 8; ++k) v[k] = vo[gb * 256 + lane * 8 + k];
  quant_q8_256(v, reinterpret_cast<a8_256*>(arow) + gb, lane);
}

// VPL: value elements per lane (hd_v / 32 rounded up); Round: a.qk may be set (an instance without
// the rounding tail for the prompt's many blocks: the tail's registers cost occupancy there).
// CPW: cells a warp takes per step (8 instead of 4 measured 10.5 -> 16.6 us per 8B layer: the
// keys and values of 8 cells in registers spill).
template <bool KF16, int VPL, bool Round, int CPW = k_cpw>
__global__ void __launch_bounds__(k_warps * warp) k_attention(attn_args a) {
  // a mask no kernel writes (the graph's input): its first values load while the previous kernel ends
  const float m0 = a.mask_const ? mask_batch<CPW>(mask_row(a, blockIdx.y), (int64_t)(threadIdx.x / warp) * CPW, a.k.ne[2]) : 0.0f;
  pdl_wait();
  __shared__ attn_shared sm;
  float M, L;
  attend<KF16, VPL, CPW>(a, sm, blockIdx.x, blockIdx.y, 0, a.k.ne[2], M, L, m0, a.mask_const);
  pdl_launch_dependents();  // the cache is read: the next kernel may be placed (its early weight loads would slow the walk)
  finish<Round>(a, sm, blockIdx.x, blockIdx.y, M, L);
}

// Token generation over a long cache (split-KV, "flash decoding"): block (h, t, c) attends to chunk
// c of the cells and writes its state (M, L, then the hd_v sums) to part; k_attention_merge then
// combines the chunks of each (h, t). Without it a token's 32 or so heads leave most of the GPU
// idle while each block walks thousands of cells.
template <bool KF16, int VPL>
__global__ void __launch_bounds__(k_warps * warp) k_attention_part(attn_args a, float* part, int64_t chunk) {
  pdl_enter();
  __shared__ attn_shared sm;
  const int h = blockIdx.x;
  const int64_t t = blockIdx.y, j0 = (int64_t)blockIdx.z * chunk;
  const int hd_v = (int)a.v.ne[0];
  float M, L;
  attend<KF16, VPL, 1>(a, sm, h, t, j0, min(j0 + chunk, a.k.ne[2]), M, L);
  float* dst = part + ((t * gridDim.x + h) * gridDim.z + blockIdx.z) * (int64_t)(hd_v + 2);
  if (threadIdx.x == 0) {
    dst[0] = M;
    dst[1] = L;
  }
  for (int i = threadIdx.x; i < hd_v; i += blockDim.x) dst[2 + i] = sm.part_acc[0][i];
}

constexpr int k_max_chunks = 64;

template <bool Round>
__global__ void __launch_bounds__(k_warps * warp) k_attention_merge(attn_args a, const float* part, int n_chunks) {
  pdl_enter();
  __shared__ attn_shared sm;
  __shared__ float wt[k_max_chunks], ms[k_max_chunks], ls[k_max_chunks];
  const int h = blockIdx.x;
  const int64_t t = blockIdx.y;
  const int hd_v = (int)a.v.ne[0];
  const float* src = part + (t * gridDim.x + h) * (int64_t)n_chunks * (hd_v + 2);
  // Every chunk's state read at once (a thread each), then the same sums as one thread walking the
  // chunks would make: reading them one after another cost a memory round trip per chunk.
  for (int c = threadIdx.x; c < n_chunks; c += blockDim.x) {
    ms[c] = src[c * (hd_v + 2)];
    ls[c] = src[c * (hd_v + 2) + 1];
  }
  __syncthreads();
  float M = -INFINITY;
  for (int c = 0; c < n_chunks; ++c) M = fmaxf(M, ms[c]);
  float L = 0.0f;
  if (M != -INFINITY)
    for (int c = 0; c < n_chunks; ++c)
      if (ms[c] != -INFINITY) L += ls[c] * expf(ms[c] - M);
  for (int c = threadIdx.x; c < n_chunks; c += blockDim.x) wt[c] = M == -INFINITY || ms[c] == -INFINITY ? 0.0f : expf(ms[c] - M);
  __syncthreads();
  for (int i = threadIdx.x; i < hd_v; i += blockDim.x) {
    float o = 0.0f;
#pragma unroll 8
    for (int c = 0; c < n_chunks; ++c) {
      const float v = src[c * (hd_v + 2) + 2 + i];  // unconditional: the loads of 8 chunks fly together
      if (wt[c] != 0.0f) o += v * wt[c];
    }
    sm.part_acc[0][i] = o;
  }
  __syncthreads();
  finish<Round>(a, sm, h, t, M, L);
}

// Prompts: one block per (query head, tile of 32 tokens), streaming the cache through shared
// memory in tiles of k_tc cells, so that each key and value row is read once per tile of tokens
// instead of once per token. Thread (q, part) of the 128 keeps a quarter of token q's query in
// registers (values 4 i .. 4 i + 3 for i = part, part + 4, ...: the four threads of a token read
// one 64-byte run of a key), computes its partial scores with the cells of a tile and sums them
// with the other quarters' by two shuffles, so that each thread holds the token's scores, softmax
// state and weights, and accumulates the same quarter of the output. Only the tile's keys, values
// and masks sit in shared memory (41 KiB for head size 128). Tiles whose cells are masked for every
// token of the block are skipped whole (the causal tail of a prompt). Needs hd and hd_v multiples
// of 4 and 16-byte (f32) or 8-byte (f16) aligned rows.
constexpr int k_tc = 32, k_tthreads = 128;

template <bool KF16>
__device__ __forceinline__ float4 load4(const uint8_t* row, int d) {
  if constexpr (KF16) {
    const uint2 w = *reinterpret_cast<const uint2*>(row + 2 * d);
    return make_float4(h2f((uint16_t)(w.x & 0xffff)), h2f((uint16_t)(w.x >> 16)), h2f((uint16_t)(w.y & 0xffff)), h2f((uint16_t)(w.y >> 16)));
  } else {
    return *reinterpret_cast<const float4*>(row + 4 * d);
  }
}

__device__ __forceinline__ void fma4(float4& acc, float p, const float4& v) {
  acc.x += p * v.x;
  acc.y += p * v.y;
  acc.z += p * v.z;
  acc.w += p * v.w;
}

// NQ: float4 chunks of a query (and output) row per thread (the largest head size / 16).
template <bool KF16, int NQ>
__global__ void __launch_bounds__(k_tthreads, NQ <= 8 ? 4 : 2) k_attention_tiles(attn_args a) {
  pdl_enter();
  constexpr int tq = 32;
  extern __shared__ __align__(16) float sm[];
  const int hd = (int)a.q.ne[0], hd_v = (int)a.v.ne[0];
  const int hd4 = hd / 4, hdv4 = hd_v / 4, row4 = NQ * 4;  // float4s per shared row
  float4* ks = reinterpret_cast<float4*>(sm);
  float4* vs = ks + k_tc * row4;
  // the tiles' masks, [tq][k_tc + 1], in two buffers (a tile's is written while slower threads may
  // still read the previous one's)
  float* ms2 = reinterpret_cast<float*>(vs + k_tc * row4);
  const int h = blockIdx.x, kh = h / a.group;
  const int64_t t0 = (int64_t)blockIdx.y * tq, n_tok = a.q.ne[2], n_kv = a.k.ne[2];
  const int tid = threadIdx.x, q = tid / 4, part = tid % 4;
  const int64_t t = t0 + q;
  const bool live = t < n_tok;
  float4 qv[NQ], acc[NQ];
#pragma unroll
  for (int r = 0; r < NQ; ++r) {
    const int i = 4 * r + part;
    qv[r] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if (live && i < hd4) {
      const float* qp = reinterpret_cast<const float*>(a.q.data + h * a.q.nb[1] + t * a.q.nb[2]) + 4 * i;
      qv[r] = make_float4(qp[0], qp[1], qp[2], qp[3]);
    }
    acc[r] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  }
  float m = -INFINITY, l = 0.0f;
  for (int64_t c0 = 0; c0 < n_kv; c0 += k_tc) {
    float* ms = ms2 + ((c0 / k_tc) & 1) * tq * (k_tc + 1);
    bool any = false;
    for (int e = tid; e < tq * k_tc; e += k_tthreads) {  // the tile's mask, one (token, cell) per item
      const int qq = e / k_tc, c = e % k_tc;
      const int64_t j = c0 + c;
      const float mv = t0 + qq < n_tok && j < n_kv ? reinterpret_cast<const float*>(a.mask.data + (t0 + qq) * a.mask.nb[1])[j] : -INFINITY;
      ms[qq * (k_tc + 1) + c] = mv;
      any |= mv != -INFINITY;
    }
    if (!__syncthreads_or(any)) continue;  // also: every thread is done with the previous tile
    for (int e = tid; e < k_tc * row4; e += k_tthreads) {
      const int c = e / row4, i = e % row4;
      const int64_t j = c0 + c;
      const float4 zero = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      ks[e] = j < n_kv && i < hd4 ? load4<KF16>(a.k.data + kh * a.k.nb[1] + j * a.k.nb[2], 4 * i) : zero;
      vs[e] = j < n_kv && i < hdv4 ? load4<KF16>(a.v.data + kh * a.v.nb[1] + j * a.v.nb[2], 4 * i) : zero;
    }
    __syncthreads();
    // in halves of the tile, each with its own softmax update (16 scores in registers, not 32)
    for (int c1 = 0; c1 < k_tc; c1 += k_tc / 2) {
      float s[k_tc / 2];
      float mt = -INFINITY;
#pragma unroll
      for (int c = 0; c < k_tc / 2; ++c) {
        float x = 0.0f;
#pragma unroll
        for (int r = 0; r < NQ; ++r) {
          const float4 kv = ks[(c1 + c) * row4 + 4 * r + part];
          x += qv[r].x * kv.x + qv[r].y * kv.y + qv[r].z * kv.z + qv[r].w * kv.w;
        }
        x += shfl_xor(x, 1);
        x += shfl_xor(x, 2);
        x *= a.scale;
        if (a.cap > 0.0f) x = a.cap * tanhf(x / a.cap);
        const float mv = ms[q * (k_tc + 1) + c1 + c];
        s[c] = mv == -INFINITY ? -INFINITY : x + mv;
        mt = fmaxf(mt, s[c]);
      }
      const float m_new = fmaxf(m, mt);
      if (m_new == -INFINITY) continue;  // nothing visible to this token yet
      const float corr = expf(m - m_new);  // 0 while m = -inf
#pragma unroll
      for (int r = 0; r < NQ; ++r) {
        acc[r].x *= corr;
        acc[r].y *= corr;
        acc[r].z *= corr;
        acc[r].w *= corr;
      }
      float ls = 0.0f;
#pragma unroll
      for (int c = 0; c < k_tc / 2; ++c) {
        const float p = s[c] == -INFINITY ? 0.0f : expf(s[c] - m_new);
        ls += p;
#pragma unroll
        for (int r = 0; r < NQ; ++r) fma4(acc[r], p, vs[(c1 + c) * row4 + 4 * r + part]);
      }
      l = l * corr + ls;
      m = m_new;
    }
  }
  if (!live) return;
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;  // a fully masked row gives zeros
  float* out = reinterpret_cast<float*>(a.dst.data + h * a.dst.nb[1] + t * a.dst.nb[2]);
#pragma unroll
  for (int r = 0; r < NQ; ++r) {
    const int i = 4 * r + part;
    if (i < hdv4) {
      out[4 * i] = acc[r].x * inv;
      out[4 * i + 1] = acc[r].y * inv;
      out[4 * i + 2] = acc[r].z * inv;
      out[4 * i + 3] = acc[r].w * inv;
    }
  }
}

tdesc desc(const tensor& t) {
  tdesc d;
  d.data = static_cast<uint8_t*>(t.data);
  for (int i = 0; i < 4; ++i) {
    d.ne[i] = t.ne[i];
    d.nb[i] = (int64_t)t.nb[i];
  }
  return d;
}

}  // namespace

bool attention_supported(const tensor& n) {
  const tensor& k = *n.src[1];
  const tensor& v = *n.src[2];
  return n.src[0]->ne[0] <= k_max_hd && v.ne[0] <= k_max_hd && k.type == v.type && (k.type == dtype::f32 || k.type == dtype::f16) &&
         k.nb[0] == type_size(k.type) && v.nb[0] == type_size(v.type);
}

dtype attention_round_type(const tensor& attn, const tensor& next, int64_t max_counters) {
  if (attn.op != op::attention || next.op != op::mul_mat || !mmv_eligible(next)) return dtype::f32;
  const tensor& b = *next.src[1];
  const int64_t hd_v = attn.ne[0], n_head = attn.ne[1];
  if (b.data != attn.data || attn.type != dtype::f32 || !attn.is_contiguous() || attn.ne[3] != 1 || !b.is_contiguous() ||
      b.ne[0] != hd_v * n_head || b.nrows() != attn.ne[2] || attn.ne[2] >= 65535)
    return dtype::f32;
  const dtype act = vec_dot_type(next.src[0]->type);
  if (act != dtype::q8_0 && act != dtype::q8_1 && act != dtype::q8_k) return dtype::f32;
  const int64_t qk = block_size(act);
  if (hd_v % qk == 0) return act;
  if (qk == 256 && 256 % hd_v == 0 && n_head % (256 / hd_v) == 0 && n_head / (256 / hd_v) * attn.ne[2] <= max_counters) return act;
  return dtype::f32;
}

namespace {

// HEARTH_GPU_ATTN_TILES=0: prompts use the per-token kernel too (comparisons).
bool tiles_enabled() {
  static const bool on = !env_is("HEARTH_GPU_ATTN_TILES", "0");
  return on;
}

// Shared memory a block of device dev may use.
int shared_bytes_of(int dev) { return std::max(gpuMaxSharedBytes(dev), 48 * 1024); }

// The token-tile kernel for a prompt's attention (16 tokens or more), when its shapes allow it;
// false leaves it to the per-token kernel.
bool run_attention_tiles(const tensor& dst, const attn_args& a, gpuStream_t s) {
  const tensor &k = *dst.src[1], &v = *dst.src[2];
  const int64_t hd = a.q.ne[0], hd_v = a.v.ne[0];
  const bool f16 = k.type == dtype::f16;
  const int64_t align = f16 ? 8 : 16;
  const auto aligned = [&](const tensor& t) {
    return reinterpret_cast<uintptr_t>(t.data) % align == 0 && (int64_t)t.nb[1] % align == 0 && (int64_t)t.nb[2] % align == 0;
  };
  if (!tiles_enabled() || a.q.ne[2] < 16 || hd % 4 != 0 || hd_v % 4 != 0 || !aligned(k) || !aligned(v) || a.q.ne[3] != 1) return false;
  const int64_t hd_max = std::max(hd, hd_v);
  const int nq = hd_max <= 64 ? 4 : hd_max <= 128 ? 8 : 16;
  // keys and values (rows of 4 nq float4s), two masks of 32 x (k_tc + 1)
  const int bytes = (int)((size_t)2 * k_tc * (4 * nq) * sizeof(float4) + (size_t)2 * 32 * (k_tc + 1) * sizeof(float));
  if (bytes > per_device<shared_bytes_of>(48 * 1024)) return false;
  const dim3 grid((unsigned)a.q.ne[1], (unsigned)((a.q.ne[2] + 31) / 32));
  auto go = [&]<int NQ>() {
    auto* kernel = f16 ? k_attention_tiles<true, NQ> : k_attention_tiles<false, NQ>;
    if (bytes > 48 * 1024 && !gpuAllowSharedBytes(reinterpret_cast<const void*>(kernel), bytes)) return false;
    launch(kernel, grid, k_tthreads, (size_t)bytes, s, a);
    return true;
  };
  if (nq == 4) return go.template operator()<4>();
  if (nq == 8) return go.template operator()<8>();
  return go.template operator()<16>();
}

// HEARTH_GPU_ATTN_SPLIT=0: token generation attends to a long cache in one block per head and
// token (comparisons).
bool split_enabled() {
  static const bool on = !env_is("HEARTH_GPU_ATTN_SPLIT", "0");
  return on;
}

// Chunks of cells the attention of a few tokens over a long cache is split into (1: not split):
// from 512 cells, 256 cells each, at most k_max_chunks; halved (to 96 cells or more) while the
// blocks (heads x tokens x chunks) are fewer than 512, about four per multiprocessor of an
// H100/H200. On the H200 (docs/device-runs/tg-epilogue-host.txt, runs 10-13), 8B Q4_K_M tg64
// after 512 / 1024 / 2048 cells 277 / 265 / 259 -> 307 / 307 / 287 t/s, 1B Q4_0 after 1024 / 2048
// cells 630 / 624 -> 797 / 765; at 3072 and 4096 cells the same; at 4096 (17 chunks of 256) chunks
// of 128 or 64 were slower (239-240, 233-237 against 244-248).
int attention_chunks(const tensor& n) {
  const int64_t n_tok = n.src[0]->ne[2], n_kv = n.src[1]->ne[2], n_head = n.src[0]->ne[1];
  if (!split_enabled() || n_tok > 8 || n_kv < 512 || n.src[0]->ne[3] != 1) return 1;
  int64_t chunks = std::min<int64_t>(k_max_chunks, (n_kv + 255) / 256);
  while (chunks * 2 <= k_max_chunks && chunks * n_head * n_tok < 512 && n_kv >= chunks * 2 * 96) chunks *= 2;
  return (int)chunks;
}

// Where the chunks' states go in the scratch: after the rounded output rows the attention may
// write at its start for the next product (under 2 bytes per value in every activation format).
size_t attention_part_offset(const tensor& n) { return ((size_t)n.nelements() * 2 + 256 + 255) / 256 * 256; }

}  // namespace

size_t attention_scratch_bytes(const tensor& n) {
  const int chunks = attention_chunks(n);
  if (chunks == 1) return 0;
  return attention_part_offset(n) + (size_t)chunks * (size_t)(n.ne[1] * n.ne[2]) * (size_t)(n.ne[0] + 2) * sizeof(float);
}

void run_attention(const tensor& dst, gpuStream_t s, uint8_t* scratch, dtype act, unsigned* counters, bool mask_const) {
  attn_args a{};
  const bool round = act != dtype::f32;
  if (round) {
    a.act = scratch;
    a.act_rb = (int64_t)act_format_row_bytes(act, dst.ne[0] * dst.ne[1]);
    a.qk = (int)block_size(act);
    a.hpb = dst.ne[0] % a.qk == 0 ? 1 : a.qk / (int)dst.ne[0];
    a.with_sum = act == dtype::q8_1;
    a.counters = counters;
  }
  a.mask_const = mask_const;
  a.q = desc(*dst.src[0]);
  a.k = desc(*dst.src[1]);
  a.v = desc(*dst.src[2]);
  a.mask = desc(*dst.src[3]);
  a.dst = desc(dst);
  a.scale = dst.p.f(0);
  a.cap = dst.p.f(1);
  a.group = (int)(dst.src[0]->ne[1] / dst.src[1]->ne[1]);
  if (!round && run_attention_tiles(dst, a, s)) return;
  const dim3 grid((unsigned)dst.src[0]->ne[1], (unsigned)dst.src[0]->ne[2]);
  const bool f16 = dst.src[1]->type == dtype::f16;
  const int64_t hd_v = dst.src[2]->ne[0];
  const int threads = k_warps * warp;
  // value elements per lane: hd_v / 32 rounded up to 2, 4 or 8
  auto with_vpl = [&](auto&& go) {
    if (hd_v <= 64) go.template operator()<2>();
    else if (hd_v <= 128) go.template operator()<4>();
    else go.template operator()<8>();
  };
  const int chunks = scratch ? attention_chunks(dst) : 1;
  if (chunks > 1) {
    float* part = reinterpret_cast<float*>(scratch + attention_part_offset(dst));
    const int64_t n_kv = dst.src[1]->ne[2], chunk = (n_kv + chunks - 1) / chunks;
    const dim3 pgrid(grid.x, grid.y, (unsigned)((n_kv + chunk - 1) / chunk));
    with_vpl([&]<int VPL>() {
      if (f16) launch(k_attention_part<true, VPL>, pgrid, threads, 0, s, a, part, chunk);
      else launch(k_attention_part<false, VPL>, pgrid, threads, 0, s, a, part, chunk);
    });
    if (round) launch(k_attention_merge<true>, grid, threads, 0, s, a, (const float*)part, (int)pgrid.z);
    else launch(k_attention_merge<false>, grid, threads, 0, s, a, (const float*)part, (int)pgrid.z);
    return;
  }
  with_vpl([&]<int VPL>() {
    if (f16 && round) launch(k_attention<true, VPL, true>, grid, threads, 0, s, a);
    else if (f16) launch(k_attention<true, VPL, false>, grid, threads, 0, s, a);
    else if (round) launch(k_attention<false, VPL, true>, grid, threads, 0, s, a);
    else launch(k_attention<false, VPL, false>, grid, threads, 0, s, a);
  });
}

}  // namespace hearth::gpu
