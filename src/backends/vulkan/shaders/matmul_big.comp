#version 460
// Matrix x matrix for large products (prompt processing): 128x128 output tiles, K in steps of 32
// (16 for the types with a block minimum, whose extra arrays would not fit 32 KiB of shared memory
// then), A dequantized into shared memory as floats (16 values per thread and step), each of 256 threads accumulating 8x8 outputs: rows
// 4 tm .. 4 tm + 3 and 64 + 4 tm .. 64 + 4 tm + 3, columns likewise with tn. Shared memory holds
// vec4s, so that a thread reads its 8 + 8 operands per k in four 16-byte loads (16 FMAs per load;
// with one float per load the shared-memory pipe, not the FMA units, set the pace). The next
// step's operands are loaded into registers while a step's FMAs run.
// A = t[0] [K, M, a2, a3]; B' (rounded activations, rows of u[0] floats) at aux[0]; dst = t[4].
#include "common.glsl"
#include "dequant.glsl"
layout(local_size_x = 256) in;

#define BM 128u
#define BN 128u
#ifdef HAS_MIN
#define BK 16u
#else
#define BK 32u
#endif
shared vec4 As[BK][BM / 4u];
shared vec4 Bs[BK][BN / 4u];
#ifdef HAS_MIN
shared float Ms[BM];
shared float Ss[BN];
#endif

// The tile row (or column) of a thread's i-th of 8, for thread coordinate t (0 .. 15).
uint row_of(uint t, uint i) { return 4u * t + (i & 3u) + 64u * (i >> 2u); }

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
  // A: thread tid dequantizes row tid % BM, values 16 (tid / BM) .. + 15 of the step (BK = 16:
  // the first BM threads only); B: column tid / 2, values BK / 2 * (tid % 2) .. + BK / 2 - 1.
  const uint ar = tid % BM, ag = tid / BM;
  const bool a_loader = ag < BK / 16u;
  const uint64_t arow = row_addr(A, min(m0 + ar, M - 1u), a2, a3);
  const uint bc = tid / 2u, bk = (tid % 2u) * (BK / 2u);

  // The next step's A values and B columns are loaded into registers while this step's products
  // run (its global loads overlap the FMAs), then stored to shared memory after the barrier.
  const bool a_valid = a_loader && m0 + ar < M;
  const bool b_valid = n0 + bc < N;
  const uint64_t bcol = bbase + uint64_t(4u) * uint64_t(n0 + bc) * Kp;
  float wa[16];
  vec4 bx[BK / 8u];
  // (K is a whole number of quant blocks; the float types give zeros past K themselves)
  if (a_valid) dq16_scaled(arow, ag, wa);
  else [[unroll]] for (uint j = 0u; j < 16u; ++j) wa[j] = 0.0;
  [[unroll]] for (uint h = 0u; h < BK / 8u; ++h)
    bx[h] = b_valid && bk + 4u * h < Kp ? f32x4_ref(bcol + uint64_t(4u) * (bk + 4u * h)).v[0] : vec4(0.0);

  for (uint k0 = 0u; k0 < Kp; k0 += BK) {
    if (a_loader) [[unroll]] for (uint j = 0u; j < 16u; ++j) As[16u * ag + j][ar >> 2u][ar & 3u] = wa[j];
    {
      const uint bq = bc >> 2u, bl = bc & 3u;
      [[unroll]] for (uint h = 0u; h < BK / 8u; ++h) {
        const uint k = bk + 4u * h;
        Bs[k + 0u][bq][bl] = bx[h].x; Bs[k + 1u][bq][bl] = bx[h].y; Bs[k + 2u][bq][bl] = bx[h].z; Bs[k + 3u][bq][bl] = bx[h].w;
      }
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
    const uint k1 = k0 + BK;
    if (k1 < Kp) {
      if (a_valid) dq16_scaled(arow, k1 / 16u + ag, wa);
      [[unroll]] for (uint h = 0u; h < BK / 8u; ++h) {
        const uint k = k1 + bk + 4u * h;
        bx[h] = b_valid && k < Kp ? f32x4_ref(bcol + uint64_t(4u) * k).v[0] : vec4(0.0);
      }
    }
    [[unroll]] for (uint k = 0u; k < BK; ++k) {
      const vec4 a0 = As[k][tm], a1 = As[k][16u + tm], b0 = Bs[k][tn], b1 = Bs[k][16u + tn];
      const float a[8] = float[8](a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w);
      const float b[8] = float[8](b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w);
      [[unroll]] for (uint i = 0u; i < 8u; ++i)
        [[unroll]] for (uint j = 0u; j < 8u; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
    }
#ifdef HAS_MIN
    if (block_start) {
      [[unroll]] for (uint i = 0u; i < 8u; ++i)
        [[unroll]] for (uint j = 0u; j < 8u; ++j) acc[i][j] = fma(Ms[row_of(tm, i)], Ss[row_of(tn, j)], acc[i][j]);
    }
#endif
    barrier();
  }
  [[unroll]] for (uint j = 0u; j < 8u; ++j) {
    const uint n = n0 + row_of(tn, j);
    if (n >= N) continue;
    const uint64_t col = D.addr + uint64_t(n) * D.nb[1] + uint64_t(i2) * D.nb[2] + uint64_t(i3) * D.nb[3];
    [[unroll]] for (uint i = 0u; i < 8u; ++i) {
      const uint m = m0 + row_of(tm, i);
      if (m < M) st_f32(col + uint64_t(4u) * m, acc[i][j]);
    }
  }
}
