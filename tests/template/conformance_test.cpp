// Chat-template conformance: every real template in tests/data/models/chat-templates rendered over
// every conversation in conversations.json by Hearth and by Python's Jinja2 (jinja_oracle.py, set up
// like Hugging Face's apply_chat_template). Outputs must be byte-identical, and where Jinja2 raises,
// Hearth must raise too. The oracle runs once for all cases; its results are cached in the build
// folder under a hash of everything they depend on, so each per-template test process reuses them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "oracle.h"
#include "test_util.h"
#include "tokenizer/template/chat.h"

namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

constexpr int64_t fixed_now = 1719835200;  // 2024-07-01 12:00 UTC: strftime_now is deterministic
const char* const bos = "<s>";
const char* const eos = "</s>";

std::string read_file(const fs::path& p) { return hearth::test::read_text(p); }

using oracle_result = hearth::test::oracle_answer;

struct suite {
  std::vector<std::string> names;
  std::map<std::string, std::string> sources;
  ordered_json conversations;
  std::map<std::string, std::vector<oracle_result>> expected;  // per template, per conversation
  std::string error;
};

std::vector<std::string> template_names() {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(hearth::test::data_path("models/chat-templates")))
    if (e.path().extension() == ".jinja") out.push_back(e.path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}

const suite& load_suite() {
  static const suite s = [] {
    suite s;
    s.names = template_names();
    for (const auto& n : s.names)
      s.sources[n] = read_file(hearth::test::data_path("models/chat-templates/" + n + ".jinja"));
    const fs::path here = fs::path(hearth::test::source_path("tests/template"));
    s.conversations = ordered_json::parse(read_file(here / "conversations.json"))["conversations"];

    ordered_json req;
    req["templates"] = ordered_json::object();
    for (const auto& n : s.names) req["templates"][n] = s.sources[n];
    req["cases"] = ordered_json::array();
    for (const auto& n : s.names)
      for (const auto& c : s.conversations) {
        ordered_json k;
        k["template"] = n;
        k["messages"] = c["messages"];
        if (c.contains("tools")) k["tools"] = c["tools"];
        if (c.contains("documents")) k["documents"] = c["documents"];
        k["add_generation_prompt"] = c.value("add_generation_prompt", true);
        k["bos_token"] = bos;
        k["eos_token"] = eos;
        k["extra"] = c.value("extra", ordered_json::object());
        k["now"] = fixed_now;
        req["cases"].push_back(k);
      }
    const std::vector<hearth::test::oracle_answer> res = hearth::test::run_jinja_oracle(req, s.error);
    if (!s.error.empty()) return s;
    size_t i = 0;
    for (const auto& n : s.names)
      for (size_t c = 0; c < s.conversations.size(); ++c, ++i) s.expected[n].push_back(res.at(i));
    return s;
  }();
  return s;
}

std::string show_diff(const std::string& want, const std::string& got) {
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  const size_t from = i > 80 ? i - 80 : 0;
  return fmt::format("first difference at byte {} (lengths {} vs {})\n  jinja2: {}\n  hearth: {}", i, want.size(),
                     got.size(), ordered_json(want.substr(from, 200)).dump(), ordered_json(got.substr(from, 200)).dump());
}

struct case_outcome {
  bool pass = false;
  std::string detail;
};

case_outcome run_case(const std::string& source, const ordered_json& conv, const oracle_result& want) {
  case_outcome o;
  hearth::chat::chat_inputs in;
  in.messages = conv["messages"];
  if (conv.contains("tools")) in.tools = conv["tools"];
  if (conv.contains("documents")) in.documents = conv["documents"];
  in.add_generation_prompt = conv.value("add_generation_prompt", true);
  in.bos_token = bos;
  in.eos_token = eos;
  in.extra = conv.value("extra", ordered_json::object());
  hearth::jinja::render_options opt;
  opt.now = fixed_now;
  std::string got;
  std::string err;
  bool ok = true;
  try {
    got = hearth::chat::chat_template(source).render(in, opt);
  } catch (const hearth::jinja::template_error& e) {
    ok = false;
    err = std::string(hearth::jinja::error_kind_name(e.kind())) + ": " + e.message();
  } catch (const hearth::error& e) {
    ok = false;
    err = e.what();
  }
  if (want.ok && ok) {
    o.pass = got == want.text;
    if (!o.pass) o.detail = show_diff(want.text, got);
  } else if (!want.ok && !ok) {
    o.pass = true;
    if (err != want.text) std::printf("[conformance] note: both raise, messages differ:\n  jinja2: %s\n  hearth: %s\n", want.text.c_str(), err.c_str());
  } else if (want.ok) {
    o.detail = "Hearth raised but Jinja2 rendered: " + err;
  } else {
    o.detail = "Jinja2 raised (" + want.text + ") but Hearth rendered " + ordered_json(got.substr(0, 300)).dump();
  }
  return o;
}

class conformance : public testing::TestWithParam<std::string> {};

TEST_P(conformance, matches_jinja2) {
  const suite& s = load_suite();
  ASSERT_TRUE(s.error.empty()) << s.error;
  const std::string& name = GetParam();
  const auto& convs = s.conversations;
  size_t pass = 0, raised = 0;
  for (size_t c = 0; c < convs.size(); ++c) {
    const oracle_result& want = s.expected.at(name)[c];
    const case_outcome o = run_case(s.sources.at(name), convs[c], want);
    if (o.pass) {
      ++pass;
      raised += !want.ok;
    } else {
      ADD_FAILURE() << name << " x " << convs[c]["name"].get<std::string>() << ": " << o.detail;
    }
  }
  std::printf("[conformance] %-55s %zu/%zu identical (%zu where both raise)\n", name.c_str(), pass, convs.size(), raised);
}

INSTANTIATE_TEST_SUITE_P(chat_templates, conformance, testing::ValuesIn(template_names()),
                         [](const testing::TestParamInfo<std::string>& i) {
                           std::string n = i.param;
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

TEST(conformance_suite, covers_every_template_and_rendering) {
  const suite& s = load_suite();
  ASSERT_TRUE(s.error.empty()) << s.error;
  EXPECT_EQ(s.names.size(), 43u);
  EXPECT_GE(s.conversations.size(), 20u);
  // Most cases must render (a suite where everything raises would prove little).
  size_t rendered = 0, total = 0;
  for (const auto& [n, rs] : s.expected)
    for (const auto& r : rs) {
      rendered += r.ok;
      ++total;
    }
  std::printf("[conformance] oracle: %zu of %zu cases render, %zu raise\n", rendered, total, total - rendered);
  EXPECT_GT(rendered * 10, total * 7);
}

}  // namespace
