// The local model library: Hearth's own folder (<root>/<publisher>/<repo>/<file>.gguf, LM Studio's
// layout) plus models found in LM Studio's and Ollama's stores, used in place. Each model is
// described from its GGUF metadata (architecture, parameters, quantization, context length); only
// metadata is parsed, tensor data stays unread. Import and removal work on Hearth's folder only.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace hearth::gguf {
class file;
}

namespace hearth::hub {

struct library_locations {
  std::string root;                   // Hearth's library
  std::vector<std::string> lmstudio;  // LM Studio model folders
  std::vector<std::string> ollama;    // Ollama model folders (holding manifests/ and blobs/)
  static library_locations from_env();  // models_root(), lmstudio_roots(), ollama_roots()
};

struct gguf_summary {
  std::string architecture;
  std::string model_name;     // general.name
  uint64_t n_params = 0;      // elements of every tensor of every part
  std::string quantization;   // "Q4_K_M" (general.file_type) or the dominant weight type ("Q8_0"); "" if no tensors
  int64_t context_length = 0; // <arch>.context_length, 0 if absent
};
// Reads the metadata of a model's parts (a single file, or a split set in order). Throws on a file
// that is not valid GGUF.
gguf_summary summarize_gguf(const std::vector<std::string>& parts);
// llama.cpp's file-type numbers (general.file_type) as quantization names: 15 -> "Q4_K_M"; "" if unknown.
std::string file_type_name(int64_t file_type);
// The weight type holding the most elements among matrices, as a name ("Q4_K", "F16"); "" if none.
std::string dominant_tensor_type(const gguf::file& f);

struct model_entry {
  std::string name;    // how to refer to it: "publisher/repo/file" (Hearth, LM Studio), "model:tag" (Ollama)
  std::string source;  // "hearth", "lmstudio" or "ollama"
  std::string path;    // the file to open (first part of a split set)
  std::vector<std::string> files;  // every file of the model
  uint64_t size_bytes = 0;
  gguf_summary info;
  bool loaded = false;  // set by mark_loaded (from the server's list of loaded models)
  std::string error;    // why the metadata could not be read; the entry is still listed
};

struct list_options {
  bool hearth = true;
  bool lmstudio = true;
  bool ollama = true;
  bool read_metadata = true;
};
// Every model, Hearth's first, then LM Studio's, then Ollama's; sorted by name within a source.
std::vector<model_entry> list_models(const library_locations& where, const list_options& opts = {});
// One entry as JSON (hearth ls --json and the server's /api/models): name, source, path, files,
// size_bytes, architecture, model_name, parameters, quantization, context_length, loaded, [error].
nlohmann::ordered_json to_json(const model_entry& m);
// The hook for a "loaded" column: marks the entries whose path is in loaded_paths (compared after
// resolving symlinks and "..").
void mark_loaded(std::vector<model_entry>& entries, const std::set<std::string>& loaded_paths);

// Finds one model by: a path to a GGUF file; its exact name; its name without the publisher or with
// ".gguf"; its file name; "publisher/repo" or "publisher/repo:QUANT" when that picks one model.
// Throws not_found, or invalid_argument listing the candidates when the query is ambiguous.
model_entry find_model(const library_locations& where, const std::string& query, const list_options& opts = {});

// Removes a model of Hearth's library (every part, leftover partial downloads, then empty folders up
// to the root). Models of other stores are refused. Returns the removed files.
std::vector<std::string> remove_model(const library_locations& where, const model_entry& m);

enum class import_mode { copy, link, move };
// Brings an existing GGUF (and the other parts of its split set) into the library under
// <root>/<publisher>/<repo>/ (as_repo "publisher/repo"; default "local/<file stem>"). The file is
// validated as GGUF first; copies land under a temporary name and are renamed when complete.
// Returns the new paths.
std::vector<std::string> import_model(const library_locations& where, const std::string& path, import_mode mode,
                                      const std::string& as_repo = {});

}  // namespace hearth::hub
