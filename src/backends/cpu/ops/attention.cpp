// Fused attention over the KV cache: scores, optional soft-cap, mask, softmax and the weighted sum
// of values, with f32 or f16 cache storage.
//
// Work items are (KV head, block of query tokens). An item converts the K rows its queries can see
// to f32 once and computes the scores S = K x Q of every query of the block (the tokens times the
// query heads sharing the KV head) as one small f32 matrix product with the CPU matrix kernels; the
// values out = V^T x softmax(S) are summed straight from the f32/f16 cache rows, a few queries at a
// time (vec_ops attn_values). A prompt of n tokens thus converts each K row n / block times instead
// of n x heads times. Decoding (a few queries per KV head) reads the cache rows directly for the
// scores too. Other storage (strided or unusual types) converts V as well, transposed.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "backends/cpu/kernels/qkernels.h"
#include "backends/cpu/kernels/vec_ops.h"
#include "backends/cpu/ops/ops.h"

namespace hearth::cpu {

namespace {

constexpr float k_neg_inf = -std::numeric_limits<float>::infinity();

size_t align64(size_t x) { return (x + 63) / 64 * 64; }

// Queries per item: the tokens of a block times the heads of a group, about 64 columns.
int64_t token_block(int64_t n_tok, int64_t group, int64_t n_kv_head, int nth) {
  int64_t tb = std::max<int64_t>(1, std::min<int64_t>(n_tok, 64 / std::max<int64_t>(1, group)));
  // Enough items for every thread (a few each: later blocks of a causal prompt cost more).
  while (tb > 1 && n_kv_head * ((n_tok + tb - 1) / tb) < 4 * (int64_t)nth) tb = (tb + 1) / 2;
  return tb;
}

struct att_layout {
  size_t kf, vt, qp, s, pp, o, scr, total;
  att_layout(const mm_kernels& k, int64_t n_kv, int64_t hd, int64_t hd_v, int64_t nq) {
    kf = 0;                                                   // K rows as f32 [n_kv][hd]
    vt = kf + align64((size_t)(n_kv * hd) * 4);               // V transposed [hd_v][n_kv]
    qp = vt + align64((size_t)(n_kv * hd_v) * 4);             // packed queries
    s = qp + align64(k.act_bytes(hd, nq));                    // scores, then probabilities [nq][n_kv]
    pp = s + align64((size_t)(nq * n_kv) * 4);                // packed probabilities
    o = pp + align64(k.act_bytes(n_kv, nq));                  // outputs [nq][hd_v]
    scr = o + align64((size_t)(nq * hd_v) * 4);               // product scratch
    total = scr + align64(std::max(k.scratch_bytes(hd, nq), k.scratch_bytes(n_kv, nq)));
  }
};

}  // namespace

size_t attention_work_size(const tensor& dst, int nth) {
  const tensor& q = *dst.src[0];
  const tensor& k = *dst.src[1];
  const tensor& v = *dst.src[2];
  const int64_t group = q.ne[1] / k.ne[1];
  const int64_t nq = token_block(q.ne[2], group, k.ne[1], nth) * group;
  return (size_t)nth * att_layout(kernels_for_type(dtype::f32), k.ne[2], q.ne[0], v.ne[0], nq).total;
}

void op_attention(const compute_ctx& ctx, tensor& dst) {
  const tensor& q = *dst.src[0];
  const tensor& k = *dst.src[1];
  const tensor& v = *dst.src[2];
  const tensor& mask = *dst.src[3];
  const float scale = dst.p.f(0), cap = dst.p.f(1);
  const int64_t hd = q.ne[0], hd_v = v.ne[0], n_head = q.ne[1], n_tok = q.ne[2];
  const int64_t n_kv = k.ne[2], n_kv_head = k.ne[1];
  const int64_t group = n_head / n_kv_head;
  const int64_t tb = token_block(n_tok, group, n_kv_head, ctx.nth);
  const int64_t nq_max = tb * group;
  const mm_kernels& kf32 = kernels_for_type(dtype::f32);
  const vec_ops& vops = active_vec_ops();
  const mm_kernels& kconv_k = kernels_for_type(k.type);
  const mm_kernels& kconv_v = kernels_for_type(v.type);
  const att_layout L(kf32, n_kv, hd, hd_v, nq_max);
  uint8_t* base = ctx.work + L.total * (size_t)ctx.ith;
  float* kf = reinterpret_cast<float*>(base + L.kf);
  float* vt = reinterpret_cast<float*>(base + L.vt);
  uint8_t* qp = base + L.qp;
  float* sc = reinterpret_cast<float*>(base + L.s);
  uint8_t* pp = base + L.pp;
  float* o = reinterpret_cast<float*>(base + L.o);
  uint8_t* scr = base + L.scr;
  float* vrow = o;  // V rows are staged in the output area before the product overwrites it

  // Scores -> probabilities in place: scale, soft-cap, mask, softmax (all-masked rows give zeros).
  auto softmax_row = [&](float* s, const float* m, int64_t nk) {
    float mx = k_neg_inf;
    for (int64_t j = 0; j < nk; ++j) {
      float x = s[j] * scale;
      if (cap > 0.0f) x = cap * std::tanh(x / cap);
      x = m[j] == k_neg_inf ? k_neg_inf : x + m[j];
      s[j] = x;
      mx = std::max(mx, x);
    }
    if (mx == k_neg_inf) {
      std::memset(s, 0, (size_t)nk * 4);
      return;
    }
    const float inv = (float)(1.0 / vops.exp_shift_sum(s, nk, mx));
    for (int64_t j = 0; j < nk; ++j) s[j] *= inv;
  };
  const bool cache_rows = k.nb[0] == type_size(k.type) && v.nb[0] == type_size(v.type) &&
                          (k.type == dtype::f32 || k.type == dtype::f16) && (v.type == dtype::f32 || v.type == dtype::f16);
  const int64_t n_blocks = (n_tok + tb - 1) / tb;
  // Items interleaved over threads: a causal prompt's later blocks (more keys) are spread evenly.
  for (int64_t item = ctx.ith; item < n_kv_head * n_blocks; item += ctx.nth) {
    const int64_t kh = item % n_kv_head, t0 = (item / n_kv_head) * tb, t1 = std::min(n_tok, t0 + tb);
    const int64_t nq = (t1 - t0) * group;
    const bool direct = cache_rows && nq <= 8;
    // Keys any query of the block may see.
    int64_t j0 = n_kv, j1 = 0;
    for (int64_t t = t0; t < t1; ++t) {
      const float* m = reinterpret_cast<const float*>(row_ptr(mask, t));
      int64_t a = 0, b = n_kv;
      while (a < b && m[a] == k_neg_inf) ++a;
      while (b > a && m[b - 1] == k_neg_inf) --b;
      if (a < b) {
        j0 = std::min(j0, a);
        j1 = std::max(j1, b);
      }
    }
    if (j0 >= j1) {  // every query fully masked: no keys to attend to
      for (int64_t t = t0; t < t1; ++t)
        for (int64_t h = kh * group; h < (kh + 1) * group; ++h) std::memset(row_f32(dst, h, t), 0, (size_t)hd_v * 4);
      continue;
    }
    const int64_t nk = j1 - j0;
    if (direct) {
      // Few queries (decoding): scores and values straight from the cache rows.
      float* qc = reinterpret_cast<float*>(qp);
      for (int64_t n = 0; n < nq; ++n)
        std::memcpy(qc + n * hd, row_ptr(q, kh * group + n % group, t0 + n / group), (size_t)hd * 4);
      vops.attn_scores(qc, nq, hd, row_ptr(k, kh, j0), k.nb[2], k.type == dtype::f16, nk, sc, (size_t)nk);
      for (int64_t n = 0; n < nq; ++n) softmax_row(sc + (size_t)n * nk, reinterpret_cast<const float*>(row_ptr(mask, t0 + n / group)) + j0, nk);
      vops.attn_values(sc, (size_t)nk, nq, row_ptr(v, kh, j0), v.nb[2], v.type == dtype::f16, nk, hd_v, o);
      for (int64_t n = 0; n < nq; ++n) std::memcpy(row_f32(dst, kh * group + n % group, t0 + n / group), o + (size_t)n * hd_v, (size_t)hd_v * 4);
      continue;
    }
    for (int64_t j = j0; j < j1; ++j) {
      kconv_k.dequantize(row_ptr(k, kh, j), kf + (size_t)(j - j0) * hd, hd);
      if (cache_rows) continue;  // the values are summed straight from the cache rows below
      kconv_v.dequantize(row_ptr(v, kh, j), vrow, hd_v);
      for (int64_t d = 0; d < hd_v; ++d) vt[(size_t)d * nk + (j - j0)] = vrow[d];
    }
    // Query column n: token t0 + n / group, head kh * group + n % group.
    for (int64_t n = 0; n < nq; ++n)
      kf32.pack_act(reinterpret_cast<const float*>(row_ptr(q, kh * group + n % group, t0 + n / group)), hd, n, nq, qp);
    kf32.rows(kf, (size_t)hd * 4, hd, 0, nk, qp, nq, sc, (size_t)nk, scr);
    for (int64_t n = 0; n < nq; ++n) {
      float* s = sc + (size_t)n * nk;
      softmax_row(s, reinterpret_cast<const float*>(row_ptr(mask, t0 + n / group)) + j0, nk);
      if (!cache_rows) kf32.pack_act(s, nk, n, nq, pp);
    }
    if (cache_rows) vops.attn_values(sc, (size_t)nk, nq, row_ptr(v, kh, j0), v.nb[2], v.type == dtype::f16, nk, hd_v, o);
    else kf32.rows(vt, (size_t)nk * 4, nk, 0, hd_v, pp, nq, o, (size_t)hd_v, scr);
    for (int64_t n = 0; n < nq; ++n) std::memcpy(row_f32(dst, kh * group + n % group, t0 + n / group), o + (size_t)n * hd_v, (size_t)hd_v * 4);
  }
}

}  // namespace hearth::cpu
