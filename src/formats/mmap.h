// Read-only memory mapping of a whole file (falls back to reading it when mmap is not possible).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace hearth {

class mapped_file {
 public:
  // Maps path read-only; throws hearth::error (kind io / not_found) with the OS reason.
  explicit mapped_file(const std::string& path);
  ~mapped_file();
  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool is_mapped() const { return mapped_; }
  // Hint that the range will be read soon (MADV_WILLNEED).
  void prefetch(size_t offset, size_t len) const;

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  std::vector<uint8_t> fallback_;
};

}  // namespace hearth
