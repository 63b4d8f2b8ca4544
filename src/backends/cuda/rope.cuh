// Rotary position embedding, shared by the rope kernels (ops_basic.cu) and the one-token products
// that rope their own result (ops_mmv.cu): per pair of elements, the angle and its scaling exactly
// as the CPU reference computes them.
#pragma once
#include "backends/cuda/common.cuh"
#include "core/tensor.h"

namespace hearth::gpu {

struct rope_args {
  int n_dims;
  bool neox;
  float theta_scale, freq_scale, ext_factor, attn_factor, corr0, corr1;
};

// The rope parameters of node dst (op::rope) in kernel form.
rope_args rope_setup(const tensor& dst);

__device__ __forceinline__ float yarn_ramp(float low, float high, int i0) {
  const float y = (float)(i0 / 2 - low) / fmaxf(0.001f, high - low);
  return 1.0f - fminf(1.0f, fmaxf(0.0f, y));
}

// Cosine and sine (both times the magnitude scale) that rotate the pair starting at even element
// i0 < n_dims of a head at position pos.
__device__ __forceinline__ void rope_cos_sin(int i0, int32_t pos, const float* factors, const rope_args& ra, float& c, float& s) {
  // The angle advances by repeated multiplication, as in the reference.
  float theta_base = (float)pos;
  for (int k = 0; k < i0; k += 2) theta_base *= ra.theta_scale;
  const float f = factors ? factors[i0 / 2] : 1.0f;
  const float theta_extrap = theta_base / f;
  const float theta_interp = ra.freq_scale * theta_extrap;
  float theta = theta_interp;
  float mscale = ra.attn_factor;
  if (ra.ext_factor != 0.0f) {
    const float mix = yarn_ramp(ra.corr0, ra.corr1, i0) * ra.ext_factor;
    theta = theta_interp * (1 - mix) + theta_extrap * mix;
    mscale *= 1.0f + 0.1f * logf(1.0f / ra.freq_scale);
  }
  c = cosf(theta) * mscale;
  s = sinf(theta) * mscale;
}

}  // namespace hearth::gpu
