// Element-wise, normalisation, rotary, data-movement and mixture-of-experts routing kernels. Each
// follows the CPU reference (src/backends/cpu/ops) op for op; the launchers at the bottom read
// shapes and strides from the graph tensors.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "backends/cuda/ops.h"
#include "backends/cuda/mmv.cuh"
#include "backends/cuda/rope.cuh"

namespace hearth::gpu {

namespace {

tdesc desc(const tensor& t) {
  tdesc d;
  d.data = static_cast<uint8_t*>(t.data);
  for (int i = 0; i < 4; ++i) {
    d.ne[i] = t.ne[i];
    d.nb[i] = (int64_t)t.nb[i];
  }
  return d;
}

unsigned blocks_for(int64_t n, int threads) { return (unsigned)((n + threads - 1) / threads); }

__device__ __forceinline__ float* f32_at(const tdesc& t, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
  return reinterpret_cast<float*>(t.data + i0 * t.nb[0] + i1 * t.nb[1] + i2 * t.nb[2] + i3 * t.nb[3]);
}

// Element index -> (i0, i1, i2, i3) in row-major order of shape ne.
__device__ __forceinline__ void unravel(int64_t i, const int64_t* ne, int64_t& i0, int64_t& i1, int64_t& i2, int64_t& i3) {
  i0 = i % ne[0];
  i /= ne[0];
  i1 = i % ne[1];
  i /= ne[1];
  i2 = i % ne[2];
  i3 = i / ne[2];
}

constexpr float k_sqrt_2_over_pi = 0.79788456080286535587989211986876f;
constexpr float k_gelu_coef_a = 0.044715f;

__device__ __forceinline__ float silu_f(float x) { return x / (1.0f + expf(-x)); }
// As the reference: saturate outside [-10, 10], otherwise the f16-rounded gelu of the f16-rounded input.
__device__ __forceinline__ float gelu_f(float x) {
  if (x <= -10.0f) return 0.0f;
  if (x >= 10.0f) return x;
  const float xh = h2f(f2h(x));
  const float g = 0.5f * xh * (1.0f + tanhf(k_sqrt_2_over_pi * xh * (1.0f + k_gelu_coef_a * xh * xh)));
  return h2f(f2h(g));
}

// ---- data movement --------------------------------------------------------------------------------

template <dtype T>
__global__ void k_get_rows(tdesc dst, tdesc table, tdesc ids) {
  pdl_enter();
  const int64_t i = blockIdx.y;
  const int32_t id = *reinterpret_cast<const int32_t*>(ids.data + i * ids.nb[0]);
  float* out = reinterpret_cast<float*>(dst.data + i * dst.nb[1]);
  const bool ok = id >= 0 && id < table.ne[1];
  const uint8_t* row = table.data + (int64_t)id * table.nb[1];
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < dst.ne[0]; e += (int64_t)gridDim.x * blockDim.x)
    out[e] = ok ? row_elem<T>(row, e) : 0.0f;
}

// blockIdx.z selects one of two independent set_rows (the keys and the values of a layer).
__global__ void k_set_rows(tdesc store, bool f16, tdesc vals, tdesc ids, tdesc store2, bool f16_2, tdesc vals2, tdesc ids2) {
  pdl_enter();
  if (blockIdx.z == 1) {
    store = store2;
    f16 = f16_2;
    vals = vals2;
    ids = ids2;
  }
  const int64_t i = blockIdx.y;
  if (i >= vals.ne[1]) return;
  const int32_t id = *reinterpret_cast<const int32_t*>(ids.data + i * ids.nb[0]);
  if (id < 0 || id >= store.ne[1]) return;
  const float* v = reinterpret_cast<const float*>(vals.data + i * vals.nb[1]);
  uint8_t* row = store.data + (int64_t)id * store.nb[1];
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < vals.ne[0]; e += (int64_t)gridDim.x * blockDim.x) store_elem(row, f16, e, v[e]);
}

__global__ void k_cpy(tdesc src, tdesc to, bool f16, int64_t n) {
  pdl_enter();
  const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (i >= n) return;
  int64_t s0, s1, s2, s3, d0, d1, d2, d3;
  unravel(i, src.ne, s0, s1, s2, s3);
  unravel(i, to.ne, d0, d1, d2, d3);
  const float v = *f32_at(src, s0, s1, s2, s3);
  uint8_t* p = to.data + d0 * to.nb[0] + d1 * to.nb[1] + d2 * to.nb[2] + d3 * to.nb[3];
  if (f16) *reinterpret_cast<uint16_t*>(p) = f2h(v);
  else *reinterpret_cast<float*>(p) = v;
}

