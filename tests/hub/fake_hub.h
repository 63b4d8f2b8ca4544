// A fake Hugging Face hub for the tests: a real HTTP server on 127.0.0.1 (cpp-httplib, in the test
// process) serving the hub's API shapes (model info with siblings, recursive tree with LFS SHA-256
// and sizes, paginated by Link headers; search; resolve URLs redirecting to a "CDN" path with Range
// support) over in-memory files, with faults to inject and byte counters to read.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace hearth::test {

struct fake_file {
  std::string path;    // inside the repo
  std::string data;    // the bytes served
  std::string sha256;  // what the tree reports; empty = the real hash of data
  bool in_tree = true; // false: only the model info's siblings list it

  // Faults. A "times" counter is used up one response at a time; -1 means every response.
  int status_times = 0;          // CDN answers status_code (with Retry-After if >= 0) instead of data
  int status_code = 503;
  int retry_after_s = -1;
  int status_after = 0;          // ... but only once this many CDN requests for the file were served
  int drop_times = 0;            // a response closes the connection after drop_after bytes
  uint64_t drop_after = 0;
  int corrupt_times = 0;         // a response covering corrupt_offset sends that byte flipped
  uint64_t corrupt_offset = 0;
  int stall_times = 0;           // a response goes silent after stall_after bytes
  uint64_t stall_after = 0;
  size_t throttle_chunk = 0;     // serve in chunks of this size ...
  int throttle_sleep_ms = 0;     // ... sleeping this long before each
};

struct fake_repo {
  std::string id;  // owner/name
  std::vector<fake_file> files;
  std::vector<std::string> odd_paths;  // tree entries that are never served (e.g. "../evil.gguf")
  std::string gated_token;             // non-empty: resolve needs "Authorization: Bearer <token>"
  int tree_page_size = 0;              // > 0: the tree API paginates with Link headers
  int64_t downloads = 0, likes = 0;
};

struct request_record {
  std::string path;
  std::string range;  // the Range header
  int status = 0;
  bool authorized = false;  // carried an Authorization header
  double t = 0;             // seconds since the server started
};

class fake_hub {
 public:
  fake_hub();
  ~fake_hub();
  fake_hub(const fake_hub&) = delete;
  fake_hub& operator=(const fake_hub&) = delete;

  std::string url() const;  // http://127.0.0.1:<port>
  void add_repo(fake_repo r);
  // Changes a file's faults (or data) under the server's lock.
  template <typename F> void edit(const std::string& repo, const std::string& path, F&& f) {
    std::lock_guard<std::mutex> lock(m_);
    f(*find_file(repo, path));
  }
  uint64_t bytes_served(const std::string& repo, const std::string& path) const;  // data bytes written by the CDN
  std::vector<request_record> requests() const;
  void reset_counters();
  // The next `times` API requests (/api/...) answer `status` (with Retry-After: 0).
  void set_api_fail(int times, int status);

 private:
  struct impl;
  fake_file* find_file(const std::string& repo, const std::string& path);
  std::unique_ptr<impl> p_;
  mutable std::mutex m_;
};

// Reads a whole file (test data).
std::string read_file(const std::string& path);
std::string sha256_of(const std::string& data);

// A fresh directory under $TMPDIR, removed with everything in it when the object goes away.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

}  // namespace hearth::test
