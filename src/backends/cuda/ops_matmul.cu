// Matrix products, part 2: activation rounding kernels, the warp-per-row product kernel (columns
// in groups of NC, batch broadcasting) and the expert-routed product of mul_mat_id.
#include "backends/cuda/mmv.cuh"
#include "backends/cuda/ops.h"

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

__device__ __forceinline__ const float* src_row(const tdesc& b, int64_t r) {
  const int64_t i1 = r % b.ne[1], i2 = (r / b.ne[1]) % b.ne[2], i3 = r / (b.ne[1] * b.ne[2]);
  return reinterpret_cast<const float*>(b.data + i1 * b.nb[1] + i2 * b.nb[2] + i3 * b.nb[3]);
}

__global__ void k_quant_q8_32(tdesc b, uint8_t* out, size_t row_bytes, int64_t n_blocks, bool with_sum) {
  pdl_enter();
  const int lane = threadIdx.x % warp;
  const int64_t ib = blockIdx.x * (int64_t)(blockDim.x / warp) + threadIdx.x / warp;
  const int64_t r = blockIdx.y;
  if (ib >= n_blocks) return;
  const float* x = src_row(b, r);
  const float v = *reinterpret_cast<const float*>(reinterpret_cast<const uint8_t*>(x) + (ib * 32 + lane) * b.nb[0]);
  quant_q8_32(v, reinterpret_cast<a8_32*>(out + r * row_bytes) + ib, lane, with_sum);
}

__global__ void k_quant_q8_256(tdesc b, uint8_t* out, size_t row_bytes, int64_t n_blocks) {
  pdl_enter();
  const int lane = threadIdx.x % warp;
  const int64_t ib = blockIdx.x * (int64_t)(blockDim.x / warp) + threadIdx.x / warp;
  const int64_t r = blockIdx.y;
  if (ib >= n_blocks) return;
  const uint8_t* x = reinterpret_cast<const uint8_t*>(src_row(b, r));
  float v[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) v[i] = *reinterpret_cast<const float*>(x + (ib * 256 + lane * 8 + i) * b.nb[0]);
  quant_q8_256(v, reinterpret_cast<a8_256*>(out + r * row_bytes) + ib, lane);
}

// f32 / f16 / bf16 activations: a contiguous copy in the dot type.
template <dtype A>
__global__ void k_convert(tdesc b, uint8_t* out, size_t row_bytes) {
  pdl_enter();
  const int64_t r = blockIdx.y;
  const uint8_t* x = reinterpret_cast<const uint8_t*>(src_row(b, r));
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < b.ne[0]; i += (int64_t)gridDim.x * blockDim.x) {
    const float v = *reinterpret_cast<const float*>(x + i * b.nb[0]);
    if constexpr (A == dtype::f16) reinterpret_cast<uint16_t*>(out + r * row_bytes)[i] = f2h(v);
    else if constexpr (A == dtype::bf16) reinterpret_cast<uint16_t*>(out + r * row_bytes)[i] = f2bf(v);
    else reinterpret_cast<float*>(out + r * row_bytes)[i] = v;
  }
}

}  // namespace

size_t act_row_bytes(dtype t, int64_t K) { return act_format_row_bytes(vec_dot_type(t), K); }

size_t act_format_row_bytes(dtype act, int64_t K) {
  switch (act) {
    case dtype::q8_0: case dtype::q8_1: return (size_t)(K / 32) * sizeof(a8_32);
    case dtype::q8_k: return (size_t)(K / 256) * sizeof(a8_256);
    case dtype::f16: case dtype::bf16: return (size_t)K * 2;
    default: return (size_t)K * 4;
  }
}

