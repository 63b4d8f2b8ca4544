// The one-token product's norm tail (ops_mmv.cu): add -> rms_norm -> mul -> rounding of one row by
// one block, the row in registers (the norm kernels of ops_basic.cu keep it in one block of
// 1,024 threads instead).
#pragma once
#include "backends/cuda/mmv.cuh"

namespace hearth::gpu {

// ---- the norm tail: add -> rms_norm -> mul -> rounding of one row, in chunks held in registers ---
// Chunk c of a row is the blockDim.x x R values from c blockDim.x R on; thread t holds R consecutive
// ones of each chunk, so a rounding block of QK values lies on QK / R neighbouring lanes (R <= QK)
// and its scale takes a few shuffles instead of a pass over memory.

// Rounds the lane's R values v to q8_K: the block's scale comes from its signed value of largest
// magnitude (the first one on ties), as quant_q8_256 rounds it.
template <int R>
__device__ __forceinline__ void round_regs_256(const float (&v)[R], a8_256* blk, int gl) {
  constexpr int G = 256 / R;  // lanes per block
  static_assert(R >= 8 && R <= 32 && 256 % R == 0, "8 to 32 values per lane");
  float amax = 0.0f, mx = 0.0f;
  int idx = 0x7fffffff;
#pragma unroll
  for (int i = 0; i < R; ++i)
    if (fabsf(v[i]) > amax) { amax = fabsf(v[i]); mx = v[i]; idx = gl * R + i; }
#pragma unroll
  for (int o = G / 2; o > 0; o >>= 1) {
    const float oa = shfl_xor(amax, o), om = shfl_xor(mx, o);
    const int oi = shfl_xor(idx, o);
    if (oa > amax || (oa == amax && oi < idx)) { amax = oa; mx = om; idx = oi; }
  }
  const float iscale = amax == 0.0f ? 0.0f : -127.f / mx;
  int q[R];
#pragma unroll
  for (int i = 0; i < R; ++i) q[i] = amax == 0.0f ? 0 : max(-128, min(127, __float2int_rn(iscale * v[i])));
#pragma unroll
  for (int i = 0; i < R; i += 4)
    *reinterpret_cast<int*>(blk->qs + gl * R + i) = (q[i] & 255) | (q[i + 1] & 255) << 8 | (q[i + 2] & 255) << 16 | (q[i + 3] & 255) << 24;
  if constexpr (R >= 16) {
#pragma unroll
    for (int b = 0; b < R / 16; ++b) {
      int sum = 0;
#pragma unroll
      for (int i = 0; i < 16; ++i) sum += q[16 * b + i];
      blk->bsums[gl * (R / 16) + b] = (int16_t)sum;
    }
  } else {
    int sum = 0;
#pragma unroll
    for (int i = 0; i < R; ++i) sum += q[i];
    sum += shfl_xor(sum, 1);  // lanes 2k and 2k + 1 hold the 16 values of bsums[k]
    if (gl % 2 == 0) blk->bsums[gl / 2] = (int16_t)sum;
  }
  if (gl == 0) blk->d = amax == 0.0f ? 0.0f : 1 / iscale;
}

// Rounds the lane's R values v to q8_0 / q8_1 (with_sum), as quant_q8_32 rounds them.
template <int R>
__device__ __forceinline__ void round_regs_32(const float (&v)[R], a8_32* blk, int gl, bool with_sum) {
  constexpr int G = 32 / R;  // lanes per block
  static_assert(R >= 8 && R <= 32 && 32 % R == 0, "8 to 32 values per lane");
  float amax = 0.0f;
#pragma unroll
  for (int i = 0; i < R; ++i) amax = fmaxf(amax, fabsf(v[i]));
#pragma unroll
  for (int o = G / 2; o > 0; o >>= 1) amax = fmaxf(amax, shfl_xor(amax, o));
  const float d = amax / 127.f;
  const float id = amax != 0.f ? 127.f / amax : 0.f;
  int q[R], sum = 0;
#pragma unroll
  for (int i = 0; i < R; ++i) {
    q[i] = max(-128, min(127, __float2int_rn(v[i] * id)));
    sum += q[i];
  }
#pragma unroll
  for (int i = 0; i < R; i += 4)
    *reinterpret_cast<int*>(blk->qs + gl * R + i) = (q[i] & 255) | (q[i + 1] & 255) << 8 | (q[i + 2] & 255) << 16 | (q[i + 3] & 255) << 24;
#pragma unroll
  for (int o = G / 2; o > 0; o >>= 1) sum += shfl_xor(sum, o);
  if (gl == 0) {
    blk->d = f2h(d);
    blk->s = with_sum ? f2h(d * (float)sum) : 0;
  }
}

// What the tail writes: xs = x + resid (the add), yn = rms_norm(xs), yo = yn * w, and yo rounded
// to act (qk 32 or 256).
struct norm_tail_args {
  const float* resid;
  const float* w;
  float *xs, *yn, *yo;
  uint8_t* act;
  float eps;
  int qk;
  bool with_sum;
};

// One block over a row of n values (a multiple of R x blockDim.x; every pointer 16-byte aligned); x:
// written by other blocks of the kernel (read through L2). All loads of a chunk are issued before
// their first use; a row of one chunk stays in registers between the passes.
template <int R>
__device__ __forceinline__ void norm_tail_row(const norm_tail_args& t, const float* x, int64_t n, float* red) {
  const int64_t chunk = (int64_t)R * blockDim.x;
  float v[R];
  float s2 = 0.0f;
  for (int64_t i0 = (int64_t)threadIdx.x * R; i0 < n; i0 += chunk) {
#pragma unroll
    for (int k = 0; k < R; k += 4) {
      const float4 a = load_l2(reinterpret_cast<const float4*>(x + i0 + k));
      const float4 b = *reinterpret_cast<const float4*>(t.resid + i0 + k);
      v[k] = a.x + b.x, v[k + 1] = a.y + b.y, v[k + 2] = a.z + b.z, v[k + 3] = a.w + b.w;
    }
#pragma unroll
    for (int k = 0; k < R; k += 4) {
      *reinterpret_cast<float4*>(t.xs + i0 + k) = make_float4(v[k], v[k + 1], v[k + 2], v[k + 3]);
      s2 += v[k] * v[k] + v[k + 1] * v[k + 1] + v[k + 2] * v[k + 2] + v[k + 3] * v[k + 3];
    }
  }
  const float scale = 1.0f / sqrtf(block_sum(s2, red) / (float)n + t.eps);
  for (int64_t i0 = (int64_t)threadIdx.x * R; i0 < n; i0 += chunk) {
    if (n != chunk) {
#pragma unroll
      for (int k = 0; k < R; k += 4) {
        const float4 a = *reinterpret_cast<const float4*>(t.xs + i0 + k);  // this thread's own writes
        v[k] = a.x, v[k + 1] = a.y, v[k + 2] = a.z, v[k + 3] = a.w;
      }
    }
#pragma unroll
    for (int k = 0; k < R; k += 4) {
      const float4 w = *reinterpret_cast<const float4*>(t.w + i0 + k);
      const float4 o = make_float4(v[k] * scale, v[k + 1] * scale, v[k + 2] * scale, v[k + 3] * scale);
      *reinterpret_cast<float4*>(t.yn + i0 + k) = o;
      v[k] = o.x * w.x, v[k + 1] = o.y * w.y, v[k + 2] = o.z * w.z, v[k + 3] = o.w * w.w;
    }
#pragma unroll
    for (int k = 0; k < R; k += 4) *reinterpret_cast<float4*>(t.yo + i0 + k) = make_float4(v[k], v[k + 1], v[k + 2], v[k + 3]);
    if (t.qk == 256) round_regs_256<R>(v, reinterpret_cast<a8_256*>(t.act) + i0 / 256, (int)threadIdx.x % (256 / R));
    else round_regs_32<R>(v, reinterpret_cast<a8_32*>(t.act) + i0 / 32, (int)threadIdx.x % (32 / R), t.with_sum);
  }
}

}  // namespace hearth::gpu
