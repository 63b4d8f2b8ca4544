#version 460
// Routing for the tiled expert-selected product: workgroup e < n_expert lists the (slot j, token t)
// pairs p = j + n_used t whose id is e; workgroup n_expert writes the zeros of pairs whose id lies
// outside [0, n_expert) (the CPU's answer for them). The list order is free: every output element
// is computed the same way wherever its pair lands in a tile.
// A = t[0] experts [K, M, n_expert]; ids = t[2] I32 [n_used, N]; dst = t[4] [M, n_used, N];
// u[2] = n_pairs; route at aux[2]: count of expert e at [e], its pairs at [n_expert + e n_pairs + i].
#include "common.glsl"
layout(local_size_x = 256) in;

shared uint sh_count;

void main() {
  const tdesc I = ARGS.t[2];
  const tdesc D = ARGS.t[4];
  const uint n_expert = ARGS.t[0].ne[2], M = ARGS.t[0].ne[1];
  const uint n_used = I.ne[0], n_pairs = ARGS.u[2];
  const uint e = gl_WorkGroupID.x, tid = gl_LocalInvocationID.x;
  u32_ref route = u32_ref(ARGS.aux[2]);
  if (tid == 0u) sh_count = 0u;
  barrier();
  for (uint p = tid; p < n_pairs; p += 256u) {
    const uint j = p % n_used, t = p / n_used;
    const int id = ld_i32(I.addr + uint64_t(j) * I.nb[0] + uint64_t(t) * I.nb[1]);
    const bool valid = id >= 0 && uint(id) < n_expert;
    if (e < n_expert) {
      if (valid && uint(id) == e) route.v[n_expert + e * n_pairs + atomicAdd(sh_count, 1u)] = p;
    } else if (!valid) {
      const uint64_t dst_col = D.addr + uint64_t(j) * D.nb[1] + uint64_t(t) * D.nb[2];
      for (uint m = 0u; m < M; ++m) st_f32(dst_col + uint64_t(4u) * m, 0.0);
    }
  }
  barrier();
  if (tid == 0u && e < n_expert) route.v[e] = sh_count;
}
