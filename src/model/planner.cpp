#include "model/planner.h"

#include <algorithm>

#include "backend/registry.h"
#include "core/error.h"
#include "backend/scheduler.h"
#include "model/archs/archs.h"
#include "model/graph_builder.h"
#include "model/kv_cache.h"
#include "model/loader.h"

namespace hearth {

uint64_t usable_memory(const device& dev) {
  const device_memory m = dev.memory();
  if (m.free_bytes == 0) return 0;
  const uint64_t margin = std::max<uint64_t>(256ull << 20, m.total_bytes / 20);
  return m.free_bytes > margin ? m.free_bytes - margin : 1;  // 1: known, and nothing fits
}

offload_plan plan_offload(const plan_request& req) {
  const auto m = open_model(req.path);
  const hparams& hp = m->hp;
  device* cpu = registry::instance().cpu();
  const uint32_t n_ctx = req.n_ctx ? req.n_ctx : std::min<uint32_t>(hp.n_ctx_train, 4096);
  const uint32_t n_batch = std::min(req.n_batch, n_ctx);
  // With every layer offloaded, the token embeddings go to the GPU too when it can look them up and
  // they fit; otherwise they stay on the CPU (evaluate(n, false)) before any layer comes back.
  const bool embed = !req.gpus.empty() && can_embed_on(*m, req.gpus[0]);
  auto evaluate = [&](int n_gpu, bool gpu_input) {
    offload_plan p;
    p.n_layer = (int)hp.n_layer;
    p.n_gpu_layers = n_gpu;
    // A dry run of exactly what loading and a context would do: weights, cache and the
    // worst-case graph on placeholder buffers, the scheduler sizing its buffers.
    const placement pl = plan_placement(hp.n_layer, cpu, req.gpus, n_gpu, gpu_input && embed);
    p.gpu_input = pl.input != cpu;
    auto shape = load_shape(req.path, pl);
    kv_cache kv(*shape, n_ctx, req.type_k, req.type_v, false);
    std::vector<device*> devs = {cpu};
    for (device* g : req.gpus) devs.push_back(g);
    std::vector<device*> sched_devs;  // as the context orders them: the GPUs holding layers, then the CPU
    for (device* g : req.gpus)
      if (std::find(pl.layers.begin(), pl.layers.end(), g) != pl.layers.end() || pl.output == g) sched_devs.push_back(g);
    sched_devs.push_back(cpu);
    scheduler sched(sched_devs);
    graph g;
    graph_builder b(*shape, kv, g, n_batch, n_batch, n_ctx);
    g.mark_output(arch_for(hp.a).build(b));
    const auto compute = sched.measure(g);
    const auto weights = shape->weight_bytes();
    const auto cache = kv.bytes();
    auto bytes_of = [](const auto& list, device* d) -> uint64_t {
      for (const auto& [dev, n] : list)
        if (dev == d) return n;
      return 0;
    };
    for (device* d : devs) {
      device_plan dp;
      dp.dev = d;
      for (uint32_t il = 0; il < hp.n_layer; ++il) dp.n_layers += pl.layers[il] == d;
      dp.output = pl.output == d;
      dp.weights = bytes_of(weights, d);
      dp.kv = bytes_of(cache, d);
      dp.compute = bytes_of(compute, d);
      dp.available = usable_memory(*d);
      if (!dp.fits()) p.fits = false;
      p.devices.push_back(dp);
    }
    return p;
  };
  if (req.gpus.empty()) return evaluate(0, false);
  if (req.n_gpu_layers >= 0) {
    const int n = std::min<int>(req.n_gpu_layers, (int)hp.n_layer);
    offload_plan p = evaluate(n, true);
    if (!p.fits && p.gpu_input) p = evaluate(n, false);
    if (!p.fits) p.note = "the asked offload does not fit; --gpu-layers auto picks what fits";
    return p;
  }
  // Auto: the most layers whose GPU share fits (the CPU side only grows as layers come back).
  auto gpus_fit = [](const offload_plan& p) {
    for (size_t i = 1; i < p.devices.size(); ++i)
      if (!p.devices[i].fits()) return false;
    return true;
  };
  int lo = 0, hi = (int)hp.n_layer;
  if (offload_plan all = evaluate(hi, true); gpus_fit(all)) return all;
  if (offload_plan all = evaluate(hi, false); gpus_fit(all)) return all;
  --hi;
  while (lo < hi) {  // largest n with a fitting GPU share (monotone in n)
    const int mid = (lo + hi + 1) / 2;
    if (gpus_fit(evaluate(mid, false))) lo = mid;
    else hi = mid - 1;
  }
  offload_plan p = evaluate(lo, false);
  if (lo < (int)hp.n_layer) p.note = fmt::format("{} of {} layers fit on the GPU; the rest run on the CPU", lo, hp.n_layer);
  return p;
}

}  // namespace hearth
