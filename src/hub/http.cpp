#include "hub/http.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "hub/http_internal.h"

namespace hearth::hub {

namespace detail {

void curl_global_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) fail("cannot initialise libcurl");
  });
}

namespace {
std::string trim(std::string_view s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace((unsigned char)s[a])) ++a;
  while (b > a && std::isspace((unsigned char)s[b - 1])) --b;
  return std::string(s.substr(a, b - a));
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* a = static_cast<attempt*>(user);
  const size_t len = size * n;
  std::string_view line(data, len);
  if (line.size() >= 5 && line.substr(0, 5) == "HTTP/") {
    // A new response (the first, or the next hop of a redirect): forget the previous one's headers.
    a->headers.clear();
    a->status = 0;
    const size_t sp = line.find(' ');
    if (sp != std::string_view::npos) a->status = std::strtol(std::string(line.substr(sp + 1, 3)).c_str(), nullptr, 10);
    return len;
  }
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos && colon > 0) {
    std::string name(line.substr(0, colon));
    for (auto& c : name) c = (char)std::tolower((unsigned char)c);
    a->headers[name] = trim(line.substr(colon + 1));
  }
  return len;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* a = static_cast<attempt*>(user);
  if (a->stop && a->stop->load()) {
    a->stopped = true;
    return 1;
  }
  const auto idle = std::chrono::steady_clock::now() - a->last_data;
  if (a->stall_timeout_ms > 0 && idle > std::chrono::milliseconds(a->stall_timeout_ms)) {
    a->stalled = true;
    return 1;
  }
  return 0;
}
}  // namespace

easy::easy() {
  curl_global_once();
  h_ = curl_easy_init();
  if (!h_) fail("cannot create a libcurl handle");
}

easy::~easy() {
  if (list_) curl_slist_free_all(list_);
  curl_easy_cleanup(h_);
}

void easy::prepare(const std::string& url, const std::vector<std::string>& headers, const http_options& opts, attempt* a) {
  // Keeps the connection cache of the handle (reuse across parts) but drops every earlier option.
  curl_easy_reset(h_);
  if (list_) {
    curl_slist_free_all(list_);
    list_ = nullptr;
  }
  for (const auto& h : headers) list_ = curl_slist_append(list_, h.c_str());
  errbuf_[0] = 0;
  a->stall_timeout_ms = opts.stall_timeout_ms;
  a->begin();
  curl_easy_setopt(h_, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h_, CURLOPT_HTTPHEADER, list_);
  curl_easy_setopt(h_, CURLOPT_ERRORBUFFER, errbuf_);
  curl_easy_setopt(h_, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h_, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h_, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h_, CURLOPT_MAXREDIRS, 10L);
  // Authorization set by header is not sent to another host after a redirect (curl's default);
  // the hub's CDN URLs are signed and must not see the token.
  curl_easy_setopt(h_, CURLOPT_UNRESTRICTED_AUTH, 0L);
  curl_easy_setopt(h_, CURLOPT_USERAGENT, opts.user_agent.c_str());
  curl_easy_setopt(h_, CURLOPT_CONNECTTIMEOUT_MS, (long)opts.connect_timeout_ms);
  curl_easy_setopt(h_, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h_, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h_, CURLOPT_HEADERDATA, a);
  curl_easy_setopt(h_, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h_, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(h_, CURLOPT_XFERINFODATA, a);
  curl_easy_setopt(h_, CURLOPT_TCP_KEEPALIVE, 1L);
}

bool is_retryable_curl(CURLcode rc, const attempt& a) {
  if (a.stopped) return false;
  switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_WRITE_ERROR:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_FILESIZE_EXCEEDED:
    case CURLE_LOGIN_DENIED:
      return false;
    case CURLE_ABORTED_BY_CALLBACK:
      return a.stalled;
    default:
      return true;
  }
}

std::string describe_curl(CURLcode rc, const attempt& a, const char* errbuf, int stall_timeout_ms) {
  if (a.stalled) return fmt::format("stalled: no data for {:.1f} s", stall_timeout_ms / 1000.0);
  if (a.stopped) return "stopped";
  if (rc == CURLE_PARTIAL_FILE) return "connection dropped before the end of the response";
  if (errbuf && errbuf[0]) return errbuf;
  return curl_easy_strerror(rc);
}

}  // namespace detail

bool is_retryable_status(long status) {
  return status == 408 || status == 425 || status == 429 || (status >= 500 && status <= 599 && status != 501 && status != 505);
}

