// Data movement (get_rows is in kernels/tensor_ops.cpp): set_rows (KV-cache writes), cpy, cont.
#include <cstring>

#include "backends/cpu/kernels/qkernels.h"
#include "backends/cpu/ops/ops.h"
#include "core/fp16.h"

namespace hearth::cpu {

namespace {
// f16 rows through the kernels' rounding (F16C where the CPU has it; round to nearest even either way).
void store_row(dtype t, const float* src, uint8_t* dst, int64_t n) {
  if (t == dtype::f32) std::memcpy(dst, src, (size_t)n * 4);
  else kernels_for_type(dtype::f16).quantize_act(src, dst, n);
}
}  // namespace

void op_set_rows(const compute_ctx& ctx, tensor& dst) {
  const tensor& store = *dst.src[0];
  const tensor& vals = *dst.src[1];
  const tensor& ids = *dst.src[2];
  int64_t b, e;
  thread_range(vals.ne[1], ctx.ith, ctx.nth, b, e);
  for (int64_t i = b; i < e; ++i) {
    const int32_t id = *reinterpret_cast<const int32_t*>(row_ptr(ids, 0) + i * ids.nb[0]);
    if (id < 0 || id >= store.ne[1]) continue;
    store_row(store.type, row_f32(vals, i), static_cast<uint8_t*>(store.data) + id * store.nb[1], vals.ne[0]);
  }
}

void op_cpy(const compute_ctx& ctx, tensor& dst) {
  const tensor& src = *dst.src[0];
  const tensor& to = *dst.src[1];
  const int64_t n = src.nelements();
  int64_t b, e;
  thread_range(n, ctx.ith, ctx.nth, b, e);
  // Elements in row-major order of each tensor's own shape.
  for (int64_t i = b; i < e; ++i) {
    int64_t r = i;
    const int64_t s0 = r % src.ne[0]; r /= src.ne[0];
    const int64_t s1 = r % src.ne[1]; r /= src.ne[1];
    const int64_t s2 = r % src.ne[2]; const int64_t s3 = r / src.ne[2];
    r = i;
    const int64_t d0 = r % to.ne[0]; r /= to.ne[0];
    const int64_t d1 = r % to.ne[1]; r /= to.ne[1];
    const int64_t d2 = r % to.ne[2]; const int64_t d3 = r / to.ne[2];
    const float v = *reinterpret_cast<const float*>(static_cast<const uint8_t*>(src.data) + s0 * src.nb[0] + s1 * src.nb[1] + s2 * src.nb[2] + s3 * src.nb[3]);
    uint8_t* p = static_cast<uint8_t*>(to.data) + d0 * to.nb[0] + d1 * to.nb[1] + d2 * to.nb[2] + d3 * to.nb[3];
    if (to.type == dtype::f32) std::memcpy(p, &v, 4);
    else { const uint16_t h = f32_to_f16(v); std::memcpy(p, &h, 2); }
  }
}

void op_cont(const compute_ctx& ctx, tensor& dst) {
  const tensor& src = *dst.src[0];
  const int64_t rows = src.nrows();
  int64_t b, e;
  thread_range(rows, ctx.ith, ctx.nth, b, e);
  for (int64_t r = b; r < e; ++r) {
    const int64_t i1 = r % src.ne[1], i2 = (r / src.ne[1]) % src.ne[2], i3 = r / (src.ne[1] * src.ne[2]);
    const uint8_t* in = row_ptr(src, i1, i2, i3);
    float* out = row_f32(dst, i1, i2, i3);
    if (src.nb[0] == 4) std::memcpy(out, in, (size_t)src.ne[0] * 4);
    else for (int64_t i = 0; i < src.ne[0]; ++i) std::memcpy(&out[i], in + i * src.nb[0], 4);
  }
}

}  // namespace hearth::cpu
