#version 460
// Attention for prompts: one workgroup per (query head, 32 tokens). The cache streams through
// shared memory in tiles of BC cells, so each key and value row is read once per 32 tokens instead
// of once per token (attention.comp). The four invocations of token q (a subgroup quad) each hold a
// quarter of its query (values 4 i .. 4 i + 3 for i = part, part + 4, ...: side by side in shared
// memory, so a quad's loads are one 64-byte run), sum their partial scores with two quad swaps, keep
// the same online-softmax state and accumulate output values 4 i .. 4 i + 3 of the same quarters.
// Tiles masked for every token of the workgroup are skipped (a prompt's causal tail).
// q = t[0] (f32), k = t[1], v = t[2] (u[0] / u[1] = 1: f16 storage, rows 8-byte aligned; f32: 16),
// mask = t[3], dst = t[4]. HD: the largest head size (hd, hd_v <= HD, multiples of 4); BC cells per
// tile: 2 * BC * HD * 4 bytes of shared memory (32 KiB).
#include "common.glsl"
#extension GL_KHR_shader_subgroup_quad : require
layout(local_size_x = 128) in;

layout(buffer_reference, scalar, buffer_reference_align = 8) buffer u32x2_ref { uvec2 v[]; };

#define BQ 32u
#define HD4 (HD / 4u)
#define NQ (HD4 / 4u)  // float4 chunks of a row per invocation
shared vec4 ks[BC * HD4];
shared vec4 vs[BC * HD4];
shared uint visible[3];  // per tile (rotating): some token of the workgroup sees some cell of it

vec4 ld4(uint64_t row, uint i, bool f16) {
  if (f16) {
    const uvec2 w = u32x2_ref(row + 8u * i).v[0];
    return vec4(h2f(w.x & 0xffffu), h2f(w.x >> 16), h2f(w.y & 0xffffu), h2f(w.y >> 16));
  }
  return f32x4_ref(row + 16u * i).v[0];
}

void main() {
  const tdesc Q = ARGS.t[0];
  const tdesc K = ARGS.t[1];
  const tdesc V = ARGS.t[2];
  const tdesc Mk = ARGS.t[3];
  const tdesc D = ARGS.t[4];
  const uint h = gl_WorkGroupID.x, tid = gl_LocalInvocationID.x;
  const uint q = tid >> 2u, part = tid & 3u, t = gl_WorkGroupID.y * BQ + q;
  const uint hd4 = Q.ne[0] / 4u, hdv4 = V.ne[0] / 4u, n_head = Q.ne[1], n_tok = Q.ne[2], n_kv = K.ne[2];
  const uint kh = h / (n_head / K.ne[1]);
  const bool k16 = ARGS.u[0] != 0u, v16 = ARGS.u[1] != 0u;
  const float scale = intBitsToFloat(ARGS.p[0]), cap = intBitsToFloat(ARGS.p[1]);
  const float NEG_INF = uintBitsToFloat(0xff800000u);
  const bool live = t < n_tok;
  const uint64_t qrow = Q.addr + uint64_t(h) * Q.nb[1] + uint64_t(min(t, n_tok - 1u)) * Q.nb[2];
  const uint64_t mrow = Mk.addr + uint64_t(min(t, n_tok - 1u)) * Mk.nb[1];
  const uint64_t kbase = K.addr + uint64_t(kh) * K.nb[1], vbase = V.addr + uint64_t(kh) * V.nb[1];
  vec4 qv[NQ], acc[NQ];
  [[unroll]] for (uint r = 0u; r < NQ; ++r) {
    const uint i = 4u * r + part;
    qv[r] = vec4(0.0);
    if (live && i < hd4) {
      const uint64_t a = qrow + 16u * i;
      qv[r] = vec4(ld_f32(a), ld_f32(a + 4u), ld_f32(a + 8u), ld_f32(a + 12u));
    }
    acc[r] = vec4(0.0);
  }
  float m = NEG_INF, l = 0.0;
  if (tid < 3u) visible[tid] = 0u;
  barrier();
  uint tile = 0u;
  for (uint c0 = 0u; c0 < n_kv; c0 += BC, ++tile) {
    float mv[BC];
    bool any = false;
    [[unroll]] for (uint c = 0u; c < BC; ++c) {
      mv[c] = live && c0 + c < n_kv ? ld_f32(mrow + 4u * (c0 + c)) : NEG_INF;
      any = any || !(isinf(mv[c]) && mv[c] < 0.0);
    }
    if (any) atomicOr(visible[tile % 3u], 1u);
    if (tid == 0u) visible[(tile + 1u) % 3u] = 0u;  // nobody reads it until after the next barrier
    barrier();  // also: every invocation is done with the previous tile's keys and values
    if (visible[tile % 3u] == 0u) continue;  // the same for the whole workgroup
    for (uint e = tid; e < BC * HD4; e += 128u) {
      const uint c = e / HD4, i = e % HD4, j = c0 + c;
      ks[e] = j < n_kv && i < hd4 ? ld4(kbase + uint64_t(j) * K.nb[2], i, k16) : vec4(0.0);
      vs[e] = j < n_kv && i < hdv4 ? ld4(vbase + uint64_t(j) * V.nb[2], i, v16) : vec4(0.0);
    }
    barrier();
    float s[BC];
    float mt = NEG_INF;
    [[unroll]] for (uint c = 0u; c < BC; ++c) {
      float x = 0.0;
      [[unroll]] for (uint r = 0u; r < NQ; ++r) x += dot(qv[r], ks[c * HD4 + 4u * r + part]);
      x += subgroupQuadSwapHorizontal(x);
      x += subgroupQuadSwapVertical(x);
      x *= scale;
      if (cap > 0.0) x = cap * tanh(x / cap);
      s[c] = isinf(mv[c]) && mv[c] < 0.0 ? NEG_INF : x + mv[c];
      mt = max(mt, s[c]);
    }
    const float m_new = max(m, mt);
    if (!(isinf(m_new) && m_new < 0.0)) {  // some cell visible to this token so far
      const float corr = isinf(m) && m < 0.0 ? 0.0 : exp(m - m_new);
      [[unroll]] for (uint r = 0u; r < NQ; ++r) acc[r] *= corr;
      float ls = 0.0;
      [[unroll]] for (uint c = 0u; c < BC; ++c) {
        const float p = isinf(s[c]) && s[c] < 0.0 ? 0.0 : exp(s[c] - m_new);
        ls += p;
        [[unroll]] for (uint r = 0u; r < NQ; ++r) acc[r] += p * vs[c * HD4 + 4u * r + part];
      }
      l = l * corr + ls;
      m = m_new;
    }
  }
  if (!live) return;
  const float inv = l > 0.0 ? 1.0 / l : 0.0;  // a fully masked row gives zeros
  const uint64_t orow = D.addr + uint64_t(h) * D.nb[1] + uint64_t(t) * D.nb[2];
  [[unroll]] for (uint r = 0u; r < NQ; ++r) {
    const uint i = 4u * r + part;
    if (i < hdv4) {
      const vec4 o = acc[r] * inv;
      st_f32(orow + 16u * i, o.x);
      st_f32(orow + 16u * i + 4u, o.y);
      st_f32(orow + 16u * i + 8u, o.z);
      st_f32(orow + 16u * i + 12u, o.w);
    }
  }
}