void quantize_activations(dtype wtype, const tensor& b, uint8_t* out, gpuStream_t s) {
  const int64_t K = b.ne[0], rows = b.nrows();
  const size_t rb = act_row_bytes(wtype, K);
  const tdesc bd = desc(b);
  switch (vec_dot_type(wtype)) {
    case dtype::q8_0:
    case dtype::q8_1: {
      const int64_t nbk = K / 32;
      launch(k_quant_q8_32, dim3((unsigned)((nbk + 7) / 8), (unsigned)rows), 256, 0, s, bd, out, rb, nbk, vec_dot_type(wtype) == dtype::q8_1);
      break;
    }
    case dtype::q8_k: {
      const int64_t nbk = K / 256;
      launch(k_quant_q8_256, dim3((unsigned)((nbk + 3) / 4), (unsigned)rows), 128, 0, s, bd, out, rb, nbk);
      break;
    }
    case dtype::f16: launch(k_convert<dtype::f16>, dim3((unsigned)std::min<int64_t>(64, (K + 255) / 256), (unsigned)rows), 256, 0, s, bd, out, rb); break;
    case dtype::bf16: launch(k_convert<dtype::bf16>, dim3((unsigned)std::min<int64_t>(64, (K + 255) / 256), (unsigned)rows), 256, 0, s, bd, out, rb); break;
    default: launch(k_convert<dtype::f32>, dim3((unsigned)std::min<int64_t>(64, (K + 255) / 256), (unsigned)rows), 256, 0, s, bd, out, rb); break;
  }
}

