// Shared by every shader: buffer-device-address views of memory, the per-dispatch argument block
// (mirrors vk::dispatch_args in vk_ops.h), half/bfloat conversions that round exactly like the CPU.
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_buffer_reference2 : require
#extension GL_EXT_shader_explicit_arithmetic_types : require
#extension GL_EXT_scalar_block_layout : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(buffer_reference, scalar, buffer_reference_align = 4) buffer f32_ref { float v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 16) buffer f32x4_ref { vec4 v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 2) buffer u16_ref { uint16_t v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 1) buffer u8_ref { uint8_t v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 1) buffer i8_ref { int8_t v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 4) buffer i32_ref { int v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 4) buffer u32_ref { uint v[]; };

// One tensor operand: device address of element 0, shape and byte strides.
struct tdesc {
  uint64_t addr;
  uint ne[4];
  uint nb[4];
};
// t[0..3] = src0..src3, t[4] = dst; p = the node's raw op params; u = per-dispatch integers;
// aux = extra device addresses (scratch, tables).
layout(buffer_reference, scalar, buffer_reference_align = 8) readonly buffer args_ref {
  tdesc t[5];
  int p[16];
  uint u[8];
  uint64_t aux[4];
};
layout(push_constant) uniform pc_block { uint64_t args; } pc;
#define ARGS args_ref(pc.args)

float ld_f32(uint64_t a) { return f32_ref(a).v[0]; }
void st_f32(uint64_t a, float x) { f32_ref(a).v[0] = x; }
uint ld_u8(uint64_t a) { return uint(u8_ref(a).v[0]); }
int ld_i8(uint64_t a) { return int(i8_ref(a).v[0]); }
uint ld_u16(uint64_t a) { return uint(u16_ref(a).v[0]); }
int ld_i32(uint64_t a) { return i32_ref(a).v[0]; }

// Branch-free (selects only), so loads after it can be issued early.
float h2f(uint h) {
  const uint e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  const uint s = (h & 0x8000u) << 16;
  const float sub = uintBitsToFloat(s | floatBitsToUint(float(m) * 5.9604644775390625e-8));
  const uint normal = s | ((e + 112u) << 23) | (m << 13);
  const uint special = s | 0x7f800000u | (m << 13);
  return e == 0u ? sub : uintBitsToFloat(e == 31u ? special : normal);
}
float ld_f16(uint64_t a) { return h2f(ld_u16(a)); }

// f32 -> f16 bits, round to nearest even (as core/fp16.h).
uint f2h(float f) {
  uint x = floatBitsToUint(f);
  const uint sign = (x >> 16) & 0x8000u;
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u) return sign | 0x7c00u | (x > 0x7f800000u ? 0x200u : 0u);
  if (x >= 0x477ff000u) return sign | 0x7c00u;
  if (x < 0x38800000u) {
    if (x < 0x33000000u) return sign;
    const uint e = x >> 23;
    const uint m = (x & 0x7fffffu) | 0x800000u;
    const uint shift = 126u - e;
    uint r = m >> shift;
    const uint rem = m & ((1u << shift) - 1u);
    const uint half_ = 1u << (shift - 1u);
    if (rem > half_ || (rem == half_ && (r & 1u) != 0u)) ++r;
    return sign | r;
  }
  uint r = (x >> 13) - (112u << 10);
  const uint rem = x & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u) != 0u)) ++r;
  return sign | r;
}
float round_f16(float f) { return h2f(f2h(f)); }

float bf2f(uint h) { return uintBitsToFloat(h << 16); }
uint f2bf(float f) {
  const uint u = floatBitsToUint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 64u;
  return (u + (0x7fffu + ((u >> 16) & 1u))) >> 16;
}

// a / b correctly rounded. Drivers may implement division approximately and may not fuse fma(),
// so the residual a - b*q is computed exactly with Dekker's product (no contraction allowed).
void two_prod(float a, float b, out precise float p, out precise float e) {
  p = a * b;
  precise float ca = 4097.0 * a;
  precise float ah = ca - (ca - a);
  precise float al = a - ah;
  precise float cb = 4097.0 * b;
  precise float bh = cb - (cb - b);
  precise float bl = b - bh;
  e = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}
float div_rn(float a, float b) {
  precise float q = a / b;
  precise float p, e;
  two_prod(b, q, p, e);
  precise float r = (a - p) - e;
  precise float res = q + r / b;
  return res;
}

// Element address of a tensor operand.
uint64_t elem_addr(const tdesc t, uint i0, uint i1, uint i2, uint i3) {
  return t.addr + uint64_t(i0) * t.nb[0] + uint64_t(i1) * t.nb[1] + uint64_t(i2) * t.nb[2] + uint64_t(i3) * t.nb[3];
}
uint64_t row_addr(const tdesc t, uint i1, uint i2, uint i3) {
  return t.addr + uint64_t(i1) * t.nb[1] + uint64_t(i2) * t.nb[2] + uint64_t(i3) * t.nb[3];
}
