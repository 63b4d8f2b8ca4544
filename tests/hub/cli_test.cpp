// The hearth binary's hub commands against the fake hub: plain progress lines when piped, a bar
// redrawn in place in a pseudo-terminal (tmux), kill -9 mid-download then resume, SIGINT, ls, rm,
// import, search, errors.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "hub/transfer.h"
#include "test_common.h"

using namespace hearth;
using namespace hearth::test;
namespace fs = std::filesystem;

extern char** environ;

namespace {

struct result {
  int rc = -1;
  std::string out, err;
};

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> v;
  std::stringstream ss(s);
  for (std::string l; std::getline(ss, l);) v.push_back(l);
  return v;
}

struct CliTest : ::testing::Test {
  fake_hub hub;
  temp_dir dir;
  std::string stories = read_file(model_path("tinyllamas/stories260K.gguf"));
  std::string dest;
  void SetUp() override {
    hub.add_repo(quant_repo());
    hub.add_repo(gated_repo());
    dest = dir / "models/bartowski/Tiny-GGUF/Tiny-Q4_K_M.gguf";
    fs::create_directories(dir / "home");
  }
  // The child's environment: ours, minus HF_TOKEN, plus the test's locations and fast settings.
  std::map<std::string, std::string> env(std::map<std::string, std::string> extra = {}) {
    std::map<std::string, std::string> e;
    for (char** p = environ; *p; ++p) {
      std::string kv = *p;
      const size_t eq = kv.find('=');
      if (eq != std::string::npos) e[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    e.erase("HF_TOKEN");
    e.erase("HEARTH_LOG");
    e["HOME"] = dir / "home";
    e["HEARTH_MODELS"] = dir / "models";
    e["HEARTH_LMSTUDIO_MODELS"] = dir / "lmstudio";
    e["HEARTH_OLLAMA_MODELS"] = dir / "ollama";
    e["HF_ENDPOINT"] = hub.url();
    e["HEARTH_DL_PART_BYTES"] = "131072";
    e["HEARTH_DL_BACKOFF_MS"] = "5";
    e["HEARTH_DL_BACKOFF_MAX_MS"] = "40";
    e["HEARTH_DL_STALL_MS"] = "2000";
    e["HEARTH_DL_STATE_MS"] = "30";
    e["HEARTH_DL_MIN_FREE_BYTES"] = "0";
    for (auto& [k, v] : extra) e[k] = v;
    return e;
  }
  // Starts hearth with args; stdout and stderr go to files; stdin is /dev/null.
  pid_t spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& e, const std::string& tag) {
    std::vector<std::string> env_strings;
    for (auto& [k, v] : e) env_strings.push_back(k + "=" + v);
    const std::string out = dir / (tag + ".out"), err = dir / (tag + ".err");
    // Everything is prepared before fork: the child of a threaded process may only make
    // async-signal-safe calls before exec.
    std::vector<char*> argv{const_cast<char*>(HEARTH_CLI_PATH)};
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    const int in_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    pid_t pid = fork();
    if (pid == 0) {
      ::dup2(in_fd, 0);
      ::dup2(out_fd, 1);
      ::dup2(err_fd, 2);
      execve(HEARTH_CLI_PATH, argv.data(), envp.data());
      _exit(127);
    }
    ::close(in_fd);
    ::close(out_fd);
    ::close(err_fd);
    return pid;
  }
  result collect(pid_t pid, const std::string& tag) {
    result r;
    int status = 0;
    waitpid(pid, &status, 0);
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = read_file(dir / (tag + ".out"));
    r.err = read_file(dir / (tag + ".err"));
    return r;
  }
  result run(const std::vector<std::string>& args, std::map<std::string, std::string> extra = {}) {
    static int n = 0;
    const std::string tag = "run" + std::to_string(n++);
    return collect(spawn(args, env(std::move(extra)), tag), tag);
  }
  void throttle(int ms) {
    hub.edit("bartowski/Tiny-GGUF", "Tiny-Q4_K_M.gguf", [&](fake_file& f) {
      f.throttle_chunk = 8192;
      f.throttle_sleep_ms = ms;
    });
  }
  uint64_t saved_bytes() {
    try {
      auto j = nlohmann::json::parse(read_file(hub::state_path(dest)));
      uint64_t n = 0;
      for (auto& p : j["parts"]) n += p[2].get<uint64_t>();
      return n;
    } catch (...) {
      return 0;  // not written yet (or being replaced)
    }
  }
};

TEST_F(CliTest, GetWhenPipedPrintsPlainProgressLines) {
  throttle(5);
  auto r = run({"get", "bartowski/Tiny-GGUF"}, {{"HEARTH_DL_CONNECTIONS", "2"}});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, dest + "\n");
  expect_complete(dest, stories);
  EXPECT_EQ(r.err.find('\r'), std::string::npos);
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos);
  int progress_lines = 0;
  for (auto& l : lines_of(r.err))
    if (l.rfind("Tiny-Q4_K_M.gguf: ", 0) == 0 && l.find("% ") != std::string::npos) ++progress_lines;
  EXPECT_GE(progress_lines, 3) << r.err;
  EXPECT_NE(r.err.find("Tiny-Q4_K_M.gguf: 100% 1.13 MiB of 1.13 MiB, done\n"), std::string::npos) << r.err;
}

