#include "hub/transfer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "hub/http_internal.h"
#include "hub/sha256.h"

namespace hearth::hub {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

std::string partial_path(const std::string& dest) { return dest + ".part"; }
std::string state_path(const std::string& dest) { return dest + ".part.json"; }

void write_small_file_atomic(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(error_kind::io, "cannot write {}: {}", tmp, std::strerror(errno));
  size_t off = 0;
  while (off < content.size()) {
    ssize_t w = ::write(fd, content.data() + off, content.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      const int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      fail(error_kind::io, "cannot write {}: {}", tmp, std::strerror(e));
    }
    off += (size_t)w;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    fail(error_kind::io, "cannot rename {} to {}: {}", tmp, path, std::strerror(e));
  }
}

namespace {

struct part {
  uint64_t start = 0, end = 0;       // [start, end) of the file
  std::atomic<uint64_t> done{0};     // bytes written from start; only grows after pwrite returned
  int failures = 0;                  // failed attempts in a row without progress
  clock_type::time_point not_before{};
  uint64_t size() const { return end - start; }
  bool complete() const { return done.load() >= size(); }
};

struct probe_result {
  uint64_t total = 0;
  bool ranges = false;
};

// Parses "bytes A-B/T" (T may be "*"). Returns false when malformed.
bool parse_content_range(const std::string& v, uint64_t& a, uint64_t& b, uint64_t& total, bool& total_known) {
  unsigned long long x = 0, y = 0, t = 0;
  if (std::sscanf(v.c_str(), "bytes %llu-%llu/%llu", &x, &y, &t) == 3) {
    a = x, b = y, total = t, total_known = true;
    return true;
  }
  if (std::sscanf(v.c_str(), "bytes %llu-%llu/*", &x, &y) == 2) {
    a = x, b = y, total = 0, total_known = false;
    return true;
  }
  return false;
}

std::string fmt_bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)n;
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  return u == 0 ? fmt::format("{} B", n) : fmt::format("{:.1f} {}", v, units[u]);
}

// One download of one file: the partial file, its parts, the workers.
class transfer {
 public:
  transfer(const remote_file& f, const transfer_options& o, const std::function<void(const transfer_progress&)>& cb,
           const std::atomic<int>* stop)
      : f_(f), o_(o), cb_(cb), stop_(stop), part_path_(partial_path(f.dest)), state_path_(state_path(f.dest)) {}
  ~transfer() {
    if (fd_ >= 0) ::close(fd_);
  }

  // Downloads into the partial file; returns the SHA-256 of its content (or "" if not verifiable).
  std::string fetch_and_hash();
  void finish();
  void discard();
  transfer_result result;

 private:
  probe_result probe();
  void open_partial();
  bool load_state(uint64_t total);
  void fresh_layout(uint64_t total, bool ranges);
  void save_state();
  void check_disk_space(uint64_t total);
  void allocate(uint64_t total);
  void run_workers();
  void worker();
  void report(transfer_phase phase, uint64_t done, bool force);
  void set_fatal(std::exception_ptr e);
  bool halted() const { return halt_.load() != 0; }
  int caller_stop() const { return stop_ ? stop_->load() : 0; }

  const remote_file& f_;
  const transfer_options& o_;
  const std::function<void(const transfer_progress&)>& cb_;
  const std::atomic<int>* stop_;
  std::string part_path_, state_path_;
  int fd_ = -1;
  uint64_t total_ = 0;
  bool ranges_ = true;
  std::deque<std::unique_ptr<part>> parts_;

  // Shared with the workers.
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<size_t> queue_;
  int n_running_ = 0;
  std::atomic<int> halt_{0};
  std::exception_ptr fatal_;
  std::atomic<int> n_active_{0};
  std::atomic<int> n_retries_{0};
  std::atomic<uint64_t> fetched_{0};

  // Speed over a sliding window.
  std::deque<std::pair<clock_type::time_point, uint64_t>> samples_;
  clock_type::time_point last_report_{};
};