// cont, and the element-wise unary ops, over every element of dst (src strided, dst contiguous).
enum class unary_kind { copy, scale, silu, gelu, softcap };
template <unary_kind K>
__global__ void k_unary(tdesc src, tdesc dst, float p0, float p1, int64_t n) {
  pdl_enter();
  const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (i >= n) return;
  int64_t i0, i1, i2, i3;
  unravel(i, dst.ne, i0, i1, i2, i3);
  float v = *f32_at(src, i0, i1, i2, i3);
  if constexpr (K == unary_kind::scale) v = v * p0 + p1;
  if constexpr (K == unary_kind::silu) v = silu_f(v);
  if constexpr (K == unary_kind::gelu) v = gelu_f(v);
  if constexpr (K == unary_kind::softcap) v = p0 * tanhf(v / p0);
  *f32_at(dst, i0, i1, i2, i3) = v;
}

template <bool Add>
__global__ void k_binary(tdesc a, tdesc b, tdesc dst, int64_t n) {
  pdl_enter();
  const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (i >= n) return;
  int64_t i0, i1, i2, i3;
  unravel(i, dst.ne, i0, i1, i2, i3);
  const float x = *f32_at(a, i0, i1, i2, i3);
  const float y = *f32_at(b, i0 % b.ne[0], i1 % b.ne[1], i2 % b.ne[2], i3 % b.ne[3]);
  *f32_at(dst, i0, i1, i2, i3) = Add ? x + y : x * y;
}

template <bool Gelu>
__global__ void k_glu(tdesc g, tdesc u, tdesc dst, int64_t n) {
  pdl_enter();
  const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (i >= n) return;
  int64_t i0, i1, i2, i3;
  unravel(i, dst.ne, i0, i1, i2, i3);
  const float gv = *f32_at(g, i0, i1, i2, i3);
  const float uv = *f32_at(u, i0, i1, i2, i3);
  *f32_at(dst, i0, i1, i2, i3) = (Gelu ? gelu_f(gv) : silu_f(gv)) * uv;
}

// glu whose output rows are also rounded for the product that reads them: one warp per activation
// block (QK values), the values computed as k_glu does.
template <bool Gelu, int QK>
__global__ void k_glu_round(tdesc g, tdesc u, tdesc dst, uint8_t* act, int64_t act_rb, bool with_sum) {
  pdl_wait();
  const int lane = threadIdx.x % warp;
  const int64_t ib = blockIdx.x * (int64_t)(blockDim.x / warp) + threadIdx.x / warp;
  const int64_t r = blockIdx.y;
  if (ib >= dst.ne[0] / QK) return;
  const int64_t i1 = r % dst.ne[1], i2 = (r / dst.ne[1]) % dst.ne[2], i3 = r / (dst.ne[1] * dst.ne[2]);
  const float* gr = f32_at(g, 0, i1, i2, i3);
  const float* ur = f32_at(u, 0, i1, i2, i3);
  float* dr = f32_at(dst, 0, i1, i2, i3);
  constexpr int per = QK / warp;
  // every load before the first store (which may alias them): one memory round trip; then the next
  // kernel may be placed (its early weight loads would slow these)
  float gv[per], v[per];
HEARTH_UNROLL
  for (int k = 0; k < per; ++k) {
    const int64_t i = ib * QK + lane * per + k;
    gv[k] = gr[i];
    v[k] = ur[i];
  }
  pdl_launch_dependents();
HEARTH_UNROLL
  for (int k = 0; k < per; ++k) {
    v[k] *= Gelu ? gelu_f(gv[k]) : silu_f(gv[k]);
    dr[ib * QK + lane * per + k] = v[k];
  }
  if constexpr (QK == 256) quant_q8_256(v, reinterpret_cast<a8_256*>(act + r * act_rb) + ib, lane);
  else quant_q8_32(v[0], reinterpret_cast<a8_32*>(act + r * act_rb) + ib, lane, with_sum);
}

// ---- normalisation (one block per row) ------------------------------------------------------------

// A block's row statistics: the mean (0 for rms_norm) and 1 / sqrt(variance + eps) of n values.
// each(f) calls f on every value this thread holds, always in the same order.
template <bool Rms, typename Each>
__device__ __forceinline__ void row_stats(const Each& each, int64_t n, float eps, float* red, float& mean, float& scale) {
  mean = 0.0f;
  if (!Rms) {
    float s = 0.0f;
    each([&](float v) { s += v; });
    mean = block_sum(s, red) / (float)n;
  }
  float s2 = 0.0f;
  each([&](float v) {
    const float d = v - mean;
    s2 += d * d;
  });
  scale = 1.0f / sqrtf(block_sum(s2, red) / (float)n + eps);
}

template <bool Rms>
__global__ void k_norm(tdesc a, tdesc dst, float eps) {
  pdl_enter();
  __shared__ float red[32];
  const int64_t r = blockIdx.x;
  const int64_t i1 = r % dst.ne[1], i2 = (r / dst.ne[1]) % dst.ne[2], i3 = r / (dst.ne[1] * dst.ne[2]);
  const float* x = f32_at(a, 0, i1, i2, i3);
  float* y = f32_at(dst, 0, i1, i2, i3);
  const int64_t n = dst.ne[0];
  float mean, scale;
  row_stats<Rms>([&](auto f) { for (int64_t i = threadIdx.x; i < n; i += blockDim.x) f(x[i]); }, n, eps, red, mean, scale);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) y[i] = (x[i] - mean) * scale;
}

