#version 460
// Matrix x one vector (token generation) for the most used weight types, written for bandwidth:
// each thread reads whole 16-byte (Q4_K) or 4-byte (Q6_K, Q4_0) runs of quants and uses every
// nibble it loads, its activations (rounded floats from quant_b) once for ROWS rows.
// Quants become floats without a conversion instruction: the bits q go into the mantissa of 1.0,
// f = 1 + q / 2^n exactly, and sum(q * a) = 2^n * (sum(f * a) - sum(a)), where sum(a) is shared by
// every row. A = t[0] [K, M, a2, a3]; B' (rows of u[0] floats) at aux[0]; dst = t[4].
#include "common.glsl"
#define WG 128u
#ifndef ROWS
#define ROWS 4u
#endif
layout(local_size_x = 128) in;

layout(buffer_reference, scalar, buffer_reference_align = 16) buffer u32x4_ref { uvec4 v[]; };

shared float red[ROWS * 32u];

// The low / high nibble of each byte of x as 1 + n/16.
vec4 nib_lo(uint x) {
  return uintBitsToFloat((uvec4(x << 19, x << 11, x << 3, x >> 5) & 0x00780000u) | 0x3f800000u);
}
vec4 nib_hi(uint x) {
  return uintBitsToFloat((uvec4(x << 15, x << 7, x >> 1, x >> 9) & 0x00780000u) | 0x3f800000u);
}
float hsum(vec4 v) { return (v.x + v.y) + (v.z + v.w); }
uint ld_u32_a2(uint64_t a) { return uint(u16_ref(a).v[0]) | (uint(u16_ref(a).v[1]) << 16); }

