// Runs jinja_oracle.py (Python's Jinja2 set up like Hugging Face's apply_chat_template) once for a
// batch of cases and caches the answers in the build folder under a hash of the request and the
// script, so the per-test processes ctest starts share one Python run.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "test_util.h"

namespace hearth::test {

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct oracle_answer {
  bool ok = false;
  std::string text;  // rendered output, or "ExceptionType: message"
};

// Returns the answers in case order; sets error when Python or Jinja2 is missing.
inline std::vector<oracle_answer> run_jinja_oracle(const nlohmann::ordered_json& request, std::string& error) {
  namespace fs = std::filesystem;
  const std::string script = source_path("tests/template/jinja_oracle.py");
  const std::string req_text = request.dump();
  const size_t key = std::hash<std::string>{}(req_text + read_text(script));
  const fs::path dir = fs::path(binary_path("template-oracle"));
  fs::create_directories(dir);
  const fs::path cache = dir / fmt::format("{:016x}.json", key);
  if (!fs::exists(cache)) {
    const fs::path req = dir / fmt::format("{:016x}.request.{}.json", key, static_cast<long>(getpid()));
    const fs::path tmp = dir / fmt::format("{:016x}.{}.tmp", key, static_cast<long>(getpid()));
    std::ofstream(req, std::ios::binary) << req_text;
    const std::string cmd = fmt::format("/usr/bin/python3 '{}' '{}' '{}'", script, req.string(), tmp.string());
    const int rc = std::system(cmd.c_str());
    fs::remove(req);
    if (rc != 0) {
      error = "the Jinja2 oracle failed (" + cmd + "); scripts/setup-deps.sh installs python3-jinja2";
      return {};
    }
    fs::rename(tmp, cache);  // atomic: parallel test processes never read a partial file
  }
  std::vector<oracle_answer> out;
  for (const auto& r : nlohmann::ordered_json::parse(read_text(cache))) {
    oracle_answer a;
    a.ok = r["ok"].get<bool>();
    a.text = a.ok ? r["output"].get<std::string>() : r["error"].get<std::string>();
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace hearth::test
