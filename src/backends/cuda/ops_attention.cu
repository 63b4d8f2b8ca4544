// Fused attention over the KV cache (f32 or f16 storage): one block per (query head, token); its
// warps stride over the cache cells with an online softmax, then merge their partial sums. Masked
// cells (-inf) are skipped entirely, so a fully masked row gives zeros as in the reference.
#include "backends/cuda/ops.h"
#include "backends/cuda/quant.cuh"

namespace hearth::gpu {

namespace {

constexpr int k_max_hd = 256;  // head sizes up to this (lanes hold k_max_hd / 32 values each)
constexpr int k_warps = 8;

struct attn_args {
  tdesc q, k, v, mask, dst;
  float scale, cap;
  int group;  // query heads per KV head
};

template <bool KF16, int VPL>  // VPL: value elements per lane (hd_v / 32 rounded up)
__global__ void __launch_bounds__(k_warps * warp) k_attention(attn_args a) {
  __shared__ float qs[k_max_hd];
  __shared__ float part_m[k_warps], part_l[k_warps];
  __shared__ float part_acc[k_warps][k_max_hd];
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
    return;
  }
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

void run_attention(const tensor& dst, gpuStream_t s) {
  attn_args a;
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
  if (hd_v <= 64) {
    if (f16) k_attention<true, 2><<<grid, threads, 0, s>>>(a);
    else k_attention<false, 2><<<grid, threads, 0, s>>>(a);
  } else if (hd_v <= 128) {
    if (f16) k_attention<true, 4><<<grid, threads, 0, s>>>(a);
    else k_attention<false, 4><<<grid, threads, 0, s>>>(a);
  } else {
    if (f16) k_attention<true, 8><<<grid, threads, 0, s>>>(a);
    else k_attention<false, 8><<<grid, threads, 0, s>>>(a);
  }
}

}  // namespace hearth::gpu
