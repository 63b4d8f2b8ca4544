// The Hugging Face client against the fake hub: tree listing with pagination and LFS hashes,
// choosing files, hostile names, missing and gated repos, API retries, search.
#include <gtest/gtest.h>

#include "core/error.h"
#include "hub/hf.h"
#include "hub/paths.h"
#include "test_common.h"

using namespace hearth;
using namespace hearth::test;

namespace {

struct HfTest : ::testing::Test {
  fake_hub hub;
  temp_dir dir;
  hub::http_options http = fast_options().http;
  void SetUp() override {
    hub.add_repo(tiny_repo());
    hub.add_repo(quant_repo());
    hub.add_repo(split_repo());
    hub.add_repo(gated_repo());
  }
  hub::hf_client client(const std::string& token = "") { return hub::hf_client(hub.url(), token, http); }
  std::string plan_error(const std::string& spec, const std::string& token = "") {
    try {
      hub::plan_download(client(token), hub::parse_model_ref(spec), dir.path());
    } catch (const error& e) {
      return e.what();
    }
    return "";
  }
};

TEST_F(HfTest, ListsTheTreeAcrossPagesWithLfsHashes) {
  auto files = client().list_files("bartowski/Tiny-GGUF");
  int tree_requests = 0;
  for (auto& r : hub.requests()) tree_requests += r.path.find("/tree/main") != std::string::npos;
  EXPECT_GE(tree_requests, 4) << "a page size of 2 over 8 entries";
  const auto q4 = std::find_if(files.begin(), files.end(), [](auto& f) { return f.path == "Tiny-Q4_K_M.gguf"; });
  ASSERT_NE(q4, files.end());
  const std::string data = read_file(model_path("tinyllamas/stories260K.gguf"));
  EXPECT_EQ(q4->sha256, sha256_of(data));
  EXPECT_EQ(q4->size, data.size());
  const auto readme = std::find_if(files.begin(), files.end(), [](auto& f) { return f.path == "README.md"; });
  ASSERT_NE(readme, files.end());
  EXPECT_TRUE(readme->sha256.empty()) << "not an LFS file";
}

TEST_F(HfTest, PlansTheDefaultQuantization) {
  auto plan = hub::plan_download(client(), hub::parse_model_ref("bartowski/Tiny-GGUF"), dir.path());
  EXPECT_EQ(plan.quant, "Q4_K_M");
  EXPECT_TRUE(plan.exact_quant);
  EXPECT_TRUE(plan.note.empty());
  ASSERT_EQ(plan.files.size(), 1u);
  EXPECT_EQ(plan.files[0].dest, dir / "bartowski/Tiny-GGUF/Tiny-Q4_K_M.gguf");
  EXPECT_EQ(plan.files[0].url, hub.url() + "/bartowski/Tiny-GGUF/resolve/main/Tiny-Q4_K_M.gguf");
  EXPECT_EQ(plan.files[0].sha256, sha256_of(read_file(model_path("tinyllamas/stories260K.gguf"))));
  EXPECT_TRUE(plan.files[0].headers.empty()) << "no token, no Authorization header";
}

TEST_F(HfTest, PlansTheClosestWhenTheQuantIsMissing) {
  auto plan = hub::plan_download(client(), hub::parse_model_ref("bartowski/Tiny-GGUF:Q5_K_M"), dir.path());
  EXPECT_EQ(plan.quant, "Q4_K_M");
  EXPECT_FALSE(plan.exact_quant);
  EXPECT_EQ(plan.note, "Q5_K_M is not in bartowski/Tiny-GGUF; taking Q4_K_M, the closest");
  plan = hub::plan_download(client(), hub::parse_model_ref("bartowski/Tiny-GGUF:q8_0"), dir.path());
  EXPECT_EQ(plan.quant, "Q8_0");
  EXPECT_TRUE(plan.exact_quant);
}

TEST_F(HfTest, PlansANamedFile) {
  auto plan = hub::plan_download(client(), hub::parse_model_ref("bartowski/Tiny-GGUF/Tiny-IQ4_XS.gguf"), dir.path());
  ASSERT_EQ(plan.files.size(), 1u);
  EXPECT_EQ(plan.quant, "IQ4_XS");
  // A projector is not chosen by quantization but can be named.
  plan = hub::plan_download(client(), hub::parse_model_ref("bartowski/Tiny-GGUF/mmproj-Tiny-f16.gguf"), dir.path());
  EXPECT_EQ(plan.files[0].dest, dir / "bartowski/Tiny-GGUF/mmproj-Tiny-f16.gguf");
  EXPECT_NE(plan_error("bartowski/Tiny-GGUF/Nope-Q2_K.gguf").find("no GGUF file 'Nope-Q2_K.gguf' in bartowski/Tiny-GGUF; available: IQ4_XS, Q4_K_M, Q8_0"),
            std::string::npos);
}

TEST_F(HfTest, HostileNamesAreNeverPlanned) {
  std::vector<std::string> warnings;
  auto choices = hub::list_choices(client(), "bartowski/Tiny-GGUF", &warnings);
  EXPECT_EQ(choices.size(), 3u);
  EXPECT_EQ(warnings.size(), 3u);
  for (auto& c : choices)
    for (auto& f : c.files) EXPECT_TRUE(hub::is_safe_relative_path(f.path)) << f.path;
  EXPECT_NE(plan_error("bartowski/Tiny-GGUF/../../evil-Q4_K_M.gguf").find("unsafe file name"), std::string::npos);
  EXPECT_NE(plan_error("bartowski/Tiny-GGUF/bad\x01name-Q4_K_M.gguf").find("unsafe file name"), std::string::npos);
}

TEST_F(HfTest, PlansSplitSetsInOrder) {
  auto plan = hub::plan_download(client(), hub::parse_model_ref("test/split"), dir.path());
  ASSERT_EQ(plan.files.size(), 2u);
  EXPECT_EQ(plan.files[0].dest, dir / "test/split/big-Q4_K_M-00001-of-00002.gguf");
  EXPECT_EQ(plan.files[1].dest, dir / "test/split/big-Q4_K_M-00002-of-00002.gguf");
  // Naming the second part fetches the whole set too.
  plan = hub::plan_download(client(), hub::parse_model_ref("test/split/big-Q4_K_M-00002-of-00002.gguf"), dir.path());
  EXPECT_EQ(plan.files.size(), 2u);
  // The incomplete Q8_0 set is not offered: asking for Q8_0 falls back to the complete set.
  plan = hub::plan_download(client(), hub::parse_model_ref("test/split:Q8_0"), dir.path());
  EXPECT_EQ(plan.quant, "Q4_K_M");
}

TEST_F(HfTest, MissingRepoIsAClearError) {
  const std::string err = plan_error("test/missing");
  EXPECT_EQ(err, "repository test/missing not found on " + hub.url() + " (if it is private, set HF_TOKEN)");
}

TEST_F(HfTest, ApiRetriesThrough429) {
  hub.set_api_fail(2, 429);
  auto files = client().list_files("test/tiny");
  EXPECT_EQ(files.size(), 3u);
  int n429 = 0;
  for (auto& r : hub.requests()) n429 += r.status == 429;
  EXPECT_EQ(n429, 2);
}

TEST_F(HfTest, ApiStormGivesUp) {
  http.retry.max_retries = 2;
  hub.set_api_fail(-1, 503);
  const std::string err = plan_error("test/tiny");
  EXPECT_NE(err.find("HTTP 503"), std::string::npos) << err;
  EXPECT_EQ(hub.requests().size(), 3u);
}

TEST_F(HfTest, SearchesGgufModelsByDownloads) {
  auto hits = client().search("t", 10);
  ASSERT_EQ(hits.size(), 4u);
  EXPECT_EQ(hits[0].id, "bartowski/Tiny-GGUF");
  EXPECT_EQ(hits[0].downloads, 500);
  EXPECT_EQ(hits[0].likes, 7);
  EXPECT_EQ(hits[1].id, "test/split");
  EXPECT_EQ(client().search("tiny", 1).size(), 1u);
  EXPECT_TRUE(client().search("nothing-like-this", 5).empty());
  bool saw_filter = false;
  for (auto& r : hub.requests()) saw_filter |= r.path == "/api/models";
  EXPECT_TRUE(saw_filter);
}

TEST_F(HfTest, EndpointMustBeHttp) { EXPECT_THROW(hub::hf_client("ftp://x", "", http), error); }

}  // namespace
