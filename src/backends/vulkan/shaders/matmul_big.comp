#version 460
// Matrix x matrix for large products (prompt processing): 128x128 output tiles, K in steps of 16,
// A dequantized into shared memory as floats, each of 256 threads accumulating 8x8 outputs
// (rows tm + 16 i, columns tn + 16 j: conflict-free shared loads, four FMAs per load).
// A = t[0] [K, M, a2, a3]; B' (rounded activations, rows of u[0] floats) at aux[0]; dst = t[4].
#include "common.glsl"
#include "dequant.glsl"
layout(local_size_x = 256) in;

#define BM 128u
#define BN 128u
#define BK 16u
shared float As[BK][BM + 4u];
shared float Bs[BK][BN + 4u];
#ifdef HAS_MIN
shared float Ms[BM];
shared float Ss[BN];
#endif

void main() {
  const tdesc A = ARGS.t[0];
  const tdesc D = ARGS.t[4];
  const uint Kp = ARGS.u[0], N = ARGS.u[1];
  const uint M = A.ne[1];
  const uint m0 = gl_WorkGroupID.x * BM, n0 = gl_WorkGroupID.y * BN;
  const uint z = gl_WorkGroupID.z, b2 = D.ne[2];
  const uint i2 = z % b2, i3 = z / b2;
  const uint a2 = i2 / (b2 / A.ne[2]), a3 = i3 / (D.ne[3] / A.ne[3]);
  DQ_K = A.ne[0];
  const uint tid = gl_LocalInvocationID.x;
  const uint tm = tid % 16u, tn = tid / 16u;
  const uint64_t bbase = ARGS.aux[0] + uint64_t(4u) * Kp * (N * z);
  float acc[8][8];
  [[unroll]] for (uint i = 0u; i < 8u; ++i)
    [[unroll]] for (uint j = 0u; j < 8u; ++j) acc[i][j] = 0.0;
  const bool a_loader = tid < BM;
  const uint64_t arow = row_addr(A, min(m0 + tid % BM, M - 1u), a2, a3);
  const uint bc = tid / 2u, bk = (tid % 2u) * 8u;

  for (uint k0 = 0u; k0 < Kp; k0 += BK) {
    if (a_loader) {
      float w[16];
      if (m0 + tid < M) {
        dq16_scaled(arow, k0 / 16u, w);
      } else {
        [[unroll]] for (uint j = 0u; j < 16u; ++j) w[j] = 0.0;
      }
      [[unroll]] for (uint j = 0u; j < 16u; ++j) As[j][tid] = w[j];
    }
    {
      vec4 x0 = vec4(0.0), x1 = vec4(0.0);
      if (n0 + bc < N) {
        f32x4_ref bp = f32x4_ref(bbase + uint64_t(4u) * (uint64_t(n0 + bc) * Kp + k0 + bk));
        x0 = bp.v[0];
        x1 = bp.v[1];
      }
      Bs[bk + 0u][bc] = x0.x; Bs[bk + 1u][bc] = x0.y; Bs[bk + 2u][bc] = x0.z; Bs[bk + 3u][bc] = x0.w;
      Bs[bk + 4u][bc] = x1.x; Bs[bk + 5u][bc] = x1.y; Bs[bk + 6u][bc] = x1.z; Bs[bk + 7u][bc] = x1.w;
    }
#ifdef HAS_MIN
    const bool block_start = (k0 % 32u) == 0u;
    if (block_start) {
      if (tid < BM) Ms[tid] = m0 + tid < M ? block_min(arow, k0 / 32u) : 0.0;
      else {
        const uint c = tid - BM;
        Ss[c] = n0 + c < N ? f32_ref(ARGS.aux[1]).v[(N * z + n0 + c) * (Kp / 32u) + k0 / 32u] : 0.0;
      }
    }
#endif
    barrier();
    [[unroll]] for (uint k = 0u; k < BK; ++k) {
      float a[8], b[8];
      [[unroll]] for (uint i = 0u; i < 8u; ++i) a[i] = As[k][tm + 16u * i];
      [[unroll]] for (uint j = 0u; j < 8u; ++j) b[j] = Bs[k][tn + 16u * j];
      [[unroll]] for (uint i = 0u; i < 8u; ++i)
        [[unroll]] for (uint j = 0u; j < 8u; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
    }
#ifdef HAS_MIN
    if (block_start) {
      [[unroll]] for (uint i = 0u; i < 8u; ++i)
        [[unroll]] for (uint j = 0u; j < 8u; ++j) acc[i][j] = fma(Ms[tm + 16u * i], Ss[tn + 16u * j], acc[i][j]);
    }
#endif
    barrier();
  }
  [[unroll]] for (uint j = 0u; j < 8u; ++j) {
    const uint n = n0 + tn + 16u * j;
    if (n >= N) continue;
    const uint64_t col = D.addr + uint64_t(n) * D.nb[1] + uint64_t(i2) * D.nb[2] + uint64_t(i3) * D.nb[3];
    [[unroll]] for (uint i = 0u; i < 8u; ++i) {
      const uint m = m0 + tm + 16u * i;
      if (m < M) st_f32(col + uint64_t(4u) * m, acc[i][j]);
    }
  }
}
