// Mixture-of-experts routing helpers: top_k, gather (with renormalisation) and the weighted sum.
#include <algorithm>
#include <numeric>
#include <vector>

#include "backends/cpu/ops/ops.h"

namespace hearth::cpu {

void op_top_k(const compute_ctx& ctx, tensor& dst) {
  const tensor& a = *dst.src[0];
  const int k = dst.p.i(0);
  const int64_t n = a.ne[0];
  std::vector<int32_t> idx(n);
  int64_t b, e;
  thread_range(a.ne[1], ctx.ith, ctx.nth, b, e);
  for (int64_t r = b; r < e; ++r) {
    const float* x = reinterpret_cast<const float*>(row_ptr(a, r));
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t i, int32_t j) { return x[i] > x[j] || (x[i] == x[j] && i < j); });
    int32_t* out = reinterpret_cast<int32_t*>(row_f32(dst, r));
    std::copy(idx.begin(), idx.begin() + k, out);
  }
}

void op_gather(const compute_ctx& ctx, tensor& dst) {
  const tensor& a = *dst.src[0];
  const tensor& ids = *dst.src[1];
  const bool normalize = dst.p.i(0) != 0;
  int64_t b, e;
  thread_range(dst.ne[1], ctx.ith, ctx.nth, b, e);
  for (int64_t t = b; t < e; ++t) {
    const float* x = reinterpret_cast<const float*>(row_ptr(a, t));
    const int32_t* id = reinterpret_cast<const int32_t*>(row_ptr(ids, t));
    float* out = row_f32(dst, t);
    float sum = 0.0f;
    for (int64_t j = 0; j < dst.ne[0]; ++j) {
      out[j] = (id[j] >= 0 && id[j] < a.ne[0]) ? x[id[j]] : 0.0f;
      sum += out[j];
    }
    if (normalize && sum != 0.0f)
      for (int64_t j = 0; j < dst.ne[0]; ++j) out[j] /= sum;
  }
}

void op_moe_sum(const compute_ctx& ctx, tensor& dst) {
  const tensor& x = *dst.src[0];
  const tensor& w = *dst.src[1];
  const int64_t k = x.ne[1], m = x.ne[0];
  int64_t b, e;
  thread_range(dst.ne[1], ctx.ith, ctx.nth, b, e);
  for (int64_t t = b; t < e; ++t) {
    float* out = row_f32(dst, t);
    const float* wt = reinterpret_cast<const float*>(row_ptr(w, t));
    for (int64_t j = 0; j < k; ++j) {
      const float* xj = reinterpret_cast<const float*>(row_ptr(x, j, t));
      if (j == 0) for (int64_t i = 0; i < m; ++i) out[i] = xj[i] * wt[0];
      else for (int64_t i = 0; i < m; ++i) out[i] += xj[i] * wt[j];
    }
  }
}

}  // namespace hearth::cpu
