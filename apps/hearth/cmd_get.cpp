// hearth get REPO[:QUANT|/FILE]: downloads a GGUF model (or split set) from Hugging Face into the
// library, with a progress bar on a terminal and plain progress lines otherwise.
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>

#include "apps/hearth/command.h"
#include "core/error.h"
#include "hub/download_manager.h"
#include "hub/hf.h"
#include "hub/progress.h"

namespace hearth::cli {
namespace {

std::atomic<bool> g_interrupted{false};
void on_sigint(int) {
  g_interrupted = true;
  ::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}

int terminal_width() {
  winsize ws{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

class get_command : public command {
 public:
  const char* name() const override { return "get"; }
  const char* help() const override { return "Download a GGUF model from Hugging Face (owner/repo[:QUANT|/FILE])"; }
  void setup(CLI::App& app) override {
    app.add_option("model", spec_, "owner/repo, owner/repo:QUANT (default Q4_K_M, else the closest) or owner/repo/FILE.gguf")
        ->required();
    app.add_flag("--list", list_, "List the repository's GGUF models instead of downloading");
    app.add_flag("--force", force_, "Download again even if the files are already complete");
    app.add_option("--connections", connections_, "Parallel connections per file (default 4)")->check(CLI::Range(1, 32));
    app.add_option("--retries", retries_, "Failed attempts in a row before giving up (default 6)")->check(CLI::Range(0, 100));
    app.add_flag("--quiet,-q", quiet_, "No progress output");
  }

  int run() override {
    if (list_) return run_list();
    hub::manager_options mo;
    mo.transfer = hub::transfer_options_from_env();
    if (connections_ > 0) mo.transfer.n_connections = connections_;
    if (retries_ >= 0) mo.transfer.http.retry.max_retries = retries_;
    mo.max_parallel_jobs = 1;
    hub::download_manager dm(mo);
    const uint64_t id = dm.start(spec_, {force_});

    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    const bool tty = !quiet_ && isatty(STDERR_FILENO);
    bool note_shown = false, bar_drawn = false, paused_for_signal = false;
    int last_decile = -1;
    hub::job_state last_state = hub::job_state::queued;
    size_t last_file = SIZE_MAX;
    auto last_line = std::chrono::steady_clock::now();
    hub::download_status st;
    while (true) {
      auto done = dm.wait_for(id, std::chrono::milliseconds(100));
      st = done ? *done : *dm.status(id);
      if (g_interrupted && !done && !paused_for_signal) {
        dm.pause(id);
        paused_for_signal = true;
      }
      if (!note_shown && !st.note.empty()) {
        if (bar_drawn) std::fputs("\r\x1b[K", stderr);
        if (!quiet_) std::fprintf(stderr, "note: %s\n", st.note.c_str());
        note_shown = true;
      }
      const bool show = st.state != hub::job_state::failed && st.state != hub::job_state::cancelled &&
                        st.state != hub::job_state::paused;
      // The bar starts with the transfer, so warnings printed while resolving keep lines of their own.
      const bool started = st.state != hub::job_state::queued && st.state != hub::job_state::resolving;
      if (tty && show && started) {
        std::fprintf(stderr, "\r%s\x1b[K", hub::render_bar(st, terminal_width() - 1).c_str());
        std::fflush(stderr);
        bar_drawn = true;
      } else if (!quiet_ && !tty && show) {
        const int decile = st.total_bytes ? (int)(10 * st.done_bytes / st.total_bytes) : -1;
        const auto now = std::chrono::steady_clock::now();
        if (st.state != last_state || st.current_file != last_file || decile != last_decile ||
            now - last_line > std::chrono::seconds(10)) {
          std::fprintf(stderr, "%s\n", hub::render_plain(st).c_str());
          std::fflush(stderr);
          last_line = now;
        }
        last_decile = decile;
        last_state = st.state;
        last_file = st.current_file;
      }
      if (done) break;
    }
    if (bar_drawn) std::fputs(st.state == hub::job_state::completed ? "\n" : "\r\x1b[K", stderr);
    switch (st.state) {
      case hub::job_state::completed:
        for (const auto& p : st.paths) std::printf("%s\n", p.c_str());
        return 0;
      case hub::job_state::paused:
        std::fprintf(stderr, "hearth: interrupted; run the same command again to resume\n");
        return 130;
      case hub::job_state::cancelled:
        std::fprintf(stderr, "hearth: download cancelled\n");
        return 1;
      default:
        fail("{}", st.error.empty() ? std::string("download failed") : st.error);
    }
  }

 private:
  int run_list() {
    auto hub = hub::hf_client::from_env(hub::transfer_options_from_env().http);
    const hub::model_ref ref = hub::parse_model_ref(spec_);
    std::vector<std::string> warnings;
    const auto choices = hub::list_choices(hub, ref.repo, &warnings);
    for (const auto& w : warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    if (choices.empty()) fail(error_kind::not_found, "{} has no GGUF files", ref.repo);
    const hub::gguf_choice* pick = hub::pick_quant(choices, ref.quant);
    std::printf("  %-12s %10s  %s\n", "QUANT", "SIZE", "FILE");
    for (const auto& c : choices) {
      std::string file = c.files[0].path;
      if (c.files.size() > 1) file += fmt::format(" (+{} parts)", c.files.size() - 1);
      std::printf("%s %-12s %10s  %s\n", &c == pick ? "*" : " ", c.quant.empty() ? "?" : c.quant.c_str(),
                  hub::format_bytes(c.total_bytes()).c_str(), file.c_str());
    }
    return 0;
  }

  std::string spec_;
  bool list_ = false, force_ = false, quiet_ = false;
  int connections_ = 0, retries_ = -1;
};

}  // namespace
HEARTH_COMMAND(get_command);
}  // namespace hearth::cli
