#version 460
// Matrix x one vector (token generation): ROWS output rows per workgroup of 128 threads; every
// thread loads 16 rounded activations once and multiplies them with the matching 16 dequantized
// weights of each of its rows, so activation loads are shared across rows.
// A = t[0] [K, M, a2, a3]; B' (rounded activations, rows of u[0] floats) at aux[0]; dst = t[4].
#include "common.glsl"
#include "dequant.glsl"
#define WG 128u
#define ROWS 4u
layout(local_size_x = 128) in;

shared float red[ROWS * 32u];

void main() {
  const tdesc A = ARGS.t[0];
  const tdesc D = ARGS.t[4];
  const uint Kp = ARGS.u[0];
  const uint M = A.ne[1];
  const uint m0 = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * ROWS;
  if (m0 >= M) return;
  const uint z = gl_WorkGroupID.z, b2 = D.ne[2];
  const uint i2 = z % b2, i3 = z / b2;
  const uint64_t row0 = row_addr(A, m0, i2 / (b2 / A.ne[2]), i3 / (D.ne[3] / A.ne[3]));
  const uint64_t nb1 = A.nb[1];
  DQ_K = A.ne[0];
  const uint tid = gl_LocalInvocationID.x;
  const uint n_groups = Kp / 16u;
  const uint64_t bbase = ARGS.aux[0] + uint64_t(4u) * Kp * z;
  float acc[ROWS];
  [[unroll]] for (uint r = 0u; r < ROWS; ++r) acc[r] = 0.0;
  for (uint g = tid; g < n_groups; g += WG) {
    f32x4_ref bp = f32x4_ref(bbase + uint64_t(64u) * g);
    const vec4 b0 = bp.v[0], b1 = bp.v[1], b2v = bp.v[2], b3 = bp.v[3];
#ifdef HAS_MIN
    const float sb = (g & 1u) == 0u ? f32_ref(ARGS.aux[1]).v[z * (Kp / 32u) + g / 2u] : 0.0;
#endif
    // Rows past the end read the last row again (never stored): no branch keeps every load of
    // the iteration independent, so they are all in flight together.
    [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
      float w[16];
      const uint64_t row = row0 + uint64_t(min(r, M - 1u - m0)) * nb1;
      dq16_scaled(row, g, w);
      acc[r] += dot(vec4(w[0], w[1], w[2], w[3]), b0) + dot(vec4(w[4], w[5], w[6], w[7]), b1) +
                dot(vec4(w[8], w[9], w[10], w[11]), b2v) + dot(vec4(w[12], w[13], w[14], w[15]), b3);
#ifdef HAS_MIN
      acc[r] += block_min(row, g >> 1) * sb;
#endif
    }
  }
  [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
    const float s = subgroupAdd(acc[r]);
    if (subgroupElect()) red[r * 32u + gl_SubgroupID] = s;
  }
  barrier();
  if (tid < ROWS && m0 + tid < M) {
    float s = 0.0;
    for (uint i = 0u; i < gl_NumSubgroups; ++i) s += red[tid * 32u + i];
    st_f32(D.addr + uint64_t(4u) * (m0 + tid) + uint64_t(i2) * D.nb[2] + uint64_t(i3) * D.nb[3], s);
  }
}
