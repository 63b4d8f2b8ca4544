// Rotary position embedding (normal and NeoX pairings, frequency factors, YaRN), computed the way
// the reference does: the angle advances by repeated multiplication in float.
#include <cmath>
#include <cstring>
#include <vector>

#include "backends/cpu/ops/ops.h"

namespace hearth::cpu {

namespace {

float yarn_ramp(float low, float high, int i0) {
  const float y = (i0 / 2 - low) / std::max(0.001f, high - low);
  return 1.0f - std::min(1.0f, std::max(0.0f, y));
}

// Dimension (in pairs) at which a rotation completes n_rot turns over the original context.
float yarn_corr_dim(int n_dims, int n_ctx_orig, float n_rot, float base) {
  return n_dims * std::log(n_ctx_orig / (n_rot * 2.0f * (float)M_PI)) / (2.0f * std::log(base));
}

}  // namespace

void op_rope(const compute_ctx& ctx, tensor& dst) {
  const tensor& x = *dst.src[0];
  const tensor& pos = *dst.src[1];
  const tensor* ff = dst.src[2];
  rope_params rp;
  std::memcpy(&rp, dst.p.raw, sizeof rp);
  const int n_dims = rp.n_rot;
  const int64_t head_dim = x.ne[0], n_head = x.ne[1], n_tok = x.ne[2];
  const float theta_scale = std::pow(rp.freq_base, -2.0f / (float)n_dims);
  float corr0 = 0.0f, corr1 = 0.0f;
  if (rp.ext_factor != 0.0f) {
    corr0 = std::max(0.0f, std::floor(yarn_corr_dim(n_dims, rp.n_ctx_orig, rp.beta_fast, rp.freq_base)));
    corr1 = std::min((float)(n_dims - 1), std::ceil(yarn_corr_dim(n_dims, rp.n_ctx_orig, rp.beta_slow, rp.freq_base)));
  }
  const float* factors = ff ? static_cast<const float*>(ff->data) : nullptr;
  std::vector<float> cs(n_dims);  // cos, sin pairs for one position
  int64_t b, e;
  thread_range(n_tok, ctx.ith, ctx.nth, b, e);
  for (int64_t t = b; t < e; ++t) {
    const int32_t p = static_cast<const int32_t*>(pos.data)[t];
    float theta_base = (float)p;
    for (int i0 = 0; i0 < n_dims; i0 += 2) {
      const float f = factors ? factors[i0 / 2] : 1.0f;
      const float theta_extrap = theta_base / f;
      const float theta_interp = rp.freq_scale * theta_extrap;
      float theta = theta_interp;
      float mscale = rp.attn_factor;
      if (rp.ext_factor != 0.0f) {
        const float mix = yarn_ramp(corr0, corr1, i0) * rp.ext_factor;
        theta = theta_interp * (1 - mix) + theta_extrap * mix;
        mscale *= 1.0f + 0.1f * std::log(1.0f / rp.freq_scale);
      }
      cs[i0] = std::cos(theta) * mscale;
      cs[i0 + 1] = std::sin(theta) * mscale;
      theta_base *= theta_scale;
    }
    for (int64_t h = 0; h < n_head; ++h) {
      const float* in = reinterpret_cast<const float*>(row_ptr(x, h, t));
      float* out = row_f32(dst, h, t);
      if (rp.mode == rope_mode::neox) {
        const int half = n_dims / 2;
        for (int i = 0; i < half; ++i) {
          const float c = cs[2 * i], s = cs[2 * i + 1];
          const float x0 = in[i], x1 = in[i + half];
          out[i] = x0 * c - x1 * s;
          out[i + half] = x0 * s + x1 * c;
        }
      } else {
        for (int i0 = 0; i0 < n_dims; i0 += 2) {
          const float c = cs[i0], s = cs[i0 + 1];
          const float x0 = in[i0], x1 = in[i0 + 1];
          out[i0] = x0 * c - x1 * s;
          out[i0 + 1] = x0 * s + x1 * c;
        }
      }
      for (int64_t i = n_dims; i < head_dim; ++i) out[i] = in[i];
    }
  }
}

}  // namespace hearth::cpu
