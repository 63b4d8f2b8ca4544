// Downloads one file reliably: parallel ranged parts over several connections, resume after an
// interruption or a kill -9 (a small JSON state file beside the .part file records each part's
// progress and is replaced atomically), retries with backoff, stall detection, a disk-space check,
// SHA-256 verification, and a rename into place only after verification. Until then the data lives
// in "<dest>.part", so a failed or corrupt download never leaves a file that looks complete.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "hub/http.h"

namespace hearth::hub {

struct transfer_options {
  int n_connections = 4;             // parallel ranged requests per file
  uint64_t part_bytes = 32ull << 20; // the file is cut into parts of this size (the unit of resume)
  int state_interval_ms = 1000;      // how often the state file is rewritten
  int verify_attempts = 2;           // a checksum mismatch deletes the data and starts over this often
  uint64_t min_free_bytes = 256ull << 20;  // disk space that must remain free after the download
  http_options http;
};

struct remote_file {
  std::string url;
  std::string dest;                  // final path; the directory is created if needed
  uint64_t size = 0;                 // expected size, 0 = unknown (the server's word is taken)
  std::string sha256;                // expected lowercase hex; empty = verified by size only
  std::vector<std::string> headers;  // extra request headers, e.g. "Authorization: Bearer ..."
};

enum class transfer_phase { starting, downloading, verifying, done };

struct transfer_progress {
  transfer_phase phase = transfer_phase::starting;
  uint64_t total_bytes = 0;
  uint64_t done_bytes = 0;     // on disk (downloading) or hashed so far (verifying)
  uint64_t resumed_bytes = 0;  // present from an earlier run when this one started
  double bytes_per_sec = 0;    // over the last few seconds
  int n_active = 0;            // connections receiving now
  int n_retries = 0;
};

// Values of the stop flag a caller may set while download_file runs.
enum stop_request : int { stop_none = 0, stop_pause = 1, stop_cancel = 2 };

struct transfer_result {
  uint64_t size = 0;
  std::string sha256;
  uint64_t fetched_bytes = 0;  // received over the network by this call
  uint64_t resumed_bytes = 0;  // taken from an earlier run's partial file
};

// Downloads f.url to f.dest. Throws hearth::error on failure: http_error for statuses retrying cannot
// fix, kind cancelled when stopped (pause keeps the partial file and state for a later resume, cancel
// deletes them). After a transient failure (retries exhausted) the partial file and state are kept,
// so running it again resumes. on_progress is called from the calling thread a few times a second.
transfer_result download_file(const remote_file& f, const transfer_options& opts,
                              const std::function<void(const transfer_progress&)>& on_progress = {},
                              const std::atomic<int>* stop = nullptr);

std::string partial_path(const std::string& dest);  // dest + ".part"
std::string state_path(const std::string& dest);    // dest + ".part.json"

// Writes a small file atomically (temporary name + rename), so a reader or a restart after a kill
// sees either the old or the new content.
void write_small_file_atomic(const std::string& path, const std::string& content);

}  // namespace hearth::hub