// add (optional) -> rms_norm / norm -> mul by a weight vector, in one pass over each row; every
// intermediate the graph names is still written (later nodes may read them).
// QK: 0, or the block size of the activation rounding also written to act (row r at r * act_rb).
template <bool Rms, bool HasAdd, int QK = 0>
__global__ void k_add_norm_mul(tdesc a, tdesc b, tdesc sum, tdesc normed, tdesc w, tdesc out, float eps, uint8_t* act = nullptr,
                               int64_t act_rb = 0, bool with_sum = false) {
  pdl_enter();
  __shared__ float red[32];
  const int64_t r = blockIdx.x;
  const int64_t i1 = r % out.ne[1], i2 = (r / out.ne[1]) % out.ne[2], i3 = r / (out.ne[1] * out.ne[2]);
  const int64_t n = out.ne[0];
  const float* x = f32_at(a, 0, i1, i2, i3);
  float* xs = HasAdd ? f32_at(sum, 0, i1, i2, i3) : nullptr;
  if (HasAdd) {
    const float* y = f32_at(b, 0, i1, i2, i3);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) xs[i] = x[i] + y[i];
    x = xs;  // each thread reads back only what it wrote
  }
  float mean, scale;
  row_stats<Rms>([&](auto f) { for (int64_t i = threadIdx.x; i < n; i += blockDim.x) f(x[i]); }, n, eps, red, mean, scale);
  float* yn = f32_at(normed, 0, i1, i2, i3);
  float* yo = f32_at(out, 0, i1, i2, i3);
  const float* wv = reinterpret_cast<const float*>(w.data);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float v = (x[i] - mean) * scale;
    yn[i] = v;
    yo[i] = v * wv[i];
  }
  if constexpr (QK != 0) {
    __syncthreads();
    round_row<QK>(yo, n, act + r * act_rb, with_sum, threadIdx.x / warp, blockDim.x / warp, threadIdx.x % warp);
  }
}

// The same with each thread's values (n / blockDim.x of them, at most k_norm_regs) kept in
// registers from the first load to the last store, and the rounding reading the output row from
// shared memory (dynamic, n floats, when QK != 0): a row is one block, so every pass over global
// memory is latency on the critical path. Same arithmetic, same order as k_add_norm_mul.
constexpr int k_norm_regs = 8;
template <bool Rms, bool HasAdd, int QK = 0>
__global__ void k_add_norm_mul_reg(tdesc a, tdesc b, tdesc sum, tdesc normed, tdesc w, tdesc out, float eps, uint8_t* act = nullptr,
                                   int64_t act_rb = 0, bool with_sum = false, bool w_const = false) {
  extern __shared__ float row_out[];
  __shared__ float red[32];
  const int64_t r = blockIdx.x;
  const int64_t i1 = r % out.ne[1], i2 = (r / out.ne[1]) % out.ne[2], i3 = r / (out.ne[1] * out.ne[2]);
  const int n = (int)out.ne[0];
  const int per = n / (int)blockDim.x;
  // w_const: the weights are no kernel's result, so they load while the previous kernel finishes
  if (!w_const) pdl_wait();
  const float* wv = reinterpret_cast<const float*>(w.data);
  float wr[k_norm_regs];
HEARTH_UNROLL
  for (int k = 0; k < k_norm_regs; ++k)
    if (k < per) wr[k] = wv[k * (int)blockDim.x + (int)threadIdx.x];
  if (w_const) pdl_wait();
  const float* x = f32_at(a, 0, i1, i2, i3);
  float v[k_norm_regs];
  if (HasAdd) {
    const float* y = f32_at(b, 0, i1, i2, i3);
    float* xs = f32_at(sum, 0, i1, i2, i3);
    // every load before the first store (which may alias them): one memory round trip
HEARTH_UNROLL
    for (int k = 0; k < k_norm_regs; ++k)
      if (k < per) {
        const int i = k * (int)blockDim.x + (int)threadIdx.x;
        v[k] = x[i] + y[i];
      }
    pdl_launch_dependents();  // the row is loaded: the next kernel may be placed
HEARTH_UNROLL
    for (int k = 0; k < k_norm_regs; ++k)
      if (k < per) xs[k * (int)blockDim.x + (int)threadIdx.x] = v[k];
  } else {
HEARTH_UNROLL
    for (int k = 0; k < k_norm_regs; ++k)
      if (k < per) v[k] = x[k * (int)blockDim.x + (int)threadIdx.x];
    pdl_launch_dependents();
  }
  float mean, scale;
  row_stats<Rms>(
      [&](auto f) {
HEARTH_UNROLL
        for (int k = 0; k < k_norm_regs; ++k)
          if (k < per) f(v[k]);
      },
      n, eps, red, mean, scale);
  float* yn = f32_at(normed, 0, i1, i2, i3);
  float* yo = f32_at(out, 0, i1, i2, i3);
HEARTH_UNROLL
  for (int k = 0; k < k_norm_regs; ++k) {
    if (k < per) {
      const int i = k * (int)blockDim.x + (int)threadIdx.x;
      const float o = (v[k] - mean) * scale;
      const float m = o * wr[k];
      yn[i] = o;
      yo[i] = m;
      if constexpr (QK != 0) row_out[i] = m;
    }
  }
  if constexpr (QK != 0) {
    __syncthreads();
    round_row<QK>(row_out, n, act + r * act_rb, with_sum, threadIdx.x / warp, blockDim.x / warp, threadIdx.x % warp);
  }
}