void transfer::open_partial() {
  fs::create_directories(fs::path(f_.dest).parent_path());
  fd_ = ::open(part_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(error_kind::io, "cannot create {}: {}", part_path_, std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0)
    fail(error_kind::io, "{} is being downloaded by another process (lock on {})", f_.dest, part_path_);
}

probe_result transfer::probe() {
  // A one-byte ranged GET tells the size, whether ranges work, and surfaces 401/403/404 before any
  // file is written.
  detail::easy e;
  detail::attempt a;
  a.stop = stop_;
  struct sink {
    detail::attempt* a;
    std::string body;
  } s{&a, {}};
  auto on_body = +[](char* d, size_t sz, size_t n, void* u) -> size_t {
    auto* s = static_cast<sink*>(u);
    s->a->saw_data();
    s->body.append(d, std::min<size_t>(sz * n, 4096 - std::min<size_t>(4096, s->body.size())));
    // A server ignoring the range would send the whole file: stop after the first block.
    return s->a->status == 200 ? 0 : sz * n;
  };
  for (int attempt_no = 1;; ++attempt_no) {
    s.body.clear();
    e.prepare(f_.url, f_.headers, o_.http, &a);
    curl_easy_setopt(e.get(), CURLOPT_RANGE, "0-0");
    curl_easy_setopt(e.get(), CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e.get(), CURLOPT_WRITEDATA, &s);
    const CURLcode rc = curl_easy_perform(e.get());
    if (a.stopped) fail(error_kind::cancelled, "download of {} stopped", f_.dest);
    std::string reason;
    int64_t retry_after = -1;
    const bool got_response = rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && a.status == 200);
    if (got_response) {
      const long st = a.status;
      if (st == 206) {
        uint64_t x, y, t;
        bool known = false;
        if (parse_content_range(a.header("content-range"), x, y, t, known) && known) return {t, true};
        reason = "206 response without a usable Content-Range";
      } else if (st == 200) {
        const std::string len = a.header("content-length");
        if (!len.empty()) return {std::stoull(len), false};
        if (f_.size) return {f_.size, false};
        reason = "200 response without Content-Length";
      } else if (st == 416 && f_.size == 0) {
        return {0, true};
      } else if (!is_retryable_status(st)) {
        throw_http_error(f_.url, st, a.headers, s.body);
      } else {
        reason = fmt::format("HTTP {}", st);
        retry_after = parse_retry_after_ms(a.header("retry-after"), std::time(nullptr));
        if (attempt_no > o_.http.retry.max_retries)
          throw_http_error(f_.url, st, a.headers, s.body);
      }
    } else {
      reason = detail::describe_curl(rc, a, e.errbuf(), o_.http.stall_timeout_ms);
      if (!detail::is_retryable_curl(rc, a))
        fail(error_kind::io, "cannot download {}: {}", f_.url, reason);
    }
    if (attempt_no > o_.http.retry.max_retries)
      fail(error_kind::io, "cannot download {}: giving up after {} attempts: {}", f_.url, attempt_no, reason);
    n_retries_++;
    const int64_t wait = backoff_ms(o_.http.retry, attempt_no, retry_after);
    log_info("{}: {}; retrying in {} ms", f_.url, reason, wait);
    if (!sleep_unless_stopped(wait, stop_)) fail(error_kind::cancelled, "download of {} stopped", f_.dest);
  }
}

