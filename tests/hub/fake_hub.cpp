#include "fake_hub.h"

#include <httplib.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "hub/sha256.h"

namespace hearth::test {

using json = nlohmann::json;
using clk = std::chrono::steady_clock;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string sha256_of(const std::string& data) { return hub::sha256_hex(data.data(), data.size()); }

temp_dir::temp_dir() {
  const char* base = getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/hearth-hub-test-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

struct fake_hub::impl {
  httplib::Server svr;
  std::thread thread;
  int port = 0;
  std::vector<fake_repo> repos;
  std::map<std::string, uint64_t> served;
  uint64_t epoch = 0;  // reset_counters() count: a response counts its bytes only in its own epoch
  std::map<std::string, int> cdn_requests;
  std::vector<request_record> log;
  clk::time_point t0 = clk::now();
  std::atomic<bool> stopping{false};
  int api_fail_times = 0;
  int api_fail_status = 429;
};

namespace {
// Takes one use of a fault budget (-1 = unlimited).
bool take(int& budget) {
  if (budget == 0) return false;
  if (budget > 0) --budget;
  return true;
}
std::string fake_oid(const std::string& s) { return sha256_of("git:" + s).substr(0, 40); }
}  // namespace

fake_file* fake_hub::find_file(const std::string& repo, const std::string& path) {
  for (auto& r : p_->repos)
    if (r.id == repo)
      for (auto& f : r.files)
        if (f.path == path) return &f;
  throw std::runtime_error("fake hub has no " + repo + "/" + path);
}

uint64_t fake_hub::bytes_served(const std::string& repo, const std::string& path) const {
  std::lock_guard<std::mutex> lock(m_);
  auto it = p_->served.find(repo + "/" + path);
  return it == p_->served.end() ? 0 : it->second;
}

std::vector<request_record> fake_hub::requests() const {
  std::lock_guard<std::mutex> lock(m_);
  return p_->log;
}

void fake_hub::reset_counters() {
  std::lock_guard<std::mutex> lock(m_);
  p_->served.clear();
  ++p_->epoch;  // a response of an abandoned connection may still be writing its last chunk
  p_->cdn_requests.clear();
  p_->log.clear();
}

void fake_hub::set_api_fail(int times, int status) {
  std::lock_guard<std::mutex> lock(m_);
  p_->api_fail_times = times;
  p_->api_fail_status = status;
}

void fake_hub::add_repo(fake_repo r) {
  std::lock_guard<std::mutex> lock(m_);
  for (auto& f : r.files)
    if (f.sha256.empty()) f.sha256 = sha256_of(f.data);
  p_->repos.push_back(std::move(r));
}

std::string fake_hub::url() const { return "http://127.0.0.1:" + std::to_string(p_->port); }

fake_hub::fake_hub() : p_(std::make_unique<impl>()) {
  auto& svr = p_->svr;
  svr.new_task_queue = [] { return new httplib::ThreadPool(32); };
  svr.set_keep_alive_timeout(1);

  auto record = [this](const httplib::Request& req, int status) {
    request_record r;
    r.path = req.path;
    r.range = req.get_header_value("Range");
    r.status = status;
    r.authorized = req.has_header("Authorization");
    r.t = std::chrono::duration<double>(clk::now() - p_->t0).count();
    p_->log.push_back(r);  // caller holds m_
  };
  auto find_repo = [this](const std::string& id) -> fake_repo* {
    for (auto& r : p_->repos)
      if (r.id == id) return &r;
    return nullptr;
  };
  auto not_found = [](httplib::Response& res, const char* code, const std::string& msg) {
    res.status = 404;
    res.set_header("X-Error-Code", code);
    res.set_header("X-Error-Message", msg);
    res.set_content(json{{"error", msg}}.dump(), "application/json");
  };
  // An injected API failure; true when the request was answered with it.
  auto api_fault = [this, record](const httplib::Request& req, httplib::Response& res) {
    if (!take(p_->api_fail_times)) return false;
    res.status = p_->api_fail_status;
    res.set_header("Retry-After", "0");
    res.set_content("{\"error\":\"slow down\"}", "application/json");
    record(req, res.status);
    return true;
  };

  svr.Get(R"(/api/models/([^/]+)/([^/]+)/tree/main)", [=, this](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(m_);
    if (api_fault(req, res)) return;
    const std::string id = req.matches[1].str() + "/" + req.matches[2].str();
    fake_repo* r = find_repo(id);
    if (!r) {
      not_found(res, "RepoNotFound", "Repository not found");
      record(req, 404);
      return;
    }
    json all = json::array();
    std::map<std::string, bool> dirs;
    for (const auto& f : r->files) {
      if (!f.in_tree) continue;
      for (size_t s = f.path.find('/'); s != std::string::npos; s = f.path.find('/', s + 1)) {
        const std::string d = f.path.substr(0, s);
        if (!dirs[d]) all.push_back({{"type", "directory"}, {"oid", fake_oid(d)}, {"size", 0}, {"path", d}});
        dirs[d] = true;
      }
      all.push_back({{"type", "file"},
                     {"oid", fake_oid(f.path)},
                     {"size", f.data.size()},
                     {"path", f.path},
                     {"lfs", {{"oid", f.sha256}, {"size", f.data.size()}, {"pointerSize", 134}}}});
    }
    for (const auto& o : r->odd_paths)
      all.push_back({{"type", "file"}, {"oid", fake_oid(o)}, {"size", 100}, {"path", o},
                     {"lfs", {{"oid", sha256_of(o)}, {"size", 100}, {"pointerSize", 132}}}});
    all.push_back({{"type", "file"}, {"oid", fake_oid("README.md")}, {"size", 12}, {"path", "README.md"}});
    size_t start = 0;
    if (req.has_param("cursor")) start = std::stoul(req.get_param_value("cursor"));
    const size_t n = r->tree_page_size > 0 ? (size_t)r->tree_page_size : all.size();
    json page = json::array();
    for (size_t i = start; i < all.size() && i < start + n; ++i) page.push_back(all[i]);
    if (start + n < all.size())
      res.set_header("Link", "<" + url() + "/api/models/" + id + "/tree/main?recursive=true&cursor=" + std::to_string(start + n) +
                                 ">; rel=\"next\"");
    res.set_content(page.dump(), "application/json");
    record(req, 200);
  });

  svr.Get(R"(/api/models/([^/]+)/([^/]+))", [=, this](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(m_);
    if (api_fault(req, res)) return;
    const std::string id = req.matches[1].str() + "/" + req.matches[2].str();
    fake_repo* r = find_repo(id);
    if (!r) {
      not_found(res, "RepoNotFound", "Repository not found");
      record(req, 404);
      return;
    }
    json siblings = json::array();
    for (const auto& f : r->files) siblings.push_back({{"rfilename", f.path}});
    for (const auto& o : r->odd_paths) siblings.push_back({{"rfilename", o}});
    siblings.push_back({{"rfilename", "README.md"}});
    json gated = r->gated_token.empty() ? json(false) : json("manual");
    json j = {{"_id", fake_oid(id).substr(0, 24)}, {"id", id}, {"modelId", id}, {"author", req.matches[1].str()},
              {"sha", fake_oid(id)}, {"private", false}, {"disabled", false}, {"gated", gated},
              {"downloads", r->downloads}, {"likes", r->likes}, {"tags", {"gguf"}}, {"library_name", "gguf"},
              {"siblings", siblings}};
    res.set_content(j.dump(), "application/json");
    record(req, 200);
  });

  svr.Get("/api/models", [=, this](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(m_);
    if (api_fault(req, res)) return;
    std::string q = req.get_param_value("search");
    for (auto& c : q) c = (char)std::tolower((unsigned char)c);
    const bool gguf_only = req.get_param_value("filter") == "gguf";
    size_t limit = req.has_param("limit") ? std::stoul(req.get_param_value("limit")) : 1000;
    std::vector<const fake_repo*> hits;
    for (const auto& r : p_->repos) {
      std::string id = r.id;
      for (auto& c : id) c = (char)std::tolower((unsigned char)c);
      bool has_gguf = false;
      for (const auto& f : r.files) has_gguf |= f.path.size() > 5 && f.path.substr(f.path.size() - 5) == ".gguf";
      if (id.find(q) != std::string::npos && (!gguf_only || has_gguf)) hits.push_back(&r);
    }
    std::sort(hits.begin(), hits.end(), [](auto* a, auto* b) { return a->downloads > b->downloads; });
    json arr = json::array();
    for (size_t i = 0; i < hits.size() && i < limit; ++i)
      arr.push_back({{"_id", fake_oid(hits[i]->id).substr(0, 24)}, {"id", hits[i]->id}, {"likes", hits[i]->likes},
                     {"downloads", hits[i]->downloads}, {"private", false}, {"tags", {"gguf"}}, {"modelId", hits[i]->id},
                     {"createdAt", "2024-09-25T12:00:00.000Z"}});
    res.set_content(arr.dump(), "application/json");
    record(req, 200);
  });

  svr.Get(R"(/([^/]+)/([^/]+)/resolve/main/(.+))", [=, this](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(m_);
    const std::string id = req.matches[1].str() + "/" + req.matches[2].str();
    const std::string path = req.matches[3].str();
    fake_repo* r = find_repo(id);
    if (!r) {
      not_found(res, "RepoNotFound", "Repository not found");
      record(req, 404);
      return;
    }
    if (!r->gated_token.empty()) {
      const std::string auth = req.get_header_value("Authorization");
      if (auth != "Bearer " + r->gated_token) {
        res.status = auth.empty() ? 401 : 403;
        res.set_header("X-Error-Code", "GatedRepo");
        const std::string msg = "Access to model " + id + " is restricted. You must have access to it and be authenticated to access it. Please log in.";
        res.set_header("X-Error-Message", msg);
        res.set_content(json{{"error", msg}}.dump(), "application/json");
        record(req, res.status);
        return;
      }
    }
    for (size_t ri = 0; ri < p_->repos.size(); ++ri) {
      if (&p_->repos[ri] != r) continue;
      for (size_t fi = 0; fi < r->files.size(); ++fi) {
        if (r->files[fi].path != path) continue;
        // The "CDN" is another host name for the same server, as the real hub's CDN is another
        // host: the token must not follow the redirect.
        res.set_redirect("http://localhost:" + std::to_string(p_->port) + "/cdn/" + std::to_string(ri) + "/" + std::to_string(fi) + "?X-Amz-Expires=3600", 302);
        res.set_header("X-Linked-Size", std::to_string(r->files[fi].data.size()));
        res.set_header("X-Linked-ETag", "\"" + r->files[fi].sha256 + "\"");
        res.set_header("X-Repo-Commit", fake_oid(id));
        record(req, 302);
        return;
      }
    }
    not_found(res, "EntryNotFound", "Entry not found");
    record(req, 404);
  });

  svr.Get(R"(/cdn/(\d+)/(\d+))", [=, this](const httplib::Request& req, httplib::Response& res) {
    std::unique_lock<std::mutex> lock(m_);
    const size_t ri = std::stoul(req.matches[1].str()), fi = std::stoul(req.matches[2].str());
    if (ri >= p_->repos.size() || fi >= p_->repos[ri].files.size()) {
      res.status = 404;
      record(req, 404);
      return;
    }
    fake_file& f = p_->repos[ri].files[fi];
    int& n_requests = p_->cdn_requests[p_->repos[ri].id + "/" + f.path];
    if (n_requests++ >= f.status_after && take(f.status_times)) {
      // httplib would apply the Range header to this error body (and answer 416): drop it.
      const_cast<httplib::Request&>(req).ranges.clear();
      res.status = f.status_code;
      if (f.retry_after_s >= 0) res.set_header("Retry-After", std::to_string(f.retry_after_s));
      res.set_content("<html><body>" + std::to_string(f.status_code) + "</body></html>", "text/html");
      record(req, f.status_code);
      return;
    }
    record(req, req.ranges.empty() ? 200 : 206);
    const std::string key = p_->repos[ri].id + "/" + f.path;
    struct resp_state {
      uint64_t sent = 0;
      bool drop_checked = false, stall_checked = false, corrupt_checked = false;
      bool drop = false, stall = false, corrupt = false;
    };
    auto st = std::make_shared<resp_state>();
    const uint64_t epoch = p_->epoch;  // (under the handler's lock)
    const std::string data = f.data;  // a snapshot: faults may be edited while this response runs
    fake_file* fp = &f;
    res.set_content_provider(data.size(), "application/octet-stream",
                             [this, st, data, fp, key, epoch](size_t offset, size_t length, httplib::DataSink& sink) {
      size_t chunk, throttle_ms;
      {
        std::lock_guard<std::mutex> lock(m_);
        chunk = fp->throttle_chunk ? fp->throttle_chunk : 64 * 1024;
        throttle_ms = fp->throttle_sleep_ms;
        if (!st->drop_checked && fp->drop_times != 0 && st->sent + std::min(length, chunk) > fp->drop_after) {
          st->drop_checked = true;
          st->drop = take(fp->drop_times);
        }
        if (!st->stall_checked && fp->stall_times != 0 && st->sent + std::min(length, chunk) > fp->stall_after) {
          st->stall_checked = true;
          st->stall = take(fp->stall_times);
        }
        if (st->drop || st->stall) chunk = std::min<uint64_t>(chunk, (st->drop ? fp->drop_after : fp->stall_after) - std::min(st->sent, st->drop ? fp->drop_after : fp->stall_after));
        if (!st->corrupt_checked && fp->corrupt_times != 0 && fp->corrupt_offset >= offset &&
            fp->corrupt_offset < offset + std::min(length, chunk)) {
          st->corrupt_checked = true;
          st->corrupt = take(fp->corrupt_times);
        }
      }
      if (chunk == 0) {
        if (st->drop) return false;  // close the connection mid-response
        // Stall: say nothing until the client gives up (or the server stops).
        const auto until = clk::now() + std::chrono::seconds(20);
        while (!p_->stopping && clk::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return false;
      }
      if (throttle_ms) std::this_thread::sleep_for(std::chrono::milliseconds(throttle_ms));
      const size_t n = std::min(length, chunk);
      std::string out = data.substr(offset, n);
      if (st->corrupt && fp->corrupt_offset >= offset && fp->corrupt_offset < offset + n) {
        out[fp->corrupt_offset - offset] ^= 0x5a;
        st->corrupt = false;
      }
      if (!sink.write(out.data(), out.size())) return false;
      std::lock_guard<std::mutex> lock(m_);
      st->sent += n;
      if (epoch == p_->epoch) p_->served[key] += n;
      return true;
    });
  });

  p_->port = svr.bind_to_any_port("127.0.0.1");
  if (p_->port <= 0) throw std::runtime_error("fake hub: cannot bind a port on 127.0.0.1");
  p_->thread = std::thread([this] { p_->svr.listen_after_bind(); });
  for (int i = 0; i < 500 && !p_->svr.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
}

fake_hub::~fake_hub() {
  p_->stopping = true;
  p_->svr.stop();
  if (p_->thread.joinable()) p_->thread.join();
}

}  // namespace hearth::test
