#version 460
// Row-wise ops, one workgroup per row of t[0]: u[0] = 0 rms_norm, 1 norm, 2 softmax (u[1] = 1: with
// the mask t[1], row i1 of the mask for row i1 of the input).
#include "common.glsl"
layout(local_size_x = 256) in;
#include "reduce.glsl"

void main() {
  const tdesc A = ARGS.t[0];
  const tdesc D = ARGS.t[4];
  const uint row = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
  if (row >= D.ne[1] * D.ne[2] * D.ne[3]) return;
  const uint i1 = row % D.ne[1], i2 = (row / D.ne[1]) % D.ne[2], i3 = row / (D.ne[1] * D.ne[2]);
  const uint64_t x = row_addr(A, i1, i2, i3);
  const uint64_t y = row_addr(D, i1, i2, i3);
  const uint n = D.ne[0], tid = gl_LocalInvocationID.x, opc = ARGS.u[0];
  const float eps = intBitsToFloat(ARGS.p[0]);
  if (opc == 0u) {
    float s = 0.0;
    for (uint i = tid; i < n; i += 256u) { const float v = ld_f32(x + 4u * i); s += v * v; }
    s = wg_sum(s);
    const float scale = 1.0 / sqrt(s / float(n) + eps);
    for (uint i = tid; i < n; i += 256u) st_f32(y + 4u * i, ld_f32(x + 4u * i) * scale);
  } else if (opc == 1u) {
    float s = 0.0;
    for (uint i = tid; i < n; i += 256u) s += ld_f32(x + 4u * i);
    const float mean = wg_sum(s) / float(n);
    float var = 0.0;
    for (uint i = tid; i < n; i += 256u) { const float v = ld_f32(x + 4u * i) - mean; var += v * v; }
    var = wg_sum(var);
    const float scale = 1.0 / sqrt(var / float(n) + eps);
    for (uint i = tid; i < n; i += 256u) st_f32(y + 4u * i, (ld_f32(x + 4u * i) - mean) * scale);
  } else {
    const float scale = eps;
    const bool has_mask = ARGS.u[1] != 0u;
    const uint64_t mrow = has_mask ? ARGS.t[1].addr + uint64_t(i1) * ARGS.t[1].nb[1] : uint64_t(0);
    float mx = uintBitsToFloat(0xff800000u);
    for (uint i = tid; i < n; i += 256u) {
      const float v = ld_f32(x + 4u * i) * scale + (has_mask ? ld_f32(mrow + 4u * i) : 0.0);
      st_f32(y + 4u * i, v);
      mx = max(mx, v);
    }
    mx = wg_max(mx);
    float s = 0.0;
    for (uint i = tid; i < n; i += 256u) {
      const float v = ld_f32(y + 4u * i);
      const float p = isinf(v) && v < 0.0 ? 0.0 : exp(v - mx);
      st_f32(y + 4u * i, p);
      s += p;
    }
    s = wg_sum(s);
    const float inv = s > 0.0 ? 1.0 / s : 0.0;
    for (uint i = tid; i < n; i += 256u) st_f32(y + 4u * i, ld_f32(y + 4u * i) * inv);
  }
}