bool transfer::load_state(uint64_t total) {
  std::ifstream in(state_path_);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  auto reject = [&](const char* why) {
    log_warn("ignoring the download state {}: {}; starting this file over", state_path_, why);
    return false;
  };
  if (!j.is_object() || j.value("version", 0) != 1) return reject("unreadable");
  if (j.value("size", (uint64_t)0) != total) return reject("the file size changed");
  if (j.value("sha256", std::string()) != f_.sha256) return reject("the expected hash changed");
  if (f_.sha256.empty() && j.value("url", std::string()) != f_.url) return reject("the URL changed");
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || (uint64_t)st.st_size != total) return reject("the partial file has the wrong size");
  const auto& jp = j["parts"];
  if (!jp.is_array() || jp.empty()) return reject("no parts");
  std::deque<std::unique_ptr<part>> parts;
  uint64_t expect = 0;
  for (const auto& e : jp) {
    if (!e.is_array() || e.size() != 3 || !e[0].is_number_unsigned() || !e[1].is_number_unsigned() || !e[2].is_number_unsigned())
      return reject("malformed part");
    auto p = std::make_unique<part>();
    p->start = e[0].get<uint64_t>();
    p->end = e[1].get<uint64_t>();
    const uint64_t done = e[2].get<uint64_t>();
    if (p->start != expect || p->end <= p->start || p->end > total || done > p->size()) return reject("parts do not tile the file");
    p->done = done;
    expect = p->end;
    parts.push_back(std::move(p));
  }
  if (expect != total) return reject("parts do not cover the file");
  ranges_ = j.value("ranges", true);
  if (!ranges_ && parts.size() == 1 && parts[0]->done > 0) {
    // Without range support the only way on is from the start.
    parts[0]->done = 0;
  }
  parts_ = std::move(parts);
  return true;
}

void transfer::fresh_layout(uint64_t total, bool ranges) {
  parts_.clear();
  ranges_ = ranges;
  const uint64_t step = ranges ? std::max<uint64_t>(o_.part_bytes, 64 * 1024) : std::max<uint64_t>(total, 1);
  for (uint64_t s = 0; s < total; s += step) {
    auto p = std::make_unique<part>();
    p->start = s;
    p->end = std::min(total, s + step);
    parts_.push_back(std::move(p));
  }
  if (::ftruncate(fd_, 0) != 0) fail(error_kind::io, "cannot truncate {}: {}", part_path_, std::strerror(errno));
}

void transfer::save_state() {
  nlohmann::json j;
  j["version"] = 1;
  j["url"] = f_.url;
  j["size"] = total_;
  j["sha256"] = f_.sha256;
  j["ranges"] = ranges_;
  auto& jp = j["parts"] = nlohmann::json::array();
  for (const auto& p : parts_) jp.push_back({p->start, p->end, p->done.load()});
  write_small_file_atomic(state_path_, j.dump());
}

void transfer::check_disk_space(uint64_t total) {
  struct stat st {};
  uint64_t allocated = 0;
  if (::fstat(fd_, &st) == 0) allocated = (uint64_t)st.st_blocks * 512;
  const uint64_t need = (total > allocated ? total - allocated : 0) + o_.min_free_bytes;
  struct statvfs vfs {};
  const std::string dir = fs::path(f_.dest).parent_path().string();
  if (::statvfs(dir.c_str(), &vfs) != 0) return;  // cannot tell: the allocation below will
  const uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
  if (avail < need)
    fail(error_kind::io, "not enough disk space for {}: it needs {} more (keeping {} free), {} is free in {}",
         fs::path(f_.dest).filename().string(), fmt_bytes(need - o_.min_free_bytes), fmt_bytes(o_.min_free_bytes),
         fmt_bytes(avail), dir);
}

void transfer::allocate(uint64_t total) {
  if (total == 0) return;
  // Reserving the blocks up front turns "disk full" into an error now rather than hours later.
  if (::fallocate(fd_, 0, 0, (off_t)total) == 0) return;
  const int e = errno;
  if (e == ENOSPC) fail(error_kind::io, "not enough disk space for {} ({})", f_.dest, fmt_bytes(total));
  if (::ftruncate(fd_, (off_t)total) != 0) fail(error_kind::io, "cannot size {}: {}", part_path_, std::strerror(errno));
}

