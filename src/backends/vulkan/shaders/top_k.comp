#version 460
// top_k: per row of t[0] (F32 [n, m]) the indices of the k = p[0] largest values, largest first,
// ties toward the lower index, into t[4] (I32 [k, m]). One workgroup per row runs k rounds of a
// workgroup-wide arg-max over the elements ranked strictly below the previous round's pick, so
// nothing has to be marked as taken and n is not limited by shared memory.
#include "common.glsl"
#define WG 128u
layout(local_size_x = 128) in;

shared uint sh_v[WG];
shared uint sh_i[WG];

// Float order as unsigned order (-0 counts as +0: the CPU compares them equal).
uint ordered(float x) {
  const uint u = floatBitsToUint(x == 0.0 ? 0.0 : x);
  return (u & 0x80000000u) != 0u ? ~u : (u | 0x80000000u);
}
// Rank of (value v, index i): larger v first, then smaller i.
bool better(uint v, uint i, uint bv, uint bi) { return v > bv || (v == bv && i < bi); }

void main() {
  const tdesc X = ARGS.t[0];
  const tdesc D = ARGS.t[4];
  const uint row = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
  if (row >= X.ne[1]) return;
  const uint n = X.ne[0], k = uint(ARGS.p[0]);
  const uint tid = gl_LocalInvocationID.x;
  const uint64_t xrow = X.addr + uint64_t(row) * X.nb[1];
  uint pv = 0u, pi = 0u;  // the previous pick
  for (uint s = 0u; s < k; ++s) {
    uint bv = 0u, bi = 0xffffffffu;
    bool found = false;
    for (uint i = tid; i < n; i += WG) {
      const uint v = ordered(ld_f32(xrow + uint64_t(i) * X.nb[0]));
      if (s > 0u && !better(pv, pi, v, i)) continue;
      if (!found || better(v, i, bv, bi)) {
        bv = v;
        bi = i;
        found = true;
      }
    }
    sh_v[tid] = bv;
    sh_i[tid] = bi;
    barrier();
    for (uint h = WG / 2u; h > 0u; h >>= 1) {
      if (tid < h && better(sh_v[tid + h], sh_i[tid + h], sh_v[tid], sh_i[tid])) {
        sh_v[tid] = sh_v[tid + h];
        sh_i[tid] = sh_i[tid + h];
      }
      barrier();
    }
    pv = sh_v[0];
    pi = sh_i[0];
    if (tid == 0u) i32_ref(D.addr + uint64_t(s) * D.nb[0] + uint64_t(row) * D.nb[1]).v[0] = int(pi);
    barrier();
  }
}
