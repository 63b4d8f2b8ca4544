// Device-side helpers shared by the kernels: the runtime header of the vendor, 32-lane warp
// primitives (a "warp" here is 32 lanes on every GPU: on 64-wide CDNA wavefronts the shuffles are
// confined to 32-lane halves, so one kernel source serves warp sizes 32 and 64), half/bfloat16
// conversions matching core/fp16.h, and the GGUF block layouts.
#pragma once
#if defined(HEARTH_GPU_HIP)
#include <hip/hip_fp16.h>
#include <hip/hip_runtime.h>
#else
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#endif
#include <cstdint>
#include <utility>

#include "backends/cuda/vendors/gpu.h"
#include "formats/quant_blocks.h"

namespace hearth::gpu {

constexpr int warp = 32;

// Full unrolling of small fixed loops that index register arrays. hipcc (ROCm 5.2) reports some of
// these as not unrollable in template instances it transforms in another order, so on HIP the
// compiler decides alone (a warning would fail the warnings-as-errors build).
#if defined(HEARTH_GPU_HIP)
#define HEARTH_UNROLL
#else
#define HEARTH_UNROLL _Pragma("unroll")
#endif

// Lane l's value of v (Xor: lane l = this lane ^ l); every lane of the warp takes part.
template <bool Xor, typename T>
__device__ __forceinline__ T shuffle(T v, int l) {
#if defined(HEARTH_GPU_HIP)
  if constexpr (Xor) return __shfl_xor(v, l, warp);
  else return __shfl(v, l, warp);
#else
  if constexpr (Xor) return __shfl_xor_sync(0xffffffffu, v, l, warp);
  else return __shfl_sync(0xffffffffu, v, l, warp);
#endif
}
__device__ __forceinline__ float shfl_xor(float v, int o) { return shuffle<true>(v, o); }
__device__ __forceinline__ int shfl_xor(int v, int o) { return shuffle<true>(v, o); }
__device__ __forceinline__ float shfl(float v, int src) { return shuffle<false>(v, src); }
// Loads of values that other blocks of the running kernel wrote: through the L2 cache, never a
// stale line of this block's L1 (AMD: volatile loads).
__device__ __forceinline__ float load_l2(const float* p) {
#if defined(HEARTH_GPU_HIP)
  return *reinterpret_cast<const volatile float*>(p);
#else
  return __ldcg(p);
#endif
}
__device__ __forceinline__ float4 load_l2(const float4* p) {
#if defined(HEARTH_GPU_HIP)
  const volatile float* q = reinterpret_cast<const volatile float*>(p);
  return make_float4(q[0], q[1], q[2], q[3]);
#else
  return __ldcg(p);
#endif
}
// Orders one warp's shared-memory writes before its lanes read each other's (lanes of an AMD
// wavefront run in lockstep, so a block-scope fence is enough there).
__device__ __forceinline__ void warp_sync() {
#if defined(HEARTH_GPU_HIP)
  __threadfence_block();
#else
  __syncwarp();
#endif
}
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = warp / 2; o > 0; o >>= 1) v += shfl_xor(v, o);
  return v;
}
__device__ __forceinline__ int warp_sum(int v) {
#pragma unroll
  for (int o = warp / 2; o > 0; o >>= 1) v += shfl_xor(v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = warp / 2; o > 0; o >>= 1) v = fmaxf(v, shfl_xor(v, o));
  return v;
}

// Sum over a block of blockDim.x threads (a multiple of 32, at most 1024); every thread gets it.
__device__ __forceinline__ float block_sum(float v, float* shared32) {
  v = warp_sum(v);
  const int lane = threadIdx.x % warp, w = threadIdx.x / warp, nw = blockDim.x / warp;
  __syncthreads();
  if (lane == 0) shared32[w] = v;
  __syncthreads();
  v = lane < nw ? shared32[lane] : 0.0f;
  return warp_sum(v);
}
__device__ __forceinline__ float block_max(float v, float* shared32) {
  v = warp_max(v);
  const int lane = threadIdx.x % warp, w = threadIdx.x / warp, nw = blockDim.x / warp;
  __syncthreads();
  if (lane == 0) shared32[w] = v;
  __syncthreads();
  v = lane < nw ? shared32[lane] : -INFINITY;
  return warp_max(v);
}