namespace {

constexpr int k_rows_per_block = 4;  // warps per block, one weight row each


// out[m, n, i2, i3] for NC consecutive columns n; warp = weight row m, lanes over block slices.
template <dtype T, int NC>
__global__ void __launch_bounds__(warp * k_rows_per_block) k_mul_mat(mm_args p) {
  pdl_enter();
  using tr = mm<T>;
  using W = typename tr::wblock;
  using A = typename tr::ablock;
  const int lane = threadIdx.x;
  const int64_t m = blockIdx.x * (int64_t)k_rows_per_block + threadIdx.y;
  if (m >= p.M) return;
  const int64_t n0 = (int64_t)blockIdx.y * NC;
  const int64_t i2 = blockIdx.z % p.b2, i3 = blockIdx.z / p.b2;
  const W* x = reinterpret_cast<const W*>(p.a + m * p.a_nb1 + (i2 / p.r2) * p.a_nb2 + (i3 / p.r3) * p.a_nb3);
  const A* y[NC];
#pragma unroll
  for (int c = 0; c < NC; ++c) {
    const int64_t n = min(n0 + c, p.N - 1);
    y[c] = reinterpret_cast<const A*>(p.act + (n + p.N * blockIdx.z) * p.act_rb);
  }
  float acc[NC] = {};
  constexpr int per_iter = warp / tr::tpb;
  const int slice = lane % tr::tpb;
  for (int64_t ib = lane / tr::tpb; ib < p.n_blocks; ib += per_iter) {
#pragma unroll
    for (int c = 0; c < NC; ++c) acc[c] += tr::dot(x + ib, y[c] + ib, slice);
  }
#pragma unroll
  for (int c = 0; c < NC; ++c) {
    const float v = warp_sum(acc[c]);
    if (lane == 0 && n0 + c < p.N)
      *reinterpret_cast<float*>(p.dst + m * 4 + (n0 + c) * p.d_nb1 + i2 * p.d_nb2 + i3 * p.d_nb3) = v;
  }
}

// Prompt processing (many columns): a block computes a tile of k_tm x k_tn outputs; per chunk of
// K, the weight blocks of its rows and the activation blocks of its columns are staged in shared
// memory once and reused by every output of the tile (the same per-slice dot products as above).
constexpr int k_tm = 32, k_tn = 64, k_tile_threads = 256;
constexpr int k_tile_min_cols = 16;
template <dtype T> __host__ __device__ constexpr int tile_chunk() { return mm<T>::qk == 1 ? 64 : 256; }  // K per step

// Copies n_rows rows of row_bytes (even) bytes, row r from base + min(r0 + r, last) * stride, into
// consecutive shared rows, 2 bytes per thread and step (every block layout is 2-byte aligned).
__device__ __forceinline__ void stage_rows(uint8_t* dst, const uint8_t* base, int64_t stride, int64_t r0, int64_t last,
                                           int n_rows, int row_bytes, int tid) {
  const int halves = row_bytes / 2;
  for (int i = tid; i < n_rows * halves; i += k_tile_threads) {
    const int r = i / halves, h = i % halves;
    const int64_t row = min(r0 + r, last);
    reinterpret_cast<uint16_t*>(dst)[i] = reinterpret_cast<const uint16_t*>(base + row * stride)[h];
  }
}

template <dtype T>
__global__ void __launch_bounds__(k_tile_threads) k_mul_mat_tile(mm_args p) {
  pdl_enter();
  using tr = mm<T>;
  using W = typename tr::wblock;
  using A = typename tr::ablock;
  constexpr int nwb = tile_chunk<T>() / tr::qk;  // blocks per row per chunk
  constexpr int w_row = nwb * (int)sizeof(W), a_row = nwb * (int)sizeof(A);
  __shared__ __align__(16) uint8_t ws[k_tm * w_row];
  __shared__ __align__(16) uint8_t as[k_tn * a_row];
  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  const int64_t m0 = (int64_t)blockIdx.x * k_tm, n0 = (int64_t)blockIdx.y * k_tn;
  const int64_t i2 = blockIdx.z % p.b2, i3 = blockIdx.z / p.b2;
  const uint8_t* a_base = p.a + (i2 / p.r2) * p.a_nb2 + (i3 / p.r3) * p.a_nb3;
  const uint8_t* y_base = p.act + (int64_t)blockIdx.z * p.N * p.act_rb;
  float acc[2][4] = {};
  for (int64_t kb = 0; kb < p.n_blocks; kb += nwb) {
    __syncthreads();
    stage_rows(ws, a_base + kb * (int64_t)sizeof(W), p.a_nb1, m0, p.M - 1, k_tm, w_row, tid);
    stage_rows(as, y_base + kb * (int64_t)sizeof(A), p.act_rb, n0, p.N - 1, k_tn, a_row, tid);
    __syncthreads();
    for (int b = 0; b < nwb; ++b) {
HEARTH_UNROLL
      for (int sl = 0; sl < tile_dot<T>::tpb; ++sl) {
HEARTH_UNROLL
        for (int i = 0; i < 2; ++i) {
          const W* x = reinterpret_cast<const W*>(ws + (ty + 16 * i) * w_row) + b;
HEARTH_UNROLL
          for (int j = 0; j < 4; ++j) {
            const A* y = reinterpret_cast<const A*>(as + (tx + 16 * j) * a_row) + b;
            acc[i][j] += tile_dot<T>::dot(x, y, sl);
          }
        }
      }
    }
  }
HEARTH_UNROLL
  for (int i = 0; i < 2; ++i) {
    const int64_t m = m0 + ty + 16 * i;
    if (m >= p.M) continue;
HEARTH_UNROLL
    for (int j = 0; j < 4; ++j) {
      const int64_t n = n0 + tx + 16 * j;
      if (n < p.N) *reinterpret_cast<float*>(p.dst + m * 4 + n * p.d_nb1 + i2 * p.d_nb2 + i3 * p.d_nb3) = acc[i][j];
    }
  }
}

struct mmid_args {
  const uint8_t* a;
  int64_t a_nb1, a_nb2, n_expert;
  int64_t M, n_blocks;
  const uint8_t* act;
  int64_t act_rb, b_ne1;
  const uint8_t* ids;
  int64_t ids_nb0, ids_nb1;
  uint8_t* dst;
  int64_t d_nb1, d_nb2;
};

// out[:, e, t] = experts[ids[e, t]] x B[:, e % nb, t]; grid (rows, e, t).
template <dtype T>
__global__ void __launch_bounds__(warp * k_rows_per_block) k_mul_mat_id(mmid_args p) {
  pdl_enter();
  using tr = mm<T>;
  using W = typename tr::wblock;
  using A = typename tr::ablock;
  const int lane = threadIdx.x;
  const int64_t m = blockIdx.x * (int64_t)k_rows_per_block + threadIdx.y;
  if (m >= p.M) return;
  const int64_t e = blockIdx.y, t = blockIdx.z;
  const int32_t id = *reinterpret_cast<const int32_t*>(p.ids + e * p.ids_nb0 + t * p.ids_nb1);
  float* out = reinterpret_cast<float*>(p.dst + m * 4 + e * p.d_nb1 + t * p.d_nb2);
  if (id < 0 || id >= p.n_expert) {
    if (lane == 0) *out = 0.0f;
    return;
  }
  const W* x = reinterpret_cast<const W*>(p.a + m * p.a_nb1 + id * p.a_nb2);
  const A* y = reinterpret_cast<const A*>(p.act + ((e % p.b_ne1) + p.b_ne1 * t) * p.act_rb);
  float acc = 0.0f;
  const int slice = lane % tr::tpb;
  for (int64_t ib = lane / tr::tpb; ib < p.n_blocks; ib += warp / tr::tpb) acc += tr::dot(x + ib, y + ib, slice);
  acc = warp_sum(acc);
  if (lane == 0) *out = acc;
}

template <dtype T, int NC>
void launch_mul_mat(const mm_args& p, int64_t batches, gpuStream_t s) {
  const dim3 grid((unsigned)((p.M + k_rows_per_block - 1) / k_rows_per_block), (unsigned)((p.N + NC - 1) / NC), (unsigned)batches);
  launch(k_mul_mat<T, NC>, grid, dim3(warp, k_rows_per_block), 0, s, p);
}

}  // namespace

