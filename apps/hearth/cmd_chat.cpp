// hearth chat: an interactive chat in the terminal with a model, in this process. Answers stream
// as they are generated; Ctrl-C stops an answer (not the program); /system, /clear, /exit.
// Prompts are built exactly as the server builds them (the model's chat template, or the plain
// "role: content" format for models without one).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <optional>

#include "apps/hearth/cli_model_args.h"
#include "apps/hearth/cli_server_args.h"
#include "apps/hearth/command.h"
#include "apps/server/api_error.h"
#include "apps/server/chat_prompt.h"
#include "apps/server/engine.h"
#include "core/error.h"

namespace hearth::cli {

namespace {

std::atomic<bool> g_interrupt{false};
void on_sigint(int) { g_interrupt = true; }

enum class read_status { line, eof, interrupted };

// Reads one line from standard input with read(2), so that Ctrl-C (EINTR) is seen at once.
read_status read_line(std::string& line) {
  line.clear();
  for (;;) {
    char c;
    const ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n == 1) {
      if (c == '\n') return read_status::line;
      line.push_back(c);
      continue;
    }
    if (n == 0) return line.empty() ? read_status::eof : read_status::line;
    if (errno == EINTR) {
      if (g_interrupt.exchange(false)) return read_status::interrupted;
      continue;
    }
    return read_status::eof;
  }
}

class chat_command : public command {
 public:
  const char* name() const override { return "chat"; }
  const char* help() const override { return "Chat with a model in the terminal (streaming; /system, /clear, /exit; Ctrl-C stops an answer)"; }

  void setup(CLI::App& app) override {
    args_.add_to(app);
    app.add_option("--system", system_, "System prompt to start with");
    app.add_option("-n,--max-tokens", max_tokens_, "Longest answer in tokens (-1: until the model stops or the context is full)")
        ->check(CLI::Range(-1, 1 << 24));
    app.add_option("--temp,--temperature", go_.temperature, "Sampling temperature (0: greedy)")->check(CLI::Range(0.0, 100.0));
    app.add_option("--top-k", go_.top_k, "Keep the k most likely tokens (0: off)")->check(CLI::Range(0, 1 << 24));
    app.add_option("--top-p", go_.top_p, "Nucleus sampling threshold (1: off)")->check(CLI::Range(0.0, 1.0));
    app.add_option("--min-p", go_.min_p, "Drop tokens below min-p x the top probability (0: off)")->check(CLI::Range(0.0, 1.0));
    app.add_option("--repeat-penalty", go_.repeat_penalty, "Penalty for recently seen tokens (1: off)")->check(CLI::Range(0.0, 100.0));
    app.add_option("-s,--seed", seed_, "Random seed (default: random)");
    app.footer("Commands during the chat: /system TEXT (set the system prompt), /clear (forget the conversation),\n"
               "/exit or Ctrl-D (quit), /help. Ctrl-C stops the answer being written.");
  }