__global__ void k_softmax(tdesc a, tdesc mask, bool has_mask, tdesc dst, float scale) {
  pdl_enter();
  __shared__ float red[32];
  const int64_t r = blockIdx.x;
  const int64_t i1 = r % dst.ne[1], i2 = (r / dst.ne[1]) % dst.ne[2], i3 = r / (dst.ne[1] * dst.ne[2]);
  const float* x = f32_at(a, 0, i1, i2, i3);
  const float* m = has_mask ? reinterpret_cast<const float*>(mask.data + i1 * mask.nb[1]) : nullptr;
  float* y = f32_at(dst, 0, i1, i2, i3);
  const int64_t n = dst.ne[0];
  float mx = -INFINITY;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float v = x[i] * scale + (m ? m[i] : 0.0f);
    y[i] = v;
    mx = fmaxf(mx, v);
  }
  mx = block_max(mx, red);
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float v = y[i] == -INFINITY ? 0.0f : expf(y[i] - mx);
    y[i] = v;
    sum += v;
  }
  sum = block_sum(sum, red);
  const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) y[i] *= inv;
}

// ---- rope: one thread per pair of elements of one head of one token ------------------------------

// The KV cache stores that follow the ropes of a layer (k_rope<true>): the keys' rope result and
// the values, row ids[t] of each cache (f32 or f16).
struct rope_store_args {
  tdesc kc, vc, v;
  const uint8_t* ids;
  int64_t ids_nb, n2;  // n2: heads of x2 (the keys)
  bool kf16, vf16;
};


// Heads blockIdx.x < n1 of x, the rest of x2 (two ropes of the same positions and parameters).
// Store: x2's result also goes into the key cache, and blocks past the heads copy the values into
// the value cache (the set_rows of both, fused).
template <bool Store = false>
__global__ void k_rope(tdesc x, tdesc dst, tdesc x2, tdesc dst2, int64_t n1, const int32_t* pos, const float* factors, rope_args ra,
                       rope_store_args st = {}) {
  pdl_enter();
  int64_t h = blockIdx.x;
  const int64_t t = blockIdx.y;
  uint8_t* krow = nullptr;  // Store: the key cache row of token t (nullptr: not a key head, or an id out of range)
  if constexpr (Store) {
    const int32_t id = *reinterpret_cast<const int32_t*>(st.ids + t * st.ids_nb);
    if (h >= n1 + st.n2) {  // value copy
      if (id < 0 || id >= st.vc.ne[1]) return;
      const float* vr = reinterpret_cast<const float*>(st.v.data + t * st.v.nb[1]);
      uint8_t* row = st.vc.data + (int64_t)id * st.vc.nb[1];
      const int64_t nvb = gridDim.x - n1 - st.n2;
      for (int64_t e = (h - n1 - st.n2) * blockDim.x + threadIdx.x; e < st.v.ne[0]; e += nvb * blockDim.x) store_elem(row, st.vf16, e, vr[e]);
      return;
    }
    if (h >= n1 && id >= 0 && id < st.kc.ne[1]) krow = st.kc.data + (int64_t)id * st.kc.nb[1];
  }
  if (h >= n1) {
    h -= n1;
    x = x2;
    dst = dst2;
  }
  const int i0 = 2 * threadIdx.x;
  if (i0 >= x.ne[0]) return;
  const float* in = f32_at(x, 0, h, t, 0);
  float* out = f32_at(dst, 0, h, t, 0);
  const int64_t kbase = h * x.ne[0];  // the head's first element in the cache row
  auto put = [&](int i, float v) {
    out[i] = v;
    if constexpr (Store) {
      if (krow) store_elem(krow, st.kf16, kbase + i, v);
    }
  };
  if (i0 >= ra.n_dims) {
    put(i0, in[i0]);
    if (i0 + 1 < x.ne[0]) put(i0 + 1, in[i0 + 1]);
    return;
  }
  float c, s;
  rope_cos_sin(i0, pos[t], factors, ra, c, s);
  if (ra.neox) {
    const int half = ra.n_dims / 2, i = i0 / 2;
    const float x0 = in[i], x1 = in[i + half];
    put(i, x0 * c - x1 * s);
    put(i + half, x0 * s + x1 * c);
  } else {
    const float x0 = in[i0], x1 = in[i0 + 1];
    put(i0, x0 * c - x1 * s);
    put(i0 + 1, x0 * s + x1 * c);
  }
}

// ---- mixture-of-experts routing -------------------------------------------------------------------

