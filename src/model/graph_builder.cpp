#include "model/graph_builder.h"

#include <cmath>

#include "core/error.h"

namespace hearth {

graph_builder::graph_builder(const model& m_, kv_cache& kv_, graph& g_, int64_t n_tokens_, int64_t n_outputs_, uint32_t n_kv_)
    : m(m_), hp(m_.hp), w(m_.w), kv(kv_), g(g_), n_tokens(n_tokens_), n_outputs(n_outputs_), n_kv(n_kv_) {
  in.tokens = g.input(dtype::i32, {n_tokens}, "inp_tokens");
  in.pos = g.input(dtype::i32, {n_tokens}, "inp_pos");
  in.kv_idx = g.input(dtype::i32, {n_tokens}, "inp_kv_idx");
  in.mask = g.input(dtype::f32, {(int64_t)n_kv, n_tokens}, "inp_mask");
  if (hp.n_swa > 0) in.mask_swa = g.input(dtype::f32, {(int64_t)n_kv, n_tokens}, "inp_mask_swa");
  if (n_outputs < n_tokens) in.out_ids = g.input(dtype::i32, {n_outputs}, "inp_out_ids");
}

tensor* graph_builder::embed() {
  tensor* x = g.get_rows(w.tok_embd, in.tokens);
  name(x, "inp_embd", -1);
  if (hp.embd_scale != 1.0f) {
    x = g.scale(x, hp.embd_scale);
    name(x, "inp_scaled", -1);
  }
  return x;
}

tensor* graph_builder::rms_norm(tensor* x, tensor* weight, const char* n, int il) {
  tensor* t = g.rms_norm(x, hp.rms_eps);
  if (weight) t = g.mul(t, weight);
  name(t, n, il);
  return t;
}

tensor* graph_builder::layer_norm(tensor* x, tensor* weight, tensor* bias, const char* n, int il) {
  tensor* t = g.norm(x, hp.norm_eps);
  if (weight) t = g.mul(t, weight);
  if (bias) t = g.add(t, bias);
  name(t, n, il);
  return t;
}

tensor* graph_builder::linear(tensor* weight, tensor* x, tensor* bias) {
  tensor* t = g.mul_mat(weight, x);
  if (bias) t = g.add(t, bias);
  return t;
}

tensor* graph_builder::rope(tensor* x, int il) {
  const bool swa = hp.n_swa > 0 && hp.swa_layer[il];
  rope_params rp{};
  rp.n_rot = (int32_t)hp.n_rot;
  rp.mode = hp.rope;
  rp.n_ctx_orig = (int32_t)hp.n_ctx_orig;
  rp.freq_base = swa && (hp.a == arch::gemma3) ? hp.rope_freq_base_swa : hp.rope_freq_base;
  rp.freq_scale = swa && (hp.a == arch::gemma3) ? hp.rope_freq_scale_swa : hp.rope_freq_scale;
  rp.ext_factor = hp.yarn_ext_factor;
  rp.attn_factor = hp.yarn_attn_factor;
  rp.beta_fast = hp.yarn_beta_fast;
  rp.beta_slow = hp.yarn_beta_slow;
  const layer_weights& L = w.layers[il];
  tensor* factors = L.rope_freqs;
  if (L.rope_long || L.rope_short) factors = kv.size() > hp.n_ctx_orig && L.rope_long ? L.rope_long : L.rope_short;
  return g.rope(x, in.pos, factors, rp);
}

tensor* graph_builder::attention(tensor* q, tensor* k, tensor* v, int il, float scale) {
  const int64_t hd_k = hp.head_dim_k, hd_v = hp.head_dim_v, n_head_kv = hp.n_head_kv[il];
  // Write the new keys and values into their cells; the attention reads the cache through the
  // set_rows results so that the graph orders the write before the read.
  tensor* kc = kv.k(il);
  tensor* vc = kv.v(il);
  tensor* k_rows = g.reshape(k->is_contiguous() ? k : g.cont(k), {hd_k * n_head_kv, n_tokens});
  tensor* v_rows = g.reshape(v->is_contiguous() ? v : g.cont(v), {hd_v * n_head_kv, n_tokens});
  tensor* k_stored = g.set_rows(kc, k_rows, in.kv_idx);
  tensor* v_stored = g.set_rows(vc, v_rows, in.kv_idx);
  name(k_stored, "k_stored", il);
  name(v_stored, "v_stored", il);
  const size_t ek = type_size(kc->type), ev = type_size(vc->type);
  tensor* k_view = g.view(k_stored, {hd_k, n_head_kv, (int64_t)n_kv}, {(size_t)hd_k * ek, kc->nb[1]}, 0);
  tensor* v_view = g.view(v_stored, {hd_v, n_head_kv, (int64_t)n_kv}, {(size_t)hd_v * ev, vc->nb[1]}, 0);
  const bool swa = hp.n_swa > 0 && hp.swa_layer[il];
  if (scale == 0.0f) scale = hp.attn_scale != 0.0f ? hp.attn_scale : 1.0f / std::sqrt((float)hd_k);
  tensor* out = g.attention(q, k_view, v_view, swa ? in.mask_swa : in.mask, scale, hp.attn_softcap);
  name(out, "kqv_out", il);
  return g.reshape(out, {hd_v * hp.n_head, n_tokens});
}

tensor* graph_builder::self_attention(tensor* x, int il) {
  const layer_weights& L = w.layers[il];
  const int64_t hd_k = hp.head_dim_k, hd_v = hp.head_dim_v, n_head = hp.n_head, n_head_kv = hp.n_head_kv[il];
  tensor *q, *k, *v;
  if (L.wqkv) {
    tensor* qkv = linear(L.wqkv, x);
    name(qkv, "wqkv", il);
    const size_t row = qkv->nb[1];
    q = g.view(qkv, {hd_k, n_head, n_tokens}, {(size_t)hd_k * 4, row}, 0);
    k = g.view(qkv, {hd_k, n_head_kv, n_tokens}, {(size_t)hd_k * 4, row}, (size_t)(hd_k * n_head) * 4);
    v = g.view(qkv, {hd_v, n_head_kv, n_tokens}, {(size_t)hd_v * 4, row}, (size_t)(hd_k * (n_head + n_head_kv)) * 4);
  } else {
    tensor* qp = linear(L.wq, x, L.bq);
    tensor* kp = linear(L.wk, x, L.bk);
    tensor* vp = linear(L.wv, x, L.bv);
    // The three products side by side in execution order (a GPU backend runs them as one launch).
    g.expand(qp);
    g.expand(kp);
    g.expand(vp);
    q = g.reshape(qp, {hd_k, n_head, n_tokens});
    k = g.reshape(kp, {hd_k, n_head_kv, n_tokens});
    v = g.reshape(vp, {hd_v, n_head_kv, n_tokens});
  }
  name(q, "Qcur", il);
  name(k, "Kcur", il);
  name(v, "Vcur", il);
  if (L.attn_q_norm) q = rms_norm(q, L.attn_q_norm, "Qcur_normed", il);
  if (L.attn_k_norm) k = rms_norm(k, L.attn_k_norm, "Kcur_normed", il);
  q = rope(q, il);
  k = rope(k, il);
  name(q, "Qcur_rope", il);
  name(k, "Kcur_rope", il);
  tensor* out = attention(q, k, v, il);
  out = linear(L.wo, out, L.bo);
  name(out, "attn_out", il);
  return out;
}

tensor* graph_builder::ffn(tensor* x, int il, bool gelu) {
  const layer_weights& L = w.layers[il];
  tensor *gate, *up;
  if (!L.ffn_gate) {
    // Fused gate+up (phi3): the first half of the rows is the gate.
    tensor* gu = g.mul_mat(L.ffn_up, x);
    name(gu, "ffn_gate_up", il);
    const int64_t n_ff = gu->ne[0] / 2, n = gu->ne[1];
    gate = g.view(gu, {n_ff, n}, {gu->nb[1]}, 0);
    up = g.view(gu, {n_ff, n}, {gu->nb[1]}, (size_t)n_ff * 4);
  } else {
    gate = g.mul_mat(L.ffn_gate, x);
    up = g.mul_mat(L.ffn_up, x);
    name(gate, "ffn_gate", il);
    name(up, "ffn_up", il);
  }
  tensor* act = gelu ? g.geglu(gate, up) : g.swiglu(gate, up);
  name(act, "ffn_act", il);
  tensor* out = g.mul_mat(L.ffn_down, act);
  name(out, "ffn_out", il);
  return out;
}

tensor* graph_builder::moe(tensor* x, int il) {
  const layer_weights& L = w.layers[il];
  const int k = (int)hp.n_expert_used;
  tensor* logits = g.mul_mat(L.ffn_gate_inp, x);  // [n_expert, n_tokens]
  name(logits, "ffn_moe_logits", il);
  tensor* probs = g.softmax(logits);
  name(probs, "ffn_moe_probs", il);
  tensor* ids = g.top_k(probs, k);                // [k, n_tokens]
  name(ids, "ffn_moe_topk", il);
  tensor* weights = g.gather(probs, ids, hp.expert_weights_norm);
  name(weights, "ffn_moe_weights", il);
  tensor* xb = g.reshape(x, {x->ne[0], 1, x->ne[1]});
  tensor* gate = g.mul_mat_id(L.ffn_gate_exps, xb, ids);  // [n_ff_exp, k, n_tokens]
  tensor* up = g.mul_mat_id(L.ffn_up_exps, xb, ids);
  tensor* act = g.swiglu(gate, up);
  name(act, "ffn_moe_act", il);
  tensor* down = g.mul_mat_id(L.ffn_down_exps, act, ids);  // [n_embd, k, n_tokens]
  tensor* out = g.moe_sum(down, weights);
  name(out, "ffn_moe_out", il);
  return out;
}

tensor* graph_builder::select_outputs(tensor* x) {
  return in.out_ids ? g.get_rows(x, in.out_ids) : x;
}

tensor* graph_builder::head(tensor* x) {
  x = w.output_norm_b ? layer_norm(x, w.output_norm, w.output_norm_b, "result_norm", -1)
                      : rms_norm(x, w.output_norm, "result_norm", -1);
  tensor* logits = g.mul_mat(w.output, x);
  if (hp.final_softcap > 0.0f) logits = g.softcap(logits, hp.final_softcap);
  name(logits, "result_output", -1);
  return logits;
}

}  // namespace hearth
