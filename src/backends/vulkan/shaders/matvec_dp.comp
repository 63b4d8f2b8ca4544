#version 460
// Matrix x one vector with integer dot products (VK_KHR_shader_integer_dot_product) for Q4_K and
// Q6_K (activations as q8_K blocks) and Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (q8_0 / q8_1 blocks of 32),
// the int8 values written by quant_b beside its floats: rows of u[0] bytes at aux[2]; per block of
// 256 (q8_K), d and the sums of its 8 runs of 32 in 48 bytes at aux[3]; per block of 32 (q8_0,
// q8_1), d as a float at aux[3] and (q8_1) d * sum(q) at aux[1].
// Four nibbles and four int8 values make one packed dot product, where the float kernel
// (matvec_wide.comp) spends a shift and a mask on every nibble. Integer sums per half sub-block
// are exact; as the reference, sum = d8 (d sc sum(q q8) - dmin m sum(q8)) for Q4_K,
// d8 d sc (sum(q q8) - 32 sum(q8)) for Q6_K, d8 d (sum(q q8) - 8 sum(q8)) for Q4_0 (16 for Q5_0,
// 0 for Q8_0), d8 d sum(q q8) + m s8 for Q4_1 and Q5_1. 4 rows per workgroup (ROWS), threads per
// block as in matvec_wide (2 per block of 32: 16 elements each). A = t[0] [K, M, a2, a3]; dst = t[4].
// Q4K_SLICE32 (the plain Q4_K product, built with ROWS 2): 4 threads per super-block of 32 quant
// bytes each, in workgroups of 64, so that a row's 16-byte block head is read once per 32 bytes.
// Two more variants, so the plain products keep a shader without their code and shared memory:
// ROPE_STORE (one token, one batch): the result of a following rope and / or set_rows, in t[4] (the
// rope's output, contiguous, or the product's): u[5] bit 1 roped in normal mode (adjacent pairs, so
// a pair lies in one workgroup) with head size p[1], n_rot p[0], position t[1][0], frequency factors
// t[2] (bit 2), theta_scale u[1], YaRN corrections u[2], u[3], magnitude u[4], freq_scale p[4],
// ext_factor p[5]; bit 4 also stored into row ids[0] (ids t[3]) of the cache at aux[0] (u[6] bytes
// per row, u[7] rows), as f16 with bit 8. GLU_ROUND: see glu_round. BATCH: see main.
#include "common.glsl"
#extension GL_EXT_spirv_intrinsics : require
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018], id = 4450)
int sdot4(uint a, uint b, spirv_literal int fmt);
#ifdef ROPE_STORE
#include "rope.glsl"
#endif
#ifndef ROWS
#define ROWS 4u
#endif
// Work items whose loads a thread issues together (see main).
#ifndef BATCH
#define BATCH 1
#endif
#ifdef Q4K_SLICE32
#define WG 64u
layout(local_size_x = 64) in;
#else
#define WG 128u
layout(local_size_x = 128) in;
#endif

layout(buffer_reference, scalar, buffer_reference_align = 16) buffer u32x4_ref { uvec4 v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 8) buffer u32x2_ref { uvec2 v[]; };

shared float red[ROWS * (WG / 4u)];
#ifdef ROPE_STORE
shared float fin[ROWS];
#endif
#ifdef GLU_ROUND
#define Q8K_BLOCK_WG128
#include "q8_round.glsl"
shared uint last_wg;

layout(buffer_reference, scalar, buffer_reference_align = 4) coherent buffer cf32_ref { float v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 4) coherent buffer cu32_ref { uint v[]; };