__global__ void k_top_k(tdesc a, tdesc dst, int k) {
  pdl_enter();
  const int64_t r = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (r >= a.ne[1]) return;
  const float* x = reinterpret_cast<const float*>(a.data + r * a.nb[1]);
  int32_t* out = reinterpret_cast<int32_t*>(dst.data + r * dst.nb[1]);
  const int64_t n = a.ne[0];
  // Selection: the j-th pick is the best element ranked strictly after pick j-1 (value, then index).
  float prev_v = INFINITY;
  int64_t prev_i = -1;
  for (int j = 0; j < k; ++j) {
    int64_t best = -1;
    for (int64_t i = 0; i < n; ++i) {
      const float v = x[i];
      const bool after_prev = v < prev_v || (v == prev_v && i > prev_i);
      if (!after_prev) continue;
      if (best < 0 || v > x[best]) best = i;
    }
    out[j] = (int32_t)best;
    prev_v = x[best];
    prev_i = best;
  }
}

__global__ void k_gather(tdesc a, tdesc ids, tdesc dst, bool normalize) {
  pdl_enter();
  const int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (t >= dst.ne[1]) return;
  const float* x = reinterpret_cast<const float*>(a.data + t * a.nb[1]);
  const int32_t* id = reinterpret_cast<const int32_t*>(ids.data + t * ids.nb[1]);
  float* out = reinterpret_cast<float*>(dst.data + t * dst.nb[1]);
  float sum = 0.0f;
  for (int64_t j = 0; j < dst.ne[0]; ++j) {
    out[j] = (id[j] >= 0 && id[j] < a.ne[0]) ? x[id[j]] : 0.0f;
    sum += out[j];
  }
  if (normalize && sum != 0.0f)
    for (int64_t j = 0; j < dst.ne[0]; ++j) out[j] /= sum;
}

__global__ void k_moe_sum(tdesc x, tdesc w, tdesc dst) {
  pdl_enter();
  const int64_t t = blockIdx.y;
  const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (i >= dst.ne[0]) return;
  const float* wt = reinterpret_cast<const float*>(w.data + t * w.nb[1]);
  float acc = 0.0f;
  for (int64_t j = 0; j < x.ne[1]; ++j) {
    const float v = *f32_at(x, i, j, t, 0) * wt[j];
    acc = j == 0 ? v : acc + v;
  }
  *f32_at(dst, i, t, 0, 0) = acc;
}

float corr_dim(int n_dims, int n_ctx_orig, float n_rot, float base) {
  return n_dims * std::log(n_ctx_orig / (n_rot * 2.0f * (float)M_PI)) / (2.0f * std::log(base));
}

}  // namespace

namespace {
struct type_noop {
  template <dtype T> void operator()() {}
};
}  // namespace

bool type_readable(dtype t) {
  return dispatch_type(t, type_noop{});
}

void run_get_rows(const tensor& dst, gpuStream_t s) {
  const tdesc d = desc(dst), table = desc(*dst.src[0]), ids = desc(*dst.src[1]);
  const dim3 grid(blocks_for(dst.ne[0], 256), (unsigned)dst.ne[1]);
  dispatch_type(dst.src[0]->type, [&]<dtype T>() { launch(k_get_rows<T>, grid, 256, 0, s, d, table, ids); });
}

void run_set_rows(const tensor& dst, gpuStream_t s) {
  const tensor& store = *dst.src[0];
  const tensor& vals = *dst.src[1];
  const dim3 grid(blocks_for(vals.ne[0], 256), (unsigned)vals.ne[1]);
  const tdesc st = desc(store), v = desc(vals), ids = desc(*dst.src[2]);
  launch(k_set_rows, grid, 256, 0, s, st, store.type == dtype::f16, v, ids, st, false, v, ids);
}

void run_cpy(const tensor& dst, gpuStream_t s) {
  const tensor& src = *dst.src[0];
  const tensor& to = *dst.src[1];
  const int64_t n = src.nelements();
  launch(k_cpy, blocks_for(n, 256), 256, 0, s, desc(src), desc(to), to.type == dtype::f16, n);
}

void run_cont(const tensor& dst, gpuStream_t s) {
  const int64_t n = dst.nelements();
  launch(k_unary<unary_kind::copy>, blocks_for(n, 256), 256, 0, s, desc(*dst.src[0]), desc(dst), 0.0f, 0.0f, n);
}

void run_unary(const tensor& dst, gpuStream_t s) {
  const int64_t n = dst.nelements();
  const tdesc a = desc(*dst.src[0]), d = desc(dst);
  const float p0 = dst.p.f(0), p1 = dst.p.f(1);
  const unsigned g = blocks_for(n, 256);
  switch (dst.op) {
    case op::scale: launch(k_unary<unary_kind::scale>, g, 256, 0, s, a, d, p0, p1, n); break;
    case op::silu: launch(k_unary<unary_kind::silu>, g, 256, 0, s, a, d, p0, p1, n); break;
    case op::gelu: launch(k_unary<unary_kind::gelu>, g, 256, 0, s, a, d, p0, p1, n); break;
    case op::softcap: launch(k_unary<unary_kind::softcap>, g, 256, 0, s, a, d, p0, p1, n); break;
    default: break;
  }
}

