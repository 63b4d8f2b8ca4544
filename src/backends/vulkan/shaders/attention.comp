#version 460
// Fused attention for one (head, token) per workgroup: online softmax over the KV cache in chunks
// of 128 keys (one key per thread), optional soft-cap, additive mask (-inf skips a key), weighted
// sum of values. q = t[0], k = t[1], v = t[2] (u[0] / u[1] = 1: f16 storage), mask = t[3], dst = t[4].
#include "common.glsl"
layout(local_size_x = 128) in;
#include "reduce.glsl"

shared float q_sh[256];
shared float p_sh[128];

float ld_kv(uint64_t a, bool f16) { return f16 ? ld_f16(a) : ld_f32(a); }

void main() {
  const tdesc Q = ARGS.t[0];
  const tdesc K = ARGS.t[1];
  const tdesc V = ARGS.t[2];
  const tdesc Mk = ARGS.t[3];
  const tdesc D = ARGS.t[4];
  const uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y, tid = gl_LocalInvocationID.x;
  const uint hd = Q.ne[0], hd_v = V.ne[0], n_head = Q.ne[1], n_kv = K.ne[2];
  const uint kh = h / (n_head / K.ne[1]);
  const bool k16 = ARGS.u[0] != 0u, v16 = ARGS.u[1] != 0u;
  const uint ksz = k16 ? 2u : 4u, vsz = v16 ? 2u : 4u;
  const float scale = intBitsToFloat(ARGS.p[0]), cap = intBitsToFloat(ARGS.p[1]);
  const float NEG_INF = uintBitsToFloat(0xff800000u);
  const uint64_t qrow = Q.addr + uint64_t(h) * Q.nb[1] + uint64_t(t) * Q.nb[2];
  for (uint d = tid; d < hd; d += 128u) q_sh[d] = ld_f32(qrow + 4u * d);
  const uint64_t mrow = Mk.addr + uint64_t(t) * Mk.nb[1];
  const uint64_t kbase = K.addr + uint64_t(kh) * K.nb[1];
  const uint64_t vbase = V.addr + uint64_t(kh) * V.nb[1];
  barrier();
  float acc0 = 0.0, acc1 = 0.0;  // dims tid and tid + 128
  float m_run = NEG_INF, l_part = 0.0;
  for (uint c0 = 0u; c0 < n_kv; c0 += 128u) {
    const uint j = c0 + tid;
    float s = NEG_INF;
    if (j < n_kv) {
      const float mv = ld_f32(mrow + 4u * j);
      if (!(isinf(mv) && mv < 0.0)) {
        const uint64_t krow = kbase + uint64_t(j) * K.nb[2];
        // Four independent sums, loads without branches in between (they overlap in flight).
        vec4 dv = vec4(0.0);
        if (k16) {
          for (uint d = 0u; d + 4u <= hd; d += 4u) {
            u16_ref kp = u16_ref(krow + 2u * d);
            dv += vec4(q_sh[d], q_sh[d + 1u], q_sh[d + 2u], q_sh[d + 3u]) *
                  vec4(h2f(uint(kp.v[0])), h2f(uint(kp.v[1])), h2f(uint(kp.v[2])), h2f(uint(kp.v[3])));
          }
        } else {
          for (uint d = 0u; d + 4u <= hd; d += 4u) {
            f32_ref kp = f32_ref(krow + 4u * d);
            dv += vec4(q_sh[d], q_sh[d + 1u], q_sh[d + 2u], q_sh[d + 3u]) * vec4(kp.v[0], kp.v[1], kp.v[2], kp.v[3]);
          }
        }
        float dotv = (dv.x + dv.y) + (dv.z + dv.w);
        for (uint d = hd & ~3u; d < hd; ++d) dotv += q_sh[d] * ld_kv(krow + ksz * d, k16);
        s = dotv * scale;
        if (cap > 0.0) s = cap * tanh(s / cap);
        s += mv;
      }
    }
    const float cm = wg_max(s);
    const float new_m = max(m_run, cm);
    if (isinf(new_m) && new_m < 0.0) continue;  // nothing visible yet (uniform)
    const float p = (isinf(s) && s < 0.0) ? 0.0 : exp(s - new_m);
    const float corr = (isinf(m_run) && m_run < 0.0) ? 0.0 : exp(m_run - new_m);
    l_part = l_part * corr + p;
    p_sh[tid] = p;
    barrier();
    acc0 *= corr;
    acc1 *= corr;
    const uint n_c = min(128u, n_kv - c0);
    // Masked keys have p = 0 and cache cells hold finite values (zeroed at allocation), so every
    // key is summed without a branch.
    const uint d0 = min(tid, hd_v - 1u), d1 = min(tid + 128u, hd_v - 1u);
    const uint64_t vstride = V.nb[2];
    if (v16) {
      for (uint jj = 0u; jj < n_c; ++jj) {
        const float pj = p_sh[jj];
        const uint64_t vrow = vbase + uint64_t(c0 + jj) * vstride;
        acc0 += pj * h2f(ld_u16(vrow + 2u * d0));
        acc1 += pj * h2f(ld_u16(vrow + 2u * d1));
      }
    } else {
      for (uint jj = 0u; jj < n_c; ++jj) {
        const float pj = p_sh[jj];
        const uint64_t vrow = vbase + uint64_t(c0 + jj) * vstride;
        acc0 += pj * ld_f32(vrow + 4u * d0);
        acc1 += pj * ld_f32(vrow + 4u * d1);
      }
    }
    m_run = new_m;
    barrier();
  }
  const float l = wg_sum(l_part);
  const float inv = l > 0.0 ? 1.0 / l : 0.0;
  const uint64_t orow = D.addr + uint64_t(h) * D.nb[1] + uint64_t(t) * D.nb[2];
  if (tid < hd_v) st_f32(orow + 4u * tid, acc0 * inv);
  if (tid + 128u < hd_v) st_f32(orow + 4u * (tid + 128u), acc1 * inv);
}