bool matmul_supported(const tensor& n) {
  const tensor& a = *n.src[0];
  const tensor& b = *n.src[1];
  if (b.type != dtype::f32 || !type_readable(a.type) || a.ne[0] % block_size(a.type) != 0) return false;
  if (!is_quantized(a.type) && a.nb[0] != type_size(a.type)) return false;
  const int64_t qk = block_size(vec_dot_type(a.type));
  if (a.ne[0] % qk != 0) return false;
  // grid limits: columns / batches / experts in grid dimensions y and z
  if (n.op == op::mul_mat) return (b.ne[1] + 7) / 8 < 65535 && b.ne[2] * b.ne[3] < 65535;
  return n.src[2]->ne[0] < 65535 && n.src[2]->ne[1] < 65535;
}

size_t scratch_bytes(const tensor& n) {
  if (n.op == op::attention) return attention_scratch_bytes(n);
  if (n.op != op::mul_mat && n.op != op::mul_mat_id) return 0;
  const tensor& b = *n.src[1];
  return act_row_bytes(n.src[0]->type, b.ne[0]) * (size_t)b.nrows();
}

void run_mul_mat(const tensor& dst, gpuStream_t s, uint8_t* scratch, bool quantize) {
  const tensor& a = *dst.src[0];
  const tensor& b = *dst.src[1];
  if (quantize) quantize_activations(a.type, b, scratch, s);
  const mm_args p = make_mm_args(dst, scratch, (int64_t)act_row_bytes(a.type, b.ne[0]));
  if (run_mul_mat_mma(dst, p, s)) return;
  const int64_t batches = b.ne[2] * b.ne[3];
  dispatch_type(a.type, [&]<dtype T>() {
    if (p.N >= k_tile_min_cols && p.n_blocks % (tile_chunk<T>() / mm<T>::qk) == 0) {
      const dim3 grid((unsigned)((p.M + k_tm - 1) / k_tm), (unsigned)((p.N + k_tn - 1) / k_tn), (unsigned)batches);
      launch(k_mul_mat_tile<T>, grid, k_tile_threads, 0, s, p);
    } else if (p.N == 1) launch_mul_mat<T, 1>(p, batches, s);
    else if (p.N == 2) launch_mul_mat<T, 2>(p, batches, s);
    else if (p.N <= 4) launch_mul_mat<T, 4>(p, batches, s);
    else launch_mul_mat<T, 8>(p, batches, s);
  });
}

void run_mul_mat_id(const tensor& dst, gpuStream_t s, uint8_t* scratch, bool quantize) {
  const tensor& a = *dst.src[0];
  const tensor& b = *dst.src[1];
  const tensor& ids = *dst.src[2];
  if (quantize) quantize_activations(a.type, b, scratch, s);
  mmid_args p;
  p.a = static_cast<const uint8_t*>(a.data);
  p.a_nb1 = (int64_t)a.nb[1];
  p.a_nb2 = (int64_t)a.nb[2];
  p.n_expert = a.ne[2];
  p.M = a.ne[1];
  p.n_blocks = a.ne[0] / block_size(a.type);
  p.act = scratch;
  p.act_rb = (int64_t)act_row_bytes(a.type, b.ne[0]);
  p.b_ne1 = b.ne[1];
  p.ids = static_cast<const uint8_t*>(ids.data);
  p.ids_nb0 = (int64_t)ids.nb[0];
  p.ids_nb1 = (int64_t)ids.nb[1];
  p.dst = static_cast<uint8_t*>(dst.data);
  p.d_nb1 = (int64_t)dst.nb[1];
  p.d_nb2 = (int64_t)dst.nb[2];
  const dim3 grid((unsigned)((p.M + k_rows_per_block - 1) / k_rows_per_block), (unsigned)ids.ne[0], (unsigned)ids.ne[1]);
  dispatch_type(a.type, [&]<dtype T>() { launch(k_mul_mat_id<T>, grid, dim3(warp, k_rows_per_block), 0, s, p); });
}

}  // namespace hearth::gpu