void run_binary(const tensor& dst, gpuStream_t s) {
  const int64_t n = dst.nelements();
  const unsigned g = blocks_for(n, 256);
  if (dst.op == op::add) launch(k_binary<true>, g, 256, 0, s, desc(*dst.src[0]), desc(*dst.src[1]), desc(dst), n);
  else launch(k_binary<false>, g, 256, 0, s, desc(*dst.src[0]), desc(*dst.src[1]), desc(dst), n);
}

void run_glu(const tensor& dst, gpuStream_t s) {
  const int64_t n = dst.nelements();
  const unsigned g = blocks_for(n, 256);
  if (dst.p.i(0) == 1) launch(k_glu<true>, g, 256, 0, s, desc(*dst.src[0]), desc(*dst.src[1]), desc(dst), n);
  else launch(k_glu<false>, g, 256, 0, s, desc(*dst.src[0]), desc(*dst.src[1]), desc(dst), n);
}

void run_norm(const tensor& dst, gpuStream_t s) {
  const unsigned rows = (unsigned)dst.nrows();
  const int threads = dst.ne[0] >= 1024 ? 1024 : dst.ne[0] >= 256 ? 256 : 64;
  if (dst.op == op::rms_norm) launch(k_norm<true>, rows, threads, 0, s, desc(*dst.src[0]), desc(dst), dst.p.f(0));
  else launch(k_norm<false>, rows, threads, 0, s, desc(*dst.src[0]), desc(dst), dst.p.f(0));
}

bool can_fuse_norm(const tensor* add, const tensor& norm, const tensor& mul) {
  auto rows_ok = [](const tensor* t) { return t->type == dtype::f32 && t->nb[0] == 4; };
  const tensor* w = mul.src[1];
  if (mul.op != op::mul || mul.src[0] != &norm || !rows_ok(w) || w->ne[0] != norm.ne[0] || w->ne[1] != 1 || w->ne[2] != 1 ||
      w->ne[3] != 1 || !rows_ok(&mul) || !same_shape(mul, norm) || !rows_ok(norm.src[0]))
    return false;
  if (!add) return true;
  return add->op == op::add && norm.src[0] == add && rows_ok(add->src[0]) && rows_ok(add->src[1]) && same_shape(*add->src[0], *add) &&
         same_shape(*add->src[1], *add);
}

bool can_round_into(const tensor& t, dtype act) {
  if (act != dtype::q8_0 && act != dtype::q8_1 && act != dtype::q8_k) return false;
  return t.type == dtype::f32 && t.is_contiguous() && t.ne[0] % block_size(act) == 0 && t.nrows() < 65535;
}

bool can_fuse_glu_round(const tensor& n) {
  auto rows_ok = [](const tensor* t) { return t->type == dtype::f32 && t->nb[0] == 4; };
  return n.op == op::glu && rows_ok(n.src[0]) && rows_ok(n.src[1]) && same_shape(*n.src[0], n) && same_shape(*n.src[1], n) &&
         n.is_contiguous();
}

void run_glu_round(const tensor& n, gpuStream_t s, uint8_t* scratch, dtype act) {
  const tdesc g = desc(*n.src[0]), u = desc(*n.src[1]), d = desc(n);
  const int64_t rb = (int64_t)act_format_row_bytes(act, n.ne[0]);
  const bool gelu = n.p.i(0) == 1, ws = act == dtype::q8_1;
  if (act == dtype::q8_k) {
    const dim3 grid((unsigned)((n.ne[0] / 256 + 3) / 4), (unsigned)n.nrows());
    if (gelu) launch(k_glu_round<true, 256>, grid, 128, 0, s, g, u, d, scratch, rb, ws);
    else launch(k_glu_round<false, 256>, grid, 128, 0, s, g, u, d, scratch, rb, ws);
  } else {
    const dim3 grid((unsigned)((n.ne[0] / 32 + 7) / 8), (unsigned)n.nrows());
    if (gelu) launch(k_glu_round<true, 32>, grid, 256, 0, s, g, u, d, scratch, rb, ws);
    else launch(k_glu_round<false, 32>, grid, 256, 0, s, g, u, d, scratch, rb, ws);
  }
}

// HEARTH_GPU_NORM_REG=0: the fused norms without the register-resident kernel (comparisons).
bool norm_reg_enabled() {
  static const bool on = !env_is("HEARTH_GPU_NORM_REG", "0");
  return on;
}