void main() {
  const tdesc A = ARGS.t[0];
  const tdesc D = ARGS.t[4];
  const uint Kp = ARGS.u[0];
  const uint M = A.ne[1];
  const uint m0 = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * ROWS;
  if (m0 >= M) return;
  const uint z = gl_WorkGroupID.z, b2 = D.ne[2];
  const uint i2 = z % b2, i3 = z / b2;
  const uint64_t row0 = row_addr(A, m0, i2 / (b2 / A.ne[2]), i3 / (D.ne[3] / A.ne[3]));
  const uint tid = gl_LocalInvocationID.x;
  const uint64_t bbase = ARGS.aux[0] + uint64_t(4u) * Kp * z;
  // Rows past the end read the last row again (never stored), so no load waits on a branch.
  uint64_t rows[ROWS];
  [[unroll]] for (uint r = 0u; r < ROWS; ++r) rows[r] = row0 + uint64_t(min(r, M - 1u - m0)) * A.nb[1];
  float acc[ROWS];
  [[unroll]] for (uint r = 0u; r < ROWS; ++r) acc[r] = 0.0;

#if defined(TYPE_Q4_K)
  // 8 threads per super-block: thread (c, h) reads bytes [32c + 16h, +16) of qs, whose low nibbles
  // are elements 16h.. of sub-block 2c and high nibbles the same of sub-block 2c + 1.
  const uint n_work = (A.ne[0] / 256u) * 8u;
  for (uint t = tid; t < n_work; t += WG) {
    const uint sb = t >> 3, c = (t >> 1) & 3u, h = t & 1u;
    f32x4_ref ap = f32x4_ref(bbase + uint64_t(4u) * (256u * sb + 64u * c + 16u * h));
    const vec4 a0 = ap.v[0], a1 = ap.v[1], a2 = ap.v[2], a3 = ap.v[3];
    const vec4 b0 = ap.v[8], b1 = ap.v[9], b2v = ap.v[10], b3 = ap.v[11];
    const float sa = hsum((a0 + a1) + (a2 + a3)), sbs = hsum((b0 + b1) + (b2v + b3));
    const uint j = 2u * c, sh = 8u * (j & 3u);
    [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
      const uint64_t blk = rows[r] + uint64_t(sb) * 144u;
      const uvec4 hd = u32x4_ref(blk).v[0];
      const uvec4 q = u32x4_ref(blk + 16u + 32u * c + 16u * h).v[0];
      const float d = h2f(hd.x & 0xffffu), dmin = h2f(hd.x >> 16);
      // Scale / min of sub-blocks j and j + 1 (bytes sh/8 and sh/8 + 1 of the scale words).
      const uint w0 = hd.y >> sh, w1 = hd.z >> sh, w2 = hd.w >> sh;
      const bool lo = c < 2u;
      const uint sc0 = lo ? (w0 & 63u) : ((w2 & 0xfu) | ((w0 >> 6) & 3u) << 4);
      const uint m0v = lo ? (w1 & 63u) : ((w2 >> 4) & 0xfu | ((w1 >> 6) & 3u) << 4);
      const uint sc1 = lo ? ((w0 >> 8) & 63u) : (((w2 >> 8) & 0xfu) | ((w0 >> 14) & 3u) << 4);
      const uint m1v = lo ? ((w1 >> 8) & 63u) : (((w2 >> 12) & 0xfu) | ((w1 >> 14) & 3u) << 4);
      const float fa = hsum(nib_lo(q.x) * a0 + nib_lo(q.y) * a1 + nib_lo(q.z) * a2 + nib_lo(q.w) * a3);
      const float fb = hsum(nib_hi(q.x) * b0 + nib_hi(q.y) * b1 + nib_hi(q.z) * b2v + nib_hi(q.w) * b3);
      acc[r] += d * (float(sc0) * (16.0 * (fa - sa)) + float(sc1) * (16.0 * (fb - sbs))) -
                dmin * (float(m0v) * sa + float(m1v) * sbs);
    }
  }
#elif defined(TYPE_Q6_K)
  // 16 threads per super-block: thread (hh, l0) reads ql[64hh + l0 ..+4], ql[64hh + 32 + l0 ..+4] and
  // qh[32hh + l0 ..+4]: elements l0.. of the four quarters of half hh (2-byte aligned blocks).
  const uint n_work = (A.ne[0] / 256u) * 16u;
  for (uint t = tid; t < n_work; t += WG) {
    const uint sb = t >> 4, hh = (t >> 3) & 1u, l0 = 4u * (t & 7u);
    f32x4_ref ap = f32x4_ref(bbase + uint64_t(4u) * (256u * sb + 128u * hh + l0));
    const vec4 a0 = ap.v[0], a1 = ap.v[8], a2 = ap.v[16], a3 = ap.v[24];
    const float s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
    const uint is = 8u * hh + l0 / 16u;
    [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
      const uint64_t blk = rows[r] + uint64_t(sb) * 210u;
      const uint L0 = ld_u32_a2(blk + 64u * hh + l0);
      const uint L1 = ld_u32_a2(blk + 64u * hh + 32u + l0);
      const uint H = ld_u32_a2(blk + 128u + 32u * hh + l0);
      const float d = ld_f16(blk + 208u);
      const uint64_t scp = blk + 192u + is;
      const float c0 = float(ld_i8(scp)), c1 = float(ld_i8(scp + 2u)), c2 = float(ld_i8(scp + 4u)), c3 = float(ld_i8(scp + 6u));
      // 6-bit q = low/high nibble of ql | 2 bits of qh << 4, as 1 + q/64 (mantissa bits 17..22).
      const vec4 f0 = uintBitsToFloat(((uvec4(L0 << 17, L0 << 9, L0 << 1, L0 >> 7) & 0x1e0000u) |
                                       (uvec4(H << 21, H << 13, H << 5, H >> 3) & 0x600000u)) | 0x3f800000u);
      const vec4 f1 = uintBitsToFloat(((uvec4(L1 << 17, L1 << 9, L1 << 1, L1 >> 7) & 0x1e0000u) |
                                       (uvec4(H << 19, H << 11, H << 3, H >> 5) & 0x600000u)) | 0x3f800000u);
      const vec4 f2 = uintBitsToFloat(((uvec4(L0 << 13, L0 << 5, L0 >> 3, L0 >> 11) & 0x1e0000u) |
                                       (uvec4(H << 17, H << 9, H << 1, H >> 7) & 0x600000u)) | 0x3f800000u);
      const vec4 f3 = uintBitsToFloat(((uvec4(L1 << 13, L1 << 5, L1 >> 3, L1 >> 11) & 0x1e0000u) |
                                       (uvec4(H << 15, H << 7, H >> 1, H >> 9) & 0x600000u)) | 0x3f800000u);
      // sum((q - 32) a) = 64 sum(f a) - 96 sum(a)
      acc[r] += d * (c0 * (64.0 * dot(f0, a0) - 96.0 * s0) + c1 * (64.0 * dot(f1, a1) - 96.0 * s1) +
                     c2 * (64.0 * dot(f2, a2) - 96.0 * s2) + c3 * (64.0 * dot(f3, a3) - 96.0 * s3));
    }
  }
#elif defined(TYPE_Q4_0)
  // 2 threads per block: thread p reads qs[8p ..+8], elements 8p.. (low nibbles) and 16 + 8p.. (high).
  const uint n_work = (A.ne[0] / 32u) * 2u;
  for (uint t = tid; t < n_work; t += WG) {
    const uint bi = t >> 1, p = t & 1u;
    f32x4_ref ap = f32x4_ref(bbase + uint64_t(4u) * (32u * bi + 8u * p));
    const vec4 a0 = ap.v[0], a1 = ap.v[1], b0 = ap.v[4], b1 = ap.v[5];
    const float s = hsum((a0 + a1) + (b0 + b1));
    [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
      const uint64_t blk = rows[r] + uint64_t(bi) * 18u;
      const float d = ld_f16(blk);
      const uint x0 = ld_u32_a2(blk + 2u + 8u * p), x1 = ld_u32_a2(blk + 6u + 8u * p);
      const float f = hsum(nib_lo(x0) * a0 + nib_lo(x1) * a1 + nib_hi(x0) * b0 + nib_hi(x1) * b1);
      // sum((n - 8) a) = 16 sum(f a) - 24 sum(a)
      acc[r] += d * (16.0 * f - 24.0 * s);
    }
  }
#endif

  [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
    const float s = subgroupAdd(acc[r]);
    if (subgroupElect()) red[r * 32u + gl_SubgroupID] = s;
  }
  barrier();
  if (tid < ROWS && m0 + tid < M) {
    float s = 0.0;
    for (uint i = 0u; i < gl_NumSubgroups; ++i) s += red[tid * 32u + i];
    st_f32(D.addr + uint64_t(4u) * (m0 + tid) + uint64_t(i2) * D.nb[2] + uint64_t(i3) * D.nb[3], s);
  }
}
