#version 460
// Expert-selected matrix x vector (token generation of a mixture of experts): workgroup z is one
// (slot j, token t) pair, p = j + n_used t; its ROWS output rows multiply expert ids[j, t] with the
// rounded activation row j % nb + nb t. An id outside [0, n_expert) gives zeros, as on the CPU.
// A = t[0] experts [K, M, n_expert]; ids = t[2] I32 [n_used, N]; dst = t[4] [M, n_used, N];
// B' (rows of u[0] floats) at aux[0], q8_1 block sums at aux[1]; u[1] = nb (1 or n_used).
#include "common.glsl"
#include "dequant.glsl"
#define WG 128u
#define ROWS 4u
layout(local_size_x = 128) in;

shared float red[ROWS * 32u];

void main() {
  const tdesc A = ARGS.t[0];
  const tdesc I = ARGS.t[2];
  const tdesc D = ARGS.t[4];
  const uint Kp = ARGS.u[0], nb = ARGS.u[1];
  const uint M = A.ne[1];
  const uint m0 = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * ROWS;
  if (m0 >= M) return;
  const uint p = gl_WorkGroupID.z, n_used = I.ne[0];
  const uint j = p % n_used, t = p / n_used;
  const int id = ld_i32(I.addr + uint64_t(j) * I.nb[0] + uint64_t(t) * I.nb[1]);
  const uint64_t dst_col = D.addr + uint64_t(j) * D.nb[1] + uint64_t(t) * D.nb[2];
  const uint tid = gl_LocalInvocationID.x;
  if (id < 0 || uint(id) >= A.ne[2]) {
    if (tid < ROWS && m0 + tid < M) st_f32(dst_col + uint64_t(4u) * (m0 + tid), 0.0);
    return;
  }
  const uint r = j % nb + nb * t;
  const uint64_t row0 = row_addr(A, m0, uint(id), 0u);
  const uint64_t nb1 = A.nb[1];
  DQ_K = A.ne[0];
  const uint n_groups = Kp / 16u;
  const uint64_t bbase = ARGS.aux[0] + uint64_t(4u) * Kp * r;
  float acc[ROWS];
  [[unroll]] for (uint i = 0u; i < ROWS; ++i) acc[i] = 0.0;
  for (uint g = tid; g < n_groups; g += WG) {
    f32x4_ref bp = f32x4_ref(bbase + uint64_t(64u) * g);
    const vec4 b0 = bp.v[0], b1 = bp.v[1], b2 = bp.v[2], b3 = bp.v[3];
#ifdef HAS_MIN
    const float sb = (g & 1u) == 0u ? f32_ref(ARGS.aux[1]).v[r * (Kp / 32u) + g / 2u] : 0.0;
#endif
    // Rows past the end read the last row again (never stored), so every load is unconditional.
    [[unroll]] for (uint i = 0u; i < ROWS; ++i) {
      float w[16];
      const uint64_t row = row0 + uint64_t(min(i, M - 1u - m0)) * nb1;
      dq16_scaled(row, g, w);
      acc[i] += dot(vec4(w[0], w[1], w[2], w[3]), b0) + dot(vec4(w[4], w[5], w[6], w[7]), b1) +
                dot(vec4(w[8], w[9], w[10], w[11]), b2) + dot(vec4(w[12], w[13], w[14], w[15]), b3);
#ifdef HAS_MIN
      acc[i] += block_min(row, g >> 1) * sb;
#endif
    }
  }
  [[unroll]] for (uint i = 0u; i < ROWS; ++i) {
    const float s = subgroupAdd(acc[i]);
    if (subgroupElect()) red[i * 32u + gl_SubgroupID] = s;
  }
  barrier();
  if (tid < ROWS && m0 + tid < M) {
    float s = 0.0;
    for (uint i = 0u; i < gl_NumSubgroups; ++i) s += red[tid * 32u + i];
    st_f32(dst_col + uint64_t(4u) * (m0 + tid), s);
  }
}
