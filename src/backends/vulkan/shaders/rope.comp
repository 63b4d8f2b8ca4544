#version 460
// Rotary embedding, one thread per pair of a head row. The angle is advanced by repeated float
// multiplication as the reference does; the host passes theta_scale (u[0]), the YaRN corrections
// (u[1], u[2]) and the magnitude scale (u[3]) computed in C++. u[4] = 1: frequency factors in t[2].
// u[5] bit 1: the result is also stored as a following set_rows would: token t's row (all heads)
// into row ids[t] (ids t[3]) of the cache at aux[0] (u[6] bytes per row, u[7] rows), as f16 when
// u[5] bit 2 is set.
#include "common.glsl"
layout(local_size_x = 64) in;

#include "rope.glsl"

// The fused set_rows: elements ea and eb of token t's row.
void store_row(uint t, uint ea, uint eb, float y0, float y1) {
  const uint f = ARGS.u[5];
  if ((f & 1u) == 0u) return;
  const int id = ld_i32(ARGS.t[3].addr + uint64_t(t) * ARGS.t[3].nb[0]);
  if (id < 0 || uint(id) >= ARGS.u[7]) return;
  const uint64_t dst = ARGS.aux[0] + uint64_t(id) * ARGS.u[6];
  if ((f & 2u) != 0u) {
    u16_ref(dst).v[ea] = uint16_t(f2h(y0));
    u16_ref(dst).v[eb] = uint16_t(f2h(y1));
  } else {
    f32_ref(dst).v[ea] = y0;
    f32_ref(dst).v[eb] = y1;
  }
}

void main() {
  const tdesc X = ARGS.t[0];
  const tdesc D = ARGS.t[4];
  const uint hd = X.ne[0], n_head = X.ne[1], n_tok = X.ne[2];
  const uint half_hd = hd / 2u;
  const uint e = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 64u + gl_LocalInvocationID.x;
  if (e >= half_hd * n_head * n_tok) return;
  const uint ip = e % half_hd, h = (e / half_hd) % n_head, t = e / (half_hd * n_head);
  const int n_rot = ARGS.p[0];
  const bool neox = ARGS.p[1] == 2;
  const uint64_t in_row = X.addr + uint64_t(h) * X.nb[1] + uint64_t(t) * X.nb[2];
  const uint64_t out_row = D.addr + uint64_t(h) * D.nb[1] + uint64_t(t) * D.nb[2];
  if (ip >= uint(n_rot / 2)) {
    const float y0 = f32_ref(in_row).v[2u * ip], y1 = f32_ref(in_row).v[2u * ip + 1u];
    f32_ref(out_row).v[2u * ip] = y0;
    f32_ref(out_row).v[2u * ip + 1u] = y1;
    store_row(t, h * hd + 2u * ip, h * hd + 2u * ip + 1u, y0, y1);
    return;
  }
  const int pos = ld_i32(ARGS.t[1].addr + uint64_t(t) * ARGS.t[1].nb[0]);
  const float f = ARGS.u[4] != 0u ? ld_f32(ARGS.t[2].addr + uint64_t(4u) * ip) : 1.0;
  float c, s;
  rope_cs(pos, ip, uintBitsToFloat(ARGS.u[0]), f, intBitsToFloat(ARGS.p[4]), intBitsToFloat(ARGS.p[5]), uintBitsToFloat(ARGS.u[1]),
          uintBitsToFloat(ARGS.u[2]), uintBitsToFloat(ARGS.u[3]), c, s);
  uint a, b;
  if (neox) { a = ip; b = ip + uint(n_rot / 2); }
  else { a = 2u * ip; b = a + 1u; }
  const float x0 = f32_ref(in_row).v[a], x1 = f32_ref(in_row).v[b];
  const float y0 = x0 * c - x1 * s, y1 = x0 * s + x1 * c;
  f32_ref(out_row).v[a] = y0;
  f32_ref(out_row).v[b] = y1;
  store_row(t, h * hd + a, h * hd + b, y0, y1);
}
