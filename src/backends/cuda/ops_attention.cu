// Fused attention over the KV cache (f32 or f16 storage): one block per (query head, token); its
// warps stride over the cache cells with an online softmax, then merge their partial sums. Masked
// cells (-inf) are skipped entirely, so a fully masked row gives zeros as in the reference. For the
// product that reads its output (token generation) it may also round that output to the product's
// activation format, which saves the product's rounding kernel.
#include "backends/cuda/mmv.cuh"
#include "backends/cuda/ops.h"

namespace hearth::gpu {

namespace {

constexpr int k_max_hd = 256;  // head sizes up to this (lanes hold k_max_hd / 32 values each)
constexpr int k_warps = 8;

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
};

// VPL: value elements per lane (hd_v / 32 rounded up); Round: a.qk may be set (an instance without
// the rounding tail for the prompt's many blocks: the tail's registers cost occupancy there).
template <bool KF16, int VPL, bool Round>
__global__ void __launch_bounds__(k_warps * warp) k_attention(attn_args a) {
  pdl_enter();
  __shared__ float qs[k_max_hd];
  __shared__ float part_m[k_warps], part_l[k_warps];
  __shared__ float part_acc[k_warps][k_max_hd];
  __shared__ bool last;
  const int h = blockIdx.x, t = blockIdx.y;
  const int kh = h / a.group;
  const int lane = threadIdx.x % warp, w = threadIdx.x / warp;
  const int hd = (int)a.q.ne[0], hd_v = (int)a.v.ne[0];
  const int64_t n_kv = a.k.ne[2];
  const float* q = reinterpret_cast<const float*>(a.q.data + h * a.q.nb[1] + t * a.q.nb[2]);
  for (int i = threadIdx.x; i < hd; i += blockDim.x) qs[i] = q[i];
  __syncthreads();
  const float* mrow = reinterpret_cast<const float*>(a.mask.data + t * a.mask.nb[1]);
  float m = -INFINITY, l = 0.0f;
  float acc[VPL];
#pragma unroll
  for (int r = 0; r < VPL; ++r) acc[r] = 0.0f;
  for (int64_t j = w; j < n_kv; j += k_warps) {
    const float mv = mrow[j];
    if (mv == -INFINITY) continue;
    const uint8_t* krow = a.k.data + kh * a.k.nb[1] + j * a.k.nb[2];
    float s = 0.0f;
    for (int i = lane; i < hd; i += warp)
      s += qs[i] * (KF16 ? h2f(reinterpret_cast<const uint16_t*>(krow)[i]) : reinterpret_cast<const float*>(krow)[i]);
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
  if (lane == 0) {
    part_m[w] = m;
    part_l[w] = l;
  }
#pragma unroll
  for (int r = 0; r < VPL; ++r) {
    const int i = lane + r * warp;
    if (i < hd_v) part_acc[w][i] = acc[r];
  }
  __syncthreads();
  float M = -INFINITY;
  for (int i = 0; i < k_warps; ++i) M = fmaxf(M, part_m[i]);
  float* out = reinterpret_cast<float*>(a.dst.data + h * a.dst.nb[1] + t * a.dst.nb[2]);
  if (M == -INFINITY) {
    for (int i = threadIdx.x; i < hd_v; i += blockDim.x) out[i] = 0.0f;
  } else {
    float L = 0.0f;
    for (int i = 0; i < k_warps; ++i)
      if (part_m[i] != -INFINITY) L += part_l[i] * expf(part_m[i] - M);
    const float inv = 1.0f / L;
    for (int i = threadIdx.x; i < hd_v; i += blockDim.x) {
      float o = 0.0f;
      for (int ww = 0; ww < k_warps; ++ww)
        if (part_m[ww] != -INFINITY) o += part_acc[ww][i] * expf(part_m[ww] - M);
      out[i] = o * inv;
    }
  }
  if (!Round || a.qk == 0) return;
  // rounding for the next product (the token's row: heads side by side, contiguous)
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
    unsigned* c = a.counters + (int64_t)t * (gridDim.x / a.hpb) + h / a.hpb;
    last = atomicAdd(c, 1u) == (unsigned)a.hpb - 1;
    if (last) atomicExch(c, 0u);  // every head of the group has counted: ready for the next run
  }
  __syncthreads();
  if (!last || w != 0) return;
  __threadfence();
  const int64_t gb = h / a.hpb;
  const volatile float* vo = orow;  // written by other blocks: not through the L1 cache
  float v[8];
#pragma unroll
  for (int k = 0; k < 8; ++k) v[k] = vo[gb * 256 + lane * 8 + k];
  quant_q8_256(v, reinterpret_cast<a8_256*>(arow) + gb, lane);
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

void run_attention(const tensor& dst, gpuStream_t s, uint8_t* round_to, dtype act, unsigned* counters) {
  attn_args a{};
  if (round_to) {
    a.act = round_to;
    a.act_rb = (int64_t)act_format_row_bytes(act, dst.ne[0] * dst.ne[1]);
    a.qk = (int)block_size(act);
    a.hpb = dst.ne[0] % a.qk == 0 ? 1 : a.qk / (int)dst.ne[0];
    a.with_sum = act == dtype::q8_1;
    a.counters = counters;
  }
  a.q = desc(*dst.src[0]);
  a.k = desc(*dst.src[1]);
  a.v = desc(*dst.src[2]);
  a.mask = desc(*dst.src[3]);
  a.dst = desc(dst);
  a.scale = dst.p.f(0);
  a.cap = dst.p.f(1);
  a.group = (int)(dst.src[0]->ne[1] / dst.src[1]->ne[1]);
  const dim3 grid((unsigned)dst.src[0]->ne[1], (unsigned)dst.src[0]->ne[2]);
  const bool f16 = dst.src[1]->type == dtype::f16;
  const int64_t hd_v = dst.src[2]->ne[0];
  const int threads = k_warps * warp;
  auto go = [&]<int VPL>() {
    if (f16 && round_to) launch(k_attention<true, VPL, true>, grid, threads, 0, s, a);
    else if (f16) launch(k_attention<true, VPL, false>, grid, threads, 0, s, a);
    else if (round_to) launch(k_attention<false, VPL, true>, grid, threads, 0, s, a);
    else launch(k_attention<false, VPL, false>, grid, threads, 0, s, a);
  };
  if (hd_v <= 64) go.template operator()<2>();
  else if (hd_v <= 128) go.template operator()<4>();
  else go.template operator()<8>();
}

}  // namespace hearth::gpu
