#version 460
// Matrix x matrix (prompt processing): 64x64 output tiles, K in steps of 32, A dequantized into
// shared memory as floats, each thread accumulating a 4x4 block.
// A = t[0] [K, M, a2, a3]; B' (rounded activations, rows of u[0] floats) at aux[0]; dst = t[4].
// u[1] = columns N per batch; workgroup (x, y, z) = (M tile, N tile, batch).
#include "common.glsl"
#include "dequant.glsl"
layout(local_size_x = 256) in;

#define BM 64u
#define BN 64u
#define BK 32u
shared float As[BK][BM + 1u];
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
  const uint n_groups = Kp / 16u;
  float acc[4][4];
  [[unroll]] for (uint i = 0u; i < 4u; ++i)
    [[unroll]] for (uint j = 0u; j < 4u; ++j) acc[i][j] = 0.0;

  for (uint k0 = 0u; k0 < Kp; k0 += BK) {
    if (tid < 2u * BM) {
      const uint r = tid / 2u, gl = tid % 2u;
      const uint g = k0 / 16u + gl;
      float w[16];
      if (m0 + r < M && g < n_groups) {
        dq16_scaled(row_addr(A, m0 + r, a2, a3), g, w);
      } else {
        [[unroll]] for (uint j = 0u; j < 16u; ++j) w[j] = 0.0;
      }
      [[unroll]] for (uint j = 0u; j < 16u; ++j) As[16u * gl + j][r] = w[j];
    }
    {
      const uint c = tid / 4u, kk = (tid % 4u) * 8u;
      vec4 b0 = vec4(0.0), b1 = vec4(0.0);
      if (n0 + c < N && k0 + kk < Kp) {
        f32x4_ref bp = f32x4_ref(bbase + uint64_t(4u) * (uint64_t(n0 + c) * Kp + k0 + kk));
        b0 = bp.v[0];
        b1 = bp.v[1];
      }
      Bs[kk + 0u][c] = b0.x; Bs[kk + 1u][c] = b0.y; Bs[kk + 2u][c] = b0.z; Bs[kk + 3u][c] = b0.w;
      Bs[kk + 4u][c] = b1.x; Bs[kk + 5u][c] = b1.y; Bs[kk + 6u][c] = b1.z; Bs[kk + 7u][c] = b1.w;
    }
#ifdef HAS_MIN
    if (tid < BM) Ms[tid] = m0 + tid < M ? block_min(row_addr(A, m0 + tid, a2, a3), k0 / 32u) : 0.0;
    else if (tid < BM + BN) {
      const uint c = tid - BM;
      Ss[c] = n0 + c < N ? f32_ref(ARGS.aux[1]).v[(N * z + n0 + c) * (Kp / 32u) + k0 / 32u] : 0.0;
    }
#endif
    barrier();
    [[unroll]] for (uint k = 0u; k < BK; ++k) {
      vec4 a = vec4(As[k][tm * 4u], As[k][tm * 4u + 1u], As[k][tm * 4u + 2u], As[k][tm * 4u + 3u]);
      vec4 b = vec4(Bs[k][tn * 4u], Bs[k][tn * 4u + 1u], Bs[k][tn * 4u + 2u], Bs[k][tn * 4u + 3u]);
      [[unroll]] for (uint i = 0u; i < 4u; ++i)
        [[unroll]] for (uint j = 0u; j < 4u; ++j) acc[i][j] += a[i] * b[j];
    }
#ifdef HAS_MIN
    [[unroll]] for (uint i = 0u; i < 4u; ++i)
      [[unroll]] for (uint j = 0u; j < 4u; ++j) acc[i][j] += Ms[tm * 4u + i] * Ss[tn * 4u + j];
#endif
    barrier();
  }
  [[unroll]] for (uint j = 0u; j < 4u; ++j) {
    const uint n = n0 + tn * 4u + j;
    if (n >= N) continue;
    [[unroll]] for (uint i = 0u; i < 4u; ++i) {
      const uint m = m0 + tm * 4u + i;
      if (m < M) st_f32(D.addr + uint64_t(4u) * m + uint64_t(n) * D.nb[1] + uint64_t(i2) * D.nb[2] + uint64_t(i3) * D.nb[3], acc[i][j]);
    }
  }
}
