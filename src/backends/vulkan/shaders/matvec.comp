#version 460
// Matrix x few vectors (generation): one workgroup per output row of A, every thread dequantizes
// groups of 16 weights and multiplies them with up to NMAX rounded activation columns.
// A = t[0] [K, M, a2, a3]; B' (rounded activations, rows of u[0] floats) at aux[0]; dst = t[4].
// u[1] = columns N per batch; batch index = workgroup z (i2 + b2 * i3).
#include "common.glsl"
#include "dequant.glsl"
#define WG 128u
#define NMAX 8u
layout(local_size_x = 128) in;

shared float red[NMAX * 32u];

void main() {
  const tdesc A = ARGS.t[0];
  const tdesc D = ARGS.t[4];
  const uint Kp = ARGS.u[0], N = ARGS.u[1];
  const uint M = A.ne[1];
  const uint m = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
  if (m >= M) return;
  const uint z = gl_WorkGroupID.z, b2 = D.ne[2];
  const uint i2 = z % b2, i3 = z / b2;
  const uint64_t row = row_addr(A, m, i2 / (b2 / A.ne[2]), i3 / (D.ne[3] / A.ne[3]));
  DQ_K = A.ne[0];
  const uint tid = gl_LocalInvocationID.x;
  const uint n_groups = Kp / 16u;
  const uint64_t bbase = ARGS.aux[0] + uint64_t(4u) * Kp * (N * z);
  float acc[NMAX];
  [[unroll]] for (uint n = 0u; n < NMAX; ++n) acc[n] = 0.0;
  for (uint g = tid; g < n_groups; g += WG) {
    float w[16];
    dq16_scaled(row, g, w);
    [[unroll]] for (uint n = 0u; n < NMAX; ++n) {
      if (n < N) {
        f32x4_ref bp = f32x4_ref(bbase + uint64_t(4u) * (uint64_t(n) * Kp + 16u * g));
        const vec4 b0 = bp.v[0], b1 = bp.v[1], b2v = bp.v[2], b3 = bp.v[3];
        acc[n] += dot(vec4(w[0], w[1], w[2], w[3]), b0) + dot(vec4(w[4], w[5], w[6], w[7]), b1) +
                  dot(vec4(w[8], w[9], w[10], w[11]), b2v) + dot(vec4(w[12], w[13], w[14], w[15]), b3);
      }
    }
#ifdef HAS_MIN
    if ((g & 1u) == 0u) {
      const float mn = block_min(row, g >> 1);
      [[unroll]] for (uint n = 0u; n < NMAX; ++n)
        if (n < N) acc[n] += mn * f32_ref(ARGS.aux[1]).v[(N * z + n) * (Kp / 32u) + g / 2u];
    }
#endif
  }
  [[unroll]] for (uint n = 0u; n < NMAX; ++n) {
    if (n < N) {
      const float s = subgroupAdd(acc[n]);
      if (subgroupElect()) red[n * 32u + gl_SubgroupID] = s;
    }
  }
  barrier();
  if (tid < N) {
    float s = 0.0;
    for (uint i = 0u; i < gl_NumSubgroups; ++i) s += red[tid * 32u + i];
    st_f32(D.addr + uint64_t(4u) * m + uint64_t(tid) * D.nb[1] + uint64_t(i2) * D.nb[2] + uint64_t(i3) * D.nb[3], s);
  }
}
