// hearth-synth: writes a random-weight GGUF of a real model's shape in any file type, for benchmarks
// (hearth bench, llama-bench) on machines without the real weights.
//   hearth-synth llama-3.2-1b -t q4_k_m -o /tmp/llama-1b-q4_k_m.gguf
#include <CLI/CLI.hpp>

#include <cstdio>
#include <map>

#include "core/error.h"
#include "model/synth.h"

using namespace hearth;

int main(int argc, char** argv) {
  CLI::App app{"Write a random-weight GGUF model of a real model's shape (for benchmarks)"};
  std::string shape_name, type = "q4_k_m", out;
  uint64_t seed = 1;
  int n_threads = 0;
  uint32_t n_layer = 0, n_vocab = 0, n_ctx = 0;
  bool pure = false, list = false, dry_run = false;
  app.add_option("SHAPE", shape_name, "Model shape (see --list)");
  app.add_option("-t,--type", type, "File type as llama-quantize names it: q4_0, q4_k_m, q8_0, f16, ... (default q4_k_m)");
  app.add_option("-o,--output", out, "Output GGUF file");
  app.add_option("-s,--seed", seed, "Random seed (default 1)");
  app.add_option("--threads", n_threads, "Threads (default: all)");
  app.add_flag("--pure", pure, "Every matrix in the base type (llama-quantize --pure)");
  app.add_option("--layers", n_layer, "Override the number of layers (smaller test models)");
  app.add_option("--vocab", n_vocab, "Override the vocabulary size");
  app.add_option("--ctx", n_ctx, "Override the training context length");
  app.add_flag("--list", list, "List the shapes and file types");
  app.add_flag("--dry-run", dry_run, "Print the tensors and their types, write nothing");
  CLI11_PARSE(app, argc, argv);

  try {
    if (list) {
      std::printf("shapes:");
      for (const auto& s : synth::shape_names()) std::printf(" %s", s.c_str());
      std::printf("\ntypes:");
      for (const auto& t : synth::file_type_names()) std::printf(" %s", t.c_str());
      std::printf("\n");
      return 0;
    }
    if (shape_name.empty()) fail(error_kind::invalid_argument, "no model shape given (see --list)");
    const synth::model_shape* s = synth::find_shape(shape_name);
    if (!s) fail(error_kind::invalid_argument, "unknown model shape '{}' (see --list)", shape_name);
    if (!synth::find_file_type(type)) fail(error_kind::invalid_argument, "unknown file type '{}' (see --list)", type);
    synth::options o;
    o.shape = *s;
    if (n_layer) o.shape.n_layer = n_layer;
    if (n_vocab) o.shape.n_vocab = n_vocab;
    if (n_ctx) o.shape.n_ctx = n_ctx;
    o.type = type;
    o.pure = pure;
    o.seed = seed;
    o.n_threads = n_threads;

    std::map<std::string, std::pair<int, uint64_t>> by_type;
    uint64_t total = 0;
    for (const auto& t : synth::plan_tensors(o)) {
      const uint64_t bytes = row_bytes(t.type, t.ne[0]) * (uint64_t)(t.ne[1] * t.ne[2] * t.ne[3]);
      auto& e = by_type[dtype_name(t.type)];
      e.first++;
      e.second += bytes;
      total += bytes;
      if (dry_run)
        std::printf("%-28s %-6s [%lld, %lld]\n", t.name.c_str(), dtype_name(t.type), (long long)t.ne[0], (long long)t.ne[1]);
    }
    for (const auto& [name, e] : by_type)
      std::fprintf(stderr, "  %-6s %4d tensors %10.1f MiB\n", name.c_str(), e.first, e.second / 1048576.0);
    std::fprintf(stderr, "  total  %10.1f MiB of weights\n", total / 1048576.0);
    if (dry_run) return 0;
    if (out.empty()) fail(error_kind::invalid_argument, "no output file given (-o FILE)");
    const synth::write_result r = synth::write_model(out, o);
    std::fprintf(stderr, "wrote %s: %s %s, %.2f B params, %.1f MiB in %.1f s\n", out.c_str(), o.shape.name.c_str(), type.c_str(),
                 r.n_params / 1e9, r.file_bytes / 1048576.0, r.seconds);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hearth-synth: %s\n", e.what());
    return 1;
  }
}
