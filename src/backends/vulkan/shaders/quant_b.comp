#version 460
// Rounds the activations B of a matrix product to vec_dot_type(A) exactly as the CPU reference
// does (q8_0 / q8_1 / q8_K blocks, f16, bf16) and writes them back as floats, contiguous rows of
// u[0] (K rounded up to 16, zero padded) at aux[0]. For q8_1, aux[1] receives each block's f16 sum.
// u[7] = 1: also the int8 values and block scales for the integer dot products (matvec_dp.comp).
// u[6] = 1: B is the swiglu of t[2] and t[3], computed here (as eltwise.comp) and also stored in B.
// NORM_ROUND (variants quant_b_norm_*, so the plain rounding keeps a shader without it), u[5] bit 1:
// B is the normalised row (u[4] = 0 rms_norm, 1 norm; eps in p[0]) of t[2] (bit 2: of
// t[2] + t[3], that sum also stored in the contiguous rows at the address u[2] | u[3] << 32) times
// the weight row t[0] (bit 8: stored in B; bit 4: the norm before the weight stored in t[4]). K is
// then a multiple of 256, so a workgroup's elements lie in one row: every workgroup sums its whole
// row (the same order as norm.comp) and normalises and rounds its own 256 elements, so the rounding
// runs in as many workgroups as blocks. No stored output may overlap t[0], t[2] or t[3] (other
// workgroups read them whole).
#include "common.glsl"
layout(local_size_x = 256) in;
#include "reduce.glsl"
#include "q8_round.glsl"

#if defined(ACT_Q8_0) || defined(ACT_Q8_1)
#define BLKA 32u
#elif defined(ACT_Q8_K)
#define BLKA 256u
#endif

shared float sh_a[256];
shared float sh_mx;  // the signed value of a q8_K block's first largest magnitude
shared uint sh_i[256];

