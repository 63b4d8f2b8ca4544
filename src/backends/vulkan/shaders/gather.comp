#version 460
// gather: out[j, t] = t[0][ids[j, t], t] (zero for an id outside the row); with p[0] != 0 each
// output row is divided by its sum, summed in order and divided correctly rounded as on the CPU.
// t[0] F32 [n, m], t[1] ids I32 [k, m], t[4] F32 [k, m]. One thread per row.
#include "common.glsl"
layout(local_size_x = 64) in;

void main() {
  const tdesc X = ARGS.t[0];
  const tdesc I = ARGS.t[1];
  const tdesc D = ARGS.t[4];
  const uint t = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 64u + gl_LocalInvocationID.x;
  if (t >= D.ne[1]) return;
  const uint k = D.ne[0];
  const bool normalize = ARGS.p[0] != 0;
  precise float sum = 0.0;
  for (uint j = 0u; j < k; ++j) {
    const int id = ld_i32(I.addr + uint64_t(j) * I.nb[0] + uint64_t(t) * I.nb[1]);
    const float v = id >= 0 && uint(id) < X.ne[0] ? ld_f32(X.addr + uint64_t(id) * X.nb[0] + uint64_t(t) * X.nb[1]) : 0.0;
    st_f32(D.addr + uint64_t(j) * D.nb[0] + uint64_t(t) * D.nb[1], v);
    sum += v;
  }
  if (!normalize || sum == 0.0) return;
  for (uint j = 0u; j < k; ++j) {
    const uint64_t a = D.addr + uint64_t(j) * D.nb[0] + uint64_t(t) * D.nb[1];
    st_f32(a, div_rn(ld_f32(a), sum));
  }
}
