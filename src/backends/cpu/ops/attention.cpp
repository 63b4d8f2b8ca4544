// Fused attention over the KV cache: scores, optional soft-cap, mask, softmax and the weighted sum
// of values, one (token, head) pair at a time, with f32 or f16 cache storage.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "backends/cpu/ops/ops.h"
#include "core/fp16.h"

namespace hearth::cpu {

size_t attention_work_size(const tensor& dst, int nth) {
  const tensor& k = *dst.src[1];
  const tensor& v = *dst.src[2];
  // per thread: scores over the cache, plus a head of q/k/v converted to f32
  return (size_t)nth * (size_t)(k.ne[2] + k.ne[0] + v.ne[0] * 2 + 64) * sizeof(float);
}

namespace {
float dot_f32(const float* a, const float* b, int64_t n) {
  // Eight independent accumulators let the compiler vectorise without reassociation flags.
  float acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  float s = 0.0f;
  for (; i < n; ++i) s += a[i] * b[i];
  return s + ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

void axpy_f32(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

inline void load_row(const tensor& t, int64_t i1, int64_t i2, float* out) {
  const uint8_t* p = row_ptr(t, i1, i2);
  if (t.type == dtype::f32) std::memcpy(out, p, (size_t)t.ne[0] * 4);
  else {
    const uint16_t* h = reinterpret_cast<const uint16_t*>(p);
    for (int64_t i = 0; i < t.ne[0]; ++i) out[i] = f16_to_f32(h[i]);
  }
}
}  // namespace

void op_attention(const compute_ctx& ctx, tensor& dst) {
  const tensor& q = *dst.src[0];
  const tensor& k = *dst.src[1];
  const tensor& v = *dst.src[2];
  const tensor& mask = *dst.src[3];
  const float scale = dst.p.f(0), cap = dst.p.f(1);
  const int64_t hd = q.ne[0], hd_v = v.ne[0], n_head = q.ne[1], n_tok = q.ne[2];
  const int64_t n_kv = k.ne[2], n_kv_head = k.ne[1];
  const int64_t group = n_head / n_kv_head;
  float* scratch = reinterpret_cast<float*>(ctx.work) + (size_t)ctx.ith * (size_t)(n_kv + hd + hd_v * 2 + 64);
  float* scores = scratch;
  float* krow = scores + n_kv;
  float* acc = krow + hd;
  float* vrow = acc + hd_v;
  int64_t b, e;
  thread_range(n_tok * n_head, ctx.ith, ctx.nth, b, e);
  for (int64_t w = b; w < e; ++w) {
    const int64_t t = w / n_head, h = w % n_head, kh = h / group;
    const float* qv = reinterpret_cast<const float*>(row_ptr(q, h, t));
    const float* m = reinterpret_cast<const float*>(row_ptr(mask, t));
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < n_kv; ++j) {
      if (m[j] == -std::numeric_limits<float>::infinity()) { scores[j] = m[j]; continue; }
      float s;
      if (k.type == dtype::f32) s = dot_f32(qv, reinterpret_cast<const float*>(row_ptr(k, kh, j)), hd);
      else { load_row(k, kh, j, krow); s = dot_f32(qv, krow, hd); }
      s *= scale;
      if (cap > 0.0f) s = cap * std::tanh(s / cap);
      s += m[j];
      scores[j] = s;
      mx = std::max(mx, s);
    }
    std::memset(acc, 0, (size_t)hd_v * 4);
    float* out = row_f32(dst, h, t);
    if (mx == -std::numeric_limits<float>::infinity()) {  // fully masked row: no keys to attend to
      std::memcpy(out, acc, (size_t)hd_v * 4);
      continue;
    }
    double sum = 0.0;
    for (int64_t j = 0; j < n_kv; ++j) {
      const float p = scores[j] == -std::numeric_limits<float>::infinity() ? 0.0f : std::exp(scores[j] - mx);
      scores[j] = p;
      sum += p;
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t j = 0; j < n_kv; ++j) {
      if (scores[j] == 0.0f) continue;
      const float p = scores[j] * inv;
      if (v.type == dtype::f32) axpy_f32(p, reinterpret_cast<const float*>(row_ptr(v, kh, j)), acc, hd_v);
      else { load_row(v, kh, j, vrow); axpy_f32(p, vrow, acc, hd_v); }
    }
    std::memcpy(out, acc, (size_t)hd_v * 4);
  }
}

}  // namespace hearth::cpu
