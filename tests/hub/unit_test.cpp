// Unit tests of the hub's pure pieces: hashing, path safety, references, quantization choice,
// split names, Retry-After and backoff, progress formatting.
#include <gtest/gtest.h>

#include <cstring>
#include <ctime>

#include "core/error.h"
#include "fake_hub.h"
#include "hub/hf.h"
#include "hub/http.h"
#include "hub/paths.h"
#include "hub/progress.h"
#include "hub/sha256.h"
#include "hub/transfer.h"

using namespace hearth;
using namespace hearth::hub;

TEST(HubSha256, KnownVectors) {
  EXPECT_EQ(sha256_hex("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc", 3), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string m(1000000, 'a');
  EXPECT_EQ(sha256_hex(m.data(), m.size()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  sha256 h;  // incremental = one shot
  h.update("ab", 2);
  h.update("c", 1);
  EXPECT_EQ(h.finish_hex(), sha256_hex("abc", 3));
}

TEST(HubSha256, FileMatchesShippedHash) {
  // The hash tests/data/models/README.md lists for stories260K.gguf.
  const std::string got = sha256_file(std::string(HEARTH_TEST_DATA) + "/models/tinyllamas/stories260K.gguf");
  EXPECT_EQ(got.substr(0, 8), "270cba1b");
  EXPECT_EQ(got.substr(60), "256d");
  EXPECT_THROW(sha256_file("/nonexistent/file"), error);
  hearth::test::temp_dir d;
  write_small_file_atomic(d / "x", "abc");
  EXPECT_THROW(sha256_file(d / "x", 4), error);  // shorter than asked
  EXPECT_EQ(sha256_file(d / "x", 3), sha256_hex("abc", 3));
}

TEST(HubPaths, SafeComponentsAndPaths) {
  EXPECT_TRUE(is_safe_component("model-Q4_K_M.gguf"));
  for (const char* bad : {"", ".", "..", ".hidden", "a/b", "a\\b", "a\nb", "tab\there", "del\x7f"}) EXPECT_FALSE(is_safe_component(bad)) << bad;
  EXPECT_FALSE(is_safe_component(std::string(256, 'a')));
  EXPECT_TRUE(is_safe_relative_path("sub/dir/model.gguf"));
  for (const char* bad : {"/etc/passwd", "../evil.gguf", "a/../../evil.gguf", "a//b.gguf", "a/./b.gguf", "a/b/", "x\x01.gguf"})
    EXPECT_FALSE(is_safe_relative_path(bad)) << bad;
  EXPECT_THROW(check_safe_relative_path("../../etc/cron.d/x"), error);
  try {
    check_safe_relative_path("bad\x01name.gguf");
    FAIL();
  } catch (const error& e) {
    EXPECT_NE(std::string(e.what()).find("\\x01"), std::string::npos) << "control characters are shown escaped";
  }
  check_repo_id("bartowski/Llama-3.2-1B-Instruct-GGUF");
  for (const char* bad : {"noslash", "a/b/c", "../x", "a/..", "a b/c", "/x", "x/"}) EXPECT_THROW(check_repo_id(bad), error) << bad;
}

TEST(HubPaths, ModelsRootFollowsEnvironment) {
  const char* saved_models = std::getenv("HEARTH_MODELS");
  const char* saved_xdg = std::getenv("XDG_DATA_HOME");
  const std::string sm = saved_models ? saved_models : "", sx = saved_xdg ? saved_xdg : "";
  setenv("HEARTH_MODELS", "/x/models", 1);
  EXPECT_EQ(models_root(), "/x/models");
  unsetenv("HEARTH_MODELS");
  setenv("XDG_DATA_HOME", "/xdg", 1);
  EXPECT_EQ(models_root(), "/xdg/hearth/models");
  unsetenv("XDG_DATA_HOME");
  EXPECT_EQ(models_root(), home_dir() + "/.local/share/hearth/models");
  setenv("HEARTH_OLLAMA_MODELS", "/a:/b", 1);
  EXPECT_EQ(ollama_roots(), (std::vector<std::string>{"/a", "/b"}));
  unsetenv("HEARTH_OLLAMA_MODELS");
  if (saved_models) setenv("HEARTH_MODELS", sm.c_str(), 1);
  if (saved_xdg) setenv("XDG_DATA_HOME", sx.c_str(), 1);
}

TEST(HubRef, ParsesReferences) {
  auto r = parse_model_ref("bartowski/Qwen2.5-0.5B-Instruct-GGUF");
  EXPECT_EQ(r.repo, "bartowski/Qwen2.5-0.5B-Instruct-GGUF");
  EXPECT_TRUE(r.quant.empty());
  EXPECT_TRUE(r.file.empty());
  r = parse_model_ref("owner/repo:q5_k_m");
  EXPECT_EQ(r.quant, "Q5_K_M");
  r = parse_model_ref("owner/repo/sub/model-Q8_0.gguf");
  EXPECT_EQ(r.repo, "owner/repo");
  EXPECT_EQ(r.file, "sub/model-Q8_0.gguf");
  r = parse_model_ref("https://huggingface.co/owner/repo/blob/main/m.gguf");
  EXPECT_EQ(r.file, "m.gguf");
  r = parse_model_ref("hf.co/owner/repo:IQ4_XS");
  EXPECT_EQ(r.repo, "owner/repo");
  EXPECT_EQ(r.quant, "IQ4_XS");
  EXPECT_EQ(to_string(parse_model_ref("owner/repo:q4_0")), "owner/repo:Q4_0");
  for (const char* bad : {"justaname", "owner/repo/../../x.gguf", "owner/repo:", "owner/repo:Q4 K", "../x/y", "owner/repo//abs"})
    EXPECT_THROW(parse_model_ref(bad), error) << bad;
}

TEST(HubQuant, NamesFromFiles) {
  EXPECT_EQ(quant_from_filename("Llama-3.2-1B-Instruct-Q4_K_M.gguf"), "Q4_K_M");
  EXPECT_EQ(quant_from_filename("qwen2.5-0.5b-instruct-q8_0.gguf"), "Q8_0");
  EXPECT_EQ(quant_from_filename("Model.IQ4_XS.gguf"), "IQ4_XS");
  EXPECT_EQ(quant_from_filename("model-fp16.gguf"), "F16");
  EXPECT_EQ(quant_from_filename("model-BF16-00001-of-00002.gguf"), "BF16");
  EXPECT_EQ(quant_from_filename("Qwen3-30B-A3B-UD-Q4_K_XL.gguf"), "UD-Q4_K_XL");
  EXPECT_EQ(quant_from_filename("Q4_K_M/model-Q4_K_M-00001-of-00003.gguf"), "Q4_K_M");
  EXPECT_EQ(quant_from_filename("stories260K.gguf"), "");
  EXPECT_EQ(quant_from_filename("Q8_0/model-00001-of-00002.gguf"), "Q8_0") << "the folder names it";
  EXPECT_EQ(quant_from_filename("q5_k_m/sub/model.gguf"), "Q5_K_M");
  EXPECT_EQ(quant_from_filename("MyQ4_0Model.gguf"), "") << "a quantization must be a whole token";
  EXPECT_GT(quant_bits_per_weight("Q8_0"), quant_bits_per_weight("Q4_K_M"));
  EXPECT_EQ(quant_bits_per_weight("UD-Q4_K_XL"), quant_bits_per_weight("Q4_K_XL"));
  EXPECT_LT(quant_bits_per_weight("Q9_Z"), 0);
}

namespace {
std::vector<gguf_choice> choices_of(std::vector<std::string> names) {
  std::vector<hub_file> files;
  for (auto& n : names) files.push_back({n, 1000, std::string(64, 'a')});
  return gguf_choices(files);
}
std::string picked(const std::vector<gguf_choice>& c, const char* q) {
  const gguf_choice* p = pick_quant(c, q);
  return p ? p->quant : "<none>";
}
}  // namespace

TEST(HubQuant, PicksExactThenClosest) {
  auto c = choices_of({"m-Q2_K.gguf", "m-Q4_K_S.gguf", "m-Q4_K_M.gguf", "m-IQ4_NL.gguf", "m-Q8_0.gguf", "m-F16.gguf"});
  bool exact = false;
  EXPECT_EQ(pick_quant(c, "", &exact)->quant, "Q4_K_M");
  EXPECT_TRUE(exact);
  EXPECT_EQ(picked(c, "q8_0"), "Q8_0");
  c = choices_of({"m-Q2_K.gguf", "m-Q4_K_S.gguf", "m-IQ4_NL.gguf", "m-Q4_1.gguf", "m-Q8_0.gguf"});
  EXPECT_EQ(pick_quant(c, "", &exact)->quant, "Q4_K_S") << "same family wins over a nearer I-quant";
  EXPECT_FALSE(exact);
  c = choices_of({"m-Q6_K.gguf", "m-F16.gguf"});
  EXPECT_EQ(picked(c, "Q8_0"), "Q6_K");
  c = choices_of({"m-Q3_K_M.gguf", "m-Q5_K_M.gguf"});
  EXPECT_EQ(picked(c, "Q4_K_M"), "Q5_K_M") << "Q4_K_M sits nearer Q5_K_M (0.75) than Q3_K_M (0.84)";
  c = choices_of({"m-Q4_K_M.gguf", "m-Q8_0.gguf"});
  EXPECT_EQ(picked(c, "NOPE"), "<none>") << "an unknown request with no exact match picks nothing";
  c = choices_of({"stories260K.gguf"});
  EXPECT_EQ(pick_quant(c, "")->name(), "stories260K.gguf") << "a single model is taken whatever its name";
  c = choices_of({"a.gguf", "b.gguf"});
  EXPECT_EQ(pick_quant(c, ""), nullptr);
}

TEST(HubSplit, GroupsCompleteSetsOnly) {
  auto s = parse_split_name("Llama-70B-Q4_K_M-00002-of-00003.gguf");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->prefix, "Llama-70B-Q4_K_M");
  EXPECT_EQ(s->index, 2);
  EXPECT_EQ(s->count, 3);
  EXPECT_FALSE(parse_split_name("x-00004-of-00003.gguf"));
  EXPECT_FALSE(parse_split_name("x.gguf"));
  std::vector<std::string> warnings;
  std::vector<hub_file> files = {
      {"big-Q4_K_M-00002-of-00002.gguf", 20, {}}, {"big-Q4_K_M-00001-of-00002.gguf", 10, {}},
      {"half-Q8_0-00001-of-00002.gguf", 5, {}},   {"mmproj-model-f16.gguf", 3, {}},
      {"../evil-Q4_0.gguf", 1, {}},               {"README.md", 1, {}},
      {"small-Q4_0.gguf", 7, {}},
  };
  auto c = gguf_choices(files, &warnings);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].quant, "Q4_0");
  EXPECT_EQ(c[1].quant, "Q4_K_M");
  ASSERT_EQ(c[1].files.size(), 2u);
  EXPECT_EQ(c[1].files[0].path, "big-Q4_K_M-00001-of-00002.gguf");
  EXPECT_EQ(c[1].total_bytes(), 30u);
  ASSERT_EQ(warnings.size(), 2u);  // the unsafe name and the incomplete set
}