void transfer::report(transfer_phase phase, uint64_t done, bool force) {
  const auto now = clock_type::now();
  samples_.emplace_back(now, done);
  while (samples_.size() > 2 && now - samples_.front().first > std::chrono::seconds(5)) samples_.pop_front();
  if (!cb_) return;
  if (!force && now - last_report_ < std::chrono::milliseconds(100)) return;
  last_report_ = now;
  transfer_progress p;
  p.phase = phase;
  p.total_bytes = total_;
  p.done_bytes = done;
  p.resumed_bytes = result.resumed_bytes;
  const double dt = std::chrono::duration<double>(now - samples_.front().first).count();
  if (dt > 0.2 && done >= samples_.front().second) p.bytes_per_sec = (double)(done - samples_.front().second) / dt;
  p.n_active = n_active_.load();
  p.n_retries = n_retries_.load();
  cb_(p);
}

void transfer::set_fatal(std::exception_ptr e) {
  std::lock_guard<std::mutex> lock(m_);
  if (!fatal_) fatal_ = e;
  halt_ = 1;
}

struct write_ctx {
  part* p;
  int fd;
  detail::attempt* a;
  uint64_t total;
  uint64_t req_start;
  bool whole_file_ok;  // a 200 answer is acceptable (the request covers the whole file)
  std::atomic<uint64_t>* fetched;
  bool checked = false;
  bool accept = false;
  bool overflow = false;
  bool disk_error = false;
  std::string problem;
  std::string error_body;
};

size_t on_part_data(char* data, size_t size, size_t n, void* user) {
  auto* c = static_cast<write_ctx*>(user);
  const size_t len = size * n;
  c->a->saw_data();
  if (!c->checked) {
    c->checked = true;
    const long st = c->a->status;
    if (st == 206) {
      uint64_t a = 0, b = 0, t = 0;
      bool known = false;
      if (!parse_content_range(c->a->header("content-range"), a, b, t, known)) {
        c->problem = "206 response without a usable Content-Range";
        return 0;
      }
      if (a != c->req_start || (known && t != c->total)) {
        c->problem = fmt::format("server sent range {}-{}/{} for a request from {}", a, b, known ? std::to_string(t) : "*", c->req_start);
        return 0;
      }
      c->accept = true;
    } else if (st == 200) {
      if (!c->whole_file_ok) {
        c->problem = "server ignored the Range request";
        return 0;
      }
      c->accept = true;
    }
  }
  if (!c->accept) {
    if (c->error_body.size() < 4096) c->error_body.append(data, std::min<size_t>(len, 4096 - c->error_body.size()));
    return len;
  }
  part& p = *c->p;
  const uint64_t done = p.done.load();
  const uint64_t room = p.size() - done;
  const size_t take = (size_t)std::min<uint64_t>(room, len);
  size_t off = 0;
  while (off < take) {
    ssize_t w = ::pwrite(c->fd, data + off, take - off, (off_t)(p.start + done + off));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      c->disk_error = true;
      c->problem = std::strerror(errno);
      return 0;
    }
    off += (size_t)w;
  }
  p.done.store(done + take);
  c->fetched->fetch_add(take);
  if (take < len) {
    c->overflow = true;  // the server sent more than asked: we have our bytes, stop reading
    return 0;
  }
  return len;
}

