// Hugging Face: model references ("owner/repo[:QUANT|/FILE]"), the hub's API (model info, file
// tree with LFS SHA-256 and sizes, search), choosing a GGUF by quantization, split GGUF sets, and
// the plan of files to download for a reference. HF_ENDPOINT and HF_TOKEN are honoured.
#pragma once
#include <atomic>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hub/http.h"
#include "hub/transfer.h"

namespace hearth::hub {

// "owner/repo", "owner/repo:Q5_K_M", "owner/repo/sub/file.gguf"; a leading "https://huggingface.co/",
// "hf.co/" or "huggingface.co/" and a "blob/main/" or "resolve/main/" inside a URL are accepted.
struct model_ref {
  std::string repo;   // owner/name
  std::string quant;  // requested quantization, upper case; empty = the default (Q4_K_M)
  std::string file;   // a path inside the repo; empty = choose by quantization
};
model_ref parse_model_ref(std::string_view spec);
std::string to_string(const model_ref& r);

inline constexpr const char* default_quant = "Q4_K_M";

struct hub_file {
  std::string path;    // inside the repo
  uint64_t size = 0;
  std::string sha256;  // LFS oid (lowercase hex), empty if the hub gave none
};

// "name-00002-of-00005.gguf" -> {"name", 2, 5}.
struct split_name {
  std::string prefix;
  int index = 0;
  int count = 0;
};
std::optional<split_name> parse_split_name(std::string_view filename);

// The quantization named in a file name ("Llama-3.2-1B-Instruct-Q4_K_M.gguf" -> "Q4_K_M",
// "x.fp16.gguf" -> "F16"), upper case; empty when the name tells none.
std::string quant_from_filename(std::string_view filename);
// Approximate bits per weight of a quantization (as llama.cpp's quantizer reports them for
// Llama-class models); -1 when unknown. An "UD-" (Unsloth dynamic) prefix is ignored.
double quant_bits_per_weight(std::string_view quant);

// One downloadable model of a repo: a single GGUF, or a complete split set (parts in order).
struct gguf_choice {
  std::string quant;
  std::vector<hub_file> files;
  uint64_t total_bytes() const;
  std::string name() const;  // the file name, or the first part's name for a split set
};

// Groups a repo listing into choices: non-GGUF files, multimodal projectors (mmproj*), unsafe names
// (absolute, "..", control characters) and incomplete split sets are left out, each with a warning.
std::vector<gguf_choice> gguf_choices(const std::vector<hub_file>& files, std::vector<std::string>* warnings = nullptr);

// Picks the choice for a requested quantization. An exact (case-insensitive) match wins. Otherwise
// the closest by approximate bits per weight, where a different family (K-quants Q*_K*, I-quants
// IQ*, legacy Q4_0..Q8_0, floats F16/BF16/F32, ternary TQ*) counts as 0.25 bit further away, and a
// tie goes to the larger (better) quantization. With nothing to compare (names without a
// quantization) a repo holding a single model gives that model; otherwise nullptr.
const gguf_choice* pick_quant(const std::vector<gguf_choice>& choices, std::string_view requested, bool* exact = nullptr);

struct search_hit {
  std::string id;
  int64_t downloads = 0;
  int64_t likes = 0;
};

class hf_client {
 public:
  hf_client(std::string endpoint, std::string token, http_options opts);
  // HF_ENDPOINT (default https://huggingface.co) and HF_TOKEN.
  static hf_client from_env(http_options opts = {});

  const std::string& endpoint() const { return endpoint_; }
  bool has_token() const { return !token_.empty(); }
  std::vector<std::string> auth_headers() const;

  // GET /api/models/<repo>: existence, gating, siblings.
  nlohmann::json model_info(const std::string& repo, const std::atomic<int>* stop = nullptr) const;
  // Every file of the repo with size and LFS SHA-256: the tree API (recursive, following Link
  // pagination), completed by the model info's siblings.
  std::vector<hub_file> list_files(const std::string& repo, const std::atomic<int>* stop = nullptr) const;
  // GET /api/models?search=TEXT&filter=gguf, most downloaded first.
  std::vector<search_hit> search(const std::string& text, int limit, const std::atomic<int>* stop = nullptr) const;
  // <endpoint>/<repo>/resolve/main/<path>
  std::string resolve_url(const std::string& repo, const std::string& path) const;

  // Rewrites an HTTP failure about repo (and optionally one file) as a message a user can act on:
  // not found, gated (request access / set HF_TOKEN), token rejected.
  [[noreturn]] void rethrow_friendly(const http_error& e, const std::string& repo, const std::string& file = {}) const;

 private:
  nlohmann::json get_json(const std::string& url, const std::string& repo, const std::atomic<int>* stop,
                          std::string* next_link = nullptr) const;
  std::string endpoint_;
  std::string token_;
  http_options opts_;
};

// What `hearth get` will fetch for a reference, and where the files go.
struct download_plan {
  std::string repo;
  std::string quant;                // of the chosen model ("" if unknown)
  bool exact_quant = true;          // false when the requested quantization was not in the repo
  std::string note;                 // e.g. "Q4_K_M is not in the repo; taking Q4_K_S, the closest"
  std::vector<remote_file> files;   // url, dest models_root/<owner>/<repo>/<path>, size, sha256, auth
};
download_plan plan_download(const hf_client& hub, const model_ref& ref, const std::string& models_root,
                            const std::atomic<int>* stop = nullptr);
// The choices of a repo (for `hearth get --list`).
std::vector<gguf_choice> list_choices(const hf_client& hub, const std::string& repo, std::vector<std::string>* warnings = nullptr,
                                      const std::atomic<int>* stop = nullptr);

}  // namespace hearth::hub
