#version 460
// set_rows: values row i (t[1]) is written into row ids[i] (t[2]) of the storage t[0], as f32 or
// f16 (u[0] = 1). One thread per element.
#include "common.glsl"
layout(local_size_x = 256) in;

void main() {
  const tdesc S = ARGS.t[0];
  const tdesc V = ARGS.t[1];
  const tdesc I = ARGS.t[2];
  const uint e = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
  const uint n = V.ne[0];
  if (e >= n * V.ne[1]) return;
  const uint i0 = e % n, i = e / n;
  const int id = ld_i32(I.addr + uint64_t(i) * I.nb[0]);
  if (id < 0 || uint(id) >= S.ne[1]) return;
  const float x = ld_f32(V.addr + uint64_t(i) * V.nb[1] + uint64_t(i0) * 4u);
  const uint64_t dst = S.addr + uint64_t(id) * S.nb[1];
  if (ARGS.u[0] != 0u) u16_ref(dst).v[i0] = uint16_t(f2h(x));
  else f32_ref(dst).v[i0] = x;
}