void transfer::worker() {
  detail::easy e;
  detail::attempt a;
  a.stop = &halt_;
  while (!halted()) {
    size_t idx;
    {
      std::lock_guard<std::mutex> lock(m_);
      if (queue_.empty()) break;
      idx = queue_.front();
      queue_.pop_front();
    }
    part& p = *parts_[idx];
    const auto now = clock_type::now();
    if (p.not_before > now &&
        !sleep_unless_stopped(std::chrono::duration_cast<std::chrono::milliseconds>(p.not_before - now).count(), &halt_))
      break;
    if (p.complete()) continue;

    const uint64_t before = p.done.load();
    write_ctx c{&p, fd_, &a, total_, p.start + before, p.start + before == 0 && p.end == total_, &fetched_};
    e.prepare(f_.url, f_.headers, o_.http, &a);
    std::string range;
    if (ranges_) {
      range = fmt::format("{}-{}", p.start + before, p.end - 1);
      curl_easy_setopt(e.get(), CURLOPT_RANGE, range.c_str());
    }
    curl_easy_setopt(e.get(), CURLOPT_WRITEFUNCTION, on_part_data);
    curl_easy_setopt(e.get(), CURLOPT_WRITEDATA, &c);
    n_active_++;
    const CURLcode rc = curl_easy_perform(e.get());
    n_active_--;
    if (p.complete()) continue;
    if (a.stopped) break;

    // The attempt ended short of the part's end: decide whether to retry.
    std::string reason;
    int64_t retry_after = -1;
    try {
      if (c.disk_error) fail(error_kind::io, "cannot write {}: {}", part_path_, c.problem);
      if (!c.problem.empty()) {
        reason = c.problem;
      } else if (rc == CURLE_OK) {
        const long st = a.status;
        if (st == 206 || st == 200) {
          reason = "response ended before the end of the part";
        } else if (is_retryable_status(st)) {
          reason = fmt::format("HTTP {}", st);
          retry_after = parse_retry_after_ms(a.header("retry-after"), std::time(nullptr));
        } else {
          throw_http_error(f_.url, st, a.headers, c.error_body);
        }
      } else {
        reason = detail::describe_curl(rc, a, e.errbuf(), o_.http.stall_timeout_ms);
        if (!detail::is_retryable_curl(rc, a)) fail(error_kind::io, "cannot download {}: {}", f_.url, reason);
      }
      if (p.done.load() > before) p.failures = 0;  // progress: the connection was useful, start counting again
      if (!ranges_) p.done = 0;                      // no ranges: a retry starts from the beginning
      p.failures++;
      if (p.failures > o_.http.retry.max_retries)
        fail(error_kind::io, "cannot download {}: giving up after {} attempts: {}",
             fs::path(f_.dest).filename().string(), p.failures, reason);
      const int64_t wait = backoff_ms(o_.http.retry, p.failures, retry_after);
      log_info("{} bytes {}-{}: {}; retrying in {} ms", fs::path(f_.dest).filename().string(), p.start + p.done.load(),
               p.end - 1, reason, wait);
      n_retries_++;
      p.not_before = clock_type::now() + std::chrono::milliseconds(wait);
      std::lock_guard<std::mutex> lock(m_);
      queue_.push_back(idx);
    } catch (...) {
      set_fatal(std::current_exception());
      break;
    }
  }
  std::lock_guard<std::mutex> lock(m_);
  n_running_--;
  cv_.notify_all();
}

void transfer::run_workers() {
  for (size_t i = 0; i < parts_.size(); ++i)
    if (!parts_[i]->complete()) queue_.push_back(i);
  const int n = (int)std::min<size_t>(std::max(1, o_.n_connections), queue_.size());
  std::vector<std::thread> threads;
  n_running_ = n;
  for (int i = 0; i < n; ++i) threads.emplace_back([this] { worker(); });
  auto done_bytes = [&] {
    uint64_t d = 0;
    for (const auto& p : parts_) d += p->done.load();
    return d;
  };
  auto last_save = clock_type::now();
  {
    std::unique_lock<std::mutex> lock(m_);
    while (n_running_ > 0) {
      cv_.wait_for(lock, std::chrono::milliseconds(50));
      if (caller_stop()) halt_ = 1;
      lock.unlock();
      report(transfer_phase::downloading, done_bytes(), false);
      if (clock_type::now() - last_save >= std::chrono::milliseconds(o_.state_interval_ms)) {
        try {
          save_state();
        } catch (const error& e) {
          log_warn("{}", e.what());
        }
        last_save = clock_type::now();
      }
      lock.lock();
    }
  }
  for (auto& t : threads) t.join();
  save_state();
  report(transfer_phase::downloading, done_bytes(), true);
  if (caller_stop()) fail(error_kind::cancelled, "download of {} stopped", f_.dest);
  if (fatal_) std::rethrow_exception(fatal_);
  for (const auto& p : parts_)
    if (!p->complete()) fail(error_kind::io, "download of {} ended incomplete", f_.dest);
}

