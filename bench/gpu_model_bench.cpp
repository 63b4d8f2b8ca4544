// Whole-model speed on a GPU backend (CUDA/ROCm, or any device named by --device): writes a
// synthetic Llama-shaped GGUF (random blocks with sane scales, no tokenizer needed), loads it fully
// offloaded and measures prompt processing (pp) and token generation (tg) in tokens/s, the weight
// bandwidth tg achieves and its fraction of the device's peak, and the time of one token on a tiny
// model (per-token overhead). Until `hearth bench` covers GPUs this is the GPU benchmark.
//
//   bench_gpu_model --shape 8b|1b|tiny --type q4_k_m|q4_0 [--pp 512] [--tg 128] [--dir /tmp]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "backend/registry.h"
#include "backends/init.h"
#include "core/fp16.h"
#include "formats/gguf.h"
#include "formats/quant_blocks.h"
#include "model/context.h"
#include "model/loader.h"

using namespace hearth;

namespace {

struct shape {
  uint32_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab;
};

shape shape_of(const std::string& s) {
  if (s == "8b") return {4096, 32, 32, 8, 14336, 128256};
  if (s == "1b") return {2048, 16, 32, 8, 8192, 128256};
  return {256, 2, 4, 2, 512, 1024};  // tiny: per-token overhead
}

// Random blocks whose f16 scale fields hold small values (no inf/NaN in the activations).
std::vector<uint8_t> random_tensor(dtype t, int64_t ne0, int64_t rows, std::mt19937_64& rng) {
  std::vector<uint8_t> b(row_bytes(t, ne0) * (size_t)rows);
  for (size_t i = 0; i + 8 <= b.size(); i += 8) {
    const uint64_t r = rng();
    std::memcpy(&b[i], &r, 8);
  }
  const size_t bs = type_size(t);
  const uint16_t small = f32_to_f16(0.002f);
  auto put = [&](size_t off, uint16_t v) {
    for (size_t p = off; p + 2 <= b.size(); p += bs) std::memcpy(&b[p], &v, 2);
  };
  switch (t) {
    case dtype::f32: {
      auto* f = reinterpret_cast<float*>(b.data());
      for (size_t i = 0; i < b.size() / 4; ++i) f[i] = 1.0f;
      break;
    }
    case dtype::q4_0: put(0, small); break;
    case dtype::q4_k: put(0, small); put(2, small); break;
    case dtype::q6_k: put(208, small); break;
    default: break;
  }
  return b;
}

std::string write_model(const std::string& dir, const std::string& shape_name, const std::string& type) {
  const std::string path = dir + "/hearth-bench-" + shape_name + "-" + type + ".gguf";
  if (std::filesystem::exists(path)) return path;
  const shape s = shape_of(shape_name);
  const bool k = type == "q4_k_m";
  const dtype main = k ? dtype::q4_k : dtype::q4_0;
  std::mt19937_64 rng(42);
  gguf::writer w;
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", "bench-" + shape_name + "-" + type);
  w.set_u32("llama.block_count", s.n_layer);
  w.set_u32("llama.embedding_length", s.n_embd);
  w.set_u32("llama.context_length", 8192);
  w.set_u32("llama.attention.head_count", s.n_head);
  w.set_u32("llama.attention.head_count_kv", s.n_head_kv);
  w.set_u32("llama.feed_forward_length", s.n_ff);
  w.set_f32("llama.rope.freq_base", 500000.0f);
  w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  const int64_t hd = s.n_embd / s.n_head, n_kv = hd * s.n_head_kv;
  auto add = [&](const std::string& name, dtype t, int64_t ne0, int64_t ne1) {
    const auto data = random_tensor(t, ne0, ne1, rng);
    if (ne1 == 1) w.add_tensor(name, t, {ne0}, data.data());
    else w.add_tensor(name, t, {ne0, ne1}, data.data());
  };
  add("token_embd.weight", main, s.n_embd, s.n_vocab);
  add("output_norm.weight", dtype::f32, s.n_embd, 1);
  add("output.weight", dtype::q6_k, s.n_embd, s.n_vocab);
  for (uint32_t il = 0; il < s.n_layer; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    // Q4_K_M gives attn_v and ffn_down more bits in about half of the layers.
    const dtype more = k && (il % 2 == 0) ? dtype::q6_k : main;
    add(p + "attn_norm.weight", dtype::f32, s.n_embd, 1);
    add(p + "attn_q.weight", main, s.n_embd, s.n_embd);
    add(p + "attn_k.weight", main, s.n_embd, n_kv);
    add(p + "attn_v.weight", more, s.n_embd, n_kv);
    add(p + "attn_output.weight", main, s.n_embd, s.n_embd);
    add(p + "ffn_norm.weight", dtype::f32, s.n_embd, 1);
    add(p + "ffn_gate.weight", main, s.n_embd, s.n_ff);
    add(p + "ffn_up.weight", main, s.n_embd, s.n_ff);
    add(p + "ffn_down.weight", more, s.n_ff, s.n_embd);
  }
  w.write(path);
  return path;
}

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

}  // namespace

