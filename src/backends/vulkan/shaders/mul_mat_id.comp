#version 460
// Expert-selected matrix x matrix (prompt processing of a mixture of experts): workgroup z is one
// expert, y a tile of 64 of the pairs moe_route listed for it, x a tile of 64 output rows; tiles
// past the expert's count exit at once. Inside a tile: K in steps of 32, the expert's rows
// dequantized into shared memory as floats, each thread accumulating a 4x4 block.
// A = t[0] experts [K, M, n_expert]; ids = t[2] I32 [n_used, N]; dst = t[4] [M, n_used, N];
// B' (rounded activations, rows of u[0] floats; pair (j, t) reads row j % nb + nb t) at aux[0],
// q8_1 block sums at aux[1]; u[1] = nb; u[2] = n_pairs; the route (see moe_route.comp) at aux[2].
#include "common.glsl"
#include "dequant.glsl"
layout(local_size_x = 256) in;

#define BM 64u
#define BN 64u
#define BK 32u
shared float As[BK][BM + 1u];
shared float Bs[BK][BN + 4u];
shared uint col_row[BN];
shared uint col_j[BN];
shared uint col_t[BN];
#ifdef HAS_MIN
shared float Ms[BM];
shared float Ss[BN];
#endif

void main() {
  const tdesc A = ARGS.t[0];
  const tdesc D = ARGS.t[4];
  const uint Kp = ARGS.u[0], nb = ARGS.u[1], n_pairs = ARGS.u[2];
  const uint n_used = ARGS.t[2].ne[0], n_expert = A.ne[2];
  const uint e = gl_WorkGroupID.z;
  u32_ref route = u32_ref(ARGS.aux[2]);
  const uint count = route.v[e];
  const uint n0 = gl_WorkGroupID.y * BN;
  if (n0 >= count) return;
  const uint N = min(count - n0, BN);  // columns of this tile
  const uint M = A.ne[1];
  const uint m0 = gl_WorkGroupID.x * BM;
  DQ_K = A.ne[0];
  const uint tid = gl_LocalInvocationID.x;
  const uint tm = tid % 16u, tn = tid / 16u;
  if (tid < BN) {
    const uint p = tid < N ? route.v[n_expert + e * n_pairs + n0 + tid] : 0u;
    const uint j = p % n_used, t = p / n_used;
    col_row[tid] = j % nb + nb * t;
    col_j[tid] = j;
    col_t[tid] = t;
  }
  barrier();
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
        dq16_scaled(row_addr(A, m0 + r, e, 0u), g, w);
      } else {
        [[unroll]] for (uint j = 0u; j < 16u; ++j) w[j] = 0.0;
      }
      [[unroll]] for (uint j = 0u; j < 16u; ++j) As[16u * gl + j][r] = w[j];
    }
    {
      const uint c = tid / 4u, kk = (tid % 4u) * 8u;
      vec4 b0 = vec4(0.0), b1 = vec4(0.0);
      if (c < N && k0 + kk < Kp) {
        f32x4_ref bp = f32x4_ref(ARGS.aux[0] + uint64_t(4u) * (uint64_t(col_row[c]) * Kp + k0 + kk));
        b0 = bp.v[0];
        b1 = bp.v[1];
      }
      Bs[kk + 0u][c] = b0.x; Bs[kk + 1u][c] = b0.y; Bs[kk + 2u][c] = b0.z; Bs[kk + 3u][c] = b0.w;
      Bs[kk + 4u][c] = b1.x; Bs[kk + 5u][c] = b1.y; Bs[kk + 6u][c] = b1.z; Bs[kk + 7u][c] = b1.w;
    }
#ifdef HAS_MIN
    if (tid < BM) Ms[tid] = m0 + tid < M ? block_min(row_addr(A, m0 + tid, e, 0u), k0 / 32u) : 0.0;
    else if (tid < BM + BN) {
      const uint c = tid - BM;
      Ss[c] = c < N ? f32_ref(ARGS.aux[1]).v[col_row[c] * (Kp / 32u) + k0 / 32u] : 0.0;
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
    const uint c = tn * 4u + j;
    if (c >= N) continue;
    const uint64_t col = D.addr + uint64_t(col_j[c]) * D.nb[1] + uint64_t(col_t[c]) * D.nb[2];
    [[unroll]] for (uint i = 0u; i < 4u; ++i) {
      const uint m = m0 + tm * 4u + i;
      if (m < M) st_f32(col + uint64_t(4u) * m, acc[i][j]);
    }
  }
}