TEST_F(CliTest, GetInATerminalDrawsABar) {
  ASSERT_EQ(std::system("tmux -V > /dev/null 2>&1"), 0) << "tmux is needed (scripts/setup-deps.sh installs it)";
  throttle(4);
  std::string cmd = "env -u HF_TOKEN";
  for (auto& [k, v] : env()) {
    if (k.rfind("HEARTH_", 0) == 0 || k == "HF_ENDPOINT" || k == "HOME") cmd += " " + k + "=" + v;
  }
  cmd += std::string(" ") + HEARTH_CLI_PATH + " get bartowski/Tiny-GGUF; echo EXIT=$?; sleep 60";
  const std::string sock = "hearth-hub-test-" + std::to_string(getpid());
  const std::string tmux = "tmux -L " + sock + " -f /dev/null ";
  const std::string script = dir / "tmux.sh";
  hub::write_small_file_atomic(script, cmd + "\n");
  ASSERT_EQ(std::system((tmux + "new-session -d -s t -x 160 -y 20 'sh " + script + "'").c_str()), 0);
  std::string pane;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const std::string cap = dir / "pane.txt";
    if (std::system((tmux + "capture-pane -p -t t > " + cap).c_str()) != 0) continue;
    pane = read_file(cap);
    if (pane.find("EXIT=") != std::string::npos) break;
  }
  std::system((tmux + "kill-server > /dev/null 2>&1").c_str());
  ASSERT_NE(pane.find("EXIT=0"), std::string::npos) << pane;
  if (std::getenv("HEARTH_TEST_SHOW_PANE")) std::fprintf(stderr, "%s", pane.c_str());
  int bar_lines = 0;
  std::string bar;
  for (auto& l : lines_of(pane))
    if (l.find("Tiny-Q4_K_M.gguf [") != std::string::npos) ++bar_lines, bar = l;
  EXPECT_EQ(bar_lines, 1) << "the bar is redrawn in place, not printed line after line:\n" << pane;
  EXPECT_NE(bar.find("[########"), std::string::npos) << bar;
  EXPECT_NE(bar.find("100%"), std::string::npos) << bar;
  EXPECT_NE(bar.find("1.13 MiB/1.13 MiB"), std::string::npos) << bar;
  EXPECT_EQ(pane.find("Tiny-Q4_K_M.gguf: "), std::string::npos) << "no plain lines on a terminal:\n" << pane;
  EXPECT_NE(pane.find(dest), std::string::npos) << pane;
  expect_complete(dest, stories);
}

TEST_F(CliTest, KillNineThenResumeFromTheSavedState) {
  throttle(20);
  const pid_t pid = spawn({"get", "bartowski/Tiny-GGUF"}, env({{"HEARTH_DL_CONNECTIONS", "2"}}), "killed");
  uint64_t saved = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < until && (saved = saved_bytes()) < stories.size() / 3)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_GE(saved, stories.size() / 3) << "the state file never recorded a third of the file";
  ASSERT_LT(saved, stories.size()) << "too late to interrupt";
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  auto killed = collect(pid, "killed");
  EXPECT_EQ(killed.rc, 128 + SIGKILL);
  expect_no_complete_file(dest);
  ASSERT_TRUE(exists(hub::partial_path(dest)));
  saved = saved_bytes();  // the state as the killed process left it
  ASSERT_GT(saved, 0u);

  throttle(0);
  hub.reset_counters();
  auto r = run({"get", "bartowski/Tiny-GGUF"});
  ASSERT_EQ(r.rc, 0) << r.err;
  expect_complete(dest, stories);
  const uint64_t refetched = hub.bytes_served("bartowski/Tiny-GGUF", "Tiny-Q4_K_M.gguf");
  EXPECT_LT(refetched, stories.size());
  EXPECT_EQ(refetched, stories.size() - saved + 1) << "exactly the bytes the state did not record, plus the probe byte";
}