__device__ __forceinline__ float h2f(uint16_t h) {
  __half x;
  memcpy(&x, &h, 2);
  return __half2float(x);
}
__device__ __forceinline__ uint16_t f2h(float f) {
  const __half x = __float2half_rn(f);
  uint16_t h;
  memcpy(&h, &x, 2);
  return h;
}
__device__ __forceinline__ float bf2f(uint16_t h) { return __uint_as_float((uint32_t)h << 16); }
__device__ __forceinline__ uint16_t f2bf(float f) {
  const uint32_t u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 64);
  return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

// Four int8 products summed into c (the dp4a instruction where it exists).
__device__ __forceinline__ int dot4(int a, int b, int c) {
#if defined(HEARTH_GPU_HIP)
  const int8_t* x = reinterpret_cast<const int8_t*>(&a);
  const int8_t* y = reinterpret_cast<const int8_t*>(&b);
  return c + x[0] * y[0] + x[1] * y[1] + x[2] * y[2] + x[3] * y[3];
#else
  return __dp4a(a, b, c);
#endif
}

__device__ __forceinline__ int load_i32_unaligned(const uint8_t* p) {
  return (int)((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24));
}
// Two-byte-aligned 32-bit load (the q* fields of the 18- and 34-byte blocks sit at even offsets).
__device__ __forceinline__ int load_i32_a2(const uint8_t* p) {
  const uint16_t* h = reinterpret_cast<const uint16_t*>(p);
  return (int)((uint32_t)h[0] | ((uint32_t)h[1] << 16));
}

static __constant__ const int8_t k_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// Programmatic dependent launch (NVIDIA sm_90 and later). A kernel launched by launch() may start
// while the kernel before it on the stream still runs, so every kernel begins with pdl_wait():
// nothing before it may read what earlier kernels write or write anything at all (reading constant
// data such as weights is fine, and is how a product overlaps its first loads with the previous
// kernel's tail). pdl_wait() returns once the previous kernel has completed and its writes are
// visible; that kernel had itself waited for its own predecessor, so the order is transitive.
// pdl_launch_dependents() lets the next kernel be scheduled as soon as every block of this one has
// called it (or exited): most kernels call it right after the wait; the norm, glu and attention
// kernels only once their loads are done, because the next product's early weight loads would
// slow them (docs/device-runs/cuda-norm-tail.txt, runs 7-8). Elsewhere (HIP, older GPUs, HEARTH_GPU_PDL=0) both are no-ops and launches are ordinary.
__device__ __forceinline__ void pdl_wait() {
#if !defined(HEARTH_GPU_HIP) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void pdl_launch_dependents() {
#if !defined(HEARTH_GPU_HIP) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}
// Both, for kernels that read nothing before they need their inputs.
__device__ __forceinline__ void pdl_enter() {
  pdl_wait();
  pdl_launch_dependents();
}

// Whether launches on the current device use programmatic dependent launch (sm_90+, not turned off
// by HEARTH_GPU_PDL=0; always false on HIP).
bool pdl_active();

// Launches kernel k (every parameter given, defaults included) on stream s; with pdl_active() as a
// programmatic dependent launch.
template <typename... K, typename... A>
void launch(void (*k)(K...), dim3 grid, dim3 block, size_t shared, gpuStream_t s, A&&... args) {
  static_assert(sizeof...(K) == sizeof...(A), "launch: pass every kernel parameter");
#if !defined(HEARTH_GPU_HIP)
  if (pdl_active()) {
    cudaLaunchAttribute attr[1] = {};
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = shared;
    cfg.stream = s;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    (void)cudaLaunchKernelEx(&cfg, k, static_cast<K>(std::forward<A>(args))...);
    return;
  }
#endif
  k<<<grid, block, shared, s>>>(static_cast<K>(std::forward<A>(args))...);
}

// Tensor geometry passed to kernels by value.
// Element e of a KV cache row (f16 or f32) set to v.
__device__ __forceinline__ void store_elem(uint8_t* row, bool f16, int64_t e, float v) {
  if (f16) reinterpret_cast<uint16_t*>(row)[e] = f2h(v);
  else reinterpret_cast<float*>(row)[e] = v;
}

struct tdesc {
  uint8_t* data;
  int64_t ne[4];
  int64_t nb[4];
};

}  // namespace hearth::gpu
