// HTTP over libcurl for the hub: GET with retries (429 with Retry-After, 5xx, timeouts, dropped
// connections), exponential backoff, stall detection, redirects. Downloads build on the same pieces
// (see transfer.h).
#pragma once
#include <atomic>
#include <cstdint>
#include <ctime>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace hearth::hub {

// A request answered with an HTTP status that retrying will not fix (401, 403, 404, ...), or a
// retryable one that outlasted the retries. Carries what the hub said, for friendlier messages.
class http_error : public error {
 public:
  http_error(const std::string& msg, long status, std::string error_code, std::string server_message)
      : error(msg, status == 404 ? error_kind::not_found : error_kind::io),
        status_(status), error_code_(std::move(error_code)), server_message_(std::move(server_message)) {}
  long status() const { return status_; }
  const std::string& error_code() const { return error_code_; }          // X-Error-Code (Hugging Face)
  const std::string& server_message() const { return server_message_; }  // X-Error-Message or body "error"

 private:
  long status_;
  std::string error_code_;
  std::string server_message_;
};

struct retry_policy {
  int max_retries = 6;              // failed attempts in a row (without progress) before giving up
  int backoff_initial_ms = 1000;    // first wait; doubles each attempt, with +-20% jitter
  int backoff_max_ms = 60000;
  int retry_after_max_ms = 300000;  // a server's Retry-After is honoured up to this
};

struct http_options {
  int connect_timeout_ms = 15000;
  int stall_timeout_ms = 30000;  // an attempt that receives no byte for this long fails (and is retried)
  std::string user_agent = "hearth/0.1";
  retry_policy retry;
};

struct http_response {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // of the final response; names lowercased
  std::string effective_url;
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// GET url with extra request headers ("Name: value"), following redirects. Retryable failures are
// retried under opts.retry; the final response is returned whatever its status (the caller decides
// what a 404 means). Network failures that outlast the retries throw hearth::error. A set stop flag
// aborts with an error of kind cancelled.
http_response http_get(const std::string& url, const std::vector<std::string>& headers, const http_options& opts,
                       const std::atomic<int>* stop = nullptr, size_t max_body_bytes = 64u << 20);

bool is_retryable_status(long status);  // 408, 425, 429, 500, 502, 503, 504 and other 5xx
// Retry-After as delta-seconds or an HTTP date, in milliseconds from now; -1 when absent or invalid.
int64_t parse_retry_after_ms(std::string_view value, std::time_t now);
// The wait before retry number `attempt` (1-based), at least retry_after_ms when that is >= 0.
int64_t backoff_ms(const retry_policy& p, int attempt, int64_t retry_after_ms);
// Sleeps ms milliseconds in small slices; returns false early if stop becomes set.
bool sleep_unless_stopped(int64_t ms, const std::atomic<int>* stop);

// What the server said about an error: X-Error-Message, else the "error" field of a JSON body, else
// the start of a text body; empty when there is nothing readable.
std::string server_error_message(const std::map<std::string, std::string>& headers, const std::string& body);
// Throws http_error for a response with an error status: "HTTP <status> from <url>: <message>".
[[noreturn]] void throw_http_error(const std::string& url, long status, const std::map<std::string, std::string>& headers,
                                   const std::string& body);

// Percent-encodes each '/'-separated segment of a path (the slashes stay).
std::string url_escape_path(std::string_view path);

}  // namespace hearth::hub