std::string transfer::fetch_and_hash() {
  // The probe comes first so that a missing file, a gated repo or a dead server leaves nothing on disk.
  const probe_result pr = probe();
  if (f_.size && pr.total != f_.size)
    fail(error_kind::io, "size mismatch for {}: the hub lists {} bytes but the server sends {}", f_.url, f_.size, pr.total);
  total_ = pr.total;
  open_partial();
  if (!load_state(total_)) fresh_layout(total_, pr.ranges);
  for (const auto& p : parts_) result.resumed_bytes += p->done.load();
  if (result.resumed_bytes)
    log_info("resuming {} at {} of {}", fs::path(f_.dest).filename().string(), fmt_bytes(result.resumed_bytes), fmt_bytes(total_));
  try {
    check_disk_space(total_);
    allocate(total_);
  } catch (const error&) {
    if (result.resumed_bytes == 0) discard();  // nothing worth keeping
    throw;
  }
  save_state();
  report(transfer_phase::starting, result.resumed_bytes, true);
  run_workers();
  result.fetched_bytes = fetched_.load();
  result.size = total_;
  report(transfer_phase::verifying, 0, true);
  if (::fdatasync(fd_) != 0) fail(error_kind::io, "cannot flush {}: {}", part_path_, std::strerror(errno));
  result.sha256 = sha256_file(part_path_, total_, [&](uint64_t n) { report(transfer_phase::verifying, n, false); }, stop_);
  return result.sha256;
}

void transfer::finish() {
  if (::rename(part_path_.c_str(), f_.dest.c_str()) != 0)
    fail(error_kind::io, "cannot rename {} to {}: {}", part_path_, f_.dest, std::strerror(errno));
  ::unlink(state_path_.c_str());
  const std::string dir = fs::path(f_.dest).parent_path().string();
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  ::close(fd_);
  fd_ = -1;
  report(transfer_phase::done, total_, true);
}

void transfer::discard() {
  ::unlink(state_path_.c_str());
  ::unlink(part_path_.c_str());
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace

transfer_result download_file(const remote_file& f, const transfer_options& opts,
                              const std::function<void(const transfer_progress&)>& on_progress,
                              const std::atomic<int>* stop) {
  if (f.dest.empty()) fail(error_kind::invalid_argument, "download of {} has no destination", f.url);
  // A state file without its partial file is left over from a finished or deleted download.
  if (!fs::exists(partial_path(f.dest))) ::unlink(state_path(f.dest).c_str());
  uint64_t fetched_total = 0;
  for (int attempt_no = 1;; ++attempt_no) {
    transfer t(f, opts, on_progress, stop);
    std::string got;
    try {
      got = t.fetch_and_hash();
    } catch (const error& e) {
      if (e.kind() == error_kind::cancelled && stop && stop->load() == stop_cancel) t.discard();
      throw;
    }
    fetched_total += t.result.fetched_bytes;
    if (f.sha256.empty() || got == f.sha256) {
      t.finish();
      t.result.fetched_bytes = fetched_total;
      return t.result;
    }
    // Which bytes are wrong is unknowable from one whole-file hash: all of it goes.
    t.discard();
    if (attempt_no >= opts.verify_attempts)
      fail(error_kind::io, "SHA-256 mismatch for {}: expected {}, got {}; the download was deleted",
           fs::path(f.dest).filename().string(), f.sha256, got);
    log_warn("SHA-256 mismatch for {} (expected {}, got {}); downloading it again",
             fs::path(f.dest).filename().string(), f.sha256, got);
  }
}

}  // namespace hearth::hub
