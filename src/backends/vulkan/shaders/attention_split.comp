#version 460
// Attention for few tokens (generation), split over the KV cache: workgroup (head, token, s) takes
// the 128 keys of chunk s, one key per thread for the scores, then the value sum with each thread
// on 4 dimensions of a share of the keys. With one chunk it writes the result; otherwise it writes
// the chunk's unnormalised sum, max and denominator to aux[0] and a second dispatch (u[3] = 1)
// combines the chunks. q = t[0], k = t[1], v = t[2] (u[0] / u[1] = 1: f16 storage), mask = t[3],
// dst = t[4]; u[2] = number of chunks. Rows are 8-byte (f16) or 16-byte (f32) aligned, head sizes
// multiples of 4 (the host checks).
#include "common.glsl"
layout(local_size_x = 128) in;
#include "reduce.glsl"

layout(buffer_reference, scalar, buffer_reference_align = 8) buffer u32x2_ref { uvec2 v[]; };

shared vec4 q_sh[64];
shared float p_sh[128];
shared vec4 acc_sh[128];

vec4 ld4(uint64_t a, bool f16) {
  if (f16) {
    const uvec2 w = u32x2_ref(a).v[0];
    return vec4(h2f(w.x & 0xffffu), h2f(w.x >> 16), h2f(w.y & 0xffffu), h2f(w.y >> 16));
  }
  return f32x4_ref(a).v[0];
}

void combine(const tdesc D, uint h, uint t, uint tid) {
  const uint n_split = ARGS.u[2], hd_v = D.ne[0], n_head = D.ne[1];
  const uint stride = hd_v + 2u;
  const uint64_t base = ARGS.aux[0] + uint64_t(4u) * stride * n_split * (t * n_head + h);
  const float NEG_INF = uintBitsToFloat(0xff800000u);
  float m = NEG_INF;
  for (uint s = 0u; s < n_split; ++s) m = max(m, ld_f32(base + 4u * (s * stride + hd_v)));
  if (isinf(m) && m < 0.0) {  // every key masked: zeros, as the single-pass kernel
    for (uint d = tid; d < hd_v; d += 128u) st_f32(D.addr + uint64_t(h) * D.nb[1] + uint64_t(t) * D.nb[2] + 4u * d, 0.0);
    return;
  }
  float l = 0.0;
  for (uint s = 0u; s < n_split; ++s) {
    const uint64_t ps = base + 4u * (s * stride + hd_v);
    l += ld_f32(ps + 4u) * exp(ld_f32(ps) - m);
  }
  const float inv = l > 0.0 ? 1.0 / l : 0.0;
  for (uint d = tid; d < hd_v; d += 128u) {
    float o = 0.0;
    for (uint s = 0u; s < n_split; ++s) {
      const uint64_t ps = base + 4u * (s * stride);
      o += ld_f32(ps + 4u * d) * exp(ld_f32(ps + 4u * hd_v) - m);
    }
    st_f32(D.addr + uint64_t(h) * D.nb[1] + uint64_t(t) * D.nb[2] + 4u * d, o * inv);
  }
}

void main() {
  const tdesc Q = ARGS.t[0];
  const tdesc K = ARGS.t[1];
  const tdesc V = ARGS.t[2];
  const tdesc Mk = ARGS.t[3];
  const tdesc D = ARGS.t[4];
  const uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y, s = gl_WorkGroupID.z, tid = gl_LocalInvocationID.x;
  if (ARGS.u[3] != 0u) {
    combine(D, h, t, tid);
    return;
  }
  const uint hd = Q.ne[0], hd_v = V.ne[0], n_head = Q.ne[1], n_kv = K.ne[2];
  const uint kh = h / (n_head / K.ne[1]);
  const bool k16 = ARGS.u[0] != 0u, v16 = ARGS.u[1] != 0u;
  const float scale = intBitsToFloat(ARGS.p[0]), cap = intBitsToFloat(ARGS.p[1]);
  const float NEG_INF = uintBitsToFloat(0xff800000u);
  const uint64_t qrow = Q.addr + uint64_t(h) * Q.nb[1] + uint64_t(t) * Q.nb[2];
  if (tid < hd / 4u) q_sh[tid] = f32x4_ref(qrow + 16u * tid).v[0];
  barrier();

  // Scores: one key per thread.
  const uint c0 = 128u * s, j = c0 + tid;
  float sc = NEG_INF;
  if (j < n_kv) {
    const float mv = ld_f32(Mk.addr + uint64_t(t) * Mk.nb[1] + 4u * j);
    if (!(isinf(mv) && mv < 0.0)) {
      const uint64_t krow = K.addr + uint64_t(kh) * K.nb[1] + uint64_t(j) * K.nb[2];
      const uint ksz = k16 ? 8u : 16u;
      vec4 dv = vec4(0.0);
      for (uint d = 0u; d < hd / 4u; ++d) dv += q_sh[d] * ld4(krow + ksz * d, k16);
      sc = ((dv.x + dv.y) + (dv.z + dv.w)) * scale;
      if (cap > 0.0) sc = cap * tanh(sc / cap);
      sc += mv;
    }
  }
  const float m = wg_max(sc);
  const bool none = isinf(m) && m < 0.0;  // every key of the chunk masked (uniform)
  const float p = none || (isinf(sc) && sc < 0.0) ? 0.0 : exp(sc - m);
  p_sh[tid] = p;
  const float l = wg_sum(p);  // its barriers also publish p_sh

  // Values: thread (g, i) sums dimensions 4i..4i+3 over keys g, g + n_g, ... of the chunk. Masked keys
  // have p = 0 and cache cells hold finite values (zeroed at allocation), so none is skipped.
  const uint tpr = hd_v / 4u, n_g = 128u / tpr;
  const uint g = tid / tpr, i = tid % tpr;
  const uint n_c = min(128u, n_kv - c0);
  vec4 acc = vec4(0.0);
  if (g < n_g && !none) {
    const uint64_t vbase = V.addr + uint64_t(kh) * V.nb[1] + (v16 ? 8u : 16u) * i;
    for (uint jj = g; jj < n_c; jj += n_g) acc += p_sh[jj] * ld4(vbase + uint64_t(c0 + jj) * V.nb[2], v16);
  }
  acc_sh[tid] = acc;
  barrier();
  const uint n_split = ARGS.u[2];
  if (tid < tpr) {
    vec4 o = vec4(0.0);
    for (uint gg = 0u; gg < n_g; ++gg) o += acc_sh[gg * tpr + tid];
    if (n_split == 1u) {
      const float inv = l > 0.0 ? 1.0 / l : 0.0;
      f32x4_ref(D.addr + uint64_t(h) * D.nb[1] + uint64_t(t) * D.nb[2] + 16u * tid).v[0] = o * inv;
    } else {
      const uint stride = hd_v + 2u;
      const uint64_t ps = ARGS.aux[0] + uint64_t(4u) * stride * (n_split * (t * n_head + h) + s);
      [[unroll]] for (uint e = 0u; e < 4u; ++e) st_f32(ps + 4u * (4u * tid + e), o[e]);
      if (tid == 0u) {
        st_f32(ps + 4u * hd_v, m);
        st_f32(ps + 4u * hd_v + 4u, l);
      }
    }
  }
}