void run_norm_fused(const tensor* add, const tensor& norm, const tensor& mul, gpuStream_t s, uint8_t* round_to, dtype act, bool w_const) {
  const unsigned rows = (unsigned)norm.nrows();
  const int threads = norm.ne[0] >= 1024 ? 1024 : norm.ne[0] >= 256 ? 256 : 64;
  const float eps = norm.p.f(0);
  const tdesc w = desc(*mul.src[1]), nd = desc(norm), md = desc(mul);
  const tdesc a = desc(add ? *add->src[0] : *norm.src[0]);
  const tdesc b = add ? desc(*add->src[1]) : a, sd = add ? desc(*add) : a;
  const int64_t rb = round_to ? (int64_t)act_format_row_bytes(act, mul.ne[0]) : 0;
  const bool ws = round_to && act == dtype::q8_1;
  const int qk = !round_to ? 0 : act == dtype::q8_k ? 256 : 32;
  // The register-resident kernel where each thread's share of the row fits in k_norm_regs values
  // (and, when it rounds, the row in shared memory).
  const int64_t n = norm.ne[0];
  const bool reg = norm_reg_enabled() && n % threads == 0 && n / threads <= k_norm_regs && n * 4 <= 32768;
  const size_t sh = reg && round_to ? (size_t)n * 4 : 0;
  // one kernel per (register-resident, norm kind, add, rounding block size)
  auto go = [&]<bool R, bool H>() {
    auto run = [&](auto kernel, auto... extra) { launch(kernel, rows, threads, sh, s, a, b, sd, nd, w, md, eps, round_to, rb, ws, extra...); };
    if (reg) {
      if (qk == 0) run(k_add_norm_mul_reg<R, H>, w_const);
      else if (qk == 256) run(k_add_norm_mul_reg<R, H, 256>, w_const);
      else run(k_add_norm_mul_reg<R, H, 32>, w_const);
    } else {
      if (qk == 0) run(k_add_norm_mul<R, H>);
      else if (qk == 256) run(k_add_norm_mul<R, H, 256>);
      else run(k_add_norm_mul<R, H, 32>);
    }
  };
  const bool rms = norm.op == op::rms_norm;
  if (rms && add) go.template operator()<true, true>();
  else if (rms) go.template operator()<true, false>();
  else if (add) go.template operator()<false, true>();
  else go.template operator()<false, false>();
}

void run_softmax(const tensor& dst, gpuStream_t s) {
  const tensor* mask = dst.src[1];
  const tdesc m = mask ? desc(*mask) : tdesc{};
  const int threads = dst.ne[0] >= 1024 ? 1024 : dst.ne[0] >= 256 ? 256 : 64;
  launch(k_softmax, (unsigned)dst.nrows(), threads, 0, s, desc(*dst.src[0]), m, mask != nullptr, desc(dst), dst.p.f(0));
}

rope_args rope_setup(const tensor& dst) {
  rope_params rp;
  std::memcpy(&rp, dst.p.raw, sizeof rp);
  rope_args ra;
  ra.n_dims = rp.n_rot;
  ra.neox = rp.mode == rope_mode::neox;
  ra.theta_scale = std::pow(rp.freq_base, -2.0f / (float)rp.n_rot);
  ra.freq_scale = rp.freq_scale;
  ra.ext_factor = rp.ext_factor;
  ra.attn_factor = rp.attn_factor;
  ra.corr0 = ra.corr1 = 0.0f;
  if (rp.ext_factor != 0.0f) {
    ra.corr0 = std::max(0.0f, std::floor(corr_dim(rp.n_rot, rp.n_ctx_orig, rp.beta_fast, rp.freq_base)));
    ra.corr1 = std::min((float)(rp.n_rot - 1), std::ceil(corr_dim(rp.n_rot, rp.n_ctx_orig, rp.beta_slow, rp.freq_base)));
  }
  return ra;
}

void run_rope(const tensor& dst, gpuStream_t s) {
  const tensor& x = *dst.src[0];
  const rope_args ra = rope_setup(dst);
  const float* factors = dst.src[2] ? static_cast<const float*>(dst.src[2]->data) : nullptr;
  const dim3 grid((unsigned)x.ne[1], (unsigned)x.ne[2]);
  const unsigned threads = (unsigned)((x.ne[0] + 1) / 2);
  const tdesc xd = desc(x), dd = desc(dst);
  launch(k_rope<false>, grid, threads, 0, s, xd, dd, xd, dd, x.ne[1], static_cast<const int32_t*>(dst.src[1]->data), factors, ra, rope_store_args{});
}

bool can_pair_rope(const tensor& a, const tensor& b) {
  return a.op == op::rope && b.op == op::rope && a.src[1] == b.src[1] && a.src[2] == b.src[2] &&
         std::memcmp(a.p.raw, b.p.raw, sizeof a.p.raw) == 0 && a.src[0]->ne[0] == b.src[0]->ne[0] &&
         a.src[0]->ne[2] == b.src[0]->ne[2] && a.src[0]->ne[3] == 1 && b.src[0]->ne[3] == 1 &&
         a.src[0]->ne[1] + b.src[0]->ne[1] < 65535;
}