void main() {
  const tdesc B = ARGS.t[1];
  const uint Kp = ARGS.u[0], K = B.ne[0];
  const uint n_rows = B.ne[1] * B.ne[2] * B.ne[3];
  const uint wg = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
  const uint tid = gl_LocalInvocationID.x;
  if (wg * 256u >= n_rows * Kp) return;
  const uint e = wg * 256u + tid;
  const uint r = e / Kp, k = e % Kp;
  const bool valid = r < n_rows && k < K;
  float x = 0.0;
  if (valid) {
    const uint i1 = r % B.ne[1], i2 = (r / B.ne[1]) % B.ne[2], i3 = r / (B.ne[1] * B.ne[2]);
#ifdef NORM_ROUND
    if ((ARGS.u[5] & 1u) != 0u) {
      const uint64_t xr = row_addr(ARGS.t[2], i1, i2, i3), rr = row_addr(ARGS.t[3], i1, i2, i3);
      const bool add = (ARGS.u[5] & 2u) != 0u;
      const float wk = ld_f32(ARGS.t[0].addr + 4u * k);  // loaded with the row, not after the stores
      float s = 0.0, v = 0.0;
      for (uint i = tid; i < K; i += 256u) {
        const float vi = add ? ld_f32(xr + 4u * i) + ld_f32(rr + 4u * i) : ld_f32(xr + 4u * i);
        s += ARGS.u[4] == 0u ? vi * vi : vi;
        if (i == k) v = vi;  // this thread's element (k = tid modulo 256)
      }
      s = wg_sum(s);
      float mean = 0.0, scale;
      if (ARGS.u[4] == 0u) {
        scale = 1.0 / sqrt(s / float(K) + intBitsToFloat(ARGS.p[0]));
      } else {
        mean = s / float(K);
        float var = 0.0;
        for (uint i = tid; i < K; i += 256u) {
          const float v = (add ? ld_f32(xr + 4u * i) + ld_f32(rr + 4u * i) : ld_f32(xr + 4u * i)) - mean;
          var += v * v;
        }
        var = wg_sum(var);
        scale = 1.0 / sqrt(var / float(K) + intBitsToFloat(ARGS.p[0]));
      }
      if (add) st_f32((uint64_t(ARGS.u[3]) << 32 | uint64_t(ARGS.u[2])) + uint64_t(4u) * (uint64_t(r) * K + k), v);
      const float y = ARGS.u[4] == 0u ? v * scale : (v - mean) * scale;
      if ((ARGS.u[5] & 4u) != 0u) st_f32(elem_addr(ARGS.t[4], k, i1, i2, i3), y);
      x = y * wk;
      if ((ARGS.u[5] & 8u) != 0u) st_f32(elem_addr(B, k, i1, i2, i3), x);
    } else
#endif
    if (ARGS.u[6] != 0u) {
      const float g = ld_f32(elem_addr(ARGS.t[2], k, i1, i2, i3));
      x = g / (1.0 + exp(-g)) * ld_f32(elem_addr(ARGS.t[3], k, i1, i2, i3));
      st_f32(elem_addr(B, k, i1, i2, i3), x);
    } else {
      x = ld_f32(elem_addr(B, k, i1, i2, i3));
    }
  }
  float y;
#if defined(ACT_F32)
  y = x;
#elif defined(ACT_F16)
  y = round_f16(x);
#elif defined(ACT_BF16)
  y = bf2f(f2bf(x));
#else
  const uint base = tid - tid % BLKA;
#if defined(ACT_Q8_K)
  // The block is the workgroup: its largest magnitude and the signed value of the first element
  // that has it, through subgroup operations (a few barriers instead of a tree of 16).
  const float amax = wg_max(abs(x));
  const uint first = wg_min_u(abs(x) == amax ? tid : 0xffffffffu);
  if (tid == first) sh_mx = x;
  barrier();
  const float mx = sh_mx;
  int q = 0;
  float d = 0.0;
  if (amax == 0.0) {
    y = 0.0;
  } else {
    const float iscale = q8_k_iscale(mx);
    q = q8_k_value(x, iscale);
    d = q8_k_d(iscale);
    y = d * float(q);
  }
  if (ARGS.u[7] != 0u) {
    // Also as q8_K blocks for the integer dot products: the int8 values (rows of Kp bytes at
    // aux[2]) and per block of 256 (48 bytes at aux[3]) d and the sums of its 8 runs of 32.
    sh_i[tid] = uint(q + 128);
    barrier();
    if (r < n_rows) {
      i8_ref(ARGS.aux[2]).v[e] = int8_t(q);
      const uint64_t meta = ARGS.aux[3] + uint64_t(48u) * (r * (Kp / 256u) + k / 256u);
      if (tid % 256u == 0u) st_f32(meta, d);
      if (tid % 32u == 0u) {
        int sum = 0;  // the run of 32 this thread starts, read from shared memory by this thread alone
        for (uint j = 0u; j < 32u; ++j) sum += int(sh_i[tid + j]) - 128;
        i32_ref(meta + 4u + 4u * ((tid % 256u) / 32u)).v[0] = sum;
      }
    }
  }
#else
  // Blocks of 32: each thread reads its block's magnitudes from shared memory (one barrier instead
  // of a tree of five).
  sh_a[tid] = abs(x);
  barrier();
  float amax = 0.0;
  for (uint j = 0u; j < BLKA; ++j) amax = max(amax, sh_a[base + j]);
  const float d = q8_0_scale(amax);
  const int q = q8_0_value(x, amax);
  y = round_f16(d) * float(q);
  if (ARGS.u[7] != 0u && r < n_rows) {
    // Also as int8 blocks for the integer dot products: the values (rows of Kp bytes at aux[2])
    // and per block of 32 its d as a float at aux[3] (q8_1: d * sum(q) at aux[1] as always).
    i8_ref(ARGS.aux[2]).v[e] = int8_t(q);
    if (tid == base) st_f32(ARGS.aux[3] + uint64_t(4u) * (r * (Kp / 32u) + k / 32u), round_f16(d));
  }
#if defined(ACT_Q8_1)
  sh_i[tid] = uint(q + 128);
  barrier();
  if (tid == base && r < n_rows) {
    int sum = 0;
    for (uint j = 0u; j < BLKA; ++j) sum += int(sh_i[base + j]) - 128;
    f32_ref(ARGS.aux[1]).v[r * (Kp / 32u) + k / 32u] = round_f16(d * float(sum));
  }
#endif
#endif
#endif
  if (r < n_rows) f32_ref(ARGS.aux[0]).v[e] = y;
}