TEST(HubHttp, RetryAfterAndBackoff) {
  const std::time_t now = 1700000000;
  EXPECT_EQ(parse_retry_after_ms("3", now), 3000);
  EXPECT_EQ(parse_retry_after_ms(" 0 ", now), 0);
  EXPECT_EQ(parse_retry_after_ms("", now), -1);
  EXPECT_EQ(parse_retry_after_ms("soon", now), -1);
  char date[64];
  const std::time_t later = now + 120;
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", std::gmtime(&later));
  EXPECT_EQ(parse_retry_after_ms(date, now), 120000);
  retry_policy p;
  p.backoff_initial_ms = 100;
  p.backoff_max_ms = 1000;
  p.retry_after_max_ms = 5000;
  for (int i = 0; i < 20; ++i) {
    EXPECT_GE(backoff_ms(p, 1, -1), 80);
    EXPECT_LE(backoff_ms(p, 1, -1), 120);
    EXPECT_GE(backoff_ms(p, 3, -1), 320);   // 400 +- 20%
    EXPECT_LE(backoff_ms(p, 10, -1), 1200);  // capped
    EXPECT_GE(backoff_ms(p, 1, 3000), 3000);   // Retry-After wins when longer
    EXPECT_LE(backoff_ms(p, 1, 999999), 5000);  // but is capped
  }
  EXPECT_TRUE(is_retryable_status(429));
  EXPECT_TRUE(is_retryable_status(503));
  EXPECT_FALSE(is_retryable_status(404));
  EXPECT_FALSE(is_retryable_status(401));
  EXPECT_EQ(url_escape_path("a b/c#d.gguf"), "a%20b/c%23d.gguf");
}