int64_t parse_retry_after_ms(std::string_view value, std::time_t now) {
  std::string v = detail::trim(value);
  if (v.empty()) return -1;
  if (std::all_of(v.begin(), v.end(), [](char c) { return std::isdigit((unsigned char)c); })) {
    if (v.size() > 9) return -1;
    return std::stoll(v) * 1000;
  }
  // HTTP date: "Sun, 06 Nov 1994 08:49:37 GMT"
  std::tm tm{};
  const char* end = strptime(v.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end) return -1;
  const std::time_t when = timegm(&tm);
  return when <= now ? 0 : (int64_t)(when - now) * 1000;
}

int64_t backoff_ms(const retry_policy& p, int attempt, int64_t retry_after_ms) {
  double ms = p.backoff_initial_ms;
  for (int i = 1; i < attempt && ms < p.backoff_max_ms; ++i) ms *= 2;
  ms = std::min<double>(ms, p.backoff_max_ms);
  thread_local std::minstd_rand rng{std::random_device{}()};
  ms *= std::uniform_real_distribution<double>(0.8, 1.2)(rng);
  if (retry_after_ms >= 0) ms = std::max<double>(ms, std::min<int64_t>(retry_after_ms, p.retry_after_max_ms));
  return (int64_t)ms;
}

bool sleep_unless_stopped(int64_t ms, const std::atomic<int>* stop) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    if (stop && stop->load()) return false;
    const auto left = until - std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(left, std::chrono::milliseconds(20)));
  }
  return !(stop && stop->load());
}

std::string server_error_message(const std::map<std::string, std::string>& headers, const std::string& body) {
  if (auto it = headers.find("x-error-message"); it != headers.end() && !it->second.empty()) return it->second;
  if (!body.empty() && body[0] == '{') {
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_object() && j.contains("error") && j["error"].is_string()) return j["error"].get<std::string>();
  }
  std::string out;
  for (unsigned char c : body.substr(0, 200)) {
    if (c == '<') return std::string();  // an HTML error page says nothing useful on one line
    out += (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
  }
  return detail::trim(out);
}

void throw_http_error(const std::string& url, long status, const std::map<std::string, std::string>& headers,
                      const std::string& body) {
  const std::string said = server_error_message(headers, body);
  auto it = headers.find("x-error-code");
  throw http_error(fmt::format("HTTP {} from {}{}{}", status, url, said.empty() ? "" : ": ", said), status,
                   it == headers.end() ? std::string() : it->second, said);
}

std::string url_escape_path(std::string_view path) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += (char)c;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

namespace {
struct body_sink {
  detail::attempt* a;
  std::string* body;
  size_t max;
  bool too_big = false;
};
size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<body_sink*>(user);
  s->a->saw_data();
  if (s->body->size() + size * n > s->max) {
    s->too_big = true;
    return 0;
  }
  s->body->append(data, size * n);
  return size * n;
}
}  // namespace

http_response http_get(const std::string& url, const std::vector<std::string>& headers, const http_options& opts,
                       const std::atomic<int>* stop, size_t max_body_bytes) {
  detail::easy e;
  detail::attempt a;
  a.stop = stop;
  for (int attempt_no = 1;; ++attempt_no) {
    http_response r;
    body_sink sink{&a, &r.body, max_body_bytes};
    e.prepare(url, headers, opts, &a);
    curl_easy_setopt(e.get(), CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e.get(), CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e.get(), CURLOPT_WRITEDATA, &sink);
    const CURLcode rc = curl_easy_perform(e.get());
    if (a.stopped) fail(error_kind::cancelled, "request to {} stopped", url);
    if (sink.too_big) fail(error_kind::io, "response from {} is larger than {} bytes", url, max_body_bytes);
    std::string reason;
    int64_t retry_after = -1;
    if (rc == CURLE_OK) {
      curl_easy_getinfo(e.get(), CURLINFO_RESPONSE_CODE, &r.status);
      char* eff = nullptr;
      curl_easy_getinfo(e.get(), CURLINFO_EFFECTIVE_URL, &eff);
      if (eff) r.effective_url = eff;
      r.headers = a.headers;
      if (!is_retryable_status(r.status)) return r;
      reason = fmt::format("HTTP {}", r.status);
      retry_after = parse_retry_after_ms(r.header("retry-after"), std::time(nullptr));
      if (attempt_no > opts.retry.max_retries) return r;
    } else {
      reason = detail::describe_curl(rc, a, e.errbuf(), opts.stall_timeout_ms);
      if (!detail::is_retryable_curl(rc, a) || attempt_no > opts.retry.max_retries)
        fail(error_kind::io, "GET {} failed{}: {}", url,
             attempt_no > 1 ? fmt::format(" after {} attempts", attempt_no) : std::string(), reason);
    }
    const int64_t wait = backoff_ms(opts.retry, attempt_no, retry_after);
    log_info("GET {}: {}; retrying in {} ms", url, reason, wait);
    if (!sleep_unless_stopped(wait, stop)) fail(error_kind::cancelled, "request to {} stopped", url);
  }
}

}  // namespace hearth::hub
