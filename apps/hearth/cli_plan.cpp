#include "apps/hearth/cli_plan.h"

#include <fmt/format.h>

namespace hearth::cli {

namespace {
std::string mib(uint64_t b) { return fmt::format("{:.1f} MiB", b / 1048576.0); }
}  // namespace

std::string format_plan(const offload_plan& p) {
  std::string out = fmt::format("{} of {} layers on the GPU{}\n\n", p.n_gpu_layers, p.n_layer, p.fits ? "" : " (does NOT fit)");
  out += fmt::format("{:<12} {:>7} {:>6} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}\n", "device", "layers", "output", "weights", "kv cache",
                     "compute", "total", "available", "headroom");
  for (const device_plan& d : p.devices) {
    const std::string avail = d.available ? mib(d.available) : "unknown";
    const std::string head = !d.available ? "-" : d.fits() ? mib(d.available - d.total()) : fmt::format("-{}", mib(d.total() - d.available));
    out += fmt::format("{:<12} {:>7} {:>6} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}\n", d.dev->name(), d.n_layers, d.output ? "yes" : "no",
                       mib(d.weights), mib(d.kv), mib(d.compute), mib(d.total()), avail, head);
  }
  if (!p.note.empty()) out += "\n" + p.note + "\n";
  out += "\nCPU weights are mapped from the file (page cache); available = free memory minus a safety margin.\n";
  return out;
}

nlohmann::json plan_to_json(const offload_plan& p) {
  nlohmann::json j;
  j["n_layer"] = p.n_layer;
  j["gpu_layers"] = p.n_gpu_layers;
  j["fits"] = p.fits;
  j["note"] = p.note;
  j["devices"] = nlohmann::json::array();
  for (const device_plan& d : p.devices)
    j["devices"].push_back({{"device", d.dev->name()}, {"layers", d.n_layers}, {"output", d.output}, {"weights_bytes", d.weights},
                            {"kv_bytes", d.kv}, {"compute_bytes", d.compute}, {"total_bytes", d.total()},
                            {"available_bytes", d.available}, {"fits", d.fits()}});
  return j;
}

}  // namespace hearth::cli
