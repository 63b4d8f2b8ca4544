#version 460
// Element-wise ops, one thread per output element (u[1] elements). u[0] selects the op:
// 0 add, 1 mul, 2 scale, 3 silu, 4 gelu, 5 softcap, 6 swiglu, 7 geglu, 8 cont, 9 cpy (u[2] = 1:
// f16 destination). gelu reads the f16 table at aux[0] (the reference's lookup).
#include "common.glsl"
layout(local_size_x = 256) in;

float silu(float x) { return x / (1.0 + exp(-x)); }
float gelu_lookup(float x) {
  if (x <= -10.0) return 0.0;
  if (x >= 10.0) return x;
  return h2f(ld_u16(ARGS.aux[0] + uint64_t(2u) * f2h(x)));
}

void main() {
  const uint e = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
  const uint opc = ARGS.u[0];
  if (e >= ARGS.u[1]) return;
  const tdesc D = ARGS.t[4];
  const tdesc A = ARGS.t[0];
  uint i0 = e % D.ne[0], r = e / D.ne[0];
  uint i1 = r % D.ne[1]; r /= D.ne[1];
  uint i2 = r % D.ne[2], i3 = r / D.ne[2];
  const uint64_t out_addr = elem_addr(D, i0, i1, i2, i3);
  if (opc == 9u) {
    uint s0 = e % A.ne[0], s = e / A.ne[0];
    uint s1 = s % A.ne[1]; s /= A.ne[1];
    uint s2 = s % A.ne[2], s3 = s / A.ne[2];
    const float v = ld_f32(elem_addr(A, s0, s1, s2, s3));
    if (ARGS.u[2] != 0u) u16_ref(out_addr).v[0] = uint16_t(f2h(v));
    else st_f32(out_addr, v);
    return;
  }
  const float x = ld_f32(elem_addr(A, i0, i1, i2, i3));
  float y;
  if (opc <= 1u) {
    const tdesc B = ARGS.t[1];
    const float b = ld_f32(elem_addr(B, i0 % B.ne[0], i1 % B.ne[1], i2 % B.ne[2], i3 % B.ne[3]));
    y = opc == 0u ? x + b : x * b;
  } else if (opc == 2u) {
    precise float prod = x * intBitsToFloat(ARGS.p[0]);  // no fma: the CPU rounds the product
    precise float sum = prod + intBitsToFloat(ARGS.p[1]);
    y = sum;
  } else if (opc == 3u) {
    y = silu(x);
  } else if (opc == 4u) {
    y = gelu_lookup(x);
  } else if (opc == 5u) {
    const float c = intBitsToFloat(ARGS.p[0]);
    y = c * tanh(x / c);
  } else if (opc == 6u || opc == 7u) {
    const float u = ld_f32(elem_addr(ARGS.t[1], i0, i1, i2, i3));
    y = (opc == 7u ? gelu_lookup(x) : silu(x)) * u;
  } else {
    y = x;
  }
  st_f32(out_addr, y);
}
