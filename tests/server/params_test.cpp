// Request parsing: JSON bodies, typed fields with ranges, message normalisation, the fallback chat
// format, and server addresses for the CLI.
#include <gtest/gtest.h>

#include "apps/server/api_error.h"
#include "apps/server/chat_prompt.h"
#include "apps/server/client.h"
#include "apps/server/json_params.h"
#include "core/error.h"

namespace hearth::server {
namespace {

using ojson = nlohmann::ordered_json;

// The api_error fn throws (fails the test when it does not throw one).
api_error error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const api_error& e) {
    return e;
  }
  ADD_FAILURE() << "no api_error thrown";
  return api_error(0, error_type::internal, "");
}

TEST(ParseBody, RejectsWhatIsNotAJsonObject) {
  EXPECT_EQ(error_of([] { parse_body(""); }).status, 400);
  EXPECT_NE(std::string(error_of([] { parse_body("{\"a\": "); }).what()).find("invalid JSON"), std::string::npos);
  EXPECT_NE(std::string(error_of([] { parse_body("[1]"); }).what()).find("got array"), std::string::npos);
  EXPECT_NE(std::string(error_of([] { parse_body("3"); }).what()).find("got integer"), std::string::npos);
  EXPECT_EQ(parse_body(R"({"a": [1, {"b": "]]]]"}]})")["a"][1]["b"], "]]]]");
}

TEST(ParseBody, LimitsNestingWithoutRecursingIntoIt) {
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  EXPECT_NE(std::string(error_of([&] { parse_body("{\"x\": " + deep + "}"); }).what()).find("deeper than 64"), std::string::npos);
  // Brackets inside strings (with escaped quotes) do not count.
  EXPECT_NO_THROW(parse_body("{\"x\": \"\\\"" + std::string(1000, '[') + "\"}"));
  std::string ok = "{\"x\": " + std::string(63, '[') + std::string(63, ']') + "}";
  EXPECT_NO_THROW(parse_body(ok));
}

TEST(Fields, TypesAndRangesNameTheField) {
  const ojson j = ojson::parse(R"({"t": 0.5, "n": 3, "f": 3.0, "h": 2.5, "s": "x", "b": true, "big": 18446744073709551615, "nul": null})");
  fields f(j);
  EXPECT_EQ(*f.number("t", 0, 2), 0.5);
  EXPECT_FALSE(f.number("absent", 0, 1));
  EXPECT_FALSE(f.string("nul"));  // null reads as not given
  EXPECT_EQ(*f.integer("n", 1, 5), 3);
  EXPECT_EQ(*f.integer("f", 1, 5), 3);  // 3.0 is an integer
  auto e = error_of([&] { f.integer("h", 0, 10); });
  EXPECT_EQ(e.param, "h");
  EXPECT_NE(std::string(e.what()).find("must be an integer"), std::string::npos);
  e = error_of([&] { f.integer("n", 5, 10); });
  EXPECT_NE(std::string(e.what()).find("between 5 and 10"), std::string::npos);
  e = error_of([&] { f.integer("big", 0, 100); });
  EXPECT_EQ(e.param, "big");
  e = error_of([&] { f.number("s", 0, 1); });
  EXPECT_NE(std::string(e.what()).find("'s' must be a number, got string"), std::string::npos);
  EXPECT_EQ(error_of([&] { f.boolean("n"); }).param, "n");
  EXPECT_EQ(error_of([&] { f.required_string("missing"); }).param, "missing");
  fields nested(j, "stream_options.");
  EXPECT_EQ(error_of([&] { nested.boolean("s"); }).param, "stream_options.s");
}

TEST(Messages, OpenAiNormalisation) {
  auto m = openai_messages(ojson::parse(R"([
    {"role": "developer", "content": "Be nice."},
    {"role": "user", "content": [{"type": "text", "text": "Hello "}, {"type": "text", "text": "there"}]},
    {"role": "assistant", "tool_calls": []},
    {"role": "tool", "content": "42", "tool_call_id": "c1"}])"));
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0]["role"], "system");
  EXPECT_EQ(m[1]["content"], "Hello there");
  EXPECT_EQ(m[2]["content"], "");
  EXPECT_EQ(m[3]["tool_call_id"], "c1");
  EXPECT_EQ(error_of([] { openai_messages(ojson::array()); }).param, "messages");
  EXPECT_EQ(error_of([] { openai_messages(ojson::parse(R"([{"role": "bot", "content": "x"}])")); }).param, "messages[0].role");
  EXPECT_EQ(error_of([] { openai_messages(ojson::parse(R"([{"role": "user"}])")); }).param, "messages[0].content");
  EXPECT_EQ(error_of([] { openai_messages(ojson::parse(R"([{"role": "user", "content": [{"type": "image_url"}]}])")); }).param,
            "messages[0].content[0].type");
  EXPECT_EQ(error_of([] { openai_messages(ojson::parse(R"([{"role": "user", "content": 5}])")); }).param, "messages[0].content");
}

TEST(Messages, AnthropicNormalisation) {
  const ojson system = ojson::parse(R"([{"type": "text", "text": "Sys"}])");
  auto m = anthropic_messages(&system, ojson::parse(R"([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": [{"type": "text", "text": "Yo"}]}])"));
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0], (ojson{{"role", "system"}, {"content", "Sys"}}));
  EXPECT_EQ(m[2]["content"], "Yo");
  EXPECT_EQ(anthropic_messages(nullptr, ojson::parse(R"([{"role": "user", "content": "Hi"}])")).size(), 1u);
  EXPECT_EQ(error_of([] { anthropic_messages(nullptr, ojson::parse(R"([{"role": "system", "content": "x"}])")); }).param, "messages.0.role");
}

TEST(Fallback, RoleColonContentFormat) {
  const ojson m = ojson::parse(R"([{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}])");
  EXPECT_EQ(fallback_render(m, true), "system: S\n\nuser: Q\n\nassistant: A\n\nassistant:");
  EXPECT_EQ(fallback_render(m, false), "system: S\n\nuser: Q\n\nassistant: A\n\n");
}

TEST(ServerAddress, Parse) {
  auto a = server_address::parse("http://example.org:8080/");
  EXPECT_EQ(a.host, "example.org");
  EXPECT_EQ(a.port, 8080);
  EXPECT_EQ(a.url(), "http://example.org:8080");
  a = server_address::parse("localhost");
  EXPECT_EQ(a.port, 11435);
  EXPECT_THROW(server_address::parse("https://x"), hearth::error);
  EXPECT_THROW(server_address::parse("x:99999"), hearth::error);
  EXPECT_THROW(server_address::parse("x:abc"), hearth::error);
  EXPECT_THROW(server_address::parse(":80"), hearth::error);
}

}  // namespace
}  // namespace hearth::server
