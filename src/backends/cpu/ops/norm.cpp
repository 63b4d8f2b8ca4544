// Normalisation: rms_norm, norm (layer norm without affine), softmax with mask and scale.
#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/cpu/kernels/vec_ops.h"
#include "backends/cpu/ops/ops.h"

namespace hearth::cpu {

namespace {
template <typename F> void for_rows(const compute_ctx& ctx, const tensor& dst, F f) {
  const int64_t rows = dst.nrows();
  int64_t b, e;
  thread_range(rows, ctx.ith, ctx.nth, b, e);
  for (int64_t r = b; r < e; ++r) f(r % dst.ne[1], (r / dst.ne[1]) % dst.ne[2], r / (dst.ne[1] * dst.ne[2]));
}
}  // namespace

void op_rms_norm(const compute_ctx& ctx, tensor& dst) {
  const tensor& a = *dst.src[0];
  const float eps = dst.p.f(0);
  const int64_t n = dst.ne[0];
  for_rows(ctx, dst, [&](int64_t i1, int64_t i2, int64_t i3) {
    const float* x = reinterpret_cast<const float*>(row_ptr(a, i1, i2, i3));
    float* y = row_f32(dst, i1, i2, i3);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += (double)(x[i] * x[i]);
    const float scale = 1.0f / std::sqrt((float)(sum / (double)n) + eps);
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
  });
}

void op_norm(const compute_ctx& ctx, tensor& dst) {
  const tensor& a = *dst.src[0];
  const float eps = dst.p.f(0);
  const int64_t n = dst.ne[0];
  for_rows(ctx, dst, [&](int64_t i1, int64_t i2, int64_t i3) {
    const float* x = reinterpret_cast<const float*>(row_ptr(a, i1, i2, i3));
    float* y = row_f32(dst, i1, i2, i3);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += x[i];
    const float mean = (float)(sum / (double)n);
    double var = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      y[i] = x[i] - mean;
      var += (double)(y[i] * y[i]);
    }
    const float scale = 1.0f / std::sqrt((float)(var / (double)n) + eps);
    for (int64_t i = 0; i < n; ++i) y[i] *= scale;
  });
}

void op_softmax(const compute_ctx& ctx, tensor& dst) {
  const tensor& a = *dst.src[0];
  const tensor* mask = dst.src[1];
  const float scale = dst.p.f(0);
  const int64_t n = dst.ne[0];
  const vec_ops& vops = active_vec_ops();
  for_rows(ctx, dst, [&](int64_t i1, int64_t i2, int64_t i3) {
    const float* x = reinterpret_cast<const float*>(row_ptr(a, i1, i2, i3));
    const float* m = mask ? reinterpret_cast<const float*>(row_ptr(*mask, i1)) : nullptr;
    float* y = row_f32(dst, i1, i2, i3);
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < n; ++i) {
      y[i] = x[i] * scale + (m ? m[i] : 0.0f);
      mx = std::max(mx, y[i]);
    }
    const double sum = mx == -std::numeric_limits<float>::infinity() ? 0.0 : vops.exp_shift_sum(y, n, mx);
    if (sum == 0.0) std::fill(y, y + n, 0.0f);
    const float inv = sum > 0.0 ? (float)(1.0 / sum) : 0.0f;
    for (int64_t i = 0; i < n; ++i) y[i] *= inv;
  });
}

}  // namespace hearth::cpu
