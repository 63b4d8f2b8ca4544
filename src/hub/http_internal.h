// libcurl plumbing shared by http.cpp and transfer.cpp (not part of the hub's public API).
#pragma once
#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "hub/http.h"

namespace hearth::hub::detail {

void curl_global_once();

// Per-attempt bookkeeping read and written by the curl callbacks.
struct attempt {
  const std::atomic<int>* stop = nullptr;
  int stall_timeout_ms = 30000;
  std::chrono::steady_clock::time_point last_data;
  bool stalled = false;
  bool stopped = false;
  long status = 0;                              // of the latest response in the redirect chain
  std::map<std::string, std::string> headers;   // of the latest response
  void begin() {
    last_data = std::chrono::steady_clock::now();
    stalled = stopped = false;
    status = 0;
    headers.clear();
  }
  void saw_data() { last_data = std::chrono::steady_clock::now(); }
  std::string header(const std::string& lower) const {
    auto it = headers.find(lower);
    return it == headers.end() ? std::string() : it->second;
  }
};

// An easy handle with Hearth's common settings (http/https only, redirects, timeouts, user agent,
// progress callback for stall detection and stopping) and the header callback bound to a.
class easy {
 public:
  easy();
  ~easy();
  easy(const easy&) = delete;
  easy& operator=(const easy&) = delete;
  CURL* get() const { return h_; }
  // Resets per-request options and applies the common ones; headers are "Name: value" lines.
  void prepare(const std::string& url, const std::vector<std::string>& headers, const http_options& opts, attempt* a);
  const char* errbuf() const { return errbuf_; }

 private:
  CURL* h_ = nullptr;
  curl_slist* list_ = nullptr;
  char errbuf_[CURL_ERROR_SIZE] = {};
};

// True for curl results worth retrying (network trouble, timeouts, stalls); false for ones that
// will not get better (bad URL, too many redirects, our own write errors, a stop request).
bool is_retryable_curl(CURLcode rc, const attempt& a);
std::string describe_curl(CURLcode rc, const attempt& a, const char* errbuf, int stall_timeout_ms);

}  // namespace hearth::hub::detail
