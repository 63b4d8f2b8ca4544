// Element-wise ops: add and mul with broadcasting, scale, silu, gelu, softcap, and the gated units.
#include <cmath>
#include <cstring>
#include <mutex>
#include <vector>

#include "backends/cpu/kernels/vec_ops.h"
#include "backends/cpu/ops/ops.h"
#include "core/fp16.h"

namespace hearth::cpu {

namespace {

constexpr float k_sqrt_2_over_pi = 0.79788456080286535587989211986876f;
constexpr float k_gelu_coef_a = 0.044715f;

float gelu_exact(float x) { return 0.5f * x * (1.0f + std::tanh(k_sqrt_2_over_pi * x * (1.0f + k_gelu_coef_a * x * x))); }
float silu(float x) { return x / (1.0f + std::exp(-x)); }

const std::vector<uint16_t>& gelu_table() {
  static const std::vector<uint16_t> table = [] {
    std::vector<uint16_t> t(1 << 16);
    for (uint32_t i = 0; i < t.size(); ++i) t[i] = f32_to_f16(gelu_exact(f16_to_f32((uint16_t)i)));
    return t;
  }();
  return table;
}

// Rows of a (possibly broadcast, strided) f32 tensor, walked row by row.
template <typename F> void for_rows(const compute_ctx& ctx, const tensor& dst, F f) {
  const int64_t rows = dst.nrows();
  int64_t b, e;
  thread_range(rows, ctx.ith, ctx.nth, b, e);
  for (int64_t r = b; r < e; ++r) {
    const int64_t i1 = r % dst.ne[1], i2 = (r / dst.ne[1]) % dst.ne[2], i3 = r / (dst.ne[1] * dst.ne[2]);
    f(i1, i2, i3);
  }
}

}  // namespace

float gelu_ref(float x) {
  // The reference saturates outside [-10, 10] and otherwise looks up the f16-rounded input.
  if (x <= -10.0f) return 0.0f;
  if (x >= 10.0f) return x;
  return f16_to_f32(gelu_table()[f32_to_f16(x)]);
}

void op_binary(const compute_ctx& ctx, tensor& dst) {
  const tensor& a = *dst.src[0];
  const tensor& b = *dst.src[1];
  const bool is_add = dst.op == op::add;
  for_rows(ctx, dst, [&](int64_t i1, int64_t i2, int64_t i3) {
    const float* x = reinterpret_cast<const float*>(row_ptr(a, i1, i2, i3));
    const float* y = reinterpret_cast<const float*>(row_ptr(b, i1 % b.ne[1], i2 % b.ne[2], i3 % b.ne[3]));
    float* out = row_f32(dst, i1, i2, i3);
    const int64_t n = dst.ne[0], nb0 = b.ne[0];
    if (a.nb[0] != 4 || b.nb[0] != 4) {
      for (int64_t i = 0; i < n; ++i) {
        const float xv = *reinterpret_cast<const float*>(reinterpret_cast<const uint8_t*>(x) + i * a.nb[0]);
        const float yv = *reinterpret_cast<const float*>(reinterpret_cast<const uint8_t*>(y) + (i % nb0) * b.nb[0]);
        out[i] = is_add ? xv + yv : xv * yv;
      }
    } else if (nb0 == n) {
      if (is_add) for (int64_t i = 0; i < n; ++i) out[i] = x[i] + y[i];
      else for (int64_t i = 0; i < n; ++i) out[i] = x[i] * y[i];
    } else {
      for (int64_t i = 0; i < n; ++i) out[i] = is_add ? x[i] + y[i % nb0] : x[i] * y[i % nb0];
    }
  });
}

void op_unary(const compute_ctx& ctx, tensor& dst) {
  const tensor& a = *dst.src[0];
  const float p0 = dst.p.f(0), p1 = dst.p.f(1);
  if (dst.op == op::gelu) gelu_table();
  const vec_ops& vops = active_vec_ops();
  for_rows(ctx, dst, [&](int64_t i1, int64_t i2, int64_t i3) {
    const uint8_t* x = row_ptr(a, i1, i2, i3);
    float* out = row_f32(dst, i1, i2, i3);
    if (dst.op == op::silu && a.nb[0] == 4) {
      vops.silu(reinterpret_cast<const float*>(x), out, dst.ne[0]);
      return;
    }
    for (int64_t i = 0; i < dst.ne[0]; ++i) {
      float v;
      std::memcpy(&v, x + i * a.nb[0], 4);
      switch (dst.op) {
        case op::scale: v = v * p0 + p1; break;
        case op::silu: v = silu(v); break;
        case op::gelu: v = gelu_ref(v); break;
        case op::softcap: v = p0 * std::tanh(v / p0); break;
        default: break;
      }
      out[i] = v;
    }
  });
}

void op_glu(const compute_ctx& ctx, tensor& dst) {
  const tensor& g = *dst.src[0];
  const tensor& u = *dst.src[1];
  const bool is_gelu = dst.p.i(0) == 1;
  if (is_gelu) gelu_table();
  const vec_ops& vops = active_vec_ops();
  for_rows(ctx, dst, [&](int64_t i1, int64_t i2, int64_t i3) {
    const uint8_t* gp = row_ptr(g, i1, i2, i3);
    const uint8_t* up = row_ptr(u, i1, i2, i3);
    float* out = row_f32(dst, i1, i2, i3);
    if (!is_gelu && g.nb[0] == 4 && u.nb[0] == 4) {
      vops.swiglu(reinterpret_cast<const float*>(gp), reinterpret_cast<const float*>(up), out, dst.ne[0]);
      return;
    }
    for (int64_t i = 0; i < dst.ne[0]; ++i) {
      float gv, uv;
      std::memcpy(&gv, gp + i * g.nb[0], 4);
      std::memcpy(&uv, up + i * u.nb[0], 4);
      out[i] = (is_gelu ? gelu_ref(gv) : silu(gv)) * uv;
    }
  });
}

}  // namespace hearth::cpu
