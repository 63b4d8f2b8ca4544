#version 460
// Attention for few tokens (generation), split over the KV cache: workgroup (head, token, s) takes
// the 128 keys of chunk s, one key per thread for the scores, then the value sum with each thread
// on 4 dimensions of a share of the keys. With one chunk it writes the result; otherwise it writes
// the chunk's unnormalised sum, max and denominator to aux[0] and a second dispatch (u[3] = 1)
// combines the chunks. q = t[0], k = t[1], v = t[2] (u[0] / u[1] = 1: f16 storage), mask = t[3],
// dst = t[4]; u[2] = number of chunks. Rows are 8-byte (f16) or 16-byte (f32) aligned, head sizes
// multiples of 4 (the host checks).
// ROUND (variant attention_split_round, so the plain kernel keeps a shader without it): one token,
// whose output row (heads side by side, contiguous) is the activation column of the product after
// the attention; the dispatch that writes the result (the one chunk, or the combination) also rounds
// it for that product as quant_b.comp does for matvec_dp.comp, so the rounding dispatch and its
// barrier go. u[4] = 0: q8_0 blocks of 32 (head sizes multiples of 32), each workgroup its own head's;
// int8 values at aux[2], each block's d as a float at aux[3]. 1: q8_1, also d * sum(q) at aux[1].
// 2: q8_K blocks of 256 spanning 256 / hd_v heads: the last of their workgroups to count itself in
// the block's counter at aux[1] (zeroed memory, set back to 0 by that workgroup) rounds the block
// from the other heads' stored results; int8 values at aux[2], d and run sums in 48 bytes at aux[3].
#include "common.glsl"
layout(local_size_x = 128) in;
#include "reduce.glsl"
#ifdef ROUND
#define Q8K_BLOCK_WG128
#include "q8_round.glsl"
#endif

layout(buffer_reference, scalar, buffer_reference_align = 8) buffer u32x2_ref { uvec2 v[]; };

shared vec4 q_sh[64];
shared float p_sh[128];
shared vec4 acc_sh[128];

#ifdef ROUND
layout(buffer_reference, scalar, buffer_reference_align = 4) coherent buffer cf32_ref { float v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 4) coherent buffer cu32_ref { uint v[]; };
shared float o_sh[256];  // the head's result
shared int qv_sh[256];
shared uint last_wg;

// Stores head h's result o_sh[0, hd_v) (written before the call by any invocation) and rounds it
// (see ROUND at the top). Called in uniform control flow.
void store_round(const tdesc D, uint h, uint tid) {
  barrier();
  const uint hd_v = D.ne[0], e0 = h * hd_v;  // the head's first element in the row
  // Coherent: with q8_K the workgroup rounding the block reads these from other workgroups.
  for (uint d = tid; d < hd_v; d += 128u) cf32_ref(D.addr).v[e0 + d] = o_sh[d];
  const uint kind = ARGS.u[4];
  if (kind != 2u) {
    for (uint d = tid; d < hd_v; d += 128u) {
      const uint b = d & ~31u;
      float amax = 0.0;
      for (uint j = 0u; j < 32u; ++j) amax = max(amax, abs(o_sh[b + j]));
      const int q = q8_0_value(o_sh[d], amax);
      i8_ref(ARGS.aux[2]).v[e0 + d] = int8_t(q);
      if (d == b) st_f32(ARGS.aux[3] + uint64_t(4u) * ((e0 + d) / 32u), round_f16(q8_0_scale(amax)));
      qv_sh[d] = q;
    }
    if (kind == 1u) {
      barrier();
      if (tid < hd_v / 32u) {
        float amax = 0.0;
        int sum = 0;
        for (uint j = 0u; j < 32u; ++j) {
          amax = max(amax, abs(o_sh[32u * tid + j]));
          sum += qv_sh[32u * tid + j];
        }
        f32_ref(ARGS.aux[1]).v[e0 / 32u + tid] = round_f16(q8_0_scale(amax) * float(sum));
      }
    }
    return;
  }
  memoryBarrierBuffer();
  barrier();
  const uint kb = e0 / 256u;
  if (tid == 0u) last_wg = atomicAdd(cu32_ref(ARGS.aux[1]).v[kb], 1u) == 256u / hd_v - 1u ? 1u : 0u;
  barrier();
  if (last_wg == 0u) return;
  memoryBarrierBuffer();
  const float x0 = cf32_ref(D.addr).v[256u * kb + tid], x1 = cf32_ref(D.addr).v[256u * kb + tid + 128u];
  q8k_round_block(x0, x1, tid, ARGS.aux[2] + 256u * kb, ARGS.aux[3] + uint64_t(48u) * kb);
  if (tid == 0u) atomicExchange(cu32_ref(ARGS.aux[1]).v[kb], 0u);
}
#endif

// Element d of head h, token t of the result: stored, or (ROUND) kept for store_round.
void put(const tdesc D, uint h, uint t, uint d, float x) {
#ifdef ROUND
  o_sh[d] = x;
#else
  st_f32(D.addr + uint64_t(h) * D.nb[1] + uint64_t(t) * D.nb[2] + 4u * d, x);
#endif
}

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
    for (uint d = tid; d < hd_v; d += 128u) put(D, h, t, d, 0.0);
  } else {
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
      put(D, h, t, d, o * inv);
    }
  }
#ifdef ROUND
  store_round(D, h, tid);
#endif
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
#ifdef ROUND
      [[unroll]] for (uint e = 0u; e < 4u; ++e) o_sh[4u * tid + e] = o[e] * inv;
#else
      f32x4_ref(D.addr + uint64_t(h) * D.nb[1] + uint64_t(t) * D.nb[2] + 16u * tid).v[0] = o * inv;
#endif
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
#ifdef ROUND
  if (n_split == 1u) store_round(D, h, tid);
#endif
}
