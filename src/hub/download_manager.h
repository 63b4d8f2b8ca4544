// The download manager: runs `hearth get`-style jobs (a Hugging Face reference resolved to one GGUF
// or a split set) on background threads, with start / status / pause / cancel / wait and progress
// listeners. Thread-safe: every method may be called from any thread. The CLI drives it, and the
// HTTP server's native API exposes it so the web UI can start and watch downloads.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "hub/transfer.h"

namespace hearth::hub {

enum class job_state { queued, resolving, downloading, verifying, completed, failed, cancelled, paused };
const char* to_string(job_state s);
inline bool is_terminal(job_state s) {
  return s == job_state::completed || s == job_state::failed || s == job_state::cancelled || s == job_state::paused;
}

struct job_file {
  std::string name;  // file name in the repo
  std::string path;  // destination on disk
  uint64_t total_bytes = 0;
  uint64_t done_bytes = 0;
  bool present = false;  // already complete on disk before the job (skipped)
  job_state state = job_state::queued;
};

struct download_status {
  uint64_t id = 0;
  std::string spec;  // as given to start()
  job_state state = job_state::queued;
  std::string repo;
  std::string quant;
  std::string note;  // e.g. the requested quantization was not available
  std::vector<job_file> files;
  size_t current_file = 0;     // index into files while downloading
  uint64_t total_bytes = 0;    // of all files (0 until resolved)
  uint64_t done_bytes = 0;
  uint64_t verified_bytes = 0; // of the current file while verifying
  uint64_t resumed_bytes = 0;  // taken from earlier partial downloads
  uint64_t fetched_bytes = 0;  // received over the network by this job
  double bytes_per_sec = 0;
  double eta_seconds = -1;     // -1 = unknown
  int n_active = 0;            // connections receiving now
  int n_retries = 0;
  std::string error;           // set when failed
  std::vector<std::string> paths;  // the model's files once completed
};
nlohmann::json to_json(const download_status& s);

struct manager_options {
  std::string models_root;  // empty = models_root() (HEARTH_MODELS / XDG)
  std::string endpoint;     // empty = HF_ENDPOINT or https://huggingface.co
  std::optional<std::string> token;  // unset = HF_TOKEN
  transfer_options transfer;
  int max_parallel_jobs = 2;  // further jobs wait in state queued
};

// Tuning from the environment (for tests and odd networks): HEARTH_DL_CONNECTIONS,
// HEARTH_DL_PART_BYTES, HEARTH_DL_RETRIES, HEARTH_DL_BACKOFF_MS, HEARTH_DL_BACKOFF_MAX_MS,
// HEARTH_DL_STALL_MS, HEARTH_DL_CONNECT_MS, HEARTH_DL_STATE_MS, HEARTH_DL_MIN_FREE_BYTES.
transfer_options transfer_options_from_env(transfer_options base = {});

struct start_options {
  bool force = false;  // download again even if the files are already complete on disk
};

class download_manager {
 public:
  explicit download_manager(manager_options opts = {});
  // Pauses running jobs (their partial files stay resumable) and waits for their threads.
  ~download_manager();
  download_manager(const download_manager&) = delete;
  download_manager& operator=(const download_manager&) = delete;

  // Starts (or queues) a download of a reference "owner/repo[:QUANT|/FILE]". A malformed reference
  // throws at once; everything else (not found, gated, network) ends the job in state failed. A job
  // for the same reference that is still running is returned instead of a second one.
  uint64_t start(const std::string& spec, start_options opts = {});
  std::optional<download_status> status(uint64_t id) const;
  std::vector<download_status> list() const;
  // Stops a job and deletes its partial data (and files it completed). False if unknown or finished.
  bool cancel(uint64_t id);
  // Stops a job keeping its partial data; starting the same reference again resumes. False if
  // unknown or finished.
  bool pause(uint64_t id);
  // Blocks until the job is finished (completed, failed, cancelled or paused).
  download_status wait(uint64_t id);
  // Waits at most timeout; nullopt while the job is still running.
  std::optional<download_status> wait_for(uint64_t id, std::chrono::milliseconds timeout);
  // Drops a finished job from the list. False if unknown or still running.
  bool forget(uint64_t id);

  // Listeners get a status snapshot on every state change and at most every 100 ms of progress,
  // called from the job's thread. Do not call unsubscribe from inside a listener.
  using listener = std::function<void(const download_status&)>;
  int subscribe(listener l);
  void unsubscribe(int token);

  const manager_options& options() const { return opts_; }

 private:
  struct job;
  void run(const std::shared_ptr<job>& j);
  void notify(const std::shared_ptr<job>& j, bool force);
  std::shared_ptr<job> find(uint64_t id) const;

  manager_options opts_;
  mutable std::mutex m_;
  std::condition_variable cv_;  // job states and slots
  std::map<uint64_t, std::shared_ptr<job>> jobs_;
  uint64_t next_id_ = 1;
  std::deque<uint64_t> waiting_;  // jobs waiting for a slot, oldest first
  int n_running_ = 0;
  bool shutting_down_ = false;
  std::mutex listeners_m_;
  std::map<int, listener> listeners_;
  int next_listener_ = 1;
};

}  // namespace hearth::hub