void run_rope_pair(const tensor& a, const tensor& b, gpuStream_t s) {
  const tensor& x = *a.src[0];
  const rope_args ra = rope_setup(a);
  const float* factors = a.src[2] ? static_cast<const float*>(a.src[2]->data) : nullptr;
  const dim3 grid((unsigned)(x.ne[1] + b.src[0]->ne[1]), (unsigned)x.ne[2]);
  const unsigned threads = (unsigned)((x.ne[0] + 1) / 2);
  launch(k_rope<false>, grid, threads, 0, s, desc(x), desc(a), desc(*b.src[0]), desc(b), x.ne[1], static_cast<const int32_t*>(a.src[1]->data),
                                  factors, ra, rope_store_args{});
}

bool can_rope_store(const tensor* rq, const tensor& rk, const tensor& sk, const tensor& sv) {
  if (rq ? !can_pair_rope(*rq, rk) : (rk.op != op::rope || rk.src[0]->ne[3] != 1)) return false;
  if (!can_pair_set_rows(sk, sv)) return false;
  const tensor& kv = *sk.src[1];
  // the keys' set_rows stores rk's result, one row of all its heads per token
  if (kv.data != rk.data || !rk.is_contiguous() || rk.type != dtype::f32 || !kv.is_contiguous() || kv.ne[0] != rk.ne[0] * rk.ne[1] ||
      kv.ne[1] != rk.ne[2] || kv.ne[2] != 1 || kv.ne[3] != 1)
    return false;
  const tensor& vv = *sv.src[1];
  return sk.src[2]->ne[0] == rk.ne[2] && vv.ne[1] == rk.ne[2] && vv.ne[2] == 1 && vv.ne[3] == 1 && sk.src[0]->ne[2] == 1 &&
         sk.src[0]->ne[3] == 1 && sv.src[0]->ne[2] == 1 && sv.src[0]->ne[3] == 1;
}

void run_rope_store(const tensor* rq, const tensor& rk, const tensor& sk, const tensor& sv, gpuStream_t s) {
  const tensor& x = *rk.src[0];
  const int64_t n1 = rq ? rq->src[0]->ne[1] : 0;  // query heads (none: the keys' rope alone)
  const rope_args ra = rope_setup(rk);
  const float* factors = rk.src[2] ? static_cast<const float*>(rk.src[2]->data) : nullptr;
  const unsigned threads = (unsigned)((x.ne[0] + 1) / 2);
  rope_store_args st;
  st.kc = desc(*sk.src[0]);
  st.vc = desc(*sv.src[0]);
  st.v = desc(*sv.src[1]);
  st.ids = static_cast<const uint8_t*>(sk.src[2]->data);
  st.ids_nb = (int64_t)sk.src[2]->nb[0];
  st.n2 = rk.src[0]->ne[1];
  st.kf16 = sk.src[0]->type == dtype::f16;
  st.vf16 = sv.src[0]->type == dtype::f16;
  const int64_t nvb = std::max<int64_t>(1, std::min<int64_t>(64, (st.v.ne[0] + threads - 1) / threads));
  const dim3 grid((unsigned)(n1 + st.n2 + nvb), (unsigned)x.ne[2]);
  const tdesc xq = rq ? desc(*rq->src[0]) : desc(x), dq = rq ? desc(*rq) : desc(rk);
  launch(k_rope<true>, grid, threads, 0, s, xq, dq, desc(x), desc(rk), n1, static_cast<const int32_t*>(rk.src[1]->data), factors, ra, st);
}

bool can_pair_set_rows(const tensor& a, const tensor& b) {
  return a.op == op::set_rows && b.op == op::set_rows && a.src[2] == b.src[2] && a.src[1]->ne[1] == b.src[1]->ne[1];
}

void run_set_rows_pair(const tensor& a, const tensor& b, gpuStream_t s) {
  const tensor &sa = *a.src[0], &sb = *b.src[0];
  const int64_t n0 = std::max(a.src[1]->ne[0], b.src[1]->ne[0]);
  const dim3 grid(blocks_for(n0, 256), (unsigned)a.src[1]->ne[1], 2);
  launch(k_set_rows, grid, 256, 0, s, desc(sa), sa.type == dtype::f16, desc(*a.src[1]), desc(*a.src[2]), desc(sb), sb.type == dtype::f16,
                                  desc(*b.src[1]), desc(*b.src[2]));
}

void run_top_k(const tensor& dst, gpuStream_t s) {
  const tensor& a = *dst.src[0];
  launch(k_top_k, blocks_for(a.ne[1], 64), 64, 0, s, desc(a), desc(dst), dst.p.i(0));
}

void run_gather(const tensor& dst, gpuStream_t s) {
  launch(k_gather, blocks_for(dst.ne[1], 64), 64, 0, s, desc(*dst.src[0]), desc(*dst.src[1]), desc(dst), dst.p.i(0) != 0);
}

void run_moe_sum(const tensor& dst, gpuStream_t s) {
  const dim3 grid(blocks_for(dst.ne[0], 256), (unsigned)dst.ne[1]);
  launch(k_moe_sum, grid, 256, 0, s, desc(*dst.src[0]), desc(*dst.src[1]), desc(dst));
}

const char* take_launch_error() {
  const gpuError_t e = gpuGetLastError();
  return e == gpuSuccess ? "" : gpuGetErrorString(e);
}

}  // namespace hearth::gpu
