#version 460
// Row-wise ops, one workgroup per row of t[0]: u[0] = 0 rms_norm, 1 norm, 2 softmax (u[1] = 1: with
// the mask t[1], row i1 of the mask for row i1 of the input). The norms fuse their neighbours
// (u[2] bits, rows of at most 256 * FUSE_MAX): 1 = the input is t[0] + t[1], the sum also stored in
// the contiguous rows at aux[0]; 2 = the result times the row t[2] also stored in t[3]; 4 = that
// product also rounded to q8_K in rows of u[3] floats at aux[1] (quant_b's output). A fused row
// is read whole into registers before anything is written, so outputs may reuse the inputs' memory.
#include "common.glsl"
layout(local_size_x = 256) in;
#define FUSE_MAX 32u
shared float mx_sh;
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
  const uint fuse = ARGS.u[2];
  if (fuse != 0u) {
    float v[FUSE_MAX];
    float s = 0.0;
    const uint64_t b = row_addr(ARGS.t[1], i1, i2, i3);
    [[unroll]] for (uint k = 0u; k < FUSE_MAX; ++k) {
      const uint i = tid + 256u * k;
      v[k] = 0.0;
      if (i < n) v[k] = (fuse & 1u) != 0u ? ld_f32(x + 4u * i) + ld_f32(b + 4u * i) : ld_f32(x + 4u * i);
      s += opc == 0u ? v[k] * v[k] : v[k];
    }
    s = wg_sum(s);
    float mean = 0.0, scale;
    if (opc == 0u) {
      scale = 1.0 / sqrt(s / float(n) + eps);
    } else {
      mean = s / float(n);
      float var = 0.0;
      [[unroll]] for (uint k = 0u; k < FUSE_MAX; ++k)
        if (tid + 256u * k < n) var += (v[k] - mean) * (v[k] - mean);
      var = wg_sum(var);
      scale = 1.0 / sqrt(var / float(n) + eps);
    }
    const uint64_t sum = ARGS.aux[0] + uint64_t(4u) * n * row;
    const uint64_t w = ARGS.t[2].addr, z = row_addr(ARGS.t[3], i1, i2, i3);
    [[unroll]] for (uint k = 0u; k < FUSE_MAX; ++k) {
      const uint i = tid + 256u * k;
      if (i >= n) break;
      if ((fuse & 1u) != 0u) st_f32(sum + 4u * i, v[k]);
      const float r = opc == 0u ? v[k] * scale : (v[k] - mean) * scale;
      st_f32(y + 4u * i, r);
      v[k] = r;
      if ((fuse & 2u) != 0u) {
        v[k] = r * ld_f32(w + 4u * i);
        st_f32(z + 4u * i, v[k]);
      }
    }
    if ((fuse & 4u) != 0u) {
      // The product rounded to q8_K blocks for the matrix products that read it, exactly as
      // quant_b.comp does (n is a multiple of 256: block k is every thread's element k).
      const uint64_t qrow = ARGS.aux[1] + uint64_t(4u) * ARGS.u[3] * row;
      [[unroll]] for (uint k = 0u; k < FUSE_MAX; ++k) {
        if (k >= n / 256u) break;  // uniform
        const float amax = wg_max(abs(v[k]));
        const uint first = wg_min_u(abs(v[k]) == amax ? tid : 0xffffffffu);
        if (tid == first) mx_sh = v[k];
        barrier();
        float q = 0.0;
        if (amax != 0.0) {
          const float iscale = div_rn(-127.0, mx_sh);
          q = div_rn(1.0, iscale) * float(clamp(int(roundEven(iscale * v[k])), -128, 127));
        }
        st_f32(qrow + 4u * (tid + 256u * k), q);
      }
    }
    return;
  }
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
