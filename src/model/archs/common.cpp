#include "core/error.h"
#include "model/archs/archs.h"

namespace hearth::archs {

std::string blk(int il, const char* what) { return fmt::format("blk.{}.{}.weight", il, what); }
std::string blk_bias(int il, const char* what) { return fmt::format("blk.{}.{}.bias", il, what); }

void declare_io(tensor_declarer& d, const hparams& hp, model_weights& w) {
  const int64_t n_embd = hp.n_embd, n_vocab = hp.n_vocab;
  w.tok_embd = d.need("token_embd.weight", {n_embd, n_vocab}, place_input);
  w.output_norm = d.need("output_norm.weight", {n_embd}, place_output);
  w.output = d.need("output.weight", {n_embd, n_vocab}, place_output, false);
  if (!w.output) w.output = d.need("token_embd.weight", {n_embd, n_vocab}, place_output);
}

void declare_decoder_layer(tensor_declarer& d, const hparams& hp, layer_weights& L, int il) {
  const int64_t n_embd = hp.n_embd, hd_k = hp.head_dim_k, hd_v = hp.head_dim_v;
  const int64_t n_q = hd_k * hp.n_head, n_k = hd_k * hp.n_head_kv[il], n_v = hd_v * hp.n_head_kv[il];
  L.attn_norm = d.need(blk(il, "attn_norm"), {n_embd}, il);
  L.wq = d.need(blk(il, "attn_q"), {n_embd, n_q}, il);
  L.wk = d.need(blk(il, "attn_k"), {n_embd, n_k}, il);
  L.wv = d.need(blk(il, "attn_v"), {n_embd, n_v}, il);
  L.wo = d.need(blk(il, "attn_output"), {hd_v * hp.n_head, n_embd}, il);
  L.bq = d.need(blk_bias(il, "attn_q"), {n_q}, il, false);
  L.bk = d.need(blk_bias(il, "attn_k"), {n_k}, il, false);
  L.bv = d.need(blk_bias(il, "attn_v"), {n_v}, il, false);
  L.bo = d.need(blk_bias(il, "attn_output"), {n_embd}, il, false);
  L.attn_q_norm = d.need(blk(il, "attn_q_norm"), {hd_k}, il, false);
  L.attn_k_norm = d.need(blk(il, "attn_k_norm"), {hd_k}, il, false);
  L.ffn_norm = d.need(blk(il, "ffn_norm"), {n_embd}, il);
  if (hp.n_expert > 0) {
    const int64_t n_ff = hp.n_ff_exp ? hp.n_ff_exp : hp.n_ff[il];
    const int64_t n_exp = hp.n_expert;
    L.ffn_gate_inp = d.need(blk(il, "ffn_gate_inp"), {n_embd, n_exp}, il);
    L.ffn_gate_exps = d.need(blk(il, "ffn_gate_exps"), {n_embd, n_ff, n_exp}, il);
    L.ffn_up_exps = d.need(blk(il, "ffn_up_exps"), {n_embd, n_ff, n_exp}, il);
    L.ffn_down_exps = d.need(blk(il, "ffn_down_exps"), {n_ff, n_embd, n_exp}, il);
  } else {
    const int64_t n_ff = hp.n_ff[il];
    if (n_ff == 0) fail(error_kind::bad_format, "layer {}: missing feed_forward_length", il);
    L.ffn_gate = d.need(blk(il, "ffn_gate"), {n_embd, n_ff}, il);
    L.ffn_up = d.need(blk(il, "ffn_up"), {n_embd, n_ff}, il);
    L.ffn_down = d.need(blk(il, "ffn_down"), {n_ff, n_embd}, il);
  }
  L.rope_freqs = d.need("rope_freqs.weight", {hp.n_rot / 2}, il, false);
}

tensor* build_prenorm_decoder(graph_builder& b) {
  const hparams& hp = b.hp;
  graph& g = b.g;
  tensor* x = b.embed();
  for (int il = 0; il < (int)hp.n_layer; ++il) {
    const layer_weights& L = b.w.layers[il];
    tensor* res = x;
    tensor* h = b.rms_norm(x, L.attn_norm, "attn_norm", il);
    h = b.self_attention(h, il);
    if (il == (int)hp.n_layer - 1) {
      h = b.select_outputs(h);
      res = b.select_outputs(res);
    }
    x = g.add(h, res);
    b.name(x, "ffn_inp", il);
    h = b.rms_norm(x, L.ffn_norm, "ffn_norm", il);
    h = L.ffn_gate_inp ? b.moe(h, il) : b.ffn(h, il);
    x = g.add(h, x);
    b.name(x, "l_out", il);
  }
  return b.head(x);
}

}  // namespace hearth::archs
