// SHA-256 (OpenSSL's libcrypto underneath): incremental hashing and whole-file hashing, used to
// verify downloads against the hub's LFS hashes.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace hearth::hub {

class sha256 {
 public:
  sha256();
  ~sha256();
  sha256(const sha256&) = delete;
  sha256& operator=(const sha256&) = delete;
  void update(const void* data, size_t n);
  std::string finish_hex();  // lowercase hex; the object cannot be updated afterwards

 private:
  void* ctx_;
};

std::string sha256_hex(const void* data, size_t n);

// Hashes the first n_bytes of a file (all of it when n_bytes is UINT64_MAX). on_progress, if set, is
// called with the bytes hashed so far; a set stop flag aborts with a hearth::error of kind cancelled.
std::string sha256_file(const std::string& path, uint64_t n_bytes = UINT64_MAX,
                        const std::function<void(uint64_t)>& on_progress = {},
                        const std::atomic<int>* stop = nullptr);

}  // namespace hearth::hub