// Gate and up in one dispatch (GLU_ROUND): the workgroup that completes block kb (256 rows) of
// both products (the last of their 2 x 256 / ROWS workgroups to count itself at aux[0][kb]) computes
// swiglu(gate, up) of the block into t[4] and rounds it to q8_K as quant_b.comp does: int8 values
// at p[2] | p[3] << 32, d and the sums of the 8 runs of 32 in 48 bytes at aux[1] per block. Then
// it sets the counter back to 0 for the next graph.
void glu_round(uint kb, uint tid) {
  memoryBarrierBuffer();
  barrier();
  if (tid == 0u) last_wg = atomicAdd(cu32_ref(ARGS.aux[0]).v[kb], 1u) == 2u * (256u / ROWS) - 1u ? 1u : 0u;
  barrier();
  if (last_wg == 0u) return;
  memoryBarrierBuffer();
  const uint e0 = 256u * kb + tid, e1 = e0 + 128u;
  const float g0 = cf32_ref(ARGS.t[2].addr).v[e0], u0 = cf32_ref(ARGS.t[3].addr).v[e0];
  const float g1 = cf32_ref(ARGS.t[2].addr).v[e1], u1 = cf32_ref(ARGS.t[3].addr).v[e1];
  const float x0 = g0 / (1.0 + exp(-g0)) * u0, x1 = g1 / (1.0 + exp(-g1)) * u1;
  f32_ref(ARGS.t[4].addr).v[e0] = x0;
  f32_ref(ARGS.t[4].addr).v[e1] = x1;
  const uint64_t i8 = (uint64_t(uint(ARGS.p[3])) << 32) | uint64_t(uint(ARGS.p[2]));
  q8k_round_block(x0, x1, tid, i8 + 256u * kb, ARGS.aux[1] + uint64_t(48u) * kb);
  if (tid == 0u) atomicExchange(cu32_ref(ARGS.aux[0]).v[kb], 0u);
}
#endif

int dot16(uvec4 w, uvec4 a) {
  return sdot4(w.x, a.x, 0) + sdot4(w.y, a.y, 0) + sdot4(w.z, a.z, 0) + sdot4(w.w, a.w, 0);
}
uint ld_u32_a2(uint64_t a) { return uint(u16_ref(a).v[0]) | (uint(u16_ref(a).v[1]) << 16); }
// Bits 0..3 of b as bit 4 of the four bytes of a word (the fifth bit of Q5_0 / Q5_1 quants).
uint hbits(uint b) { return ((b & 0xfu) * 0x00204081u & 0x01010101u) << 4; }

// Per invocation: the workgroup's row addresses (rows past the end read the last row again, never
// stored, so no load waits on a branch) and where the rounded activations of batch z start.
uint64_t rows[ROWS];
uint64_t qbase, mbase;

