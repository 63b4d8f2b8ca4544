// Dequantization of 16 consecutive elements (group g of a row) for the weight type selected by
// TYPE_*, written exactly as the scalar reference (src/formats/quants*.cpp) computes each value.
// dq16 gives the values; for Q4_1/Q5_1 dq16_scaled gives d*q and block_min the block's m (the
// products add m * s of the activation block separately, as the reference does).
// DQ_K must hold the row length (used by the float types for the tail).
uint DQ_K;

#if defined(TYPE_F32) || defined(TYPE_F16) || defined(TYPE_BF16)
#define BLK 1
#define FLOAT_TYPE 1
#elif defined(TYPE_Q4_0) || defined(TYPE_Q4_1) || defined(TYPE_Q5_0) || defined(TYPE_Q5_1) || defined(TYPE_Q8_0) || defined(TYPE_IQ4_NL)
#define BLK 32
#else
#define BLK 256
#endif

#if defined(TYPE_Q4_1) || defined(TYPE_Q5_1)
#define HAS_MIN 1
#endif

#if defined(TYPE_IQ4_NL) || defined(TYPE_IQ4_XS)
const int kvalues_iq4nl[16] = int[16](-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
#endif

#if defined(TYPE_F32)
#define BLK_BYTES 4
#elif defined(TYPE_F16) || defined(TYPE_BF16)
#define BLK_BYTES 2
#elif defined(TYPE_Q4_0) || defined(TYPE_IQ4_NL)
#define BLK_BYTES 18
#elif defined(TYPE_Q4_1)
#define BLK_BYTES 20
#elif defined(TYPE_Q5_0)
#define BLK_BYTES 22
#elif defined(TYPE_Q5_1)
#define BLK_BYTES 24
#elif defined(TYPE_Q8_0)
#define BLK_BYTES 34
#elif defined(TYPE_Q2_K)
#define BLK_BYTES 84
#elif defined(TYPE_Q3_K)
#define BLK_BYTES 110
#elif defined(TYPE_Q4_K)
#define BLK_BYTES 144
#elif defined(TYPE_Q5_K)
#define BLK_BYTES 176
#elif defined(TYPE_Q6_K)
#define BLK_BYTES 210
#elif defined(TYPE_IQ4_XS)
#define BLK_BYTES 136
#endif

#if defined(TYPE_Q4_K) || defined(TYPE_Q5_K)
// Scale and min of sub-block j from the 12 scale bytes at s (4-byte aligned), without branches.
void k4_scale_min(uint64_t s, uint j, out uint sc, out uint m) {
  const uint w0 = u32_ref(s).v[0], w1 = u32_ref(s).v[1], w2 = u32_ref(s).v[2];
  const uint sh = 8u * (j & 3u);
  const uint b0 = (w0 >> sh) & 0xffu, b1 = (w1 >> sh) & 0xffu, b2 = (w2 >> sh) & 0xffu;
  const uint sc_lo = b0 & 63u, m_lo = b1 & 63u;
  const uint sc_hi = (b2 & 0xfu) | ((b0 >> 6) << 4), m_hi = (b2 >> 4) | ((b1 >> 6) << 4);
  sc = j < 4u ? sc_lo : sc_hi;
  m = j < 4u ? m_lo : m_hi;
}
#endif

// 16 consecutive bytes at a 2- or 4-byte aligned address, with 8 or 4 wide loads.
void ld16_a2(uint64_t a, out uint b[16]) {
  [[unroll]] for (uint i = 0u; i < 8u; ++i) {
    const uint w = uint(u16_ref(a).v[i]);
    b[2u * i] = w & 0xffu;
    b[2u * i + 1u] = w >> 8;
  }
}
void ld16_a4(uint64_t a, out uint b[16]) {
  [[unroll]] for (uint i = 0u; i < 4u; ++i) {
    const uint w = u32_ref(a).v[i];
    b[4u * i] = w & 0xffu;
    b[4u * i + 1u] = (w >> 8) & 0xffu;
    b[4u * i + 2u] = (w >> 16) & 0xffu;
    b[4u * i + 3u] = w >> 24;
  }
}
int sext8(uint b) { return int(b << 24) >> 24; }

#ifdef HAS_MIN
float block_min(uint64_t row, uint b) { return ld_f16(row + uint64_t(b) * BLK_BYTES + 2u); }
#endif

// Values of group g of the row at address row. For HAS_MIN types, without the block minimum.
void dq16_scaled(uint64_t row, uint g, out float v[16]) {
#if defined(TYPE_F32)
  for (uint j = 0u; j < 16u; ++j) {
    const uint e = 16u * g + j;
    v[j] = e < DQ_K ? ld_f32(row + 4u * e) : 0.0;
  }
#elif defined(TYPE_F16)
  for (uint j = 0u; j < 16u; ++j) {
    const uint e = 16u * g + j;
    v[j] = e < DQ_K ? ld_f16(row + 2u * e) : 0.0;
  }
#elif defined(TYPE_BF16)
  for (uint j = 0u; j < 16u; ++j) {
    const uint e = 16u * g + j;
    v[j] = e < DQ_K ? bf2f(ld_u16(row + 2u * e)) : 0.0;
  }
#elif BLK == 32
  const uint64_t blk = row + uint64_t(g >> 1) * BLK_BYTES;
  const uint hi = g & 1u;
  const float d = ld_f16(blk);
#if defined(TYPE_Q4_0)
  uint qb[16];
  ld16_a2(blk + 2u, qb);
  [[unroll]] for (uint j = 0u; j < 16u; ++j) v[j] = float(int(hi != 0u ? qb[j] >> 4 : qb[j] & 15u) - 8) * d;
#elif defined(TYPE_IQ4_NL)
  uint qb[16];
  ld16_a2(blk + 2u, qb);
  [[unroll]] for (uint j = 0u; j < 16u; ++j) v[j] = d * float(kvalues_iq4nl[hi != 0u ? qb[j] >> 4 : qb[j] & 15u]);
#elif defined(TYPE_Q4_1)
  uint qb[16];
  ld16_a4(blk + 4u, qb);
  [[unroll]] for (uint j = 0u; j < 16u; ++j) v[j] = float(hi != 0u ? qb[j] >> 4 : qb[j] & 15u) * d;
#elif defined(TYPE_Q5_0) || defined(TYPE_Q5_1)
#if defined(TYPE_Q5_0)
  const uint64_t qhp = blk + 2u, qsp = blk + 6u;
#else
  const uint64_t qhp = blk + 4u, qsp = blk + 8u;
#endif
  const uint qh = ld_u8(qhp) | (ld_u8(qhp + 1u) << 8) | (ld_u8(qhp + 2u) << 16) | (ld_u8(qhp + 3u) << 24);
  uint qb[16];
#if defined(TYPE_Q5_0)
  ld16_a2(qsp, qb);
#else
  ld16_a4(qsp, qb);
#endif
  [[unroll]] for (uint j = 0u; j < 16u; ++j) {
    const uint q = qb[j];
    uint x;
    if (hi == 0u) x = (q & 15u) | (((qh >> j) << 4) & 0x10u);
    else x = (q >> 4) | ((qh >> (j + 12u)) & 0x10u);
#if defined(TYPE_Q5_0)
    v[j] = float(int(x) - 16) * d;
#else
    v[j] = float(x) * d;
#endif
  }
#elif defined(TYPE_Q8_0)
  uint qb[16];
  ld16_a2(blk + 2u + 16u * hi, qb);
  [[unroll]] for (uint j = 0u; j < 16u; ++j) v[j] = float(sext8(qb[j])) * d;
#endif
#else  // K-quants and IQ4_XS: super-blocks of 256, 16 groups each
  const uint64_t blk = row + uint64_t(g >> 4) * BLK_BYTES;
  const uint gg = g & 15u;
#if defined(TYPE_Q2_K)
  const float d = ld_f16(blk + 80u), dmin = ld_f16(blk + 82u);
  const uint sc = ld_u8(blk + gg);
  const uint half_ = gg >> 3, shift = 2u * ((gg & 7u) >> 1), l0 = 16u * (gg & 1u);
  const float dl = d * float(sc & 0xfu), ml = dmin * float(sc >> 4);
  uint qb[16];
  ld16_a4(blk + 16u + 32u * half_ + l0, qb);
  [[unroll]] for (uint j = 0u; j < 16u; ++j) v[j] = dl * float((qb[j] >> shift) & 3u) - ml;
#elif defined(TYPE_Q3_K)
  const float d = ld_f16(blk + 108u);
  const uint64_t s = blk + 96u;
  const uint lo = gg < 8u ? (ld_u8(s + gg) & 0xfu) : (ld_u8(s + gg - 8u) >> 4);
  const int scale = int(lo | (((ld_u8(s + 8u + (gg & 3u)) >> (2u * (gg >> 2))) & 3u) << 4)) - 32;
  const float dl = d * float(scale);
  const uint half_ = gg >> 3, shift = 2u * ((gg & 7u) >> 1), l0 = 16u * (gg & 1u), hb = gg >> 1;
  uint qb[16], hm[16];
  ld16_a2(blk + 32u + 32u * half_ + l0, qb);
  ld16_a2(blk + l0, hm);
  [[unroll]] for (uint j = 0u; j < 16u; ++j) v[j] = dl * float(int((qb[j] >> shift) & 3u) - (((hm[j] >> hb) & 1u) != 0u ? 0 : 4));
#elif defined(TYPE_Q4_K) || defined(TYPE_Q5_K)
  const uint dd = u32_ref(blk).v[0];
  const float d = h2f(dd & 0xffffu), dmin = h2f(dd >> 16);
  const uint j8 = gg >> 1;
  uint sc, m;
  k4_scale_min(blk + 4u, j8, sc, m);
  const float dl = d * float(sc), ml = dmin * float(m);
  const uint l0 = 16u * (gg & 1u), shift = 4u * (j8 & 1u);
#if defined(TYPE_Q4_K)
  const uint64_t q = blk + 16u + 32u * (j8 >> 1);
  uint qb[16];
  ld16_a4(q + l0, qb);
  [[unroll]] for (uint j = 0u; j < 16u; ++j) v[j] = dl * float((qb[j] >> shift) & 0xfu) - ml;
#else
  const uint64_t q = blk + 48u + 32u * (j8 >> 1);
  uint qb[16], qh[16];
  ld16_a4(q + l0, qb);
  ld16_a4(blk + 16u + l0, qh);
  [[unroll]] for (uint j = 0u; j < 16u; ++j) v[j] = dl * float(((qb[j] >> shift) & 0xfu) | (((qh[j] >> j8) & 1u) << 4)) - ml;
#endif
#elif defined(TYPE_Q6_K)
  const float d = ld_f16(blk + 208u);
  const float dl = d * float(ld_i8(blk + 192u + gg));
  const uint h = gg >> 3, k = (gg & 7u) >> 1, l0 = 16u * (gg & 1u);
  uint ql[16], qh[16];
  ld16_a2(blk + 64u * h + 32u * (k & 1u) + l0, ql);
  ld16_a2(blk + 128u + 32u * h + l0, qh);
  const uint sl = 4u * (k >> 1), shh = 2u * k;
  [[unroll]] for (uint j = 0u; j < 16u; ++j) v[j] = dl * float(int(((ql[j] >> sl) & 0xfu) | (((qh[j] >> shh) & 3u) << 4)) - 32);
#elif defined(TYPE_IQ4_XS)
  const float d = ld_f16(blk);
  const uint ib = gg >> 1;
  const uint sh = ld_u16(blk + 2u);
  const int ls = int(((ld_u8(blk + 4u + (ib >> 1)) >> (4u * (ib & 1u))) & 0xfu) | (((sh >> (2u * ib)) & 3u) << 4)) - 32;
  const float dl = d * float(ls);
  const uint hi = gg & 1u;
  uint qb[16];
  ld16_a4(blk + 8u + 16u * ib, qb);
  [[unroll]] for (uint j = 0u; j < 16u; ++j) v[j] = dl * float(kvalues_iq4nl[hi != 0u ? qb[j] >> 4 : qb[j] & 15u]);
#endif
#endif
}

void dq16(uint64_t row, uint g, out float v[16]) {
  dq16_scaled(row, g, v);
#ifdef HAS_MIN
  const float m = block_min(row, g >> 1);
  for (uint j = 0u; j < 16u; ++j) v[j] += m;
#endif
}
