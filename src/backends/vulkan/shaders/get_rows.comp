#version 460
// get_rows: output row i = row ids[i] of the table t[0], dequantized to f32. One workgroup per row.
#include "common.glsl"
#include "dequant.glsl"
layout(local_size_x = 64) in;

void main() {
  const tdesc T = ARGS.t[0];
  const tdesc I = ARGS.t[1];
  const tdesc D = ARGS.t[4];
  const uint i = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
  if (i >= D.ne[1]) return;
  const uint n = T.ne[0];
  DQ_K = n;
  const int id = ld_i32(I.addr + uint64_t(i) * I.nb[0]);
  const uint64_t out_row = D.addr + uint64_t(i) * D.nb[1];
  const bool ok = id >= 0 && uint(id) < T.ne[1];
  const uint64_t row = T.addr + uint64_t(ok ? uint(id) : 0u) * T.nb[1];
  for (uint g = gl_LocalInvocationID.x; g * 16u < n; g += 64u) {
    float v[16];
    if (ok) dq16(row, g, v);
    else for (uint j = 0u; j < 16u; ++j) v[j] = 0.0;
    for (uint j = 0u; j < 16u; ++j)
      if (16u * g + j < n) st_f32(out_row + uint64_t(4u) * (16u * g + j), v[j]);
  }
}
