#include "core/graph.h"

#include <fmt/format.h>

#include "core/error.h"

namespace hearth {

const char* op_name(op o) {
  switch (o) {
    case op::none: return "none";
    case op::view: return "view";
    case op::get_rows: return "get_rows";
    case op::set_rows: return "set_rows";
    case op::cpy: return "cpy";
    case op::cont: return "cont";
    case op::mul_mat: return "mul_mat";
    case op::mul_mat_id: return "mul_mat_id";
    case op::add: return "add";
    case op::mul: return "mul";
    case op::scale: return "scale";
    case op::silu: return "silu";
    case op::gelu: return "gelu";
    case op::glu: return "glu";
    case op::softcap: return "softcap";
    case op::rms_norm: return "rms_norm";
    case op::norm: return "norm";
    case op::softmax: return "softmax";
    case op::rope: return "rope";
    case op::attention: return "attention";
    case op::top_k: return "top_k";
    case op::gather: return "gather";
    case op::moe_sum: return "moe_sum";
    case op::count_: break;
  }
  return "?";
}

size_t tensor::nbytes() const {
  if (nelements() == 0) return 0;
  size_t n = row_bytes(type, ne[0]);
  for (int i = 1; i < max_dims; ++i) n += (size_t)(ne[i] - 1) * nb[i];
  return n;
}

bool tensor::is_contiguous() const {
  size_t expect = type_size(type);
  if (nb[0] != expect) return false;
  expect = row_bytes(type, ne[0]);
  for (int i = 1; i < max_dims; ++i) {
    if (ne[i] != 1 && nb[i] != expect) return false;
    expect *= (size_t)ne[i];
  }
  return true;
}

std::string tensor::shape_str() const {
  return fmt::format("[{}, {}, {}, {}]", ne[0], ne[1], ne[2], ne[3]);
}

void set_contiguous_strides(tensor& t) {
  t.nb[0] = type_size(t.type);
  t.nb[1] = row_bytes(t.type, t.ne[0]);
  for (int i = 2; i < max_dims; ++i) t.nb[i] = t.nb[i - 1] * (size_t)t.ne[i - 1];
}

bool same_shape(const tensor& a, const tensor& b) {
  for (int i = 0; i < max_dims; ++i)
    if (a.ne[i] != b.ne[i]) return false;
  return true;
}

std::string layer_name(const char* name, int il) {
  return il < 0 ? std::string(name) : fmt::format("{}-{}", name, il);
}

tensor* graph::make(dtype type, const int64_t* ne, int n_dims) {
  if (n_dims < 1 || n_dims > max_dims) fail("graph: tensor with {} dimensions", n_dims);
  tensor& t = pool_.emplace_back();
  t.type = type;
  for (int i = 0; i < n_dims; ++i) {
    if (ne[i] < 0) fail("graph: negative dimension {}", ne[i]);
    t.ne[i] = ne[i];
  }
  if (t.ne[0] % block_size(type) != 0)
    fail("graph: row of {} elements is not a multiple of the {} block size {}", t.ne[0], dtype_name(type), block_size(type));
  set_contiguous_strides(t);
  return &t;
}

tensor* graph::new_tensor(dtype type, std::initializer_list<int64_t> ne, std::string name) {
  tensor* t = make(type, ne.begin(), (int)ne.size());
  t->name = std::move(name);
  return t;
}

tensor* graph::new_tensor(dtype type, const int64_t* ne, int n_dims, std::string name) {
  tensor* t = make(type, ne, n_dims);
  t->name = std::move(name);
  return t;
}

tensor* graph::input(dtype type, std::initializer_list<int64_t> ne, std::string name) {
  tensor* t = new_tensor(type, ne, std::move(name));
  t->flags |= tf_input;
  return t;
}

tensor* graph::make_op(hearth::op o, dtype type, const int64_t* ne, int n_dims, std::initializer_list<tensor*> srcs) {
  tensor* t = make(type, ne, n_dims);
  t->op = o;
  int i = 0;
  for (tensor* s : srcs) {
    HEARTH_ASSERT(i < max_srcs);
    t->src[i++] = s;
  }
  return t;
}

tensor* graph::view(tensor* a, std::initializer_list<int64_t> ne, std::initializer_list<size_t> nb, size_t offset) {
  if (nb.size() + 1 != ne.size()) fail("graph: view needs {} strides for {} dims", ne.size() - 1, ne.size());
  tensor* t = make(a->type, ne.begin(), (int)ne.size());
  t->op = op::view;
  t->src[0] = a;
  int i = 1;
  for (size_t s : nb) t->nb[i++] = s;
  for (; i < max_dims; ++i) t->nb[i] = t->nb[i - 1] * (size_t)t->ne[i - 1];
  t->view_src = a;
  t->view_offs = offset;
  // A view must stay inside its source.
  if (offset + t->nbytes() > a->nbytes() && a->nelements() > 0)
    fail("graph: view {} at offset {} exceeds its source {} ({} bytes)", t->shape_str(), offset, a->shape_str(), a->nbytes());
  return t;
}

tensor* graph::reshape(tensor* a, std::initializer_list<int64_t> ne) {
  if (!a->is_contiguous()) fail("graph: reshape of a non-contiguous tensor {}", a->name);
  tensor* t = make(a->type, ne.begin(), (int)ne.size());
  if (t->nelements() != a->nelements())
    fail("graph: reshape {} -> {} changes the element count", a->shape_str(), t->shape_str());
  t->op = op::view;
  t->src[0] = a;
  t->view_src = a;
  return t;
}

tensor* graph::permute(tensor* a, int ax0, int ax1, int ax2, int ax3) {
  const int ax[4] = {ax0, ax1, ax2, ax3};
  bool seen[4] = {};
  for (int x : ax) {
    if (x < 0 || x > 3 || seen[x]) fail("graph: invalid permutation");
    seen[x] = true;
  }
  tensor* t = make(a->type, a->ne, max_dims);
  for (int i = 0; i < max_dims; ++i) {
    t->ne[ax[i]] = a->ne[i];
    t->nb[ax[i]] = a->nb[i];
  }
  t->op = op::view;
  t->src[0] = a;
  t->view_src = a;
  return t;
}

static void require(bool cond, const char* what, const tensor* a, const tensor* b = nullptr) {
  if (!cond)
    fail("graph: {}: {} {}{}{}", what, a->name.empty() ? "?" : a->name, a->shape_str(),
         b ? " vs " : "", b ? b->shape_str() : "");
}

tensor* graph::get_rows(tensor* table, tensor* ids) {
  require(ids->type == dtype::i32, "get_rows ids must be i32", ids);
  require(table->ne[2] == 1 && table->ne[3] == 1 && ids->ne[1] == 1, "get_rows shapes", table, ids);
  const int64_t ne[2] = {table->ne[0], ids->ne[0]};
  return make_op(op::get_rows, dtype::f32, ne, 2, {table, ids});
}

tensor* graph::set_rows(tensor* dst, tensor* values, tensor* ids) {
  require(ids->type == dtype::i32, "set_rows ids must be i32", ids);
  require(values->type == dtype::f32 && values->ne[0] == dst->ne[0] && values->ne[1] == ids->ne[0],
          "set_rows shapes", dst, values);
  require(dst->type == dtype::f32 || dst->type == dtype::f16, "set_rows destination must be f32/f16", dst);
  tensor* t = make_op(op::set_rows, dst->type, dst->ne, max_dims, {dst, values, ids});
  for (int i = 0; i < max_dims; ++i) t->nb[i] = dst->nb[i];
  t->view_src = dst;
  return t;
}

tensor* graph::cpy(tensor* src, tensor* dst) {
  require(src->nelements() == dst->nelements(), "cpy element counts differ", src, dst);
  require(src->type == dtype::f32 && (dst->type == dtype::f32 || dst->type == dtype::f16), "cpy types", src, dst);
  tensor* t = make_op(op::cpy, dst->type, dst->ne, max_dims, {src, dst});
  for (int i = 0; i < max_dims; ++i) t->nb[i] = dst->nb[i];
  t->view_src = dst;
  return t;
}

tensor* graph::cont(tensor* a) {
  require(a->type == dtype::f32, "cont needs f32", a);
  return make_op(op::cont, dtype::f32, a->ne, max_dims, {a});
}

tensor* graph::mul_mat(tensor* a, tensor* b) {
  require(b->type == dtype::f32, "mul_mat activations must be f32", b);
  require(a->ne[0] == b->ne[0], "mul_mat inner dimensions differ", a, b);
  require(b->ne[2] % a->ne[2] == 0 && b->ne[3] % a->ne[3] == 0, "mul_mat batch dims do not broadcast", a, b);
  const int64_t ne[4] = {a->ne[1], b->ne[1], b->ne[2], b->ne[3]};
  return make_op(op::mul_mat, dtype::f32, ne, 4, {a, b});
}

tensor* graph::mul_mat_id(tensor* experts, tensor* b, tensor* ids) {
  require(b->type == dtype::f32, "mul_mat_id activations must be f32", b);
  require(ids->type == dtype::i32, "mul_mat_id ids must be i32", ids);
  require(experts->ne[0] == b->ne[0], "mul_mat_id inner dimensions differ", experts, b);
  require(b->ne[2] == ids->ne[1] && (b->ne[1] == 1 || b->ne[1] == ids->ne[0]), "mul_mat_id shapes", b, ids);
  const int64_t ne[3] = {experts->ne[1], ids->ne[0], ids->ne[1]};
  return make_op(op::mul_mat_id, dtype::f32, ne, 3, {experts, b, ids});
}

tensor* graph::binary(hearth::op o, tensor* a, tensor* b) {
  require(a->type == dtype::f32 && b->type == dtype::f32, "element-wise ops need f32", a, b);
  for (int i = 0; i < max_dims; ++i)
    require(b->ne[i] > 0 && a->ne[i] % b->ne[i] == 0, "operand does not broadcast", a, b);
  return make_op(o, dtype::f32, a->ne, max_dims, {a, b});
}

tensor* graph::add(tensor* a, tensor* b) { return binary(op::add, a, b); }
tensor* graph::mul(tensor* a, tensor* b) { return binary(op::mul, a, b); }

tensor* graph::unary(hearth::op o, tensor* a) {
  require(a->type == dtype::f32, "element-wise ops need f32", a);
  return make_op(o, dtype::f32, a->ne, max_dims, {a});
}

tensor* graph::scale(tensor* a, float s, float bias) {
  tensor* t = unary(op::scale, a);
  t->p.set_f(0, s);
  t->p.set_f(1, bias);
  return t;
}
tensor* graph::silu(tensor* a) { return unary(op::silu, a); }
tensor* graph::gelu(tensor* a) { return unary(op::gelu, a); }
tensor* graph::softcap(tensor* a, float cap) {
  tensor* t = unary(op::softcap, a);
  t->p.set_f(0, cap);
  return t;
}

tensor* graph::glu(tensor* gate, tensor* up, int kind) {
  require(gate->type == dtype::f32 && up->type == dtype::f32 && same_shape(*gate, *up), "glu operands", gate, up);
  tensor* t = make_op(op::glu, dtype::f32, gate->ne, max_dims, {gate, up});
  t->p.set_i(0, kind);
  return t;
}

tensor* graph::rms_norm(tensor* a, float eps) {
  tensor* t = unary(op::rms_norm, a);
  t->p.set_f(0, eps);
  return t;
}
tensor* graph::norm(tensor* a, float eps) {
  tensor* t = unary(op::norm, a);
  t->p.set_f(0, eps);
  return t;
}

tensor* graph::softmax(tensor* a, tensor* mask, float scale) {
  require(a->type == dtype::f32, "softmax needs f32", a);
  if (mask) require(mask->type == dtype::f32 && mask->ne[0] == a->ne[0] && mask->ne[1] >= a->ne[1], "softmax mask", a, mask);
  tensor* t = mask ? make_op(op::softmax, dtype::f32, a->ne, max_dims, {a, mask})
                   : make_op(op::softmax, dtype::f32, a->ne, max_dims, {a});
  t->p.set_f(0, scale);
  return t;
}

tensor* graph::rope(tensor* x, tensor* pos, tensor* freq_factors, const rope_params& rp) {
  require(x->type == dtype::f32 && x->nb[0] == 4, "rope input must be f32 with contiguous rows", x);
  require(pos->type == dtype::i32 && pos->ne[0] == x->ne[2], "rope positions", x, pos);
  require(rp.n_rot > 0 && rp.n_rot <= x->ne[0] && rp.n_rot % 2 == 0, "rope n_rot", x);
  if (freq_factors) require(freq_factors->type == dtype::f32 && freq_factors->ne[0] >= rp.n_rot / 2, "rope freq factors", freq_factors);
  tensor* t = freq_factors ? make_op(op::rope, dtype::f32, x->ne, max_dims, {x, pos, freq_factors})
                           : make_op(op::rope, dtype::f32, x->ne, max_dims, {x, pos});
  static_assert(sizeof(rope_params) <= sizeof(t->p.raw));
  std::memcpy(t->p.raw, &rp, sizeof rp);
  return t;
}

tensor* graph::attention(tensor* q, tensor* k, tensor* v, tensor* mask, float scale, float cap) {
  require(q->type == dtype::f32 && q->nb[0] == 4, "attention q must be f32", q);
  require(k->ne[0] == q->ne[0], "attention q/k head sizes differ", q, k);
  require(k->ne[1] == v->ne[1] && k->ne[2] == v->ne[2], "attention k/v shapes", k, v);
  require(k->ne[1] > 0 && q->ne[1] % k->ne[1] == 0, "attention: query heads not a multiple of kv heads", q, k);
  require(mask && mask->type == dtype::f32 && mask->ne[0] == k->ne[2] && mask->ne[1] >= q->ne[2], "attention mask", k, mask);
  const int64_t ne[3] = {v->ne[0], q->ne[1], q->ne[2]};
  tensor* t = make_op(op::attention, dtype::f32, ne, 3, {q, k, v, mask});
  t->p.set_f(0, scale);
  t->p.set_f(1, cap);
  return t;
}

tensor* graph::top_k(tensor* a, int k) {
  require(a->type == dtype::f32 && k > 0 && k <= a->ne[0], "top_k", a);
  const int64_t ne[2] = {k, a->ne[1]};
  tensor* t = make_op(op::top_k, dtype::i32, ne, 2, {a});
  t->p.set_i(0, k);
  return t;
}

tensor* graph::gather(tensor* a, tensor* ids, bool normalize) {
  require(a->type == dtype::f32 && ids->type == dtype::i32 && ids->ne[1] == a->ne[1], "gather", a, ids);
  const int64_t ne[2] = {ids->ne[0], ids->ne[1]};
  tensor* t = make_op(op::gather, dtype::f32, ne, 2, {a, ids});
  t->p.set_i(0, normalize ? 1 : 0);
  return t;
}

tensor* graph::moe_sum(tensor* x, tensor* weights) {
  require(x->type == dtype::f32 && weights->ne[0] == x->ne[1] && weights->ne[1] == x->ne[2], "moe_sum", x, weights);
  const int64_t ne[2] = {x->ne[0], x->ne[2]};
  return make_op(op::moe_sum, dtype::f32, ne, 2, {x, weights});
}

void graph::expand(tensor* root) {
  // Iterative post-order DFS: graphs of big models are deep enough to make recursion a risk.
  struct frame { tensor* t; int next; };
  std::vector<frame> stack;
  if (visited_.count(root)) return;
  stack.push_back({root, 0});
  visited_.insert(root);
  while (!stack.empty()) {
    frame& f = stack.back();
    tensor* t = f.t;
    tensor* child = nullptr;
    while (f.next < max_srcs + 1 && !child) {
      tensor* c = f.next < max_srcs ? t->src[f.next] : t->view_src;
      ++f.next;
      if (c && !visited_.count(c)) child = c;
    }
    if (child) {
      visited_.insert(child);
      stack.push_back({child, 0});
      continue;
    }
    if (t->op == op::none) leafs_.push_back(t);
    else nodes_.push_back(t);
    stack.pop_back();
  }
}

tensor* graph::find(const std::string& name) {
  for (tensor& t : pool_)
    if (t.name == name) return &t;
  return nullptr;
}

void graph::clear() {
  pool_.clear();
  nodes_.clear();
  leafs_.clear();
  visited_.clear();
}

}  // namespace hearth