  int run() override {
    server::engine_options eo;
    eo.jit = false;
    eo.load_backends = args_.device_name != "cpu";
    server::load_settings ls;
    ls.n_ctx = args_.ctx_size;
    ls.n_batch = args_.batch_size;
    ls.n_threads = args_.threads;
    ls.device = args_.device_name;
    ls.cache_type = args_.cache_type;
    ls.n_gpu_layers = gpu_layers_setting(args_.gpu_layers);
    server::engine eng(eo);
    std::shared_ptr<server::loaded_model> m;
    try {
      m = eng.load(args_.resolve_path(), ls, false);
    } catch (const server::api_error& e) {
      fail("{}", e.what());
    }
    go_.max_tokens = max_tokens_;
    if (seed_) go_.seed = *seed_;
    go_.stop = m->chat->implicit_stops();
    go_.strip_leading_space = m->chat->is_fallback();

    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: a blocked read returns EINTR
    sigaction(SIGINT, &sa, nullptr);

    const bool tty = isatty(STDOUT_FILENO);
    std::fprintf(stdout, "Chatting with %s (%u tokens of context%s). /help for commands, Ctrl-D to quit.\n", m->id.c_str(), m->n_ctx,
                 m->chat->is_fallback() ? ", plain role: content format" : "");
    nlohmann::ordered_json history = nlohmann::ordered_json::array();
    std::string line;
    for (;;) {
      std::fputs(tty ? "\033[1m>>> \033[0m" : ">>> ", stdout);
      std::fflush(stdout);
      const read_status st = read_line(line);
      if (st == read_status::eof) {
        std::fputs("\n", stdout);
        break;
      }
      if (st == read_status::interrupted) {
        std::fputs("\n(Ctrl-C stops an answer; /exit or Ctrl-D quits)\n", stdout);
        continue;
      }
      if (line.empty()) continue;
      if (line[0] == '/') {
        if (line == "/exit" || line == "/quit" || line == "/bye") break;
        if (line == "/clear") {
          history = nlohmann::ordered_json::array();
          std::fputs("(conversation cleared)\n", stdout);
        } else if (line.rfind("/system", 0) == 0) {
          system_ = line.size() > 8 ? line.substr(8) : "";
          std::fprintf(stdout, "(system prompt %s)\n", system_.empty() ? "removed" : "set");
        } else if (line == "/help") {
          std::fputs("/system TEXT  set the system prompt (empty: none)\n/clear        forget the conversation\n/exit         quit (or Ctrl-D)\n", stdout);
        } else {
          std::fprintf(stdout, "unknown command %s (/help lists them)\n", line.c_str());
        }
        continue;
      }
      history.push_back({{"role", "user"}, {"content", line}});
      answer(eng, *m, history, tty);
    }
    return 0;
  }

 private:
  // Generates and prints one answer; appends it (even a partial one) to the history.
  void answer(server::engine& eng, server::loaded_model& m, nlohmann::ordered_json& history, bool tty) {
    std::vector<int32_t> prompt;
    for (;;) {
      nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
      if (!system_.empty()) msgs.push_back({{"role", "system"}, {"content", system_}});
      for (const auto& h : history) msgs.push_back(h);
      try {
        prompt = m.chat->tokenize(m.chat->render(msgs));
      } catch (const server::api_error& e) {
        std::fprintf(stdout, "(%s)\n", e.what());
        history.erase(history.end() - 1);
        return;
      }
      // Room for an answer: forget the oldest exchanges when the conversation outgrows the context.
      if (prompt.size() + 16 < m.n_ctx || history.size() <= 1) break;
      history.erase(history.begin());
      if (!history.empty() && history[0]["role"] == "assistant") history.erase(history.begin());
      std::fputs("(the conversation is longer than the context: forgetting its oldest messages)\n", stdout);
    }
    if (prompt.size() >= m.n_ctx) {
      std::fprintf(stdout, "(this message is %zu tokens; the context holds %u)\n", prompt.size(), m.n_ctx);
      history.erase(history.end() - 1);
      return;
    }
    auto t = eng.enter(eng.get_loaded(m.id));
    t->wait(nullptr);
    g_interrupt = false;
    std::string text;
    server::gen_outcome o = eng.generate(*t, prompt, go_, [&](const server::token_out& tok) {
      if (!tok.text.empty()) {
        std::fwrite(tok.text.data(), 1, tok.text.size(), stdout);
        std::fflush(stdout);
      }
      return !g_interrupt.load();
    }, &g_interrupt);
    const bool interrupted = o.finish == finish_reason::cancelled;
    g_interrupt = false;
    const double tps = o.gen_ms > 0 && o.n_generated > 1 ? (o.n_generated - 1) * 1000.0 / o.gen_ms : 0;
    std::fprintf(stdout, "%s\n%s[%lld tokens, %.1f tokens/s%s]%s\n", interrupted ? " [interrupted]" : "", tty ? "\033[2m" : "",
                 (long long)o.n_generated, tps, o.finish == finish_reason::length || o.finish == finish_reason::context_full ? ", cut at the limit" : "",
                 tty ? "\033[0m" : "");
    history.push_back({{"role", "assistant"}, {"content", o.text}});
  }

  model_args args_;
  std::string system_;
  int max_tokens_ = -1;
  server::gen_options go_;
  std::optional<uint64_t> seed_;
};

}  // namespace

HEARTH_COMMAND(chat_command);

}  // namespace hearth::cli
