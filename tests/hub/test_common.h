// Shared pieces of the hub tests: fast transfer settings, the standard fake repos, file checks.
#pragma once
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "fake_hub.h"
#include "hub/transfer.h"

namespace hearth::test {

inline std::string model_path(const std::string& rel) { return std::string(HEARTH_TEST_DATA) + "/models/" + rel; }

// Settings that make retries, stalls and checkpoints happen in milliseconds.
inline hub::transfer_options fast_options() {
  hub::transfer_options o;
  o.n_connections = 4;
  o.part_bytes = 128 * 1024;
  o.state_interval_ms = 20;
  o.min_free_bytes = 0;
  o.http.connect_timeout_ms = 2000;
  o.http.stall_timeout_ms = 400;
  o.http.retry.max_retries = 4;
  o.http.retry.backoff_initial_ms = 5;
  o.http.retry.backoff_max_ms = 40;
  o.http.retry.retry_after_max_ms = 5000;
  return o;
}

// "test/tiny": two real GGUF files; the standard repo of the transfer tests.
inline fake_repo tiny_repo() {
  fake_repo r;
  r.id = "test/tiny";
  r.files.push_back({"stories260K.gguf", read_file(model_path("tinyllamas/stories260K.gguf"))});
  r.files.push_back({"llama-2-tiny-random-F16.gguf", read_file(model_path("ollama/llama-2-tiny-random.gguf"))});
  r.downloads = 10;
  return r;
}

inline bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

// The download is complete and verified: the final file holds exactly `data`, no partial or state file.
inline void expect_complete(const std::string& dest, const std::string& data) {
  ASSERT_TRUE(exists(dest)) << dest;
  EXPECT_TRUE(read_file(dest) == data) << dest << " differs from the served bytes";
  EXPECT_FALSE(exists(hub::partial_path(dest)));
  EXPECT_FALSE(exists(hub::state_path(dest)));
}

// Nothing that looks like a complete model is left behind.
inline void expect_no_complete_file(const std::string& dest) { EXPECT_FALSE(exists(dest)) << dest << " should not exist"; }

}  // namespace hearth::test

namespace hearth::test {

// "bartowski/Tiny-GGUF": three quantizations, a vision projector, hostile names, a paginated tree.
inline fake_repo quant_repo() {
  fake_repo r;
  r.id = "bartowski/Tiny-GGUF";
  r.files.push_back({"Tiny-Q4_K_M.gguf", read_file(model_path("tinyllamas/stories260K.gguf"))});
  r.files.push_back({"Tiny-Q8_0.gguf", read_file(model_path("ollama/llama-2-tiny-random.gguf"))});
  r.files.push_back({"Tiny-IQ4_XS.gguf", read_file(model_path("llama.cpp-vocab/ggml-vocab-phi-3.gguf"))});
  r.files.push_back({"mmproj-Tiny-f16.gguf", read_file(model_path("llama.cpp-vocab/ggml-vocab-bert-bge.gguf"))});
  r.odd_paths = {"../../evil-Q4_K_M.gguf", "bad\x01name-Q4_K_M.gguf", "/abs-Q4_K_M.gguf"};
  r.tree_page_size = 2;
  r.downloads = 500;
  r.likes = 7;
  return r;
}

// "test/split": a Q4_K_M model in two parts, and an incomplete Q8_0 set.
inline fake_repo split_repo() {
  const std::string d = read_file(model_path("tinyllamas/stories260K.gguf"));
  fake_repo r;
  r.id = "test/split";
  r.files.push_back({"big-Q4_K_M-00002-of-00002.gguf", d.substr(d.size() / 2)});
  r.files.push_back({"big-Q4_K_M-00001-of-00002.gguf", d.substr(0, d.size() / 2)});
  r.files.push_back({"other-Q8_0-00001-of-00002.gguf", d.substr(0, 1000)});
  r.downloads = 20;
  return r;
}

// "test/folders": two split sets whose files have the same names, in folders named by quantization.
inline fake_repo folders_repo() {
  const std::string a = read_file(model_path("tinyllamas/stories260K.gguf"));
  const std::string b = read_file(model_path("ollama/llama-2-tiny-random.gguf"));
  fake_repo r;
  r.id = "test/folders";
  r.files.push_back({"Q4_K_M/model-00001-of-00002.gguf", a.substr(0, 1000)});
  r.files.push_back({"Q4_K_M/model-00002-of-00002.gguf", a.substr(1000)});
  r.files.push_back({"Q8_0/model-00001-of-00002.gguf", b.substr(0, 5000)});
  r.files.push_back({"Q8_0/model-00002-of-00002.gguf", b.substr(5000)});
  return r;
}

// "test/gated": needs HF_TOKEN=hf_secret.
inline fake_repo gated_repo() {
  fake_repo r;
  r.id = "test/gated";
  r.files.push_back({"Gated-Q4_K_M.gguf", read_file(model_path("tinyllamas/stories260K.gguf"))});
  r.gated_token = "hf_secret";
  return r;
}

// "test/badhash": the tree's SHA-256 does not match the bytes.
inline fake_repo bad_hash_repo() {
  fake_repo r;
  r.id = "test/badhash";
  r.files.push_back({"Bad-Q4_K_M.gguf", read_file(model_path("tinyllamas/stories260K.gguf")), std::string(64, 'e')});
  return r;
}

}  // namespace hearth::test
