#include "hub/download_manager.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "hub/hf.h"
#include "hub/paths.h"

namespace hearth::hub {

namespace fs = std::filesystem;

const char* to_string(job_state s) {
  switch (s) {
    case job_state::queued: return "queued";
    case job_state::resolving: return "resolving";
    case job_state::downloading: return "downloading";
    case job_state::verifying: return "verifying";
    case job_state::completed: return "completed";
    case job_state::failed: return "failed";
    case job_state::cancelled: return "cancelled";
    case job_state::paused: return "paused";
  }
  return "?";
}

nlohmann::json to_json(const download_status& s) {
  nlohmann::json j;
  j["id"] = s.id;
  j["spec"] = s.spec;
  j["state"] = to_string(s.state);
  j["repo"] = s.repo;
  j["quant"] = s.quant;
  if (!s.note.empty()) j["note"] = s.note;
  auto& files = j["files"] = nlohmann::json::array();
  for (const auto& f : s.files)
    files.push_back({{"name", f.name}, {"path", f.path}, {"total_bytes", f.total_bytes}, {"done_bytes", f.done_bytes},
                     {"present", f.present}, {"state", to_string(f.state)}});
  j["current_file"] = s.current_file;
  j["total_bytes"] = s.total_bytes;
  j["done_bytes"] = s.done_bytes;
  j["verified_bytes"] = s.verified_bytes;
  j["resumed_bytes"] = s.resumed_bytes;
  j["fetched_bytes"] = s.fetched_bytes;
  j["bytes_per_sec"] = s.bytes_per_sec;
  j["eta_seconds"] = s.eta_seconds;
  j["active_connections"] = s.n_active;
  j["retries"] = s.n_retries;
  if (!s.error.empty()) j["error"] = s.error;
  j["paths"] = s.paths;
  return j;
}

transfer_options transfer_options_from_env(transfer_options o) {
  auto num = [](const char* name, auto& field) {
    const char* v = std::getenv(name);
    if (!v || !*v) return;
    char* end = nullptr;
    const long long x = std::strtoll(v, &end, 10);
    if (*end || x < 0) fail(error_kind::invalid_argument, "{}='{}' is not a non-negative integer", name, v);
    field = static_cast<std::remove_reference_t<decltype(field)>>(x);
  };
  num("HEARTH_DL_CONNECTIONS", o.n_connections);
  num("HEARTH_DL_PART_BYTES", o.part_bytes);
  num("HEARTH_DL_RETRIES", o.http.retry.max_retries);
  num("HEARTH_DL_BACKOFF_MS", o.http.retry.backoff_initial_ms);
  num("HEARTH_DL_BACKOFF_MAX_MS", o.http.retry.backoff_max_ms);
  num("HEARTH_DL_STALL_MS", o.http.stall_timeout_ms);
  num("HEARTH_DL_CONNECT_MS", o.http.connect_timeout_ms);
  num("HEARTH_DL_STATE_MS", o.state_interval_ms);
  num("HEARTH_DL_MIN_FREE_BYTES", o.min_free_bytes);
  if (o.n_connections < 1) o.n_connections = 1;
  return o;
}

struct download_manager::job {
  mutable std::mutex m;
  download_status st;  // guarded by m
  start_options opts;
  std::atomic<int> stop{stop_none};
  std::thread thread;
  std::chrono::steady_clock::time_point last_notify{};
  bool finished = false;  // guarded by the manager's m_: terminal, and listeners have been told
};

download_manager::download_manager(manager_options opts) : opts_(std::move(opts)) {
  if (opts_.models_root.empty()) opts_.models_root = models_root();
  if (opts_.endpoint.empty()) {
    const char* ep = std::getenv("HF_ENDPOINT");
    opts_.endpoint = ep && *ep ? ep : "https://huggingface.co";
  }
  if (!opts_.token) {
    const char* tok = std::getenv("HF_TOKEN");
    opts_.token = tok ? tok : "";
  }
  if (opts_.max_parallel_jobs < 1) opts_.max_parallel_jobs = 1;
  hf_client(opts_.endpoint, *opts_.token, opts_.transfer.http);  // validates the endpoint now
}

download_manager::~download_manager() {
  std::vector<std::shared_ptr<job>> all;
  {
    std::lock_guard<std::mutex> lock(m_);
    shutting_down_ = true;
    for (auto& [id, j] : jobs_) {
      int expected = stop_none;
      j->stop.compare_exchange_strong(expected, stop_pause);
      all.push_back(j);
    }
    cv_.notify_all();
  }
  for (auto& j : all)
    if (j->thread.joinable()) j->thread.join();
}

std::shared_ptr<download_manager::job> download_manager::find(uint64_t id) const {
  std::lock_guard<std::mutex> lock(m_);
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : it->second;
}

uint64_t download_manager::start(const std::string& spec, start_options so) {
  const model_ref ref = parse_model_ref(spec);  // throws on a malformed reference
  const std::string key = to_string(ref);
  std::lock_guard<std::mutex> lock(m_);
  if (shutting_down_) fail("the download manager is shutting down");
  for (auto& [id, j] : jobs_) {
    std::lock_guard<std::mutex> jl(j->m);
    if (!is_terminal(j->st.state) && j->st.spec == key) return id;
  }
  auto j = std::make_shared<job>();
  j->st.id = next_id_++;
  j->st.spec = key;
  j->st.repo = ref.repo;
  j->opts = so;
  jobs_[j->st.id] = j;
  waiting_.push_back(j->st.id);
  j->thread = std::thread([this, j] { run(j); });
  return j->st.id;
}

std::optional<download_status> download_manager::status(uint64_t id) const {
  auto j = find(id);
  if (!j) return std::nullopt;
  std::lock_guard<std::mutex> lock(j->m);
  return j->st;
}

std::vector<download_status> download_manager::list() const {
  std::vector<std::shared_ptr<job>> all;
  {
    std::lock_guard<std::mutex> lock(m_);
    for (auto& [id, j] : jobs_) all.push_back(j);
  }
  std::vector<download_status> out;
  for (auto& j : all) {
    std::lock_guard<std::mutex> lock(j->m);
    out.push_back(j->st);
  }
  return out;
}

bool download_manager::cancel(uint64_t id) {
  auto j = find(id);
  if (!j) return false;
  {
    std::lock_guard<std::mutex> lock(j->m);
    if (is_terminal(j->st.state)) return false;
  }
  j->stop = stop_cancel;
  std::lock_guard<std::mutex> lock(m_);
  cv_.notify_all();
  return true;
}

bool download_manager::pause(uint64_t id) {
  auto j = find(id);
  if (!j) return false;
  {
    std::lock_guard<std::mutex> lock(j->m);
    if (is_terminal(j->st.state)) return false;
  }
  int expected = stop_none;
  j->stop.compare_exchange_strong(expected, stop_pause);  // a cancel already asked for wins
  std::lock_guard<std::mutex> lock(m_);
  cv_.notify_all();
  return true;
}

download_status download_manager::wait(uint64_t id) {
  while (true)
    if (auto s = wait_for(id, std::chrono::hours(1))) return *s;
}

std::optional<download_status> download_manager::wait_for(uint64_t id, std::chrono::milliseconds timeout) {
  auto j = find(id);
  if (!j) fail(error_kind::not_found, "no download job {}", id);
  std::unique_lock<std::mutex> lock(m_);
  auto snapshot = [&]() -> std::optional<download_status> {
    if (!j->finished) return std::nullopt;
    std::lock_guard<std::mutex> jl(j->m);
    return j->st;
  };
  std::optional<download_status> s;
  cv_.wait_for(lock, timeout, [&] { return (s = snapshot()).has_value(); });
  return s;
}

bool download_manager::forget(uint64_t id) {
  std::shared_ptr<job> j;
  {
    std::lock_guard<std::mutex> lock(m_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return false;
    if (!it->second->finished) return false;
    j = it->second;
    jobs_.erase(it);
  }
  if (j->thread.joinable()) j->thread.join();
  return true;
}

int download_manager::subscribe(listener l) {
  std::lock_guard<std::mutex> lock(listeners_m_);
  listeners_[next_listener_] = std::move(l);
  return next_listener_++;
}

void download_manager::unsubscribe(int token) {
  std::lock_guard<std::mutex> lock(listeners_m_);
  listeners_.erase(token);
}

void download_manager::notify(const std::shared_ptr<job>& j, bool force) {
  download_status snap;
  {
    std::lock_guard<std::mutex> lock(j->m);
    const auto now = std::chrono::steady_clock::now();
    if (!force && now - j->last_notify < std::chrono::milliseconds(100)) return;
    j->last_notify = now;
    snap = j->st;
  }
  if (force) {
    std::lock_guard<std::mutex> lock(m_);
    cv_.notify_all();
  }
  std::lock_guard<std::mutex> lock(listeners_m_);
  for (auto& [token, l] : listeners_) {
    try {
      l(snap);
    } catch (const std::exception& e) {
      log_warn("download listener failed: {}", e.what());
    }
  }
}

void download_manager::run(const std::shared_ptr<job>& j) {
  auto set_state = [&](job_state s) {
    {
      std::lock_guard<std::mutex> lock(j->m);
      j->st.state = s;
    }
    notify(j, true);
  };
  auto finish = [&] {
    notify(j, true);  // listeners hear the final state before any wait() returns
    std::lock_guard<std::mutex> lock(m_);
    j->finished = true;
    cv_.notify_all();
  };
  // Wait for a slot; slots go to jobs in the order they were started.
  {
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [&] {
      return (n_running_ < opts_.max_parallel_jobs && waiting_.front() == j->st.id) || j->stop.load() != stop_none;
    });
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), j->st.id));
    cv_.notify_all();
    if (j->stop.load() != stop_none) {
      lock.unlock();
      {
        std::lock_guard<std::mutex> jl(j->m);
        j->st.state = j->stop.load() == stop_cancel ? job_state::cancelled : job_state::paused;
      }
      finish();
      return;
    }
    n_running_++;
  }
  std::vector<std::string> written;  // files this job completed (removed again on cancel)
  try {
    set_state(job_state::resolving);
    const model_ref ref = parse_model_ref(j->st.spec);
    hf_client hub(opts_.endpoint, *opts_.token, opts_.transfer.http);
    const download_plan plan = plan_download(hub, ref, opts_.models_root, &j->stop);
    {
      std::lock_guard<std::mutex> lock(j->m);
      j->st.quant = plan.quant;
      j->st.note = plan.note;
      for (const auto& f : plan.files) {
        job_file jf;
        jf.name = fs::path(f.dest).filename().string();
        jf.path = f.dest;
        jf.total_bytes = f.size;
        std::error_code ec;
        // Only a verified download is ever renamed to the final name, so a file there with the
        // listed size is complete.
        if (!j->opts.force && fs::is_regular_file(f.dest, ec) && f.size && fs::file_size(f.dest, ec) == f.size) {
          jf.present = true;
          jf.done_bytes = f.size;
          jf.state = job_state::completed;
        }
        j->st.files.push_back(jf);
        j->st.total_bytes += f.size;
        j->st.done_bytes += jf.done_bytes;
      }
    }
    notify(j, true);
    for (size_t i = 0; i < plan.files.size(); ++i) {
      {
        std::lock_guard<std::mutex> lock(j->m);
        if (j->st.files[i].present) continue;
        j->st.current_file = i;
        j->st.files[i].state = job_state::downloading;
        j->st.state = job_state::downloading;
      }
      notify(j, true);
      int retries_before = 0;
      {
        std::lock_guard<std::mutex> lock(j->m);
        retries_before = j->st.n_retries;
      }
      auto on_progress = [&](const transfer_progress& p) {
        bool changed = false;
        {
          std::lock_guard<std::mutex> lock(j->m);
          auto& f = j->st.files[i];
          if (f.total_bytes == 0) {
            f.total_bytes = p.total_bytes;
            j->st.total_bytes += p.total_bytes;
          }
          const job_state fs_state = p.phase == transfer_phase::verifying ? job_state::verifying
                                     : p.phase == transfer_phase::done    ? job_state::completed
                                                                          : job_state::downloading;
          changed = fs_state != f.state;
          f.state = fs_state;
          if (p.phase == transfer_phase::verifying) {
            j->st.verified_bytes = p.done_bytes;
            f.done_bytes = f.total_bytes;
          } else {
            f.done_bytes = p.done_bytes;
            j->st.verified_bytes = 0;
          }
          if (fs_state != job_state::completed) j->st.state = fs_state;
          uint64_t done = 0;
          for (const auto& x : j->st.files) done += x.done_bytes;
          j->st.done_bytes = done;
          j->st.bytes_per_sec = p.bytes_per_sec;
          j->st.n_active = p.n_active;
          j->st.n_retries = retries_before + p.n_retries;
          if (p.phase == transfer_phase::starting) j->st.resumed_bytes += p.resumed_bytes;
          j->st.eta_seconds = p.bytes_per_sec > 1 ? (double)(j->st.total_bytes - std::min(done, j->st.total_bytes)) / p.bytes_per_sec : -1;
        }
        notify(j, changed);
      };
      transfer_result r;
      try {
        r = download_file(plan.files[i], opts_.transfer, on_progress, &j->stop);
      } catch (const http_error& e) {
        hub.rethrow_friendly(e, plan.repo, fs::path(plan.files[i].dest).filename().string());
      }
      written.push_back(plan.files[i].dest);
      {
        std::lock_guard<std::mutex> lock(j->m);
        j->st.files[i].state = job_state::completed;
        j->st.files[i].done_bytes = j->st.files[i].total_bytes = r.size;
        j->st.fetched_bytes += r.fetched_bytes;
        j->st.n_active = 0;
      }
      notify(j, true);
    }
    {
      std::lock_guard<std::mutex> lock(j->m);
      j->st.state = job_state::completed;
      j->st.bytes_per_sec = 0;
      j->st.eta_seconds = 0;
      j->st.n_active = 0;
      for (const auto& f : j->st.files) j->st.paths.push_back(f.path);
    }
  } catch (const error& e) {
    std::lock_guard<std::mutex> lock(j->m);
    j->st.n_active = 0;
    j->st.bytes_per_sec = 0;
    j->st.eta_seconds = -1;
    if (e.kind() == error_kind::cancelled && j->stop.load() != stop_none) {
      j->st.state = j->stop.load() == stop_cancel ? job_state::cancelled : job_state::paused;
      if (j->st.state == job_state::cancelled) {
        for (const auto& p : written) {
          std::error_code ec;
          fs::remove(p, ec);
        }
      }
    } else {
      j->st.state = job_state::failed;
      j->st.error = e.what();
    }
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(j->m);
    j->st.n_active = 0;
    j->st.state = job_state::failed;
    j->st.error = std::string("unexpected error: ") + e.what();
  }
  {
    std::lock_guard<std::mutex> lock(m_);
    n_running_--;
    cv_.notify_all();
  }
  finish();
}

}  // namespace hearth::hub