// Each type splits a thread's work item t into load_item (every load: activations, their scales,
// and the weight words of all ROWS rows) and add_item (the integer dot products and the float sums),
// so that main can issue the loads of BATCH items before the arithmetic of any of them.
#if defined(TYPE_Q4_K) && defined(Q4K_SLICE32)
// Thread c of a super-block reads bytes [32c, +32) of qs: sub-blocks 2c (low nibbles) and
// 2c + 1 (high), so the 16-byte head of the block is read once per 32 quant bytes.
struct wrow { uvec4 hd, q0, q1; };
struct item { uvec4 alo0, alo1, ahi0, ahi1; float d8, bs0, bs1; uint c; wrow w[ROWS]; };
uint n_work(uint K) { return (K / 256u) * 4u; }
item load_item(uint t) {
  item it;
  const uint sb = t >> 2, c = t & 3u;
  it.c = c;
  const uint64_t ap = qbase + 256u * sb + 64u * c;
  it.alo0 = u32x4_ref(ap).v[0];
  it.alo1 = u32x4_ref(ap + 16u).v[0];
  it.ahi0 = u32x4_ref(ap + 32u).v[0];
  it.ahi1 = u32x4_ref(ap + 48u).v[0];
  const uint64_t mp = mbase + 48u * sb;
  it.d8 = ld_f32(mp);
  it.bs0 = float(ld_i32(mp + 4u + 8u * c));
  it.bs1 = float(ld_i32(mp + 8u + 8u * c));
  [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
    const uint64_t blk = rows[r] + uint64_t(sb) * 144u;
    it.w[r].hd = u32x4_ref(blk).v[0];
    it.w[r].q0 = u32x4_ref(blk + 16u + 32u * c).v[0];
    it.w[r].q1 = u32x4_ref(blk + 32u + 32u * c).v[0];
  }
  return it;
}
void add_item(const item it, inout float acc[ROWS]) {
  const uint c = it.c, j = 2u * c, sh = 8u * (j & 3u);
  [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
    const uvec4 hd = it.w[r].hd, q0 = it.w[r].q0, q1 = it.w[r].q1;
    const float d = h2f(hd.x & 0xffffu), dmin = h2f(hd.x >> 16);
    const uint w0 = hd.y >> sh, w1 = hd.z >> sh, w2 = hd.w >> sh;
    const bool lo = c < 2u;
    const uint sc0 = lo ? (w0 & 63u) : ((w2 & 0xfu) | ((w0 >> 6) & 3u) << 4);
    const uint m0v = lo ? (w1 & 63u) : ((w2 >> 4) & 0xfu | ((w1 >> 6) & 3u) << 4);
    const uint sc1 = lo ? ((w0 >> 8) & 63u) : (((w2 >> 8) & 0xfu) | ((w0 >> 14) & 3u) << 4);
    const uint m1v = lo ? ((w1 >> 8) & 63u) : (((w2 >> 12) & 0xfu) | ((w1 >> 14) & 3u) << 4);
    const int s0 = dot16(q0 & 0x0f0f0f0fu, it.alo0) + dot16(q1 & 0x0f0f0f0fu, it.alo1);
    const int s1 = dot16((q0 >> 4) & 0x0f0f0f0fu, it.ahi0) + dot16((q1 >> 4) & 0x0f0f0f0fu, it.ahi1);
    acc[r] += it.d8 * (d * (float(sc0) * float(s0) + float(sc1) * float(s1)) - dmin * (float(m0v) * it.bs0 + float(m1v) * it.bs1));
  }
}
#elif defined(TYPE_Q4_K)
// Thread (c, h) of a super-block reads bytes [32c + 16h, +16) of qs, whose low nibbles are
// elements 16h.. of sub-block 2c and high nibbles the same of sub-block 2c + 1.
struct wrow { uvec4 hd, q; };
struct item { uvec4 alo, ahi; float d8, bs0, bs1; uint c; wrow w[ROWS]; };
uint n_work(uint K) { return (K / 256u) * 8u; }
item load_item(uint t) {
  item it;
  const uint sb = t >> 3, c = (t >> 1) & 3u, h = t & 1u;
  it.c = c;
  const uint64_t ap = qbase + 256u * sb + 64u * c + 16u * h;
  it.alo = u32x4_ref(ap).v[0];
  it.ahi = u32x4_ref(ap + 32u).v[0];
  const uint64_t mp = mbase + 48u * sb;
  it.d8 = ld_f32(mp);
  // The mins' term needs the sums of whole sub-blocks: the h = 0 thread of each pair adds it.
  it.bs0 = h == 0u ? float(ld_i32(mp + 4u + 8u * c)) : 0.0;
  it.bs1 = h == 0u ? float(ld_i32(mp + 8u + 8u * c)) : 0.0;
  [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
    const uint64_t blk = rows[r] + uint64_t(sb) * 144u;
    it.w[r].hd = u32x4_ref(blk).v[0];
    it.w[r].q = u32x4_ref(blk + 16u + 32u * c + 16u * h).v[0];
  }
  return it;
}
void add_item(const item it, inout float acc[ROWS]) {
  const uint c = it.c, j = 2u * c, sh = 8u * (j & 3u);
  [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
    const uvec4 hd = it.w[r].hd, q = it.w[r].q;
    const float d = h2f(hd.x & 0xffffu), dmin = h2f(hd.x >> 16);
    // Scale / min of sub-blocks j and j + 1 (bytes sh/8 and sh/8 + 1 of the scale words).
    const uint w0 = hd.y >> sh, w1 = hd.z >> sh, w2 = hd.w >> sh;
    const bool lo = c < 2u;
    const uint sc0 = lo ? (w0 & 63u) : ((w2 & 0xfu) | ((w0 >> 6) & 3u) << 4);
    const uint m0v = lo ? (w1 & 63u) : ((w2 >> 4) & 0xfu | ((w1 >> 6) & 3u) << 4);
    const uint sc1 = lo ? ((w0 >> 8) & 63u) : (((w2 >> 8) & 0xfu) | ((w0 >> 14) & 3u) << 4);
    const uint m1v = lo ? ((w1 >> 8) & 63u) : (((w2 >> 12) & 0xfu) | ((w1 >> 14) & 3u) << 4);
    const int s0 = dot16(q & 0x0f0f0f0fu, it.alo);
    const int s1 = dot16((q >> 4) & 0x0f0f0f0fu, it.ahi);
    acc[r] += it.d8 * (d * (float(sc0) * float(s0) + float(sc1) * float(s1)) - dmin * (float(m0v) * it.bs0 + float(m1v) * it.bs1));
  }
}
#elif defined(TYPE_Q6_K)
// 16 threads per super-block: thread (hh, l0) reads ql[64hh + l0 ..+4], ql[64hh + 32 + l0 ..+4] and
// qh[32hh + l0 ..+4]: elements l0.. of the four quarters of half hh (2-byte aligned blocks).
struct wrow { uint L0, L1, H; float d; int c0, c1, c2, c3; };
struct item { uint a0, a1, a2, a3; float d8; wrow w[ROWS]; };
uint n_work(uint K) { return (K / 256u) * 16u; }
item load_item(uint t) {
  item it;
  const uint sb = t >> 4, hh = (t >> 3) & 1u, l0 = 4u * (t & 7u);
  const uint64_t ap = qbase + 256u * sb + 128u * hh + l0;
  it.a0 = u32_ref(ap).v[0];
  it.a1 = u32_ref(ap + 32u).v[0];
  it.a2 = u32_ref(ap + 64u).v[0];
  it.a3 = u32_ref(ap + 96u).v[0];
  it.d8 = ld_f32(mbase + 48u * sb);
  const uint is = 8u * hh + l0 / 16u;
  [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
    const uint64_t blk = rows[r] + uint64_t(sb) * 210u;
    it.w[r].L0 = ld_u32_a2(blk + 64u * hh + l0);
    it.w[r].L1 = ld_u32_a2(blk + 64u * hh + 32u + l0);
    it.w[r].H = ld_u32_a2(blk + 128u + 32u * hh + l0);
    it.w[r].d = ld_f16(blk + 208u);
    const uint64_t scp = blk + 192u + is;
    it.w[r].c0 = ld_i8(scp);
    it.w[r].c1 = ld_i8(scp + 2u);
    it.w[r].c2 = ld_i8(scp + 4u);
    it.w[r].c3 = ld_i8(scp + 6u);
  }
  return it;
}
void add_item(const item it, inout float acc[ROWS]) {
  // 32 times the sums of the activations (the offset of the 6-bit quants)
  const int o0 = 32 * sdot4(0x01010101u, it.a0, 0), o1 = 32 * sdot4(0x01010101u, it.a1, 0);
  const int o2 = 32 * sdot4(0x01010101u, it.a2, 0), o3 = 32 * sdot4(0x01010101u, it.a3, 0);
  [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
    const uint L0 = it.w[r].L0, L1 = it.w[r].L1, H = it.w[r].H;
    // 6-bit q = low/high nibble of ql | 2 bits of qh << 4, four to a word.
    const uint w0 = (L0 & 0x0f0f0f0fu) | ((H << 4) & 0x30303030u);
    const uint w1 = (L1 & 0x0f0f0f0fu) | ((H << 2) & 0x30303030u);
    const uint w2 = ((L0 >> 4) & 0x0f0f0f0fu) | (H & 0x30303030u);
    const uint w3 = ((L1 >> 4) & 0x0f0f0f0fu) | ((H >> 2) & 0x30303030u);
    acc[r] += it.d8 * it.w[r].d *
              (float(it.w[r].c0) * float(sdot4(w0, it.a0, 0) - o0) + float(it.w[r].c1) * float(sdot4(w1, it.a1, 0) - o1) +
               float(it.w[r].c2) * float(sdot4(w2, it.a2, 0) - o2) + float(it.w[r].c3) * float(sdot4(w3, it.a3, 0) - o3));
  }
}
#elif defined(TYPE_Q4_0) || defined(TYPE_Q4_1) || defined(TYPE_Q5_0) || defined(TYPE_Q5_1) || defined(TYPE_Q8_0)
#if defined(TYPE_Q4_0)
#define OFFSET_Q 8
#define BLK_BYTES 18u
#define QS_OFF 2u
#elif defined(TYPE_Q4_1)
#define BLK_BYTES 20u
#define QS_OFF 4u
#elif defined(TYPE_Q5_0)
#define OFFSET_Q 16
#define BLK_BYTES 22u
#define QS_OFF 6u
#define QH_OFF 2u
#elif defined(TYPE_Q5_1)
#define BLK_BYTES 24u
#define QS_OFF 8u
#define QH_OFF 4u
#elif defined(TYPE_Q8_0)
#define BLK_BYTES 34u
#define QS_OFF 2u
#endif
// 2 threads per block of 32: thread p takes elements 8p..8p+7 and 16+8p..16+8p+7, for the 4-bit
// types the low and high nibbles of qs[8p ..+8], for Q8_0 qs[8p ..+8] and qs[16 + 8p ..+8].
// The blocks' scales: d per block of q8_0 / q8_1 at mbase, d * sum(q) of q8_1 at sbase.
uint64_t sbase;
struct wrow {
  float d;
  uint x0, x1;
#if defined(TYPE_Q8_0)
  uint x2, x3;
#endif
#if defined(TYPE_Q5_0) || defined(TYPE_Q5_1)
  uint qh;
#endif
#if defined(TYPE_Q4_1) || defined(TYPE_Q5_1)
  float m;
#endif
};
struct item { uvec2 a, b; float d8, s8; wrow w[ROWS]; };
uint n_work(uint K) { return (K / 32u) * 2u; }
item load_item(uint t) {
  item it;
  const uint bi = t >> 1, p = t & 1u;
  const uint64_t ap = qbase + 32u * bi + 8u * p;
  it.a = u32x2_ref(ap).v[0];
  it.b = u32x2_ref(ap + 16u).v[0];
  it.d8 = ld_f32(mbase + 4u * bi);
#if defined(TYPE_Q4_1) || defined(TYPE_Q5_1)
  // The minimum's term d * sum(q8) of the block, added once (by its p = 0 thread).
  it.s8 = p == 0u ? ld_f32(sbase + 4u * bi) : 0.0;
#else
  it.s8 = 0.0;
#endif
  [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
    const uint64_t blk = rows[r] + uint64_t(bi) * BLK_BYTES;
    it.w[r].d = ld_f16(blk);
#if defined(TYPE_Q8_0)
    const uint64_t qp = blk + QS_OFF + 8u * p;
    it.w[r].x0 = ld_u32_a2(qp);
    it.w[r].x1 = ld_u32_a2(qp + 4u);
    it.w[r].x2 = ld_u32_a2(qp + 16u);
    it.w[r].x3 = ld_u32_a2(qp + 20u);
#else
    it.w[r].x0 = ld_u32_a2(blk + QS_OFF + 8u * p);
    it.w[r].x1 = ld_u32_a2(blk + QS_OFF + 4u + 8u * p);
#endif
#if defined(TYPE_Q5_0) || defined(TYPE_Q5_1)
    it.w[r].qh = ld_u32_a2(blk + QH_OFF) >> (8u * p);
#endif
#if defined(TYPE_Q4_1) || defined(TYPE_Q5_1)
    it.w[r].m = ld_f16(blk + 2u);
#endif
  }
  return it;
}
void add_item(const item it, inout float acc[ROWS]) {
  const uvec2 a = it.a, b = it.b;
#if defined(TYPE_Q4_0) || defined(TYPE_Q5_0)
  const int off = OFFSET_Q * (sdot4(0x01010101u, a.x, 0) + sdot4(0x01010101u, a.y, 0) +
                                           sdot4(0x01010101u, b.x, 0) + sdot4(0x01010101u, b.y, 0));
#endif
  [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
    const float d = it.w[r].d;
#if defined(TYPE_Q8_0)
    const int s = sdot4(it.w[r].x0, a.x, 0) + sdot4(it.w[r].x1, a.y, 0) + sdot4(it.w[r].x2, b.x, 0) + sdot4(it.w[r].x3, b.y, 0);
#else
    const uint x0 = it.w[r].x0, x1 = it.w[r].x1;
    uint l0 = x0 & 0x0f0f0f0fu, l1 = x1 & 0x0f0f0f0fu, h0 = (x0 >> 4) & 0x0f0f0f0fu, h1 = (x1 >> 4) & 0x0f0f0f0fu;
#if defined(TYPE_Q5_0) || defined(TYPE_Q5_1)
    const uint qh = it.w[r].qh;
    l0 |= hbits(qh); l1 |= hbits(qh >> 4); h0 |= hbits(qh >> 16); h1 |= hbits(qh >> 20);
#endif
    const int s = sdot4(l0, a.x, 0) + sdot4(l1, a.y, 0) + sdot4(h0, b.x, 0) + sdot4(h1, b.y, 0);
#endif
#if defined(TYPE_Q4_0) || defined(TYPE_Q5_0)
    acc[r] += d * it.d8 * float(s - off);
#elif defined(TYPE_Q4_1) || defined(TYPE_Q5_1)
    acc[r] += d * it.d8 * float(s) + it.w[r].m * it.s8;
#else
    acc[r] += d * it.d8 * float(s);
#endif
  }
}
#endif

