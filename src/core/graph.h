// A compute graph: owns the tensors of one forward pass (not the weights) and lists its nodes in
// execution order. Model code builds graphs through the op functions below, which check shapes and
// types so a malformed graph fails where it is built, not deep inside a kernel.
#pragma once
#include <deque>
#include <initializer_list>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/tensor.h"

namespace hearth {

class graph {
 public:
  graph() = default;
  graph(const graph&) = delete;
  graph& operator=(const graph&) = delete;

  // --- leaves ------------------------------------------------------------------------------------
  tensor* new_tensor(dtype type, std::initializer_list<int64_t> ne, std::string name = {});
  tensor* new_tensor(dtype type, const int64_t* ne, int n_dims, std::string name = {});
  // A leaf the host fills before each compute (ids, positions, masks).
  tensor* input(dtype type, std::initializer_list<int64_t> ne, std::string name);

  // --- views (no computation: they share bytes) --------------------------------------------------
  tensor* view(tensor* a, std::initializer_list<int64_t> ne, std::initializer_list<size_t> nb, size_t offset);
  tensor* reshape(tensor* a, std::initializer_list<int64_t> ne);  // a must be contiguous
  tensor* permute(tensor* a, int ax0, int ax1, int ax2, int ax3);  // dim i of a becomes dim ax_i
  tensor* transpose(tensor* a) { return permute(a, 1, 0, 2, 3); }

  // --- ops (semantics in core/tensor.h) ----------------------------------------------------------
  tensor* get_rows(tensor* table, tensor* ids);
  tensor* set_rows(tensor* dst, tensor* values, tensor* ids);
  tensor* cpy(tensor* src, tensor* dst);
  tensor* cont(tensor* a);
  tensor* mul_mat(tensor* a, tensor* b);
  tensor* mul_mat_id(tensor* experts, tensor* b, tensor* ids);
  tensor* add(tensor* a, tensor* b);
  tensor* mul(tensor* a, tensor* b);
  tensor* scale(tensor* a, float s, float bias = 0.0f);
  tensor* silu(tensor* a);
  tensor* gelu(tensor* a);
  tensor* swiglu(tensor* gate, tensor* up) { return glu(gate, up, 0); }
  tensor* geglu(tensor* gate, tensor* up) { return glu(gate, up, 1); }
  tensor* softcap(tensor* a, float cap);
  tensor* rms_norm(tensor* a, float eps);
  tensor* norm(tensor* a, float eps);
  tensor* softmax(tensor* a, tensor* mask = nullptr, float scale = 1.0f);
  tensor* rope(tensor* x, tensor* pos, tensor* freq_factors, const rope_params& rp);
  tensor* attention(tensor* q, tensor* k, tensor* v, tensor* mask, float scale, float softcap = 0.0f);
  tensor* top_k(tensor* a, int k);
  tensor* gather(tensor* a, tensor* ids, bool normalize);
  tensor* moe_sum(tensor* x, tensor* weights);

  // --- building ----------------------------------------------------------------------------------
  // Adds t and every tensor it depends on (not yet in the graph) to the node list, in order.
  void expand(tensor* t);
  void mark_output(tensor* t) { t->flags |= tf_output; expand(t); }
  // Computed tensors in execution order (views included; leaves excluded).
  const std::vector<tensor*>& nodes() const { return nodes_; }
  std::vector<tensor*>& nodes() { return nodes_; }
  // Leaves the nodes read (weights, inputs, cache storage), in first-use order.
  const std::vector<tensor*>& leafs() const { return leafs_; }
  // Every tensor this graph created (leaves, views and nodes), for allocation and lookup.
  std::deque<tensor>& owned() { return pool_; }
  tensor* find(const std::string& name);
  void clear();

 private:
  tensor* make(dtype type, const int64_t* ne, int n_dims);
  tensor* make_op(hearth::op o, dtype type, const int64_t* ne, int n_dims, std::initializer_list<tensor*> srcs);
  tensor* glu(tensor* gate, tensor* up, int kind);
  tensor* binary(hearth::op o, tensor* a, tensor* b);
  tensor* unary(hearth::op o, tensor* a);

  std::deque<tensor> pool_;
  std::vector<tensor*> nodes_;
  std::vector<tensor*> leafs_;
  std::unordered_set<const tensor*> visited_;
};

// "name-il" as the model names per-layer tensors (attn_norm-3), or just name when il < 0.
std::string layer_name(const char* name, int il);

}  // namespace hearth