TEST_F(CliTest, InterruptPausesAndTheNextRunResumes) {
  throttle(20);
  const pid_t pid = spawn({"get", "bartowski/Tiny-GGUF"}, env({{"HEARTH_DL_CONNECTIONS", "2"}}), "sigint");
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < until && saved_bytes() < stories.size() / 4)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  auto r = collect(pid, "sigint");
  EXPECT_EQ(r.rc, 130) << r.err;
  EXPECT_NE(r.err.find("interrupted; run the same command again to resume"), std::string::npos) << r.err;
  expect_no_complete_file(dest);
  const uint64_t saved = saved_bytes();
  EXPECT_GE(saved, stories.size() / 4);
  throttle(0);
  hub.reset_counters();
  r = run({"get", "bartowski/Tiny-GGUF"});
  ASSERT_EQ(r.rc, 0) << r.err;
  expect_complete(dest, stories);
  EXPECT_EQ(hub.bytes_served("bartowski/Tiny-GGUF", "Tiny-Q4_K_M.gguf"), stories.size() - saved + 1);
}

TEST_F(CliTest, GetErrorsAreOneClearLine) {
  auto r = run({"get", "test/missing"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "hearth: repository test/missing not found on " + hub.url() + " (if it is private, set HF_TOKEN)\n");
  r = run({"get", "test/gated"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("hearth: test/gated is a gated repository"), std::string::npos) << r.err;
  r = run({"get", "test/gated"}, {{"HF_TOKEN", "hf_secret"}});
  EXPECT_EQ(r.rc, 0) << r.err;
  r = run({"get", "bartowski/Tiny-GGUF/../../x.gguf"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("unsafe file name"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST_F(CliTest, GetListShowsTheChoices) {
  auto r = run({"get", "bartowski/Tiny-GGUF", "--list"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto l = lines_of(r.out);
  ASSERT_EQ(l.size(), 4u) << r.out;
  EXPECT_EQ(l[0].substr(0, 8), "  QUANT ");
  EXPECT_EQ(l[1].substr(0, 8), "  IQ4_XS");
  EXPECT_EQ(l[2].substr(0, 8), "* Q4_K_M");
  EXPECT_NE(l[2].find("1.13 MiB  Tiny-Q4_K_M.gguf"), std::string::npos) << l[2];
  EXPECT_EQ(l[3].substr(0, 8), "  Q8_0  ");
  EXPECT_FALSE(exists(dest));
}

TEST_F(CliTest, LsRmImportSearch) {
  ASSERT_EQ(run({"get", "bartowski/Tiny-GGUF"}).rc, 0);
  auto r = run({"import", model_path("ollama/llama-2-tiny-random.gguf"), "--link", "--as", "me/random"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, dir / "models/me/random/llama-2-tiny-random.gguf\n");
  EXPECT_EQ(run({"import", dir / "home", "--copy"}).rc, 1);
  EXPECT_EQ(run({"import", model_path("ollama/llama-2-tiny-random.gguf"), "--copy", "--move"}).rc, 2) << "one mode at a time";

  r = run({"ls", "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 2u) << r.out;
  EXPECT_EQ(j[0]["name"], "bartowski/Tiny-GGUF/Tiny-Q4_K_M");
  EXPECT_EQ(j[0]["source"], "hearth");
  EXPECT_EQ(j[0]["architecture"], "llama");
  EXPECT_EQ(j[0]["quantization"], "F32");
  EXPECT_EQ(j[0]["context_length"], 2048);
  EXPECT_EQ(j[0]["size_bytes"], stories.size());
  EXPECT_EQ(j[0]["loaded"], false);
  EXPECT_EQ(j[1]["name"], "me/random/llama-2-tiny-random");
  EXPECT_EQ(j[1]["quantization"], "F16");

  r = run({"ls"});
  ASSERT_EQ(r.rc, 0);
  auto l = lines_of(r.out);
  ASSERT_EQ(l.size(), 3u) << r.out;
  EXPECT_EQ(l[0].substr(0, 4), "NAME");
  EXPECT_NE(l[1].find("bartowski/Tiny-GGUF/Tiny-Q4_K_M  hearth    llama"), std::string::npos) << l[1];
  EXPECT_NE(l[1].find("F32"), std::string::npos) << l[1];
  EXPECT_NE(l[1].find("2048"), std::string::npos) << l[1];

  r = run({"rm", "Tiny-Q4_K_M"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("pass -y"), std::string::npos) << r.err;
  EXPECT_TRUE(exists(dest));
  r = run({"rm", "-y", "bartowski/Tiny-GGUF:Q4_K_M"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "removed " + dest + "\n");
  EXPECT_FALSE(exists(dest));
  EXPECT_EQ(run({"rm", "-y", "Tiny-Q4_K_M"}).rc, 1);

  r = run({"search", "tiny"});
  ASSERT_EQ(r.rc, 0) << r.err;
  l = lines_of(r.out);
  ASSERT_EQ(l.size(), 2u) << r.out;
  EXPECT_NE(l[1].find("bartowski/Tiny-GGUF"), std::string::npos);
  EXPECT_NE(l[1].find(" 500 "), std::string::npos) << l[1];
  r = run({"search", "t", "--json", "--limit", "1"});
  ASSERT_EQ(r.rc, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["likes"], 7);
}

}  // namespace