void main() {
#ifdef GLU_ROUND
  // Gate (t[0] -> t[2]) and up (t[1] -> t[3]) products in one dispatch, u[1] workgroups each.
  uint wg = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
  const bool second = wg >= ARGS.u[1];
  if (second) wg -= ARGS.u[1];
  const tdesc A = ARGS.t[second ? 1u : 0u];
  const tdesc D = ARGS.t[second ? 3u : 2u];
  const uint Kp = ARGS.u[0];
  const uint M = A.ne[1];
  const uint m0 = wg * ROWS;
#else
  const tdesc A = ARGS.t[0];
  const tdesc D = ARGS.t[4];
  const uint Kp = ARGS.u[0];
  const uint M = A.ne[1];
  const uint m0 = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * ROWS;
#endif
  if (m0 >= M) return;
  const uint z = gl_WorkGroupID.z, b2 = D.ne[2];
  const uint i2 = z % b2, i3 = z / b2;
  const uint64_t row0 = row_addr(A, m0, i2 / (b2 / A.ne[2]), i3 / (D.ne[3] / A.ne[3]));
  const uint tid = gl_LocalInvocationID.x;
  qbase = ARGS.aux[2] + uint64_t(Kp) * z;
#if defined(TYPE_Q4_K) || defined(TYPE_Q6_K)
  mbase = ARGS.aux[3] + uint64_t(48u) * (Kp / 256u) * z;
#else
  mbase = ARGS.aux[3] + uint64_t(4u) * (Kp / 32u) * z;
#if defined(TYPE_Q4_1) || defined(TYPE_Q5_1)
  sbase = ARGS.aux[1] + uint64_t(4u) * (Kp / 32u) * z;
#endif
#endif
  [[unroll]] for (uint r = 0u; r < ROWS; ++r) rows[r] = row0 + uint64_t(min(r, M - 1u - m0)) * A.nb[1];
  float acc[ROWS];
  [[unroll]] for (uint r = 0u; r < ROWS; ++r) acc[r] = 0.0;

  // Items t, t + WG, ... in this order (the float sums as with BATCH 1). BATCH > 1: the loads of
  // BATCH items are all issued before their arithmetic, so a thread waits on one memory round trip
  // per BATCH items instead of one per item (the weight bytes in flight per SM are what bounds a
  // product of one column; the host picks these variants only when a thread has several items).
  const uint nw = n_work(A.ne[0]);
  uint t = tid;
#if BATCH > 1
  for (; t + uint(BATCH - 1) * WG < nw; t += uint(BATCH) * WG) {
    item it[BATCH];
    [[unroll]] for (uint b = 0u; b < uint(BATCH); ++b) it[b] = load_item(t + b * WG);
    [[unroll]] for (uint b = 0u; b < uint(BATCH); ++b) add_item(it[b], acc);
  }
#endif
  for (; t < nw; t += WG) add_item(load_item(t), acc);

  [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
    const float s = subgroupAdd(acc[r]);
    if (subgroupElect()) red[gl_SubgroupID * ROWS + r] = s;
  }
  barrier();
#if defined(GLU_ROUND)
  if (tid < ROWS && m0 + tid < M) {
    float s = 0.0;
    for (uint i = 0u; i < gl_NumSubgroups; ++i) s += red[i * ROWS + tid];
    cf32_ref(D.addr).v[m0 + tid] = s;
  }
  glu_round(m0 / 256u, tid);
#elif defined(ROPE_STORE)
  // One token's product, roped (bit 1) and / or stored into its KV cache row (bit 4): see the top.
  const uint fl = ARGS.u[5];
  if (tid < ROWS) {
    float s = 0.0;
    for (uint i = 0u; i < gl_NumSubgroups; ++i) s += red[i * ROWS + tid];
    fin[tid] = s;
  }
  barrier();
  const uint m = m0 + tid;
  if (tid < ROWS && m < M) {
    float y = fin[tid];
    const uint i0 = m % uint(ARGS.p[1]);
    if ((fl & 1u) != 0u && i0 < uint(ARGS.p[0])) {
      const uint ip = i0 / 2u;
      const int pos = ld_i32(ARGS.t[1].addr);
      const float f = (fl & 2u) != 0u ? ld_f32(ARGS.t[2].addr + uint64_t(4u) * ip) : 1.0;
      float c, sn;
      rope_cs(pos, ip, uintBitsToFloat(ARGS.u[1]), f, intBitsToFloat(ARGS.p[4]), intBitsToFloat(ARGS.p[5]), uintBitsToFloat(ARGS.u[2]),
              uintBitsToFloat(ARGS.u[3]), uintBitsToFloat(ARGS.u[4]), c, sn);
      const float x0 = fin[tid & ~1u], x1 = fin[tid | 1u];
      y = (i0 & 1u) == 0u ? x0 * c - x1 * sn : x0 * sn + x1 * c;
    }
    st_f32(D.addr + uint64_t(4u) * m, y);
    if ((fl & 4u) != 0u) {
      const int id = ld_i32(ARGS.t[3].addr);
      if (id >= 0 && uint(id) < ARGS.u[7]) {
        const uint64_t dst = ARGS.aux[0] + uint64_t(id) * ARGS.u[6];
        if ((fl & 8u) != 0u) u16_ref(dst).v[m] = uint16_t(f2h(y));
        else f32_ref(dst).v[m] = y;
      }
    }
  }
#else
  if (tid < ROWS && m0 + tid < M) {
    float s = 0.0;
    for (uint i = 0u; i < gl_NumSubgroups; ++i) s += red[i * ROWS + tid];
    st_f32(D.addr + uint64_t(4u) * (m0 + tid) + uint64_t(i2) * D.nb[2] + uint64_t(i3) * D.nb[3], s);
  }
#endif
}