TEST(HubProgress, Formats) {
  EXPECT_EQ(format_bytes(812), "812 B");
  EXPECT_EQ(format_bytes(1536), "1.50 KiB");
  EXPECT_EQ(format_bytes(3ull << 30), "3.00 GiB");
  EXPECT_EQ(format_duration(42), "42s");
  EXPECT_EQ(format_duration(185), "3m05s");
  EXPECT_EQ(format_duration(3720), "1h02m");
  EXPECT_EQ(format_duration(-1), "--");
  EXPECT_EQ(format_count(260000), "260K");
  EXPECT_EQ(format_count(1240000000), "1.24B");
  download_status s;
  s.state = job_state::downloading;
  s.files = {{"model-Q4_K_M.gguf", "/x", 1000, 420}};
  s.total_bytes = 1000;
  s.done_bytes = 420;
  s.bytes_per_sec = 100;
  s.eta_seconds = 5.8;
  const std::string bar = render_bar(s, 100);
  EXPECT_LE(bar.size(), 100u);
  EXPECT_NE(bar.find("model-Q4_K_M.gguf ["), std::string::npos) << bar;
  EXPECT_NE(bar.find("42%"), std::string::npos) << bar;
  EXPECT_NE(bar.find("ETA 6s"), std::string::npos) << bar;
  EXPECT_NE(bar.find("#-"), std::string::npos) << bar;
  EXPECT_LE(render_bar(s, 30).size(), 30u);
  const std::string plain = render_plain(s);
  EXPECT_EQ(plain, "model-Q4_K_M.gguf: 42% 420 B of 1000 B, 100 B/s, ETA 6s");
  for (char c : bar + plain) EXPECT_TRUE(c >= 0x20 && c < 0x7f);
}
