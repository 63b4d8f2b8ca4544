#version 460
// moe_sum: out[i, t] = sum over j of w[j, t] * x[i, j, t], in the CPU's order (j ascending, each
// product rounded before it is added). t[0] x F32 [M, k, N], t[1] w F32 [k, N], t[4] F32 [M, N].
// One thread per output element.
#include "common.glsl"
layout(local_size_x = 256) in;

void main() {
  const tdesc X = ARGS.t[0];
  const tdesc W = ARGS.t[1];
  const tdesc D = ARGS.t[4];
  const uint e = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
  const uint M = D.ne[0];
  if (e >= M * D.ne[1]) return;
  const uint i = e % M, t = e / M;
  precise float acc = 0.0;
  for (uint j = 0u; j < X.ne[1]; ++j) {
    precise float prod = ld_f32(elem_addr(X, i, j, t, 0u)) * ld_f32(W.addr + uint64_t(j) * W.nb[0] + uint64_t(t) * W.nb[1]);
    acc = j == 0u ? prod : acc + prod;
  }
  st_f32(D.addr + uint64_t(i) * D.nb[0] + uint64_t(t) * D.nb[1], acc);
}