int main(int argc, char** argv) {
  std::string shape_name = "1b", type = "q4_0", dir = "/tmp", dev_spec;
  int n_pp = 512, n_tg = 128;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--shape") shape_name = v;
    else if (a == "--type") type = v;
    else if (a == "--dir") dir = v;
    else if (a == "--pp") n_pp = std::stoi(v);
    else if (a == "--tg") n_tg = std::stoi(v);
    else if (a == "--device") dev_spec = v;
  }
  try {
    init_backends(true);
    device* dev = nullptr;
    if (!dev_spec.empty()) dev = registry::instance().find(dev_spec);
    else
      for (device* d : registry::instance().devices())
        if (d->kind() != device_kind::cpu) { dev = d; break; }
    if (!dev) {
      std::printf("no GPU device\n");
      return 1;
    }
    const double t0 = now();
    const std::string path = write_model(dir, shape_name, type);
    const double t1 = now();
    load_params lp;
    lp.gpus = {dev};
    lp.n_gpu_layers = -1;
    auto m = load_model(path, lp);
    const double t2 = now();
    uint64_t gpu_bytes = 0;
    for (auto& [d, n] : m->weight_bytes())
      if (d == dev) gpu_bytes += n;
    context_params cp;
    cp.n_ctx = (uint32_t)(n_pp + n_tg + 64);
    cp.n_batch = (uint32_t)std::max(n_pp, 1);
    context ctx(*m, cp);
    std::mt19937 rng(7);
    std::vector<int32_t> toks((size_t)n_pp);
    for (auto& t : toks) t = (int32_t)(rng() % m->hp.n_vocab);
    // Warm-up (graph recording, first-touch), then the best of 3 prompt runs.
    ctx.decode(batch::of({1, 2, 3, 4}, 0));
    double pp_best = 1e30;
    for (int r = 0; r < 3 && n_pp > 0; ++r) {
      ctx.cache().clear();
      const double a = now();
      ctx.decode(batch::of(toks, 0));
      pp_best = std::min(pp_best, now() - a);
    }
    ctx.cache().clear();
    ctx.decode(batch::of({5}, 0));
    int32_t tok = 6;
    const double a = now();
    for (int i = 0; i < n_tg; ++i) {
      ctx.decode(batch::of({tok}, 1 + i));
      tok = (int32_t)((tok * 31 + 7) % (int32_t)m->hp.n_vocab);
    }
    const double tg_s = now() - a;
    const device_props p = dev->props();
    const double tg_tps = n_tg / tg_s;
    const double gbs = (double)gpu_bytes * tg_tps / 1e9;
    std::printf("model %s %s: %.2f GiB on %s (%s), peak %.0f GB/s; written in %.1f s, loaded in %.1f s\n", shape_name.c_str(),
                type.c_str(), gpu_bytes / 1073741824.0, dev->name().c_str(), dev->description().c_str(), p.peak_bandwidth / 1e9,
                t1 - t0, t2 - t1);
    if (n_pp > 0) std::printf("  pp%d: %.1f t/s (%.1f ms)\n", n_pp, n_pp / pp_best, pp_best * 1e3);
    std::printf("  tg%d: %.1f t/s (%.3f ms/token), weights %.0f GB/s = %.1f%% of peak\n", n_tg, tg_tps, tg_s / n_tg * 1e3, gbs,
                p.peak_bandwidth ? 100.0 * gbs * 1e9 / (double)p.peak_bandwidth : 0.0);
    return 0;
  } catch (const std::exception& e) {
    std::printf("error: %s\n", e.what());
    return 1;
  }
}
