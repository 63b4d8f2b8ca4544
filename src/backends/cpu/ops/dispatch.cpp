#include "backends/cpu/ops/ops.h"

#include "core/error.h"

namespace hearth::cpu {

bool supports(const tensor& n) {
  auto computable = [](dtype t) { return has_kernels(t); };
  switch (n.op) {
    case op::get_rows: return computable(n.src[0]->type);
    case op::mul_mat:
    case op::mul_mat_id: return computable(n.src[0]->type) && n.src[0]->type != dtype::i32;
    case op::none:
    case op::count_: return false;
    default: return true;
  }
}

size_t work_size(const tensor& n, int nth) {
  switch (n.op) {
    case op::mul_mat: return mul_mat_work_bytes(n, nth);
    case op::mul_mat_id: return mul_mat_id_work_bytes(n, nth);
    case op::attention: return attention_work_size(n, nth);
    default: return 0;
  }
}

void compute_node(const compute_ctx& ctx, tensor& n) {
  switch (n.op) {
    case op::none:
    case op::view: return;
    case op::get_rows: return get_rows(n, ctx.ith, ctx.nth);
    case op::set_rows: return op_set_rows(ctx, n);
    case op::cpy: return op_cpy(ctx, n);
    case op::cont: return op_cont(ctx, n);
    case op::mul_mat: return mul_mat(n, ctx.ith, ctx.nth, ctx.work, [&] { ctx.barrier(); }, ctx.cache, ctx.pass);
    case op::mul_mat_id: return mul_mat_id(n, ctx.ith, ctx.nth, ctx.work, [&] { ctx.barrier(); }, ctx.cache);
    case op::add:
    case op::mul: return op_binary(ctx, n);
    case op::scale:
    case op::silu:
    case op::gelu:
    case op::softcap: return op_unary(ctx, n);
    case op::glu: return op_glu(ctx, n);
    case op::rms_norm: return op_rms_norm(ctx, n);
    case op::norm: return op_norm(ctx, n);
    case op::softmax: return op_softmax(ctx, n);
    case op::rope: return op_rope(ctx, n);
    case op::attention: return op_attention(ctx, n);
    case op::top_k: return op_top_k(ctx, n);
    case op::gather: return op_gather(ctx, n);
    case op::moe_sum: return op_moe_sum(ctx, n);
    case op::count_: break;
  }
  HEARTH_ASSERT(false);
}

}  // namespace hearth::cpu
